"""Fixtures of the shmring package's tests: a ring name unique to the test,
whose ring is removed after it whatever the outcome."""

import itertools
import os

import pytest

import shmring

_counter = itertools.count()


def _exists(name):
    return os.path.exists(f"/dev/shm/shmring-{name}")


@pytest.fixture
def name():
    """A ring name no other test or process uses; removed afterwards."""
    n = f"t-py-{os.getpid()}-{next(_counter)}"
    yield n
    try:
        shmring.SharedBuffer.remove(n)
    except shmring.NotFound:
        pass
    assert not _exists(n)


@pytest.fixture
def ring(name):
    """A new ring of the original design's geometry (10 x 64 B)."""
    with shmring.SharedBuffer(name, create=True) as r:
        yield r
