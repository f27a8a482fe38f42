//! `zero-byte`: a 0-byte item is an item.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[("zero-byte.item", zero_byte)];

fn zero_byte(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[3], 8).min_item_size(1))?;
    expect_stored(ctx, d, b"", true)?;
    expect_len(ctx, d, 1)?;
    expect_get(ctx, d, Some(b""))?;
    expect_get(ctx, d, None)
}
