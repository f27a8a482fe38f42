#!/usr/bin/env python3
"""Stream stdin through the original Python design, the smallest program
that can: drivers/python/shared_buffer.py as is, items of up to
item_size bytes, then a 0-byte item to end the stream (the original
design's producer.py and consumer.py put and print numbered items, not a
file).

    py_stream.py consume NAME [--capacity 10] [--item-size 64] > out   # creates the ring
    py_stream.py produce NAME < in                                     # opens it
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "drivers", "python"))

from shared_buffer import SharedBuffer, SharedBufferError  # noqa: E402

TIMEOUT = 10.0


def open_ring(name):
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return SharedBuffer(name)
        except SharedBufferError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.001)


def produce(name):
    ring = open_ring(name)
    with ring:
        size = ring.item_size
        src = sys.stdin.buffer
        while True:
            chunk = src.read(size)
            if not ring.put_wait(chunk, TIMEOUT):
                sys.exit(f"py_stream: ring {name!r} stayed full for {TIMEOUT} s")
            if not chunk:
                return


def consume(name, capacity, item_size):
    ring = SharedBuffer(name, create=True, capacity=capacity, item_size=item_size)
    out = sys.stdout.buffer
    with ring:
        while True:
            item = ring.get_wait(TIMEOUT)
            if item is None:
                sys.exit(f"py_stream: ring {name!r} stayed empty for {TIMEOUT} s")
            if not item:
                break
            out.write(item)
    out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("role", choices=["produce", "consume"])
    ap.add_argument("name")
    ap.add_argument("--capacity", type=int, default=10)
    ap.add_argument("--item-size", type=int, default=64)
    args = ap.parse_args()
    if args.role == "produce":
        produce(args.name)
    else:
        consume(args.name, args.capacity, args.item_size)


if __name__ == "__main__":
    main()
