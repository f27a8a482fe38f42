//! Asymmetric fences with `membarrier(2)`: the store-buffering pair of the
//! wake-up protocol without a fence on the committer's side.
//!
//! A committer stores its index and then reads the other side's waiter
//! registry; a waiter registers and then reads the index. One of them must
//! see the other's write, which takes a full fence between the write and
//! the read on both sides. On x86 that fence waits for the committer's
//! store to leave the store buffer, that is for the index's cache line to
//! come back from the other side's core: measured, it cut one-item-per-call
//! throughput between two processes by 2.7x. But waiters are rare and about
//! to sleep anyway, committers run on every item.
//!
//! So a process that registers with `MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED`
//! leaves the committer's fence out (a compiler fence keeps the order in
//! the program), and every waiter, before its read, calls
//! `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`, which makes every running
//! thread of every registered process execute a full memory barrier before
//! the call returns. Wherever that barrier falls in a committer's
//! instruction stream, one side sees the other: between its store and its
//! read it is the missing fence; before its store, its read comes after the
//! waiter's registration was made visible; after its read, its store was
//! made visible before the waiter's read. Threads not running at the time
//! passed a barrier when they were switched out. (The pattern of Linux's
//! membarrier(2) man page and of userspace RCU; Desnoyers et al., "User-Level
//! Implementations of Read-Copy Update", 2012.)
//!
//! A process that cannot register (an old kernel, a seccomp filter) keeps
//! its committer's fence, so it never needs anyone's barrier; and as a
//! waiter it cannot force the barrier on others, so it naps at most
//! [`UNCOVERED_NAP`] at a time: a wake-up it misses costs that much.
//! Nothing about this lives in the segment: each process decides for
//! itself, and a hostile write cannot change it.

use rustix::thread::{membarrier, MembarrierCommand};
use std::sync::OnceLock;
use std::time::Duration;

/// Longest sleep of a waiter whose process could not use membarrier.
pub const UNCOVERED_NAP: Duration = Duration::from_millis(1);

static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Registers this process for global expedited barriers, once; returns
/// whether it is registered (and a barrier call works).
pub fn register() -> bool {
    *REGISTERED.get_or_init(|| {
        membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
            && membarrier(MembarrierCommand::GlobalExpedited).is_ok()
    })
}

/// Whether this process's committers may leave their fence out: it is
/// registered, so every waiter's barrier reaches it.
#[inline]
pub fn registered() -> bool {
    REGISTERED.get().copied().unwrap_or(false)
}

/// The waiter's heavy barrier: a full barrier on every running thread of
/// every registered process. False if this process cannot issue it (then
/// committers that left their fence out may go unseen).
pub fn barrier() -> bool {
    registered() && membarrier(MembarrierCommand::GlobalExpedited).is_ok()
}

/// The committer's (or a lock releaser's) half of the store-buffering
/// pair: only a compiler fence where this process is registered (every
/// waiter's [`barrier`] executes the fence here), a SeqCst fence otherwise.
#[inline]
pub fn commit_fence() {
    if registered() {
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    } else {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// The waiter's half: a SeqCst fence, then the [`barrier`] that stands in
/// for the committers' left-out fences. False if that barrier could not be
/// issued: the waiter's sleep must then be short ([`UNCOVERED_NAP`]).
pub fn waiter_fence() -> bool {
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    barrier()
}
