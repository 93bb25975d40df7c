# syntax=docker/dockerfile:1
# One image for every hexbank process: `serve` (the default), `worker` and `migrate`.
#
#   docker build -t hexbank .
#   docker run --rm -e HEXBANK_DATABASE_URL=... -e HEXBANK_SECRET_KEY=... hexbank migrate
#   docker run -p 8000:8000 -e ... hexbank                # serve
#   docker run -e HEXBANK_REDIS_URL=... -e ... hexbank worker
#
# The source is installed in place (editable) under /app: hexbank finds migrations/,
# alembic.ini and frontend/dist next to backend/.

# --- 1. the web app (Svelte + Vite) ---------------------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- 2. the Python dependencies, from the lock file, into a virtualenv -----------------------------
FROM python:3.11-slim AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_NO_CACHE=1
RUN pip install uv==0.13.9 && uv venv /opt/venv
COPY requirements/main.lock /tmp/main.lock
RUN uv pip install --python /opt/venv/bin/python -r /tmp/main.lock

# --- 3. the runtime -------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEXBANK_ENV=production \
    HEXBANK_LOG_FORMAT=json \
    HEXBANK_HOST=0.0.0.0 \
    HEXBANK_PORT=8000 \
    HEXBANK_DATA_DIR=/var/lib/hexbank
RUN groupadd --system --gid 10001 hexbank \
    && useradd --system --uid 10001 --gid hexbank --home-dir /app --shell /usr/sbin/nologin hexbank \
    && mkdir -p /var/lib/hexbank && chown hexbank:hexbank /var/lib/hexbank
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY pyproject.toml README.md alembic.ini ./
COPY backend/ backend/
COPY migrations/ migrations/
COPY --from=web /build/frontend/dist frontend/dist
RUN pip install --no-cache-dir uv==0.13.9 \
    && UV_NO_CACHE=1 uv pip install --python /opt/venv/bin/python --no-deps -e . \
    && pip uninstall -y uv \
    && python -m compileall -q backend migrations
USER 10001:10001
# 8000: the web app (`serve`); 9100: a worker's metrics when HEXBANK_METRICS_PORT=9100.
EXPOSE 8000 9100
VOLUME ["/var/lib/hexbank"]
# For `serve`; worker and migrate containers disable or replace it (see deploy/).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEXBANK_PORT', '8000'), timeout=2)" || exit 1
ENTRYPOINT ["hexbank"]
CMD ["serve"]
