"""A bounded FIFO of byte strings in named shared memory, for processes on one
Linux host: the original Python design of the ring, made robust.

    ring = SharedBuffer("jobs", create=True, capacity=256, item_size=4096)
    # in another process:
    ring = SharedBuffer("jobs")
    ring.put(b"payload")          # False iff full (nothing is overwritten)
    item = ring.get()             # None iff empty; b"" is a 0-byte item
    item = ring.get_wait(0.1)     # waits up to 0.1 s for an item
    ring.close()                  # the creator's close removes the name

Standard library only (CPython 3.11+, Linux).

Segment
-------
The ring named NAME is the POSIX shared-memory object ``/NAME``
(``/dev/shm/NAME``), made with ``multiprocessing.shared_memory``. NAME is 1
to 255 printable ASCII characters other than ``/`` and ``:``, and not ``.``
or ``..``. Integers
are native-endian (the segment never leaves the host):

    offset  size  field
         0     8  magic = b"PYSHRBUF" (written last by the creator)
         8     4  version (u32) = 1
        12     4  reserved (0)
        16     8  capacity (u64, items)
        24     8  item_size (u64, bytes)
        32     8  head (u64, items ever consumed)
        40     8  tail (u64, items ever stored)
        48    16  reserved (0)
        64     -  slot i at 64 + i * stride, stride = round_up(8 + item_size, 8):
                  len (u32), crc32 (u32), payload (item_size bytes)

The ring holds ``tail - head`` items; item number n lives in slot
``n % capacity``; ``head <= tail <= head + capacity`` is checked on every
operation. The CRC-32 (zlib) covers the length as 4 little-endian bytes
followed by the payload.

Locking
-------
Every operation runs under ``fcntl.flock(LOCK_EX)`` on a descriptor of the
segment file itself, so unrelated processes share the lock by name and the
kernel releases it when a holder dies (SIGKILL included). It is taken with
LOCK_NB in a retry loop bounded by ``lock_timeout`` (5 s), so no call blocks
forever. flock excludes open file descriptions, not threads: two threads
sharing one ``SharedBuffer`` object are NOT excluded from each other (two
objects, even in one process, are). Use one object per thread, or your own
threading.Lock around a shared one.

Crash safety
------------
A put writes the slot, then ``tail + 1``; a get copies the item out, then
writes ``head + 1``. Each commit is one aligned 8-byte store (through a
memoryview of format "Q"), the last write inside the lock, so a process
killed at any instant leaves the whole operation or none of it, and never a
torn item.

Resource tracker
----------------
Before Python 3.13, ``SharedMemory`` registers every segment it creates or
opens with the resource tracker, which unlinks it (and warns) when that
process exits. This class unregisters the segment right after attaching (on
3.13+ it passes ``track=False``) and unlinks explicitly in the creator's
``close``. On < 3.13 there remains a window of two pipe writes (register,
then unregister) in which a SIGKILL makes the tracker unlink the name; the
mapping of every other process stays valid, only later opens fail.
"""

import errno
import fcntl
import os
import struct
import sys
import time
import zlib
from multiprocessing import resource_tracker, shared_memory

__all__ = [
    "SharedBuffer",
    "SharedBufferError",
    "NotFound",
    "Exists",
    "InvalidArgument",
    "TooLarge",
    "Empty",
    "Corrupt",
    "BadSegment",
    "Closed",
    "LockTimeout",
]


class SharedBufferError(Exception):
    """Base class of every error this module raises on purpose."""


class NotFound(SharedBufferError, FileNotFoundError):
    """Open of a ring name that does not exist."""


class Exists(SharedBufferError, FileExistsError):
    """Create of a ring name that already exists (left untouched)."""


class InvalidArgument(SharedBufferError, ValueError):
    """A bad name or geometry (capacity 0, item_size 0, too big, ...)."""


class TooLarge(SharedBufferError, ValueError):
    """put of more bytes than item_size; the ring is unchanged."""


class Empty(SharedBufferError, LookupError):
    """corrupt_oldest on an empty ring."""


class Corrupt(SharedBufferError):
    """The item get reached failed its integrity check; it was consumed."""


class BadSegment(SharedBufferError):
    """The segment is not a valid ring: foreign, never initialised, or its
    header/indices are out of range."""


class Closed(SharedBufferError):
    """An operation after close."""


class LockTimeout(SharedBufferError, TimeoutError):
    """The ring's lock could not be taken within lock_timeout."""


MAGIC = b"PYSHRBUF"
VERSION = 1
HEADER_SIZE = 64
SLOT_HEADER = 8
MAX_CAPACITY = 2**32 - 1
MAX_ITEM_SIZE = 2**31 - 1
MAX_SEGMENT = 2**36
SHM_DIR = "/dev/shm"

_IDENTITY = struct.Struct("=8sIIQQ")  # magic, version, reserved, capacity, item_size
_SLOT = struct.Struct("=II")  # len, crc32
_LEN_LE = struct.Struct("<I")  # the length as the CRC sees it
_INDEX_OFFSET = 32  # head, tail: two u64 as a memoryview of format "Q"

_TRACK_PARAM = sys.version_info >= (3, 13)  # SharedMemory(track=False)


def _stride(item_size):
    return (SLOT_HEADER + item_size + 7) & ~7


def _check_name(name):
    if not isinstance(name, str):
        raise InvalidArgument(f"ring name must be a str, not {type(name).__name__}")
    if not name or "/" in name or name in (".", ".."):
        raise InvalidArgument(f"invalid ring name {name!r}")
    # The resource tracker (< 3.13) speaks an ASCII, ':'-separated line
    # protocol: any other name would leave a segment it cannot track.
    if len(name) > 255 or not all(" " <= c <= "~" and c != ":" for c in name):
        raise InvalidArgument(
            f"invalid ring name {name!r}: this ring takes 1 to 255 printable ASCII "
            "characters other than '/' and ':'"
        )


def _crc(data):
    return zlib.crc32(data, zlib.crc32(_LEN_LE.pack(len(data))))


def _attach(name, create, size):
    """SharedMemory for /name, never left registered with the tracker."""
    if _TRACK_PARAM:
        return shared_memory.SharedMemory(name=name, create=create, size=size, track=False)
    shm = shared_memory.SharedMemory(name=name, create=create, size=size)
    resource_tracker.unregister(shm._name, "shared_memory")  # pylint: disable=protected-access
    return shm


def _shm_unlink(name):
    # shm.unlink() would also unregister from the tracker a second time (the
    # tracker then prints a KeyError); unlink the object directly.
    try:
        import _posixshmem  # pylint: disable=import-outside-toplevel

        _posixshmem.shm_unlink("/" + name)
    except ImportError:
        os.unlink(os.path.join(SHM_DIR, name))


class SharedBuffer:
    """A ring of ``capacity`` items of 0 to ``item_size`` bytes in the named
    shared-memory segment ``name``.

    ``create=True`` makes a new ring (``Exists`` if the name is taken; the
    existing segment is left alone) whose ``close`` removes the name;
    ``create=False`` opens an existing one (``NotFound`` if there is none)
    and takes its geometry from the header.
    """

    #: Seconds a call waits for the ring's lock before raising LockTimeout.
    lock_timeout = 5.0
    #: Seconds an open waits for a segment whose creator has not finished
    #: sizing or initialising it.
    open_timeout = 1.0

    def __init__(self, name, create=False, capacity=10, item_size=64):
        _check_name(name)
        self.name = name
        self.creator = bool(create)
        self._pid = os.getpid()
        self._closed = True  # until fully attached
        self._shm = None
        self._buf = None
        self._idx = None
        self._fd = -1
        if create:
            self._create(capacity, item_size)
        else:
            self._open()
        self._closed = False

    # -- attach ------------------------------------------------------------

    def _create(self, capacity, item_size):
        for what, value, limit in (
            ("capacity", capacity, MAX_CAPACITY),
            ("item_size", item_size, MAX_ITEM_SIZE),
        ):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidArgument(f"{what} must be an int, not {type(value).__name__}")
            if value < 1:
                raise InvalidArgument(f"{what} must be >= 1, got {value}")
            if value > limit:
                raise InvalidArgument(f"{what} {value} is over the limit {limit}")
        stride = _stride(item_size)
        size = HEADER_SIZE + capacity * stride
        if size > MAX_SEGMENT:
            raise InvalidArgument(
                f"capacity {capacity} x item_size {item_size} needs {size} bytes, "
                f"over the limit {MAX_SEGMENT}"
            )
        try:
            st = os.statvfs(SHM_DIR)
            free = st.f_bavail * st.f_frsize
        except OSError:
            free = None
        if free is not None and size > free:
            raise InvalidArgument(
                f"capacity {capacity} x item_size {item_size} needs {size} bytes, "
                f"{SHM_DIR} has {free} free"
            )
        try:
            shm = _attach(self.name, True, size)
        except FileExistsError:
            raise Exists(f"ring {self.name!r} already exists") from None
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENAMETOOLONG):
                raise InvalidArgument(f"invalid ring name {self.name!r}: {e.strerror}") from None
            raise
        self._shm = shm
        try:
            self._fd = self._lock_fd(shm)
            try:
                # Reserve the pages now: on a full /dev/shm a later first
                # touch would be a SIGBUS, here it is a clean refusal.
                os.posix_fallocate(self._fd, 0, size)
            except OSError as e:
                raise InvalidArgument(
                    f"cannot allocate {size} bytes for capacity {capacity} x item_size "
                    f"{item_size} in {SHM_DIR}: {e.strerror}"
                ) from None
            buf = shm.buf
            _IDENTITY.pack_into(buf, 0, bytes(8), VERSION, 0, capacity, item_size)
            self._buf = buf
            self._idx = buf[_INDEX_OFFSET : _INDEX_OFFSET + 16].cast("Q")
            self._idx[0] = 0
            self._idx[1] = 0
            buf[0:8] = MAGIC  # published last: openers wait while it is 0
        except BaseException:
            self._detach()
            try:
                _shm_unlink(self.name)
            except OSError:
                pass
            raise
        self._geometry(capacity, item_size)

    def _open(self):
        deadline = time.monotonic() + self.open_timeout
        delay = 0.0005
        while True:
            try:
                shm = _attach(self.name, False, 0)
            except FileNotFoundError:
                raise NotFound(f"ring {self.name!r} does not exist") from None
            except ValueError:
                # mmap of a 0-byte object: the creator has not sized it yet.
                try:
                    if os.stat(os.path.join(SHM_DIR, self.name)).st_size != 0:
                        raise
                except FileNotFoundError:
                    raise NotFound(f"ring {self.name!r} does not exist") from None
                shm, why = None, "has no size yet"
            except OSError as e:
                if e.errno in (errno.EINVAL, errno.ENAMETOOLONG):
                    raise InvalidArgument(f"invalid ring name {self.name!r}: {e.strerror}") from None
                raise
            else:
                why = self._validate(shm)
                if why is None:
                    return
                shm.close()
            if time.monotonic() >= deadline:
                raise BadSegment(
                    f"ring {self.name!r} {why} after {self.open_timeout} s "
                    "(its creator died while creating it, or it is not a ring)"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def _validate(self, shm):
        """Attaches to shm if its header is valid; returns None, or why not
        (yet) for a segment that may still be being initialised; raises
        BadSegment for one that never will be."""
        size = shm.size
        if size < HEADER_SIZE:
            return f"is only {size} bytes"
        buf = shm.buf
        magic, version, _, capacity, item_size = _IDENTITY.unpack_from(buf, 0)
        if magic == bytes(8):
            return "is not initialised"
        try:
            if magic != MAGIC:
                raise BadSegment(f"{self.name!r} is not a SharedBuffer segment (magic {magic!r})")
            if version != VERSION:
                raise BadSegment(f"ring {self.name!r} has layout version {version}, expected {VERSION}")
            if not 1 <= capacity <= MAX_CAPACITY or not 1 <= item_size <= MAX_ITEM_SIZE:
                raise BadSegment(
                    f"ring {self.name!r} has a bad geometry: capacity {capacity}, item_size {item_size}"
                )
            need = HEADER_SIZE + capacity * _stride(item_size)
            if size < need:
                raise BadSegment(
                    f"ring {self.name!r} is {size} bytes, its geometry needs {need}"
                )
            self._shm = shm
            self._fd = self._lock_fd(shm)
            self._buf = buf
            self._idx = buf[_INDEX_OFFSET : _INDEX_OFFSET + 16].cast("Q")
            self._geometry(capacity, item_size)
            self._lock()
            try:
                self._indices()
            finally:
                self._unlock()
        except BaseException:
            if self._shm is None:
                shm.close()
            self._detach()
            raise
        return None

    def _geometry(self, capacity, item_size):
        self.capacity = capacity
        self.item_size = item_size
        self._stride = _stride(item_size)

    def _lock_fd(self, shm):
        """A descriptor of the segment file for flock, checked to be the
        same object that shm maps (not one recreated under the name)."""
        path = os.path.join(SHM_DIR, self.name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"ring {self.name!r} was removed while attaching") from None
        shm_fd = getattr(shm, "_fd", -1)
        if shm_fd >= 0:
            a, b = os.fstat(fd), os.fstat(shm_fd)
            if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
                os.close(fd)
                raise NotFound(f"ring {self.name!r} was replaced while attaching")
        return fd

    def _detach(self):
        if self._idx is not None:
            self._idx.release()
            self._idx = None
        self._buf = None
        if self._shm is not None:
            self._shm.close()
            self._shm = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- lock ----------------------------------------------------------------

    def _lock(self):
        """Takes the ring's lock (also a test hook: a process that calls it
        and is then SIGKILLed must not block anyone)."""
        fd = self._fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        deadline = time.monotonic() + self.lock_timeout
        tries = 0
        delay = 20e-6
        while True:
            if tries < 20:
                os.sched_yield()  # the holder's critical section is microseconds
            else:
                time.sleep(delay)
                delay = min(delay * 2, 1e-3)
            tries += 1
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"ring {self.name!r}: lock not acquired within {self.lock_timeout} s"
                    ) from None

    def _unlock(self):
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _indices(self):
        """(head, tail), checked; call with the lock held."""
        idx = self._idx
        head = idx[0]
        tail = idx[1]
        if not head <= tail <= head + self.capacity:
            raise BadSegment(
                f"ring {self.name!r} has bad indices head {head}, tail {tail}, "
                f"capacity {self.capacity}"
            )
        return head, tail

    def _check_open(self):
        if self._closed:
            raise Closed(f"ring {self.name!r} is closed")

    # -- operations ----------------------------------------------------------

    def put(self, data):
        """Stores ``data`` (bytes-like) as the newest item. Returns False iff
        the ring is full (nothing is overwritten). Raises TooLarge if it is
        longer than item_size (the ring is unchanged)."""
        if type(data) is not bytes:
            data = memoryview(data).tobytes()
        n = len(data)
        if self._closed:
            raise Closed(f"ring {self.name!r} is closed")
        if n > self.item_size:
            raise TooLarge(f"item of {n} bytes, item_size is {self.item_size}")
        crc = _crc(data)
        self._lock()
        try:
            head, tail = self._indices()
            if tail - head == self.capacity:
                return False
            off = HEADER_SIZE + (tail % self.capacity) * self._stride
            buf = self._buf
            _SLOT.pack_into(buf, off, n, crc)
            buf[off + SLOT_HEADER : off + SLOT_HEADER + n] = data
            self._idx[1] = tail + 1  # the commit
            return True
        finally:
            self._unlock()

    def get(self):
        """Takes the oldest item; None iff the ring is empty. Raises Corrupt
        if the item fails its integrity check (it is consumed all the same,
        so later items stay reachable)."""
        if self._closed:
            raise Closed(f"ring {self.name!r} is closed")
        self._lock()
        try:
            head, tail = self._indices()
            if head == tail:
                return None
            off = HEADER_SIZE + (head % self.capacity) * self._stride
            buf = self._buf
            n, crc = _SLOT.unpack_from(buf, off)
            if n > self.item_size:
                data = None
            else:
                data = bytes(buf[off + SLOT_HEADER : off + SLOT_HEADER + n])
            self._idx[0] = head + 1  # the commit
        finally:
            self._unlock()
        if data is None:
            raise Corrupt(
                f"ring {self.name!r}: item {head} has length {n} > item_size {self.item_size}"
            )
        if _crc(data) != crc:
            raise Corrupt(f"ring {self.name!r}: item {head} failed its CRC check")
        return data

    def _wait(self, attempt, timeout_s):
        deadline = None if timeout_s is None else time.monotonic() + max(0.0, timeout_s)
        delay = 50e-6
        while True:
            done, value = attempt()
            if done:
                return value
            if deadline is None:
                time.sleep(delay)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return value
                time.sleep(min(delay, remaining))
            delay = min(delay * 2, 2e-3)

    def put_wait(self, data, timeout_s):
        """put, retrying while the ring is full for up to ``timeout_s``
        seconds (None: no limit). True once stored, False on timeout."""
        if type(data) is not bytes:
            data = memoryview(data).tobytes()

        def attempt():
            stored = self.put(data)
            return stored, stored

        return self._wait(attempt, timeout_s)

    def get_wait(self, timeout_s):
        """get, retrying while the ring is empty for up to ``timeout_s``
        seconds (None: no limit). The item, or None on timeout."""

        def attempt():
            item = self.get()
            return item is not None, item

        return self._wait(attempt, timeout_s)

    def __len__(self):
        if self._closed:
            raise Closed(f"ring {self.name!r} is closed")
        self._lock()
        try:
            head, tail = self._indices()
        finally:
            self._unlock()
        return tail - head

    def corrupt_oldest(self):
        """Test hook: flips one bit of the oldest item as stored (payload
        byte 0, or the CRC of a 0-byte item). Raises Empty on an empty ring."""
        if self._closed:
            raise Closed(f"ring {self.name!r} is closed")
        self._lock()
        try:
            head, tail = self._indices()
            if head == tail:
                raise Empty(f"ring {self.name!r} is empty: nothing to corrupt")
            off = HEADER_SIZE + (head % self.capacity) * self._stride
            buf = self._buf
            n = _SLOT.unpack_from(buf, off)[0]
            target = off + SLOT_HEADER if n > 0 else off + 4
            buf[target] ^= 0x01
        finally:
            self._unlock()

    # -- lifecycle -----------------------------------------------------------

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Detaches. The creator's close also removes the name (openers'
        never do). Idempotent."""
        if self._closed:
            return
        self._closed = True
        unlink = self.creator and os.getpid() == self._pid
        same = False
        if unlink and self._fd >= 0:
            # Remove the name only if it still is our segment.
            try:
                st, mine = os.stat(os.path.join(SHM_DIR, self.name)), os.fstat(self._fd)
                same = (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
            except OSError:
                same = False
        self._detach()
        if same:
            try:
                _shm_unlink(self.name)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def __repr__(self):
        state = "closed" if self._closed else f"capacity={self.capacity}, item_size={self.item_size}"
        return f"SharedBuffer({self.name!r}, {'creator, ' if self.creator else ''}{state})"
