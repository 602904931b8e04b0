#!/usr/bin/env bash
# Gets the local networks of this example ready, and prints the variables crier reads:
#
#   eval "$(examples/local-networks/setup.sh)"
#
# 1. starts a Synapse homeserver on 127.0.0.1:8448 through scripts/synapse.sh (installed
#    into target/synapse on the first run, which takes a few minutes; reused afterwards);
# 2. registers the bot user @crier-bot:localhost with the shared-secret admin API
#    (/_synapse/admin/v1/register), or signs it in again when it exists;
# 3. creates the public room #launch:localhost as the bot, or joins it when it exists;
# 4. prints on stdout:
#      export MATRIX_BOT_TOKEN=...       (the bot's access token)
#      export FAKE_MASTODON_TOKEN=...    (what `cargo run --example fake_mastodon` accepts)
#
# Progress goes to stderr. Safe to rerun: the server, the bot (its token is kept in
# target/synapse/crier-example-bot.token while it still works) and the room are reused.
# Every network call has a timeout. `scripts/synapse.sh stop` stops the homeserver.
#
# Settings (environment): CRIER_SYNAPSE_DIR and CRIER_SYNAPSE_PORT as for scripts/synapse.sh
# (the port defaults to 8448, the homeserver crier.yaml names); FAKE_MASTODON_TOKEN to print
# another token than the fake's default (then start the fake with `--token` the same).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
export CRIER_SYNAPSE_DIR="${CRIER_SYNAPSE_DIR:-$REPO/target/synapse}"
export CRIER_SYNAPSE_PORT="${CRIER_SYNAPSE_PORT:-8448}"
FAKE_TOKEN="${FAKE_MASTODON_TOKEN:-fake-mastodon-token}"
BOT="crier-bot"
ROOM_ALIAS_NAME="launch"

say() { echo "setup.sh: $*" >&2; }

synapse_env="$("$REPO/scripts/synapse.sh" start)"
eval "$synapse_env"
if [[ "$CRIER_TEST_SYNAPSE_URL" != "http://127.0.0.1:8448" ]]; then
    say "note: Synapse answers on $CRIER_TEST_SYNAPSE_URL, not http://127.0.0.1:8448;"
    say "      set \`homeserver: $CRIER_TEST_SYNAPSE_URL\` in examples/local-networks/crier.yaml"
fi

# The standard library is enough; prefer the Synapse venv's interpreter (known to be 3.10+).
PY="$CRIER_SYNAPSE_DIR/venv/bin/python"
[[ -x "$PY" ]] || PY="${PYTHON:-python3}"

token="$("$PY" - "$CRIER_TEST_SYNAPSE_URL" "$BOT" "$ROOM_ALIAS_NAME" \
    "$CRIER_SYNAPSE_DIR/crier-example-bot.token" <<'PY'
import hashlib, hmac, json, os, sys, urllib.error, urllib.parse, urllib.request

url, bot, alias_name, token_file = sys.argv[1:5]
secret = os.environ["CRIER_TEST_SYNAPSE_SECRET"]
password = "crier-example-bot-password"   # a throwaway user on a throwaway local server
alias = f"#{alias_name}:localhost"
TIMEOUT = 15


def say(text):
    print(f"setup.sh: {text}", file=sys.stderr)


def call(method, path, body=None, token=None):
    """(status, JSON answer) of one request; never raises for an HTTP error status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}


def ok(answer, what):
    status, body = answer
    if not 200 <= status < 300:
        sys.exit(f"setup.sh: {what} failed: {status} {body}")
    return body


def kept_token():
    try:
        with open(token_file) as f:
            token = f.read().strip()
    except OSError:
        return None
    status, body = call("GET", "/_matrix/client/v3/account/whoami", token=token)
    return token if status == 200 and body.get("user_id") == f"@{bot}:localhost" else None


def register_or_log_in():
    register = "/_synapse/admin/v1/register"
    nonce = ok(call("GET", register), "asking a registration nonce")["nonce"]
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\0".join(p.encode() for p in (nonce, bot, password, "notadmin")))
    status, body = call("POST", register, {
        "nonce": nonce, "username": bot, "password": password, "admin": False,
        "mac": mac.hexdigest(),
    })
    if 200 <= status < 300:
        say(f"registered {body['user_id']}")
        return body["access_token"]
    if body.get("errcode") != "M_USER_IN_USE":
        sys.exit(f"setup.sh: registering {bot} failed: {status} {body}")
    body = ok(call("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": bot},
        "password": password,
        "initial_device_display_name": "crier local-networks example",
    }), f"signing {bot} in")
    say(f"signed in as {body['user_id']}")
    return body["access_token"]


token = kept_token()
if token:
    say(f"reusing the token of @{bot}:localhost")
else:
    token = register_or_log_in()
    old = os.umask(0o077)
    with open(token_file, "w") as f:
        f.write(token)
    os.umask(old)

quoted = urllib.parse.quote(alias, safe="")
status, body = call("GET", f"/_matrix/client/v3/directory/room/{quoted}", token=token)
if status == 200:
    room_id = body["room_id"]
    ok(call("POST", f"/_matrix/client/v3/join/{quoted}", {}, token), f"joining {alias}")
    say(f"reusing {alias} ({room_id}); the bot is in it")
elif status == 404:
    room_id = ok(call("POST", "/_matrix/client/v3/createRoom", {
        "preset": "public_chat",
        "room_alias_name": alias_name,
        "name": "Launch",
        "topic": "crier's local-networks example posts here",
    }, token), f"creating {alias}")["room_id"]
    say(f"created {alias} ({room_id})")
else:
    sys.exit(f"setup.sh: looking up {alias} failed: {status} {body}")
print(token)
PY
)"

say "ready: the fake Mastodon is \`cargo run --example fake_mastodon -- --token $FAKE_TOKEN\`"
printf 'export MATRIX_BOT_TOKEN=%q\n' "$token"
printf 'export FAKE_MASTODON_TOKEN=%q\n' "$FAKE_TOKEN"
