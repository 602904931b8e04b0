#!/usr/bin/env bash
# The dashboard in a real browser: Debian's Chromium driven headless by Playwright (PyPI,
# launched with the system Chromium; Playwright's own browser download is never used)
# against `crier run` on a copy of the quickstart, with axe-core (npm, injected from its
# local file) checking each page for serious accessibility violations. Screenshots go to
# target/browser-screenshots/. `scripts/browser-tests.sh setup` only installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if [[ ! -x /usr/bin/chromium ]]; then
    echo "== installing Debian's chromium"
    if [[ "$(id -u)" == 0 ]]; then
        timeout 1200 apt-get install -y chromium >/dev/null \
            || { timeout 600 apt-get update >/dev/null && timeout 1200 apt-get install -y chromium >/dev/null; }
    else
        timeout 1200 sudo apt-get install -y chromium >/dev/null
    fi
fi

venv="target/browser-tests/venv"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import playwright' 2>/dev/null; then
    echo "== playwright from PyPI (the system Chromium is used, no browser download)"
    timeout 900 "$venv/bin/pip" install --quiet playwright
fi

axe="target/browser-tests/node_modules/axe-core/axe.min.js"
if [[ ! -f "$axe" ]]; then
    echo "== axe-core from npm"
    mkdir -p target/browser-tests
    timeout 900 npm install --silent --no-audit --no-fund --prefix target/browser-tests axe-core >/dev/null
fi

if [[ "${1:-}" == "setup" ]]; then
    exit 0
fi

crier="${CRIER_BIN:-}"
if [[ -z "$crier" ]]; then
    echo "== cargo build"
    timeout 2400 cargo build --quiet
    crier="$root/target/debug/crier"
fi

echo "== the dashboard in Chromium (scripts/browser/walk.py)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
timeout 900 "$venv/bin/python" scripts/browser/walk.py \
    --crier "$crier" \
    --quickstart "$root/examples/quickstart" \
    --axe "$root/$axe" \
    --screenshots "$root/target/browser-screenshots"
