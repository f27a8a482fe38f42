//! `wrap-around`: the ring keeps FIFO order across many laps and for
//! items that straddle the end of the slot array.

use super::prelude::*;
use crate::case::laps;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("wrap-around.many-cycles", many_cycles),
    ("wrap-around.straddle", straddle),
];

/// Many laps: at a non-power of two, a small power of two and the smallest
/// capacity offered (1,000 each at least), and a few at the largest. The
/// first of the first three that the driver offers runs past 2^16 items put
/// and got, so that every 16-bit counter wraps: a 16-bit index taken modulo
/// a capacity that does not divide 2^16 breaks only there, and a 16-bit
/// sequence number only past its wrap.
fn many_cycles(ctx: &mut Ctx) -> CaseResult {
    let runs = [
        Need::capacity(3, &[3, 5], 8)
            .not_power_of_two()
            .at_most(100)
            .min_item_size(1),
        Need::capacity(2, &[4], 8)
            .power_of_two()
            .at_most(16)
            .min_item_size(1),
        Need::capacity(1, &[1], 8).min_item_size(1),
        Need::largest(1, LARGEST_CAPACITY, 8).min_item_size(1),
    ];
    let mut done = Vec::new();
    let mut wrapped = false;
    for (i, need) in runs.iter().enumerate() {
        let (d, _, g) = match ctx.fresh_ring(need) {
            Err(Outcome::Unfit(why)) if i != 2 => {
                ctx.note(format!("not offered: {why}"));
                continue;
            }
            other => other?,
        };
        if done.contains(&g.capacity) {
            continue;
        }
        let total = if i == 3 {
            3
        } else if !wrapped {
            wrapped = true;
            (laps::PAST_16_BITS / g.capacity + 1).max(1000)
        } else {
            1000
        };
        laps::laps(ctx, d, g, total)?;
        done.push(g.capacity);
    }
    ctx.note(format!("laps at capacities {done:?}"));
    Ok(())
}

fn straddle(ctx: &mut Ctx) -> CaseResult {
    let (d, _, g) = ctx.fresh_ring(&Need::capacity(2, &[5, 3], 8).min_item_size(4))?;
    let mut model = ReferenceFifo::new(g.capacity as usize, g.item_size as usize);
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
