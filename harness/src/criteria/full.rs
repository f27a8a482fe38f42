//! `full`: a ring holds exactly `capacity` items and refuses the next.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("full.exactly-capacity", exactly_capacity),
    ("full.refuse", full_refuse),
];

fn exactly_capacity(ctx: &mut Ctx) -> CaseResult {
    for capacity in [1u64, 2, 7] {
        let (d, _) = ctx.fresh_ring(capacity, 8)?;
        for i in 0..capacity {
            expect_stored(ctx, d, &[i as u8; 3], true)?;
        }
        expect_len(ctx, d, capacity)?;
    }
    Ok(())
}

fn full_refuse(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 8)?;
    for item in [b"a", b"b", b"c"] {
        expect_stored(ctx, d, item, true)?;
    }
    expect_stored(ctx, d, b"d", false)?;
    expect_stored(ctx, d, b"e", false)?;
    expect_len(ctx, d, 3)?;
    for item in [b"a", b"b", b"c"] {
        expect_get(ctx, d, Some(item))?;
    }
    expect_get(ctx, d, None)
}
