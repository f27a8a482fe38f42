//! Expectations shared by the cases: a second handle on a ring, and a
//! get, len or put that must answer a given value.

use super::outcome::{fail, CaseResult, Outcome};
use super::Ctx;
use crate::history::show;
use crate::protocol::Feature;

/// A second handle on `name`: another process if the driver declares
/// `processes`, else the same driver opening it again.
pub(crate) fn second_handle(
    ctx: &mut Ctx,
    d0: usize,
    name: &str,
) -> Result<(usize, u64, u64), Outcome> {
    let d = if ctx.has(Feature::Processes) {
        ctx.spawn()?
    } else {
        d0
    };
    let (c, s) = ctx.open(d, name)?;
    Ok((d, c, s))
}

pub(crate) fn expect_get(ctx: &mut Ctx, d: usize, want: Option<&[u8]>) -> CaseResult {
    let got = ctx.get(d)?;
    if got.as_deref() != want {
        fail!(
            "get answered {}; expected {}",
            got.as_deref().map_or("null".into(), show),
            want.map_or("null".into(), show)
        );
    }
    Ok(())
}

pub(crate) fn expect_len(ctx: &mut Ctx, d: usize, want: u64) -> CaseResult {
    let got = ctx.len(d)?;
    if got != want {
        fail!("len answered {got}; expected {want}");
    }
    Ok(())
}

pub(crate) fn expect_stored(ctx: &mut Ctx, d: usize, data: &[u8], want: bool) -> CaseResult {
    let got = ctx.put(d, data)?;
    if got != want {
        fail!(
            "put of {} answered stored: {got}; expected {want}",
            show(data)
        );
    }
    Ok(())
}
