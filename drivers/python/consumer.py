#!/usr/bin/env python3
"""Get items from the ring NAME and print them, one per line.

    consumer.py jobs --count 1000    # exactly 1000 items (exit 1 if fewer come)
    consumer.py jobs --timeout 2     # until the ring stays empty for 2 s

Waits up to --timeout seconds for the ring to exist and for each item.
"""

import argparse
import sys
import time

from shared_buffer import Corrupt, NotFound, SharedBuffer, SharedBufferError


def open_ring(name, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return SharedBuffer(name)
        except NotFound:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--count", type=int, default=None,
                    help="stop after this many items (default: when idle for --timeout)")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="seconds to wait for the ring and for each item (5)")
    args = ap.parse_args(argv)
    try:
        ring = open_ring(args.name, args.timeout)
    except (SharedBufferError, OSError) as e:
        print(f"consumer: {e}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    got = 0
    with ring:
        while args.count is None or got < args.count:
            try:
                item = ring.get_wait(args.timeout)
            except Corrupt as e:
                print(f"consumer: skipped a corrupt item: {e}", file=sys.stderr)
                continue
            if item is None:
                break
            out.write(item + b"\n")
            got += 1
    out.flush()
    if args.count is not None and got < args.count:
        print(f"consumer: got {got} of {args.count} items", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
