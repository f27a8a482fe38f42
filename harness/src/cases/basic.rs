//! Sequential criteria: lifecycle, put/get, FIFO, full, empty, oversize,
//! 0-byte items, wrap-around, integrity, and every op answering.

use super::{fail, CaseFn, CaseResult, Ctx, Outcome, Rng};
use crate::history::show;
use crate::model::{Expect, FifoModel};
use crate::protocol::{ErrorCode, Feature, Op, Payload};

pub(super) fn cases() -> Vec<(&'static str, CaseFn)> {
    vec![
        ("lifecycle.create-open", create_open),
        ("lifecycle.open-missing", open_missing),
        ("lifecycle.create-existing", create_existing),
        ("lifecycle.opener-close-keeps", opener_close_keeps),
        ("lifecycle.creator-close-removes", creator_close_removes),
        ("lifecycle.invalid-geometry", invalid_geometry),
        ("lifecycle.invalid-name", invalid_name),
        ("lifecycle.closed-ops", closed_ops),
        ("put-get.roundtrip", roundtrip),
        ("put-get.len", len_follows),
        ("fifo.order", fifo_order),
        ("fifo.model", fifo_model),
        ("full.exactly-capacity", exactly_capacity),
        ("full.refuse", full_refuse),
        ("empty.new-ring", empty_new),
        ("empty.after-drain", empty_after_drain),
        ("oversize.exact-fits", exact_fits),
        ("oversize.refused", oversize_refused),
        ("zero-byte.item", zero_byte),
        ("wrap-around.many-cycles", many_cycles),
        ("wrap-around.straddle", straddle),
        ("integrity.corrupt-detected", corrupt_detected),
        ("integrity.corrupt-empty-item", corrupt_empty_item),
        ("integrity.corrupt-on-empty", corrupt_on_empty),
        ("deadlock-timeout.every-op-answers", every_op_answers),
    ]
}

/// A second handle on `name`: another process if the driver declares
/// `processes`, else the same driver opening it again.
fn second_handle(ctx: &mut Ctx, d0: usize, name: &str) -> Result<(usize, u64, u64), Outcome> {
    let d = if ctx.has(Feature::Processes) {
        ctx.spawn()?
    } else {
        d0
    };
    let (c, s) = ctx.open(d, name)?;
    Ok((d, c, s))
}

fn expect_get(ctx: &mut Ctx, d: usize, want: Option<&[u8]>) -> CaseResult {
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

fn expect_len(ctx: &mut Ctx, d: usize, want: u64) -> CaseResult {
    let got = ctx.len(d)?;
    if got != want {
        fail!("len answered {got}; expected {want}");
    }
    Ok(())
}

fn expect_stored(ctx: &mut Ctx, d: usize, data: &[u8], want: bool) -> CaseResult {
    let got = ctx.put(d, data)?;
    if got != want {
        fail!(
            "put of {} answered stored: {got}; expected {want}",
            show(data)
        );
    }
    Ok(())
}

fn create_open(ctx: &mut Ctx) -> CaseResult {
    let (d0, name) = ctx.fresh_ring(5, 48)?;
    let (d1, c, s) = second_handle(ctx, d0, &name)?;
    if (c, s) != (5, 48) {
        fail!("open reported capacity {c}, item_size {s}; the ring was created with 5 and 48");
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
    let (d0, name) = ctx.fresh_ring(4, 8)?;
    expect_stored(ctx, d0, b"keep", true)?;
    let d1 = if ctx.has(Feature::Processes) {
        ctx.spawn()?
    } else {
        d0
    };
    let again = Op::Create {
        name: name.clone(),
        capacity: 9,
        item_size: 99,
    };
    ctx.call_err(d1, again, ErrorCode::Exists)?;
    let (d2, c, s) = second_handle(ctx, d0, &name)?;
    if (c, s) != (4, 8) {
        fail!(
            "after a refused create the ring reports capacity {c}, item_size {s}; expected 4 and 8"
        );
    }
    expect_len(ctx, d2, 1)?;
    expect_get(ctx, d2, Some(b"keep"))
}

fn opener_close_keeps(ctx: &mut Ctx) -> CaseResult {
    let (d0, name) = ctx.fresh_ring(3, 16)?;
    expect_stored(ctx, d0, b"keep", true)?;
    let d1 = ctx.spawn()?;
    ctx.open(d1, &name)?;
    ctx.call_ok(d1, Op::Close)?;
    let d2 = ctx.spawn()?;
    ctx.open(d2, &name)?;
    expect_get(ctx, d2, Some(b"keep"))
}

fn creator_close_removes(ctx: &mut Ctx) -> CaseResult {
    let (d0, name) = ctx.fresh_ring(3, 16)?;
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
    let (d, _) = ctx.fresh_ring(2, 8)?;
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

fn roundtrip(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(4, 64)?;
    let mut rng = ctx.rng();
    for size in [1, 5, 63, 64, 17, 2] {
        let item = rng.bytes(size);
        expect_stored(ctx, d, &item, true)?;
        expect_get(ctx, d, Some(&item))?;
    }
    Ok(())
}

fn len_follows(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(5, 8)?;
    expect_len(ctx, d, 0)?;
    for n in 1..=3 {
        expect_stored(ctx, d, &[n as u8], true)?;
        expect_len(ctx, d, n)?;
    }
    for n in (0..3).rev() {
        ctx.get(d)?;
        expect_len(ctx, d, n)?;
    }
    Ok(())
}

fn fifo_order(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(7, 16)?;
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
    capacity: u64,
    item_size: u64,
    steps: &[Step],
) -> Result<Option<(usize, String, String)>, Outcome> {
    let name = ctx.ring_name();
    ctx.create(d, &name, capacity, item_size)?;
    let mut model = FifoModel::new(capacity as usize, item_size as usize);
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
        let capacity = 1 + rng.below(8);
        let item_size = 1 + rng.below(32);
        let steps = random_steps(&mut rng, item_size as usize, 150);
        let Some((at, _, _)) = run_steps(ctx, d, capacity, item_size, &steps)? else {
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
                    if let Some((at, _, _)) = run_steps(ctx, d, capacity, item_size, &trial)? {
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
        let (at, want, got) = run_steps(ctx, d, capacity, item_size, &best)?
            .ok_or_else(|| Outcome::Fail("the mismatch did not reproduce".into()))?;
        let listing: Vec<String> = best.iter().map(step_text).collect();
        fail!(
            "disagrees with the FIFO model; minimal sequence on a ring of {capacity} x {item_size} B: [{}]; step {} answered {got}, the model says {want}",
            listing.join(", "),
            at + 1
        );
    }
    Ok(())
}

fn exactly_capacity(ctx: &mut Ctx) -> CaseResult {
    for capacity in [1u64, 2, 7] {
        let (d, _) = ctx.fresh_ring(capacity, 8)?;
        for i in 0..capacity {
            expect_stored(ctx, d, &[i as u8; 3], true)?;
        }
        expect_len(ctx, d, capacity)?;
    }
    Ok(())
}

fn full_refuse(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 8)?;
    for item in [b"a", b"b", b"c"] {
        expect_stored(ctx, d, item, true)?;
    }
    expect_stored(ctx, d, b"d", false)?;
    expect_stored(ctx, d, b"e", false)?;
    expect_len(ctx, d, 3)?;
    for item in [b"a", b"b", b"c"] {
        expect_get(ctx, d, Some(item))?;
    }
    expect_get(ctx, d, None)
}

fn empty_new(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 8)?;
    expect_get(ctx, d, None)?;
    expect_len(ctx, d, 0)
}

fn empty_after_drain(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 8)?;
    expect_stored(ctx, d, b"x", true)?;
    expect_get(ctx, d, Some(b"x"))?;
    expect_get(ctx, d, None)?;
    expect_get(ctx, d, None)?;
    expect_len(ctx, d, 0)?;
    expect_stored(ctx, d, b"y", true)?;
    expect_get(ctx, d, Some(b"y"))
}

fn exact_fits(ctx: &mut Ctx) -> CaseResult {
    let mut rng = ctx.rng();
    for size in [1u64, 64, 4096] {
        let (d, _) = ctx.fresh_ring(2, size)?;
        let item = rng.bytes(size as usize);
        expect_stored(ctx, d, &item, true)?;
        expect_get(ctx, d, Some(&item))?;
    }
    Ok(())
}

fn oversize_refused(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 16)?;
    expect_stored(ctx, d, b"a", true)?;
    for len in [17, 64] {
        ctx.call_err(
            d,
            Op::Put {
                data: Payload(vec![b'x'; len]),
            },
            ErrorCode::TooLarge,
        )?;
    }
    expect_len(ctx, d, 1)?;
    expect_get(ctx, d, Some(b"a"))?;
    expect_get(ctx, d, None)
}

fn zero_byte(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 8)?;
    expect_stored(ctx, d, b"", true)?;
    expect_len(ctx, d, 1)?;
    expect_get(ctx, d, Some(b""))?;
    expect_get(ctx, d, None)
}

fn many_cycles(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(3, 32)?;
    for cycle in 0..50u32 {
        let items: Vec<Vec<u8>> = (0..3u32)
            .map(|k| {
                let len = 4 + ((cycle * 7 + k * 5) % 29) as usize;
                let mut v = vec![(cycle + k) as u8; len];
                v[..4].copy_from_slice(&(cycle * 3 + k).to_le_bytes());
                v
            })
            .collect();
        for item in &items {
            expect_stored(ctx, d, item, true)?;
        }
        expect_stored(ctx, d, b"overflow", false)?;
        for item in &items {
            expect_get(ctx, d, Some(item))?;
        }
        expect_get(ctx, d, None)?;
    }
    Ok(())
}

fn straddle(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(5, 8)?;
    let mut model = FifoModel::new(5, 8);
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

fn corrupt_detected(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(4, 16)?;
    for item in [b"a", b"b", b"c"] {
        expect_stored(ctx, d, item, true)?;
    }
    ctx.call_ok(d, Op::Corrupt)?;
    ctx.call_err(d, Op::Get, ErrorCode::Corrupt)?;
    expect_get(ctx, d, Some(b"b"))?;
    expect_get(ctx, d, Some(b"c"))?;
    expect_get(ctx, d, None)
}

fn corrupt_empty_item(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(4, 16)?;
    expect_stored(ctx, d, b"", true)?;
    expect_stored(ctx, d, b"b", true)?;
    ctx.call_ok(d, Op::Corrupt)?;
    ctx.call_err(d, Op::Get, ErrorCode::Corrupt)?;
    expect_get(ctx, d, Some(b"b"))
}

fn corrupt_on_empty(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(4, 16)?;
    ctx.call_err(d, Op::Corrupt, ErrorCode::Invalid)
}

fn every_op_answers(ctx: &mut Ctx) -> CaseResult {
    let (d, _) = ctx.fresh_ring(1, 8)?;
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
