#!/usr/bin/env bash
# The test command: unit tests, nbval over the chapter notebooks in the smoke profile, and a -W build of
# the book from the committed (smoke) outputs. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" REPROLIB_QUIET=1
# Trained models go to a fresh cache so every test run trains from scratch (smoke sizes).
export REPROLIB_CACHE="${REPROLIB_TEST_CACHE:-$(mktemp -d)}"
start=$(date +%s)
echo "[test] 1/3 unit tests"
python -m pytest tests -q
echo "[test] 2/3 notebooks (nbval, smoke profile)"
REPROLIB_PROFILE=smoke REPROLIB_RESULTS="$REPROLIB_CACHE/results" \
  python -m pytest -q --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg \
  --nbval-cell-timeout=300 -p no:cacheprovider book/*.ipynb
echo "[test] 3/3 book build with -W (committed smoke outputs, no execution)"
python scripts/nb_config.py --execute off > _build_test_config.yml.tmp
mkdir -p _build && mv _build_test_config.yml.tmp _build/_config_test.yml
jupyter-book build . --builder html -W --config _build/_config_test.yml
echo "[test] all passed in $(( $(date +%s) - start )) s"
