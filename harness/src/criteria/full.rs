//! `full`: a ring holds exactly `capacity` items and refuses the next.

use super::prelude::*;
use crate::case::laps;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("full.exactly-capacity", exactly_capacity),
    ("full.refuse", full_refuse),
];

/// Fills rings of capacity 1, a small power of two, a non-power of two and
/// the largest offered (up to [`LARGEST_CAPACITY`]; at least 256 when
/// offered), each that the driver offers: every put stored up to capacity,
/// the next refused, `len` equal to the capacity, then drained in order.
fn exactly_capacity(ctx: &mut Ctx) -> CaseResult {
    let needs = [
        Need::exactly(1, 8).min_item_size(1),
        Need::capacity(2, &[4], 8)
            .power_of_two()
            .at_most(64)
            .min_item_size(1),
        Need::capacity(3, &[7, 5], 8)
            .not_power_of_two()
            .at_most(100)
            .min_item_size(1),
        Need::largest(1, LARGEST_CAPACITY, 8).min_item_size(1),
    ];
    let mut checked = Vec::new();
    for need in &needs {
        let (d, _, g) = match ctx.fresh_ring(need) {
            Err(Outcome::Unfit(why)) => {
                ctx.note(format!("not offered: {why}"));
                continue;
            }
            other => other?,
        };
        if checked.contains(&g.capacity) {
            continue;
        }
        checked.push(g.capacity);
        for i in 0..g.capacity {
            expect_stored(
                ctx,
                d,
                &i.to_le_bytes()[..(g.item_size as usize).min(8)],
                true,
            )?;
        }
        expect_len(ctx, d, g.capacity)?;
        laps::laps_from_full(ctx, d, g)?;
    }
    if checked.is_empty() {
        return Err(Outcome::Unfit(
            "no capacity the driver offers could be filled".into(),
        ));
    }
    ctx.note(format!("filled at capacities {checked:?}"));
    Ok(())
}

fn full_refuse(ctx: &mut Ctx) -> CaseResult {
    let (d, _, g) = ctx.fresh_ring(&Need::capacity(1, &[3], 8).min_item_size(1))?;
    let items: Vec<Vec<u8>> = (0..g.capacity)
        .map(|i| i.to_le_bytes()[..(g.item_size as usize).min(8)].to_vec())
        .collect();
    for item in &items {
        expect_stored(ctx, d, item, true)?;
    }
    expect_stored(ctx, d, b"d", false)?;
    expect_stored(ctx, d, b"e", false)?;
    expect_len(ctx, d, g.capacity)?;
    for item in &items {
        expect_get(ctx, d, Some(item))?;
    }
    expect_get(ctx, d, None)
}
