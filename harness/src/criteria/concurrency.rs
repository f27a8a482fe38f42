//! `concurrency`: producers and consumers as separate driver processes
//! (or threads of one, with `parallel`), their merged histories checked
//! for loss, duplicates, torn items, per-producer order and
//! linearizability.

use super::prelude::*;
use crate::history::{Action, Event};
use crate::workload::{
    consume, event, get_op, item, produce, put_op, verify, Budget, BATCH, ITEM_SIZE, MAX_ITEM_LEN,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("concurrency.processes-1p1c", processes_1p1c),
    ("concurrency.processes-3p2c", processes_3p2c),
    ("concurrency.threads", threads),
];

/// P producer and C consumer processes on a ring of `capacity`.
fn processes(
    ctx: &mut Ctx,
    producers: usize,
    consumers: usize,
    capacity: u64,
    per_producer: usize,
) -> CaseResult {
    let need = Need::capacity(1, &[capacity], ITEM_SIZE as u64).min_item_size(MAX_ITEM_LEN as u64);
    let (owner, name, g) = ctx.fresh_ring(&need)?;
    let capacity = g.capacity;
    for _ in 0..producers + consumers {
        let d = ctx.spawn()?;
        ctx.open(d, &name)?;
    }
    let blocking = ctx.has(Feature::Blocking);
    ctx.note(format!(
        "{producers} producers (d{}..) x {per_producer} items, {consumers} consumers, ring of {capacity}",
        owner + 1
    ));
    let mut drivers = ctx.take_drivers();
    let finished_producers = AtomicUsize::new(0);
    let budget = Budget::new();
    let history: Vec<Event> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (i, d) in drivers.iter_mut().enumerate().skip(owner + 1) {
            let (fp, budget) = (&finished_producers, &budget);
            if i <= owner + producers {
                let producer = (i - owner - 1) as u32;
                handles.push(s.spawn(move || {
                    let r = budget.worker(&format!("producer d{i}"), || {
                        produce(d, i, producer, per_producer, blocking, budget)
                    });
                    fp.fetch_add(1, Ordering::SeqCst);
                    r
                }));
            } else {
                let finished = move || fp.load(Ordering::SeqCst) == producers;
                handles.push(s.spawn(move || {
                    budget.worker(&format!("consumer d{i}"), || {
                        consume(d, i, blocking, &finished, budget)
                    })
                }));
            }
        }
        handles
            .into_iter()
            .flat_map(|h| h.join().ok().flatten().unwrap_or_default())
            .collect()
    });
    ctx.put_drivers(drivers);
    budget.verdict()?;
    verify(ctx, owner, &history, capacity)
}

fn processes_1p1c(ctx: &mut Ctx) -> CaseResult {
    processes(ctx, 1, 1, 8, 10_000)
}

fn processes_3p2c(ctx: &mut Ctx) -> CaseResult {
    processes(ctx, 3, 2, 8, 4000)?;
    ctx.teardown();
    ctx.put_drivers(Vec::new());
    processes(ctx, 2, 2, 1, 1000)
}

fn threads(ctx: &mut Ctx) -> CaseResult {
    let need = Need::capacity(1, &[8], ITEM_SIZE as u64).min_item_size(MAX_ITEM_LEN as u64);
    let (d, _, g) = ctx.fresh_ring(&need)?;
    let capacity = g.capacity;
    let blocking = ctx.has(Feature::Blocking);
    let (producers, consumers, rounds, per_round) = (2u32, 2usize, 40, 50u32);
    let mut history = Vec::new();
    let mut seq = vec![0u32; producers as usize];
    for _ in 0..rounds {
        let mut threads: Vec<Vec<Op>> = Vec::new();
        for (p, next) in seq.iter_mut().enumerate() {
            threads.push(
                (0..per_round)
                    .map(|k| {
                        let data = Payload(item(p as u32, *next + k));
                        put_op(data, blocking)
                    })
                    .collect(),
            );
            *next += per_round;
        }
        for _ in 0..consumers {
            let op = get_op(blocking);
            threads.push(vec![op; per_round as usize]);
        }
        let lists = ctx.driver(d).parallel(threads.clone())?;
        for (t, (replies, ops)) in lists.iter().zip(&threads).enumerate() {
            for (r, op) in replies.iter().zip(ops) {
                history.extend(event(t, op, r).map_err(Outcome::Fail)?);
            }
        }
    }
    // Drain what is left, one thread; a ring that never runs empty is
    // delivering more than was put.
    let issued = (producers * per_round) as usize * rounds;
    for drained in 0.. {
        if drained * BATCH > issued + capacity as usize {
            fail!("the ring still delivered items after more gets than the {issued} puts issued");
        }
        let ops = vec![Op::Get; BATCH];
        let replies = ctx.driver(d).batch(ops.clone())?;
        let mut empty = false;
        for (r, op) in replies.iter().zip(&ops) {
            let e = event(producers as usize + consumers, op, r).map_err(Outcome::Fail)?;
            empty |= e
                .as_ref()
                .is_some_and(|e| matches!(e.action, Action::Get { value: None }));
            history.extend(e);
        }
        if empty {
            break;
        }
    }
    verify(ctx, d, &history, capacity)
}
