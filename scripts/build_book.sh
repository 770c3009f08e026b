#!/usr/bin/env bash
# Build the book: set up .venv, execute every chapter in the default profile (fast on a CPU, full on a
# GPU; override with REPROLIB_PROFILE), build the HTML and print one summary line per chapter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" REPROLIB_QUIET=1
profile=$(python -c "from reprolib.config import get_profile; print(get_profile())")
export REPROLIB_PROFILE=$profile
# The chapters' runs write their results under _build/results, never over the committed book/results (which the
# pages read as "recorded"): on another CPU a run differs in the last digits, and the checkout must stay clean.
export REPROLIB_RUN_RESULTS="$PWD/_build/results"
# The execution cache is keyed on notebook code; clear it when reprolib's source changes.
src_hash=$(find src/reprolib -name '*.py' -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
mkdir -p _build
if [ "$(cat _build/.reprolib-src-hash 2>/dev/null)" != "$src_hash:$profile" ]; then
  rm -rf _build/.jupyter_cache
  echo "$src_hash:$profile" > _build/.reprolib-src-hash
fi
echo "[book] executing chapters in the '$profile' profile and building the HTML"
start=$(date +%s)
python scripts/vendor_js.py
# Progress: reprolib appends what it trains to this file from inside the kernels (reprolib.progress);
# book_progress.py prints those lines and "chapter k of N" beside Jupyter Book's own output.
export REPROLIB_PROGRESS="$PWD/_build/progress.log"
: > "$REPROLIB_PROGRESS"
PYTHONUNBUFFERED=1 jupyter-book build . --builder html 2>&1 | python scripts/book_progress.py --progress-file "$REPROLIB_PROGRESS"
echo
echo "[book] built in $(( $(date +%s) - start )) s: $PWD/_build/html/index.html"
REPROLIB_RESULTS="$REPROLIB_RUN_RESULTS" python -m reprolib summary --profile "$profile"  # this build's runs
