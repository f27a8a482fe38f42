//! The segment layout, version 3: a 384-byte header of six 64-byte cache
//! lines, then `capacity` slots. `specs/layout.md` documents it byte by byte
//! and a snapshot test pins [`describe`] so that no change slips through.
//!
//! All multi-byte fields are native-endian (the segment never leaves the
//! host). Every field is read through an atomic because other processes may
//! write it at any time; a process that writes nonsense can make operations
//! fail with a typed error, never read or write outside the mapping.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU32, AtomicU64};

/// First 8 bytes of every shmring segment: `b"shmring\0"` read as a
/// native-endian u64.
pub const MAGIC: u64 = u64::from_ne_bytes(*b"shmring\0");
/// Layout version written by and accepted by this library.
pub const LAYOUT_VERSION: u32 = 3;
/// Size of the header, bytes; slot 0 starts here.
pub const HEADER_SIZE: usize = 384;
/// Bytes in front of each payload: `len: u32` and `crc: u32`.
pub const SLOT_PREFIX: usize = 8;
/// Largest capacity, items.
pub const MAX_CAPACITY: u32 = 1 << 24;
/// Largest item size, bytes (64 MiB).
pub const MAX_ITEM_SIZE: u32 = 1 << 26;
/// Largest segment, bytes (64 GiB).
pub const MAX_SEGMENT_SIZE: u64 = 1 << 36;

/// `init_state`: the creator is still writing the header.
pub const INIT_PENDING: u32 = 0;
/// `init_state`: the header and lock are ready; published with Release.
pub const INIT_READY: u32 = 1;

/// `flags` bit: the segment outlives its creator.
pub const FLAG_PERSIST: u32 = 1;
/// `flags` bit: one producer at a time holds the producers' lock for its
/// session (`Config::single_producer`).
pub const FLAG_SINGLE_PRODUCER: u32 = 2;
/// `flags` bit: one consumer at a time holds the consumers' lock for its
/// session (`Config::single_consumer`).
pub const FLAG_SINGLE_CONSUMER: u32 = 4;

/// Slot strides are multiples of this, bytes (one cache line), so that no
/// two slots share a line.
pub const SLOT_ALIGN: u64 = 64;

/// Largest session token; `lock_owner` values above it are corrupt.
pub const MAX_TOKEN: u32 = (1 << 31) - 1;

/// Byte of the segment's file that session `token` keeps an OFD write lock
/// on: `TOKEN_BASE + token`. Far beyond any segment ([`MAX_SEGMENT_SIZE`]),
/// so no data byte is ever locked; record locks may lie past the end of a
/// file.
pub const TOKEN_BASE: u64 = 1 << 40;

/// One cache line of the header.
#[repr(C, align(64))]
pub(crate) struct Line<T>(pub T);

/// Identity and geometry, written once by the creator before `init_state`
/// becomes [`INIT_READY`]; read-only afterwards.
#[repr(C)]
pub(crate) struct Identity {
    pub magic: AtomicU64,
    pub layout_version: AtomicU32,
    /// [`INIT_PENDING`] then [`INIT_READY`]; also a futex word that openers
    /// wait on.
    pub init_state: AtomicU32,
    /// Items, `1..=MAX_CAPACITY`.
    pub capacity: AtomicU32,
    /// Bytes, `1..=MAX_ITEM_SIZE`.
    pub item_size: AtomicU32,
    /// Bytes from one slot to the next: `SLOT_PREFIX + item_size` rounded up
    /// to [`SLOT_ALIGN`].
    pub slot_stride: AtomicU32,
    /// [`FLAG_PERSIST`].
    pub flags: AtomicU32,
    /// Pid of the creating process.
    pub creator_pid: AtomicU32,
    /// Offset of slot 0, bytes; always [`HEADER_SIZE`].
    pub slots_offset: AtomicU32,
    /// Total size of the segment, bytes.
    pub segment_size: AtomicU64,
    /// Creation time, CLOCK_REALTIME nanoseconds since the Unix epoch.
    pub created_unix_ns: AtomicU64,
    pub _reserved: AtomicU64,
}

/// The words of one side's lock (`specs/layout.md`, "Locks"): plain
/// words, validated on every read. No pointer, and nothing a process trusts
/// about another: whether an owner lives is asked of the kernel.
#[repr(C)]
pub(crate) struct LockWords {
    /// 0 when free, else the session token (`1..=MAX_TOKEN`) of the handle
    /// that holds the lock.
    pub owner: AtomicU32,
    /// Handles registered as (about to be) waiting for `owner` to change,
    /// and the futex word they sleep on (`crate::waiters`); a hint for the
    /// unlocker, never trusted for progress (sleeps are capped).
    pub sleepers: AtomicU32,
}

/// The producers' cache line: what a put touches, and what consumers read
/// or write only when the ring looks empty.
#[repr(C)]
pub(crate) struct ProducerLine {
    /// Items ever stored. Invariant: `head <= tail <= head + capacity`; the
    /// next item goes to slot `tail % capacity`. Written only under the
    /// producers' lock; one Release store is the commit point of a put.
    pub tail: AtomicU64,
    /// Consumers registered as (about to be) waiting for `tail` to move,
    /// and the futex word they sleep on (`crate::waiters`).
    pub get_waiters: AtomicU32,
    pub _reserved: AtomicU32,
}

/// The consumers' cache line: what a get touches, and what producers read
/// or write only when the ring looks full.
#[repr(C)]
pub(crate) struct ConsumerLine {
    /// Items ever consumed. The oldest item lives in slot `head % capacity`.
    /// Written only under the consumers' lock; one Release store is the
    /// commit point of a get.
    pub head: AtomicU64,
    /// Producers registered as (about to be) waiting for `head` to move,
    /// and the futex word they sleep on.
    pub put_waiters: AtomicU32,
    pub _reserved: AtomicU32,
}

/// Statistics and the session counter. The statistics are advisory: a
/// process killed inside an operation may leave one of them one short.
#[repr(C)]
pub(crate) struct Counters {
    /// `put` calls refused because the ring was full.
    pub full_refusals: AtomicU64,
    /// `get` calls that found the ring empty.
    pub empty_gets: AtomicU64,
    /// Items that failed their integrity check.
    pub corrupt_items: AtomicU64,
    /// Times a process took over a lock from a dead owner.
    pub lock_recoveries: AtomicU64,
    /// Pid of the last process that recovered a lock.
    pub last_recovery_pid: AtomicU32,
    /// Counter from which handles draw their session tokens.
    pub next_token: AtomicU32,
    /// Waits for an item or for space that ended by their nap, unwoken,
    /// although what they waited for had happened: wake-ups that did not
    /// come (a waker killed between its commit and its wake, or a lost
    /// wake-up), each of which cost its waiter a nap.
    pub late_wakeups: AtomicU64,
    /// Waits for an item or space that went to sleep (a futex wait), after
    /// their spin found nothing.
    pub sleeps: AtomicU64,
}

/// The header at offset 0 of every segment.
#[repr(C)]
pub(crate) struct Header {
    pub id: Line<Identity>,
    pub producer: Line<ProducerLine>,
    /// The producers' lock, alone on its line: its RMWs never wait for a
    /// line that consumers read.
    pub producer_lock: Line<LockWords>,
    pub consumer: Line<ConsumerLine>,
    /// The consumers' lock, alone on its line.
    pub consumer_lock: Line<LockWords>,
    pub counters: Line<Counters>,
}

/// Offset of `tail` in the segment, bytes (for tools and tests that
/// inspect or damage a segment).
pub const TAIL_OFFSET: usize =
    std::mem::offset_of!(Header, producer) + std::mem::offset_of!(ProducerLine, tail);
/// Offset of `head` in the segment, bytes.
pub const HEAD_OFFSET: usize =
    std::mem::offset_of!(Header, consumer) + std::mem::offset_of!(ConsumerLine, head);
/// Offset of the producers' lock words (owner, then sleepers), bytes.
pub const PRODUCER_LOCK_OFFSET: usize = std::mem::offset_of!(Header, producer_lock);
/// Offset of the consumers' lock words (owner, then sleepers), bytes.
pub const CONSUMER_LOCK_OFFSET: usize = std::mem::offset_of!(Header, consumer_lock);
/// Offset of the session counter `next_token` (u32) in the counters line,
/// bytes.
pub const NEXT_TOKEN_OFFSET: usize =
    std::mem::offset_of!(Header, counters) + std::mem::offset_of!(Counters, next_token);

const _: () = assert!(std::mem::size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(std::mem::align_of::<Header>() == 64);

/// Geometry of a ring, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Slots, items.
    pub capacity: u32,
    /// Largest item, bytes.
    pub item_size: u32,
    /// Bytes from one slot to the next.
    pub slot_stride: usize,
    /// Bytes of the whole segment.
    pub segment_size: usize,
}

impl Geometry {
    /// Checks `capacity` and `item_size` and derives the rest.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if either is 0 or over its maximum, or the
    /// segment would exceed [`MAX_SEGMENT_SIZE`].
    pub fn new(capacity: u32, item_size: u32) -> Result<Self> {
        let bad = |reason: String| Err(Error::InvalidConfig { reason });
        if capacity == 0 || capacity > MAX_CAPACITY {
            return bad(format!(
                "capacity {capacity} is outside 1..={MAX_CAPACITY} items"
            ));
        }
        if item_size == 0 || item_size > MAX_ITEM_SIZE {
            return bad(format!(
                "item size {item_size} is outside 1..={MAX_ITEM_SIZE} bytes"
            ));
        }
        let stride = (SLOT_PREFIX as u64 + u64::from(item_size)).next_multiple_of(SLOT_ALIGN);
        let total = HEADER_SIZE as u64 + stride * u64::from(capacity);
        if total > MAX_SEGMENT_SIZE {
            return bad(format!(
                "{capacity} items of {item_size} bytes need {total} bytes, over the {MAX_SEGMENT_SIZE}-byte limit"
            ));
        }
        Ok(Geometry {
            capacity,
            item_size,
            slot_stride: stride as usize,
            segment_size: total as usize,
        })
    }
}

/// Checks the identity line of a mapped segment of `file_len` bytes whose
/// `init_state` is [`INIT_READY`], and returns its geometry.
pub(crate) fn validate(id: &Identity, file_len: u64) -> Result<Geometry> {
    use std::sync::atomic::Ordering::Relaxed;
    let magic = id.magic.load(Relaxed);
    if magic != MAGIC {
        return Err(Error::IncompatibleLayout {
            found: magic,
            expected: MAGIC,
        });
    }
    let version = id.layout_version.load(Relaxed);
    if version != LAYOUT_VERSION {
        return Err(Error::IncompatibleLayout {
            found: version.into(),
            expected: LAYOUT_VERSION.into(),
        });
    }
    let corrupt = |reason: String| Err(Error::CorruptHeader { reason });
    let geometry = match Geometry::new(id.capacity.load(Relaxed), id.item_size.load(Relaxed)) {
        Ok(g) => g,
        Err(e) => return corrupt(format!("stored geometry: {e}")),
    };
    let flags = id.flags.load(Relaxed);
    if flags & !(FLAG_PERSIST | FLAG_SINGLE_PRODUCER | FLAG_SINGLE_CONSUMER) != 0 {
        return corrupt(format!("flags {flags:#x} has unknown bits"));
    }
    let stride = id.slot_stride.load(Relaxed) as usize;
    if stride != geometry.slot_stride {
        return corrupt(format!(
            "slot stride {stride} does not match item size {} (expected {})",
            geometry.item_size, geometry.slot_stride
        ));
    }
    let offset = id.slots_offset.load(Relaxed) as usize;
    if offset != HEADER_SIZE {
        return corrupt(format!("slots offset {offset}, expected {HEADER_SIZE}"));
    }
    let size = id.segment_size.load(Relaxed);
    if size != geometry.segment_size as u64 {
        return corrupt(format!(
            "segment size field {size} does not match geometry ({} bytes)",
            geometry.segment_size
        ));
    }
    if file_len < size {
        return corrupt(format!(
            "segment file is {file_len} bytes, shorter than its geometry ({size} bytes)"
        ));
    }
    Ok(geometry)
}

/// Checks `head` and `tail` read from shared memory against `capacity`:
/// `head <= tail <= head + capacity`, and `tail <= u64::MAX - capacity`, so
/// that no index the ring derives from them (at most `tail + capacity`)
/// can overflow.
pub(crate) fn check_indices(head: u64, tail: u64, capacity: u32) -> Result<()> {
    let cap = u64::from(capacity);
    if tail < head || tail - head > cap {
        return Err(Error::CorruptHeader {
            reason: format!("head {head} and tail {tail} break head <= tail <= head + {capacity}"),
        });
    }
    if tail > u64::MAX - cap {
        return Err(Error::CorruptHeader {
            reason: format!("tail {tail} is within {capacity} of 2^64: an index would overflow"),
        });
    }
    Ok(())
}

/// One line per header field: offset, size and name, in layout order. The
/// snapshot test pins it and `specs/layout.md` quotes it.
pub fn describe() -> String {
    use std::mem::offset_of;
    let mut rows: Vec<(usize, usize, &str)> = vec![
        (
            offset_of!(Identity, magic),
            8,
            "magic (u64) = b\"shmring\\0\"",
        ),
        (
            offset_of!(Identity, layout_version),
            4,
            "layout_version (u32) = 3",
        ),
        (
            offset_of!(Identity, init_state),
            4,
            "init_state (u32 futex) 0 pending, 1 ready",
        ),
        (offset_of!(Identity, capacity), 4, "capacity (u32, items)"),
        (offset_of!(Identity, item_size), 4, "item_size (u32, bytes)"),
        (
            offset_of!(Identity, slot_stride),
            4,
            "slot_stride (u32, bytes)",
        ),
        (
            offset_of!(Identity, flags),
            4,
            "flags (u32) bit 0 persist, 1 single producer, 2 single consumer",
        ),
        (offset_of!(Identity, creator_pid), 4, "creator_pid (u32)"),
        (
            offset_of!(Identity, slots_offset),
            4,
            "slots_offset (u32) = 384",
        ),
        (
            offset_of!(Identity, segment_size),
            8,
            "segment_size (u64, bytes)",
        ),
        (
            offset_of!(Identity, created_unix_ns),
            8,
            "created_unix_ns (u64)",
        ),
        (offset_of!(Identity, _reserved), 8, "reserved"),
    ];
    let p = offset_of!(Header, producer);
    rows.extend([
        (
            p + offset_of!(ProducerLine, tail),
            8,
            "tail (u64, items stored)",
        ),
        (
            p + offset_of!(ProducerLine, get_waiters),
            4,
            "get_waiters (u32 futex)",
        ),
        (p + offset_of!(ProducerLine, _reserved), 4, "reserved"),
    ]);
    let pl = offset_of!(Header, producer_lock);
    rows.extend([
        (
            pl + offset_of!(LockWords, owner),
            4,
            "producer lock owner (u32) 0 free, else session token <= 2^31-1",
        ),
        (
            pl + offset_of!(LockWords, sleepers),
            4,
            "producer lock sleepers (u32 futex)",
        ),
    ]);
    let c = offset_of!(Header, consumer);
    rows.extend([
        (
            c + offset_of!(ConsumerLine, head),
            8,
            "head (u64, items consumed)",
        ),
        (
            c + offset_of!(ConsumerLine, put_waiters),
            4,
            "put_waiters (u32 futex)",
        ),
        (c + offset_of!(ConsumerLine, _reserved), 4, "reserved"),
    ]);
    let cl = offset_of!(Header, consumer_lock);
    rows.extend([
        (
            cl + offset_of!(LockWords, owner),
            4,
            "consumer lock owner (u32) 0 free, else session token <= 2^31-1",
        ),
        (
            cl + offset_of!(LockWords, sleepers),
            4,
            "consumer lock sleepers (u32 futex)",
        ),
    ]);
    let k = offset_of!(Header, counters);
    rows.extend([
        (
            k + offset_of!(Counters, full_refusals),
            8,
            "full_refusals (u64)",
        ),
        (k + offset_of!(Counters, empty_gets), 8, "empty_gets (u64)"),
        (
            k + offset_of!(Counters, corrupt_items),
            8,
            "corrupt_items (u64)",
        ),
        (
            k + offset_of!(Counters, lock_recoveries),
            8,
            "lock_recoveries (u64)",
        ),
        (
            k + offset_of!(Counters, last_recovery_pid),
            4,
            "last_recovery_pid (u32)",
        ),
        (k + offset_of!(Counters, next_token), 4, "next_token (u32)"),
        (
            k + offset_of!(Counters, late_wakeups),
            8,
            "late_wakeups (u64)",
        ),
        (k + offset_of!(Counters, sleeps), 8, "sleeps (u64)"),
    ]);
    let mut out = String::from("offset  size  field\n");
    for (off, size, what) in rows {
        out.push_str(&format!("{off:>6}  {size:>4}  {what}\n"));
    }
    out.push_str(&format!(
        "{HEADER_SIZE:>6}     -  slot[i] at {HEADER_SIZE} + i * slot_stride: len (u32), crc32c (u32), payload (item_size bytes)\n"
    ));
    out
}
