#!/usr/bin/env bash
# `make run-distributed`: hexbank in distributed mode on this machine.
#
#   PostgreSQL (HEXBANK_DATABASE_URL, default: the local server's `hexbank_dev` database, created
#   if missing) + Redis (HEXBANK_REDIS_URL, default: the local server), 2 `hexbank serve` behind a
#   local nginx on LISTEN (default 127.0.0.1:8000), 2 `hexbank worker`, all run by honcho from the
#   Procfile. Ctrl-C stops everything. The web processes listen on WEB_PORT and WEB_PORT+1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"

export HEXBANK_DATABASE_URL=${HEXBANK_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/hexbank_dev}
export HEXBANK_REDIS_URL=${HEXBANK_REDIS_URL:-redis://127.0.0.1:6379/0}
export HEXBANK_LOG_FORMAT=${HEXBANK_LOG_FORMAT:-json}
export HEXBANK_PROXY_HOPS=${HEXBANK_PROXY_HOPS:-1}  # the local nginx in front
LISTEN=${LISTEN:-127.0.0.1:8000}
WEB_PORT=${WEB_PORT:-8100}
RUN_DIR=$ROOT/var/run-distributed
SBIN=${SBIN:-/usr/sbin}  # where apt puts nginx (off a normal user's PATH)

log() { echo "run-distributed: $*" >&2; }

ensure_nginx() {
    command -v nginx >/dev/null && return 0
    [ -x "$SBIN/nginx" ] && { export PATH="$PATH:$SBIN"; return 0; }
    # A fresh machine has empty package lists: no candidate until `apt-get update` has run.
    has_candidate || { log "updating the package lists (apt-get update)"; apt-get update -qq >/dev/null; }
    if has_candidate; then
        log "installing nginx (apt-get install -y nginx)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
        export PATH="$PATH:$SBIN"
    else
        log "nginx is not installed and apt has no candidate for it; install nginx first"; exit 1
    fi
}

has_candidate() { apt-cache policy nginx 2>/dev/null | grep -q 'Candidate: [0-9]'; }

# The database named in HEXBANK_DATABASE_URL, created through the server's `postgres` database.
ensure_database() {
    python - <<'PY'
import os
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

url = make_url(os.environ["HEXBANK_DATABASE_URL"])
if url.get_backend_name() == "postgresql":
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
            print(f"run-distributed: created database {url.database}")
    engine.dispose()
PY
}

render_nginx() {
    local servers user=""
    servers=$(printf '        server 127.0.0.1:%s;\n' "$WEB_PORT" "$((WEB_PORT + 1))")
    [ "$(id -u)" = 0 ] && user="user root;"
    mkdir -p "$RUN_DIR/nginx/tmp"
    python - "$RUN_DIR/nginx" "$LISTEN" "$servers" "$user" <<'PY'
import sys
from pathlib import Path

prefix, listen, servers, user = sys.argv[1:5]
template = Path("deploy/local/nginx.conf.template").read_text()
for key, value in {"prefix": prefix, "listen": listen, "servers": servers, "user": user}.items():
    template = template.replace("{{" + key + "}}", value)
(Path(prefix) / "nginx.conf").write_text(template)
PY
}

# `source run-distributed.sh` defines the functions only (the tests call them one by one).
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

ensure_nginx
ensure_database
hexbank migrate
render_nginx
nginx -t -q -p "$RUN_DIR/nginx" -c nginx.conf -e stderr
# Every process counts into one metrics directory, emptied here: any web's /metrics shows all.
export PROMETHEUS_MULTIPROC_DIR=$RUN_DIR/metrics
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
{ cat Procfile; echo "nginx: nginx -p $RUN_DIR/nginx -c nginx.conf -e stderr"; } > "$RUN_DIR/Procfile"
log "http://$LISTEN (nginx) -> web 127.0.0.1:$WEB_PORT, 127.0.0.1:$((WEB_PORT + 1)); 2 workers"
exec honcho start -f "$RUN_DIR/Procfile" -d "$ROOT" -p "$WEB_PORT" -c web=2,worker=2,nginx=1
