#!/usr/bin/env bash
# Idempotent set-up of .venv: the CPU torch wheel first, then the package with a loose
# torch range (so pip keeps the torch already there and never pulls the CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check "torch==2.13.0"
fi
stamp=.venv/.mmff-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/constraints.txt -nt "$stamp" ]; then
  # -c: the exact versions the README's numbers were made with (same numbers on a fresh clone)
  .venv/bin/pip install -q --disable-pip-version-check -c scripts/constraints.txt -e ".[test]"
  touch "$stamp"
fi
# Guard: the CUDA stack must never sneak in through a dependency.
if .venv/bin/pip list --disable-pip-version-check 2>/dev/null | grep -qi '^nvidia-'; then
  echo "error: nvidia-* packages found in .venv (a dependency pulled the CUDA build of torch)" >&2
  .venv/bin/pip list 2>/dev/null | grep -i '^nvidia-' >&2
  exit 1
fi
