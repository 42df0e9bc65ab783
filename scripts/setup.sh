#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtualenv in .venv with the project (editable), its
# optional back-ends (torch CPU build, ray, nevergrad, httpx, the model server) and test tools.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/pip install --quiet --disable-pip-version-check)
# torch is pinned in the same command: a bare or newer torch would pull a multi-GB CUDA build.
# numpy < 2.4: nevergrad 1.0.12's NGOpt crashes under numpy 2.4.
"${PIP[@]}" "torch==2.13.0" "numpy<2.4" -e ".[all,test]"
# --- model files for `blackbox serve` (shipped inside PyPI packages; nothing downloaded at run time)
# (filled in by the model-API work)
echo "set-up done: $(.venv/bin/python -c 'import blackbox; print("blackbox", blackbox.__version__)')"
