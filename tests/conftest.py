"""Test-wide settings: one torch thread (the CI machine has 2 cores), quiet progress bars."""

import os

import pytest
import torch

os.environ.setdefault("REPROLIB_QUIET", "1")


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)
    yield
