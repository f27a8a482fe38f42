//! `blocking`: a waiting get is woken by a put and a waiting put by a get
//! (proved from the driver's own timestamps, not released by a deadline),
//! and a wait that nobody ends returns at its timeout.

use super::prelude::*;
use crate::client::{batch_replies, Reply};
use std::time::Duration;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("blocking.get-woken", get_woken),
    ("blocking.put-woken", put_woken),
    ("blocking.get-woken-thread", get_woken_thread),
    ("blocking.get-timeout", get_timeout),
    ("blocking.put-timeout", put_timeout),
];

/// The wait of the woken cases, ms.
const WAIT_MS: u64 = 5000;

/// A woken call must return at least this long before its deadline, ms.
const MARGIN_MS: u64 = 1000;

/// Gaps tried between starting a wait and acting, ms.
const GAPS_MS: [u64; 4] = [50, 150, 400, 1000];

/// `len`s before the put of `get-woken-thread`, per attempt, when one
/// consumer at a time is declared (a second thread's `get_wait` would be a
/// second consumer).
const LEN_GAPS: [usize; 4] = [200, 2_000, 20_000, 100_000];

/// Slack allowed past a timeout, ms.
const SLACK_MS: u64 = 2000;

/// Starts `op` on driver `d` without waiting, as a one-op batch when the
/// driver has `batch` (so that its reply carries the driver's t0/t1).
fn start(ctx: &mut Ctx, d: usize, op: Op) -> Result<(u64, u64, Op), Outcome> {
    let op = if ctx.has(Feature::Batch) {
        Op::Batch { ops: vec![op] }
    } else {
        op
    };
    if let Op::Batch { ops } = &op {
        for o in ops {
            ctx.claim(d, o)?;
        }
    }
    ctx.claim(d, &op)?;
    ctx.note(format!(
        "d{d} -> {} (not awaited yet)",
        crate::client::describe_op(&op)
    ));
    let (id, t0) = ctx.driver(d).send(&op)?;
    Ok((id, t0, op))
}

/// Collects the reply of [`start`], unwrapping a one-op batch.
fn finish(ctx: &mut Ctx, d: usize, (id, t0, op): (u64, u64, Op)) -> Result<Reply, Outcome> {
    let r = ctx.driver(d).receive(id, t0, &op)?;
    let r = match &op {
        Op::Batch { ops } => batch_replies(&r, ops)?.remove(0),
        _ => r,
    };
    ctx.note(format!("d{d} <- {}", r.describe()));
    Ok(r)
}

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

/// The woken check shared by the cases: `waited` (the wait's reply) began
/// before `acted` (the other side's op) began, and returned well before its
/// deadline. `Ok(false)`: the order did not happen, try a longer gap.
fn woken(waited: &Reply, acted: &Reply, what: &str) -> Result<bool, Outcome> {
    if acted.t0 <= waited.t0 {
        return Ok(false);
    }
    let took = ms(waited.t1.saturating_sub(waited.t0));
    if took + MARGIN_MS >= WAIT_MS {
        fail!(
            "{what} was not woken: it returned after {took} ms of its {WAIT_MS} ms timeout, though the other side acted {} ms after it began",
            ms(acted.t0 - waited.t0)
        );
    }
    Ok(true)
}

fn get_woken(ctx: &mut Ctx) -> CaseResult {
    let (d0, name, _) = ctx.fresh_ring(&Need::capacity(1, &[2], 16).min_item_size(10))?;
    let d1 = ctx.spawn()?;
    ctx.open(d1, &name)?;
    for (attempt, gap) in GAPS_MS.iter().enumerate() {
        let item = format!("wake-{attempt}").into_bytes();
        let pending = start(
            ctx,
            d1,
            Op::GetWait {
                timeout_ms: WAIT_MS,
            },
        )?;
        std::thread::sleep(Duration::from_millis(*gap));
        let put = ctx.call_ok(
            d0,
            Op::Put {
                data: Payload(item.clone()),
            },
        )?;
        if !put.stored()? {
            fail!("put on an empty ring answered stored: false");
        }
        let got = finish(ctx, d1, pending)?;
        let data = got.data()?;
        if data.as_deref() != Some(item.as_slice()) {
            fail!(
                "get_wait answered {} though {} was put while it waited",
                data.as_deref().map_or("null".into(), show),
                show(&item)
            );
        }
        if woken(&got, &put, "get_wait")? {
            return Ok(());
        }
    }
    fail!(
        "could not start the put after the get_wait began (the driver never began waiting in time)"
    )
}

fn put_woken(ctx: &mut Ctx) -> CaseResult {
    let (d0, name, _) = ctx.fresh_ring(&Need::exactly(1, 16).min_item_size(10))?;
    let d1 = ctx.spawn()?;
    ctx.open(d1, &name)?;
    for (attempt, gap) in GAPS_MS.iter().enumerate() {
        let first = format!("first-{attempt}").into_bytes();
        let second = format!("second-{attempt}").into_bytes();
        // The waiting producer fills the ring itself, so that the case
        // runs within one producer and one consumer.
        if !ctx.put(d1, &first)? {
            fail!("put on an empty ring of 1 answered stored: false");
        }
        let pending = start(
            ctx,
            d1,
            Op::PutWait {
                data: Payload(second.clone()),
                timeout_ms: WAIT_MS,
            },
        )?;
        std::thread::sleep(Duration::from_millis(*gap));
        let get = ctx.call_ok(d0, Op::Get)?;
        if get.data()?.as_deref() != Some(first.as_slice()) {
            fail!("get answered {}; expected {}", get.describe(), show(&first));
        }
        let put = finish(ctx, d1, pending)?;
        if !put.stored()? {
            fail!("put_wait answered stored: false though a get made room while it waited");
        }
        let ok = woken(&put, &get, "put_wait")?;
        match ctx.get(d0)? {
            Some(v) if v == second => {}
            other => fail!(
                "after put_wait, get answered {}; expected {}",
                other.as_deref().map_or("null".into(), show),
                show(&second)
            ),
        }
        if ok {
            return Ok(());
        }
    }
    fail!("could not start the get after the put_wait began")
}

fn get_woken_thread(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[2], 16).min_item_size(10))?;
    for (attempt, gap) in GAPS_MS.iter().enumerate() {
        let item = format!("thread-{attempt}").into_bytes();
        // The second thread's own get_wait on the empty ring is its gap;
        // with one consumer at a time, a run of `len`s (which take no
        // role) is.
        let one_consumer = ctx.roles().consumers == Some(1);
        let (gap_ops, gap_text) = if one_consumer {
            let n = LEN_GAPS[attempt];
            (vec![Op::Len; n], format!("len x {n}"))
        } else {
            (
                vec![Op::GetWait { timeout_ms: *gap }],
                format!("get_wait {gap}"),
            )
        };
        let mut second = gap_ops;
        second.push(Op::Put {
            data: Payload(item.clone()),
        });
        let threads = vec![
            vec![Op::GetWait {
                timeout_ms: WAIT_MS,
            }],
            second,
        ];
        ctx.note(format!(
            "d{d} -> parallel [[get_wait {WAIT_MS}], [{gap_text}, put]]"
        ));
        let lists = ctx.driver(d).parallel(threads)?;
        let Some((acted, gap_replies)) = lists[1].split_last() else {
            fail!("parallel answered an empty list for a list of ops");
        };
        let waited = &lists[0][0];
        for r in gap_replies {
            if one_consumer {
                if r.u64("len")? != 0 {
                    fail!("len answered {} on an empty ring", r.describe());
                }
            } else if r.data()?.is_some() {
                fail!("a get_wait on an empty ring returned an item");
            }
        }
        if !acted.stored()? {
            fail!("put answered stored: false on a ring of 2 holding at most 1 item");
        }
        if waited.data()?.as_deref() != Some(item.as_slice()) {
            fail!(
                "get_wait answered {} though {} was put while it waited",
                waited.describe(),
                show(&item)
            );
        }
        if woken(waited, acted, "get_wait")? {
            return Ok(());
        }
    }
    fail!("could not start the put after the get_wait began")
}

/// A wait that must time out: took at least `timeout` and at most `timeout`
/// plus slack.
fn timed_out(r: &Reply, timeout: u64, what: &str) -> CaseResult {
    let took = ms(r.t1.saturating_sub(r.t0));
    if took < timeout {
        fail!("{what} returned after {took} ms, before its {timeout} ms timeout");
    }
    if took > timeout + SLACK_MS {
        fail!("{what} returned after {took} ms, more than {SLACK_MS} ms past its {timeout} ms timeout");
    }
    Ok(())
}

fn get_timeout(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[2], 16).min_item_size(1))?;
    let pending = start(ctx, d, Op::GetWait { timeout_ms: 300 })?;
    let r = finish(ctx, d, pending)?;
    if let Some(v) = r.data()? {
        fail!("get_wait on an empty ring returned {}", show(&v));
    }
    timed_out(&r, 300, "get_wait")
}

fn put_timeout(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::exactly(1, 16).min_item_size(8))?;
    if !ctx.put(d, b"resident")? {
        fail!("put on an empty ring of 1 answered stored: false");
    }
    let pending = start(
        ctx,
        d,
        Op::PutWait {
            data: Payload(b"late".to_vec()),
            timeout_ms: 300,
        },
    )?;
    let r = finish(ctx, d, pending)?;
    if r.stored()? {
        fail!("put_wait on a full ring answered stored: true");
    }
    timed_out(&r, 300, "put_wait")?;
    if ctx.len(d)? != 1 {
        fail!("a timed-out put_wait changed len");
    }
    match ctx.get(d)? {
        Some(v) if v == b"resident" => Ok(()),
        other => fail!(
            "get answered {}; expected \"resident\"",
            other.as_deref().map_or("null".into(), show)
        ),
    }
}
