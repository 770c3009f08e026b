"""Test-wide settings: the torch thread count (``REPROLIB_TEST_THREADS``, default 1; the test command runs
the suite with 2 threads and again with 1, so a result that depends on the split of a reduction fails),
quiet progress bars."""

import os

import pytest
import torch

os.environ.setdefault("REPROLIB_QUIET", "1")


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(int(os.environ.get("REPROLIB_TEST_THREADS", "1")))
    yield


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """An empty model cache (``REPROLIB_CACHE``) for one test module, the former setting restored after it."""
    old = os.environ.get("REPROLIB_CACHE")
    os.environ["REPROLIB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        yield os.environ["REPROLIB_CACHE"]
    finally:
        if old is None:
            os.environ.pop("REPROLIB_CACHE")
        else:
            os.environ["REPROLIB_CACHE"] = old
