#!/usr/bin/env bash
# Creates .venv and installs pixbridge, its bundled plugins and the test tools into it.
# Needs only Python 3.11+; installs Debian's python3-venv first if the venv module is missing.
# Re-running is cheap: nothing is reinstalled unless a pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY' || { echo "pixbridge needs Python 3.11 or newer (set PYTHON=...)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if command -v apt-get >/dev/null 2>&1; then
            echo "installing Debian's python3-venv ..." >&2
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        fi
        "$PYTHON" -m venv .venv
    fi
fi

shopt -s nullglob
stamp=.venv/.pixbridge-installed
want=$(cat pyproject.toml plugins/pixbridge-*/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    args=(-e ".[test]")
    for plugin in plugins/pixbridge-*/; do
        [ -f "$plugin/pyproject.toml" ] && args+=(-e "$plugin[test]")
    done
    log=.venv/pip-install.log
    echo "installing pixbridge and its plugins into .venv (log: $log) ..." >&2
    if ! { .venv/bin/python -m pip install --upgrade pip \
           && .venv/bin/python -m pip install "${args[@]}"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "installing failed; the whole log is in $log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
