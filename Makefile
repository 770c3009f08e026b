PAGES = book/summary.ipynb book/instructors.ipynb
CHAPTER_NOTEBOOKS = $(filter-out $(PAGES),$(wildcard book/*.ipynb))

# Convenience targets; the README's two commands are `make book` and `make test`.
.PHONY: book test setup notebooks timings verify student clean

book:        ## execute the chapters (default profile) and build the HTML book
	bash scripts/build_book.sh

test:        ## unit tests + nbval (smoke) + -W build; what CI runs
	bash scripts/run_tests.sh

setup:       ## create .venv and install reprolib with the book and test extras
	bash scripts/setup.sh

notebooks:   ## re-execute the chapter notebooks in the smoke profile and commit-ready outputs
	bash scripts/setup.sh
	PATH="$(CURDIR)/.venv/bin:$$PATH" REPROLIB_QUIET=1 \
	  .venv/bin/python scripts/execute_notebooks.py --profile smoke --record-timings $(CHAPTER_NOTEBOOKS)
	.venv/bin/python scripts/sync_chapter_headers.py  # the chapters' time tables from the times just recorded
	# the summary and instructor pages last: they read the results and times just recorded
	PATH="$(CURDIR)/.venv/bin:$$PATH" REPROLIB_QUIET=1 \
	  .venv/bin/python scripts/execute_notebooks.py --profile smoke $(PAGES)

timings:     ## build the book in the fast profile from empty caches and record each chapter's time (book/results/timings.json)
	rm -rf _build/.jupyter_cache
	REPROLIB_PROFILE=fast REPROLIB_CACHE="$$(mktemp -d)" bash scripts/build_book.sh
	.venv/bin/python scripts/execute_notebooks.py --profile fast --from-build-cache
	.venv/bin/python scripts/sync_chapter_headers.py

verify:      ## re-run every chapter's fast profile from scratch in a temporary folder and compare with the committed results
	bash scripts/setup.sh
	.venv/bin/python -m reprolib reproduce all --profile fast --check

student:     ## write the student notebooks (solutions removed) to student/
	bash scripts/setup.sh
	.venv/bin/python scripts/make_student_notebooks.py --out student

clean:
	rm -rf _build
