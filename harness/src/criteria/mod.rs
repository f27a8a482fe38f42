//! The criteria of the spec, one module each, named as the ids in
//! `ring.toml` (`put-get` is `put_get`), and their registry.
//!
//! Each module exports `CASES`, its case ids with their functions; a case is
//! a function from a [`Ctx`](crate::case::Ctx) (the session with the
//! implementation, the seed and a transcript) to a
//! [`CaseResult`](crate::case::CaseResult); the runtime cases run on is
//! [`crate::case`]. [`registry`] concatenates them,
//! and a test checks the mapping against `ring.toml` both ways. A new
//! criterion is a `ring.toml` entry, one module here, and one line in
//! [`registry`].

mod blocking;
mod concurrency;
mod crash;
mod deadlock_timeout;
mod empty;
mod fifo;
mod full;
mod integrity;
mod lifecycle;
mod lock_release;
mod oversize;
mod put_get;
mod wrap_around;
mod zero_byte;

use crate::case::CaseFn;

/// What every criterion module uses: the case types, the context, the
/// expectations, the protocol's types and the reference FIFO.
mod prelude {
    pub(super) use crate::case::geometry::{Geometry, Need, LARGEST_CAPACITY};
    pub(super) use crate::case::{
        expect_get, expect_len, expect_stored, fail, second_handle, CaseFn, CaseResult, Ctx,
        Outcome, Rng,
    };
    pub(super) use crate::history::show;
    pub(super) use crate::protocol::{ErrorCode, Feature, Op, Payload};
    pub(super) use crate::reference::{Expect, ReferenceFifo};
}

/// Every case id with its function, in spec order.
pub fn registry() -> Vec<(&'static str, CaseFn)> {
    [
        lifecycle::CASES,
        put_get::CASES,
        fifo::CASES,
        full::CASES,
        empty::CASES,
        oversize::CASES,
        zero_byte::CASES,
        wrap_around::CASES,
        integrity::CASES,
        blocking::CASES,
        lock_release::CASES,
        concurrency::CASES,
        crash::CASES,
        deadlock_timeout::CASES,
    ]
    .concat()
}
