//! A heap-backed [`RingMemory`] built only on the [`crate::sync`] facade: the
//! memory of the loom and shuttle models, and an in-process ring under
//! `std`.
//!
//! Each thread of a model takes its own [`HeapMemory::handle`], as each
//! process of a real deployment opens its own mapping. The pieces model the
//! production primitives:
//!
//! - **locks**: the segment's lock algorithm itself (`crate::lock`: the
//!   test-and-test-and-set owner word, the takeover of a dead owner's
//!   token by exchange, the sleepers registry and its futex), on model
//!   atomics, one owner word and one registry per side. A handle's id is
//!   its session token. A handle made with
//!   [`HeapMemory::handle_killed_at`] abandons its operation at the given
//!   [`KillPoint`] while holding its side's lock, as a process SIGKILLed
//!   there would ([`HeapError::Abandoned`], which the model ring reports as
//!   `OpError::Abandoned`): its lock word keeps its token. The kernel's
//!   answer to "does this session live?" is the model's input: a handle is
//!   dead once it abandoned an operation, and the death publishes what it
//!   wrote before it (a facade mutex), as the kernel's release of a dead
//!   process's record locks does. The next locker of that side finds the
//!   dead token and takes the lock over ([`Acquired::OwnerDied`]). Lock
//!   waits never time out in the models (a lock held for ever is a
//!   deadlock that loom and shuttle report), and the lock's polls before
//!   sleeping are one, as the ring's.
//! - **futex**: one facade `Mutex` + `Condvar` per futex word (the two
//!   waiter registries); `wait` compares the word with the expected value
//!   under that mutex and blocks on the condition variable without
//!   releasing it in between, and `wake_all` takes the mutex to notify:
//!   the contract of `FUTEX_WAIT` / `FUTEX_WAKE` (futex(2)), where the
//!   compare and the enqueue are atomic with respect to a wake on the same
//!   word, and a wake reaches exactly the sleepers enqueued before it. With
//!   no timeout, a lost wake-up leaves the waiter asleep for ever, which
//!   loom and shuttle report as a deadlock.
//! - **capped sleeps**: the segment's sleeps end after a nap (100 ms for
//!   the ring, 50 ms for a lock) even unwoken, which is what recovers a
//!   sleeper whose waker died between its commit and its wake. In the
//!   model only a death ends a sleep unwoken: a kill wakes every sleeper,
//!   and each handle's first sleep that starts after a death it has not
//!   yet seen returns at once (that sleep's nap, which would have ended
//!   after the death), so a waiter that compared its futex word just
//!   before the dead handle's commit still looks again. A nap that ended
//!   at any other time would hide the lost wake-ups the models are there
//!   to find.
//! - **clock**: a logical clock in milliseconds that only
//!   [`HeapMemory::advance_clock`] moves; a timeout of `Duration::MAX`
//!   never expires.
//! - **slots**: one facade `UnsafeCell` per slot, so loom reports a payload
//!   accessed by two threads without a happens-before edge.
//!

#[cfg(any(loom, shuttle))]
use crate::algorithm::Fault;
use crate::algorithm::{Acquired, Counter, KillPoint, LockWait, RingMemory, Side};
use crate::error::{Error, Result};
use crate::layout::{Geometry, SLOT_PREFIX};
use crate::sync::atomic::{AtomicU32, AtomicU64};
use crate::sync::{Arc, Condvar, Mutex, UnsafeCell};
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
    /// The producers' and the consumers' lock owner words, by [`index`]:
    /// 0 free, else the holder's id (`crate::lock`).
    lock_owner: [AtomicU32; 2],
    /// Their sleepers registries (`crate::waiters`).
    lock_sleepers: [AtomicU32; 2],
    /// Sleepers on `lock_sleepers`, by [`index`].
    lock_futex: [Futex; 2],
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
    /// Ids of handles killed at a kill point: their locks and roles may be
    /// taken over, as the kernel's record locks show a dead session. A
    /// facade mutex: the death happens before every answer that reports
    /// it, as the kernel orders a process's exit before the release of its
    /// record locks.
    killed: Mutex<Vec<u64>>,
    /// Handles killed so far; a sleep that starts after a death its handle
    /// has not seen yet ends at once (module docs).
    deaths: AtomicU64,
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

/// Index of `side` in [`Shared::lock_owner`] and the other per-side
/// arrays.
fn index(side: Side) -> usize {
    match side {
        Side::Producer => 0,
        Side::Consumer => 1,
    }
}

/// Holds one side's lock (released when dropped, unless the handle was
/// killed holding it), or stands for the role a handle holds.
#[derive(Debug)]
pub enum HeapGuard<'a> {
    /// A lock held for one operation.
    Locked(&'a HeapMemory, Side),
    /// A single role, held for the handle's life.
    Held(#[allow(dead_code)] Side),
}

impl Drop for HeapGuard<'_> {
    fn drop(&mut self) {
        if let HeapGuard::Locked(mem, side) = *self {
            // A killed handle's lock stays held by its dead token, to be
            // taken over; a model thread unwinding from a failed model must
            // not touch the model's atomics (they panic then).
            if !std::thread::panicking() && !mem.is_dead() {
                crate::lock::release(&mem.lock_sys(side), mem.token());
            }
        }
    }
}

/// One side's lock of a heap ring, as the lock algorithm sees it.
struct HeapLock<'a> {
    mem: &'a HeapMemory,
    i: usize,
}

impl crate::lock::LockSys for HeapLock<'_> {
    type Word = AtomicU32;
    /// Lock waits never run out in the models.
    type Deadline = u64;
    const SPIN: u32 = 1;
    fn owner(&self) -> &AtomicU32 {
        &self.mem.shared.lock_owner[self.i]
    }
    fn sleepers(&self) -> &AtomicU32 {
        &self.mem.shared.lock_sleepers[self.i]
    }
    fn alive(&self, own: u32, token: u32) -> Result<bool> {
        Ok(token == own || !self.mem.killed(u64::from(token)))
    }
    fn after(&self, _d: Duration) -> u64 {
        u64::MAX
    }
    fn passed(&self, _d: u64) -> bool {
        false
    }
    fn since(&self, _started: u64) -> Duration {
        Duration::ZERO
    }
    fn sleep(&self, word: &AtomicU32, expected: u32, _deadline: u64) {
        let f = &self.mem.shared.lock_futex[self.i];
        futex_wait(f, word, expected, || self.mem.nap_due());
    }
    fn wake_all(&self, _word: &AtomicU32) {
        futex_wake(&self.mem.shared.lock_futex[self.i]);
    }
    fn commit_fence(&self) {
        self.mem.commit_fence();
    }
    fn waiter_fence(&self) -> bool {
        self.mem.waiter_fence()
    }
    /// Nothing: loom's `spin_loop` is a yield, after which loom runs the
    /// yielder only once the others cannot run, so a waiter that polled
    /// would never be seen finding the lock held.
    fn spin_loop(&self) {}
    #[cfg(any(loom, shuttle))]
    fn fault(&self) -> Option<Fault> {
        self.mem.shared.fault
    }
}

/// `FUTEX_WAIT` on a model futex: compares `word` with `expected` under
/// the futex's mutex and sleeps on its condition variable without
/// releasing the mutex in between, unless `expired()`. A waker changes the
/// word before it takes the mutex to wake, so either its change happens
/// before this load (which then sees it: coherence after the mutex's
/// acquire) or its wake finds this sleeper waiting.
fn futex_wait(f: &Futex, word: &AtomicU32, expected: u32, expired: impl FnOnce() -> bool) {
    let guard = f.mutex.lock().unwrap_or_else(|e| e.into_inner());
    if word.load(Relaxed) == expected && !expired() {
        drop(f.cv.wait(guard).unwrap_or_else(|e| e.into_inner()));
    }
}

/// `FUTEX_WAKE` of every sleeper on a model futex.
fn futex_wake(f: &Futex) {
    let _g = f.mutex.lock().unwrap_or_else(|e| e.into_inner());
    f.cv.notify_all();
}

/// One handle on a heap ring. See the module docs.
#[derive(Debug)]
pub struct HeapMemory {
    shared: Arc<Shared>,
    kill_at: Option<KillPoint>,
    /// `deaths` as this handle's last nap saw it; touched only by the
    /// handle's own thread, under a futex's mutex.
    deaths_seen: std::sync::atomic::AtomicU64,
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
        if !self.shared.single || std::thread::panicking() || self.is_dead() {
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
            lock_owner: [AtomicU32::new(0), AtomicU32::new(0)],
            lock_sleepers: [AtomicU32::new(0), AtomicU32::new(0)],
            lock_futex: [Futex::new(), Futex::new()],
            put_futex: Futex::new(),
            get_futex: Futex::new(),
            clock: AtomicU64::new(0),
            deaths: AtomicU64::new(0),
            single: false,
            role_holder: [AtomicU64::new(0), AtomicU64::new(0)],
            killed: Mutex::new(Vec::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            slots,
        })
    }

    fn from_shared(shared: Shared) -> Self {
        Self::on(Arc::new(shared), None)
    }

    fn on(shared: Arc<Shared>, kill_at: Option<KillPoint>) -> Self {
        let id = shared.next_id.fetch_add(1, Relaxed);
        HeapMemory {
            shared,
            kill_at,
            deaths_seen: std::sync::atomic::AtomicU64::new(0),
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
    pub fn handle_killed_at(&self, point: ringcheck_models::KillPoint) -> Self {
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
        let dead = cur != 0 && self.killed(cur);
        if cur != 0 && !dead {
            return Err(taken());
        }
        match word.compare_exchange(cur, self.id, Acquire, Relaxed) {
            Ok(_) if dead => Ok((held, Acquired::OwnerDied)),
            Ok(_) => Ok((held, Acquired::Clean)),
            Err(_) => Err(taken()),
        }
    }

    /// Whether handle `id` was killed (the kernel's answer in a model).
    fn killed(&self, id: u64) -> bool {
        self.shared
            .killed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id)
    }

    /// Whether a sleep starting now ends at once: a handle died since this
    /// handle's last such sleep (its nap would end after the death).
    /// Called under a futex's mutex, after which a kill wakes the futex.
    fn nap_due(&self) -> bool {
        let deaths = self.shared.deaths.load(Acquire);
        deaths != self.deaths_seen.swap(deaths, Relaxed)
    }

    /// Whether this handle was killed.
    fn is_dead(&self) -> bool {
        self.kill_at.is_some() && self.killed(self.id)
    }

    /// This handle's session token: its id.
    fn token(&self) -> u32 {
        self.id as u32
    }

    fn lock_sys(&self, side: Side) -> HeapLock<'_> {
        HeapLock {
            mem: self,
            i: index(side),
        }
    }

    /// Moves the logical clock on by 1 ms and wakes every sleeper, so that
    /// timed waits re-check their deadline.
    pub fn advance_clock(&self) {
        self.shared.clock.fetch_add(1, Release);
        self.wake_everyone();
    }

    fn wake_everyone(&self) {
        let s = &self.shared;
        for f in [
            &s.put_futex,
            &s.get_futex,
            &s.lock_futex[0],
            &s.lock_futex[1],
        ] {
            futex_wake(f);
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

    /// The segment's lock algorithm on the model's words, waiting however
    /// long: a lock held for ever is a deadlock that loom and shuttle
    /// report.
    fn lock(&self, side: Side, wait: LockWait<u64>) -> Result<(HeapGuard<'_>, Acquired)> {
        if self.shared.single {
            return self.take_role(side);
        }
        let how = crate::lock::acquire(&self.lock_sys(side), self.token(), wait, Duration::MAX)?;
        Ok((HeapGuard::Locked(self, side), how))
    }

    /// Nothing to mark: the lock word already names this handle.
    fn mark_consistent(&self, _guard: &HeapGuard<'_>) {}

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

    /// Never reports a nap: a model's sleep ends by a wake (or, after a
    /// death, at once: see `nap_due`).
    fn wait(&self, word: &AtomicU32, expected: u32, deadline: u64, _covered: bool) -> bool {
        futex_wait(self.futex(word), word, expected, || {
            self.passed(deadline) || self.nap_due()
        });
        false
    }

    fn wake_all(&self, word: &AtomicU32) {
        futex_wake(self.futex(word));
    }

    /// The committer's half of the asymmetric pair of a registered
    /// process (`crate::sys::membarrier`): its compiler fence, plus the
    /// full barrier that a waiter's `membarrier(2)` call makes this thread
    /// execute, modelled as a SeqCst fence at the compiler fence's place.
    ///
    /// Why that placement is sound: the kernel runs the barrier on the
    /// committer's CPU at some point of its instruction stream, which the
    /// compiler fence keeps in program order (commit, then the registry
    /// read). If the point falls between the two, it is exactly this
    /// fence. If it falls before the commit, the commit and the read come
    /// after a barrier that followed the waiter's registration, so the read
    /// sees the registration; if it falls after the read, both were made
    /// visible before the waiter's `membarrier` returned, so the waiter's
    /// re-read of the index sees the commit. Each case ends in one of the
    /// two outcomes the fence in the middle allows (the committer sees the
    /// registration, or the waiter sees the commit), so a model that
    /// explores every outcome of the fence in the middle explores every
    /// outcome of the barrier wherever it falls. loom cannot run another
    /// thread's barrier, hence this form. A process that could not
    /// register issues this very fence for real.
    fn commit_fence(&self) {
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        crate::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
    /// The waiter's half: its SeqCst fence (the `membarrier(2)` call is
    /// what puts a barrier into the committers, modelled in
    /// [`commit_fence`](RingMemory::commit_fence)). Always covered.
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

    #[cfg(feature = "corrupt")]
    unsafe fn flip_bit(&self, seq: u64, offset: usize) {
        self.slot(seq).with_mut(|p| {
            // SAFETY: as in write_prefix.
            let s = unsafe { &mut *p };
            let i = offset % s.len();
            s[i] ^= 1;
        });
    }

    fn at(&self, point: KillPoint) -> Result<(), HeapError> {
        if self.kill_at == Some(point) {
            // Called with the side's lock held: its word keeps this
            // handle's token, and its next locker learns that the token is
            // dead (or, with single roles, that the role's holder is).
            self.shared
                .killed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.id);
            // The sleepers' naps run out (module docs).
            self.shared.deaths.fetch_add(1, Release);
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
