#!/usr/bin/env bash
# The whole test suite on a fresh machine: system servers, Python packages, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/bootstrap.sh
if [ -f web/package.json ]; then bash scripts/build-web.sh; fi
echo "== ruff"; .venv/bin/ruff check .
echo "== ruff format"; .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== import-linter"; .venv/bin/lint-imports --no-cache
echo "== pytest"
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
# pytest exits 5 when it collected no test: that is a failure here too.
exit "$status"
