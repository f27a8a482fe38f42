//! `put-get`: an item put is the item got; `len` follows.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("put-get.roundtrip", roundtrip),
    ("put-get.len", len_follows),
];

fn roundtrip(ctx: &mut Ctx) -> CaseResult {
    let (d, _, g) = ctx.fresh_ring(&Need::capacity(1, &[4], 64).min_item_size(2))?;
    let mut rng = ctx.rng();
    let max = g.item_size as usize;
    for size in [1, 5, max - 1, max, 17, 2] {
        let item = rng.bytes(size.min(max));
        expect_stored(ctx, d, &item, true)?;
        expect_get(ctx, d, Some(&item))?;
    }
    Ok(())
}

fn len_follows(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(3, &[5], 8).min_item_size(1))?;
    expect_len(ctx, d, 0)?;
    for n in 1..=3 {
        expect_stored(ctx, d, &[n as u8], true)?;
        expect_len(ctx, d, n)?;
    }
    for n in (0..3).rev() {
        ctx.get(d)?;
        expect_len(ctx, d, n)?;
    }
    Ok(())
}
