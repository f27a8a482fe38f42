//! The synchronisation facade of the ring, in the manner of tokio's
//! `src/loom/`: one crate-private module decides where atomics, locks,
//! condition variables and cells come from.
//!
//! | build | primitives |
//! |---|---|
//! | default | `std` |
//! | `RUSTFLAGS="--cfg loom"` | [loom](https://docs.rs/loom) (exhaustive schedules, weak memory, cell race detection) |
//! | `RUSTFLAGS="--cfg shuttle"` | [shuttle](https://docs.rs/shuttle) (randomized and PCT schedules, replayable) |
//!
//! Both switches are `cfg`s, not Cargo features: a feature would change
//! what a type is for every crate in the build, which features must not do.
//!
//! The heap-backed model ring (`crate::model`, `model` feature) is built
//! only on this module, and the ring algorithm ([`crate::algorithm`])
//! reaches its atomics only through [`AtomicWord`], so the very code that
//! runs on a mapped segment in production runs under loom and shuttle in
//! the models. The models themselves (`ringcheck_models`) take their
//! threads from their own facade under the same `cfg`.
//!
//! # SeqCst under loom
//! The ring's wake-up protocol is a store-buffering pair: the waiter
//! registers (RMW), issues a SeqCst fence and loads the index; the
//! committer stores the index, issues a SeqCst fence and loads the
//! registry. It rests on fences, not on SeqCst loads, because loom treats
//! SeqCst loads and stores as AcqRel (its README, "Unsupported features")
//! but implements `fence(SeqCst)`: the later of two fences there sees
//! everything before the earlier one. Nor does it use a read-modify-write
//! of the index as a "latest value" load: loom orders stores only
//! partially, and an RMW that wrote the index back would become a store a
//! later RMW may read instead of the committer's. The seeded
//! `RelaxedWaiterCount` fault (the committer's fence left out) is found by
//! loom as a lost wake-up. Shuttle runs every operation sequentially
//! consistent and finds no ordering bug.

use std::sync::atomic::Ordering;

// The primitives serve only the heap memory of the models.

#[cfg(all(feature = "model", loom))]
pub(crate) use loom::{
    cell::UnsafeCell,
    hint::spin_loop,
    sync::{atomic, Arc, Condvar, Mutex},
};

#[cfg(all(feature = "model", shuttle, not(loom)))]
pub(crate) use shuttle::{
    hint::spin_loop,
    sync::{atomic, Arc, Condvar, Mutex},
};

#[cfg(all(feature = "model", not(any(loom, shuttle))))]
pub(crate) use std::{
    hint::spin_loop,
    sync::{atomic, Arc, Condvar, Mutex},
};

#[cfg(all(feature = "model", not(loom)))]
pub(crate) use self::std_cell::UnsafeCell;

#[cfg(all(feature = "model", not(loom)))]
mod std_cell {
    /// `std::cell::UnsafeCell` with loom's closure API, so that model code
    /// is written once. Shuttle runs one thread at a time and has no cell
    /// of its own.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `data`.
        pub const fn new(data: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(data))
        }

        /// Calls `f` with a shared pointer to the contents. The caller
        /// guarantees that no `with_mut` runs at the same time.
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a unique pointer to the contents. The caller
        /// guarantees exclusive access for the duration of `f`.
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// The atomic operations the ring algorithm performs on a header word, so
/// that the algorithm is written once over `std` atomics in a mapped segment
/// and over loom's or shuttle's atomics in a model.
pub(crate) trait AtomicWord<T>: Send + Sync {
    /// `load(order)`.
    fn load(&self, order: Ordering) -> T;
    /// `store(value, order)`.
    fn store(&self, value: T, order: Ordering);
    /// `fetch_add(value, order)`, wrapping; returns the previous value.
    fn fetch_add(&self, value: T, order: Ordering) -> T;
    /// `compare_exchange(current, new, success, failure)`.
    fn compare_exchange(
        &self,
        current: T,
        new: T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<T, T>;
}

macro_rules! atomic_word {
    ($atomic:ty, $int:ty) => {
        impl AtomicWord<$int> for $atomic {
            #[inline]
            fn load(&self, order: Ordering) -> $int {
                <$atomic>::load(self, order)
            }
            #[inline]
            fn store(&self, value: $int, order: Ordering) {
                <$atomic>::store(self, value, order)
            }
            #[inline]
            fn fetch_add(&self, value: $int, order: Ordering) -> $int {
                <$atomic>::fetch_add(self, value, order)
            }
            #[inline]
            fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                <$atomic>::compare_exchange(self, current, new, success, failure)
            }
        }
    };
}

atomic_word!(std::sync::atomic::AtomicU32, u32);
atomic_word!(std::sync::atomic::AtomicU64, u64);

#[cfg(loom)]
atomic_word!(loom::sync::atomic::AtomicU32, u32);
#[cfg(loom)]
atomic_word!(loom::sync::atomic::AtomicU64, u64);

#[cfg(all(shuttle, not(loom)))]
atomic_word!(shuttle::sync::atomic::AtomicU32, u32);
#[cfg(all(shuttle, not(loom)))]
atomic_word!(shuttle::sync::atomic::AtomicU64, u64);
