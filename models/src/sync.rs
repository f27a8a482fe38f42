//! Where the models' threads come from: `std` by default, loom under
//! `RUSTFLAGS="--cfg loom"`, shuttle under `RUSTFLAGS="--cfg shuttle"`.
//!
//! A ring under test must take its own atomics, locks and condition
//! variables from the same library under the same `cfg` (its own facade, in
//! the manner of tokio's `src/loom/`), so that loom or shuttle controls
//! every thread and every synchronisation point of a model. Both switches
//! are `cfg`s, not Cargo features: a feature would change what a type is
//! for every crate in the build, which features must not do.

#[cfg(loom)]
pub use loom::thread;

#[cfg(all(shuttle, not(loom)))]
pub use shuttle::thread;

#[cfg(not(any(loom, shuttle)))]
pub use std::thread;

/// The models' history clock comes from here, so that under loom the
/// real-time order the linearizability check reads off the clock is a
/// happens-before order, as a SeqCst counter makes it on hardware (loom
/// does not order a plain `std` atomic, so with one a load could read a
/// value that the clock says was overwritten before the load began).
#[cfg(loom)]
pub use loom::sync::atomic::AtomicU64;

#[cfg(all(shuttle, not(loom)))]
pub use shuttle::sync::atomic::AtomicU64;

#[cfg(not(any(loom, shuttle)))]
pub use std::sync::atomic::AtomicU64;
