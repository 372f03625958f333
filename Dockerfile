# quel-worker image. Built with the same scripts as everything else:
#   docker build -t quel-worker .
#   docker run --rm -e QUEL_REDIS_URL=... -e QUEL_DATABASE_URL=... quel-worker
#   docker run --rm ... quel-worker migrate
# The stand-ins for a keyless local stack (docker-compose.yml) are the
# `standins` target: docker build --target standins -t quel-standins .
#
# Base images are pinned to a Debian point release (12.8), not a moving tag:
# the build stage and the runtime stage must have the same library versions,
# and a rebuild must not silently change them. Update both together.
# tests/container/container_checks.sh checks this file without a Docker engine.

# --- build stage: toolchain and -dev packages, no test packages -------------
FROM debian:12.8 AS build
WORKDIR /src
# Dependencies first, so that a source change does not reinstall them. Only
# what building the binary needs: no Catch2, Redis, PostgreSQL, clang or Node.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
# The tests are run by scripts/test.sh / .ci/run, not inside the image build.
RUN QUEL_BUILD_DIR=/src/build scripts/build.sh -DBUILD_TESTING=OFF \
 && install -D -m 0755 \
      "$(find /src/build -type f -name quel-worker -perm -u+x -not -path '*/CMakeFiles/*' | head -n 1)" \
      /out/quel-worker

# --- stand-ins: the Gemini and Supabase Storage stand-ins of tests/standins --
# For local stacks without keys (docker-compose.yml); never for production.
FROM debian:12.8-slim AS standins
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY tests/standins/ /standins/
RUN useradd --system --no-create-home --shell /usr/sbin/nologin standin
USER standin
ENTRYPOINT ["python3"]

# --- runtime stage (the default target): shared libraries only ---------------
# One package per library the binary names (readelf -d: NEEDED), plus the CA
# certificates libcurl needs for HTTPS; what those libraries need in turn
# comes with them. libcaf-openssl0.17 and libssl3: the mesh's mutual TLS
# (the binary links both itself; docs/DISTRIBUTED.md "TLS").
# tests/container/container_checks.sh keeps this list and the binary in step.
FROM debian:12.8-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17 libssl3 libhiredis0.14 \
      libpqxx-6.4 libcurl4 libvips42 libglib2.0-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/quel-worker /usr/local/bin/quel-worker
# Fail the image build, not the first start, if a shared library is missing.
RUN if ldd /usr/local/bin/quel-worker | grep 'not found'; then exit 1; fi

RUN useradd --system --create-home --home-dir /app --shell /usr/sbin/nologin quel
WORKDIR /app
COPY config/ /app/config/
RUN mkdir -p /app/data/storage && chown -R quel:quel /app/data
# Local storage (QUEL_STORAGE=local) lives here; mount a volume so images
# outlive the container.
VOLUME ["/app/data/storage"]
USER quel

# Inside a container the metrics/health endpoint must listen beyond loopback.
ENV QUEL_HTTP_ADDR=0.0.0.0:9464
EXPOSE 9464
# /healthz answers 503 when the actor scheduler is wedged, not only when the
# process is gone. bash's /dev/tcp keeps curl out of the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["quel-worker"]
CMD ["run"]
