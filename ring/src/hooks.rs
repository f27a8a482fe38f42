//! Pause points inside the critical section, for crash tests and models.
//!
//! A test program installs a hook that, at a chosen point, tells its parent
//! "I am here" and then blocks; the parent SIGKILLs it there. This puts the
//! kill exactly inside the lock instead of relying on luck. With no hook
//! installed the cost is one relaxed load of a flag per operation. The
//! models name the same [`Point`]s to abandon an operation there
//! ([`crate::heap::HeapMemory::handle_killed_at`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Where inside an operation the hook is called. All points are inside the
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

type Hook = Box<dyn Fn(Point) + Send + Sync>;

static ENABLED: AtomicBool = AtomicBool::new(false);
static HOOK: OnceLock<Hook> = OnceLock::new();

/// Installs `hook` for the rest of the process's life. Returns false if a
/// hook was already installed (the first one stays).
pub fn install(hook: impl Fn(Point) + Send + Sync + 'static) -> bool {
    let fresh = HOOK.set(Box::new(hook)).is_ok();
    ENABLED.store(true, Ordering::Release);
    fresh
}

#[inline]
pub(crate) fn at(point: Point) {
    if ENABLED.load(Ordering::Relaxed) {
        if let Some(hook) = HOOK.get() {
            hook(point);
        }
    }
}
