//! `fifo`: items come out in the order they went in, checked on a fixed
//! sequence and on seeded random sequences against the reference FIFO
//! ([`crate::reference`]), with a failing sequence shrunk to a minimal one.

use super::prelude::*;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] =
    &[("fifo.order", fifo_order), ("fifo.model", fifo_model)];

fn fifo_order(ctx: &mut Ctx) -> CaseResult {
    let (d, _, _) = ctx.fresh_ring(&Need::capacity(1, &[7], 16).min_item_size(4))?;
    let (mut next_in, mut next_out) = (0u32, 0u32);
    while next_out < 1000 {
        if next_in < 1000 && ctx.put(d, &next_in.to_le_bytes())? {
            next_in += 1;
            continue;
        }
        for _ in 0..3 {
            match ctx.get(d)? {
                Some(v) if v == next_out.to_le_bytes() => next_out += 1,
                Some(v) => fail!("got {} where item {next_out} was due", show(&v)),
                None if next_out == next_in => break,
                None => fail!("get answered null with {} items stored", next_in - next_out),
            }
        }
    }
    Ok(())
}

/// One op of a random sequence for the model check.
#[derive(Debug, Clone)]
enum Step {
    Put(Vec<u8>),
    Get,
    Len,
}

fn random_steps(rng: &mut Rng, item_size: usize, n: usize) -> Vec<Step> {
    (0..n)
        .map(|i| match rng.below(10) {
            0..=4 => {
                let len = rng.below(item_size as u64 + 3) as usize;
                let mut v = rng.bytes(len);
                if let Some(first) = v.first_mut() {
                    *first = i as u8; // distinct neighbours
                }
                Step::Put(v)
            }
            5..=8 => Step::Get,
            _ => Step::Len,
        })
        .collect()
}

/// Runs `steps` on a fresh ring of driver `d`; returns the first step
/// whose answer differs from the model, with both answers.
fn run_steps(
    ctx: &mut Ctx,
    d: usize,
    geometry: Geometry,
    steps: &[Step],
) -> Result<Option<(usize, String, String)>, Outcome> {
    let name = ctx.ring_name();
    ctx.create(d, &name, geometry.capacity, geometry.item_size)?;
    let mut model = ReferenceFifo::new(geometry.capacity as usize, geometry.item_size as usize);
    for (i, step) in steps.iter().enumerate() {
        let (op, want) = match step {
            Step::Put(v) => (
                Op::Put {
                    data: Payload(v.clone()),
                },
                model.put(v),
            ),
            Step::Get => (Op::Get, model.get()),
            Step::Len => (Op::Len, model.len()),
        };
        let r = ctx.call(d, op)?;
        let got = match (&r.result, step) {
            (Err((code, _)), _) => Expect::Error(*code),
            (Ok(_), Step::Put(_)) => Expect::Stored(r.stored()?),
            (Ok(_), Step::Get) => Expect::Data(r.data()?),
            (Ok(_), Step::Len) => Expect::Len(r.u64("len")?),
        };
        if got != want {
            ctx.call(d, Op::Close)?;
            return Ok(Some((i, expect_text(&want), expect_text(&got))));
        }
    }
    ctx.call_ok(d, Op::Close)?;
    Ok(None)
}

fn expect_text(e: &Expect) -> String {
    match e {
        Expect::Stored(b) => format!("stored: {b}"),
        Expect::Data(None) => "data: null".into(),
        Expect::Data(Some(v)) => format!("data: {}", show(v)),
        Expect::Len(n) => format!("len: {n}"),
        Expect::Error(c) => format!("error {c}"),
    }
}

fn step_text(s: &Step) -> String {
    match s {
        Step::Put(v) => format!("put {}", show(v)),
        Step::Get => "get".into(),
        Step::Len => "len".into(),
    }
}

fn fifo_model(ctx: &mut Ctx) -> CaseResult {
    let mut rng = ctx.rng();
    let d = ctx.spawn()?;
    for _ in 0..4 {
        let need = Need::capacity(1, &[1 + rng.below(8)], 1 + rng.below(32)).min_item_size(1);
        // The geometry is found once (a refused one is not tried again
        // while shrinking); its ring is closed, and each run of the steps
        // makes a fresh ring of the same geometry.
        let (_, geometry) = ctx.create_fitting(d, &need)?;
        ctx.call_ok(d, Op::Close)?;
        let steps = random_steps(&mut rng, geometry.item_size as usize, 150);
        let Some((at, _, _)) = run_steps(ctx, d, geometry, &steps)? else {
            continue;
        };
        // Shrink: keep the prefix up to the mismatch, then drop chunks of
        // ops while the mismatch persists (delta debugging, Zeller 2002).
        let mut best: Vec<Step> = steps[..=at].to_vec();
        let mut chunk = best.len() / 2;
        let mut budget = 300;
        while chunk >= 1 && budget > 0 {
            let mut i = 0;
            let mut removed = false;
            while i < best.len() && budget > 0 {
                let mut trial = best.clone();
                trial.drain(i..(i + chunk).min(best.len()));
                budget -= 1;
                if !trial.is_empty() {
                    if let Some((at, _, _)) = run_steps(ctx, d, geometry, &trial)? {
                        best = trial[..=at].to_vec();
                        removed = true;
                        continue;
                    }
                }
                i += chunk;
            }
            if !removed {
                chunk /= 2;
            }
        }
        // The transcript shows the shrinking; keep only the minimal run.
        ctx.transcript.clear();
        let (at, want, got) = run_steps(ctx, d, geometry, &best)?
            .ok_or_else(|| Outcome::Fail("the mismatch did not reproduce".into()))?;
        let listing: Vec<String> = best.iter().map(step_text).collect();
        fail!(
            "disagrees with the FIFO model; minimal sequence on a ring of {geometry}: [{}]; step {} answered {got}, the model says {want}",
            listing.join(", "),
            at + 1
        );
    }
    Ok(())
}
