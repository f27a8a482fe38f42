//! `concurrency`: producers and consumers as separate driver processes
//! (or threads of one, with `parallel`), their merged histories checked
//! for loss, duplicates, torn items, per-producer order, `len` answers
//! and linearizability.
//!
//! Within the declared roles: a case runs as many producers and consumers
//! as it wants and the roles allow. A ring with a role limited to one (an
//! SPSC or MPSC ring, whose races are between the two sides and show only
//! at volume) also gets [`deep_1p1c`]: one producer and one consumer
//! through rings of capacity 1, 2, a small non-power of two and the
//! largest offered, [`DEEP_ITEMS`] items in all, of one cache line to
//! 4 KiB, the consumer mixing `get`, `get_wait` and `len`.

use super::prelude::*;
use crate::case::workload::{
    consume_with, event, get_op, item, observe, produce_with, put_op, verify, Budget, BATCH,
    ITEM_SIZE, MAX_ITEM_LEN,
};
use crate::history::{Action, Event};
use crate::item::{process_item_id, unique_item};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Items through the rings of [`deep_1p1c`], in all.
pub(crate) const DEEP_ITEMS: usize = 200_000;

/// The item size the deep run asks for, bytes: a copy of this many bytes
/// is slow enough to be caught half-done.
const DEEP_ITEM_SIZE: u64 = 4096;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("concurrency.processes-1p1c", processes_1p1c),
    ("concurrency.processes-3p2c", processes_3p2c),
    ("concurrency.threads", threads),
];

/// P producer and C consumer processes on a ring of `capacity` (P and C
/// capped by the declared roles), each producer storing `per_producer`
/// items of [`item`].
fn processes(
    ctx: &mut Ctx,
    producers: usize,
    consumers: usize,
    capacity: u64,
    per_producer: usize,
) -> CaseResult {
    let need = Need::capacity(1, &[capacity], ITEM_SIZE as u64).min_item_size(MAX_ITEM_LEN as u64);
    let plan = Plan {
        producers,
        consumers,
        per_producer,
        mixed: false,
        deep_items: false,
    };
    run_processes(ctx, &need, plan)
}

/// What [`run_processes`] runs.
struct Plan {
    producers: usize,
    consumers: usize,
    per_producer: usize,
    /// Consumers mix `get`, `get_wait` and `len` ([`consume_with`]).
    mixed: bool,
    /// Items of [`DEEP_LENGTHS`] (cut to the ring's item size) instead of
    /// [`item`]'s.
    deep_items: bool,
}

/// Runs `plan` on a fresh ring that meets `need`, and checks the history.
fn run_processes(ctx: &mut Ctx, need: &Need, plan: Plan) -> CaseResult {
    let roles = ctx.roles();
    let producers = roles.producers_up_to(plan.producers);
    let consumers = roles.consumers_up_to(plan.consumers);
    let per_producer = plan.per_producer;
    let (owner, name, g) = ctx.fresh_ring(need)?;
    let capacity = g.capacity;
    // With `mixed`, one more driver reads `len` throughout, holding no
    // role: a count taken from two indices read at different instants
    // shows when another actor moves one of them in between.
    let observers = usize::from(plan.mixed);
    for _ in 0..producers + consumers + observers {
        let d = ctx.spawn()?;
        ctx.open(d, &name)?;
    }
    let blocking = ctx.has(Feature::Blocking);
    let within = if (producers, consumers) == (plan.producers, plan.consumers) {
        String::new()
    } else {
        format!(" (within the roles: {roles})")
    };
    ctx.note(format!(
        "{producers} producers (d{}..) x {per_producer} items, {consumers} consumers, ring of {g}{within}",
        owner + 1
    ));
    let mut drivers = ctx.take_drivers();
    let finished_producers = AtomicUsize::new(0);
    let consumers_done = AtomicUsize::new(0);
    let budget = Budget::new();
    let item_size = g.item_size as usize;
    let deep = move |p: u32, seq: u32| {
        let len = DEEP_LENGTHS[seq as usize % DEEP_LENGTHS.len()].min(item_size);
        unique_item(process_item_id(p as u8, u64::from(seq)), len)
    };
    let make: &(dyn Fn(u32, u32) -> Vec<u8> + Sync) = if plan.deep_items { &deep } else { &item };
    let mixed = plan.mixed;
    let history: Vec<Event> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (i, d) in drivers.iter_mut().enumerate().skip(owner + 1) {
            let (fp, budget) = (&finished_producers, &budget);
            if i > owner + producers + consumers {
                let cd = &consumers_done;
                let finished = move || cd.load(Ordering::SeqCst) == consumers;
                handles.push(s.spawn(move || {
                    budget.worker(&format!("len reader d{i}"), || {
                        observe(d, i, &finished, budget)
                    })
                }));
            } else if i <= owner + producers {
                let producer = (i - owner - 1) as u32;
                handles.push(s.spawn(move || {
                    let r = budget.worker(&format!("producer d{i}"), || {
                        produce_with(d, i, producer, per_producer, blocking, budget, make)
                    });
                    fp.fetch_add(1, Ordering::SeqCst);
                    r
                }));
            } else {
                let finished = move || fp.load(Ordering::SeqCst) == producers;
                let cd = &consumers_done;
                handles.push(s.spawn(move || {
                    let r = budget.worker(&format!("consumer d{i}"), || {
                        consume_with(d, i, blocking, mixed, &finished, budget)
                    });
                    cd.fetch_add(1, Ordering::SeqCst);
                    r
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

/// Whether the driver limits a role to one actor.
fn one_role(ctx: &Ctx) -> bool {
    let roles = ctx.roles();
    roles.producers == Some(1) || roles.consumers == Some(1)
}

fn processes_1p1c(ctx: &mut Ctx) -> CaseResult {
    processes(ctx, 1, 1, 8, 10_000)?;
    if one_role(ctx) {
        ctx.teardown();
        ctx.put_drivers(Vec::new());
        deep_1p1c(ctx)?;
    }
    Ok(())
}

/// Item lengths of the deep run, cycled: one cache line up to 4 KiB.
const DEEP_LENGTHS: [usize; 7] = [64, 4096, 256, 2048, 128, 1024, 512];

/// One producer and one consumer through rings of capacity 1, 2, a small
/// non-power of two and the largest offered, [`DEEP_ITEMS`] items in all,
/// as long as the ring takes (up to [`DEEP_ITEM_SIZE`] bytes), the consumer
/// mixing `get`, `get_wait` and `len`.
fn deep_1p1c(ctx: &mut Ctx) -> CaseResult {
    let needs = [
        Need::exactly(1, DEEP_ITEM_SIZE),
        Need::exactly(2, DEEP_ITEM_SIZE),
        Need::capacity(3, &[3, 5, 6, 7], DEEP_ITEM_SIZE)
            .not_power_of_two()
            .at_most(12),
        Need::largest(1, LARGEST_CAPACITY, DEEP_ITEM_SIZE),
    ];
    let per_ring = DEEP_ITEMS / needs.len();
    for need in needs {
        let plan = Plan {
            producers: 1,
            consumers: 1,
            per_producer: per_ring,
            mixed: true,
            deep_items: true,
        };
        let need = need.min_item_size(64);
        run_processes(ctx, &need, plan)?;
        ctx.teardown();
        ctx.put_drivers(Vec::new());
    }
    Ok(())
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
    // Each thread list is an actor: as many as the roles allow, up to 2 of
    // each.
    let roles = ctx.roles();
    let producers = roles.producers_up_to(2) as u32;
    let consumers = roles.consumers_up_to(2);
    let (rounds, per_round) = (40, 50u32);
    ctx.note(format!(
        "{rounds} rounds of {producers} producer and {consumers} consumer thread lists of {per_round} ops ({roles})"
    ));
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
