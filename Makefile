# Convenience targets; the README's two commands are `make book` and `make test`.
.PHONY: book test setup notebooks clean

book:        ## execute the chapters (default profile) and build the HTML book
	bash scripts/build_book.sh

test:        ## unit tests + nbval (smoke) + -W build; what CI runs
	bash scripts/run_tests.sh

setup:       ## create .venv and install reprolib with the book and test extras
	bash scripts/setup.sh

notebooks:   ## re-execute the chapter notebooks in the smoke profile and commit-ready outputs
	bash scripts/setup.sh
	PATH="$(CURDIR)/.venv/bin:$$PATH" REPROLIB_QUIET=1 REPROLIB_PROFILE=smoke \
	  .venv/bin/python scripts/execute_notebooks.py book/*.ipynb

clean:
	rm -rf _build
