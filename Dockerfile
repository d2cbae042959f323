# liberry server image: the widgets' front end built with Node, then the Python package with
# its S3 extra on python:3.11-slim. Used by compose.yaml; runs `liberry server` on port 8080.

FROM node:20-slim AS front-end
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY js ./js
RUN mkdir -p liberry_widgets/static && npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY liberry ./liberry
COPY liberry_widgets ./liberry_widgets
# Built assets present: the package build skips its own `npm run build` (skip-if-exists).
COPY --from=front-end /src/liberry_widgets/static ./liberry_widgets/static
RUN pip install ".[s3,postgresql]" && rm -rf /src
# A user of its own; the data dir (secrets, admin key; files too unless --storage) is a volume.
RUN useradd --create-home --uid 10001 liberry && mkdir /data && chown liberry /data
USER liberry
WORKDIR /home/liberry
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
ENTRYPOINT ["liberry", "server", "--data-dir", "/data", "--host", "0.0.0.0", "--port", "8080"]
