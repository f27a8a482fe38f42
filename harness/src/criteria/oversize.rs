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
    for size in [1u64, 64, 4096] {
        let (d, _) = ctx.fresh_ring(2, size)?;
        let item = rng.bytes(size as usize);
        expect_stored(ctx, d, &item, true)?;
        expect_get(ctx, d, Some(&item))?;
    }
    Ok(())
}

fn oversize_refused(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 16)?;
    expect_stored(ctx, d, b"a", true)?;
    for len in [17, 64] {
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
