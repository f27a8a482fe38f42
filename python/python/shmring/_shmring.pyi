"""Type stubs of ``shmring._shmring``, the Rust extension (PyO3).

Units: capacities in items, sizes in bytes, timeouts in seconds (``float``;
``0`` does not wait, ``None`` waits for ever). Every ring call releases the
GIL; a blocking call takes it back every 50 ms to run signal handlers, so
Ctrl-C raises ``KeyboardInterrupt`` within about 50 ms, with nothing taken
or stored by the interrupted call.
"""

from types import TracebackType
from typing import List, Optional, Sequence, Tuple, Type, TypedDict, Union

from typing_extensions import Buffer as _Buffer

#: Most slots a ring can have (2**24).
MAX_CAPACITY: int
#: Largest item size, bytes (2**26).
MAX_ITEM_SIZE: int
#: Largest segment (header and slots), bytes (2**36).
MAX_SEGMENT_SIZE: int

BytesLike = Union[bytes, bytearray, memoryview, _Buffer]

class Stats(TypedDict):
    """``SharedBuffer.stats()``: the ring's header, read once."""

    capacity: int  #: slots, items
    item_size: int  #: largest item, bytes
    segment_size: int  #: bytes in /dev/shm
    len: int  #: items stored now
    puts: int  #: items ever stored
    gets: int  #: items ever consumed, damaged ones included
    full_refusals: int  #: puts refused because the ring was full
    empty_gets: int  #: gets that found the ring empty
    corrupt_items: int  #: items that failed their CRC-32C check
    lock_recoveries: int  #: locks taken over from a dead process
    last_recovery_pid: int  #: pid of the last such process (0: none)
    late_wakeups: int  #: waits that ended by their 100 ms nap unwoken
    sleeps: int  #: waits that went to sleep on the futex
    waiting_consumers: int  #: consumers asleep now (advisory)
    waiting_producers: int  #: producers asleep now (advisory)
    creator_pid: int
    persist: bool  #: the ring outlives its creator
    single_producer: bool
    single_consumer: bool
    created_unix_ns: int  #: creation time, ns since the Unix epoch

class SharedBuffer:
    """A ring of ``capacity`` slots of at most ``item_size`` bytes in
    ``/dev/shm/shmring-NAME``, for producer and consumer processes.

    ``create=True`` makes the ring (``AlreadyExists`` if the name is
    taken; the existing ring is untouched); otherwise it is opened and its
    geometry read from it (the creation arguments are ignored).
    ``single_roles``: one producer and one consumer at a time, no lock on
    the data path (another handle's put raises ``RoleTaken``).
    ``trust_uid``: also open rings owned by this user. ``persist``: keep
    the ring after its creator closes (``SharedBuffer.remove`` removes it).

    A handle is thread-safe. Inherited across ``fork``, it reopens the ring
    by name in the child on first use (the child's own lock ownership; the
    child never removes the parent's ring). Pickled, it is its name: the
    unpickling process opens the ring.

    Raises: ``InvalidName``, ``InvalidConfig`` (capacity or item size 0 or
    over the limits), ``AlreadyExists``, ``NoSpace`` (``/dev/shm`` full),
    ``NotFound``, ``NotInitialized``, ``IncompatibleLayout`` (not a ring),
    ``CorruptHeader``, ``Untrusted``, ``OsError``.
    """

    def __init__(
        self,
        name: str,
        create: bool = False,
        capacity: int = 10,
        item_size: int = 64,
        *,
        single_roles: bool = False,
        trust_uid: Optional[int] = None,
        persist: bool = False,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def capacity(self) -> int:
        """Slots: the most items the ring holds."""
    @property
    def item_size(self) -> int:
        """Largest item, bytes."""
    @property
    def single_roles(self) -> bool: ...
    @property
    def is_creator(self) -> bool:
        """This handle created the ring (its close removes it unless it persists)."""
    @property
    def closed(self) -> bool: ...
    def put(self, data: BytesLike, timeout: Optional[float] = 0.0) -> bool:
        """Stores ``data`` (at most ``item_size`` bytes); ``False`` if the
        ring stayed full until ``timeout`` (nothing stored or overwritten).

        Raises ``TypeError`` (not bytes-like, or not C-contiguous),
        ``TooLarge``, ``ValueError`` (negative or NaN timeout),
        ``RoleTaken``, ``LockTimeout``, ``Closed``, ``CorruptHeader``.
        """
    def get(self, timeout: Optional[float] = 0.0) -> Optional[bytes]:
        """The oldest item, or ``None`` if the ring stayed empty until
        ``timeout``.

        Raises ``CorruptItem`` (the item failed its CRC-32C check and is
        consumed; the next get returns the next item), ``ValueError``,
        ``RoleTaken``, ``LockTimeout``, ``Closed``, ``CorruptHeader``.
        """
    def get_into(self, buffer: BytesLike, timeout: Optional[float] = 0.0) -> Optional[int]:
        """Takes the oldest item into the start of ``buffer`` (writable,
        C-contiguous: ``bytearray``, a ``memoryview`` of one, ...) and
        returns its length in bytes; ``None`` if the ring stayed empty.

        Raises ``TypeError`` (read-only buffer), ``BufferTooSmall`` (the
        item is longer than ``buffer``; it stays in the ring), and as
        ``get``.
        """
    def put_many(self, items: Union[List[BytesLike], Tuple[BytesLike, ...]], timeout: Optional[float] = 0.0) -> int:
        """Stores items from the front of ``items`` until the ring is full,
        committed together (a process killed meanwhile stored all or none);
        returns how many, 0 if the ring stayed full until ``timeout``.
        ``items[returned:]`` are still the caller's.

        Raises ``TypeError`` (not a list or tuple, or an item not
        bytes-like), ``TooLarge`` (nothing of the batch stored), and as
        ``put``.
        """
    def get_many(self, max: int, timeout: Optional[float] = 0.0) -> List[bytes]:
        """Up to ``max`` items, oldest first, consumed together; ``[]`` if
        the ring stayed empty until ``timeout``.

        Raises ``CorruptItem`` when the oldest item is damaged (it alone is
        consumed; a damaged item after good ones ends the batch before it),
        and as ``get``.
        """
    def len(self) -> int:
        """Items in the ring now (as ``len(ring)``)."""
    def __len__(self) -> int: ...
    def stats(self) -> Stats: ...
    def close(self) -> None:
        """Detaches; the creator's handle removes the ring unless it
        persists. Closing again does nothing; other calls then raise
        ``Closed``, as does a blocking call of another thread within 50 ms.

        Raises ``OsError`` if the name could not be removed.
        """
    @staticmethod
    def remove(name: str) -> None:
        """Removes the ring's name; attached processes keep their mapping.

        Raises ``InvalidName``, ``NotFound``, ``OsError``.
        """
    def _corrupt_oldest(self) -> bool:
        """Damages the oldest item so that its integrity check fails, for
        conformance suites; ``False`` if the ring is empty."""
    def __enter__(self) -> "SharedBuffer": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def __reduce__(self) -> Tuple[Type["SharedBuffer"], Tuple[str]]: ...
