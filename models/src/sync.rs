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
