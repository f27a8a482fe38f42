//! `wrap-around`: the ring keeps FIFO order across many laps and for
//! items that straddle the end of the slot array.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("wrap-around.many-cycles", many_cycles),
    ("wrap-around.straddle", straddle),
];

fn many_cycles(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 32)?;
    for cycle in 0..50u32 {
        let items: Vec<Vec<u8>> = (0..3u32)
            .map(|k| {
                let len = 4 + ((cycle * 7 + k * 5) % 29) as usize;
                let mut v = vec![(cycle + k) as u8; len];
                v[..4].copy_from_slice(&(cycle * 3 + k).to_le_bytes());
                v
            })
            .collect();
        for item in &items {
            expect_stored(ctx, d, item, true)?;
        }
        expect_stored(ctx, d, b"overflow", false)?;
        for item in &items {
            expect_get(ctx, d, Some(item))?;
        }
        expect_get(ctx, d, None)?;
    }
    Ok(())
}

fn straddle(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(5, 8)?;
    let mut model = FifoModel::new(5, 8);
    let mut n = 0u32;
    for round in 0..40 {
        let (puts, gets) = if round % 2 == 0 { (3, 2) } else { (4, 4) };
        for _ in 0..puts {
            let item = n.to_le_bytes();
            n += 1;
            let Expect::Stored(want) = model.put(&item) else {
                unreachable!()
            };
            expect_stored(ctx, d, &item, want)?;
        }
        for _ in 0..gets {
            let Expect::Data(want) = model.get() else {
                unreachable!()
            };
            expect_get(ctx, d, want.as_deref())?;
        }
    }
    Ok(())
}
