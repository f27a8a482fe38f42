#!/usr/bin/env python3
"""The original Python design of the shared ring, as a throughput anchor.

A faithful re-creation of the design that shmring replaces: a
``SharedBuffer(name, create)`` on ``multiprocessing.shared_memory``, one
``multiprocessing.Lock`` around every operation, a 24-byte header
(head, tail, count) and slots of a 4-byte length plus a 64-byte payload,
10 slots by default. ``put`` returns False when full and ``get`` returns None
when empty, so callers retry; that polling is part of what is measured.

One producer and one consumer process (fork) move ``--items`` 64-byte items;
the script prints ``items_per_sec=<float>`` on one line and leaves nothing in
/dev/shm. Standard library only (CPython 3.11).
"""

import argparse
import multiprocessing as mp
import os
import struct
import sys
import time
from multiprocessing import shared_memory
from multiprocessing.connection import wait

HEADER = struct.Struct("<QQQ")  # head, tail, count
LENGTH = struct.Struct("<I")
SEQ = struct.Struct("<Q")
# Seconds without progress after which the run is called failed.
STALL = 60

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


def item(seq):
    # The sequence number, then a seq-dependent fill, so that a stale or
    # torn slot is caught by the consumer.
    return SEQ.pack(seq) + bytes([seq & 0xFF]) * 56


def producer(name, items, barrier):
    buf = SharedBuffer(name, create=False)
    barrier.wait()
    for seq in range(items):
        data = item(seq)
        while not buf.put(data):
            time.sleep(0)
    buf.close()


def consumer(name, items, barrier):
    buf = SharedBuffer(name, create=False)
    barrier.wait()
    for seq in range(items):
        data = buf.get()
        while data is None:
            time.sleep(0)
            data = buf.get()
        if seq % 997 == 0 or seq == items - 1:
            if data != item(seq):
                print(f"original_design: item {seq} is wrong: {data!r}", file=sys.stderr)
                sys.exit(1)
        elif len(data) != 64 or SEQ.unpack_from(data)[0] != seq:
            print(f"original_design: expected item {seq}, got {data[:8]!r}", file=sys.stderr)
            sys.exit(1)
    if buf.get() is not None:
        print("original_design: an extra item was delivered", file=sys.stderr)
        sys.exit(1)
    buf.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    ctx = mp.get_context("fork")
    name = f"pyorig-{os.getpid()}-{time.monotonic_ns()}"
    ring = SharedBuffer(name, create=True)
    barrier = ctx.Barrier(3)
    procs = [
        ctx.Process(target=consumer, name="consumer", args=(name, args.items, barrier)),
        ctx.Process(target=producer, name="producer", args=(name, args.items, barrier)),
    ]
    try:
        for p in procs:
            p.start()
        barrier.wait(timeout=STALL)
        start = time.perf_counter()
        # Wait on every child at once: if one dies the other would poll the
        # ring forever, so the first failure ends the run.
        pending = list(procs)
        while pending:
            if not wait([p.sentinel for p in pending], timeout=STALL):
                print(f"original_design: no progress within {STALL} s", file=sys.stderr)
                return 1
            for p in [p for p in pending if not p.is_alive()]:
                p.join()
                pending.remove(p)
                if p.exitcode != 0:
                    print(f"original_design: {p.name} exited with {p.exitcode}", file=sys.stderr)
                    return 1
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
        # unlink() also unregisters the name from the resource tracker that
        # the children share with this process (fork), so the tracker
        # neither unlinks it again nor warns about a leak at exit.
        ring.close()
    print(f"items_per_sec={args.items / elapsed:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
