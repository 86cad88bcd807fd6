#!/usr/bin/env bash
# Runs the whole platform in one process (embedded profile) on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --no-dev
bash scripts/build-web.sh || echo "web dashboard not built (npm unavailable); the API still runs" >&2
exec .venv/bin/algotrade run "$@"
