# syntax=docker/dockerfile:1
# One image per service: the build arg EXTRA picks the pyproject extra, so the scorer image
# carries onnxruntime and no torch, and the trainer image carries torch.
#
#   docker build --build-arg EXTRA=scorer -t driftloop/scorer .
#   docker build --build-arg EXTRA=trainer --target trainer-gpu -t driftloop/trainer-gpu .
#
# The project is installed in editable mode at /app: schemas/ and domains/ are found next to
# the services package, so the source tree is the installed tree.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# -- build: a virtualenv with the service's extra -------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG EXTRA=ingest
# torch 2.13.0 from the default index is the CPU build (see the Makefile); the GPU target
# overrides the index.
ARG TORCH_SPEC=torch==2.13.0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README* ./
COPY driftloop ./driftloop
COPY services ./services
RUN case "$EXTRA" in trainer|all) pip install "$TORCH_SPEC" ;; esac \
 && pip install -e ".[${EXTRA}]"

# -- runtime: slim, non-root ----------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG EXTRA=ingest
LABEL org.opencontainers.image.title="driftloop-${EXTRA}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 driftloop \
 && useradd --system --uid 10001 --gid driftloop --home-dir /app --shell /usr/sbin/nologin driftloop \
 && mkdir -p /var/lib/driftloop && chown driftloop:driftloop /var/lib/driftloop
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY schemas /app/schemas
COPY domains /app/domains
COPY feature_repo /app/feature_repo
WORKDIR /app
# SERVICE is what `docker run IMAGE` starts; compose and k8s name the command explicitly.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SERVICE=${EXTRA} \
    DRIFTLOOP_DATA_DIR=/var/lib/driftloop DRIFTLOOP_HTTP_HOST=0.0.0.0
USER 10001:10001
VOLUME ["/var/lib/driftloop"]
CMD ["sh", "-c", "exec driftloop run \"$SERVICE\""]

# -- trainer on a CUDA base, for GPU nodes --------------------------------------------------------
FROM ${CUDA_IMAGE} AS trainer-gpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README* ./
COPY driftloop ./driftloop
COPY services ./services
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0 \
 && pip install -e ".[trainer]"
COPY schemas /app/schemas
COPY domains /app/domains
COPY feature_repo /app/feature_repo
RUN groupadd --system --gid 10001 driftloop \
 && useradd --system --uid 10001 --gid driftloop --home-dir /app --shell /usr/sbin/nologin driftloop \
 && mkdir -p /var/lib/driftloop && chown driftloop:driftloop /var/lib/driftloop
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 SERVICE=trainer \
    DRIFTLOOP_DATA_DIR=/var/lib/driftloop DRIFTLOOP_HTTP_HOST=0.0.0.0
USER 10001:10001
VOLUME ["/var/lib/driftloop"]
CMD ["driftloop", "run", "trainer"]

# The default target: `docker build --build-arg EXTRA=...` without --target gets this one.
FROM runtime AS service
