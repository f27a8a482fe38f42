//! [`SegmentMemory`]: a mapped segment as the [`RingMemory`] of the ring
//! algorithm ([`crate::algorithm`]): the header's words (`std` atomics in
//! shared memory), the two locks of [`crate::lock`] and the single roles,
//! process-shared futexes on CLOCK_MONOTONIC deadlines with the
//! asymmetric fences of [`crate::sys::membarrier`], and slots whose every
//! access is bounds-checked against the validated geometry.

use crate::algorithm::{Acquired, Counter, LockWait, RingMemory, Side};
use crate::error::{Error, Result};
use crate::layout::{self, Geometry, Header};
use crate::lock;
use crate::sys::futex::{self, Deadline};
use crate::sys::membarrier;
use crate::sys::segment::Segment;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A mapped segment as [`RingMemory`].
#[derive(Debug)]
pub(crate) struct SegmentMemory {
    pub(crate) seg: Segment,
    /// Validated against the mapping's length at create or open.
    geometry: Geometry,
    lock_timeout: Duration,
    /// This handle's session token ([`crate::lock`]).
    pub(crate) token: u32,
    /// By [`side_index`]: the side has a single role holder
    /// (`Config::single_producer`, `single_consumer`), read from the
    /// header's flags at create or open and never re-read.
    pub(crate) single: [bool; 2],
    /// By [`side_index`]: the [`thread_key`] of the thread of this handle
    /// that holds the side's role, that is its lock, until the handle
    /// closes; 0 if none. Process-local. The role is the thread's, not the
    /// whole handle's: the holder's operations take no lock, so two threads
    /// must not run them at once, and a check of a thread-local key is the
    /// one check that costs no RMW.
    held: [AtomicU64; 2],
}

/// Index of `side` in [`SegmentMemory::single`] and `held`.
fn side_index(side: Side) -> usize {
    match side {
        Side::Producer => 0,
        Side::Consumer => 1,
    }
}

/// The keys of the threads of this process that have taken a key and not
/// exited yet. Locked once when a thread takes its key, once when it
/// exits, and when a thread finds a role held by another key: never on a
/// data path.
static LIVE_KEYS: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

/// A thread's key, removed from [`LIVE_KEYS`] when the thread exits.
struct ThreadKey(u64);

impl Drop for ThreadKey {
    fn drop(&mut self) {
        // The exiting thread's last use of any role happens-before this
        // unlock; a thread that then finds the key gone (under the same
        // lock) takes the role over after it.
        LIVE_KEYS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// A key of the calling thread, unique in the process and never 0.
fn thread_key() -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static KEY: ThreadKey = {
            let key = NEXT.fetch_add(1, Relaxed);
            LIVE_KEYS.lock().unwrap_or_else(PoisonError::into_inner).insert(key);
            ThreadKey(key)
        };
    }
    // While the thread's local storage is being torn down the key is gone:
    // such a late call gets a key that holds nothing (0 is never held).
    KEY.try_with(|k| k.0).unwrap_or(0)
}

/// Whether the thread of `key` has exited (its [`ThreadKey`] dropped).
fn thread_exited(key: u64) -> bool {
    !LIVE_KEYS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(&key)
}

/// Releases one side's lock when dropped, on every path, unless the handle
/// holds that side's role (then the lock stays until the handle closes).
pub(crate) struct SegmentGuard<'a> {
    mem: &'a SegmentMemory,
    side: Side,
    release: bool,
}

impl Drop for SegmentGuard<'_> {
    fn drop(&mut self) {
        if self.release {
            lock::release(&self.mem.lock_sys(self.side), self.mem.token);
        }
    }
}

impl Drop for SegmentMemory {
    /// Gives up the roles this handle holds (before the segment unmaps).
    fn drop(&mut self) {
        for side in [Side::Producer, Side::Consumer] {
            if self.held[side_index(side)].load(Relaxed) != 0 {
                lock::release(&self.lock_sys(side), self.token);
            }
        }
    }
}

impl SegmentMemory {
    pub(crate) fn header(&self) -> &Header {
        self.seg.header()
    }

    fn lock_sys(&self, side: Side) -> lock::SegmentLock<'_> {
        lock::SegmentLock {
            line: self.lock_words(side),
            fd: self.seg.fd(),
        }
    }

    fn lock_words(&self, side: Side) -> &layout::LockWords {
        match side {
            Side::Producer => &self.header().producer_lock.0,
            Side::Consumer => &self.header().consumer_lock.0,
        }
    }

    /// Wraps `seg` as a session of its ring: claims a token.
    pub(crate) fn attach(seg: Segment, geometry: Geometry, lock_timeout: Duration) -> Result<Self> {
        membarrier::register();
        let h = seg.header();
        let token = lock::claim(
            &h.counters.0.next_token,
            &[&h.producer_lock.0, &h.consumer_lock.0],
            seg.fd(),
        )?;
        let flags = h.id.0.flags.load(Relaxed);
        Ok(SegmentMemory {
            seg,
            geometry,
            lock_timeout,
            token,
            single: [
                flags & layout::FLAG_SINGLE_PRODUCER != 0,
                flags & layout::FLAG_SINGLE_CONSUMER != 0,
            ],
            held: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }
}

/// How long a put or get that must wait for space or an item spins
/// before it sleeps (`RingMemory::spin`).
const WAIT_SPIN: Duration = Duration::from_micros(20);

/// Longest single futex sleep of a put or get waiting for space or an
/// item: it then retries, so a wake lost to a process that died between
/// its commit and its wake, or to a hostile write of a waiter count, costs
/// at most this much.
const WAIT_NAP: Duration = Duration::from_millis(100);

// SAFETY: the slot accessors go through `Segment`, which reduces `seq`
// modulo the capacity validated against the mapping and clamps every range
// to the slot; `fault` (loom and shuttle builds only) keeps its default,
// `None`.
unsafe impl RingMemory for SegmentMemory {
    type Error = Error;
    type Word64 = AtomicU64;
    type Word32 = AtomicU32;
    type Guard<'a> = SegmentGuard<'a>;
    type Deadline = Deadline;

    fn capacity(&self) -> u32 {
        self.geometry.capacity
    }
    fn item_size(&self) -> u32 {
        self.geometry.item_size
    }
    fn head(&self) -> &AtomicU64 {
        &self.header().consumer.0.head
    }
    fn tail(&self) -> &AtomicU64 {
        &self.header().producer.0.tail
    }
    fn put_waiters(&self) -> &AtomicU32 {
        &self.header().consumer.0.put_waiters
    }
    fn get_waiters(&self) -> &AtomicU32 {
        &self.header().producer.0.get_waiters
    }
    fn count(&self, counter: Counter) {
        let k = &self.header().counters.0;
        match counter {
            Counter::FullRefusal => k.full_refusals.fetch_add(1, Relaxed),
            Counter::EmptyGet => k.empty_gets.fetch_add(1, Relaxed),
            Counter::CorruptItem => k.corrupt_items.fetch_add(1, Relaxed),
            Counter::LateWakeup => k.late_wakeups.fetch_add(1, Relaxed),
            Counter::Sleep => k.sleeps.fetch_add(1, Relaxed),
            Counter::LockRecovery => {
                k.last_recovery_pid.store(std::process::id(), Relaxed);
                k.lock_recoveries.fetch_add(1, Relaxed)
            }
        };
    }

    fn lock(&self, side: Side, wait: LockWait<Deadline>) -> Result<(SegmentGuard<'_>, Acquired)> {
        let i = side_index(side);
        let words = self.lock_words(side);
        if !self.single[i] {
            let how = lock::acquire(&self.lock_sys(side), self.token, wait, self.lock_timeout)?;
            let guard = SegmentGuard {
                mem: self,
                side,
                release: true,
            };
            return Ok((guard, how));
        }
        let guard = SegmentGuard {
            mem: self,
            side,
            release: false,
        };
        // A role holder's data path: a thread-local read and one plain
        // load of its own lock line. Relaxed: the lock was acquired
        // (Acquire) by this very thread when it took the role, and only it
        // has written the side's words since.
        let me = thread_key();
        match self.held[i].load(Relaxed) {
            0 => {}
            k if k == me && me != 0 => {
                if words.owner.load(Relaxed) == self.token {
                    return Ok((guard, Acquired::Clean));
                }
                // Overwritten behind the holder's back (no live process
                // takes a live holder's lock): take the role again below.
                self.held[i].store(0, Relaxed);
            }
            // The holder thread exited without closing the handle: this
            // thread takes the role over, lock and all. The lock of
            // LIVE_KEYS in `thread_exited` orders the holder's last
            // operation before this one; the exchange lets one thread win.
            k if me != 0
                && thread_exited(k)
                && self.held[i]
                    .compare_exchange(k, me, AcqRel, Acquire)
                    .is_ok() =>
            {
                if words.owner.load(Relaxed) == self.token {
                    return Ok((guard, Acquired::Clean));
                }
                self.held[i].store(0, Relaxed);
            }
            _ => return Err(Error::RoleTaken { role: side.role() }),
        }
        // Taking the role: wait briefly for a holder that is closing, and
        // report a live one as the role being taken.
        let how = match lock::acquire(
            &self.lock_sys(side),
            self.token,
            LockWait::For(Duration::ZERO),
            self.lock_timeout,
        ) {
            Ok(how) => how,
            Err(Error::LockTimeout { .. }) => return Err(Error::RoleTaken { role: side.role() }),
            Err(e) => return Err(e),
        };
        self.held[i].store(me, Relaxed);
        Ok((guard, how))
    }

    /// Nothing to mark: the lock word already names this session.
    fn mark_consistent(&self, _guard: &SegmentGuard<'_>) {}

    fn deadline(&self, timeout: Duration) -> Deadline {
        Deadline::after(timeout)
    }
    fn passed(&self, deadline: Deadline) -> bool {
        deadline.passed()
    }
    fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline, covered: bool) -> bool {
        let nap = if covered {
            WAIT_NAP
        } else {
            membarrier::UNCOVERED_NAP
        };
        futex::wait(word, expected, deadline.min(Deadline::after(nap)))
    }
    fn wake_all(&self, word: &AtomicU32) {
        futex::wake_all(word);
    }
    fn commit_fence(&self) {
        membarrier::commit_fence();
    }
    fn waiter_fence(&self) -> bool {
        membarrier::waiter_fence()
    }
    /// Spins up to [`WAIT_SPIN`]: a futex sleep and wake cost 7-27 us on
    /// the machines measured, about what a peer needs to answer, so a
    /// waiter that spins that long first (Karlin et al., "Competitive
    /// Randomized Algorithms for Non-Uniform Problems", 1990: spin for the
    /// cost of blocking) wakes in a few hundred ns when the peer is quick,
    /// and pays at most twice the optimum when it is not. The clock is read
    /// every 64 polls.
    fn spin(&self, mut changed: impl FnMut() -> bool) -> bool {
        // The clock is read only once the first 64 polls found nothing:
        // most waits end sooner.
        let mut deadline = None;
        loop {
            for _ in 0..64 {
                if changed() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if deadline
                .get_or_insert_with(|| Deadline::after(WAIT_SPIN))
                .passed()
            {
                return false;
            }
        }
    }

    fn prefetch_for_write(&self, seq: u64) {
        self.seg.prefetch_for_write(&self.geometry, seq);
    }
    unsafe fn read_prefix(&self, seq: u64) -> (u32, u32) {
        self.seg.read_prefix(&self.geometry, seq)
    }
    unsafe fn with_payload<R>(&self, seq: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: the caller owns the slot (this trait method's contract).
        unsafe { self.seg.with_payload(&self.geometry, seq, len, f) }
    }
    unsafe fn write_prefix(&self, seq: u64, len: u32, crc: u32) {
        self.seg.write_prefix(&self.geometry, seq, len, crc);
    }
    unsafe fn with_payload_mut<R>(
        &self,
        seq: u64,
        offset: usize,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> R {
        // SAFETY: as in `with_payload`, as the slot's producer.
        unsafe {
            self.seg
                .with_payload_mut(&self.geometry, seq, offset, len, f)
        }
    }
    #[cfg(feature = "corrupt")]
    unsafe fn flip_bit(&self, seq: u64, offset: usize) {
        self.seg.flip_bit(&self.geometry, seq, offset);
    }

    /// Calls the crash-test hook ([`crate::hooks`]); without the
    /// `test-hooks` feature (and outside loom and shuttle builds) the
    /// default no-op, which compiles away.
    #[cfg(any(loom, shuttle, feature = "test-hooks"))]
    fn at(&self, point: crate::algorithm::KillPoint) -> Result<()> {
        crate::hooks::at(point);
        Ok(())
    }
}
