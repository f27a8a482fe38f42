//! `lock-release`: an op that fails (oversize, closed) leaves the ring
//! usable by everyone else.
//!
//! A and B both open a ring that a third driver created, so that with
//! limited roles either can hand its role over (close and open again,
//! see [`Ctx::claim`]) without removing the ring.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[("lock-release.after-errors", lock_release)];

fn lock_release(ctx: &mut Ctx) -> CaseResult {
    let (_owner, name, g) = ctx.fresh_ring(&Need::capacity(1, &[1], 4).min_item_size(2))?;
    let (a, b) = (ctx.spawn()?, ctx.spawn()?);
    ctx.open(a, &name)?;
    ctx.open(b, &name)?;
    // Fills the ring from B: "ok" first, then 2-byte pads.
    let pad = |i: u64| vec![b'p', i as u8];
    ctx.call_err(
        a,
        Op::Put {
            data: Payload(vec![b'x'; g.item_size as usize + 1]),
        },
        ErrorCode::TooLarge,
    )?;
    if !ctx.put(b, b"ok")? {
        fail!("after A's refused put, B's put on an empty ring answered stored: false");
    }
    for i in 1..g.capacity {
        if !ctx.put(b, &pad(i))? {
            fail!("B's put {} of {} answered stored: false", i + 1, g.capacity);
        }
    }
    if ctx.put(a, b"fu")? {
        fail!("put on a full ring answered stored: true");
    }
    if ctx.len(b)? != g.capacity {
        fail!("after A's put on full, B's len is not {}", g.capacity);
    }
    if ctx.get(b)?.as_deref() != Some(b"ok") {
        fail!("B's get did not return \"ok\"");
    }
    for i in 1..g.capacity {
        if ctx.get(b)? != Some(pad(i)) {
            fail!("B's get {} did not return the pad put {}", i + 1, i + 1);
        }
    }
    if ctx.get(a)?.is_some() {
        fail!("get on an empty ring returned an item");
    }
    if !ctx.put(b, b"y")? {
        fail!("after A's get on empty, B's put answered stored: false");
    }
    if ctx.has(Feature::Corrupt) {
        ctx.call_ok(a, Op::Corrupt)?;
        ctx.call_err(a, Op::Get, ErrorCode::Corrupt)?;
        if ctx.len(b)? != 0 {
            fail!("after A's corrupt get, B's len is not 0");
        }
        if !ctx.put(b, b"z")? {
            fail!("after A's corrupt get, B's put answered stored: false");
        }
    }
    Ok(())
}
