//! `ringcheck`: the ring spec as executable criteria, checked against any
//! ring implementation over a language-agnostic driver protocol.
//!
//! The pipeline reads top to bottom:
//!
//! | stage | module |
//! |---|---|
//! | the spec: criteria and cases (`ring.toml`) | [`spec`] |
//! | the cases, one module per criterion | [`criteria`] |
//! | the runtime of a case: context, outcome, expectations, geometry, laps, workload | [`case`] |
//! | a session with the implementation: drivers, `hello`, ring names, leftovers | [`session`], [`client`] |
//! | histories and their checker | [`history`] (from `ringcheck-models`) |
//! | verdicts of a run | [`run`] |
//! | reports: text, JSON, JUnit, SVG timeline | [`report`] |
//! | generated scenarios, shrinking | [`explore`] |
//! | one test per case in your own suite, snapshots | [`testing`] |
//! | `--only`, `--exclude`, `--partition` | [`select`] |
//!
//! The wire types come from `ringcheck-protocol` (re-exported as
//! [`protocol`]); the loom and shuttle models and the history checker from
//! `ringcheck-models`. This crate depends on no ring: the built-in ring is
//! checked through its driver binary, `shmring-driver`.

#![deny(missing_docs)]

pub mod case;
pub mod client;
pub mod criteria;
pub mod explore;
pub mod reference;
pub mod report;
pub mod run;
pub mod select;
pub mod session;
pub mod spec;
pub mod testing;

pub use ringcheck_models::{history, item};
pub use ringcheck_protocol as protocol;
