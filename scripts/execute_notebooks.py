"""Execute chapter notebooks in place from a clean state (outputs cleared first).

Used by `make notebooks` to regenerate the committed smoke-profile outputs that nbval compares against.
Never edit notebook outputs by hand.
"""

import argparse
import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    if os.environ.get("REPROLIB_PROFILE") != "smoke":
        print("warning: committed outputs should come from the smoke profile (REPROLIB_PROFILE=smoke)")
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        start = time.perf_counter()
        NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                       resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}}).execute()
        nbformat.write(nb, path)
        print(f"{path}: executed in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
