"""Fixtures shared by the unit tests."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """One intra-op torch thread for tests of tiny tensors and small nets: extra threads only cost
    time, and two spin-waiting threads on a busy 2-core machine are many times slower. Modules
    opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
