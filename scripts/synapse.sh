#!/usr/bin/env bash
# A throwaway Synapse homeserver on 127.0.0.1 for crier's Matrix tests.
#
#   scripts/synapse.sh start    install (once), configure (once) and start Synapse; wait until
#                               it answers; print the variables the tests read
#   scripts/synapse.sh stop     stop it (the data stays, so the next start is quick)
#   scripts/synapse.sh status   say whether it runs, and print the variables if it does
#   scripts/synapse.sh reset    stop it and delete its data (not the venv)
#
# `start` prints, and writes to "$CRIER_SYNAPSE_DIR/env" for `source`:
#   export CRIER_TEST_SYNAPSE_URL=http://127.0.0.1:PORT
#   export CRIER_TEST_SYNAPSE_SECRET=...   (the registration shared secret, for
#                                           /_synapse/admin/v1/register)
# All progress goes to stderr, so `eval "$(scripts/synapse.sh start)"` works.
#
# Settings (environment):
#   CRIER_SYNAPSE_DIR      where everything lives; default target/synapse in the repo
#   CRIER_SYNAPSE_VENV     the Python venv; default $CRIER_SYNAPSE_DIR/venv
#   CRIER_SYNAPSE_PORT     the client port; default 8448, or a free one if 8448 is taken
#   CRIER_SYNAPSE_VERSION  the matrix-synapse release from PyPI; default below (installs from
#                          wheels only, on CPython 3.10+)
#   PYTHON                 the interpreter to make the venv with; default python3
#
# The server: server name `localhost`, one HTTP listener on 127.0.0.1 (client API and the
# Synapse admin API only, no federation listener, `federation_domain_whitelist: []`, no
# trusted key servers: it never reaches the internet), SQLite, open registration off (users
# are made with the shared secret), rate limits raised so tests are never throttled.
# Safe to rerun: a running server is reused, an installed venv and a written config too.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${CRIER_SYNAPSE_DIR:-$REPO/target/synapse}"
VENV="${CRIER_SYNAPSE_VENV:-$DIR/venv}"
VERSION="${CRIER_SYNAPSE_VERSION:-1.163.2}"
PYTHON="${PYTHON:-python3}"
DATA="$DIR/data"
CONFIG="$DATA/homeserver.yaml"
PID_FILE="$DATA/synapse.pid"
PORT_FILE="$DATA/port"
ENV_FILE="$DIR/env"
LOG="$DATA/synapse.out"
START_TIMEOUT=60

say() { echo "synapse.sh: $*" >&2; }
die() { say "$*"; exit 1; }

running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_free() {
    "$PYTHON" - "$1" <<'PY'
import socket, sys
s = socket.socket()
# As the server will: a port held only by closed connections (TIME_WAIT) is free.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

answers() {
    "$PYTHON" - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_matrix/client/versions", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

install() {
    if [[ -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('matrix-synapse') != '$VERSION')" 2>/dev/null; then
        return
    fi
    say "installing matrix-synapse $VERSION into $VENV"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        die "Synapse $VERSION needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1)"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    local started=$SECONDS
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
        "matrix-synapse==$VERSION" >&2
    say "installed in $((SECONDS - started)) s"
}

configure() {
    local port="$1"
    mkdir -p "$DATA"
    if [[ ! -f "$DATA/generated.yaml" ]]; then
        (cd "$DATA" && "$VENV/bin/python" -m synapse.app.homeserver --generate-config \
            --server-name localhost --config-path "$DATA/generated.yaml" \
            --data-directory "$DATA" --report-stats=no >&2)
    fi
    # Rewrite what matters, keeping the generated secrets and signing key.
    "$VENV/bin/python" - "$DATA" "$port" <<'PY'
import sys, yaml
data, port = sys.argv[1], int(sys.argv[2])
with open(f"{data}/generated.yaml") as f:
    config = yaml.safe_load(f)
generous = {"per_second": 1000, "burst_count": 10000}
config.update({
    "pid_file": f"{data}/homeserver.pid",
    "listeners": [{
        "port": port,
        "bind_addresses": ["127.0.0.1"],
        "type": "http",
        "tls": False,
        "x_forwarded": False,
        "resources": [{"names": ["client"], "compress": False}],
    }],
    "database": {"name": "sqlite3", "args": {"database": f"{data}/homeserver.db"}},
    "media_store_path": f"{data}/media_store",
    "log_config": f"{data}/log.config",
    "enable_registration": False,
    "federation_domain_whitelist": [],
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    "report_stats": False,
    "use_presence": False,
    "enable_metrics": False,
    "url_preview_enabled": False,
    "max_upload_size": "10M",
    "rc_message": generous,
    "rc_registration": generous,
    "rc_registration_token_validity": generous,
    "rc_login": {"address": generous, "account": generous, "failed_attempts": generous},
    "rc_admin_redaction": generous,
    "rc_joins": {"local": generous, "remote": generous},
    "rc_joins_per_room": generous,
    "rc_invites": {"per_room": generous, "per_user": generous, "per_issuer": generous},
    "rc_3pid_validation": generous,
    "rc_media_create": generous,
    "rc_room_creation": generous,
    "rc_presence": {"per_user": generous},
    "rc_delayed_event_mgmt": generous,
    "rc_reports": generous,
})
with open(f"{data}/registration_secret", "w") as f:
    f.write(config["registration_shared_secret"])
with open(f"{data}/homeserver.yaml", "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
log = {
    "version": 1,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"file": {"class": "logging.FileHandler", "filename": f"{data}/homeserver.log",
                          "formatter": "plain"}},
    "root": {"level": "WARNING", "handlers": ["file"]},
    "disable_existing_loggers": False,
}
with open(f"{data}/log.config", "w") as f:
    yaml.safe_dump(log, f)
PY
}

print_env() {
    local port secret
    port="$(cat "$PORT_FILE")"
    secret="$(cat "$DATA/registration_secret")"
    {
        echo "export CRIER_TEST_SYNAPSE_URL=http://127.0.0.1:$port"
        printf 'export CRIER_TEST_SYNAPSE_SECRET=%q\n' "$secret"
    } >"$ENV_FILE"
    cat "$ENV_FILE"
}

start() {
    if pid="$(running_pid)" && answers "$(cat "$PORT_FILE")"; then
        say "already running (pid $pid)"
        print_env
        return
    fi
    install
    local port="${CRIER_SYNAPSE_PORT:-}"
    if [[ -z "$port" ]]; then
        port=8448
        port_free "$port" || port="$(free_port)"
    fi
    configure "$port"
    echo "$port" >"$PORT_FILE"
    say "starting on 127.0.0.1:$port (logs in $DATA)"
    # `exec`: the background job is Synapse itself (so `$!` is its pid), and nothing of this
    # script's stdout stays open in it, or `$(scripts/synapse.sh start)` would never return.
    (cd "$DATA" && exec nohup "$VENV/bin/python" -m synapse.app.homeserver \
        --config-path "$CONFIG") >"$LOG" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers "$port"; do
        if ! running_pid >/dev/null; then
            tail -n 30 "$LOG" >&2 || true
            die "Synapse exited during start-up (see $LOG and $DATA/homeserver.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$LOG" >&2 || true
            stop
            die "Synapse did not answer within ${START_TIMEOUT} s"
        fi
        sleep 0.5
    done
    say "ready"
    print_env
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        say "not running"
        return
    fi
    kill "$pid"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid did not stop in 10 s; killing it"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    say "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        if pid="$(running_pid)"; then
            say "running (pid $pid)"
            print_env
        else
            say "not running"
            exit 1
        fi
        ;;
    reset)
        stop
        rm -rf "$DATA" "$ENV_FILE"
        ;;
    *)
        echo "usage: $0 start|stop|status|reset" >&2
        exit 2
        ;;
esac
