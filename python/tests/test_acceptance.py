"""The original Python design's acceptance list, against the shmring
package: create/connect, put/get, full, empty, oversize, non-bytes,
wrap-around, producer and consumer processes with multiprocessing, and a
killed producer process with nothing lost and the consumer carrying on."""

import multiprocessing as mp
import os
import signal

import pytest

import shmring
from shmring import SharedBuffer

ITEM = 64


def test_create_then_connect_by_name(name):
    with SharedBuffer(name, create=True) as created:
        assert (created.capacity, created.item_size) == (10, 64)
        assert created.is_creator
        with SharedBuffer(name) as connected:
            assert not connected.is_creator
            assert (connected.capacity, connected.item_size) == (10, 64)
            assert created.put(b"from the creator")
            assert connected.get() == b"from the creator"
    # The creator's close removed the ring.
    with pytest.raises(FileNotFoundError):
        SharedBuffer(name)


def test_put_then_get_returns_the_same_bytes(ring):
    assert ring.put(b"hello") is True
    assert ring.get() == b"hello"


def test_items_come_out_in_order(ring):
    for i in range(10):
        assert ring.put(bytes([i]) * (i + 1))
    assert [ring.get() for _ in range(10)] == [bytes([i]) * (i + 1) for i in range(10)]


def test_put_on_a_full_ring_refuses_and_keeps_what_it_holds(ring):
    for i in range(10):
        assert ring.put(b"%d" % i)
    assert ring.put(b"one too many") is False
    assert len(ring) == 10
    assert [ring.get() for _ in range(10)] == [b"%d" % i for i in range(10)]


def test_get_on_an_empty_ring_returns_none(ring):
    assert ring.get() is None
    ring.put(b"x")
    ring.get()
    assert ring.get() is None


def test_an_empty_item_is_an_item(ring):
    assert ring.put(b"")
    assert len(ring) == 1
    assert ring.get() == b""
    assert ring.get() is None


def test_oversize_item_raises_value_error_and_stores_nothing(ring):
    assert ring.put(b"x" * ITEM)  # exactly item_size fits
    with pytest.raises(ValueError, match="65 bytes exceeds the ring's item size of 64"):
        ring.put(b"x" * (ITEM + 1))
    with pytest.raises(shmring.TooLarge):
        ring.put(bytearray(ITEM + 1))
    assert len(ring) == 1


@pytest.mark.parametrize("value", ["text", 42, None, [b"a"], object()])
def test_non_bytes_is_refused_with_type_error(ring, value):
    with pytest.raises(TypeError, match="bytes-like object is required"):
        ring.put(value)
    assert len(ring) == 0


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_objects_are_accepted(ring, kind):
    assert ring.put(kind(b"payload"))
    assert ring.get() == b"payload"


def test_wrap_around_keeps_order_over_many_laps(ring):
    expected = []
    got = []
    for lap in range(25):
        for i in range(7):
            item = b"%d-%d" % (lap, i)
            assert ring.put(item)
            expected.append(item)
        got.extend(ring.get() for _ in range(7))
    assert got == expected
    assert ring.stats()["puts"] == 25 * 7


def _producer(name, first, count):
    with SharedBuffer(name) as ring:
        for seq in range(first, first + count):
            assert ring.put(seq.to_bytes(8, "little"), timeout=10.0)


def _consumer(name, count, out):
    with SharedBuffer(name) as ring:
        for _ in range(count):
            item = ring.get(timeout=10.0)
            assert item is not None
            out.put(int.from_bytes(item, "little"))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_producer_and_consumer_processes(name, method):
    ctx = mp.get_context(method)
    n = 5000
    with SharedBuffer(name, create=True) as ring:
        results = ctx.Queue()
        consumer = ctx.Process(target=_consumer, args=(name, n, results))
        producer = ctx.Process(target=_producer, args=(name, 0, n))
        consumer.start()
        producer.start()
        got = [results.get(timeout=30) for _ in range(n)]
        producer.join(30)
        consumer.join(30)
        assert (producer.exitcode, consumer.exitcode) == (0, 0)
        assert got == list(range(n))
        assert len(ring) == 0


def _stream(ring, acked):
    """Puts sequence numbers for ever, recording each acknowledged one."""
    seq = 0
    while True:
        if ring.put(seq.to_bytes(8, "little"), timeout=None):
            acked.value = seq + 1
            seq += 1


@pytest.mark.parametrize("inherited", [True, False], ids=["fork-inherited", "opened-by-name"])
def test_killed_producer_loses_nothing_and_the_consumer_carries_on(name, inherited):
    """A producer SIGKILLed at a random point (maybe inside the ring's lock)
    three times over: every item it was told was stored is delivered once,
    in order; at most the one in flight is missing; the next producer and
    the consumer carry on."""
    ctx = mp.get_context("fork")
    with SharedBuffer(name, create=True, capacity=10) as ring:
        delivered = []
        for _ in range(3):
            acked = ctx.Value("Q", 0, lock=False)
            if inherited:
                producer = ctx.Process(target=_stream, args=(ring, acked))
            else:
                producer = ctx.Process(target=_open_and_stream, args=(name, acked))
            producer.start()
            # Consume until the producer has stored a good many items, then
            # kill it while it is putting as fast as it can.
            first = len(delivered)
            while len(delivered) - first < 2000:
                item = ring.get(timeout=10.0)
                assert item is not None, "the producer stopped producing"
                delivered.append(int.from_bytes(item, "little"))
            os.kill(producer.pid, signal.SIGKILL)
            producer.join(10)
            assert producer.exitcode == -signal.SIGKILL
            while (item := ring.get(timeout=0.2)) is not None:
                delivered.append(int.from_bytes(item, "little"))
            mine = delivered[first:]
            assert mine == list(range(len(mine))), "lost, duplicated or reordered items"
            assert acked.value <= len(mine) <= acked.value + 1
        # The consumer carries on with a new producer.
        assert ring.put(b"after the kills", timeout=5.0)
        assert ring.get(timeout=5.0) == b"after the kills"
        stats = ring.stats()
        assert stats["corrupt_items"] == 0


def _open_and_stream(name, acked):
    _stream(SharedBuffer(name), acked)
