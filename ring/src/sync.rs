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
//! registers (RMW) and then loads the futex word; the signaller bumps the
//! word (RMW) and then loads the waiter count; all SeqCst. Loom does not
//! implement the SeqCst total order for loads (its docs: SeqCst is treated
//! as AcqRel), so a plain SeqCst load may read a stale value there and loom
//! would report a lost wake-up that the C++ model forbids (measured: with
//! plain SeqCst loads, 11 of the 14 loom models of the correct core report
//! a deadlock or a violation). Under loom,
//! [`AtomicWord::load_seqcst`] is therefore `fetch_add(0, Acquire)`: loom
//! runs an RMW against the newest store of the interleaving it is
//! exploring, so with RMWs on both sides one side must see the other, which
//! is what the SeqCst order gives the production loads. This rests on how
//! loom executes RMWs, not on the C++ model (where an Acquire RMW alone
//! would not be enough); production keeps the SeqCst load. The RMW is
//! Acquire, not Release, so that it adds no happens-before edge the
//! production load lacks: a Release RMW would hide the seeded
//! `RelaxedWaiterCount` fault (`crate::algorithm::Fault`).
//!
//! The limit this leaves: loom runs the pair's RMWs (the registration and
//! the bump) in interleaving order, so weakening *them* to Relaxed, a bug
//! on weakly ordered hardware, is found by neither loom nor shuttle (which
//! treats every ordering as SeqCst). Only the loads of the pair are checked.

use std::sync::atomic::Ordering;

// The primitives serve only the heap memory of the models.

#[cfg(all(feature = "model", loom))]
pub(crate) use loom::{
    cell::UnsafeCell,
    hint::spin_loop,
    sync::{atomic, Arc, Condvar, Mutex, MutexGuard},
};

#[cfg(all(feature = "model", shuttle, not(loom)))]
pub(crate) use shuttle::{
    hint::spin_loop,
    sync::{atomic, Arc, Condvar, Mutex, MutexGuard},
};

#[cfg(all(feature = "model", not(any(loom, shuttle))))]
pub(crate) use std::{
    hint::spin_loop,
    sync::{atomic, Arc, Condvar, Mutex, MutexGuard},
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
    /// A load that takes part in the SeqCst total order: `load(SeqCst)`,
    /// but an Acquire RMW under loom (see the module docs).
    fn load_seqcst(&self) -> T;
}

macro_rules! atomic_word {
    ($atomic:ty, $int:ty, $seqcst:expr) => {
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
            #[inline]
            fn load_seqcst(&self) -> $int {
                let f: fn(&$atomic) -> $int = $seqcst;
                f(self)
            }
        }
    };
}

atomic_word!(std::sync::atomic::AtomicU32, u32, |a| a
    .load(Ordering::SeqCst));
atomic_word!(std::sync::atomic::AtomicU64, u64, |a| a
    .load(Ordering::SeqCst));

#[cfg(loom)]
atomic_word!(loom::sync::atomic::AtomicU32, u32, |a| a
    .fetch_add(0, Ordering::Acquire));
#[cfg(loom)]
atomic_word!(loom::sync::atomic::AtomicU64, u64, |a| a
    .fetch_add(0, Ordering::Acquire));

#[cfg(all(shuttle, not(loom)))]
atomic_word!(shuttle::sync::atomic::AtomicU32, u32, |a| a
    .load(Ordering::SeqCst));
#[cfg(all(shuttle, not(loom)))]
atomic_word!(shuttle::sync::atomic::AtomicU64, u64, |a| a
    .load(Ordering::SeqCst));
