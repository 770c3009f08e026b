#!/usr/bin/env bash
# The test command (.ci/run calls exactly this):
#   1. the unit tests;
#   2. the unit tests again on another numerical path: ATen's portable kernels (ATEN_CPU_CAPABILITY=default),
#      oneDNN and MKL held to SSE4, one thread. A check that holds only bit for bit on one CPU fails here,
#      on the developer's machine, instead of on the next machine;
#   3. every notebook under nbval in the smoke profile (only outputs that are the same on every machine are
#      compared: the recorded tables and verdicts, the exact facts);
#   4. a strict (-W) build of the book from the committed outputs, into _build/test (never _build/html);
#   5. the browser test of that build (headless Chromium, network cut);
#   6. the student-export leak test and the Colab simulation;
#   7. a check that the reader's book in _build/html was not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" REPROLIB_QUIET=1
# Trained models go to a fresh cache so every test run trains from scratch (smoke sizes).
export REPROLIB_CACHE="${REPROLIB_TEST_CACHE:-$(mktemp -d)}"
TEST_OUT=_build/test
export REPROLIB_TEST_HTML="$PWD/$TEST_OUT/_build/html"
start=$(date +%s)

# What the reader's book looks like now (a manifest of every file's hash), to prove step 7.
book_manifest() {
  if [ -d _build/html ]; then (cd _build/html && find . -type f -print0 | sort -z | xargs -0 sha256sum); else echo "absent"; fi
}
before=$(book_manifest | sha256sum)

native=$(python -c "import torch; print(torch.backends.cpu.get_cpu_capability())")
echo "[test] 1/7 unit tests (CPU capability $native, 2 torch threads)"
REPROLIB_TEST_THREADS=2 python -m pytest tests -q -p no:cacheprovider -m "not browser and not book_build and not colab_sim"

echo "[test] 2/7 unit tests again: portable kernels (ATEN_CPU_CAPABILITY=default, oneDNN and MKL at SSE4), 1 thread"
ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2 REPROLIB_TEST_THREADS=1 \
  REPROLIB_CACHE="$(mktemp -d)" \
  python -m pytest tests -q -p no:cacheprovider -m "not browser and not book_build and not colab_sim"

echo "[test] 3/7 notebooks (nbval, smoke profile)"
REPROLIB_PROFILE=smoke REPROLIB_RESULTS="$REPROLIB_CACHE/results" \
  python -m pytest -q --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg \
  --nbval-cell-timeout=300 -p no:cacheprovider book/*.ipynb

echo "[test] 4/7 book build with -W (committed smoke outputs, no execution) into $TEST_OUT"
mkdir -p "$TEST_OUT"
python scripts/nb_config.py --execute off > "$TEST_OUT/_config.yml"
python scripts/vendor_js.py
jupyter-book build . --builder html -W --config "$TEST_OUT/_config.yml" --path-output "$TEST_OUT"

echo "[test] 5/7 browser test of that build (headless Chromium, network cut; screenshots in screenshots/)"
python -m pytest tests -q -m browser -p no:cacheprovider

echo "[test] 6/7 student export leak test and Colab simulation"
python -m pytest tests -q -m "book_build or colab_sim" -p no:cacheprovider

echo "[test] 7/7 the reader's book (_build/html) is unchanged"
if [ "$(book_manifest | sha256sum)" != "$before" ]; then
  echo "[test] FAILED: the test command changed _build/html, the book that make book built" >&2
  exit 1
fi
echo "[test] all passed in $(( $(date +%s) - start )) s"
