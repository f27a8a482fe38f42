//! The ring algorithm, written once and generic over where its header and
//! slots live ([`RingMemory`]): a mapped segment in production
//! ([`SharedBuffer`](crate::SharedBuffer)), the heap in the loom and shuttle
//! models (`crate::model`, behind the `model` feature). Crate-private: the
//! public surface is [`SharedBuffer`](crate::SharedBuffer) and, for the
//! models, `shmring::model::HeapRing`.
//!
//! # Algorithm
//! `head` and `tail` are 64-bit counts of items ever consumed and stored;
//! item `n` lives in slot `n % capacity`, the ring holds `tail - head` items,
//! and it is full when that equals `capacity`. Producers and consumers do
//! not share a lock: the two-lock queue of Michael and Scott ("Simple,
//! Fast, and Practical Non-Blocking and Blocking Concurrent Queue
//! Algorithms", PODC 1996) on a bounded array. The producers' lock orders
//! producers among themselves and guards `tail` and the free slots; the
//! consumers' lock guards `head` and the full slots.
//!
//! A put writes slot `tail` (length, CRC, payload) and then stores
//! `tail + 1` with Release; a get reads `tail` with Acquire, so it sees the
//! slot complete, copies it out, and stores `head + 1` with Release; a put
//! reads `head` with Acquire, so it overwrites a slot only after the get
//! that emptied it finished reading. Each store is the commit point of its
//! operation, one aligned 8-byte store made last: an owner that dies before
//! it changed nothing visible, one that dies after it completed the
//! operation. Recovery after a dead lock owner therefore has nothing to
//! roll back; the next owner re-checks the indices.
//!
//! # Cached indices
//! Each handle keeps a copy of the other side's index, as rtrb does: a
//! producer keeps `head` as it last read it, a consumer `tail`. `head` and
//! `tail` only grow, so a copy is a lower bound and the free space (or the
//! item count) it implies is never more than the truth. The other side's
//! line is read again, with Acquire, only when the copy says the ring is
//! full (or empty): a producer running ahead of its consumers touches their
//! line once per lap instead of once per item. A refreshed index is checked
//! against this side's own (`head <= tail <= head + capacity`, and no
//! overflow): a value out of range is [`Error::CorruptHeader`].
//!
//! # Waiting
//! A waiter registers in the other side's waiter registry (an RMW that
//! also tells it the registry's generation), issues a SeqCst fence,
//! re-reads the index and, if it is unchanged and its registration still
//! stands, sleeps on the registry word itself (a futex word). After its
//! commit a side issues a SeqCst fence and reads the registry; if it counts
//! a sleeper, it clears the registry (a new generation) and wakes every
//! sleeper on it. (On a segment the committer's fence becomes a compiler
//! fence and the waiter's a `membarrier(2)` barrier that executes it in
//! every committing process: `crate::sys::membarrier`.) Of the two fences
//! one comes first in the single SeqCst order, and the load after the
//! later fence sees the store before the earlier one: either the committer
//! sees the registration or the waiter sees the commit (the
//! store-buffering pattern; Drepper, "Futexes Are Tricky", 2011). A clear
//! changes the very word the sleepers compare and is followed by a wake on
//! it, so a waiter whose registration was cleared either is asleep and
//! woken or fails its compare (`crate::waiters` tells the lost wake-up
//! that sleeping on the index allowed). An uncontended operation pays a
//! fence and a read of the registry, no RMW on a line the other side
//! reads. A waiter back from an unwoken sleep removes only its own
//! registration, so a waiter killed asleep is not counted for ever.
//!
//! The wake comes after the commit, so a process that dies between the two
//! leaves the sleepers asleep: every sleep is capped (the memory's nap), and
//! a process that takes over a dead owner's lock wakes the other side too.
//!
//! # Kill points
//! [`RingMemory::at`] is called at each [`KillPoint`] inside the critical
//! section. The segment memory calls the installed crash-test hook there
//! (only with the `test-hooks` feature or under loom or shuttle; otherwise
//! it is a no-op that compiles away); the heap memory of the models may
//! abandon the operation there, as if its owner were killed, by returning
//! its own [`RingMemory::Error`].
//!
//! # Seeded faults
//! Under `--cfg loom` or `--cfg shuttle` only, `RingMemory::fault` lets a
//! model switch on one known bug (`Fault`) to show that the loom and
//! shuttle models find it. The fault branches below and `Fault` itself do
//! not exist in any other build; the segment memory never switches one on.

//! # Files
//! This module holds the types and the memory trait; [`Ring`] is in
//! `ring.rs` (its state, locking, index checks, waiting and waking),
//! `critical.rs` (each operation's critical section) and `calls.rs` (the
//! calls the handles expose).

mod calls;
mod critical;
mod ring;

pub use ring::Ring;
use ring::{Blocked, Copied};

use crate::error::{Error, Result};
use crate::sync::AtomicWord;
use std::time::Duration;

/// One side of the ring: which lock, index and waiters an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Puts: `tail`, the free slots, the producers' lock.
    Producer,
    /// Gets: `head`, the full slots, the consumers' lock.
    Consumer,
}

impl Side {
    /// `"producer"` or `"consumer"`: the role of this side, as
    /// [`Error::RoleTaken`] names it.
    pub fn role(self) -> &'static str {
        match self {
            Side::Producer => "producer",
            Side::Consumer => "consumer",
        }
    }
}

/// How a lock was acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// The previous owner unlocked normally.
    Clean,
    /// The previous owner died holding the lock; [`Ring`] re-checks the
    /// state and calls [`RingMemory::mark_consistent`].
    OwnerDied,
}

/// How long a lock acquisition may wait for a live owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait<D> {
    /// Up to the memory's configured lock timeout (calls that do not wait
    /// for items or space).
    Configured,
    /// Up to this long from now: the first attempt of a timed call (the
    /// clock is read only if the lock is contended).
    For(Duration),
    /// Until this deadline: later attempts of a timed call.
    Until(D),
}

impl<D> LockWait<D> {
    /// The wait of an attempt of a call with `timeout` whose deadline, once
    /// computed, is `deadline`.
    pub(super) fn of(timeout: Duration, deadline: Option<D>) -> Self {
        match deadline {
            Some(d) => LockWait::Until(d),
            None if timeout.is_zero() => LockWait::Configured,
            None => LockWait::For(timeout),
        }
    }
}

/// A statistics counter (advisory: an owner that dies mid-operation may
/// leave one short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A put refused because the ring was full.
    FullRefusal,
    /// A get that found the ring empty.
    EmptyGet,
    /// An item that failed its integrity check.
    CorruptItem,
    /// A lock taken over from a dead owner.
    LockRecovery,
    /// A wait for an item or space that ended by its nap, unwoken, although
    /// the index it waited on had moved: a wake-up that did not come.
    LateWakeup,
    /// A wait for an item or space that went to sleep.
    Sleep,
}

/// Where inside an operation a kill point is. All points are inside the
/// critical section (the side's lock is held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// `put`: the slot prefix and half the payload are written; nothing is
    /// published.
    PutHalfWritten,
    /// `put`: the item is committed (tail advanced) but the lock is not yet
    /// released and the consumers not yet woken.
    PutCommitted,
    /// `get`: the payload has been copied out; head is not yet advanced.
    GetCopied,
}

/// A known bug that a model can switch on to prove that the models find
/// it. Exists only under loom and shuttle (several faults are data races by
/// design); never set by a segment-backed ring.
#[cfg(any(loom, shuttle))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A commit finds sleepers registered but never wakes them.
    MissedNotify,
    /// A put stores `tail` after releasing the producers' lock, so another
    /// producer can claim the same slot.
    CommitOutsideLock,
    /// A put publishes `tail` (and unlocks) before it writes the slot, so a
    /// consumer can read a slot that is still being written.
    PublishBeforeWrite,
    /// Committers read the waiter registries without the SeqCst fence
    /// after their commit (and lock releasers without theirs, which would
    /// otherwise stand between a put's commit and its read of the
    /// consumers' registry), breaking the store-buffering pair.
    RelaxedWaiterCount,
    /// A put wakes the consumers before its commit instead of after it, so
    /// a woken consumer finds nothing, sleeps again, and is never woken for
    /// the item.
    WakeBeforeCommit,
    /// A consumer refreshes its cached `tail` with a Relaxed load instead
    /// of Acquire, so it may read a slot before the producer's writes to it
    /// are visible.
    RelaxedIndexRefresh,
    /// A get commits `head` before it copies the slot out, so a producer
    /// may overwrite the slot while it is being read.
    CommitBeforeCopy,
    /// A waiter sleeps on the waiter registry's current value without
    /// checking that its own registration still stands, so a waker that
    /// cleared it (and whose wake went out before the sleep) leaves it
    /// asleep unregistered, and the next commit does not wake it: the
    /// lost wake-up shuttle found in the earlier protocol
    /// (`crate::waiters`).
    SleepUnregistered,
    /// The lock's release exchanges its word to 0 but never reads its
    /// sleepers, so a waiter asleep on the lock is never woken
    /// (`crate::lock`).
    ReleaseSkipsSleepers,
    /// A waiter that finds the lock's owner dead stores its own token
    /// instead of exchanging the dead one for it, so two waiters that saw
    /// the same death both take the lock over (`crate::lock`).
    TakeoverWithoutExchange,
}

#[cfg(any(loom, shuttle))]
impl Fault {
    /// Every fault, in declaration order.
    #[cfg_attr(not(feature = "model"), allow(dead_code))]
    pub const ALL: [Fault; 10] = [
        Fault::MissedNotify,
        Fault::CommitOutsideLock,
        Fault::PublishBeforeWrite,
        Fault::RelaxedWaiterCount,
        Fault::WakeBeforeCommit,
        Fault::RelaxedIndexRefresh,
        Fault::CommitBeforeCopy,
        Fault::SleepUnregistered,
        Fault::ReleaseSkipsSleepers,
        Fault::TakeoverWithoutExchange,
    ];
}

/// Where a ring's header words, locks, futexes and slots live.
///
/// Implementations provide storage and primitives; [`Ring`] holds the whole
/// algorithm. The slot accessors take the item's sequence number `seq` (not
/// the slot index) and reduce it modulo [`capacity`](Self::capacity)
/// themselves.
///
/// # Safety
/// Implementations promise that the slot accessors never panic and never
/// touch memory outside the ring, whatever `seq`, `offset` and lengths they
/// get. (`fault`, which lets a slot be accessed without its side's lock,
/// exists only under loom or shuttle, whose model threads run one at a time
/// on one OS thread, so that such an access is no data race in the program;
/// loom's cells then report it as a race in the model.)
pub unsafe trait RingMemory: Send + Sync {
    /// The error of every operation: [`Error`], or a type that can carry
    /// it and whatever else the memory reports from [`at`](Self::at).
    type Error: From<Error>;
    /// A 64-bit header word; `head` and `tail` are of this type.
    type Word64: AtomicWord<u64>;
    /// A 32-bit header word.
    type Word32: AtomicWord<u32>;
    /// Holds one side's lock; dropping it unlocks.
    type Guard<'a>
    where
        Self: 'a;
    /// An absolute instant on the memory's clock.
    type Deadline: Copy;

    /// Slots, items; at least 1.
    fn capacity(&self) -> u32;
    /// Largest item, bytes; at least 1.
    fn item_size(&self) -> u32;
    /// Items ever consumed.
    fn head(&self) -> &Self::Word64;
    /// Items ever stored.
    fn tail(&self) -> &Self::Word64;
    /// Producers registered as waiting for `head` to move; they sleep on
    /// this word (`crate::waiters`).
    fn put_waiters(&self) -> &Self::Word32;
    /// Consumers registered as waiting for `tail` to move; they sleep on
    /// this word.
    fn get_waiters(&self) -> &Self::Word32;
    /// Adds one to a statistics counter.
    fn count(&self, counter: Counter);

    /// Takes `side`'s lock, waiting for a live owner as `wait` says; a dead
    /// owner's lock is taken over ([`Acquired::OwnerDied`]).
    ///
    /// # Errors
    /// [`Error::LockTimeout`] (the wait ran out), [`Error::CorruptHeader`]
    /// (the lock's words are out of range), [`Error::Io`].
    fn lock(
        &self,
        side: Side,
        wait: LockWait<Self::Deadline>,
    ) -> Result<(Self::Guard<'_>, Acquired)>;
    /// Marks the state consistent after an [`Acquired::OwnerDied`] lock.
    fn mark_consistent(&self, guard: &Self::Guard<'_>);

    /// `timeout` from now.
    fn deadline(&self, timeout: Duration) -> Self::Deadline;
    /// Whether `deadline` has passed.
    fn passed(&self, deadline: Self::Deadline) -> bool;
    /// Sleeps while `*word == expected` (a waiter registry,
    /// `crate::waiters`), until woken, `deadline`, or the memory's nap ends
    /// (a short one unless `covered`: see
    /// [`waiter_fence`](Self::waiter_fence)); may return spuriously. The
    /// comparison and the sleep are atomic with respect to
    /// [`wake_all`](Self::wake_all) on the same word: the contract of
    /// `FUTEX_WAIT` (futex(2)). True if the sleep ended unwoken because
    /// `deadline` or the nap ran out.
    fn wait(
        &self,
        word: &Self::Word32,
        expected: u32,
        deadline: Self::Deadline,
        covered: bool,
    ) -> bool;
    /// Wakes every sleeper on `word` (`FUTEX_WAKE` of all).
    fn wake_all(&self, word: &Self::Word32);
    /// The committer's half of the store-buffering pair, between its
    /// commit and its read of the waiter registry: a SeqCst fence, or only
    /// a compiler fence where every waiter's [`waiter_fence`](Self::waiter_fence)
    /// is a barrier for this process too (`crate::sys::membarrier`).
    fn commit_fence(&self);
    /// The waiter's half, between its registration and its read of the
    /// index: a SeqCst fence, and the barrier that stands in for the
    /// committers' fences. False if this process could not issue that
    /// barrier: then its sleep must be short.
    fn waiter_fence(&self) -> bool;
    /// Polls `changed` for a while before a waiter registers and sleeps;
    /// true as soon as it returns true, false when the spin is over.
    fn spin(&self, changed: impl FnMut() -> bool) -> bool;

    /// The `(len, crc)` prefix of item `seq`'s slot.
    ///
    /// # Safety
    /// The caller owns the slot: it holds the consumers' lock and `seq` is
    /// in `head..tail` with `tail` read with Acquire, or it holds the
    /// producers' lock and `seq` is in `tail..head + capacity` with `head`
    /// read with Acquire.
    unsafe fn read_prefix(&self, seq: u64) -> (u32, u32);
    /// Calls `f` with the first `len` (at most `item_size`) payload bytes
    /// of item `seq`.
    ///
    /// # Safety
    /// As [`read_prefix`](Self::read_prefix).
    unsafe fn with_payload<R>(&self, seq: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> R;
    /// Writes the `(len, crc)` prefix of item `seq`'s slot.
    ///
    /// # Safety
    /// The caller owns the slot as a producer (see
    /// [`read_prefix`](Self::read_prefix)).
    unsafe fn write_prefix(&self, seq: u64, len: u32, crc: u32);
    /// Calls `f` with payload bytes `offset..offset + len` of item `seq`,
    /// clamped to `item_size`, to write them.
    ///
    /// # Safety
    /// As [`write_prefix`](Self::write_prefix).
    unsafe fn with_payload_mut<R>(
        &self,
        seq: u64,
        offset: usize,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> R;
    /// A hint that the producer will write item `seq`'s slot next: start
    /// taking its cache lines for writing (x86 `prefetchw`), so that the
    /// next put's stores do not wait for them. No effect on memory; a
    /// no-op by default.
    fn prefetch_for_write(&self, _seq: u64) {}
    /// Flips bit 0 of byte `offset % stride` of item `seq`'s slot, where
    /// the slot is the prefix followed by the payload (`corrupt` only).
    ///
    /// # Safety
    /// As [`read_prefix`](Self::read_prefix), as a consumer.
    #[cfg(feature = "corrupt")]
    unsafe fn flip_bit(&self, seq: u64, offset: usize);

    /// A pause point inside the critical section. Crash tests block here
    /// and are killed; a model may return an error to end the operation as
    /// if its owner died here (the lock stays held until the guard drops).
    ///
    /// # Errors
    /// Whatever the memory uses to report an abandoned operation.
    fn at(&self, _point: KillPoint) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The seeded fault switched on, if any (models under loom or shuttle
    /// only).
    #[cfg(any(loom, shuttle))]
    fn fault(&self) -> Option<Fault> {
        None
    }
}

/// CRC-32C (Castagnoli) over the length (u32 little-endian) and the
/// payload: the `crc32` instruction of SSE 4.2 (ARMv8: `crc32c*`) where the
/// CPU has it, a table otherwise (the `crc32c` crate). Chosen over CRC-32
/// (IEEE) because the instruction checks a 64-byte item in about 60% of
/// the time (measured 19 ns against 30 ns per item), on both sides of
/// every item; its error detection at these lengths is as good (Koopman,
/// "32-Bit Cyclic Redundancy Codes for Internet Applications", 2002).
pub fn item_crc(data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&(data.len() as u32).to_le_bytes()), data)
}

#[cfg(test)]
mod tests {
    use super::item_crc;

    /// Known answers, so that another CRC (CRC-32, another polynomial or
    /// bit order) cannot pass for CRC-32C: the check value of the
    /// Castagnoli polynomial over "123456789" is 0xE3069283, and the item
    /// checksum prefixes the length (values from a bitwise reference
    /// implementation of the reflected polynomial 0x82F63B78).
    #[test]
    fn the_item_checksum_is_crc32c_over_length_and_payload() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(item_crc(b"123456789"), 0x5717_D278);
        assert_eq!(item_crc(b""), 0x4867_4BC7);
    }
}
