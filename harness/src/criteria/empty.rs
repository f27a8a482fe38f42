//! `empty`: a get on an empty ring returns nothing.

use super::prelude::*;
use crate::case::laps;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("empty.new-ring", empty_new),
    ("empty.after-drain", empty_after_drain),
];

fn empty_new(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[3], 8).min_item_size(1))?;
    expect_get(ctx, d, None)?;
    expect_len(ctx, d, 0)
}

/// A drained ring is empty: at the smallest capacity offered, and after
/// filling and draining the largest (up to [`LARGEST_CAPACITY`]) twice.
fn empty_after_drain(ctx: &mut Ctx) -> CaseResult {
    let (d, _, g) = ctx.fresh_ring(&Need::largest(1, LARGEST_CAPACITY, 8).min_item_size(1))?;
    laps::laps(ctx, d, g, 2)?;
    expect_len(ctx, d, 0)?;
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[3], 8).min_item_size(1))?;
    expect_stored(ctx, d, b"x", true)?;
    expect_get(ctx, d, Some(b"x"))?;
    expect_get(ctx, d, None)?;
    expect_get(ctx, d, None)?;
    expect_len(ctx, d, 0)?;
    expect_stored(ctx, d, b"y", true)?;
    expect_get(ctx, d, Some(b"y"))
}
