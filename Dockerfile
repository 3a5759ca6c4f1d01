# The prediction service: `mlctl serve` on the exported ONNX model (models/model.onnx + model.json).
#   mlctl export && docker build -t mlctl-serve . && docker run -p 8080:8080 mlctl-serve
# Only the serving dependencies are installed (no scikit-learn, DVC or pandas): the model is ONNX,
# scored by onnxruntime after its sha256 is checked against the manifest.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/mlctl
RUN pip install \
        "typer>=0.12" "rich>=13" "pyyaml>=6" "pydantic>=2.6" "numpy>=1.26" "pyarrow>=15" \
        "onnxruntime>=1.18" "fastapi>=0.110" "uvicorn[standard]>=0.29" "orjson>=3.8"
COPY pyproject.toml README.md ./
COPY mlctl ./mlctl
# --no-deps: the full toolkit's dependencies (DVC, scikit-learn, ...) are not needed to serve
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin mlctl \
    && mkdir -p /srv/models /srv/logs \
    && chown -R mlctl:mlctl /srv

WORKDIR /srv
COPY --chown=mlctl:mlctl params.yaml ./params.yaml
COPY --chown=mlctl:mlctl models/model.onnx models/model.json ./models/
USER 10001

EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status == 200 else 1)"]
# SIGTERM: /ready turns 503, uvicorn drains in-flight requests, the request log is flushed
STOPSIGNAL SIGTERM
# inside a container the service must listen on all interfaces; publish the port to choose who reaches it
CMD ["mlctl", "serve", "--host", "0.0.0.0", "--port", "8080"]
