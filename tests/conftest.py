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
