//! `oversize`: an item of exactly `item_size` bytes fits; a larger one is
//! refused and changes nothing.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("oversize.exact-fits", exact_fits),
    ("oversize.refused", oversize_refused),
];

fn exact_fits(ctx: &mut Ctx) -> CaseResult {
    let mut rng = ctx.rng();
    let mut checked = 0;
    for size in [1u64, 64, 4096] {
        // Each size that the driver offers; at least one must be.
        let (d, _, g) = match ctx.fresh_ring(&Need::capacity(1, &[2], size)) {
            Err(Outcome::Unfit(_)) if size > 1 => continue,
            other => other?,
        };
        let item = rng.bytes(g.item_size as usize);
        expect_stored(ctx, d, &item, true)?;
        expect_get(ctx, d, Some(&item))?;
        checked += 1;
    }
    ctx.note(format!("{checked} item sizes checked"));
    Ok(())
}

fn oversize_refused(ctx: &mut Ctx) -> CaseResult {
    let (d, _, g) = ctx.fresh_ring(&Need::capacity(2, &[3], 16).min_item_size(1))?;
    expect_stored(ctx, d, b"a", true)?;
    for len in [g.item_size as usize + 1, 4 * g.item_size as usize] {
        ctx.call_err(
            d,
            Op::Put {
                data: Payload(vec![b'x'; len]),
            },
            ErrorCode::TooLarge,
        )?;
    }
    expect_len(ctx, d, 1)?;
    expect_get(ctx, d, Some(b"a"))?;
    expect_get(ctx, d, None)
}
