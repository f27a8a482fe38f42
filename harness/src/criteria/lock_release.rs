//! `lock-release`: an op that fails (oversize, closed) leaves the ring
//! usable by everyone else.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[("lock-release.after-errors", lock_release)];

fn lock_release(ctx: &mut Ctx) -> CaseResult {
    let (a, name) = ctx.fresh_ring(1, 4)?;
    let b = ctx.spawn()?;
    ctx.open(b, &name)?;
    ctx.call_err(
        a,
        Op::Put {
            data: Payload(b"too long".to_vec()),
        },
        ErrorCode::TooLarge,
    )?;
    if !ctx.put(b, b"ok")? {
        fail!("after A's refused put, B's put on an empty ring answered stored: false");
    }
    if ctx.put(a, b"full")? {
        fail!("put on a full ring answered stored: true");
    }
    if ctx.len(b)? != 1 {
        fail!("after A's put on full, B's len is not 1");
    }
    if ctx.get(b)?.as_deref() != Some(b"ok") {
        fail!("B's get did not return \"ok\"");
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
