"""shmring: a robust ring buffer in named shared memory, for producer and
consumer processes on one Linux host.

    >>> from shmring import SharedBuffer
    >>> with SharedBuffer("doc-ring", create=True) as ring:  # 10 x 64 B
    ...     ring.put(b"hello")
    ...     ring.get()
    True
    b'hello'

The interface is the original Python design's (``put`` refuses when full,
``get`` returns ``None`` when empty), over the Rust ring: a CRC-32C per
item, a process killed at any instant loses nothing and wedges nothing,
and blocking calls (``put(data, timeout=s)``, ``get(timeout=s)``) sleep on
a futex instead of polling. See ``SharedBuffer`` for the API and
``shmring._errors`` for what each exception means.
"""

from ._errors import (
    AlreadyExists,
    BufferTooSmall,
    Closed,
    CorruptHeader,
    CorruptItem,
    Error,
    IncompatibleLayout,
    InvalidConfig,
    InvalidName,
    LockTimeout,
    NoSpace,
    NotFound,
    NotInitialized,
    OsError,
    RoleTaken,
    TooLarge,
    Untrusted,
)
from ._shmring import (
    MAX_CAPACITY,
    MAX_ITEM_SIZE,
    MAX_SEGMENT_SIZE,
    SharedBuffer,
)

# The classes print as shmring.NotFound, not shmring._errors.NotFound.
for _cls in (Error, *Error.__subclasses__()):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "SharedBuffer",
    "MAX_CAPACITY",
    "MAX_ITEM_SIZE",
    "MAX_SEGMENT_SIZE",
    "Error",
    "AlreadyExists",
    "BufferTooSmall",
    "Closed",
    "CorruptHeader",
    "CorruptItem",
    "IncompatibleLayout",
    "InvalidConfig",
    "InvalidName",
    "LockTimeout",
    "NoSpace",
    "NotFound",
    "NotInitialized",
    "OsError",
    "RoleTaken",
    "TooLarge",
    "Untrusted",
]
