//! `empty`: a get on an empty ring returns nothing.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("empty.new-ring", empty_new),
    ("empty.after-drain", empty_after_drain),
];

fn empty_new(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 8)?;
    expect_get(ctx, d, None)?;
    expect_len(ctx, d, 0)
}

fn empty_after_drain(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 8)?;
    expect_stored(ctx, d, b"x", true)?;
    expect_get(ctx, d, Some(b"x"))?;
    expect_get(ctx, d, None)?;
    expect_get(ctx, d, None)?;
    expect_len(ctx, d, 0)?;
    expect_stored(ctx, d, b"y", true)?;
    expect_get(ctx, d, Some(b"y"))
}
