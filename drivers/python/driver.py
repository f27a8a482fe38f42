#!/usr/bin/env python3
"""ringcheck driver (protocol 1) for the Python SharedBuffer.

    ringcheck run --driver "python3 drivers/python/driver.py"
    ringcheck run --driver "python3 drivers/python/driver.py --ring shmring"

``--ring reference`` (the default) drives the original design's ring in
``shared_buffer.py`` beside this file. ``--ring shmring`` drives the
``shmring`` Python package (the Rust ring, built from ``python/`` in the
workspace: ``pip install ./python``, or on ``PYTHONPATH``); it adds the
feature ``parallel`` (the package is thread-safe and releases the GIL
around every ring call), and ``--single-roles`` creates its rings with
single roles and declares them in ``hello``.

Reads one JSON request per line on stdin, writes one JSON response per line
on stdout (flushed), in order; logs go to stderr. Exits 0 on ``exit`` and on
EOF of stdin, closing every ring it attached (a ring this process created is
then removed). See specs/driver-protocol.md.

With the reference ring, single-threaded on purpose: SharedBuffer's flock
does not exclude threads sharing one object, so the driver does not
declare ``parallel`` for it.

Roles: the ring takes any number of producer and consumer processes at
once, so ``hello`` declares no ``roles``. A driver for a ring that is
correct only with one producer and one consumer at a time adds
``"roles": {"producers": 1, "consumers": 1}`` to its ``hello`` results
(either field may be left out: not limited). An actor (a driver process,
or one thread list of ``parallel``) holds the producer role from its first
``put``/``put_wait`` on a ring until it closes that ring or dies, and the
consumer role likewise with ``get``/``get_wait``; the harness never lets
more actors hold a role at once than declared, and a new actor must be
able to take over the role of a killed one. See specs/driver-protocol.md,
section "Roles".
"""

import argparse
import binascii
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shared_buffer import (  # noqa: E402  pylint: disable=wrong-import-position
    Closed,
    Corrupt,
    Empty,
    Exists,
    InvalidArgument,
    NotFound,
    SharedBuffer,
    TooLarge,
)

IMPL = "python-shared-buffer 1"
PROTOCOL = 1
FEATURES = ["processes", "blocking", "checksum", "corrupt", "batch"]
SHMRING_FEATURES = FEATURES + ["parallel"]
U64_MAX = 2**64 - 1

_clock = time.clock_gettime_ns
_MONOTONIC = time.CLOCK_MONOTONIC
_b64encode = binascii.b2a_base64
_b64decode = binascii.a2b_base64
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class Fail(Exception):
    """A failure to answer: protocol error code and message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


# Order matters: the first matching class gives the code. The shmring
# package's classes are added in front by ShmringRing.load().
_CODES = [
    (NotFound, "not_found"),
    (Exists, "exists"),
    (TooLarge, "too_large"),
    (InvalidArgument, "invalid"),
    (Empty, "invalid"),
    (Corrupt, "corrupt"),
    (Closed, "closed"),
]


class ShmringRing:
    """The shmring package's SharedBuffer behind the reference ring's
    method names (put_wait, get_wait, corrupt_oldest), which RING_OPS
    calls."""

    single_roles = False

    @staticmethod
    def load():
        """Imports the package and puts its exceptions in the code table."""
        import shmring  # pylint: disable=import-outside-toplevel

        ShmringRing.module = shmring
        _CODES[:0] = [
            (shmring.NotFound, "not_found"),
            (shmring.AlreadyExists, "exists"),
            (shmring.TooLarge, "too_large"),
            (shmring.InvalidName, "invalid"),
            (shmring.InvalidConfig, "invalid"),
            (shmring.CorruptItem, "corrupt"),
            (shmring.Closed, "closed"),
        ]

    def __init__(self, name, create=False, capacity=10, item_size=64):
        self.ring = ShmringRing.module.SharedBuffer(
            name,
            create=create,
            capacity=capacity,
            item_size=item_size,
            single_roles=ShmringRing.single_roles,
        )
        self.name = name
        self.capacity = self.ring.capacity
        self.item_size = self.ring.item_size
        self.put = self.ring.put
        self.get = self.ring.get

    def put_wait(self, data, timeout):
        return self.ring.put(data, timeout=timeout)

    def get_wait(self, timeout):
        return self.ring.get(timeout=timeout)

    def __len__(self):
        return len(self.ring)

    def corrupt_oldest(self):
        if not self.ring._corrupt_oldest():  # pylint: disable=protected-access
            raise Fail("invalid", "the ring is empty: no item to corrupt")

    def close(self):
        self.ring.close()


def failure(exc):
    """The failure object (without id) for an exception."""
    if isinstance(exc, Fail):
        return {"ok": False, "error": exc.code, "message": exc.message}
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return {"ok": False, "error": code, "message": str(exc)}
    return {"ok": False, "error": "internal", "message": f"{type(exc).__name__}: {exc}"}


# -- argument parsing ----------------------------------------------------------


def _u64(req, key, op):
    v = req.get(key)
    if type(v) is not int or not 0 <= v <= U64_MAX:  # bool is not an int here
        if v is None:
            raise Fail("invalid", f"bad arguments for {op}: missing field {key!r}")
        raise Fail("invalid", f"bad arguments for {op}: {key!r} must be a u64, got {v!r}")
    return v


def _name(req, op):
    v = req.get("name")
    if type(v) is not str:
        if v is None:
            raise Fail("invalid", f"bad arguments for {op}: missing field 'name'")
        raise Fail("invalid", f"bad arguments for {op}: 'name' must be a string")
    if not v or "/" in v:
        raise Fail("invalid", f"invalid ring name {v!r}")
    return v


def _data(req, op):
    s = req.get("data")
    if type(s) is not str:
        if s is None:
            raise Fail("invalid", f"bad arguments for {op}: missing field 'data'")
        raise Fail("invalid", f"bad arguments for {op}: 'data' must be a base64 string")
    try:
        b = _b64decode(s, strict_mode=True)
    except (binascii.Error, ValueError) as e:
        raise Fail("invalid", f"bad arguments for {op}: bad base64: {e}") from None
    if _b64encode(b, newline=False).decode("ascii") != s:
        raise Fail("invalid", f"bad arguments for {op}: bad base64: not canonical")
    return b


def _encode(item):
    return None if item is None else _b64encode(item, newline=False).decode("ascii")


# -- ring ops: parse(req) -> args, then run(ring, args) -> results -------------


def _parse_none(req, op):
    return ()


def _parse_put(req, op):
    return (_data(req, op),)


def _parse_put_wait(req, op):
    return (_data(req, op), _u64(req, "timeout_ms", op) / 1000.0)


def _parse_get_wait(req, op):
    return (_u64(req, "timeout_ms", op) / 1000.0,)


def _corrupt(ring):
    ring.corrupt_oldest()
    return {}


RING_OPS = {
    "put": (_parse_put, lambda ring, data: {"stored": ring.put(data)}),
    "get": (_parse_none, lambda ring: {"data": _encode(ring.get())}),
    "put_wait": (_parse_put_wait, lambda ring, data, t: {"stored": ring.put_wait(data, t)}),
    "get_wait": (_parse_get_wait, lambda ring, t: {"data": _encode(ring.get_wait(t))}),
    "len": (_parse_none, lambda ring: {"len": len(ring)}),
    "corrupt": (_parse_none, _corrupt),
}
# Ops a batch may not hold; create, open and close it may (LIST_LIFECYCLE_OPS).
NOT_IN_LISTS = ("hello", "exit", "batch", "parallel")
LIST_LIFECYCLE_OPS = ("create", "open", "close")


class Driver:
    """The protocol state: every ring attached so far (kept attached until
    exit, so a second create/open does not detach the first) and the
    current one, which ring ops apply to."""

    def __init__(self, ring_class=SharedBuffer, features=FEATURES, roles=None):
        self.ring_class = ring_class
        self.features = features
        self.roles = roles
        self.rings = []
        self.current = None
        self.top = {
            "hello": self.hello,
            "create": self.create,
            "open": self.open,
            "batch": self.batch,
            "parallel": self.parallel,
            "close": self.close,
            "exit": lambda req: {},
        }

    def ring(self):
        if self.current is None:
            if not self.rings:
                raise Fail("invalid", "no ring attached: create or open one first")
            raise Fail("closed", "the ring was closed")
        return self.current

    # -- top-level ops -------------------------------------------------------

    def hello(self, req):
        hello = {"impl": IMPL, "protocol": PROTOCOL, "features": self.features}
        if self.ring_class is ShmringRing:
            hello["impl"] = f"python shmring {ShmringRing.module.__name__} (Rust ring)"
        if self.roles:
            hello["roles"] = self.roles
        return hello

    def create(self, req):
        name = _name(req, "create")
        capacity = _u64(req, "capacity", "create")
        item_size = _u64(req, "item_size", "create")
        if capacity == 0 or item_size == 0:
            raise Fail("invalid", "capacity and item_size must be >= 1")
        ring = self.ring_class(name, create=True, capacity=capacity, item_size=item_size)
        self.rings.append(ring)
        self.current = ring
        return {}

    def open(self, req):
        ring = self.ring_class(_name(req, "open"))
        self.rings.append(ring)
        self.current = ring
        return {"capacity": ring.capacity, "item_size": ring.item_size}

    def close(self, req):
        # Before any create/open this is invalid, after a close closed, as
        # for every ring op.
        ring = self.ring()
        self.current = None
        ring.close()
        return {}

    def parallel(self, req):
        if "parallel" not in self.features:
            raise Fail("unsupported", "parallel is not implemented (this driver is single-threaded)")
        lists = req.get("threads")
        if type(lists) is not list or any(type(ops) is not list for ops in lists):
            raise Fail("invalid", "bad arguments for parallel: 'threads' must be a list of op lists")
        results = [None] * len(lists)
        # Every thread starts its list at once (the barrier), so that the
        # lists overlap as much as the ring lets them.
        start = threading.Barrier(len(lists)) if lists else None

        def run(i, ops):
            start.wait()
            results[i] = self.run_list(ops)

        threads = [threading.Thread(target=run, args=(i, ops)) for i, ops in enumerate(lists)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"results": results}

    def batch(self, req):
        ops = req.get("ops")
        if type(ops) is not list:
            raise Fail("invalid", "bad arguments for batch: 'ops' must be a list of ops")
        return {"results": self.run_list(ops)}

    def run_list(self, ops):
        """The results of one op list of batch or parallel, in order."""
        results = []
        append = results.append
        for sub in ops:
            t0 = _clock(_MONOTONIC)
            try:
                if type(sub) is not dict:
                    raise Fail("invalid", "a batch op must be a JSON object")
                name = sub.get("op")
                if name in LIST_LIFECYCLE_OPS:
                    # create, open and close act as at top level.
                    obj = self.top[name](sub)
                else:
                    entry = RING_OPS.get(name) if type(name) is str else None
                    if entry is None:
                        raise _unknown(name, inside_batch=True)
                    args = entry[0](sub, name)
                    obj = entry[1](self.ring(), *args)
                t1 = _clock(_MONOTONIC)
                obj = {"ok": True, **obj}
            except Exception as e:  # pylint: disable=broad-except
                t1 = _clock(_MONOTONIC)
                obj = failure(e)
            obj["t0"] = t0
            obj["t1"] = t1
            append(obj)
        return results

    # -- one request line ------------------------------------------------------

    def handle(self, line):
        """(response object, exit?) for one request line."""
        try:
            req = json.loads(line)
        except (ValueError, RecursionError) as e:  # also UnicodeDecodeError
            return {"id": None, **failure(Fail("invalid", f"request is not JSON: {e}"))}, False
        if type(req) is not dict:
            return {"id": None, **failure(Fail("invalid", "request is not a JSON object"))}, False
        rid = req.get("id")
        if type(rid) is not int or not 0 <= rid <= U64_MAX:
            return {"id": rid, **failure(Fail("invalid", 'request has no u64 "id"'))}, False
        op = req.get("op")
        try:
            fn = self.top.get(op) if type(op) is str else None
            if fn is not None:
                results = fn(req)
            else:
                entry = RING_OPS.get(op) if type(op) is str else None
                if entry is None:
                    raise _unknown(op, inside_batch=False)
                args = entry[0](req, op)
                results = entry[1](self.ring(), *args)
        except Exception as e:  # pylint: disable=broad-except
            return {"id": rid, **failure(e)}, False
        return {"id": rid, "ok": True, **results}, op == "exit"

    def close_all(self):
        self.current = None
        for ring in self.rings:
            try:
                ring.close()
            except Exception as e:  # pylint: disable=broad-except
                print(f"driver: closing {ring.name!r}: {e}", file=sys.stderr)
        self.rings.clear()


def _unknown(op, inside_batch):
    if inside_batch and op in NOT_IN_LISTS:
        return Fail("invalid", f"{op} is not allowed inside batch")
    if op == "parallel":
        return Fail("unsupported", "parallel is not implemented (this driver is single-threaded)")
    if op is None:
        return Fail("unsupported", 'request has no "op"')
    return Fail("unsupported", f"unknown op {op!r}")


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def _arguments():
    parser = argparse.ArgumentParser(description="ringcheck driver for a Python ring")
    parser.add_argument(
        "--ring",
        choices=("reference", "shmring"),
        default="reference",
        help="reference: the original design (shared_buffer.py); shmring: the shmring package",
    )
    parser.add_argument(
        "--single-roles",
        action="store_true",
        help="with --ring shmring: create rings with single roles and declare 1 producer, 1 consumer",
    )
    args = parser.parse_args()
    if args.single_roles and args.ring != "shmring":
        parser.error("--single-roles needs --ring shmring")
    return args


def main():
    args = _arguments()
    signal.signal(signal.SIGTERM, _terminate)
    if args.ring == "shmring":
        try:
            ShmringRing.load()
        except ImportError as e:
            print(f"driver: cannot import the shmring package: {e}", file=sys.stderr)
            return 2
        ShmringRing.single_roles = args.single_roles
        roles = {"producers": 1, "consumers": 1} if args.single_roles else None
        driver = Driver(ShmringRing, SHMRING_FEATURES, roles)
    else:
        driver = Driver()
    out = sys.stdout.buffer
    code = 0
    try:
        for line in sys.stdin.buffer:
            if not line.strip():
                continue
            response, done = driver.handle(line)
            try:
                out.write(_dumps(response).encode("utf-8") + b"\n")
                out.flush()
            except BrokenPipeError:
                print("driver: stdout is closed", file=sys.stderr)
                code = 1
                break
            if done:
                break
    except KeyboardInterrupt:
        code = 130
    finally:
        driver.close_all()
    if code == 1:
        # Nothing more can be written; skip the interpreter's final flush.
        sys.stderr.flush()
        os._exit(1)
    return code


if __name__ == "__main__":
    sys.exit(main())
