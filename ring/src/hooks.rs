//! Pause points inside the critical section, for crash tests (only with the
//! `test-hooks` feature, or under `--cfg loom` / `--cfg shuttle`).
//!
//! A test program installs a hook that, at a chosen point, tells its parent
//! "I am here" and then blocks; the parent SIGKILLs it there. This puts the
//! kill exactly inside the lock instead of relying on luck. With no hook
//! installed the cost is one relaxed load of a flag per operation; without
//! the feature the calls compile away. The models name the same points to
//! abandon an operation there (`ringcheck_models::KillPoint`, mapped onto
//! [`KillPoint`] by `shmring::model`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

pub use crate::algorithm::KillPoint;

type Hook = Box<dyn Fn(KillPoint) + Send + Sync>;

static ENABLED: AtomicBool = AtomicBool::new(false);
static HOOK: OnceLock<Hook> = OnceLock::new();

/// Installs `hook` for the rest of the process's life. Returns false if a
/// hook was already installed (the first one stays).
pub fn install(hook: impl Fn(KillPoint) + Send + Sync + 'static) -> bool {
    let fresh = HOOK.set(Box::new(hook)).is_ok();
    ENABLED.store(true, Ordering::Release);
    fresh
}

#[inline]
pub(crate) fn at(point: KillPoint) {
    if ENABLED.load(Ordering::Relaxed) {
        if let Some(hook) = HOOK.get() {
            hook(point);
        }
    }
}
