# PostgreSQL for the compose cluster (compose.yml), from Debian's packages on the base image the
# repository makes (scripts/bootstrap-base-image.sh), for hosts no container registry serves.
# Build it with scripts/build-cluster-images.sh. The data directory is a volume; the first start
# makes the cluster, the `livecode` role (password: $POSTGRES_PASSWORD) and its database.

FROM debian:trixie-slim
# No cluster of the package's own: the entrypoint makes one in the volume.
RUN set -e; \
    mkdir -p /etc/postgresql-common; \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/postgresql/data /run/postgresql; \
    chown postgres:postgres /var/lib/postgresql/data /run/postgresql; \
    chmod 700 /var/lib/postgresql/data
COPY cluster/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
ENV PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# SIGINT is PostgreSQL's fast shutdown: clients are disconnected rather than waited for.
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
