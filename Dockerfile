# The livecode server's own image: built from source in a Debian 13 stage, run from a slim
# one as a non-root user that reaches the engine through its socket (docker-compose.yml).
# Build it with scripts/build-server-image.sh, which vendors the crates into the context
# (.docker/vendor: the build needs no crate registry) and makes debian:trixie-slim first when
# it cannot be pulled. The page (web/dist), the config and the environments are embedded in
# the binary, so the image holds one file of livecode's.

FROM debian:trixie-slim AS build
# Rust from trixie-backports (trixie's own 1.85 is older than the crates need), through the
# mirror the base image's apt already uses.
RUN set -e; \
    src=/etc/apt/sources.list.d/debian.sources; \
    if [ -f "$src" ]; then \
      sed -n 's/^URIs: *//p' "$src" | head -n1 > /tmp/mirror; \
    else \
      awk '/^deb /{print $2; exit}' /etc/apt/sources.list > /tmp/mirror; \
    fi; \
    echo "deb $(cat /tmp/mirror) trixie-backports main" > /etc/apt/sources.list.d/backports.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends -t trixie-backports cargo rustc; \
    apt-get install -y --no-install-recommends gcc libc6-dev; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY .docker/cargo-config.toml /root/.cargo/config.toml
COPY .docker/vendor /vendor
COPY Cargo.toml Cargo.lock ./
COPY server server
COPY runner runner
COPY config config
COPY environments environments
COPY web/dist web/dist
COPY benches benches
COPY tests tests
# The one script the binary embeds (the base image's bootstrap).
COPY scripts/bootstrap-base-image.sh scripts/
RUN cargo build --release --locked --offline --bin livecode \
 && strip target/release/livecode

FROM debian:trixie-slim
RUN useradd --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin livecode \
 && mkdir -p /data && chown livecode:livecode /data
COPY --from=build /src/target/release/livecode /usr/local/bin/livecode
USER livecode
WORKDIR /data
ENV LIVECODE_LISTEN=0.0.0.0:8080 \
    LIVECODE_DATA_DIR=/data
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["livecode"]
CMD ["serve"]
