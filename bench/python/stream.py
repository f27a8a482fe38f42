#!/usr/bin/env python3
"""Throughput of a Python ``SharedBuffer`` between two processes: the driver
part of the bench's Python rows.

    stream.py (--design PATH | --package) [--items N] [--capacity N]
              [--batch N] [--wait poll|block]

``--design PATH`` imports the ``SharedBuffer`` class of the module file
PATH (the bench passes ``drivers/python/shared_buffer.py``, the reference
design, and ``bench/python/original_design.py``, the design before it was
made robust); ``--package`` imports it from the ``shmring`` package on
``sys.path`` (the bench stages it from a release build of its extension).
The driver creates a ring of ``--capacity`` x 64 B (10 by default) and
forks one producer and one consumer process that move N 64-byte items
through it:

- ``--batch 1`` (the default): one ``put`` and one ``get`` per item;
- ``--batch B``: ``put_many`` of up to B items and ``get_many(B)`` (the
  ``shmring`` package only: the designs have no batch calls).

``--wait poll`` (the default, the only way the designs can be driven)
retries a refused call (full, empty) after ``time.sleep(0)``; ``--wait
block`` passes ``timeout=None`` (the package only), so a call sleeps until
it can proceed.

The timed interval holds the ring's calls alone, the same for every
design: the producer builds its N items before it, the consumer keeps the
items it takes in a list and, after the interval, checks every one of
them in full and in order, then that nothing more is in the ring. The
interval runs from the first of the two processes starting (after a
barrier that all three pass) to the consumer taking the last item, so
neither process start nor exit, nor building or checking items, is in it.
Timeouts are passed by position (``put(data, None)``), as a hot loop
would. Prints ``done <items per second>``
on one line, only if both processes succeeded and the consumer checked N
items, and leaves nothing in /dev/shm. Standard library only (CPython
3.11).
"""

import argparse
import ctypes
import importlib.util
import multiprocessing as mp
import os
import signal
import struct
import sys
import time
from multiprocessing.connection import wait

SEQ = struct.Struct("<Q")
ITEM_SIZE = 64
# Every item's bytes after the sequence number: a fill that depends on the
# sequence number (so that a stale or torn slot is caught by the consumer),
# one per value of its low byte.
FILLS = [bytes([b]) * (ITEM_SIZE - SEQ.size) for b in range(256)]
# Seconds without progress after which the run is called failed.
STALL = 60
# Slots of the shared record the children write their times and count into.
PRODUCER_START, CONSUMER_START, CONSUMER_END, CHECKED = range(4)


def load_design(path):
    """The SharedBuffer class of the module file at ``path``."""
    spec = importlib.util.spec_from_file_location("bench_design", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.SharedBuffer


def load_package():
    """The SharedBuffer class of the ``shmring`` package on ``sys.path``."""
    from shmring import SharedBuffer

    return SharedBuffer


def item(seq):
    return SEQ.pack(seq) + FILLS[seq & 0xFF]


def fail(message):
    print(f"stream.py: {message}", file=sys.stderr)
    sys.exit(1)


def die_with_driver(driver):
    """Has the kernel kill this child when the driver (pid ``driver``)
    dies: the bench kills a driver that hangs, and its children would
    otherwise wait on the ring, or poll it, for ever."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        fail(f"prctl(PR_SET_PDEATHSIG): {os.strerror(ctypes.get_errno())}")
    if os.getppid() != driver:
        fail("the driver died before this child started")


def producer(design, name, args, barrier, record):
    die_with_driver(args.driver)
    buf = design(name, create=False, capacity=args.capacity, item_size=ITEM_SIZE)
    block = args.wait == "block"
    sleep = time.sleep
    # Built before the clock starts: the timed loop is the ring's calls.
    items = [item(seq) for seq in range(args.items)]
    barrier.wait()
    record[PRODUCER_START] = time.perf_counter()
    if args.batch == 1 and block:
        put = buf.put
        for data in items:
            if not put(data, None):
                fail("a put without a timeout returned False")
    elif args.batch == 1:
        put = buf.put
        for data in items:
            while not put(data):
                sleep(0)
    else:
        put_many, timeout = buf.put_many, None if block else 0.0
        for first in range(0, args.items, args.batch):
            pending = items[first:first + args.batch]
            while pending:
                stored = put_many(pending, timeout)
                if stored:
                    pending = pending[stored:]
                else:
                    sleep(0)
    buf.close()


def consumer(design, name, args, barrier, record):
    die_with_driver(args.driver)
    buf = design(name, create=False, capacity=args.capacity, item_size=ITEM_SIZE)
    block = args.wait == "block"
    items = args.items
    sleep = time.sleep
    got = []
    append = got.append
    barrier.wait()
    record[CONSUMER_START] = time.perf_counter()
    if args.batch == 1:
        get = buf.get
        for _ in range(items):
            data = get(None) if block else get()
            while data is None:
                sleep(0)
                data = get()
            append(data)
    else:
        get_many, timeout = buf.get_many, None if block else 0.0
        extend = got.extend
        while len(got) < items:
            batch = get_many(min(args.batch, items - len(got)), timeout)
            if not batch:
                sleep(0)
                continue
            extend(batch)
    record[CONSUMER_END] = time.perf_counter()
    # Checked after the clock stopped: every item, in order.
    for seq, data in enumerate(got):
        if data != item(seq):
            fail(f"expected item {seq}, got {data!r}")
    if buf.get() is not None:
        fail("an extra item was delivered")
    record[CHECKED] = len(got)
    buf.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--design", help="module file of a SharedBuffer design")
    which.add_argument("--package", action="store_true", help="the shmring package")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--capacity", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--wait", choices=["poll", "block"], default="poll")
    args = parser.parse_args()
    if args.items < 1 or args.capacity < 1 or args.batch < 1:
        parser.error("--items, --capacity and --batch must be at least 1")
    if args.design and (args.batch != 1 or args.wait != "poll"):
        parser.error("a design has neither batch calls nor blocking calls")
    design = load_package() if args.package else load_design(args.design)
    args.driver = os.getpid()
    ctx = mp.get_context("fork")
    name = f"pybench-{os.getpid()}-{time.monotonic_ns()}"
    ring = design(name, create=True, capacity=args.capacity, item_size=ITEM_SIZE)
    barrier = ctx.Barrier(3)
    record = ctx.RawArray("d", 4)
    procs = [
        ctx.Process(target=consumer, name="consumer", args=(design, name, args, barrier, record)),
        ctx.Process(target=producer, name="producer", args=(design, name, args, barrier, record)),
    ]
    try:
        for p in procs:
            p.start()
        barrier.wait(timeout=STALL)
        # Wait on every child at once: if one dies the other would wait on
        # the ring forever, so the first failure ends the run.
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
    if record[CHECKED] != args.items:
        print(f"stream.py: the consumer checked {record[CHECKED]:.0f} items of {args.items}", file=sys.stderr)
        return 1
    elapsed = record[CONSUMER_END] - min(record[PRODUCER_START], record[CONSUMER_START])
    print(f"done {args.items / elapsed:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
