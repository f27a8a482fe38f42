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
//! A waiter sleeps on the low 32 bits of the other side's index (a futex
//! word; the index moves by at most `capacity` before the waiter's side
//! does, so its low half tells every change apart). A waiter registers in
//! the other side's waiter registry (an RMW), issues a SeqCst fence,
//! re-reads the index and sleeps only if it is unchanged. After its commit
//! a side issues a SeqCst fence and reads the registry, waking every
//! sleeper if it counts one. (On a segment the committer's fence becomes a
//! compiler fence and the waiter's a `membarrier(2)` barrier that executes
//! it in every committing process: `crate::sys::membarrier`.) Of the two fences one comes first in the
//! single SeqCst order, and the load after the later fence sees the store
//! before the earlier one: either the committer sees the registration or
//! the waiter sees the commit (the store-buffering pattern; Drepper,
//! "Futexes Are Tricky", 2011), and the futex wait compares the word
//! atomically, so no wake-up is lost; an uncontended operation pays a fence and a read of its own line,
//! no RMW on a line the other side reads. A waker also clears the registry,
//! and a waiter back from an unwoken sleep removes only its own
//! registration, so a waiter killed asleep is not counted for ever
//! (`crate::waiters`).
//!
//! The wake comes after the commit, so a process that dies between the two
//! leaves the sleepers asleep: every sleep is capped (the memory's nap), and
//! a process that takes over a dead owner's lock wakes the other side too.
//!
//! # Kill points
//! [`RingMemory::at`] is called at each [`Point`] inside the critical
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

use crate::error::{Error, Result};
use crate::layout;
use crate::sync::AtomicWord;
use crate::waiters;
use std::sync::atomic::AtomicU64 as LocalU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::time::Duration;

/// One side of the ring: which lock, index and waiters an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Puts: `tail`, the free slots, the producers' lock.
    Producer,
    /// Gets: `head`, the full slots, the consumers' lock.
    Consumer,
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
    fn of(timeout: Duration, deadline: Option<D>) -> Self {
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
}

/// Where inside an operation a kill point is. All points are inside the
/// critical section (the side's lock is held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
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
    /// The committer reads the waiter registry without the SeqCst fence
    /// after its commit, breaking the store-buffering pair.
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
}

#[cfg(any(loom, shuttle))]
impl Fault {
    /// Every fault, in declaration order.
    #[cfg_attr(not(feature = "model"), allow(dead_code))]
    pub const ALL: [Fault; 7] = [
        Fault::MissedNotify,
        Fault::CommitOutsideLock,
        Fault::PublishBeforeWrite,
        Fault::RelaxedWaiterCount,
        Fault::WakeBeforeCommit,
        Fault::RelaxedIndexRefresh,
        Fault::CommitBeforeCopy,
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
    /// Items ever consumed; producers waiting for space sleep on it.
    fn head(&self) -> &Self::Word64;
    /// Items ever stored; consumers waiting for an item sleep on it.
    fn tail(&self) -> &Self::Word64;
    /// Producers registered as sleeping on `head`.
    fn put_waiters(&self) -> &Self::Word32;
    /// Consumers registered as sleeping on `tail`.
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
    /// Sleeps while `index == expected`, until woken, `deadline`, or the
    /// memory's nap ends (a short one unless `covered`: see
    /// [`waiter_fence`](Self::waiter_fence)); may return spuriously. The
    /// comparison and the sleep are atomic with respect to
    /// [`wake_all`](Self::wake_all) (futex semantics).
    fn wait(&self, index: &Self::Word64, expected: u64, deadline: Self::Deadline, covered: bool);
    /// Wakes every sleeper on `index`.
    fn wake_all(&self, index: &Self::Word64);
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
    /// Flips bit 0 of byte `offset % stride` of item `seq`'s slot, where
    /// the slot is the prefix followed by the payload (`test-hooks` only).
    ///
    /// # Safety
    /// As [`read_prefix`](Self::read_prefix), as a consumer.
    #[cfg(feature = "test-hooks")]
    unsafe fn flip_bit(&self, seq: u64, offset: usize);

    /// A pause point inside the critical section. Crash tests block here
    /// and are killed; a model may return an error to end the operation as
    /// if its owner died here (the lock stays held until the guard drops).
    ///
    /// # Errors
    /// Whatever the memory uses to report an abandoned operation.
    fn at(&self, _point: Point) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The seeded fault switched on, if any (models under loom or shuttle
    /// only).
    #[cfg(any(loom, shuttle))]
    fn fault(&self) -> Option<Fault> {
        None
    }
}

/// CRC32 (IEEE) over the length (u32 little-endian) and the payload.
pub fn item_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&(data.len() as u32).to_le_bytes());
    h.update(data);
    h.finalize()
}

/// What an attempt found when it could not proceed: the other side's index
/// as read under this side's lock, to wait on.
struct Blocked(u64);

/// The ring algorithm over memory `M`, as one handle sees it.
#[derive(Debug)]
pub struct Ring<M> {
    mem: M,
    /// `head` as this handle's producers last read it: a lower bound of
    /// `head`, `<= tail`, or `u64::MAX` before the first read. Read and written only under the producers' lock,
    /// which orders it (Relaxed); process-local, never in shared memory.
    cached_head: LocalU64,
    /// `tail` as this handle's consumers last read it: a lower bound of
    /// `tail`. Under the consumers' lock, as `cached_head`.
    cached_tail: LocalU64,
}

/// A copied-out item: `(len, stored crc, seq)`.
type Copied = (usize, u32, u64);

impl<M: RingMemory> Ring<M> {
    /// Wraps `mem`, whose header must already be initialised.
    pub fn new(mem: M) -> Self {
        Ring {
            mem,
            // Never read yet: u64::MAX fails `cached <= tail` and 0 fails
            // `head < cached`, so the first operation of each side reads
            // (and checks) the other side's index.
            cached_head: LocalU64::new(u64::MAX),
            cached_tail: LocalU64::new(0),
        }
    }

    /// The memory.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Slots, items.
    #[cfg_attr(not(feature = "model"), allow(dead_code))]
    pub fn capacity(&self) -> usize {
        self.mem.capacity() as usize
    }

    /// Largest item, bytes.
    pub fn item_size(&self) -> usize {
        self.mem.item_size() as usize
    }

    fn cap(&self) -> u64 {
        u64::from(self.mem.capacity())
    }

    #[cfg(any(loom, shuttle))]
    fn faulty(&self, fault: Fault) -> bool {
        self.mem.fault() == Some(fault)
    }

    fn lock(&self, side: Side, wait: LockWait<M::Deadline>) -> Result<M::Guard<'_>> {
        let (guard, how) = self.mem.lock(side, wait)?;
        if how == Acquired::OwnerDied {
            // The dead owner either committed its operation or left no
            // visible trace (see the module docs), so the state is
            // consistent as it stands; the indices are re-checked by the
            // operation that follows. It may have died between its commit
            // and its wake: wake the other side's sleepers for it.
            self.mem.count(Counter::LockRecovery);
            self.mem.mark_consistent(&guard);
            match side {
                Side::Producer => self.mem.wake_all(self.mem.tail()),
                Side::Consumer => self.mem.wake_all(self.mem.head()),
            }
        }
        Ok(guard)
    }

    /// Under the producers' lock, with `tail` as read there: how many slots
    /// are free from `tail` on, using the cached `head` unless it shows
    /// fewer than `want` free. `Err(Blocked(head))` when the ring is full.
    fn free_slots(&self, tail: u64, want: u64) -> Result<std::result::Result<u64, Blocked>> {
        let cap = self.cap();
        let cached = self.cached_head.load(Relaxed);
        // With `tail` at most 2^64 - 1 - capacity, no index derived below
        // (at most `cached + capacity`) can overflow.
        if cached <= tail && tail - cached < cap && tail <= u64::MAX - cap {
            let free = cap - (tail - cached);
            if free >= want.min(cap) {
                return Ok(Ok(free));
            }
        }
        // Acquire pairs with the consumers' Release commit of `head`: the
        // gets that freed these slots finished reading them.
        let head = self.mem.head().load(Acquire);
        layout::check_indices(head, tail, self.mem.capacity())?;
        self.cached_head.store(head, Relaxed);
        let free = cap - (tail - head);
        Ok(if free == 0 {
            Err(Blocked(head))
        } else {
            Ok(free)
        })
    }

    /// Under the consumers' lock, with `head` as read there: how many items
    /// are stored from `head` on, using the cached `tail` unless it shows
    /// fewer than `want`. `Err(Blocked(tail))` when the ring is empty.
    fn stored_items(&self, head: u64, want: u64) -> Result<std::result::Result<u64, Blocked>> {
        let cap = self.cap();
        let cached = self.cached_tail.load(Relaxed);
        if head < cached && cached - head >= want.min(cap) && cached - head <= cap {
            return Ok(Ok(cached - head));
        }
        // Acquire pairs with the producers' Release commit of `tail`: the
        // slots up to it are completely written and visible.
        #[cfg(any(loom, shuttle))]
        let tail = if self.faulty(Fault::RelaxedIndexRefresh) {
            self.mem.tail().load(Relaxed)
        } else {
            self.mem.tail().load(Acquire)
        };
        #[cfg(not(any(loom, shuttle)))]
        let tail = self.mem.tail().load(Acquire);
        layout::check_indices(head, tail, self.mem.capacity())?;
        self.cached_tail.store(tail, Relaxed);
        let n = tail - head;
        Ok(if n == 0 { Err(Blocked(tail)) } else { Ok(n) })
    }

    /// After a commit of `index`: wakes the other side's sleepers registered
    /// in `waiters`, if any. See the module docs.
    fn signal(&self, index: &M::Word64, waiters: &M::Word32) {
        // The fence pairs with the waiter's, after its registration: of
        // two SeqCst fences one precedes the other, and the load after the
        // later one sees the store before the earlier one.
        #[cfg(any(loom, shuttle))]
        if !self.faulty(Fault::RelaxedWaiterCount) {
            self.mem.commit_fence();
        }
        #[cfg(not(any(loom, shuttle)))]
        self.mem.commit_fence();
        let registry = waiters.load(Relaxed);
        if waiters::count(registry) != 0 {
            #[cfg(any(loom, shuttle))]
            if self.faulty(Fault::MissedNotify) {
                return;
            }
            // Every registered sleeper is woken just below, and registers
            // afresh if it sleeps again: clear the registry, so that one
            // killed asleep is forgotten (crate::waiters). A failed
            // exchange (someone registered meanwhile) just skips the
            // clearing this time.
            let _ = waiters.compare_exchange(registry, waiters::cleared(registry), SeqCst, Relaxed);
            self.mem.wake_all(index);
        }
    }

    fn signal_consumers(&self) {
        self.signal(self.mem.tail(), self.mem.get_waiters());
    }

    fn signal_producers(&self) {
        self.signal(self.mem.head(), self.mem.put_waiters());
    }

    /// Waits until `index` differs from `seen` or `deadline` passes; false
    /// iff the deadline had passed before sleeping. Spurious returns are
    /// fine: the caller retries its operation.
    fn wait_change(
        &self,
        index: &M::Word64,
        waiters: &M::Word32,
        seen: u64,
        deadline: M::Deadline,
    ) -> bool {
        if self.mem.spin(|| index.load(Relaxed) != seen) {
            return true;
        }
        if self.mem.passed(deadline) {
            return false;
        }
        let gen = waiters::generation(waiters.fetch_add(1, SeqCst));
        // Pairs with the committer's fence (see `signal`).
        let covered = self.mem.waiter_fence();
        if index.load(Relaxed) == seen {
            self.mem.wait(index, seen, deadline, covered);
        }
        // Remove this registration unless a waker cleared it already.
        let mut w = waiters.load(Relaxed);
        while let Some(less) = waiters::deregistered(w, gen) {
            match waiters.compare_exchange(w, less, Relaxed, Relaxed) {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        true
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len > self.item_size() {
            return Err(Error::TooLarge {
                len,
                max: self.item_size(),
            });
        }
        Ok(())
    }

    fn corrupt(&self, seq: u64, reason: &'static str) -> Error {
        Error::Corrupt {
            slot: (seq % self.cap()) as u32,
            seq,
            reason,
        }
    }

    /// Runs one blocking operation: `attempt` until it is not
    /// [`Blocked`], waiting between attempts for `index` to move past what
    /// the attempt saw (registering in `waiters`), up to `timeout`. `None`
    /// if still blocked at the deadline (at once for a zero timeout).
    fn blocking<T>(
        &self,
        timeout: Duration,
        index: &M::Word64,
        waiters: &M::Word32,
        mut attempt: impl FnMut(
            LockWait<M::Deadline>,
        ) -> Result<std::result::Result<T, Blocked>, M::Error>,
    ) -> Result<Option<T>, M::Error> {
        // The deadline is computed once an attempt was blocked: a clock
        // read per operation is measurable on the fast path.
        let mut deadline = None;
        loop {
            let seen = match attempt(LockWait::of(timeout, deadline))? {
                Ok(done) => return Ok(Some(done)),
                Err(Blocked(seen)) => seen,
            };
            if timeout.is_zero() {
                return Ok(None);
            }
            let deadline = *deadline.get_or_insert_with(|| self.mem.deadline(timeout));
            if !self.wait_change(index, waiters, seen, deadline) {
                return Ok(None);
            }
        }
    }

    /// One put attempt, the whole critical section: `fill` writes the
    /// payload of the free slot (given its sequence number) and returns its
    /// length and CRC; it is called only if a slot is free.
    fn try_put(
        &self,
        wait: LockWait<M::Deadline>,
        fill: impl FnOnce(&Self, u64) -> Result<(u32, u32), M::Error>,
    ) -> Result<std::result::Result<(), Blocked>, M::Error> {
        let guard = self.lock(Side::Producer, wait)?;
        let m = &self.mem;
        let tail = m.tail().load(Relaxed);
        if let Err(blocked) = self.free_slots(tail, 1)? {
            m.count(Counter::FullRefusal);
            return Ok(Err(blocked));
        }
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::PublishBeforeWrite) {
            m.tail().store(tail + 1, Release);
            drop(guard);
            self.signal_consumers();
            // Not owned any more: this seeded fault races on purpose, and
            // `RingMemory::fault` returns it only where that is no data
            // race in the program (loom, shuttle).
            let (len, crc) = fill(self, tail)?;
            // SAFETY: as just said, a deliberate race of a model only.
            unsafe { m.write_prefix(tail, len, crc) };
            return Ok(Ok(()));
        }
        let (len, crc) = fill(self, tail)?;
        // SAFETY: the producers' lock is held and `tail` is free
        // (`free_slots` read `head` with Acquire).
        unsafe { m.write_prefix(tail, len, crc) };
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::WakeBeforeCommit) {
            self.signal_consumers();
            m.tail().store(tail + 1, Release);
            return Ok(Ok(()));
        }
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::CommitOutsideLock) {
            drop(guard);
            m.tail().store(tail + 1, Release);
            self.signal_consumers();
            return Ok(Ok(()));
        }
        // Commit. Release: a consumer that reads this tail with Acquire
        // sees the slot complete.
        m.tail().store(tail + 1, Release);
        m.at(Point::PutCommitted)?;
        drop(guard);
        self.signal_consumers();
        Ok(Ok(()))
    }

    /// Writes `item` into slot `seq` (owned by the caller, which holds the
    /// producers' lock), with the kill point half-way.
    fn copy_in(&self, seq: u64, item: &[u8]) -> Result<(), M::Error> {
        let half = item.len() / 2;
        // SAFETY: the caller (`try_put`'s fill) holds the producers' lock
        // and owns slot `seq`.
        unsafe {
            self.mem
                .with_payload_mut(seq, 0, half, |dst| dst.copy_from_slice(&item[..dst.len()]));
        }
        self.mem.at(Point::PutHalfWritten)?;
        // SAFETY: as above.
        unsafe {
            self.mem
                .with_payload_mut(seq, half, item.len() - half, |dst| {
                    dst.copy_from_slice(&item[half..half + dst.len()])
                });
        }
        Ok(())
    }

    /// One get attempt, the whole critical section: copies the oldest item
    /// into `buf` and consumes it. `Blocked(tail)` if empty.
    fn try_get(
        &self,
        buf: &mut [u8],
        wait: LockWait<M::Deadline>,
    ) -> Result<std::result::Result<Copied, Blocked>, M::Error> {
        let guard = self.lock(Side::Consumer, wait)?;
        let m = &self.mem;
        let head = m.head().load(Relaxed);
        if let Err(blocked) = self.stored_items(head, 1)? {
            m.count(Counter::EmptyGet);
            return Ok(Err(blocked));
        }
        // SAFETY: the consumers' lock is held and `head` is below `tail`
        // as read with Acquire (`stored_items`).
        let (len, crc) = unsafe { m.read_prefix(head) };
        let len = len as usize;
        if len > self.item_size() {
            // An impossible length: the slot is damaged. Consume it so the
            // items behind it stay reachable.
            m.count(Counter::CorruptItem);
            m.head().store(head + 1, Release);
            drop(guard);
            self.signal_producers();
            return Err(self
                .corrupt(head, "stored length exceeds the item size")
                .into());
        }
        if len > buf.len() {
            return Err(Error::BufferTooSmall {
                len: buf.len(),
                needed: len,
            }
            .into());
        }
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::CommitBeforeCopy) {
            m.head().store(head + 1, Release);
            drop(guard);
            self.signal_producers();
            // SAFETY: not owned any more: a deliberate race of a model only
            // (see `Fault`).
            unsafe { m.with_payload(head, len, |src| buf[..len].copy_from_slice(src)) };
            return Ok(Ok((len, crc, head)));
        }
        // SAFETY: as for read_prefix.
        unsafe { m.with_payload(head, len, |src| buf[..len].copy_from_slice(src)) };
        m.at(Point::GetCopied)?;
        // Commit. Release: a producer that reads this head with Acquire
        // overwrites the slot only after the copy above.
        m.head().store(head + 1, Release);
        drop(guard);
        self.signal_producers();
        Ok(Ok((len, crc, head)))
    }

    /// Checks a copied-out item against its stored CRC (outside the lock).
    fn verify(&self, data: &[u8], crc: u32, seq: u64) -> Result<()> {
        if item_crc(data) != crc {
            self.mem.count(Counter::CorruptItem);
            return Err(self.corrupt(seq, "CRC32 mismatch"));
        }
        Ok(())
    }

    /// Stores `item` unless the ring is full: `Ok(true)` if stored,
    /// `Ok(false)` if full (nothing stored, nothing overwritten).
    ///
    /// # Errors
    /// [`Error::TooLarge`] (ring unchanged), and the lock's errors.
    pub fn put(&self, item: &[u8]) -> Result<bool, M::Error> {
        self.put_timeout(item, Duration::ZERO)
    }

    /// Stores `item`, waiting up to `timeout` for space: `Ok(false)` if the
    /// ring was still full at the deadline.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_timeout(&self, item: &[u8], timeout: Duration) -> Result<bool, M::Error> {
        self.check_len(item.len())?;
        let crc = item_crc(item);
        let fill = |ring: &Self, seq: u64| {
            ring.copy_in(seq, item)?;
            Ok((item.len() as u32, crc))
        };
        let stored = self.blocking(timeout, self.mem.head(), self.mem.put_waiters(), |wait| {
            self.try_put(wait, fill)
        })?;
        Ok(stored.is_some())
    }

    /// Writes an item of `len` bytes in place: waits up to `timeout` for a
    /// free slot, then calls `write` once with the slot's payload (`len`
    /// bytes, holding what the slot held before) under the producers'
    /// lock, computes the CRC over the written bytes while they are in
    /// cache, and commits. `Ok(false)` if the ring stayed full (`write` not
    /// called). If `write` panics nothing is published.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `len` is over the item size, and the lock's
    /// errors.
    pub fn put_with(
        &self,
        len: usize,
        timeout: Duration,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<bool, M::Error> {
        self.check_len(len)?;
        let mut write = Some(write);
        let stored = self.blocking(timeout, self.mem.head(), self.mem.put_waiters(), |wait| {
            self.try_put(wait, |ring, seq| {
                let crc = ring.fill_slot(seq, len, &mut write);
                // Written but not published: a death here loses this item
                // only.
                ring.mem.at(Point::PutHalfWritten)?;
                Ok((len as u32, crc))
            })
        })?;
        Ok(stored.is_some())
    }

    /// Calls the pending `write` (if any) on slot `seq`'s first `len`
    /// payload bytes and returns their item CRC. The caller owns the slot
    /// as a producer.
    fn fill_slot(&self, seq: u64, len: usize, write: &mut Option<impl FnOnce(&mut [u8])>) -> u32 {
        // SAFETY: the callers (attempts of `try_put` or `put_many_with`)
        // hold the producers' lock and own slot `seq`.
        unsafe {
            self.mem.with_payload_mut(seq, 0, len, |dst| {
                if let Some(w) = write.take() {
                    w(dst);
                }
                item_crc(dst)
            })
        }
    }

    /// Takes the oldest item into `buf`, waiting up to `timeout` for one;
    /// returns its length in bytes, or `None` if the ring is still empty at
    /// the deadline (at once for a zero timeout).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] (the item stays), [`Error::Corrupt`] (the
    /// item failed its check and is consumed), and the lock's errors.
    pub fn get_into_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, M::Error> {
        let got = self.blocking(timeout, self.mem.tail(), self.mem.get_waiters(), |wait| {
            self.try_get(buf, wait)
        })?;
        match got {
            Some((len, crc, seq)) => {
                self.verify(&buf[..len], crc, seq)?;
                Ok(Some(len))
            }
            None => Ok(None),
        }
    }

    /// Takes the oldest item, waiting up to `timeout`; `None` if still empty.
    ///
    /// # Errors
    /// As [`get_into_timeout`](Self::get_into_timeout).
    pub fn get_timeout(&self, timeout: Duration) -> Result<Option<Vec<u8>>, M::Error> {
        let mut buf = vec![0u8; self.item_size()];
        Ok(self.get_into_timeout(&mut buf, timeout)?.map(|n| {
            buf.truncate(n);
            buf
        }))
    }

    /// Reads the oldest item in place: waits up to `timeout` for one, checks
    /// its CRC in place, calls `read` with it under the consumers' lock and
    /// then consumes it. `None` if the ring stayed empty. If `read` panics
    /// the item stays in the ring.
    ///
    /// # Errors
    /// [`Error::Corrupt`] (the item failed its check and is consumed;
    /// `read` is not called), and the lock's errors.
    pub fn get_with<R>(
        &self,
        timeout: Duration,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, M::Error> {
        let mut read = Some(read);
        let got = self.blocking(timeout, self.mem.tail(), self.mem.get_waiters(), |wait| {
            let mut out = None;
            let taken = self.take_in_place(1, wait, |item| {
                if let Some(r) = read.take() {
                    out = Some(r(item));
                }
                true
            })?;
            Ok(taken.map(|_| out))
        })?;
        Ok(got.flatten())
    }

    /// Stores items from the front of `items` until the ring is full, under
    /// one acquisition of the producers' lock, committed by one store of
    /// `tail`. Returns how many were stored.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if any item is over `item_size` (nothing is
    /// stored), and the lock's errors.
    pub fn put_many(&self, items: &[&[u8]]) -> Result<usize, M::Error> {
        for item in items {
            self.check_len(item.len())?;
        }
        let mut next = items.iter();
        self.put_many_with(items.len(), |dst| {
            let item = next.next()?;
            dst[..item.len()].copy_from_slice(item);
            Some(item.len())
        })
    }

    /// Writes up to `max` items in place under one acquisition of the
    /// producers' lock and commits them with one store of `tail`: for each
    /// free slot, `write` gets the slot's whole payload (`item_size` bytes)
    /// and returns the item's length, or `None` to stop (that slot stays
    /// free). Returns how many items were stored; 0 if the ring was full.
    /// If `write` panics, nothing of this batch is published.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `write` returns a length over `item_size`
    /// (nothing of this batch is published), and the lock's errors.
    pub fn put_many_with(
        &self,
        max: usize,
        write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<usize, M::Error> {
        self.put_many_with_timeout(max, Duration::ZERO, write)
    }

    /// [`put_many_with`](Self::put_many_with), waiting up to `timeout` for
    /// a free slot; 0 if the ring stayed full (`write` not called).
    ///
    /// # Errors
    /// As [`put_many_with`](Self::put_many_with).
    pub fn put_many_with_timeout(
        &self,
        max: usize,
        timeout: Duration,
        mut write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<usize, M::Error> {
        if max == 0 {
            return Ok(0);
        }
        let stored = self.blocking(timeout, self.mem.head(), self.mem.put_waiters(), |wait| {
            self.try_put_many(max, wait, &mut write)
        })?;
        Ok(stored.unwrap_or(0))
    }

    /// The critical section of the in-place batch put: up to `max` (at
    /// least 1) items. `Blocked(head)` if the ring is full.
    fn try_put_many(
        &self,
        max: usize,
        wait: LockWait<M::Deadline>,
        mut write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<std::result::Result<usize, Blocked>, M::Error> {
        let guard = self.lock(Side::Producer, wait)?;
        let m = &self.mem;
        let tail = m.tail().load(Relaxed);
        let free = match self.free_slots(tail, max as u64)? {
            Ok(free) => free,
            Err(blocked) => {
                m.count(Counter::FullRefusal);
                return Ok(Err(blocked));
            }
        };
        let size = self.item_size();
        let mut n = 0u64;
        while n < free.min(max as u64) {
            let seq = tail + n;
            // SAFETY: the producers' lock is held and `seq` is below the
            // free limit `free_slots` computed from an Acquire read.
            let len = unsafe { m.with_payload_mut(seq, 0, size, &mut write) };
            let Some(len) = len else { break };
            self.check_len(len)?;
            // SAFETY: as above.
            let crc = unsafe { m.with_payload_mut(seq, 0, len, |b| item_crc(b)) };
            // SAFETY: as above.
            unsafe { m.write_prefix(seq, len as u32, crc) };
            n += 1;
        }
        if n > 0 {
            m.tail().store(tail + n, Release);
        }
        drop(guard);
        if n > 0 {
            self.signal_consumers();
        }
        Ok(Ok(n as usize))
    }

    /// Takes up to `max` items, oldest first, under one acquisition of the
    /// consumers' lock (one store of `head` commits them all), and passes
    /// each to `f` after the lock is released and its CRC checked. Returns
    /// how many were taken.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for the first item that failed its check (every
    /// taken item that passed went to `f` first; all taken items are
    /// consumed), and the lock's errors.
    pub fn get_many(&self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize, M::Error> {
        let item_size = self.item_size();
        let mut scratch: Vec<u8> = Vec::new();
        // (offset in scratch, len, stored crc, seq); len over item_size = damaged.
        let mut taken: Vec<(usize, usize, u32, u64)> = Vec::new();
        {
            let guard = self.lock(Side::Consumer, LockWait::Configured)?;
            let m = &self.mem;
            let head = m.head().load(Relaxed);
            let n = match self.stored_items(head, max as u64)? {
                Ok(n) => n.min(max as u64),
                Err(_) => 0,
            };
            if n == 0 {
                m.count(Counter::EmptyGet);
                return Ok(0);
            }
            for seq in head..head + n {
                // SAFETY: the consumers' lock is held and `seq` is below
                // `tail` as read with Acquire.
                let (len, crc) = unsafe { m.read_prefix(seq) };
                let len = len as usize;
                let at = scratch.len();
                if len <= item_size {
                    scratch.resize(at + len, 0);
                    // SAFETY: as above.
                    unsafe { m.with_payload(seq, len, |src| scratch[at..].copy_from_slice(src)) };
                }
                taken.push((at, len, crc, seq));
            }
            m.head().store(head + n, Release);
            drop(guard);
            self.signal_producers();
        }
        let mut first_bad = None;
        for &(at, len, crc, seq) in &taken {
            if len <= item_size && item_crc(&scratch[at..at + len]) == crc {
                f(&scratch[at..at + len]);
            } else {
                self.mem.count(Counter::CorruptItem);
                first_bad.get_or_insert(seq);
            }
        }
        match first_bad {
            Some(seq) => Err(self
                .corrupt(seq, "CRC32 mismatch or length over the item size")
                .into()),
            None => Ok(taken.len()),
        }
    }

    /// Reads up to `max` items in place, oldest first, under one
    /// acquisition of the consumers' lock, and consumes them with one store
    /// of `head`: each item whose CRC checks is passed to `read` in the
    /// slot, under the lock; `read` returns false to stop before that item
    /// (it and the ones after it stay). Returns how many were taken (0 if
    /// empty). If `read` panics, none of this batch is consumed.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for the first item that failed its check (every
    /// other taken item went to `read`; all are consumed), and the lock's
    /// errors.
    pub fn get_many_with(
        &self,
        max: usize,
        read: impl FnMut(&[u8]) -> bool,
    ) -> Result<usize, M::Error> {
        self.get_many_with_timeout(max, Duration::ZERO, read)
    }

    /// [`get_many_with`](Self::get_many_with), waiting up to `timeout` for
    /// an item; 0 if the ring stayed empty.
    ///
    /// # Errors
    /// As [`get_many_with`](Self::get_many_with).
    pub fn get_many_with_timeout(
        &self,
        max: usize,
        timeout: Duration,
        mut read: impl FnMut(&[u8]) -> bool,
    ) -> Result<usize, M::Error> {
        if max == 0 {
            return Ok(0);
        }
        let taken = self.blocking(timeout, self.mem.tail(), self.mem.get_waiters(), |wait| {
            self.take_in_place(max, wait, &mut read)
        })?;
        Ok(taken.unwrap_or(0))
    }

    /// The critical section of the in-place gets: up to `max` (at least 1)
    /// items, each checked and passed to `read` in its slot until `read`
    /// returns false, consumed by one store. `Blocked(tail)` if empty.
    fn take_in_place(
        &self,
        max: usize,
        wait: LockWait<M::Deadline>,
        mut read: impl FnMut(&[u8]) -> bool,
    ) -> Result<std::result::Result<usize, Blocked>, M::Error> {
        let guard = self.lock(Side::Consumer, wait)?;
        let m = &self.mem;
        let head = m.head().load(Relaxed);
        let n = match self.stored_items(head, max as u64)? {
            Ok(n) => n.min(max as u64),
            Err(blocked) => {
                m.count(Counter::EmptyGet);
                return Ok(Err(blocked));
            }
        };
        let item_size = self.item_size();
        let mut first_bad = None;
        let mut taken = 0;
        while taken < n {
            let seq = head + taken;
            // SAFETY: the consumers' lock is held and `seq` is below `tail`
            // as read with Acquire (`stored_items`).
            let (len, crc) = unsafe { m.read_prefix(seq) };
            let len = len as usize;
            // None: damaged; Some(false): `read` stopped before this item.
            let verdict = if len <= item_size {
                // SAFETY: as above.
                unsafe {
                    m.with_payload(seq, len, |item| (item_crc(item) == crc).then(|| read(item)))
                }
            } else {
                None
            };
            match verdict {
                Some(false) => break,
                Some(true) => {}
                None => {
                    m.count(Counter::CorruptItem);
                    first_bad.get_or_insert(seq);
                }
            }
            taken += 1;
        }
        if taken > 0 {
            m.at(Point::GetCopied)?;
            m.head().store(head + taken, Release);
        }
        drop(guard);
        if taken > 0 {
            self.signal_producers();
        }
        match first_bad {
            Some(seq) => Err(self
                .corrupt(seq, "CRC32 mismatch or length over the item size")
                .into()),
            None => Ok(Ok(taken as usize)),
        }
    }

    /// Items stored now.
    ///
    /// # Errors
    /// The lock's errors, [`Error::CorruptHeader`].
    pub fn len(&self) -> Result<usize> {
        self.snapshot(|head, tail| (tail - head) as usize)
    }

    /// Runs `f(head, tail)` on a consistent snapshot of the indices, taken
    /// without any lock, so that it never waits for a producer or consumer
    /// that holds one (for example a producer blocked in a read inside
    /// `put_many_with`). `tail` is read before and after `head`: if it did
    /// not move, `head` was read while `tail` had that value, and the pair
    /// satisfies the invariant unless the segment is damaged. After 64
    /// reads that each saw `tail` move it takes both locks instead (the
    /// consumers' first, the one order anything takes both in).
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn snapshot<R>(&self, f: impl FnOnce(u64, u64) -> R) -> Result<R> {
        let m = &self.mem;
        for _ in 0..64 {
            let before = m.tail().load(Acquire);
            let head = m.head().load(Acquire);
            if m.tail().load(Acquire) == before {
                layout::check_indices(head, before, m.capacity())?;
                return Ok(f(head, before));
            }
        }
        let _consumers = self.lock(Side::Consumer, LockWait::Configured)?;
        let _producers = self.lock(Side::Producer, LockWait::Configured)?;
        let head = m.head().load(Acquire);
        let tail = m.tail().load(Acquire);
        layout::check_indices(head, tail, m.capacity())?;
        Ok(f(head, tail))
    }

    /// Flips one bit of the oldest item as stored (its first payload byte,
    /// or its CRC for a 0-byte item), so that the next get reports
    /// [`Error::Corrupt`]. Returns false if the ring is empty.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    #[cfg(feature = "test-hooks")]
    pub fn corrupt_oldest(&self) -> Result<bool> {
        let _guard = self.lock(Side::Consumer, LockWait::Configured)?;
        let head = self.mem.head().load(Relaxed);
        if self.stored_items(head, 1)?.is_err() {
            return Ok(false);
        }
        // SAFETY: the consumers' lock is held and `head` is below `tail`
        // as read with Acquire.
        let (len, _) = unsafe { self.mem.read_prefix(head) };
        let offset = if len == 0 { 4 } else { layout::SLOT_PREFIX };
        // SAFETY: as above.
        unsafe { self.mem.flip_bit(head, offset) };
        Ok(true)
    }
}
