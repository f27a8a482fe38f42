//! Deliberately faulty rings: the suite's proof of its own teeth.
//!
//! `ringcheck driver --faulty NAME` serves one of these over the driver
//! protocol. Each is the same small but real shared-memory ring with
//! exactly one bug switched on ([`Fault`]); a conformance run against it
//! must fail the criterion that [`FAULTS`] names, and the two correct
//! variants (`correct`, `slow`) must conform. Each fault is one realistic
//! bug class, the kind of mistake a ring that the project has never seen
//! could make (an off-by-one in the full test, a wrong slot after the
//! wrap, an error path that skips its unlock, a commit in the wrong
//! order...), not an error returned on purpose: the harness must catch it
//! by what the ring does.
//!
//! # The simple ring
//!
//! - **Segment**: the file `/dev/shm/ringcheck-faulty-<name>`. `create`
//!   makes it with `O_CREAT|O_EXCL` (`exists` if the name is taken), sizes
//!   and maps it, writes the header and stores the magic word last; `open`
//!   maps an existing one (`not_found` if missing), waits up to 1 s for the
//!   magic word, and checks the geometry against the file's length.
//! - **Header** (8 u64 words): magic, capacity, item_size, head and tail
//!   (monotonic counts of items taken and put; slot = count % capacity),
//!   the spin-lock word of `non-robust-lock`, a "lock contended at"
//!   timestamp, the creator's pid.
//! - **Slots**: `capacity` of them, each `[len u32][crc32 u32][payload of
//!   item_size bytes]`, padded to 8 bytes.
//! - **Lock**: `flock(LOCK_EX)` on the segment's descriptor, which the
//!   kernel releases when its holder dies, plus an in-process mutex per
//!   handle, because `flock` does not exclude threads that share a
//!   descriptor. Acquisition is `LOCK_NB` retried with 50 µs sleeps and
//!   gives up after 5 s (`internal`). A waiter stamps the contended-at word;
//!   a newcomer that sees a fresh stamp steps back 150 µs first, so that a
//!   process re-taking the lock in a tight loop cannot starve the others.
//! - **Commit**: put writes the slot (length, CRC, payload), then advances
//!   the tail; get verifies the CRC, then advances the head. A failed CRC
//!   yields `corrupt` and consumes the item.
//! - **Blocking**: `put_wait` / `get_wait` try, then look at the indices
//!   every 100 µs (without the lock) and try again when it may succeed,
//!   until the deadline.
//! - **Lifecycle**: the creator's `close` (or drop) removes the name; any
//!   close unmaps and closes the descriptor. `corrupt` flips the lowest bit
//!   of the oldest item's first payload byte (of its CRC for a 0-byte
//!   item).
//! - **Safety**: all `unsafe` (the `mmap`, the `munmap` and the two atomic
//!   views of the mapping) is in `segment.rs`; header words and slot bytes
//!   are only touched as atomics, so even the racing faults are free of
//!   undefined behaviour in this process. Geometry and indices read from
//!   the segment are checked, so a hostile segment yields an error, never a
//!   panic or an access outside the mapping.
//!
//! Every variant declares all six features (`processes`, `blocking`,
//! `checksum`, `corrupt`, `batch`, `parallel`); `batch` and `parallel` are
//! served by [`crate::driver::serve_stdio`], and every op is safe to run
//! from several threads of one process at once.
//!
//! In the source, every fault's code path is marked `// FAULT <name>:`.

mod crc32;
mod ring;
mod segment;
#[cfg(test)]
mod tests;

pub use ring::FaultyRing;

use crate::driver::{serve_stdio, DriverError, Implementation};
use crate::protocol::Feature;
use std::process::ExitCode;

/// One bug of the simple ring (or none: [`Fault::Correct`],
/// [`Fault::Slow`]). See [`FAULTS`] for what each one breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// No bug.
    Correct,
    /// No bug, but every op sleeps 200 µs inside the lock.
    Slow,
    /// A put on a full ring overwrites the oldest item, reporting success.
    OverwriteWhenFull,
    /// The full test is off by one: capacity + 1 items are accepted.
    CapacityPlusOne,
    /// get returns the newest item.
    Lifo,
    /// An over-long put stores its first item_size bytes, reporting success.
    OversizeTruncates,
    /// A 0-byte item is consumed but comes back as null.
    ZeroByteIsNull,
    /// After the first full cycle, put writes one slot too far.
    WrapLosesSlot,
    /// get never verifies the CRC.
    NoChecksum,
    /// A corrupt item is reported but not consumed.
    CorruptStalls,
    /// The waits stop watching the ring after 10 ms and sleep out their
    /// timeout.
    NoWakeup,
    /// get_wait on an empty ring waits 10x its timeout, at least 30 s.
    IgnoresTimeout,
    /// A too-large put leaves this process holding the lock.
    LockLeakOnError,
    /// open of a missing name creates the ring.
    OpenCreates,
    /// The creator's close never removes the name (the segment leaks).
    CloseKeepsName,
    /// No lock around the index updates.
    Unlocked,
    /// put publishes the item before writing it.
    PublishBeforeWrite,
    /// A spin-lock word without owner-death recovery instead of flock.
    NonRobustLock,
}

impl Fault {
    /// Every variant, in the order of [`FAULTS`].
    pub const ALL: [Fault; 18] = [
        Fault::Correct,
        Fault::Slow,
        Fault::OverwriteWhenFull,
        Fault::CapacityPlusOne,
        Fault::Lifo,
        Fault::OversizeTruncates,
        Fault::ZeroByteIsNull,
        Fault::WrapLosesSlot,
        Fault::NoChecksum,
        Fault::CorruptStalls,
        Fault::NoWakeup,
        Fault::IgnoresTimeout,
        Fault::LockLeakOnError,
        Fault::OpenCreates,
        Fault::CloseKeepsName,
        Fault::Unlocked,
        Fault::PublishBeforeWrite,
        Fault::NonRobustLock,
    ];

    /// `(CLI name, criterion id it must fail or "", description)`.
    const fn entry(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Fault::Correct => ("correct", "", "the simple ring without a bug: must conform"),
            Fault::Slow => (
                "slow",
                "",
                "correct, but every op sleeps 200 µs inside the lock: must conform",
            ),
            Fault::OverwriteWhenFull => (
                "overwrite-when-full",
                "full",
                "put on a full ring overwrites the oldest item and reports stored: true",
            ),
            Fault::CapacityPlusOne => (
                "capacity-plus-one",
                "full",
                "off-by-one full test (len > capacity): accepts capacity + 1 items, the last one \
                 over the oldest slot",
            ),
            Fault::Lifo => (
                "lifo",
                "fifo",
                "get takes the newest item instead of the oldest",
            ),
            Fault::OversizeTruncates => (
                "oversize-truncates",
                "oversize",
                "an over-long put stores its first item_size bytes and reports stored: true",
            ),
            Fault::ZeroByteIsNull => (
                "zero-byte-is-null",
                "zero-byte",
                "a stored 0-byte item is consumed but returned as null",
            ),
            Fault::WrapLosesSlot => (
                "wrap-loses-slot",
                "wrap-around",
                "once the indices wrap, put writes slot (tail + 1) % capacity; one fill and drain \
                 still passes",
            ),
            Fault::NoChecksum => (
                "no-checksum",
                "integrity",
                "declares checksum and corrupt, but get never verifies the CRC",
            ),
            Fault::CorruptStalls => (
                "corrupt-stalls",
                "integrity",
                "a corrupt item is reported but not consumed: every later get reports it again",
            ),
            Fault::NoWakeup => (
                "no-wakeup",
                "blocking",
                "put_wait/get_wait watch the ring for 10 ms, then sleep the rest of the timeout \
                 and try once more: a put later than that does not wake a waiting get",
            ),
            Fault::IgnoresTimeout => (
                "ignores-timeout",
                "blocking",
                "get_wait on an empty ring waits 10x its timeout, at least 30 s",
            ),
            Fault::LockLeakOnError => (
                "lock-leak-on-error",
                "lock-release",
                "a too-large put answers too_large but keeps the flock: other processes time out \
                 until this one closes or exits",
            ),
            Fault::OpenCreates => (
                "open-creates",
                "lifecycle",
                "open of a missing name creates it (capacity 10, item_size 64) instead of \
                 not_found",
            ),
            Fault::CloseKeepsName => (
                "close-keeps-name",
                "lifecycle",
                "the creator's close never removes the name: the segment leaks",
            ),
            Fault::Unlocked => (
                "unlocked",
                "concurrency",
                "no lock around the index read-modify-writes: concurrent producers and consumers \
                 lose and duplicate items",
            ),
            Fault::PublishBeforeWrite => (
                "publish-before-write",
                "crash",
                "put advances the tail before copying the payload (in two halves, ~200 µs apart): \
                 a kill mid-put leaves a torn item",
            ),
            Fault::NonRobustLock => (
                "non-robust-lock",
                "crash",
                "a spin-lock word (CAS 0 -> pid) without owner-death recovery, ~200 µs critical \
                 sections: a kill inside wedges the ring",
            ),
        }
    }

    /// The CLI name (`ringcheck driver --faulty NAME`).
    pub const fn name(self) -> &'static str {
        self.entry().0
    }

    /// The spec criterion a conformance run must report failed; `""` for
    /// the correct variants.
    pub const fn criterion(self) -> &'static str {
        self.entry().1
    }

    /// One line: what is wrong.
    pub const fn description(self) -> &'static str {
        self.entry().2
    }

    /// The variant called `name`.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }
}

const TABLE: [(&str, &str, &str); Fault::ALL.len()] = {
    let mut table = [("", "", ""); Fault::ALL.len()];
    let mut i = 0;
    while i < table.len() {
        table[i] = Fault::ALL[i].entry();
        i += 1;
    }
    table
};

/// Every faulty ring: `(name, criterion id it must fail, what is wrong)`.
/// `correct` and `slow` have criterion `""`: they are correct and must be
/// conforming.
pub const FAULTS: &[(&str, &str, &str)] = &TABLE;

/// The simple ring with one [`Fault`], as a driver [`Implementation`].
#[derive(Debug, Clone, Copy)]
pub struct Faulty(pub Fault);

impl Implementation for Faulty {
    type Ring = FaultyRing;

    fn name(&self) -> String {
        format!(
            "ringcheck-faulty {} {}",
            self.0.name(),
            env!("CARGO_PKG_VERSION")
        )
    }

    fn features(&self) -> Vec<Feature> {
        Feature::ALL.to_vec()
    }

    fn create(&self, name: &str, capacity: u64, item_size: u64) -> Result<FaultyRing, DriverError> {
        FaultyRing::create(self.0, name, capacity, item_size)
    }

    fn open(&self, name: &str) -> Result<(FaultyRing, u64, u64), DriverError> {
        FaultyRing::open(self.0, name)
    }
}

/// Removes every faulty-ring segment whose ring name starts with
/// `prefix` (the files `/dev/shm/ringcheck-faulty-<prefix>*`): what a
/// creator that was SIGKILLed (a crash case, or a hung driver) could not
/// remove itself. An empty prefix removes nothing. Returns how many were
/// removed.
pub fn remove_segments(prefix: &str) -> usize {
    if prefix.is_empty() {
        return 0;
    }
    let Ok(os_prefix) = segment::os_name(prefix) else {
        return 0;
    };
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&os_prefix))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Serves the faulty ring `name` on stdin/stdout; `None` if unknown.
pub fn serve(name: &str) -> Option<ExitCode> {
    Fault::parse(name).map(|fault| serve_stdio(&Faulty(fault)))
}
