//! The one error type of `shmring`.

use std::io;

/// Everything that can go wrong with a ring.
///
/// Every variant leaves the ring as it was, except [`Error::Corrupt`], whose
/// item has been consumed (so that later items stay reachable), and
/// [`Error::CorruptHeader`], which means the segment can no longer be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `open` of a ring name that does not exist.
    #[error("ring '{name}' does not exist")]
    NotFound {
        /// The ring name as the caller gave it.
        name: String,
    },
    /// `create` of a ring name that already exists; the existing ring is left
    /// untouched.
    #[error("ring '{name}' already exists")]
    AlreadyExists {
        /// The ring name as the caller gave it.
        name: String,
    },
    /// A geometry or mode that cannot be created (capacity 0, item size 0, a
    /// segment over the size limit, ...).
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, in words.
        reason: String,
    },
    /// A ring name outside `[A-Za-z0-9._-]{1,200}`.
    #[error("invalid ring name {name:?}: {reason}")]
    InvalidName {
        /// The name as the caller gave it.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `put` of more bytes than the ring's item size; nothing was stored.
    #[error("item of {len} bytes exceeds the ring's item size of {max} bytes")]
    TooLarge {
        /// Length of the refused item, bytes.
        len: usize,
        /// The ring's item size, bytes.
        max: usize,
    },
    /// `get_into` with a buffer shorter than the oldest item; the item stays
    /// in the ring.
    #[error("buffer of {len} bytes is too small for an item of {needed} bytes")]
    BufferTooSmall {
        /// Length of the caller's buffer, bytes.
        len: usize,
        /// Length of the oldest item, bytes.
        needed: usize,
    },
    /// The item that `get` reached failed its integrity check (CRC-32C over
    /// length and payload, or a stored length over the item size). The item
    /// has been consumed; later items are unaffected.
    #[error("item {seq} in slot {slot} failed its integrity check ({reason})")]
    Corrupt {
        /// The slot index, `0..capacity`.
        slot: u32,
        /// The item's sequence number (count of items put before it).
        seq: u64,
        /// Which check failed.
        reason: &'static str,
    },
    /// The segment carries another layout version, or is not a shmring
    /// segment at all (`found` is then the magic number read).
    #[error("incompatible segment layout: found {found:#x}, expected {expected:#x}")]
    IncompatibleLayout {
        /// Version (or magic) read from the segment.
        found: u64,
        /// Version (or magic) this library speaks.
        expected: u64,
    },
    /// The header of a shmring segment holds values that no correct ring can
    /// hold (geometry that does not match the segment size, `tail < head`,
    /// more items than capacity, ...).
    #[error("corrupt ring header: {reason}")]
    CorruptHeader {
        /// Which invariant is broken.
        reason: String,
    },
    /// The segment exists but its creator has not finished initialising it
    /// within the open deadline (it may have died while creating it).
    #[error("ring '{name}' is not initialised (its creator may have died while creating it)")]
    NotInitialized {
        /// The ring name.
        name: String,
    },
    /// The ring's lock could not be taken before the caller's deadline (the
    /// timeout of a `*_timeout` call, else the configured lock timeout):
    /// another live process holds it (for example a stopped process).
    #[error("lock not acquired within {waited_ms} ms (held by a live process)")]
    LockTimeout {
        /// The caller's timeout that ran out, milliseconds.
        waited_ms: u64,
    },
    /// `create` of a ring larger than the free space of the shared-memory
    /// filesystem; nothing was created. (The memory is reserved at
    /// creation, so a ring that was created never runs out of it.)
    #[error("the ring needs {needed} bytes, more than {dir} has free")]
    NoSpace {
        /// Size of the segment, bytes.
        needed: u64,
        /// The shared-memory filesystem (`/dev/shm`).
        dir: &'static str,
    },
    /// `open` of something that is not a ring this process may trust: a
    /// symbolic link, not a regular shared-memory object, or owned by
    /// another user (see [`Config::trust_uid`](crate::Config::trust_uid)).
    /// Nothing was mapped.
    #[error("refusing to open ring '{name}': {reason}")]
    Untrusted {
        /// The ring name.
        name: String,
        /// What is wrong with the object, in words.
        reason: String,
    },
    /// The ring has a single producer (or consumer), and another live
    /// handle holds that role
    /// ([`Config::single_producer`](crate::Config::single_producer)). Nothing
    /// was stored or taken.
    #[error("this ring has a single {role}, and another live handle (or another thread of this one) holds that role")]
    RoleTaken {
        /// `"producer"` or `"consumer"`.
        role: &'static str,
    },
    /// An operation on a handle that has been closed.
    #[error("the ring handle is closed")]
    Closed,
    /// An operating-system call failed.
    #[error("{op} failed: {source}")]
    Io {
        /// The call that failed (`shm_open`, `mmap`, ...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, err: impl Into<io::Error>) -> Self {
        Error::Io {
            op,
            source: err.into(),
        }
    }
}
