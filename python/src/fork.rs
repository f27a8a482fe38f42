//! A count of the forks this process descends from, so that a
//! `SharedBuffer` inherited across `fork` (as `multiprocessing`'s default
//! start method on Linux hands it to a child) is not used as the parent's
//! handle.
//!
//! A shmring handle names its session in the ring's lock words, and the
//! kernel witnesses the session's death by an open-file-description lock.
//! A forked child shares that description with its parent: a child killed
//! inside a lock would leave a lock whose owner still looks alive (the
//! parent holds the description), and a child closing its copy of the
//! creator's handle would remove the parent's ring. So the handle counts
//! forks, and a handle used in a process other than the one that opened
//! it reopens the ring by name first (see `buffer`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Once;

/// Forks on the way from the process that loaded the module to this one.
static FORKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    // Relaxed: the child runs this in its only thread, before `fork`
    // returns there; every later load is in that thread or in threads it
    // starts (thread creation orders the store before them).
    FORKS.fetch_add(1, Relaxed);
}

/// Registers the child handler with `pthread_atfork` (once per process;
/// the registration is inherited by children).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `pthread_atfork` only records the function pointer; the
        // handler is async-signal-safe (one atomic add) as a child handler
        // of a multi-threaded parent must be.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
        // ENOMEM is the only failure; without the handler an inherited
        // handle is used as is, as in Rust.
        debug_assert_eq!(rc, 0);
    });
}

/// The current fork count; a handle opened at another count was inherited.
pub fn generation() -> u64 {
    FORKS.load(Relaxed)
}
