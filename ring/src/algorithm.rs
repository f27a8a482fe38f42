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
//! and it is full when that equals `capacity`. Both counters and the slots
//! change only under the ring's lock, which orders all of them (its lock is
//! an Acquire, its unlock a Release); the counters are atomics because
//! another process may touch these words at any time, not to order them
//! among themselves.
//!
//! A put writes the slot (length, CRC, payload), signals consumers, then
//! stores `tail + 1`; a get copies the slot out, signals producers, then
//! stores `head + 1`. That last store is the commit point: an owner that
//! dies before it changed nothing visible, one that dies after it completed
//! the operation. Recovery after a dead lock owner therefore has nothing to
//! roll back; the next owner re-checks the indices and marks the lock
//! consistent.
//!
//! # Waiting
//! Each side has a futex word, bumped (SeqCst) by every operation of the
//! other side, and a waiter count. A waiter registers (`waiters += 1`,
//! SeqCst), re-reads the word (SeqCst) and sleeps only if it is unchanged;
//! a signaller bumps the word, then reads the count (SeqCst) and wakes all
//! sleepers if it is non-zero. In the single order of these SeqCst
//! operations either the signaller sees the registration or the waiter sees
//! the bump (the store-buffering pattern; Drepper, "Futexes Are Tricky",
//! 2011), and the futex wait re-checks the word atomically, so no wake-up is
//! lost. A signaller that wakes sleepers also clears the registrations,
//! and a waiter back from an unwoken sleep removes only its own, so a
//! waiter killed asleep is not counted for ever (`crate::waiters`). The
//! signal comes before the commit, inside the lock: a woken waiter
//! then blocks on the lock, and if the signaller dies before it commits or
//! unlocks, the lock passes on as "owner died", so a waiter can never sleep
//! through a committed operation.
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
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};
use std::time::Duration;

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
/// critical section (the ring lock is held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// `put`: the slot prefix and half the payload are written; nothing is
    /// published.
    PutHalfWritten,
    /// `put`: the item is committed (tail advanced) but the lock is not yet
    /// released.
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
    /// A signal bumps the futex word but never wakes the sleepers.
    MissedNotify,
    /// A put stores `tail` after releasing the lock, so another producer can
    /// claim the same slot.
    CommitOutsideLock,
    /// A put publishes `tail` (and unlocks) before it writes the slot, so a
    /// consumer can read a slot that is still being written.
    PublishBeforeWrite,
    /// The signaller reads the waiter count with a Relaxed load instead of
    /// SeqCst, breaking the store-buffering pair.
    RelaxedWaiterCount,
    /// A put signals consumers after its commit instead of before, so an
    /// owner that dies between the two leaves consumers asleep.
    SignalAfterCommit,
}

#[cfg(any(loom, shuttle))]
impl Fault {
    /// Every fault, in declaration order.
    #[cfg_attr(not(feature = "model"), allow(dead_code))]
    pub const ALL: [Fault; 5] = [
        Fault::MissedNotify,
        Fault::CommitOutsideLock,
        Fault::PublishBeforeWrite,
        Fault::RelaxedWaiterCount,
        Fault::SignalAfterCommit,
    ];
}

/// Where a ring's header words, lock, futexes and slots live.
///
/// Implementations provide storage and primitives; [`Ring`] holds the whole
/// algorithm. The slot accessors take the item's sequence number `seq` (not
/// the slot index) and reduce it modulo [`capacity`](Self::capacity)
/// themselves.
///
/// # Safety
/// Implementations promise that the slot accessors never panic and never
/// touch memory outside the ring, whatever `seq`, `offset` and lengths they
/// get. (`fault`, which lets a slot be accessed without the lock, exists
/// only under loom or shuttle, whose model threads run one at a time on one
/// OS thread, so that such an access is no data race in the program; loom's
/// cells then report it as a race in the model.)
pub unsafe trait RingMemory: Send + Sync {
    /// The error of every operation: [`Error`], or a type that can carry
    /// it and whatever else the memory reports from [`at`](Self::at).
    type Error: From<Error>;
    /// A 64-bit header word.
    type Word64: AtomicWord<u64>;
    /// A 32-bit header word; futex words are of this type.
    type Word32: AtomicWord<u32>;
    /// Holds the lock; dropping it unlocks.
    type Guard<'a>
    where
        Self: 'a;
    /// An absolute instant on the memory's clock.
    type Deadline: Copy;
    /// Polls of a futex word before a waiter registers and sleeps.
    const SPIN_LIMIT: u32;

    /// Slots, items; at least 1.
    fn capacity(&self) -> u32;
    /// Largest item, bytes; at least 1.
    fn item_size(&self) -> u32;
    /// Items ever consumed.
    fn head(&self) -> &Self::Word64;
    /// Items ever stored.
    fn tail(&self) -> &Self::Word64;
    /// Futex word bumped by every get; producers sleep on it.
    fn get_seq(&self) -> &Self::Word32;
    /// Producers registered as sleeping on `get_seq`.
    fn put_waiters(&self) -> &Self::Word32;
    /// Futex word bumped by every put; consumers sleep on it.
    fn put_seq(&self) -> &Self::Word32;
    /// Consumers registered as sleeping on `put_seq`.
    fn get_waiters(&self) -> &Self::Word32;
    /// Adds one to a statistics counter.
    fn count(&self, counter: Counter);

    /// Takes the lock, waiting for a live owner as `wait` says; a dead
    /// owner's lock is taken over ([`Acquired::OwnerDied`]).
    ///
    /// # Errors
    /// [`Error::LockTimeout`] (the wait ran out), [`Error::CorruptHeader`]
    /// (the lock's words are out of range), [`Error::Io`].
    fn lock(&self, wait: LockWait<Self::Deadline>) -> Result<(Self::Guard<'_>, Acquired)>;
    /// Marks the state consistent after an [`Acquired::OwnerDied`] lock.
    fn mark_consistent(&self, guard: &Self::Guard<'_>);

    /// `timeout` from now.
    fn deadline(&self, timeout: Duration) -> Self::Deadline;
    /// Whether `deadline` has passed.
    fn passed(&self, deadline: Self::Deadline) -> bool;
    /// Sleeps while `word == expected`, until woken or `deadline`; may
    /// return spuriously. The comparison and the sleep are atomic with
    /// respect to [`wake_all`](Self::wake_all) (futex semantics).
    fn wait(&self, word: &Self::Word32, expected: u32, deadline: Self::Deadline);
    /// Wakes every sleeper on `word`.
    fn wake_all(&self, word: &Self::Word32);
    /// Called once per spin poll.
    fn spin_hint(&self);

    /// The `(len, crc)` prefix of item `seq`'s slot.
    ///
    /// # Safety
    /// The caller holds this memory's lock.
    unsafe fn read_prefix(&self, seq: u64) -> (u32, u32);
    /// Copies `dst.len()` (at most `item_size`) payload bytes of item `seq`.
    ///
    /// # Safety
    /// The caller holds this memory's lock.
    unsafe fn read_payload(&self, seq: u64, dst: &mut [u8]);
    /// Writes the `(len, crc)` prefix of item `seq`'s slot.
    ///
    /// # Safety
    /// The caller holds this memory's lock.
    unsafe fn write_prefix(&self, seq: u64, len: u32, crc: u32);
    /// Writes `src` at byte `offset` of item `seq`'s payload; bytes past
    /// `item_size` are dropped.
    ///
    /// # Safety
    /// The caller holds this memory's lock.
    unsafe fn write_payload(&self, seq: u64, offset: usize, src: &[u8]);
    /// Flips bit 0 of byte `offset % stride` of item `seq`'s slot, where
    /// the slot is the prefix followed by the payload (`test-hooks` only).
    ///
    /// # Safety
    /// The caller holds this memory's lock.
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

/// Why a put did not store.
enum Put {
    Stored,
    /// Full; `get_seq` as read under the lock.
    Full(u32),
}

/// The ring algorithm over memory `M`.
#[derive(Debug)]
pub struct Ring<M> {
    mem: M,
}

/// A copied-out item: `(len, stored crc, seq)`.
type Copied = (usize, u32, u64);

impl<M: RingMemory> Ring<M> {
    /// Wraps `mem`, whose header must already be initialised.
    pub fn new(mem: M) -> Self {
        Ring { mem }
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

    // Slot access. Each helper takes the live guard as proof that the lock
    // is held, which is the accessors' safety contract.

    fn read_prefix(&self, _held: &M::Guard<'_>, seq: u64) -> (u32, u32) {
        // SAFETY: `_held` is a live guard of this memory's lock.
        unsafe { self.mem.read_prefix(seq) }
    }

    fn read_payload(&self, _held: &M::Guard<'_>, seq: u64, dst: &mut [u8]) {
        // SAFETY: as in read_prefix.
        unsafe { self.mem.read_payload(seq, dst) }
    }

    fn write_prefix(&self, _held: &M::Guard<'_>, seq: u64, len: u32, crc: u32) {
        // SAFETY: as in read_prefix.
        unsafe { self.mem.write_prefix(seq, len, crc) }
    }

    fn write_payload(&self, _held: &M::Guard<'_>, seq: u64, offset: usize, src: &[u8]) {
        // SAFETY: as in read_prefix.
        unsafe { self.mem.write_payload(seq, offset, src) }
    }

    #[cfg(any(loom, shuttle))]
    fn faulty(&self, fault: Fault) -> bool {
        self.mem.fault() == Some(fault)
    }

    fn lock(&self, wait: LockWait<M::Deadline>) -> Result<M::Guard<'_>> {
        let (guard, how) = self.mem.lock(wait)?;
        if how == Acquired::OwnerDied {
            // The dead owner either committed its operation or left no
            // visible trace (see the module docs), so the state is
            // consistent as it stands; the indices are re-checked by the
            // operation that follows.
            self.mem.count(Counter::LockRecovery);
            self.mem.mark_consistent(&guard);
        }
        Ok(guard)
    }

    /// Reads and checks `(head, tail)`. Call under the lock.
    fn indices(&self) -> Result<(u64, u64)> {
        let head = self.mem.head().load(Relaxed);
        let tail = self.mem.tail().load(Relaxed);
        layout::check_indices(head, tail, self.mem.capacity())?;
        Ok((head, tail))
    }

    /// Tells sleepers on `word` that something changed; see the module docs.
    fn signal(&self, word: &M::Word32, waiters: &M::Word32) {
        word.fetch_add(1, SeqCst);
        #[cfg(any(loom, shuttle))]
        let registry = if self.faulty(Fault::RelaxedWaiterCount) {
            waiters.load(Relaxed)
        } else {
            waiters.load_seqcst()
        };
        #[cfg(not(any(loom, shuttle)))]
        let registry = waiters.load_seqcst();
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
            self.mem.wake_all(word);
        }
    }

    fn signal_consumers(&self) {
        self.signal(self.mem.put_seq(), self.mem.get_waiters());
    }

    fn signal_producers(&self) {
        self.signal(self.mem.get_seq(), self.mem.put_waiters());
    }

    /// Waits until `word` differs from `seen` or `deadline` passes; false
    /// iff the deadline had passed before sleeping. Spurious returns are
    /// fine: the caller retries its operation.
    fn wait_change(
        &self,
        word: &M::Word32,
        waiters: &M::Word32,
        seen: u32,
        deadline: M::Deadline,
    ) -> bool {
        for _ in 0..M::SPIN_LIMIT {
            if word.load(Relaxed) != seen {
                return true;
            }
            self.mem.spin_hint();
        }
        if self.mem.passed(deadline) {
            return false;
        }
        let gen = waiters::generation(waiters.fetch_add(1, SeqCst));
        if word.load_seqcst() == seen {
            self.mem.wait(word, seen, deadline);
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

    fn check_len(&self, item: &[u8]) -> Result<()> {
        if item.len() > self.item_size() {
            return Err(Error::TooLarge {
                len: item.len(),
                max: self.item_size(),
            });
        }
        Ok(())
    }

    fn corrupt(&self, seq: u64, reason: &'static str) -> Error {
        Error::Corrupt {
            slot: (seq % u64::from(self.mem.capacity())) as u32,
            seq,
            reason,
        }
    }

    /// One put attempt, the whole critical section.
    fn try_put(&self, item: &[u8], crc: u32, wait: LockWait<M::Deadline>) -> Result<Put, M::Error> {
        let guard = self.lock(wait)?;
        let (head, tail) = self.indices()?;
        if tail - head == u64::from(self.mem.capacity()) {
            self.mem.count(Counter::FullRefusal);
            return Ok(Put::Full(self.mem.get_seq().load(Relaxed)));
        }
        let m = &self.mem;
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::PublishBeforeWrite) {
            self.signal_consumers();
            m.tail().store(tail + 1, Release);
            drop(guard);
            // SAFETY: not held: this seeded fault races on purpose, and
            // `RingMemory::fault` returns it only where that is no data
            // race in the program (loom, shuttle).
            unsafe {
                m.write_prefix(tail, item.len() as u32, crc);
                m.write_payload(tail, 0, item);
            }
            return Ok(Put::Stored);
        }
        self.write_prefix(&guard, tail, item.len() as u32, crc);
        let half = item.len() / 2;
        self.write_payload(&guard, tail, 0, &item[..half]);
        m.at(Point::PutHalfWritten)?;
        self.write_payload(&guard, tail, half, &item[half..]);
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::SignalAfterCommit) {
            m.tail().store(tail + 1, Release);
            m.at(Point::PutCommitted)?;
            self.signal_consumers();
            return Ok(Put::Stored);
        }
        self.signal_consumers();
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::CommitOutsideLock) {
            drop(guard);
            m.tail().store(tail + 1, Release);
            return Ok(Put::Stored);
        }
        // Commit. Release is for lock-free readers of `tail` (none on the
        // data path); lockers are ordered by the lock.
        m.tail().store(tail + 1, Release);
        m.at(Point::PutCommitted)?;
        drop(guard);
        Ok(Put::Stored)
    }

    /// One get attempt, the whole critical section: copies the oldest item
    /// into `buf` and consumes it. `Err(seen put_seq)` if empty.
    fn try_get(
        &self,
        buf: &mut [u8],
        wait: LockWait<M::Deadline>,
    ) -> Result<std::result::Result<Copied, u32>, M::Error> {
        let guard = self.lock(wait)?;
        let (head, tail) = self.indices()?;
        if head == tail {
            self.mem.count(Counter::EmptyGet);
            return Ok(Err(self.mem.put_seq().load(Relaxed)));
        }
        let (len, crc) = self.read_prefix(&guard, head);
        let len = len as usize;
        if len > self.item_size() {
            // An impossible length: the slot is damaged. Consume it so the
            // items behind it stay reachable.
            self.mem.count(Counter::CorruptItem);
            self.signal_producers();
            self.mem.head().store(head + 1, Release);
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
        self.read_payload(&guard, head, &mut buf[..len]);
        self.mem.at(Point::GetCopied)?;
        self.signal_producers();
        self.mem.head().store(head + 1, Release);
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
        self.check_len(item)?;
        Ok(matches!(
            self.try_put(item, item_crc(item), LockWait::Configured)?,
            Put::Stored
        ))
    }

    /// Stores `item`, waiting up to `timeout` for space: `Ok(false)` if the
    /// ring was still full at the deadline.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_timeout(&self, item: &[u8], timeout: Duration) -> Result<bool, M::Error> {
        self.check_len(item)?;
        let crc = item_crc(item);
        // The deadline is computed once the first attempt found the ring
        // full: a clock read per operation is measurable on the fast path.
        let mut deadline = None;
        loop {
            let seen = match self.try_put(item, crc, LockWait::of(timeout, deadline))? {
                Put::Stored => return Ok(true),
                Put::Full(seen) => seen,
            };
            if timeout.is_zero() {
                return Ok(false);
            }
            let deadline = *deadline.get_or_insert_with(|| self.mem.deadline(timeout));
            if !self.wait_change(self.mem.get_seq(), self.mem.put_waiters(), seen, deadline) {
                return Ok(false);
            }
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
        let mut deadline = None;
        loop {
            let seen = match self.try_get(buf, LockWait::of(timeout, deadline))? {
                Ok((len, crc, seq)) => {
                    self.verify(&buf[..len], crc, seq)?;
                    return Ok(Some(len));
                }
                Err(seen) => seen,
            };
            if timeout.is_zero() {
                return Ok(None);
            }
            let deadline = *deadline.get_or_insert_with(|| self.mem.deadline(timeout));
            if !self.wait_change(self.mem.put_seq(), self.mem.get_waiters(), seen, deadline) {
                return Ok(None);
            }
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

    /// Stores items from the front of `items` until the ring is full, under
    /// one acquisition of the lock, committed by one store of `tail`.
    /// Returns how many were stored.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if any item is over `item_size` (nothing is
    /// stored), and the lock's errors.
    pub fn put_many(&self, items: &[&[u8]]) -> Result<usize, M::Error> {
        for item in items {
            self.check_len(item)?;
        }
        let crcs: Vec<u32> = items.iter().map(|i| item_crc(i)).collect();
        let guard = self.lock(LockWait::Configured)?;
        let (head, tail) = self.indices()?;
        let free = u64::from(self.mem.capacity()) - (tail - head);
        let n = (items.len() as u64).min(free);
        if n == 0 {
            if !items.is_empty() {
                self.mem.count(Counter::FullRefusal);
            }
            return Ok(0);
        }
        for (k, (item, crc)) in items.iter().zip(&crcs).take(n as usize).enumerate() {
            let seq = tail + k as u64;
            self.write_prefix(&guard, seq, item.len() as u32, *crc);
            self.write_payload(&guard, seq, 0, item);
        }
        self.signal_consumers();
        self.mem.tail().store(tail + n, Release);
        Ok(n as usize)
    }

    /// Takes up to `max` items, oldest first, under one acquisition of the
    /// lock (one store of `head` commits them all), and passes each to `f`
    /// after the lock is released and its CRC checked. Returns how many were
    /// taken.
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
            let guard = self.lock(LockWait::Configured)?;
            let (head, tail) = self.indices()?;
            let n = (tail - head).min(max as u64);
            if n == 0 {
                self.mem.count(Counter::EmptyGet);
                return Ok(0);
            }
            for seq in head..head + n {
                let (len, crc) = self.read_prefix(&guard, seq);
                let len = len as usize;
                let at = scratch.len();
                if len <= item_size {
                    scratch.resize(at + len, 0);
                    self.read_payload(&guard, seq, &mut scratch[at..]);
                }
                taken.push((at, len, crc, seq));
            }
            self.signal_producers();
            self.mem.head().store(head + n, Release);
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

    /// Items stored now.
    ///
    /// # Errors
    /// The lock's errors, [`Error::CorruptHeader`].
    pub fn len(&self) -> Result<usize> {
        self.with_lock(|head, tail| (tail - head) as usize)
    }

    /// Runs `f(head, tail)` under the lock, with the indices checked.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn with_lock<R>(&self, f: impl FnOnce(u64, u64) -> R) -> Result<R> {
        let _guard = self.lock(LockWait::Configured)?;
        let (head, tail) = self.indices()?;
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
        let guard = self.lock(LockWait::Configured)?;
        let (head, tail) = self.indices()?;
        if head == tail {
            return Ok(false);
        }
        let (len, _) = self.read_prefix(&guard, head);
        let offset = if len == 0 { 4 } else { layout::SLOT_PREFIX };
        // SAFETY: `guard` holds the lock.
        unsafe { self.mem.flip_bit(head, offset) };
        Ok(true)
    }
}
