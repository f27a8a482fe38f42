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
//! Release is a compare-exchange `token -> 0` (Release; SeqCst because it
//! is one half of the sleepers' store-buffering pair, see below). A value
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
//! After a short spin a waiter registers in `lock_sleepers` (RMW, SeqCst),
//! re-reads the word (SeqCst) and, if it still holds the same owner and
//! its registration still stands, sleeps on `lock_sleepers` with
//! `FUTEX_WAIT_BITSET`; the releaser exchanges the word (SeqCst) and then
//! reads `lock_sleepers` (SeqCst), and if it counts sleepers clears it (a
//! new generation) and wakes all sleepers on it. Either the releaser sees
//! the registration or the waiter sees the release (store buffering, as
//! for the ring's waits), and a clear changes the word the sleepers
//! compare, so no waiter sleeps with its registration cleared
//! (`crate::waiters`). A sleep lasts at most [`LOCK_NAP`], after which the
//! waiter checks the owner's liveness and its own deadline again: a dead
//! owner wakes nobody, and a hostile write to `lock_sleepers` can only
//! cost a nap. `lock_sleepers` is a registry that heals: a releaser that
//! wakes sleepers clears it, so a waiter killed asleep costs at most one
//! spare `FUTEX_WAKE`.

use crate::algorithm::{Acquired, LockWait};
use crate::error::{Error, Result};
use crate::layout::{LockWords, MAX_TOKEN, TOKEN_BASE};
use crate::sys::futex::{self, Deadline};
use crate::sys::ofd;
use crate::waiters;
use rustix::fd::BorrowedFd;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
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

/// Takes the lock `line` (one side's) for session `own`, waiting as `wait` says
/// (`configured` for [`LockWait::Configured`]).
///
/// # Errors
/// [`Error::LockTimeout`] when the wait's deadline passed with a live owner,
/// [`Error::CorruptHeader`] for a lock word out of range, [`Error::Io`].
pub fn acquire(
    line: &LockWords,
    fd: BorrowedFd<'_>,
    own: u32,
    wait: LockWait<Deadline>,
    configured: Duration,
) -> Result<Acquired> {
    let owner = &line.owner;
    for _ in 0..SPIN {
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
        std::hint::spin_loop();
    }
    let started = Deadline::after(Duration::ZERO);
    let floor = Deadline::after(TIMED_FLOOR);
    let (deadline, timeout) = match wait {
        LockWait::Configured => (Deadline::after(configured), Some(configured)),
        LockWait::For(d) => {
            let d = d.max(TIMED_FLOOR);
            (Deadline::after(d), Some(d))
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
        if !alive(fd, own, cur)? {
            // The kernel dropped the owner's session lock: it is dead.
            if owner.compare_exchange(cur, own, Acquire, Relaxed).is_ok() {
                return Ok(Acquired::OwnerDied);
            }
            continue;
        }
        if deadline.passed() {
            let waited = timeout.unwrap_or_else(|| {
                Duration::from_nanos(futex::monotonic_ns().saturating_sub(started.0))
            });
            return Err(Error::LockTimeout {
                waited_ms: waited.as_millis() as u64,
            });
        }
        let gen = waiters::register(&line.sleepers);
        if owner.load(SeqCst) == cur {
            if let Some(word) = waiters::current(&line.sleepers, gen) {
                futex::wait(
                    &line.sleepers,
                    word,
                    deadline.min(Deadline::after(LOCK_NAP)),
                );
            }
        }
        waiters::deregister(&line.sleepers, gen);
    }
}

/// Releases the lock held by session `own` and wakes its sleepers. A word
/// that no longer names `own` (overwritten by another process) is left as
/// it is: the next locker validates it.
pub fn release(line: &LockWords, own: u32) {
    // SeqCst: one half of the store-buffering pair with the sleepers'
    // registration (module docs); Release for the critical section.
    let _ = line.owner.compare_exchange(own, 0, SeqCst, Relaxed);
    if waiters::take(&line.sleepers, line.sleepers.load(SeqCst)) {
        futex::wake_all(&line.sleepers);
    }
}
