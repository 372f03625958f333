# quel-worker image. Built with the same scripts as everything else:
#   docker build -t quel-worker .
#   docker run --rm -e QUEL_REDIS_URL=... -e QUEL_DATABASE_URL=... quel-worker
#   docker run --rm ... quel-worker migrate

# --- build stage: toolchain and -dev packages -------------------------------
FROM debian:12 AS build
WORKDIR /src
# Dependencies first, so that a source change does not reinstall them.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# The tests are run by scripts/test.sh / .ci/run, not inside the image build.
RUN QUEL_BUILD_DIR=/src/build scripts/build.sh -DBUILD_TESTING=OFF \
 && install -D -m 0755 \
      "$(find /src/build -type f -name quel-worker -perm -u+x -not -path '*/CMakeFiles/*' | head -n 1)" \
      /out/quel-worker

# --- runtime stage: shared libraries only ------------------------------------
# The packages of the libraries the binary names (readelf -d: NEEDED), plus
# the CA certificates libcurl needs for HTTPS; what those libraries need in
# turn (libssl3, ...) comes with them.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcaf-core0.17 libhiredis0.14 libpqxx-6.4 libcurl4 libvips42 libglib2.0-0 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/quel-worker /usr/local/bin/quel-worker
# Fail the image build, not the first start, if a shared library is missing.
RUN if ldd /usr/local/bin/quel-worker | grep 'not found'; then exit 1; fi

RUN useradd --system --create-home --home-dir /app --shell /usr/sbin/nologin quel
WORKDIR /app
COPY config/ /app/config/
RUN mkdir -p /app/data/storage && chown -R quel:quel /app/data
USER quel

# Inside a container the metrics/health endpoint must listen beyond loopback.
ENV QUEL_HTTP_ADDR=0.0.0.0:9464
EXPOSE 9464
ENTRYPOINT ["quel-worker"]
CMD ["run"]
