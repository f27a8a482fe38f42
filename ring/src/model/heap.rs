//! A heap-backed [`RingMemory`] built only on the [`crate::sync`] facade: the
//! memory of the loom and shuttle models, and an in-process ring under
//! `std`.
//!
//! Each thread of a model takes its own [`HeapMemory::handle`], as each
//! process of a real deployment opens its own mapping. The pieces model the
//! production primitives:
//!
//! - **locks**: per side (producers, consumers), a facade `Mutex` plus an
//!   owner-died flag. A handle made with [`HeapMemory::handle_killed_at`]
//!   abandons its operation at the given [`KillPoint`] while holding its
//!   side's lock, as a process SIGKILLed there would
//!   ([`HeapError::Abandoned`], which the model ring reports as
//!   `OpError::Abandoned`); the next locker of that side is told
//!   [`Acquired::OwnerDied`], as the segment lock reports a session that
//!   the kernel saw die (`crate::lock`).
//! - **futex**: one facade `Mutex` + `Condvar` per futex word (the two
//!   waiter registries); `wait` compares the word with the expected value
//!   under that mutex and blocks on the condition variable without
//!   releasing it in between, and `wake_all` takes the mutex to notify:
//!   the contract of `FUTEX_WAIT` / `FUTEX_WAKE` (futex(2)), where the
//!   compare and the enqueue are atomic with respect to a wake on the same
//!   word, and a wake reaches exactly the sleepers enqueued before it. With
//!   no timeout, a lost wake-up leaves the waiter asleep for ever, which
//!   loom and shuttle report as a deadlock.
//! - **capped sleeps**: the segment's sleeps end after a nap (100 ms) even
//!   unwoken, which is what recovers a sleeper whose waker died between its
//!   commit and its wake. The model ends every sleep when a handle is
//!   killed (its abandonment wakes all sleepers), and only then: a nap that
//!   ended at any other time would hide the lost wake-ups the models are
//!   there to find.
//! - **clock**: a logical clock in milliseconds that only
//!   [`HeapMemory::advance_clock`] moves; a timeout of `Duration::MAX`
//!   never expires.
//! - **slots**: one facade `UnsafeCell` per slot, so loom reports a payload
//!   accessed by two threads without a happens-before edge.
//!

#[cfg(any(loom, shuttle))]
use crate::algorithm::Fault;
use crate::algorithm::{Acquired, Counter, LockWait, Point, RingMemory, Side};
use crate::error::{Error, Result};
use crate::layout::{Geometry, SLOT_PREFIX};
use crate::sync::atomic::{AtomicU32, AtomicU64};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard, UnsafeCell};
use ringcheck_models::KillPoint;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

/// Why an operation on the heap ring failed: the error of this memory
/// ([`RingMemory::Error`]); unnameable outside the crate, the model ring
/// maps it to `ringcheck_models::OpError`.
#[derive(Debug)]
pub enum HeapError {
    /// Any ring error.
    Ring(Error),
    /// A handle made with [`HeapMemory::handle_killed_at`] abandoned its
    /// operation at its kill point, holding the lock, as a process killed
    /// there would.
    Abandoned,
}

impl From<Error> for HeapError {
    fn from(e: Error) -> Self {
        HeapError::Ring(e)
    }
}

/// A futex word's wait queue.
#[derive(Debug)]
struct Futex {
    mutex: Mutex<()>,
    cv: Condvar,
}

impl Futex {
    fn new() -> Self {
        Futex {
            mutex: Mutex::new(()),
            cv: Condvar::new(),
        }
    }
}

/// What all handles of one ring share.
#[derive(Debug)]
struct Shared {
    geometry: Geometry,
    #[cfg(any(loom, shuttle))]
    fault: Option<Fault>,
    head: AtomicU64,
    tail: AtomicU64,
    put_waiters: AtomicU32,
    get_waiters: AtomicU32,
    /// The producers' and the consumers' lock, by [`side`].
    locks: [Mutex<()>; 2],
    /// Set by a handle that abandons an operation inside a side's lock,
    /// cleared by `mark_consistent`; each read and written only under its
    /// side's lock, so a std atomic (outside the model) is enough.
    owner_died: [std::sync::atomic::AtomicBool; 2],
    /// Sleepers on `put_waiters` (producers waiting for space).
    put_futex: Futex,
    /// Sleepers on `get_waiters` (consumers waiting for an item).
    get_futex: Futex,
    /// Logical milliseconds.
    clock: AtomicU64,
    /// Single roles (`Config::single_roles`): each side's lock is held by
    /// one handle for its life instead of per operation.
    single: bool,
    /// By [`index`]: the id of the handle holding the side's role, 0 if
    /// none (single roles only).
    role_holder: [AtomicU64; 2],
    /// Ids of handles killed at a kill point: their roles may be taken
    /// over, as the kernel's record locks show a dead session. Only touched
    /// between loom's scheduling points, so a `std` mutex never blocks.
    killed: std::sync::Mutex<Vec<u64>>,
    /// Source of handle ids (from 1).
    next_id: std::sync::atomic::AtomicU64,
    /// `capacity` slots of `SLOT_PREFIX + item_size` bytes: len (u32 ne),
    /// crc (u32 ne), payload.
    slots: Box<[UnsafeCell<Box<[u8]>>]>,
}

// SAFETY: every field but `slots` is Sync. Slots are reached only through
// the `unsafe` accessors of `RingMemory`, whose callers hold `lock`, which
// orders the accesses; the seeded faults that break this compile only under
// loom and shuttle, whose model threads run one at a time on one OS thread
// (loom's cell reports the access as a race in the model).
unsafe impl Sync for Shared {}
// SAFETY: the slot cells own plain bytes.
unsafe impl Send for Shared {}

/// Index of `side` in [`Shared::locks`] and [`Shared::owner_died`].
fn index(side: Side) -> usize {
    match side {
        Side::Producer => 0,
        Side::Consumer => 1,
    }
}

/// Holds one side's model lock (released when dropped), or stands for the
/// role a handle holds.
#[derive(Debug)]
pub enum HeapGuard<'a> {
    /// A lock held for one operation.
    Locked(#[allow(dead_code)] MutexGuard<'a, ()>, Side),
    /// A single role, held for the handle's life.
    Held(#[allow(dead_code)] Side),
}

/// One handle on a heap ring. See the module docs.
#[derive(Debug)]
pub struct HeapMemory {
    shared: Arc<Shared>,
    kill_at: Option<Point>,
    /// This handle's id, unique in its ring, never 0.
    id: u64,
}

impl Drop for HeapMemory {
    /// Gives up the roles this handle holds, as closing a segment handle
    /// does (a killed handle's stay with it, to be taken over).
    fn drop(&mut self) {
        // Plain rings hold no roles. A handle dropped while its thread
        // unwinds from a failed model must not touch loom's or shuttle's
        // atomics (they panic then, which aborts the process); the model
        // has failed anyway.
        if !self.shared.single || std::thread::panicking() {
            return;
        }
        for word in &self.shared.role_holder {
            let _ = word.compare_exchange(self.id, 0, Release, Relaxed);
        }
    }
}

impl HeapMemory {
    /// A fresh, empty ring of `capacity` items of up to `item_size` bytes.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] as for a segment ring (0 or over the maxima).
    pub fn new(capacity: u32, item_size: u32) -> Result<Self> {
        Ok(Self::from_shared(Self::shared(capacity, item_size)?))
    }

    /// [`new`](Self::new) with a seeded [`Fault`] switched on (loom and
    /// shuttle builds only: several faults are data races by design).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    #[cfg(any(loom, shuttle))]
    pub fn with_fault(capacity: u32, item_size: u32, fault: Fault) -> Result<Self> {
        let mut shared = Self::shared(capacity, item_size)?;
        shared.fault = Some(fault);
        Ok(Self::from_shared(shared))
    }

    fn shared(capacity: u32, item_size: u32) -> Result<Shared> {
        let geometry = Geometry::new(capacity, item_size)?;
        let slot = SLOT_PREFIX + item_size as usize;
        let slots = (0..capacity)
            .map(|_| UnsafeCell::new(vec![0u8; slot].into_boxed_slice()))
            .collect();
        Ok(Shared {
            geometry,
            #[cfg(any(loom, shuttle))]
            fault: None,
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            put_waiters: AtomicU32::new(0),
            get_waiters: AtomicU32::new(0),
            locks: [Mutex::new(()), Mutex::new(())],
            owner_died: [
                std::sync::atomic::AtomicBool::new(false),
                std::sync::atomic::AtomicBool::new(false),
            ],
            put_futex: Futex::new(),
            get_futex: Futex::new(),
            clock: AtomicU64::new(0),
            single: false,
            role_holder: [AtomicU64::new(0), AtomicU64::new(0)],
            killed: std::sync::Mutex::new(Vec::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            slots,
        })
    }

    fn from_shared(shared: Shared) -> Self {
        Self::on(Arc::new(shared), None)
    }

    fn on(shared: Arc<Shared>, kill_at: Option<Point>) -> Self {
        let id = shared.next_id.fetch_add(1, Relaxed);
        HeapMemory {
            shared,
            kill_at,
            id,
        }
    }

    /// [`new`](Self::new) with single roles, as `Config::single_roles`:
    /// the first handle to put (get) holds the side for its life, others
    /// get `Error::RoleTaken`, and a killed holder's role is taken over.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_single_roles(capacity: u32, item_size: u32) -> Result<Self> {
        let mut shared = Self::shared(capacity, item_size)?;
        shared.single = true;
        Ok(Self::from_shared(shared))
    }

    /// Another handle on the same ring, as another process would open.
    pub fn handle(&self) -> Self {
        Self::on(Arc::clone(&self.shared), None)
    }

    /// A handle whose first operation to reach `point` abandons itself
    /// there, holding the lock, as if its process were killed at that
    /// instant (the model ring reports `OpError::Abandoned`). Use it for one
    /// operation.
    pub fn handle_killed_at(&self, point: KillPoint) -> Self {
        Self::on(Arc::clone(&self.shared), Some(super::point(point)))
    }

    /// The single-role lock of `side`: held for the handle's life.
    fn take_role(&self, side: Side) -> Result<(HeapGuard<'_>, Acquired)> {
        let word = &self.shared.role_holder[index(side)];
        let held = HeapGuard::Held(side);
        let taken = || Error::RoleTaken { role: side.role() };
        // Acquire: the previous holder's writes, released when it gave the
        // role up (or made before it was killed), are visible.
        let cur = word.load(Acquire);
        if cur == self.id {
            return Ok((held, Acquired::Clean));
        }
        let dead = cur != 0
            && self
                .shared
                .killed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&cur);
        if cur != 0 && !dead {
            return Err(taken());
        }
        match word.compare_exchange(cur, self.id, Acquire, Relaxed) {
            Ok(_) if dead => Ok((held, Acquired::OwnerDied)),
            Ok(_) => Ok((held, Acquired::Clean)),
            Err(_) => Err(taken()),
        }
    }

    /// Moves the logical clock on by 1 ms and wakes every sleeper, so that
    /// timed waits re-check their deadline.
    pub fn advance_clock(&self) {
        self.shared.clock.fetch_add(1, Release);
        self.wake_everyone();
    }

    fn wake_everyone(&self) {
        for f in [&self.shared.put_futex, &self.shared.get_futex] {
            let _g = f.mutex.lock().unwrap_or_else(|e| e.into_inner());
            f.cv.notify_all();
        }
    }

    fn futex(&self, word: &AtomicU32) -> &Futex {
        if std::ptr::eq(word, &self.shared.put_waiters) {
            &self.shared.put_futex
        } else {
            &self.shared.get_futex
        }
    }

    fn slot(&self, seq: u64) -> &UnsafeCell<Box<[u8]>> {
        let i = (seq % u64::from(self.shared.geometry.capacity)) as usize;
        &self.shared.slots[i]
    }
}

// SAFETY: the slot accessors index `slots` modulo the capacity and clamp
// every range to the slot (they never panic).
unsafe impl RingMemory for HeapMemory {
    type Error = HeapError;
    type Word64 = AtomicU64;
    type Word32 = AtomicU32;
    type Guard<'a> = HeapGuard<'a>;
    /// Logical ms; `u64::MAX` never passes.
    type Deadline = u64;

    fn capacity(&self) -> u32 {
        self.shared.geometry.capacity
    }
    fn item_size(&self) -> u32 {
        self.shared.geometry.item_size
    }
    fn head(&self) -> &AtomicU64 {
        &self.shared.head
    }
    fn tail(&self) -> &AtomicU64 {
        &self.shared.tail
    }
    fn put_waiters(&self) -> &AtomicU32 {
        &self.shared.put_waiters
    }
    fn get_waiters(&self) -> &AtomicU32 {
        &self.shared.get_waiters
    }
    /// The heap ring keeps no statistics.
    fn count(&self, _counter: Counter) {}

    /// Waits for the model mutex however long: a lock held for ever is a
    /// deadlock that loom and shuttle report.
    fn lock(&self, side: Side, _wait: LockWait<u64>) -> Result<(HeapGuard<'_>, Acquired)> {
        if self.shared.single {
            return self.take_role(side);
        }
        // A model thread that panicked holding the lock fails the model
        // anyway; poisoning adds nothing.
        let i = index(side);
        let guard = self.shared.locks[i]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let how = if self.shared.owner_died[i].load(Relaxed) {
            Acquired::OwnerDied
        } else {
            Acquired::Clean
        };
        Ok((HeapGuard::Locked(guard, side), how))
    }

    fn mark_consistent(&self, guard: &HeapGuard<'_>) {
        if let HeapGuard::Locked(_, side) = guard {
            self.shared.owner_died[index(*side)].store(false, Relaxed);
        }
    }

    fn deadline(&self, timeout: Duration) -> u64 {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        if ms == u64::MAX {
            return u64::MAX;
        }
        self.shared
            .clock
            .load(Acquire)
            .saturating_add(ms)
            .min(u64::MAX - 1)
    }

    fn passed(&self, deadline: u64) -> bool {
        deadline != u64::MAX && self.shared.clock.load(Acquire) >= deadline
    }

    fn wait(&self, word: &AtomicU32, expected: u32, deadline: u64, _covered: bool) {
        let f = self.futex(word);
        let guard = f.mutex.lock().unwrap_or_else(|e| e.into_inner());
        // The kernel compares the current value under the futex's bucket
        // lock, which a wake takes too. A waker changes the word before it
        // takes this mutex to wake, so either its change happens before
        // this load (which then sees it: coherence after the mutex's
        // acquire) or its wake finds this sleeper in `cv.wait`.
        if word.load(Relaxed) == expected && !self.passed(deadline) {
            drop(f.cv.wait(guard).unwrap_or_else(|e| e.into_inner()));
        }
    }

    fn wake_all(&self, word: &AtomicU32) {
        let f = self.futex(word);
        let _g = f.mutex.lock().unwrap_or_else(|e| e.into_inner());
        f.cv.notify_all();
    }

    /// A SeqCst fence on both sides: the models check the symmetric
    /// protocol; the segment's membarrier substitution
    /// (`crate::sys::membarrier`) is argued, not model-checked.
    fn commit_fence(&self) {
        crate::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
    fn waiter_fence(&self) -> bool {
        crate::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        true
    }

    /// One poll, so that the models explore the spin path of
    /// `wait_change` (a changed index ends the wait without sleeping) as
    /// well as the sleep; more polls only multiply the schedules.
    fn spin(&self, mut changed: impl FnMut() -> bool) -> bool {
        if changed() {
            return true;
        }
        crate::sync::spin_loop();
        false
    }

    unsafe fn read_prefix(&self, seq: u64) -> (u32, u32) {
        self.slot(seq).with(|p| {
            // SAFETY: the caller holds the ring lock (the accessor's
            // contract), so no `with_mut` on this cell runs concurrently.
            let s = unsafe { &*p };
            let len = u32::from_ne_bytes([s[0], s[1], s[2], s[3]]);
            let crc = u32::from_ne_bytes([s[4], s[5], s[6], s[7]]);
            (len, crc)
        })
    }

    unsafe fn with_payload<R>(&self, seq: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let n = len.min(self.item_size() as usize);
        self.slot(seq).with(|p| {
            // SAFETY: the caller owns the slot (the accessor's contract),
            // so no `with_mut` on this cell runs concurrently.
            let s = unsafe { &*p };
            f(&s[SLOT_PREFIX..SLOT_PREFIX + n])
        })
    }

    unsafe fn write_prefix(&self, seq: u64, len: u32, crc: u32) {
        self.slot(seq).with_mut(|p| {
            // SAFETY: under the ring lock, so this is the only access.
            let s = unsafe { &mut *p };
            s[..4].copy_from_slice(&len.to_ne_bytes());
            s[4..8].copy_from_slice(&crc.to_ne_bytes());
        });
    }

    unsafe fn with_payload_mut<R>(
        &self,
        seq: u64,
        offset: usize,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> R {
        let size = self.item_size() as usize;
        let offset = offset.min(size);
        let n = len.min(size - offset);
        self.slot(seq).with_mut(|p| {
            // SAFETY: as in write_prefix.
            let s = unsafe { &mut *p };
            f(&mut s[SLOT_PREFIX + offset..SLOT_PREFIX + offset + n])
        })
    }

    #[cfg(feature = "test-hooks")]
    unsafe fn flip_bit(&self, seq: u64, offset: usize) {
        self.slot(seq).with_mut(|p| {
            // SAFETY: as in write_prefix.
            let s = unsafe { &mut *p };
            let i = offset % s.len();
            s[i] ^= 1;
        });
    }

    fn at(&self, point: Point) -> Result<(), HeapError> {
        if self.kill_at == Some(point) {
            let side = match point {
                Point::PutHalfWritten | Point::PutCommitted => Side::Producer,
                Point::GetCopied => Side::Consumer,
            };
            // Called with the side's lock held: its next locker sees the
            // flag (or, with single roles, that this handle is dead).
            self.shared.owner_died[index(side)].store(true, Relaxed);
            self.shared
                .killed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.id);
            // The sleepers' naps run out (module docs).
            self.wake_everyone();
            return Err(HeapError::Abandoned);
        }
        Ok(())
    }

    #[cfg(any(loom, shuttle))]
    fn fault(&self) -> Option<Fault> {
        self.shared.fault
    }
}
