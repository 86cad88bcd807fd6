#!/usr/bin/env bash
# Creates .venv with the locked dependencies (uv is installed with pip if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}" \
    || python3 -m pip install --quiet --user "uv==${UV_VERSION}"
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen "$@"
