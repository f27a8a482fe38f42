//! The locks of a segment ring (one per side): plain words in the segment, validated on
//! every read, and the kernel as the only witness of an owner's death.
//!
//! # Sessions
//! Every handle ([`SharedBuffer`](crate::SharedBuffer)) is a session with a
//! token `1..=MAX_TOKEN`, drawn from the segment's `next_token` counter,
//! and holds an open-file-description write lock (`F_OFD_SETLK`) on byte
//! `TOKEN_BASE + token` of the segment's file for as long as it lives
//! (`crate::sys::ofd`). A draw whose byte is already locked by another
//! description is discarded and the next one tried, so two live sessions
//! never share a token, whatever the counter says. The kernel drops the
//! byte lock when the session's descriptor closes, which happens to every
//! descriptor of a process that dies, however it dies. Pids are never
//! used: a recycled pid or another pid namespace cannot make a dead owner
//! look alive or a live one dead.
//!
//! # The lock word
//! `lock_owner` is 0 when free, else the token of the owning session.
//! Acquisition is test-and-test-and-set: a Relaxed load, and a
//! compare-exchange (Acquire) only when the word reads 0, so waiters spin
//! on a shared copy of the line instead of stealing it from the owner.
//! Release is a compare-exchange `token -> 0` (Release), followed by the
//! releaser's half of the sleepers' store-buffering pair (see below). A value
//! over `MAX_TOKEN` is [`Error::CorruptHeader`].
//!
//! # Dead owners
//! A waiter that finds the word held by token `t` (not its own) asks the
//! kernel whether byte `TOKEN_BASE + t` is locked (`F_OFD_GETLK`). If it is
//! not, the owner's session is gone, and the waiter takes the lock over
//! with a compare-exchange `t -> own token`, reported as
//! [`Acquired::OwnerDied`]. Of several waiters that see the death, the one
//! whose exchange succeeds owns the lock; the others see a live owner.
//!
//! # Sleeping
//! After a short spin a waiter registers in `lock_sleepers` (RMW), issues
//! the waiter's fence (a SeqCst fence and the `membarrier(2)` barrier,
//! `crate::sys::membarrier`), re-reads the word and, if it still holds the
//! same owner and its registration still stands, sleeps on `lock_sleepers`
//! with `FUTEX_WAIT_BITSET`; the releaser exchanges the word, issues the
//! committer's fence (a compiler fence where the barrier covers it, else a
//! SeqCst fence) and then reads `lock_sleepers`, and if it counts sleepers
//! clears it (a new generation) and wakes all sleepers on it. The pair
//! rests on fences, as the ring's does, so that loom, which gives SeqCst
//! loads and stores no single order but implements SeqCst fences, checks
//! it. Either the releaser sees
//! the registration or the waiter sees the release (store buffering, as
//! for the ring's waits), and a clear changes the word the sleepers
//! compare, so no waiter sleeps with its registration cleared
//! (`crate::waiters`). A sleep lasts at most [`LOCK_NAP`], after which the
//! waiter checks the owner's liveness and its own deadline again: a dead
//! owner wakes nobody, and a hostile write to `lock_sleepers` can only
//! cost a nap. `lock_sleepers` is a registry that heals: a releaser that
//! wakes sleepers clears it, so a waiter killed asleep costs at most one
//! spare `FUTEX_WAKE`.
//!
//! # Models
//! The algorithm ([`acquire`], [`release`]) is generic over [`LockSys`]:
//! its words, the liveness answer, the clock and the futex. A segment
//! gives the real ones ([`SegmentLock`]); the heap ring of the loom and
//! shuttle models gives model atomics and a model futex, and answers
//! liveness from the model's kills, so that loom and shuttle explore this
//! very code, down to the takeover of a dead owner's token and the
//! sleepers' registry. Its seeded faults `ReleaseSkipsSleepers` (a
//! release that never reads the sleepers) and `TakeoverWithoutExchange`
//! (a takeover by a plain store) are found by both (`tests/tests/loom.rs`,
//! `tests/tests/shuttle.rs` of the workspace).

use crate::algorithm::{Acquired, LockWait};
use crate::error::{Error, Result};
use crate::layout::{LockWords, MAX_TOKEN, TOKEN_BASE};
use crate::sync::AtomicWord;
use crate::sys::futex::{self, Deadline};
use crate::sys::membarrier::{self, UNCOVERED_NAP};
use crate::sys::ofd;
use crate::waiters;
use rustix::fd::BorrowedFd;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

/// Polls of the lock word before a waiter starts checking the owner's
/// liveness and sleeping. Critical sections last a few hundred ns.
const SPIN: u32 = 200;

/// Longest single sleep of a lock waiter: it then re-checks whether the
/// owner lives, so a dead owner is taken over within this much.
pub const LOCK_NAP: Duration = Duration::from_millis(50);

/// Shortest wait of a timed call for a live owner's lock. A call with a
/// shorter timeout (or less of it left) still waits this long for the
/// lock, so that an owner merely preempted by the scheduler for a few ms
/// does not turn a short timed wait into [`Error::LockTimeout`]; a stopped
/// owner still costs such a call no more than this.
pub const TIMED_FLOOR: Duration = Duration::from_millis(100);

/// Draws before [`claim`] gives up: each discarded draw is a token some
/// other live session holds.
const CLAIMS: u32 = 1024;

/// The byte of the segment's file that session `token` keeps locked.
fn token_byte(token: u32) -> u64 {
    TOKEN_BASE + u64::from(token)
}

fn corrupt_owner(v: u32) -> Error {
    Error::CorruptHeader {
        reason: format!("lock_owner {v:#x} is over the largest session token {MAX_TOKEN:#x}"),
    }
}

/// Draws a session token from `next_token` and takes its byte lock on
/// `fd`; the lock lasts as long as `fd`'s open file description. `locks`
/// are the ring's lock words: a token one of them names is never drawn.
///
/// # Errors
/// [`Error::CorruptHeader`] if [`CLAIMS`] draws in a row are held by other
/// sessions (the counter was tampered with), [`Error::Io`].
pub fn claim(next_token: &AtomicU32, locks: &[&LockWords], fd: BorrowedFd<'_>) -> Result<u32> {
    for _ in 0..CLAIMS {
        let raw = next_token.fetch_add(1, Relaxed);
        let token = raw % MAX_TOKEN + 1;
        // A token still named by a lock word may belong to a dead owner
        // whose takeover is pending; taking it would make that owner look
        // alive.
        if locks.iter().any(|l| l.owner.load(Relaxed) == token) {
            continue;
        }
        if ofd::try_lock(fd, token_byte(token)).map_err(|e| Error::io("fcntl(F_OFD_SETLK)", e))? {
            return Ok(token);
        }
    }
    Err(Error::CorruptHeader {
        reason: format!("no free session token in {CLAIMS} draws from next_token"),
    })
}

/// Whether the session `token` is alive, as the kernel sees it (`own` is
/// the asking handle's token).
///
/// # Errors
/// [`Error::Io`] if `fcntl(F_OFD_GETLK)` fails.
pub fn alive(fd: BorrowedFd<'_>, own: u32, token: u32) -> Result<bool> {
    if token == own {
        // Another thread of this handle: our own description's lock never
        // shows as a conflict, and we are alive.
        return Ok(true);
    }
    ofd::held_by_other(fd, token_byte(token)).map_err(|e| Error::io("fcntl(F_OFD_GETLK)", e))
}

/// What the lock algorithm needs from where it runs: its two words, the
/// kernel's answer to "does this session live?", a clock and a futex. The
/// segment provides the real ones ([`SegmentLock`]); the heap model of the
/// loom and shuttle builds provides model atomics, a model futex and a
/// liveness answer that the model decides (`crate::model`), so that the
/// very algorithm below is what the models explore.
pub(crate) trait LockSys {
    /// A 32-bit lock word.
    type Word: AtomicWord<u32>;
    /// An absolute instant of this system's clock.
    type Deadline: Copy + Ord;
    /// Polls of the lock word before the slow path.
    const SPIN: u32;
    /// The lock's owner word: 0 free, else the owner's session token.
    fn owner(&self) -> &Self::Word;
    /// The lock's waiter registry (`crate::waiters`), the futex word its
    /// sleepers wait on.
    fn sleepers(&self) -> &Self::Word;
    /// Whether session `token` lives (`own` is the asking session's).
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel cannot be asked.
    fn alive(&self, own: u32, token: u32) -> Result<bool>;
    /// `d` from now.
    fn after(&self, d: Duration) -> Self::Deadline;
    /// Whether `d` has passed.
    fn passed(&self, d: Self::Deadline) -> bool;
    /// Time since `started`, for the error of a wait that ran out.
    fn since(&self, started: Self::Deadline) -> Duration;
    /// Sleeps while `*word == expected`, until woken, `deadline` or the
    /// system's nap ([`LOCK_NAP`] on a segment); futex semantics.
    fn sleep(&self, word: &Self::Word, expected: u32, deadline: Self::Deadline);
    /// Wakes every sleeper on `word`.
    fn wake_all(&self, word: &Self::Word);
    /// The releaser's half of the store-buffering pair, between its
    /// release and its read of the sleepers: as `RingMemory::commit_fence`.
    fn commit_fence(&self);
    /// The waiter's half, between its registration and its read of the
    /// owner word: as `RingMemory::waiter_fence`. False if the barrier
    /// that stands in for the releasers' fences could not be issued (the
    /// sleep is then short).
    fn waiter_fence(&self) -> bool;
    /// A pause between polls.
    fn spin_loop(&self);
    /// The seeded fault switched on, if any (models only).
    #[cfg(any(loom, shuttle))]
    fn fault(&self) -> Option<crate::algorithm::Fault> {
        None
    }
}

#[cfg(any(loom, shuttle))]
fn faulty<S: LockSys>(sys: &S, fault: crate::algorithm::Fault) -> bool {
    sys.fault() == Some(fault)
}

/// A segment lock line, with its file for the liveness answers.
pub(crate) struct SegmentLock<'a> {
    /// The lock's words in the segment.
    pub line: &'a LockWords,
    /// The segment's file (session byte locks).
    pub fd: BorrowedFd<'a>,
}

impl LockSys for SegmentLock<'_> {
    type Word = AtomicU32;
    type Deadline = Deadline;
    const SPIN: u32 = SPIN;
    fn owner(&self) -> &AtomicU32 {
        &self.line.owner
    }
    fn sleepers(&self) -> &AtomicU32 {
        &self.line.sleepers
    }
    fn alive(&self, own: u32, token: u32) -> Result<bool> {
        alive(self.fd, own, token)
    }
    fn after(&self, d: Duration) -> Deadline {
        Deadline::after(d)
    }
    fn passed(&self, d: Deadline) -> bool {
        d.passed()
    }
    fn since(&self, started: Deadline) -> Duration {
        Duration::from_nanos(futex::monotonic_ns().saturating_sub(started.0))
    }
    fn sleep(&self, word: &AtomicU32, expected: u32, deadline: Deadline) {
        let _ = futex::wait(word, expected, deadline.min(Deadline::after(LOCK_NAP)));
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
    fn spin_loop(&self) {
        std::hint::spin_loop();
    }
}

/// Takes the lock of `sys` for session `own`, waiting as `wait` says
/// (`configured` for [`LockWait::Configured`]).
///
/// # Errors
/// [`Error::LockTimeout`] when the wait's deadline passed with a live owner,
/// [`Error::CorruptHeader`] for a lock word out of range, [`Error::Io`].
pub(crate) fn acquire<S: LockSys>(
    sys: &S,
    own: u32,
    wait: LockWait<S::Deadline>,
    configured: Duration,
) -> Result<Acquired> {
    let owner = sys.owner();
    for _ in 0..S::SPIN {
        let cur = owner.load(Relaxed);
        if cur == 0 {
            // Acquire: the previous owner's writes, released by its
            // exchange to 0, are visible in the critical section.
            if owner.compare_exchange(0, own, Acquire, Relaxed).is_ok() {
                return Ok(Acquired::Clean);
            }
        } else if cur > MAX_TOKEN {
            return Err(corrupt_owner(cur));
        }
        sys.spin_loop();
    }
    let started = sys.after(Duration::ZERO);
    let floor = sys.after(TIMED_FLOOR);
    let (deadline, timeout) = match wait {
        LockWait::Configured => (sys.after(configured), Some(configured)),
        LockWait::For(d) => {
            let d = d.max(TIMED_FLOOR);
            (sys.after(d), Some(d))
        }
        LockWait::Until(d) => (d.max(floor), None),
    };
    loop {
        let cur = owner.load(Acquire);
        if cur == 0 {
            if owner.compare_exchange(0, own, Acquire, Relaxed).is_ok() {
                return Ok(Acquired::Clean);
            }
            continue;
        }
        if cur > MAX_TOKEN {
            return Err(corrupt_owner(cur));
        }
        if !sys.alive(own, cur)? {
            // The kernel dropped the owner's session lock: it is dead. The
            // exchange decides among several waiters that saw the death.
            #[cfg(any(loom, shuttle))]
            if faulty(sys, crate::algorithm::Fault::TakeoverWithoutExchange) {
                owner.store(own, Relaxed);
                return Ok(Acquired::OwnerDied);
            }
            if owner.compare_exchange(cur, own, Acquire, Relaxed).is_ok() {
                return Ok(Acquired::OwnerDied);
            }
            continue;
        }
        if sys.passed(deadline) {
            let waited = timeout.unwrap_or_else(|| sys.since(started));
            return Err(Error::LockTimeout {
                waited_ms: waited.as_millis() as u64,
            });
        }
        let sleepers = sys.sleepers();
        let gen = waiters::register(sleepers);
        // Pairs with the releaser's fence (`release`).
        let covered = sys.waiter_fence();
        if owner.load(Relaxed) == cur {
            // Sleep on the registry, only while this registration stands
            // (`crate::waiters`); a short sleep if the barrier failed.
            if let Some(word) = waiters::current(sleepers, gen) {
                let nap = if covered {
                    deadline
                } else {
                    deadline.min(sys.after(UNCOVERED_NAP))
                };
                sys.sleep(sleepers, word, nap);
            }
        }
        waiters::deregister(sleepers, gen);
    }
}

/// Releases the lock of `sys` held by session `own` and wakes its
/// sleepers. A word that no longer names `own` (overwritten by another
/// process) is left as it is: the next locker validates it.
pub(crate) fn release<S: LockSys>(sys: &S, own: u32) {
    // Release: the critical section's writes are visible to the next
    // owner, whose exchange reads this one with Acquire.
    let _ = sys.owner().compare_exchange(own, 0, Release, Relaxed);
    #[cfg(any(loom, shuttle))]
    if faulty(sys, crate::algorithm::Fault::ReleaseSkipsSleepers) {
        return;
    }
    // One half of the store-buffering pair with the sleepers'
    // registration (module docs).
    #[cfg(any(loom, shuttle))]
    if !faulty(sys, crate::algorithm::Fault::RelaxedWaiterCount) {
        sys.commit_fence();
    }
    #[cfg(not(any(loom, shuttle)))]
    sys.commit_fence();
    let sleepers = sys.sleepers();
    if waiters::take(sleepers, sleepers.load(Relaxed)) {
        sys.wake_all(sleepers);
    }
}
