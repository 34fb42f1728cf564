#!/usr/bin/env bash
# Set up a CPU environment in .venv (offline-friendly: only package registries are used).
#   ./setup.sh            create/refresh .venv with everything the harness and its tests need
# Re-running is cheap: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip
# One command, so the resolver sees the torch pin together with everything that wants torch.
"${PIP[@]}" install -r requirements/cpu.txt
"${PIP[@]}" install --no-deps -r requirements/assets.txt
"${PIP[@]}" install --no-deps -e .
echo "setup.sh: ready (.venv/bin/harness)"
