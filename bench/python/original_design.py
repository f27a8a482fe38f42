"""The original Python design of the shared ring, before it was made robust,
as a throughput anchor (the design class only; ``stream.py`` drives it).

A faithful re-creation of the design that shmring replaces: a
``SharedBuffer(name, create)`` on ``multiprocessing.shared_memory``, one
``multiprocessing.Lock`` around every operation, a 24-byte header
(head, tail, count) and slots of a 4-byte length plus a 64-byte payload,
10 slots by default. ``put`` returns False when full and ``get`` returns None
when empty, so callers retry; that polling is part of what is measured.

It is not a copy of ``drivers/python/shared_buffer.py``, the
reference Python design: that one is this design made robust (flock on the
segment instead of a fork-shared lock, CRC-32 per item, monotonic indices,
checked headers), and is measured beside this one. Standard library only
(CPython 3.11).
"""

import multiprocessing as mp
import struct
from multiprocessing import shared_memory

HEADER = struct.Struct("<QQQ")  # head, tail, count
LENGTH = struct.Struct("<I")

# The original shares one module-level lock between processes: fork hands
# the same semaphore to every child, which then opens the buffer by name.
_LOCK = None


def _lock():
    global _LOCK
    if _LOCK is None:
        _LOCK = mp.get_context("fork").Lock()
    return _LOCK


class SharedBuffer:
    """A bounded FIFO of byte strings in named shared memory."""

    def __init__(self, name, create, capacity=10, item_size=64):
        self.capacity = capacity
        self.item_size = item_size
        self.slot_size = LENGTH.size + item_size
        self.lock = _lock()
        size = HEADER.size + capacity * self.slot_size
        self.shm = shared_memory.SharedMemory(name=name, create=create, size=size if create else 0)
        self.creator = create
        self.buf = self.shm.buf
        if create:
            HEADER.pack_into(self.buf, 0, 0, 0, 0)

    def _slot(self, index):
        return HEADER.size + index * self.slot_size

    def put(self, data):
        if len(data) > self.item_size:
            raise ValueError("item too large")
        with self.lock:
            head, tail, count = HEADER.unpack_from(self.buf, 0)
            if count == self.capacity:
                return False
            off = self._slot(tail)
            LENGTH.pack_into(self.buf, off, len(data))
            start = off + LENGTH.size
            self.buf[start : start + len(data)] = data
            HEADER.pack_into(self.buf, 0, head, (tail + 1) % self.capacity, count + 1)
            return True

    def get(self):
        with self.lock:
            head, tail, count = HEADER.unpack_from(self.buf, 0)
            if count == 0:
                return None
            off = self._slot(head)
            (length,) = LENGTH.unpack_from(self.buf, off)
            start = off + LENGTH.size
            data = bytes(self.buf[start : start + length])
            HEADER.pack_into(self.buf, 0, (head + 1) % self.capacity, tail, count - 1)
            return data

    def close(self):
        self.buf = None
        self.shm.close()
        if self.creator:
            self.shm.unlink()
