//! The runtime the cases of [`crate::criteria`] run on, apart from the
//! registry of criteria: the context of a case ([`Ctx`], with its drivers,
//! transcript and roles), how a case ends ([`Outcome`]), the expectations
//! the cases share, the choice of a geometry that meets a case's need
//! ([`geometry`]), laps of puts and gets around a ring (`laps`), and the
//! workload of the concurrent cases (`workload`). [`crate::run`] and
//! [`crate::explore`] depend on this module, not on the registry.

mod context;
mod expect;
pub mod geometry;
pub(crate) mod laps;
mod outcome;
pub(crate) mod workload;

pub use context::{Ctx, Role};
pub(crate) use expect::{expect_get, expect_len, expect_stored, second_handle};
pub(crate) use outcome::fail;
pub use outcome::{CaseFn, CaseResult, Outcome};
pub use ringcheck_models::Rng;
