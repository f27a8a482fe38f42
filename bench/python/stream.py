#!/usr/bin/env python3
"""Throughput of a Python ``SharedBuffer`` design between two processes: the
driver part of the bench's Python anchor.

    stream.py --design PATH [--items N]

imports the ``SharedBuffer`` class of the module file PATH (the bench
passes ``drivers/python/shared_buffer.py``, the reference design,
and ``bench/python/original_design.py``, the design before it was made
robust), creates a ring of 10 x 64 B, and forks one producer and one
consumer process that move N 64-byte items through it, one ``put`` and one
``get`` per item, retrying with ``time.sleep(0)`` while full or empty. The
consumer checks every sequence number (and every 997th item in full).
Prints ``done <items per second>`` on one line and leaves nothing in
/dev/shm. Standard library only (CPython 3.11).
"""

import argparse
import importlib.util
import multiprocessing as mp
import os
import struct
import sys
import time
from multiprocessing.connection import wait

SEQ = struct.Struct("<Q")
# Seconds without progress after which the run is called failed.
STALL = 60


def load_design(path):
    """The SharedBuffer class of the module file at ``path``."""
    spec = importlib.util.spec_from_file_location("bench_design", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.SharedBuffer


def item(seq):
    # The sequence number, then a seq-dependent fill, so that a stale or
    # torn slot is caught by the consumer.
    return SEQ.pack(seq) + bytes([seq & 0xFF]) * 56


def producer(design, name, items, barrier):
    buf = design(name, create=False)
    barrier.wait()
    for seq in range(items):
        data = item(seq)
        while not buf.put(data):
            time.sleep(0)
    buf.close()


def consumer(design, name, items, barrier):
    buf = design(name, create=False)
    barrier.wait()
    for seq in range(items):
        data = buf.get()
        while data is None:
            time.sleep(0)
            data = buf.get()
        if seq % 997 == 0 or seq == items - 1:
            if data != item(seq):
                print(f"stream.py: item {seq} is wrong: {data!r}", file=sys.stderr)
                sys.exit(1)
        elif len(data) != 64 or SEQ.unpack_from(data)[0] != seq:
            print(f"stream.py: expected item {seq}, got {data[:8]!r}", file=sys.stderr)
            sys.exit(1)
    if buf.get() is not None:
        print("stream.py: an extra item was delivered", file=sys.stderr)
        sys.exit(1)
    buf.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", required=True)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    design = load_design(args.design)
    ctx = mp.get_context("fork")
    name = f"pybench-{os.getpid()}-{time.monotonic_ns()}"
    ring = design(name, create=True, capacity=10, item_size=64)
    barrier = ctx.Barrier(3)
    procs = [
        ctx.Process(target=consumer, name="consumer", args=(design, name, args.items, barrier)),
        ctx.Process(target=producer, name="producer", args=(design, name, args.items, barrier)),
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
                print(f"stream.py: no progress within {STALL} s", file=sys.stderr)
                return 1
            for p in [p for p in pending if not p.is_alive()]:
                p.join()
                pending.remove(p)
                if p.exitcode != 0:
                    print(f"stream.py: {p.name} exited with {p.exitcode}", file=sys.stderr)
                    return 1
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
        # The creator's close removes the name (the original design's
        # unlink() also unregisters it from the resource tracker that the
        # children share with this process, so the tracker neither unlinks
        # it again nor warns about a leak at exit).
        ring.close()
    print(f"done {args.items / elapsed:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
