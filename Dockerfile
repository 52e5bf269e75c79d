# One image for every service (web, worker, worker-cpu): same code, same analysis version.
#   docker build -t rnnscope .                                        # CPU torch (default)
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t rnnscope .
# The CUDA build also runs on CPU-only hosts; docker-compose.yml builds it for its GPU worker.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RNNSCOPE_HOME=/data \
    RNNSCOPE_STORE=/data/store \
    RNNSCOPE_DEMO_DIR=/opt/rnnscope/models/demo

# torch first and pinned, from the index of the wanted build (CPU or a CUDA variant), so the
# package install below finds it satisfied instead of pulling PyPI's default build.
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

WORKDIR /opt/rnnscope
COPY pyproject.toml README.md ./
COPY analysis ./analysis
COPY app ./app
COPY workers ./workers
RUN pip install "torch==${TORCH_VERSION}" . && python -c "import analysis, app, workers"
COPY models ./models

# An unprivileged user owns the data volume (datasets cache + artifact store, mode 0700).
RUN useradd --create-home --uid 10001 rnnscope \
    && mkdir -p /data/store && chown -R rnnscope:rnnscope /data && chmod 700 /data/store
USER rnnscope
VOLUME ["/data"]
EXPOSE 8050

# Default: the dashboard behind gunicorn (docker-compose.yml sets each service's command).
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "--workers", "2", "--threads", "4", "--timeout", "120", "app.wsgi:server"]
