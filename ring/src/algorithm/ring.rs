//! [`Ring`]: one handle's view of the ring, its locking, index checks,
//! waiting and waking. The operations are in `critical.rs` and `calls.rs`.

#[cfg(any(loom, shuttle))]
use super::Fault;
use super::{item_crc, Acquired, Counter, LockWait, RingMemory, Side};
use crate::error::{Error, Result};
use crate::layout;
use crate::sync::AtomicWord;
use crate::waiters;
use std::sync::atomic::AtomicU64 as LocalU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::time::Duration;

/// What an attempt found when it could not proceed: the other side's index
/// as read under this side's lock, to wait on.
pub(super) struct Blocked(pub(super) u64);

/// The ring algorithm over memory `M`, as one handle sees it.
#[derive(Debug)]
pub struct Ring<M> {
    pub(super) mem: M,
    /// `head` as this handle's producers last read it: a lower bound of
    /// `head`, `<= tail`, or `u64::MAX` before the first read. Written only
    /// under the producers' lock, which orders it (Relaxed), and read there,
    /// except by the prefetch hint after a put (`try_put`), which tolerates
    /// any value; process-local, never in shared memory.
    pub(super) cached_head: LocalU64,
    /// `tail` as this handle's consumers last read it: a lower bound of
    /// `tail`. Under the consumers' lock, as `cached_head`.
    pub(super) cached_tail: LocalU64,
}

/// A copied-out item: `(len, stored crc, seq)`.
pub(super) type Copied = (usize, u32, u64);

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

    pub(super) fn cap(&self) -> u64 {
        u64::from(self.mem.capacity())
    }

    #[cfg(any(loom, shuttle))]
    pub(super) fn faulty(&self, fault: Fault) -> bool {
        self.mem.fault() == Some(fault)
    }

    pub(super) fn lock(&self, side: Side, wait: LockWait<M::Deadline>) -> Result<M::Guard<'_>> {
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
                Side::Producer => self.signal_consumers(),
                Side::Consumer => self.signal_producers(),
            }
        }
        Ok(guard)
    }

    /// Under the producers' lock, with `tail` as read there: how many slots
    /// are free from `tail` on, using the cached `head` unless it shows
    /// fewer than `want` free. `Err(Blocked(head))` when the ring is full.
    pub(super) fn free_slots(
        &self,
        tail: u64,
        want: u64,
    ) -> Result<std::result::Result<u64, Blocked>> {
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
    pub(super) fn stored_items(
        &self,
        head: u64,
        want: u64,
    ) -> Result<std::result::Result<u64, Blocked>> {
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

    /// After a commit: wakes the other side's sleepers registered in
    /// `waiters`, if any. See the module docs.
    pub(super) fn signal(&self, waiters: &M::Word32) {
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
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::MissedNotify) && waiters::count(registry) != 0 {
            return;
        }
        // Clearing the registry forgets a sleeper killed asleep
        // (crate::waiters).
        if waiters::take(waiters, registry) {
            self.mem.wake_all(waiters);
        }
    }

    pub(super) fn signal_consumers(&self) {
        self.signal(self.mem.get_waiters());
    }

    pub(super) fn signal_producers(&self) {
        self.signal(self.mem.put_waiters());
    }

    /// Waits until `index` differs from `seen` or `deadline` passes; false
    /// iff the deadline had passed before sleeping. Spurious returns are
    /// fine: the caller retries its operation.
    pub(super) fn wait_change(
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
        let gen = waiters::register(waiters);
        // Pairs with the committer's fence (see `signal`).
        let covered = self.mem.waiter_fence();
        if index.load(Relaxed) == seen {
            // Sleep on the registry, only while this registration stands:
            // a waker that cleared it changed the word and wakes it
            // (`crate::waiters`).
            #[cfg(any(loom, shuttle))]
            let current = if self.faulty(Fault::SleepUnregistered) {
                Some(waiters.load(Relaxed))
            } else {
                waiters::current(waiters, gen)
            };
            #[cfg(not(any(loom, shuttle)))]
            let current = waiters::current(waiters, gen);
            if let Some(word) = current {
                self.mem.count(Counter::Sleep);
                let napped = self.mem.wait(waiters, word, deadline, covered);
                // Unwoken at the nap, not the caller's deadline, with the
                // index moved: the wake-up that should have ended the
                // sleep did not come (a waker died between its commit and
                // its wake, or a wake was lost). Counted, so that a test
                // or an operator can see it.
                // (A sleep of a process whose barrier failed is short by
                // design: its naps are the expected path, not counted.)
                if napped && covered && !self.mem.passed(deadline) && index.load(Relaxed) != seen {
                    self.mem.count(Counter::LateWakeup);
                }
            }
        }
        waiters::deregister(waiters, gen);
        true
    }

    pub(super) fn check_len(&self, len: usize) -> Result<()> {
        if len > self.item_size() {
            return Err(Error::TooLarge {
                len,
                max: self.item_size(),
            });
        }
        Ok(())
    }

    pub(super) fn corrupt(&self, seq: u64, reason: &'static str) -> Error {
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
    pub(super) fn blocking<T>(
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

    /// Checks a copied-out item against its stored CRC (outside the lock).
    pub(super) fn verify(&self, data: &[u8], crc: u32, seq: u64) -> Result<()> {
        if item_crc(data) != crc {
            self.mem.count(Counter::CorruptItem);
            return Err(self.corrupt(seq, "CRC-32C mismatch"));
        }
        Ok(())
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
    /// `put_many_with`), and never takes a role of a single-role ring. It
    /// reads `tail`, `head`, `tail`: if `tail` did not move, `head` was read
    /// while `tail` had that value; and alternately `head`, `tail`, `head`,
    /// with the sides swapped. Either pair satisfies the invariant unless
    /// the segment is damaged. Only if both sides moved across each of 128
    /// such readings does it take both locks (the consumers' first, the one
    /// order anything takes both in).
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn snapshot<R>(&self, f: impl FnOnce(u64, u64) -> R) -> Result<R> {
        let m = &self.mem;
        for _ in 0..64 {
            let tail = m.tail().load(Acquire);
            let head = m.head().load(Acquire);
            if m.tail().load(Acquire) == tail {
                layout::check_indices(head, tail, m.capacity())?;
                return Ok(f(head, tail));
            }
            let head = m.head().load(Acquire);
            let tail = m.tail().load(Acquire);
            if m.head().load(Acquire) == head {
                layout::check_indices(head, tail, m.capacity())?;
                return Ok(f(head, tail));
            }
        }
        let _consumers = self.lock(Side::Consumer, LockWait::Configured)?;
        let _producers = self.lock(Side::Producer, LockWait::Configured)?;
        let head = m.head().load(Acquire);
        let tail = m.tail().load(Acquire);
        layout::check_indices(head, tail, m.capacity())?;
        Ok(f(head, tail))
    }
}
