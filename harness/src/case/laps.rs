//! Driving a ring deep into its life: many laps of fill and drain, enough
//! operations to carry any 8- or 16-bit counter past its wrap, sent as
//! `batch`es when the driver has them.
//!
//! Published rings have shipped index or sequence counters of a narrow type
//! that break FIFO order, the full check or the empty check only after
//! hundreds of laps, or only at hundreds of slots; a short case never sees
//! them. [`laps`] is what the wrap-around, full and empty criteria run.

use super::geometry::Geometry;
use super::{fail, CaseResult, Ctx, Outcome};
use crate::client::Reply;
use crate::history::show;
use crate::protocol::{Feature, Op, Payload};
use crate::reference::Expect;

/// Ops per `batch`.
const BATCH_OPS: usize = 4096;

/// Operations past which every 16-bit counter of items put or got has
/// wrapped at least once.
pub const PAST_16_BITS: u64 = (1 << 16) + 64;

/// Runs `ops` on driver `d`: in `batch`es when the driver has them, else
/// one request each. A hang or a malformed answer says `context`.
///
/// # Errors
/// The case's verdict: a hang, a failure of the driver.
pub fn run_ops(
    ctx: &mut Ctx,
    d: usize,
    ops: Vec<Op>,
    context: &str,
) -> Result<Vec<Reply>, Outcome> {
    let annotate = |o: Outcome| match o {
        Outcome::Hung(m) => Outcome::Hung(format!("{m}, {context}")),
        Outcome::Fail(m) => Outcome::Fail(format!("{m}, {context}")),
        other => other,
    };
    if !ctx.has(Feature::Batch) {
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let r = ctx.driver(d).request(&op).map_err(|e| annotate(e.into()))?;
            out.push(r);
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(ops.len());
    for chunk in ops.chunks(BATCH_OPS) {
        ctx.note(format!("d{d} -> batch of {} ops ({context})", chunk.len()));
        let replies = ctx
            .driver(d)
            .batch(chunk.to_vec())
            .map_err(|e| annotate(e.into()))?;
        out.extend(replies);
    }
    Ok(out)
}

/// The item of `n`: `n` little-endian, cut to `item_size` bytes.
fn item(n: u64, item_size: u64) -> Vec<u8> {
    n.to_le_bytes()[..(item_size as usize).clamp(1, 8)].to_vec()
}

/// `total` laps on driver `d`'s empty ring of geometry `g`: each lap fills
/// it (every put stored) and drains it in order; every 64th lap and the
/// last also check that one more put is refused at full and one more get
/// finds it empty. Every answer is compared with what a bounded FIFO
/// gives; the first difference fails the case with its lap. Laps run in
/// groups of up to 64 (a hang names the group).
///
/// # Errors
/// The case's verdict.
pub fn laps(ctx: &mut Ctx, d: usize, g: Geometry, total: u64) -> CaseResult {
    let c = g.capacity;
    let mut lap = 0u64;
    while lap < total {
        let group = (total - lap).min(64);
        let mut ops = Vec::new();
        let mut want: Vec<(u64, Expect)> = Vec::new();
        let mut op = |o: Op, e: Expect, l: u64| {
            ops.push(o);
            want.push((l, e));
        };
        for l in lap..lap + group {
            let edges = l % 64 == 63 || l + 1 == total;
            for k in 0..c {
                let data = Payload(item(l * c + k, g.item_size));
                op(Op::Put { data }, Expect::Stored(true), l);
            }
            if edges {
                let data = Payload(item(u64::MAX - l, g.item_size));
                op(Op::Put { data }, Expect::Stored(false), l);
            }
            for k in 0..c {
                op(Op::Get, Expect::Data(Some(item(l * c + k, g.item_size))), l);
            }
            if edges {
                op(Op::Get, Expect::Data(None), l);
            }
        }
        let context = format!(
            "in laps {}..{} of {total} at capacity {c}",
            lap + 1,
            lap + group
        );
        let replies = run_ops(ctx, d, ops.clone(), &context)?;
        for ((op, r), (l, expected)) in ops.iter().zip(&replies).zip(&want) {
            let at = format!("lap {} of {total} at capacity {c}", l + 1);
            if let Err((code, msg)) = &r.result {
                fail!("{} failed with {code} ({msg}) in {at}", op.name());
            }
            match (op, expected) {
                (Op::Put { data }, Expect::Stored(want)) => {
                    let got = r.stored()?;
                    if got != *want {
                        let state = if *want { "not full" } else { "full" };
                        fail!(
                            "put of {} answered stored: {got} in {at}, with the ring {state}",
                            show(&data.0)
                        );
                    }
                }
                (Op::Get, Expect::Data(want)) => {
                    let got = r.data()?;
                    if got != *want {
                        fail!(
                            "get answered {} in {at}; expected {}",
                            got.as_deref().map_or("null".into(), show),
                            want.as_deref().map_or("null".into(), show)
                        );
                    }
                }
                _ => {}
            }
        }
        lap += group;
    }
    ctx.note(format!(
        "{total} laps at capacity {c}: all answers as a bounded FIFO gives"
    ));
    Ok(())
}

/// On driver `d`'s ring of geometry `g`, filled in order with the items
/// `0..capacity` (as `item` makes them): one more put is refused, the
/// items come out in order, and one more get finds it empty.
///
/// # Errors
/// The case's verdict.
pub fn laps_from_full(ctx: &mut Ctx, d: usize, g: Geometry) -> CaseResult {
    let mut ops = vec![Op::Put {
        data: Payload(item(u64::MAX, g.item_size)),
    }];
    ops.extend((0..g.capacity).map(|_| Op::Get));
    ops.push(Op::Get);
    let context = format!("draining a full ring of {}", g.capacity);
    let replies = run_ops(ctx, d, ops, &context)?;
    if replies[0].stored()? {
        fail!(
            "a put on a full ring of {} answered stored: true",
            g.capacity
        );
    }
    for (k, r) in replies[1..].iter().enumerate() {
        let want = (k < g.capacity as usize).then(|| item(k as u64, g.item_size));
        let got = r.data()?;
        if got != want {
            fail!(
                "get {} of a full ring of {} answered {}; expected {}",
                k + 1,
                g.capacity,
                got.as_deref().map_or("null".into(), show),
                want.as_deref().map_or("null".into(), show)
            );
        }
    }
    Ok(())
}
