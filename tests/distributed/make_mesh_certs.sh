#!/usr/bin/env bash
# Throwaway certificates for the mesh's mutual TLS (docs/DISTRIBUTED.md "TLS"),
# for tests and as a worked example:
#   make_mesh_certs.sh DIR CA NODE...
# makes the CA DIR/CA.crt (+ DIR/CA.key) unless it exists, and for each NODE
# DIR/NODE.key and DIR/NODE.crt signed by it: EC P-256, valid 2 days, usable
# as a TLS server and client certificate (both ends of a mesh connection
# present one). MESH_CERT_EKU overrides the extended key usage (tests).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR CA NODE..." >&2; exit 2; }
dir=$1 ca=$2
shift 2
mkdir -p "$dir"
if [ ! -f "$dir/$ca.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/$ca.key" -out "$dir/$ca.crt" -days 2 -subj "/CN=$ca" 2>/dev/null
fi
for node in "$@"; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/$node.key" -out "$dir/$node.csr" -subj "/CN=$node" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\n' \
    "${MESH_CERT_EKU:-serverAuth,clientAuth}" > "$dir/$node.ext"
  openssl x509 -req -in "$dir/$node.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
    -CAcreateserial -out "$dir/$node.crt" -days 2 -extfile "$dir/$node.ext" 2>/dev/null
  rm -f "$dir/$node.csr" "$dir/$node.ext"
done
