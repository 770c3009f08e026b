#!/usr/bin/env bash
# The test command: unit tests, nbval over the notebooks in the smoke profile, a -W build of the book from
# the committed (smoke) outputs, the browser test of that build (headless Chromium, network cut), the
# student-export leak test, and the Colab simulation. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" REPROLIB_QUIET=1
# Trained models go to a fresh cache so every test run trains from scratch (smoke sizes).
export REPROLIB_CACHE="${REPROLIB_TEST_CACHE:-$(mktemp -d)}"
start=$(date +%s)
echo "[test] 1/5 unit tests"
python -m pytest tests -q -m "not browser and not book_build and not colab_sim"
echo "[test] 2/5 notebooks (nbval, smoke profile)"
REPROLIB_PROFILE=smoke REPROLIB_RESULTS="$REPROLIB_CACHE/results" \
  python -m pytest -q --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg \
  --nbval-cell-timeout=300 -p no:cacheprovider book/*.ipynb
echo "[test] 3/5 book build with -W (committed smoke outputs, no execution)"
mkdir -p _build
python scripts/nb_config.py --execute off > _build/_config_test.yml
python scripts/vendor_js.py
jupyter-book build . --builder html -W --config _build/_config_test.yml
echo "[test] 4/5 browser test of the build (headless Chromium, network cut; screenshots in screenshots/)"
python -m pytest tests -q -m browser -p no:cacheprovider
echo "[test] 5/5 student export leak test and Colab simulation"
python -m pytest tests -q -m "book_build or colab_sim" -p no:cacheprovider
echo "[test] all passed in $(( $(date +%s) - start )) s"
