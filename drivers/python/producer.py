#!/usr/bin/env python3
"""Put COUNT items b"<prefix>-<i>" into the ring NAME, waiting while it is full.

    producer.py jobs --create --capacity 16 --item-size 64 --count 1000
    producer.py jobs --count 1000            # into an existing ring

With --create this process owns the ring, and since the creator's close
removes the name, it waits (up to --timeout seconds) for consumers to drain
the ring before it exits.
"""

import argparse
import sys
import time

from shared_buffer import SharedBuffer, SharedBufferError


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--count", type=int, default=10, help="items to put (10)")
    ap.add_argument("--prefix", default="item", help='items are b"<prefix>-<i>" ("item")')
    ap.add_argument("--create", action="store_true", help="create the ring (and own it)")
    ap.add_argument("--capacity", type=int, default=10, help="with --create: items (10)")
    ap.add_argument("--item-size", type=int, default=64, help="with --create: bytes (64)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="give up after this many seconds without progress (10)")
    args = ap.parse_args(argv)
    try:
        ring = SharedBuffer(args.name, create=args.create,
                            capacity=args.capacity, item_size=args.item_size)
    except (SharedBufferError, OSError) as e:
        print(f"producer: {e}", file=sys.stderr)
        return 1
    with ring:
        for i in range(args.count):
            if not ring.put_wait(f"{args.prefix}-{i}".encode(), args.timeout):
                print(f"producer: ring {args.name!r} stayed full for {args.timeout} s "
                      f"at item {i}", file=sys.stderr)
                return 1
        if args.create:
            deadline = time.monotonic() + args.timeout
            while len(ring) and time.monotonic() < deadline:
                time.sleep(0.005)
    return 0


if __name__ == "__main__":
    sys.exit(main())
