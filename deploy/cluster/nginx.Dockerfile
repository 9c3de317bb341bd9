# nginx for the compose cluster (compose.yml) with deploy/nginx.conf, from Debian's package on
# the base image the repository makes (scripts/bootstrap-base-image.sh), for hosts no container
# registry serves. Build it with scripts/build-cluster-images.sh (the context is deploy/).

FROM debian:trixie-slim
# The package would start the system's nginx while it installs: policy-rc.d forbids it.
RUN set -e; \
    [ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
    chmod +x /usr/sbin/policy-rc.d; \
    apt-get update; \
    apt-get install -y --no-install-recommends nginx; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/livecode-nginx /etc/nginx/livecode
COPY nginx.conf nginx-upstreams.conf /etc/nginx/livecode/
EXPOSE 8080
# SIGQUIT: nginx finishes the requests in flight before it exits.
STOPSIGNAL SIGQUIT
# Its pid and temporary files in a prefix of its own (see deploy/nginx.conf).
CMD ["nginx", "-p", "/var/lib/livecode-nginx/", "-c", "/etc/nginx/livecode/nginx.conf", "-e", "stderr", "-g", "daemon off;"]
