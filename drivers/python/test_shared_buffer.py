"""Tests of SharedBuffer, its CLI scripts and driver.py.

    python3 -m unittest discover -s drivers/python

Every test uses unique segment names (prefix ``sbtest-<pid>-``) and removes
what it made; the module checks at the end that nothing with that prefix is
left in /dev/shm.
"""

import base64
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import time
import unittest
from multiprocessing import resource_tracker, shared_memory

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import shared_buffer as sb  # noqa: E402  pylint: disable=wrong-import-position
from shared_buffer import SharedBuffer  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = f"sbtest-{os.getpid()}-"
_counter = itertools.count()


def shm_path(name):
    return os.path.join("/dev/shm", name)


def leftovers():
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith(PREFIX))


def tearDownModule():  # pylint: disable=invalid-name
    left = leftovers()
    for n in left:
        os.unlink(shm_path(n))
    if left:
        raise AssertionError(f"segments left in /dev/shm: {left}")


def python(code, *args, **kw):
    """Popen of ``python3 -c code`` with this directory importable."""
    env = dict(os.environ, PYTHONPATH=HERE)
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=HERE, env=env, **kw)


def script(name, *args, **kw):
    return subprocess.Popen([sys.executable, os.path.join(HERE, name), *args], cwd=HERE, **kw)


class RingTest(unittest.TestCase):
    """Gives each test fresh names and removes whatever is left under them."""

    def setUp(self):
        self._names = []
        self._rings = []

    def tearDown(self):
        for ring in self._rings:
            ring.close()
        for name in self._names:
            try:
                os.unlink(shm_path(name))
            except FileNotFoundError:
                pass

    def name(self):
        n = f"{PREFIX}{next(_counter)}-{os.urandom(3).hex()}"
        self._names.append(n)
        return n

    def ring(self, capacity=4, item_size=16, name=None):
        r = SharedBuffer(name or self.name(), create=True, capacity=capacity, item_size=item_size)
        self._rings.append(r)
        return r

    def opener(self, name):
        r = SharedBuffer(name)
        self._rings.append(r)
        return r


class BasicTest(RingTest):
    def test_put_get_fifo(self):
        r = self.ring(capacity=4)
        for x in (b"a", b"bb", b"ccc"):
            self.assertTrue(r.put(x))
        self.assertEqual(len(r), 3)
        self.assertEqual([r.get(), r.get(), r.get()], [b"a", b"bb", b"ccc"])
        self.assertEqual(len(r), 0)

    def test_full_returns_false_and_overwrites_nothing(self):
        r = self.ring(capacity=2)
        self.assertTrue(r.put(b"1"))
        self.assertTrue(r.put(b"2"))
        self.assertFalse(r.put(b"3"))
        self.assertEqual(len(r), 2)
        self.assertEqual([r.get(), r.get(), r.get()], [b"1", b"2", None])

    def test_empty_returns_none(self):
        r = self.ring()
        self.assertIsNone(r.get())
        self.assertIsNone(r.get())
        self.assertEqual(len(r), 0)

    def test_oversize_refused_ring_unchanged(self):
        r = self.ring(capacity=2, item_size=4)
        r.put(b"ok")
        with self.assertRaises(sb.TooLarge) as cm:
            r.put(b"12345")
        self.assertIsInstance(cm.exception, ValueError)
        with self.assertRaises(sb.TooLarge):
            r.put_wait(b"12345", 0.01)
        self.assertEqual(len(r), 1)
        self.assertTrue(r.put(b"1234"))  # exactly item_size fits
        self.assertEqual([r.get(), r.get(), r.get()], [b"ok", b"1234", None])

    def test_zero_byte_item(self):
        r = self.ring(capacity=2)
        self.assertTrue(r.put(b""))
        self.assertEqual(len(r), 1)
        item = r.get()
        self.assertEqual(item, b"")
        self.assertIsNotNone(item)
        self.assertIsNone(r.get())

    def test_wrap_around(self):
        r = self.ring(capacity=3, item_size=8)
        expected, got = [], []
        for i in range(50):  # the slots are reused many times over
            for j in range(i % 3 + 1):
                data = f"{i}.{j}".encode()
                if r.put(data):
                    expected.append(data)
            got.append(r.get())
        while (item := r.get()) is not None:
            got.append(item)
        self.assertEqual([g for g in got if g is not None], expected)

    def test_bytes_like_items(self):
        r = self.ring()
        r.put(bytearray(b"ba"))
        r.put(memoryview(b"mv"))
        self.assertEqual([r.get(), r.get()], [b"ba", b"mv"])
        with self.assertRaises(TypeError):
            r.put(5)  # not bytes(5)
        with self.assertRaises(TypeError):
            r.put("text")

    def test_open_takes_geometry_and_shares_items(self):
        r = self.ring(capacity=5, item_size=7)
        o = self.opener(r.name)
        self.assertEqual((o.capacity, o.item_size), (5, 7))
        r.put(b"x")
        self.assertEqual(o.get(), b"x")
        self.assertFalse(o.creator)

    def test_wait_timeouts(self):
        r = self.ring(capacity=1)
        t = time.monotonic()
        self.assertIsNone(r.get_wait(0.05))
        self.assertTrue(0.05 <= time.monotonic() - t < 5.0)
        self.assertTrue(r.put_wait(b"a", 0.05))
        t = time.monotonic()
        self.assertFalse(r.put_wait(b"b", 0.05))
        self.assertTrue(0.05 <= time.monotonic() - t < 5.0)
        self.assertEqual(r.get_wait(0), b"a")
        self.assertIsNone(r.get_wait(0))


class CorruptionTest(RingTest):
    def test_corruption_detected_and_consumed(self):
        r = self.ring(capacity=4)
        for x in (b"first", b"", b"third"):
            r.put(x)
        r.corrupt_oldest()
        with self.assertRaises(sb.Corrupt):
            r.get()
        self.assertEqual(len(r), 2)  # consumed all the same
        r.corrupt_oldest()  # a 0-byte item: its check bits are flipped
        with self.assertRaises(sb.Corrupt):
            r.get()
        self.assertEqual(r.get(), b"third")
        with self.assertRaises(sb.Empty):
            r.corrupt_oldest()

    def test_stored_length_over_item_size_is_corrupt(self):
        r = self.ring(capacity=2, item_size=8)
        r.put(b"abc")
        r.put(b"def")
        off = sb.HEADER_SIZE
        sb._SLOT.pack_into(r._buf, off, 10**6, 0)  # pylint: disable=protected-access
        with self.assertRaises(sb.Corrupt):
            r.get()
        self.assertEqual(r.get(), b"def")

    def test_bad_indices_are_refused(self):
        r = self.ring(capacity=2)
        r._idx[1] = 10  # tail past head + capacity  pylint: disable=protected-access
        for op in (lambda: r.put(b"x"), r.get, lambda: len(r)):
            with self.assertRaises(sb.BadSegment):
                op()
        r._idx[1] = 0  # pylint: disable=protected-access
        self.assertTrue(r.put(b"x"))  # the lock was released each time

    def _raw_segment(self, name, size, header=b""):
        shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        resource_tracker.unregister(shm._name, "shared_memory")  # pylint: disable=protected-access
        shm.buf[: len(header)] = header
        shm.close()

    def test_foreign_segment_is_refused(self):
        name = self.name()
        self._raw_segment(name, 4096, b"NOTARING")
        with self.assertRaises(sb.BadSegment):
            SharedBuffer(name)

    def test_uninitialised_segment_is_a_clear_error(self):
        name = self.name()
        self._raw_segment(name, 4096)  # magic 0: a creator that never finished
        saved = SharedBuffer.open_timeout
        SharedBuffer.open_timeout = 0.1
        try:
            t = time.monotonic()
            with self.assertRaises(sb.BadSegment) as cm:
                SharedBuffer(name)
            self.assertGreaterEqual(time.monotonic() - t, 0.1)
            self.assertIn("not initialised", str(cm.exception))
        finally:
            SharedBuffer.open_timeout = saved

    def test_segment_shorter_than_its_geometry_is_refused(self):
        name = self.name()
        header = sb._IDENTITY.pack(sb.MAGIC, sb.VERSION, 0, 1000, 64)  # pylint: disable=protected-access
        self._raw_segment(name, 4096, header)
        with self.assertRaises(sb.BadSegment):
            SharedBuffer(name)


class LifecycleTest(RingTest):
    def test_exists_leaves_the_ring_untouched(self):
        r = self.ring(capacity=3, item_size=5)
        r.put(b"keep")
        with self.assertRaises(sb.Exists) as cm:
            SharedBuffer(r.name, create=True, capacity=9, item_size=9)
        self.assertIsInstance(cm.exception, FileExistsError)
        o = self.opener(r.name)
        self.assertEqual((o.capacity, o.item_size, o.get()), (3, 5, b"keep"))

    def test_not_found(self):
        with self.assertRaises(sb.NotFound) as cm:
            SharedBuffer(self.name())
        self.assertIsInstance(cm.exception, FileNotFoundError)

    def test_invalid_names_and_geometries(self):
        for bad in ("", "a/b", "/x", ".", "..", "nul\0", "h\u00e9", "a:b", "nl\n", "x" * 256):
            with self.assertRaises(sb.InvalidArgument, msg=repr(bad)):
                SharedBuffer(bad, create=True)
        n = self.name()
        for cap, size in ((0, 1), (1, 0), (-1, 1), (2**40, 2**20), (1, 2**40), (1.5, 1), (True, 1)):
            with self.assertRaises(sb.InvalidArgument, msg=(cap, size)):
                SharedBuffer(n, create=True, capacity=cap, item_size=size)
        self.assertFalse(os.path.exists(shm_path(n)))

    def test_close_semantics(self):
        r = self.ring()
        o = self.opener(r.name)
        o.close()
        o.close()  # idempotent
        self.assertTrue(os.path.exists(shm_path(r.name)))  # an opener never unlinks
        for op in (lambda: o.put(b"x"), o.get, lambda: len(o), o.corrupt_oldest):
            with self.assertRaises(sb.Closed):
                op()
        o2 = self.opener(r.name)
        r.close()
        self.assertFalse(os.path.exists(shm_path(r.name)))  # the creator's close does
        self.assertTrue(o2.put(b"still mapped"))
        self.assertEqual(o2.get(), b"still mapped")
        with self.assertRaises(sb.NotFound):
            SharedBuffer(r.name)


class ProcessTest(RingTest):
    def test_resource_tracker_does_not_unlink(self):
        r = self.ring()
        r.put(b"survives")
        code = (
            "import sys; from shared_buffer import SharedBuffer\n"
            "b = SharedBuffer(sys.argv[1]); b.put(b'child')\n"
            "if sys.argv[2] == 'close': b.close()\n"
        )
        for how in ("close", "exit"):  # closing, and exiting without close
            p = python(code, r.name, how, stderr=subprocess.PIPE)
            _, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
            self.assertNotIn(b"resource_tracker", err)
            self.assertTrue(os.path.exists(shm_path(r.name)), how)
        self.assertEqual([r.get(), r.get(), r.get()], [b"survives", b"child", b"child"])

    def test_producer_consumer_processes_2000_items(self):
        name = self.name()
        n = 2000
        prod = script("producer.py", name, "--create", "--capacity", "8", "--item-size", "16",
                      "--count", str(n), stderr=subprocess.PIPE)
        cons = script("consumer.py", name, "--count", str(n), "--timeout", "20",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = cons.communicate(timeout=60)
        _, perr = prod.communicate(timeout=60)
        self.assertEqual(cons.returncode, 0, err)
        self.assertEqual(prod.returncode, 0, perr)
        self.assertEqual(out.splitlines(), [f"item-{i}".encode() for i in range(n)])
        self.assertFalse(os.path.exists(shm_path(name)))  # the producer created and removed it

    def test_two_producers_two_consumers_no_loss_no_dup(self):
        r = self.ring(capacity=4, item_size=16)
        n = 1000
        prods = [script("producer.py", r.name, "--prefix", p, "--count", str(n),
                        stderr=subprocess.PIPE) for p in ("a", "b")]
        conss = [script("consumer.py", r.name, "--timeout", "1",
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        for p in prods:
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        outs = []
        for c in conss:
            out, err = c.communicate(timeout=60)
            self.assertEqual(c.returncode, 0, err)
            outs.append(out.splitlines())
        got = sorted(outs[0] + outs[1])
        want = sorted(f"{p}-{i}".encode() for p in ("a", "b") for i in range(n))
        self.assertEqual(got, want)  # every item exactly once
        for out in outs:  # and each producer's items in order, in each consumer
            for p in (b"a-", b"b-"):
                seq = [int(x[2:]) for x in out if x.startswith(p)]
                self.assertEqual(seq, sorted(seq))

    def test_sigkill_of_lock_holder(self):
        r = self.ring()
        r.put(b"before")
        code = (
            "import sys, time; from shared_buffer import SharedBuffer\n"
            "b = SharedBuffer(sys.argv[1]); b._lock()\n"
            "print('locked', flush=True); time.sleep(60)\n"
        )
        child = python(code, r.name, stdout=subprocess.PIPE)
        try:
            ready, _, _ = select.select([child.stdout], [], [], 30)
            self.assertTrue(ready, "child did not take the lock")
            self.assertEqual(child.stdout.readline(), b"locked\n")
            r.lock_timeout = 0.2
            with self.assertRaises(sb.LockTimeout):
                r.put(b"blocked")  # the child really holds it
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
            r.lock_timeout = 5.0
            self.assertTrue(r.put(b"after"))
            self.assertEqual([r.get(), r.get(), r.get()], [b"before", b"after", None])
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()

    def test_sigkill_mid_operation_leaves_whole_items(self):
        r = self.ring(capacity=16, item_size=32)
        code = (
            "import sys; from shared_buffer import SharedBuffer\n"
            "b = SharedBuffer(sys.argv[1]); i = 0\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    if b.put(b'%031d' % i): i += 1\n"
        )
        for delay in (0.05, 0.11, 0.17):
            child = python(code, r.name, stdout=subprocess.PIPE)
            select.select([child.stdout], [], [], 30)
            child.stdout.readline()
            stop = time.monotonic() + delay
            expected = 0  # each child counts from 0, into an empty ring
            while time.monotonic() < stop:  # consume while the child produces
                item = r.get()
                if item is not None:
                    self.assertEqual(item, b"%031d" % expected)
                    expected += 1
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
            while (item := r.get()) is not None:  # no torn or duplicated item
                self.assertEqual(item, b"%031d" % expected)
                expected += 1
            self.assertEqual(len(r), 0)
            self.assertGreater(expected, 0)


class Driver:
    """driver.py in a subprocess, one request at a time."""

    def __init__(self):
        self.p = script("driver.py", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)

    def raw(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.p.stdin.write(line + b"\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], 30)
        if not ready:
            raise AssertionError(f"driver did not answer {line!r}")
        return json.loads(self.p.stdout.readline())

    def rpc(self, _id, op, **args):
        resp = self.raw(json.dumps({"id": _id, "op": op, **args}))
        assert resp["id"] == _id, resp
        return resp

    def finish(self, timeout=10):
        if self.p.stdout.closed:
            return self.p.returncode, b""
        self.p.stdin.close()
        code = self.p.wait(timeout=timeout)
        self.p.stdout.close()
        err = self.p.stderr.read()
        self.p.stderr.close()
        return code, err

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.finish()


def b64(data):
    return base64.b64encode(data).decode()


class DriverTest(RingTest):
    def setUp(self):
        super().setUp()
        self.drivers = []

    def tearDown(self):
        for d in self.drivers:
            d.kill()
        super().tearDown()

    def driver(self):
        d = Driver()
        self.drivers.append(d)
        return d

    def test_session(self):
        d = self.driver()
        name = self.name()
        hello = d.rpc(1, "hello")
        self.assertEqual(hello, {
            "id": 1, "ok": True, "impl": "python-shared-buffer 1", "protocol": 1,
            "features": ["processes", "blocking", "checksum", "corrupt", "batch"],
        })
        self.assertEqual(d.rpc(2, "create", name=name, capacity=2, item_size=4),
                         {"id": 2, "ok": True})
        self.assertTrue(os.path.exists(shm_path(name)))
        self.assertEqual(d.rpc(3, "put", data=b64(b"abc"))["stored"], True)
        self.assertEqual(d.rpc(4, "put", data="")["stored"], True)
        self.assertEqual(d.rpc(5, "put", data=b64(b"x"))["stored"], False)
        self.assertEqual(d.rpc(6, "len")["len"], 2)
        r = d.rpc(7, "batch", ops=[
            {"op": "get"}, {"op": "get"}, {"op": "get"},
            {"op": "put", "data": b64(b"12345")}, {"op": "corrupt"},
            {"op": "put", "data": b64(b"1234")}, {"op": "corrupt"}, {"op": "get"},
            {"op": "frobnicate"}, {"op": "put"}, {"op": "len"},
        ])
        self.assertTrue(r["ok"])
        res = r["results"]
        self.assertEqual(len(res), 11)
        for x in res:
            self.assertLessEqual(x["t0"], x["t1"])
            self.assertNotIn("id", x)
        for a, b in zip(res, res[1:]):
            self.assertLessEqual(a["t1"], b["t0"])
        self.assertEqual([x.get("data", "-") for x in res[:3]], [b64(b"abc"), "", None])
        self.assertEqual([x.get("error") for x in res[3:]], [
            "too_large", "invalid", None, None, "corrupt", "unsupported", "invalid", None])
        self.assertEqual(res[10]["len"], 0)
        self.assertEqual(d.rpc(8, "put_wait", data=b64(b"w"), timeout_ms=10)["stored"], True)
        self.assertEqual(d.rpc(9, "get_wait", timeout_ms=10)["data"], b64(b"w"))
        self.assertIsNone(d.rpc(10, "get_wait", timeout_ms=10)["data"])
        self.assertEqual(d.rpc(11, "create", name=name, capacity=2, item_size=4)["error"], "exists")
        self.assertEqual(d.rpc(12, "exit"), {"id": 12, "ok": True})
        code, err = d.finish()
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(shm_path(name)))  # the creator's exit removed it

    def test_malformed_and_unknown(self):
        d = self.driver()
        for line in ("not json", "[1, 2]", '{"op": "hello"}', '{"id": -1, "op": "hello"}',
                     '{"id": "7", "op": "hello"}', b"\xff\xfe{}"):
            r = d.raw(line)
            self.assertFalse(r["ok"], line)
            self.assertEqual(r["error"], "invalid", line)
            self.assertIn("message", r)
        self.assertEqual(d.rpc(1, "frobnicate")["error"], "unsupported")
        self.assertEqual(d.rpc(2, "parallel", threads=[[{"op": "len"}]])["error"], "unsupported")
        self.assertEqual(d.rpc(3, "get")["error"], "invalid")  # nothing attached yet
        for args in ({"name": "", "capacity": 1, "item_size": 1},
                     {"name": "a/b", "capacity": 1, "item_size": 1},
                     {"name": self.name(), "capacity": 0, "item_size": 1},
                     {"name": self.name(), "capacity": 1, "item_size": 0},
                     {"name": self.name(), "capacity": -1, "item_size": 1},
                     {"name": self.name()}):
            self.assertEqual(d.rpc(4, "create", **args)["error"], "invalid", args)
        self.assertEqual(d.rpc(5, "open", name=self.name())["error"], "not_found")
        name = self.name()
        d.rpc(6, "create", name=name, capacity=1, item_size=2)
        self.assertEqual(d.rpc(7, "put", data="!!")["error"], "invalid")
        self.assertEqual(d.rpc(8, "put", data="YQ")["error"], "invalid")  # no padding
        self.assertEqual(d.rpc(9, "put", data=b64(b"abc"))["error"], "too_large")
        self.assertEqual(d.rpc(10, "corrupt")["error"], "invalid")  # empty ring
        self.assertEqual(d.rpc(11, "batch", ops="nope")["error"], "invalid")
        self.assertEqual(d.rpc(12, "close"), {"id": 12, "ok": True})
        self.assertEqual(d.rpc(13, "len")["error"], "closed")
        self.assertEqual(d.rpc(14, "close")["error"], "closed")
        self.assertEqual(d.rpc(15, "hello")["ok"], True)  # still serving
        code, err = d.finish()  # EOF
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(shm_path(name)))

    def test_lists_may_hold_lifecycle_ops_but_not_hello_exit_or_nesting(self):
        d = self.driver()
        name = self.name()
        self.assertEqual(d.rpc(1, "close")["error"], "invalid")  # nothing attached yet
        r = d.rpc(2, "batch", ops=[
            {"op": "get"}, {"op": "create", "name": name, "capacity": 2, "item_size": 4},
            {"op": "put", "data": b64(b"a")}, {"op": "open", "name": name}, {"op": "get"},
            {"op": "hello"}, {"op": "exit"}, {"op": "batch", "ops": []},
            {"op": "parallel", "threads": []}, {"op": "close"}, {"op": "len"},
        ])
        res = r["results"]
        self.assertEqual([x.get("error") for x in res], [
            "invalid", None, None, None, None,
            "invalid", "invalid", "invalid", "invalid", None, "closed"])
        self.assertEqual(res[3]["capacity"], 2)
        self.assertEqual(res[4]["data"], b64(b"a"))
        self.assertEqual(d.rpc(3, "hello")["ok"], True)  # the exit in the list did not end it
        code, err = d.finish()
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(shm_path(name)))

    def test_two_drivers_share_a_ring(self):
        a, b = self.driver(), self.driver()
        name = self.name()
        a.rpc(1, "create", name=name, capacity=3, item_size=8)
        self.assertEqual(b.rpc(1, "open", name=name), {"id": 1, "ok": True, "capacity": 3, "item_size": 8})
        a.rpc(2, "put", data=b64(b"from-a"))
        self.assertEqual(b.rpc(2, "get")["data"], b64(b"from-a"))
        # A second attach keeps the first one attached; close closes the current.
        other = self.name()
        b.rpc(3, "create", name=other, capacity=1, item_size=1)
        b.rpc(4, "close")
        self.assertFalse(os.path.exists(shm_path(other)))
        self.assertTrue(os.path.exists(shm_path(name)))
        b.rpc(5, "exit")
        self.assertEqual(b.finish()[0], 0)
        self.assertTrue(os.path.exists(shm_path(name)))  # b only opened it
        a.rpc(3, "put", data=b64(b"x"))
        os.kill(a.p.pid, signal.SIGKILL)  # a crash never runs close ...
        a.p.wait()
        self.assertTrue(os.path.exists(shm_path(name)))  # ... so the name stays (tearDown removes it)


if __name__ == "__main__":
    unittest.main()
