//! `deadlock-timeout`: every op answers within its deadline, whatever
//! came before it.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] =
    &[("deadlock-timeout.every-op-answers", every_op_answers)];

fn every_op_answers(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[1], 8).min_item_size(1))?;
    ctx.call_ok(d, Op::Hello)?;
    ctx.call_ok(d, Op::Len)?;
    ctx.call_ok(d, Op::Get)?;
    if ctx.has(Feature::Blocking) {
        ctx.call_ok(d, Op::GetWait { timeout_ms: 0 })?;
    }
    ctx.call_ok(
        d,
        Op::Put {
            data: Payload(b"a".to_vec()),
        },
    )?;
    ctx.call_ok(
        d,
        Op::Put {
            data: Payload(b"b".to_vec()),
        },
    )?;
    if ctx.has(Feature::Blocking) {
        ctx.call_ok(
            d,
            Op::PutWait {
                data: Payload(b"c".to_vec()),
                timeout_ms: 0,
            },
        )?;
    }
    if ctx.has(Feature::Corrupt) {
        ctx.call_ok(d, Op::Corrupt)?;
        ctx.call(d, Op::Get)?;
    }
    if ctx.has(Feature::Batch) {
        let ops = vec![
            Op::Put {
                data: Payload(b"x".to_vec()),
            },
            Op::Get,
            Op::Len,
        ];
        ctx.call_ok(d, Op::Batch { ops })?;
    }
    if ctx.has(Feature::Parallel) {
        let threads = vec![
            vec![Op::Put {
                data: Payload(b"y".to_vec()),
            }],
            vec![Op::Len],
        ];
        ctx.call_ok(d, Op::Parallel { threads })?;
    }
    ctx.call_ok(d, Op::Close)?;
    let missing = ctx.ring_name();
    ctx.call(d, Op::Open { name: missing })?;
    Ok(())
}
