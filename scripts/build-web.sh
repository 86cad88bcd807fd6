#!/usr/bin/env bash
# Builds the browser dashboard into web/dist (served by the gateway at /).
set -euo pipefail
cd "$(dirname "$0")/../web"
[ -f package.json ] || exit 0
command -v npm >/dev/null 2>&1 || { echo "npm not found" >&2; exit 1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
