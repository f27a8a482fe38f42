//! Schedule-exploration models of a ring, generic over the ring
//! ([`ModelRing`]), to run under loom, shuttle or plain threads.
//!
//! Each model spawns its threads through [`sync`] (the facade that is
//! `std`, loom under `--cfg loom` or shuttle under `--cfg shuttle`), records every operation
//! as a history [`Event`](history::Event) stamped by a logical clock, and checks the
//! history for linearizability against the FIFO specification with
//! [`history::check`] plus the model's own assertions. A violation panics,
//! which is how loom and shuttle learn that a schedule failed.
//!
//! The loom models are small on purpose (2 to 4 threads, a few operations)
//! because loom explores every interleaving up to its preemption bound; the
//! shuttle [`Scenario`]s are larger (3 to 4 threads, tens of operations)
//! and chosen by proptest ([`scenario_strategy`]).
//!
//! A ring joins by implementing [`ModelRing`] (and [`CrashModelRing`] if it
//! can model an owner killed inside its critical section) on loom's or
//! shuttle's primitives under the same `cfg`, so that loom and shuttle
//! control its threads, atomics and locks. This crate depends on no ring:
//! `shmring` implements both traits for its heap ring behind its `model`
//! feature, and its `tests/loom.rs` and `tests/shuttle.rs` show the runner
//! glue.

#![deny(missing_docs)]

pub mod history;
pub mod item;
mod rng;
mod scenario;
pub mod seeds;
mod small;
pub mod sync;
mod threads;

pub use rng::Rng;
pub use scenario::{run_scenario, scenario_strategy, Scenario};
pub use seeds::proptest_config;
pub use small::{
    boundaries, get_woken_by_put, get_woken_twice, owner_killed, put_get, put_timeout_expires,
    put_woken_by_get, timeout_expires, two_producers_contend, two_producers_one_consumer,
    wrap_around,
};
pub use threads::model_item;

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a put or get may wait, in the ring's model clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wait {
    /// Do not wait: refuse when full, return nothing when empty.
    No,
    /// Wait up to this many model milliseconds (each
    /// [`ModelRing::advance_clock`] is one).
    Ms(u64),
    /// Wait until woken; a lost wake-up leaves the thread asleep, which
    /// loom and shuttle report as a deadlock.
    Forever,
}

impl Wait {
    /// As a `Duration` (`Duration::MAX` for ever, zero for no wait).
    pub fn duration(self) -> Duration {
        match self {
            Wait::No => Duration::ZERO,
            Wait::Ms(ms) => Duration::from_millis(ms),
            Wait::Forever => Duration::MAX,
        }
    }
}

/// Why an operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// A [`CrashModelRing`] handle abandoned it at its kill point.
    Abandoned,
    /// Any other error (a corrupt item, a broken header, ...), in words.
    Failed(String),
}

/// A ring that the models can drive. All methods are called from threads
/// of the [`sync`] facade.
pub trait ModelRing: Send + Sync + Sized + 'static {
    /// Slots, items.
    fn capacity(&self) -> usize;
    /// Largest item, bytes.
    fn item_size(&self) -> usize;
    /// Another handle on the same ring, for another thread (as another
    /// process would open the ring).
    fn handle(&self) -> Self;
    /// Stores `item`, waiting as `wait` says: `Ok(false)` if full at the
    /// end of the wait.
    ///
    /// # Errors
    /// [`OpError`].
    fn put(&self, item: &[u8], wait: Wait) -> Result<bool, OpError>;
    /// Takes the oldest item, waiting as `wait` says: `Ok(None)` if empty at
    /// the end of the wait.
    ///
    /// # Errors
    /// [`OpError`].
    fn get(&self, wait: Wait) -> Result<Option<Vec<u8>>, OpError>;
    /// Moves the ring's model clock on by 1 ms and wakes timed waiters.
    fn advance_clock(&self);
}

/// Where a [`CrashModelRing`] handle dies, holding its side's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// A put has written part of its payload; nothing is published.
    PutHalfWritten,
    /// A put has committed but not unlocked.
    PutCommitted,
    /// A get has copied its item out but not consumed it.
    GetCopied,
}

/// A ring whose handles can die inside the critical section.
pub trait CrashModelRing: ModelRing {
    /// A handle whose first operation reaching `point` is abandoned there,
    /// holding the lock ([`OpError::Abandoned`]).
    fn handle_killed_at(&self, point: KillPoint) -> Self;
}

/// The number in environment variable `var` (a test budget such as
/// `PROPTEST_CASES` or `SHMRING_SHUTTLE_ITERATIONS`), or `default` if it is
/// unset or not a number.
pub fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
