# Kedge as a container: `kedge serve` against the host's Docker daemon through its socket.
#
#   docker build -t kedge:dev .
#   docker compose up -d            # see compose.yaml: socket, database volume, ./specs
#
# BASE must provide Python >= 3.11 with the venv module (python:3.11-slim does). No registry
# is reachable in the test environment, so the tests pass a locally made base image:
#   docker build --build-arg BASE=local/python-base:3.11 -t kedge:test .
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# Offline builds (the image test): pip reads these, e.g. PIP_NO_INDEX=1 and
# PIP_FIND_LINKS=http://127.0.0.1:PORT/ for a local wheelhouse; unset, pip uses PyPI.
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python3 -m venv /opt/kedge \
 && /opt/kedge/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/kedge/bin/pip install --no-cache-dir /src

FROM ${BASE}
LABEL org.opencontainers.image.title="kedge" \
      org.opencontainers.image.description="Kubernetes-style reconciliation controller for Docker stacks"
COPY --from=build /opt/kedge /opt/kedge
ENV PATH=/opt/kedge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The database lives in /data (a volume); specs are read from /specs (a bind mount).
RUN mkdir -p /data /specs
VOLUME ["/data"]
WORKDIR /data
EXPOSE 8080
# Root inside the container: the Docker socket is usually owned by root:docker on the host.
ENTRYPOINT ["kedge"]
CMD ["serve", "--specs", "/specs", "--db", "/data/kedge.db", "--addr", "0.0.0.0:8080", "--insecure-listen"]
