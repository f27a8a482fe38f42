//! `integrity`: a damaged item is detected (`corrupt`), consumed, and the
//! items behind it stay reachable.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("integrity.corrupt-detected", corrupt_detected),
    ("integrity.corrupt-empty-item", corrupt_empty_item),
    ("integrity.corrupt-on-empty", corrupt_on_empty),
];

fn corrupt_detected(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(3, &[4], 16).min_item_size(1))?;
    for item in [b"a", b"b", b"c"] {
        expect_stored(ctx, d, item, true)?;
    }
    ctx.call_ok(d, Op::Corrupt)?;
    ctx.call_err(d, Op::Get, ErrorCode::Corrupt)?;
    expect_get(ctx, d, Some(b"b"))?;
    expect_get(ctx, d, Some(b"c"))?;
    expect_get(ctx, d, None)
}

fn corrupt_empty_item(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(2, &[4], 16).min_item_size(1))?;
    expect_stored(ctx, d, b"", true)?;
    expect_stored(ctx, d, b"b", true)?;
    ctx.call_ok(d, Op::Corrupt)?;
    ctx.call_err(d, Op::Get, ErrorCode::Corrupt)?;
    expect_get(ctx, d, Some(b"b"))
}

fn corrupt_on_empty(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[4], 16).min_item_size(1))?;
    ctx.call_err(d, Op::Corrupt, ErrorCode::Invalid)
}
