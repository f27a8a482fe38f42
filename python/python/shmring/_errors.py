"""The exceptions of shmring: one class per error of the Rust library.

Each class derives from :class:`Error` and, where one fits, from the
built-in exception a Python program already catches for that condition
(``FileNotFoundError`` for a missing ring, ``ValueError`` for an item over
the item size, ...). What each one means for the ring (whether anything
was stored or consumed) is in its docstring.
"""


class Error(Exception):
    """Base class of every error shmring raises (besides ``TypeError`` for
    an argument of the wrong type, ``KeyboardInterrupt`` and ``MemoryError``)."""


class NotFound(Error, FileNotFoundError):
    """The ring does not exist (``SharedBuffer(name)`` without ``create``,
    ``SharedBuffer.remove``)."""


class AlreadyExists(Error, FileExistsError):
    """``create=True`` and a ring of that name exists; it is left untouched."""


class InvalidName(Error, ValueError):
    """A ring name outside ``[A-Za-z0-9._-]{1,200}``."""


class InvalidConfig(Error, ValueError):
    """A geometry or option that cannot be created: capacity or item size
    0 or over the limits (``MAX_CAPACITY`` items, ``MAX_ITEM_SIZE`` bytes,
    ``MAX_SEGMENT_SIZE`` bytes for the whole segment), a negative or NaN
    timeout."""


class TooLarge(Error, ValueError):
    """An item over the ring's ``item_size`` bytes; nothing was stored
    (for ``put_many``: nothing of the batch)."""


class BufferTooSmall(Error, ValueError):
    """``get_into`` with a buffer shorter than the oldest item; the item
    stays in the ring."""


class CorruptItem(Error):
    """The item ``get`` reached failed its CRC-32C check (or its stored
    length is over the item size). That item has been consumed, so that
    the items after it stay reachable; they are unaffected.

    Attributes: ``slot`` (slot index), ``seq`` (items put before it),
    ``reason`` (which check failed).
    """

    def __init__(self, message, slot=None, seq=None, reason=None):
        super().__init__(message)
        self.slot = slot
        self.seq = seq
        self.reason = reason


class IncompatibleLayout(Error):
    """The segment is not a shmring ring, or one of another layout
    version; nothing was mapped."""


class CorruptHeader(Error):
    """The ring's header holds values no correct ring can hold; the
    segment can no longer be trusted."""


class NotInitialized(Error):
    """The ring exists but its creator did not finish making it within
    1 s (it may have died while creating it)."""


class LockTimeout(Error, TimeoutError):
    """A side's lock stayed held by a live process (a stopped one, say)
    past the deadline; nothing was stored or taken. A dead holder never
    causes this: its lock is taken over."""


class NoSpace(Error, OSError):
    """``/dev/shm`` has too little free space for the ring; nothing was
    created."""


class Untrusted(Error, PermissionError):
    """The name is a symbolic link, not a regular shared-memory object, or
    owned by another user (see ``trust_uid``); nothing was mapped."""


class RoleTaken(Error):
    """The ring has single roles and another live handle, or another
    thread of this one, holds the producer (or consumer) role; nothing was
    stored or taken."""


class Closed(Error, ValueError):
    """An operation on a closed ``SharedBuffer`` (as ``ValueError`` for
    I/O on a closed file); also raised in a blocking call when another
    thread closes the handle meanwhile."""


class OsError(Error, OSError):
    """An operating-system call failed (``errno`` and ``strerror`` are
    set)."""
