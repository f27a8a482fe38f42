"""The rest of the package's interface: blocking calls, the GIL, Ctrl-C,
batches, get_into, exceptions, close, fork and pickling, single roles."""

import array
import multiprocessing as mp
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import shmring
from shmring import SharedBuffer


# -- blocking calls ---------------------------------------------------------


def test_get_with_a_timeout_returns_none_at_the_deadline(ring):
    start = time.monotonic()
    assert ring.get(timeout=0.2) is None
    assert time.monotonic() - start >= 0.2


def test_put_with_a_timeout_returns_false_at_the_deadline(ring):
    for i in range(10):
        ring.put(b"%d" % i)
    start = time.monotonic()
    assert ring.put(b"late", timeout=0.2) is False
    assert time.monotonic() - start >= 0.2
    assert len(ring) == 10


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_a_negative_or_nan_timeout_is_a_value_error(ring, bad):
    with pytest.raises(ValueError, match="timeout"):
        ring.get(timeout=bad)
    with pytest.raises(ValueError, match="timeout"):
        ring.put(b"x", timeout=bad)
    assert len(ring) == 0


def test_a_blocked_get_is_woken_by_a_put_from_another_thread(ring):
    got = []
    waiter = threading.Thread(target=lambda: got.append(ring.get(timeout=None)))
    waiter.start()
    _until(lambda: ring.stats()["waiting_consumers"] >= 1)
    assert ring.put(b"wake up")
    waiter.join(10)
    assert got == [b"wake up"]


def test_a_blocked_put_is_woken_by_a_get_from_another_thread(ring):
    for i in range(10):
        ring.put(b"%d" % i)
    stored = []
    waiter = threading.Thread(target=lambda: stored.append(ring.put(b"tenth", timeout=None)))
    waiter.start()
    _until(lambda: ring.stats()["waiting_producers"] >= 1)
    assert ring.get() == b"0"
    waiter.join(10)
    assert stored == [True]
    assert [ring.get() for _ in range(10)][-1] == b"tenth"


def test_other_threads_run_while_a_call_waits(ring):
    """The GIL is released while get waits: another thread sees the get
    asleep in the ring and puts the item it returns. With the GIL held
    through the wait, that thread could not run until get gave up."""

    def put_once_asleep():
        _until(lambda: ring.stats()["waiting_consumers"] >= 1)
        ring.put(b"from the other thread")

    other = threading.Thread(target=put_once_asleep)
    other.start()
    try:
        assert ring.get(timeout=5.0) == b"from the other thread"
    finally:
        other.join(10)


def test_closing_from_another_thread_ends_a_blocked_get_with_closed(name):
    ring = SharedBuffer(name, create=True)
    errors = []

    def wait():
        try:
            ring.get(timeout=None)
        except shmring.Closed as e:
            errors.append(e)

    waiter = threading.Thread(target=wait)
    waiter.start()
    _until(lambda: ring.stats()["waiting_consumers"] >= 1)
    ring.close()
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


INTERRUPTED_CHILD = textwrap.dedent(
    """
    import sys, time
    from shmring import SharedBuffer
    ring = SharedBuffer(sys.argv[1])
    print("waiting", flush=True)
    try:
        ring.get(timeout=None)
        print("returned", flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
    # Nothing was lost: the next item still comes, to the same handle.
    print(ring.get(timeout=10.0).decode(), flush=True)
    """
)


@pytest.mark.parametrize("call", ["get", "put"])
def test_ctrl_c_interrupts_a_blocking_call_and_loses_nothing(ring, call):
    """SIGINT during get(timeout=None) (or put on a full ring) raises
    KeyboardInterrupt promptly; no item is taken or stored by the
    interrupted call."""
    script = INTERRUPTED_CHILD
    if call == "put":
        for i in range(10):
            ring.put(b"%d" % i)
        script = script.replace(
            "ring.get(timeout=None)", "ring.put(b'never stored', timeout=None)"
        ).replace("ring.get(timeout=10.0).decode()", "len(ring)")
    child = subprocess.Popen(
        [sys.executable, "-c", script, ring.name],
        stdout=subprocess.PIPE,
        text=True,
    )
    # A call that ignores the signal would block for ever: the watchdog
    # kills the child then, and the reads below fail instead of hanging.
    watchdog = threading.Timer(30.0, child.kill)
    watchdog.start()
    try:
        assert child.stdout.readline() == "waiting\n"
        key = "waiting_consumers" if call == "get" else "waiting_producers"
        _until(lambda: ring.stats()[key] >= 1)
        child.send_signal(signal.SIGINT)
        # A call that ignored the signal would never print this (the
        # watchdog ends the child); how soon it comes is measured apart.
        word, _at = child.stdout.readline().split()
        assert word == "interrupted"
        if call == "get":
            assert ring.put(b"after")
            assert child.stdout.readline() == "after\n"
        else:
            assert child.stdout.readline() == "10\n"
            assert [ring.get() for _ in range(10)] == [b"%d" % i for i in range(10)]
        assert child.wait(10) == 0
    finally:
        watchdog.cancel()
        child.kill()
        child.wait()


# -- batches and get_into ---------------------------------------------------


def test_put_many_stores_until_full_and_get_many_takes_in_order(ring):
    items = [b"%02d" % i for i in range(15)]
    assert ring.put_many(items) == 10
    assert ring.put_many(items[10:]) == 0
    assert ring.get_many(4) == items[:4]
    assert ring.put_many(items[10:]) == 4
    assert ring.get_many(100) == items[4:14]
    assert ring.get_many(100) == []
    assert ring.put_many([]) == 0


def test_put_many_takes_a_list_or_tuple_of_bytes_like(ring):
    assert ring.put_many((b"a", bytearray(b"b"), memoryview(b"c"))) == 3
    assert ring.get_many(3) == [b"a", b"b", b"c"]
    with pytest.raises(TypeError, match="list or tuple"):
        ring.put_many(iter([b"a"]))  # an iterator would lose the unstored items
    with pytest.raises(TypeError):
        ring.put_many([b"a", "b"])
    assert len(ring) == 0


def test_put_many_with_an_oversize_item_stores_nothing(ring):
    with pytest.raises(shmring.TooLarge):
        ring.put_many([b"ok", b"x" * 65])
    assert len(ring) == 0


def test_batches_wait_with_a_timeout(ring):
    assert ring.get_many(5, timeout=0.1) == []
    threading.Timer(0.05, lambda: ring.put(b"late")).start()
    assert ring.get_many(5, timeout=5.0) == [b"late"]
    ring.put_many([b"x"] * 10)
    assert ring.put_many([b"y"], timeout=0.1) == 0


def test_get_into_writes_the_item_into_the_buffer(ring):
    buf = bytearray(64)
    assert ring.get_into(buf) is None
    ring.put(b"abc")
    assert ring.get_into(buf) == 3
    assert buf[:3] == b"abc"
    ring.put(b"defg")
    view = memoryview(buf)[10:20]
    assert ring.get_into(view) == 4
    assert buf[10:14] == b"defg"


def test_get_into_a_short_buffer_raises_and_leaves_the_item(ring):
    ring.put(b"0123456789")
    with pytest.raises(shmring.BufferTooSmall):
        ring.get_into(bytearray(4))
    assert ring.get() == b"0123456789"


def test_get_into_needs_a_writable_buffer(ring):
    ring.put(b"x")
    with pytest.raises(TypeError, match="writable"):
        ring.get_into(b"read-only bytes")
    assert len(ring) == 1


def test_buffers_of_other_formats_and_strides(ring):
    assert ring.put(array.array("i", [1, 2]))  # 8 bytes, format 'i'
    assert ring.get() == array.array("i", [1, 2]).tobytes()
    with pytest.raises(TypeError, match="contiguous"):
        ring.put(memoryview(b"abcdef")[::2])


# -- integrity --------------------------------------------------------------


def test_a_damaged_item_raises_corrupt_item_and_is_consumed(ring):
    ring.put_many([b"first", b"second"])
    assert ring._corrupt_oldest() is True
    with pytest.raises(shmring.CorruptItem) as caught:
        ring.get()
    assert caught.value.seq == 0 and caught.value.reason
    assert ring.get() == b"second"
    assert ring.stats()["corrupt_items"] == 1
    assert ring._corrupt_oldest() is False


def test_get_many_stops_before_a_damaged_item(ring):
    ring.put(b"a")
    ring.put(b"b")
    ring.get_many(0)
    assert ring._corrupt_oldest()
    ring.put(b"c")
    with pytest.raises(shmring.CorruptItem):
        ring.get_many(10)
    assert ring.get_many(10) == [b"b", b"c"]


# -- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, builtin",
    [
        ("NotFound", FileNotFoundError),
        ("AlreadyExists", FileExistsError),
        ("InvalidName", ValueError),
        ("InvalidConfig", ValueError),
        ("TooLarge", ValueError),
        ("BufferTooSmall", ValueError),
        ("LockTimeout", TimeoutError),
        ("NoSpace", OSError),
        ("Untrusted", PermissionError),
        ("Closed", ValueError),
        ("OsError", OSError),
        ("CorruptItem", Exception),
        ("IncompatibleLayout", Exception),
        ("CorruptHeader", Exception),
        ("NotInitialized", Exception),
        ("RoleTaken", Exception),
    ],
)
def test_every_exception_is_a_shmring_error_and_its_builtin(cls, builtin):
    exc = getattr(shmring, cls)
    assert issubclass(exc, shmring.Error) and issubclass(exc, builtin)


def test_create_of_an_existing_ring_raises_and_leaves_it(ring):
    ring.put(b"kept")
    with pytest.raises(FileExistsError):
        SharedBuffer(ring.name, create=True, capacity=3)
    assert ring.get() == b"kept"


@pytest.mark.parametrize("bad", ["", "a/b", "x" * 201, "spaces are bad"])
def test_bad_names_are_value_errors(bad):
    with pytest.raises(shmring.InvalidName):
        SharedBuffer(bad, create=True)


@pytest.mark.parametrize("capacity, item_size", [(0, 64), (10, 0), (-1, 64), (2**40, 64)])
def test_bad_geometry_is_a_value_error(name, capacity, item_size):
    with pytest.raises(shmring.InvalidConfig):
        SharedBuffer(name, create=True, capacity=capacity, item_size=item_size)


def test_a_ring_larger_than_the_free_space_of_dev_shm_is_no_space(name):
    st = os.statvfs("/dev/shm")
    free = st.f_bavail * st.f_frsize
    item_size = 2**16
    capacity = free // item_size + 1024  # just over the free space
    if capacity * item_size > shmring.MAX_SEGMENT_SIZE:
        pytest.skip(f"/dev/shm has {free} bytes free, more than a ring may have")
    with pytest.raises(shmring.NoSpace) as caught:
        SharedBuffer(name, create=True, capacity=capacity, item_size=item_size)
    assert caught.value.errno == 28  # ENOSPC
    assert not os.path.exists(f"/dev/shm/shmring-{name}")


def test_a_foreign_segment_is_refused(name):
    path = f"/dev/shm/shmring-{name}"
    with open(path, "wb") as f:
        f.write(b"not a ring" * 100)
    with pytest.raises(shmring.IncompatibleLayout):
        SharedBuffer(name)


# -- close, context manager, removal ----------------------------------------


def test_close_is_idempotent_and_ops_after_it_raise_closed(name):
    ring = SharedBuffer(name, create=True)
    ring.close()
    ring.close()
    assert ring.closed
    for op in (ring.get, lambda: ring.put(b"x"), ring.len, ring.stats):
        with pytest.raises(shmring.Closed):
            op()


def test_the_context_manager_closes_and_the_creator_removes(name):
    with SharedBuffer(name, create=True) as ring:
        assert not ring.closed
    assert ring.closed
    assert not os.path.exists(f"/dev/shm/shmring-{name}")


def test_persist_keeps_the_ring_until_remove(name):
    with SharedBuffer(name, create=True, persist=True) as ring:
        ring.put(b"survives")
    with SharedBuffer(name) as again:
        assert again.get() == b"survives"
    SharedBuffer.remove(name)
    with pytest.raises(shmring.NotFound):
        SharedBuffer.remove(name)


# -- fork and pickling ------------------------------------------------------


def _close_inherited(ring, out):
    ring.put(b"from the child")
    ring.close()
    out.put("closed")


def test_a_fork_child_closing_an_inherited_handle_keeps_the_parents_ring(ring):
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_close_inherited, args=(ring, out))
    child.start()
    assert out.get(timeout=10) == "closed"
    child.join(10)
    assert child.exitcode == 0
    # The child reopened the ring by name and its close removed nothing.
    assert os.path.exists(f"/dev/shm/shmring-{ring.name}")
    with SharedBuffer(ring.name) as again:
        assert again.get() == b"from the child"


def _threads_on_inherited(ring, n):
    """n threads make their first call on the inherited handle at once,
    so that they race to reopen it."""
    start = threading.Barrier(n)

    def put(i):
        start.wait()
        assert ring.put(b"%d" % i, timeout=10.0)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_threads_of_a_fork_child_reopen_an_inherited_handle_without_deadlock(ring):
    ctx = mp.get_context("fork")
    for _ in range(5):
        child = ctx.Process(target=_threads_on_inherited, args=(ring, 8))
        child.start()
        child.join(20)
        if child.exitcode is None:
            child.kill()
            child.join()
            pytest.fail("the child's threads deadlocked reopening the handle")
        assert child.exitcode == 0
        assert sorted(ring.get_many(10)) == sorted(b"%d" % i for i in range(8))


def _put_through_pickled(ring):
    assert not ring.is_creator
    ring.put(b"via spawn")


def test_a_pickled_handle_reopens_the_ring_by_name(ring):
    copy = pickle.loads(pickle.dumps(ring))
    assert (copy.name, copy.capacity, copy.is_creator) == (ring.name, 10, False)
    copy.close()
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=_put_through_pickled, args=(ring,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert ring.get() == b"via spawn"


# -- single roles, len, stats, repr ------------------------------------------


def test_single_roles_refuse_a_second_producer(name):
    with SharedBuffer(name, create=True, single_roles=True) as ring:
        assert ring.single_roles
        assert ring.put(b"mine")
        with SharedBuffer(name) as other:
            assert other.single_roles
            with pytest.raises(shmring.RoleTaken):
                other.put(b"too")
            assert other.get() == b"mine"


def test_len_stats_and_repr(ring):
    ring.put_many([b"a", b"b"])
    ring.get()
    assert len(ring) == ring.len() == 1
    stats = ring.stats()
    assert (stats["puts"], stats["gets"], stats["len"]) == (2, 1, 1)
    assert stats["capacity"] == 10 and stats["creator_pid"] == os.getpid()
    assert repr(ring) == f'SharedBuffer("{ring.name}", capacity=10, item_size=64)'


def _until(predicate, timeout=10.0):
    """Polls `predicate` (a state in the ring's header) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in 10 s"
        time.sleep(0.001)
