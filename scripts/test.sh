#!/usr/bin/env bash
# The project's test command: installs everything (scripts/bootstrap.sh), then lint, types, tests.
# Extra arguments go to pytest, e.g.  scripts/test.sh -k maildir
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "== ruff" && .venv/bin/ruff check pixbridge plugins tests bench && .venv/bin/ruff format --check -q pixbridge plugins tests bench
echo "== mypy (strict, pixbridge/)" && .venv/bin/mypy
echo "== pytest" && .venv/bin/python -m pytest "$@"
