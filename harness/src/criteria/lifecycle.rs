//! `lifecycle`: create, open, close and their errors.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("lifecycle.create-open", create_open),
    ("lifecycle.open-missing", open_missing),
    ("lifecycle.create-existing", create_existing),
    ("lifecycle.opener-close-keeps", opener_close_keeps),
    ("lifecycle.creator-close-removes", creator_close_removes),
    ("lifecycle.invalid-geometry", invalid_geometry),
    ("lifecycle.invalid-name", invalid_name),
    ("lifecycle.closed-ops", closed_ops),
];

fn create_open(ctx: &mut Ctx) -> CaseResult {
    let (d0, name, g) = ctx.fresh_ring(&Need::capacity(2, &[5, 6, 3], 48).min_item_size(8))?;
    let (d1, c, s) = second_handle(ctx, d0, &name)?;
    if (c, s) != (g.capacity, g.item_size) {
        fail!(
            "open reported capacity {c}, item_size {s}; the ring was created with {} and {}",
            g.capacity,
            g.item_size
        );
    }
    expect_stored(ctx, d0, b"across", true)?;
    expect_get(ctx, d1, Some(b"across"))
}

fn open_missing(ctx: &mut Ctx) -> CaseResult {
    let d = ctx.spawn()?;
    let name = ctx.ring_name();
    ctx.call_err(d, Op::Open { name }, ErrorCode::NotFound)
}

fn create_existing(ctx: &mut Ctx) -> CaseResult {
    let (d0, name, g) = ctx.fresh_ring(&Need::capacity(1, &[4], 8).min_item_size(4))?;
    expect_stored(ctx, d0, b"keep", true)?;
    let d1 = if ctx.has(Feature::Processes) {
        ctx.spawn()?
    } else {
        d0
    };
    let again = Op::Create {
        name: name.clone(),
        capacity: g.capacity,
        item_size: g.item_size,
    };
    ctx.call_err(d1, again, ErrorCode::Exists)?;
    let (d2, c, s) = second_handle(ctx, d0, &name)?;
    if (c, s) != (g.capacity, g.item_size) {
        fail!(
            "after a refused create the ring reports capacity {c}, item_size {s}; expected {} and {}",
            g.capacity,
            g.item_size
        );
    }
    expect_len(ctx, d2, 1)?;
    expect_get(ctx, d2, Some(b"keep"))
}

fn opener_close_keeps(ctx: &mut Ctx) -> CaseResult {
    let (d0, name, _) = ctx.fresh_ring(&Need::capacity(1, &[3], 16).min_item_size(4))?;
    expect_stored(ctx, d0, b"keep", true)?;
    let d1 = ctx.spawn()?;
    ctx.open(d1, &name)?;
    ctx.call_ok(d1, Op::Close)?;
    let d2 = ctx.spawn()?;
    ctx.open(d2, &name)?;
    expect_get(ctx, d2, Some(b"keep"))
}

fn creator_close_removes(ctx: &mut Ctx) -> CaseResult {
    let (d0, name, _) = ctx.fresh_ring(&Need::capacity(1, &[3], 16))?;
    ctx.call_ok(d0, Op::Close)?;
    let d1 = if ctx.has(Feature::Processes) {
        ctx.spawn()?
    } else {
        d0
    };
    ctx.call_err(d1, Op::Open { name }, ErrorCode::NotFound)
}

fn invalid_geometry(ctx: &mut Ctx) -> CaseResult {
    let d = ctx.spawn()?;
    for (capacity, item_size) in [(0, 64), (10, 0), (0, 0)] {
        let name = ctx.ring_name();
        let op = Op::Create {
            name: name.clone(),
            capacity,
            item_size,
        };
        ctx.call_err(d, op, ErrorCode::Invalid)?;
        ctx.call_err(d, Op::Open { name }, ErrorCode::NotFound)?;
    }
    Ok(())
}

fn invalid_name(ctx: &mut Ctx) -> CaseResult {
    let d = ctx.spawn()?;
    let slashed = format!("{}/x", ctx.ring_name());
    for name in [String::new(), slashed] {
        let create = Op::Create {
            name: name.clone(),
            capacity: 2,
            item_size: 8,
        };
        ctx.call_err(d, create, ErrorCode::Invalid)?;
        ctx.call_err(d, Op::Open { name }, ErrorCode::Invalid)?;
    }
    Ok(())
}

fn closed_ops(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[2], 8).min_item_size(1))?;
    ctx.call_ok(d, Op::Close)?;
    ctx.call_err(
        d,
        Op::Put {
            data: Payload(b"x".to_vec()),
        },
        ErrorCode::Closed,
    )?;
    ctx.call_err(d, Op::Get, ErrorCode::Closed)?;
    ctx.call_err(d, Op::Len, ErrorCode::Closed)
}
