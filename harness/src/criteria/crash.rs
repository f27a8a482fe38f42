//! `crash`: producers or consumers SIGKILLed inside a running batch, 10
//! times a case, while a surviving producer and consumer carry on:
//! acknowledged items arrive exactly once, in-flight ones at most once, and
//! none torn.
//!
//! With the killed side's role limited to one actor (an SPSC ring, or the
//! consumers of an MPSC ring), a crash is a hand-over: each victim opens
//! the ring and takes the role over from the one killed before it, and
//! the surviving actor of that side takes it over from the last one; the
//! same guarantees are checked across the hand-overs, and a role that
//! does not pass from a dead holder fails the case saying so.

use super::prelude::*;
use crate::case::workload::{
    consume, decode, event, explain, get_op, item, produce, put_op, role_name, torn, Budget,
    ITEM_SIZE, MAX_ITEM_LEN,
};
use crate::case::Role;
use crate::client::{Driver, Reply};
use crate::history::{check, show, Action, Event};
use crate::protocol::monotonic_ns;
use crate::session::Session;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The cases of this criterion, in spec order.
pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("crash.producer-killed", producer_killed),
    ("crash.consumer-killed", consumer_killed),
];

/// Kills per crash case.
const KILLS: usize = 10;

/// Ops of a victim's acknowledged batch, which also calibrates the kill.
const ACKED_OPS: usize = 100;

/// How long a victim's killed batch should run, ns.
const KILLED_BATCH_NS: u64 = 20_000_000;

/// What one victim did: its acknowledged events and its killed batch.
struct Victim {
    process: usize,
    acked: Vec<Event>,
    in_flight: Vec<Op>,
    /// CLOCK_MONOTONIC ns: the killed batch was sent, and the victim was
    /// dead. Whatever it did in flight took effect in between.
    sent: u64,
    killed: u64,
}

/// Longest wait before a kill, whatever the victim's timestamps say.
const MAX_KILL_DELAY: Duration = Duration::from_secs(2);

/// When to kill: a driver spends `overhead` ns per op reading and parsing a
/// batch before it runs it, then `exec` ns per op running it (both measured
/// on the acknowledged batch). A batch of `n` ops then runs from about
/// `overhead * n` to `(overhead + exec) * n` after it is sent; the kill
/// lands at a seeded random point in the middle 80% of that window.
fn kill_plan(acked: &[Reply], round_trip: u64, rng: &mut Rng) -> (usize, Duration) {
    let (first, last) = (
        acked.first().map_or(0, |r| r.t0),
        acked.last().map_or(0, |r| r.t1),
    );
    let exec_total = last.saturating_sub(first).max(1);
    let ops = acked.len().max(1) as u64;
    let exec = (exec_total / ops).clamp(1, KILLED_BATCH_NS);
    let overhead = round_trip.saturating_sub(exec_total) / ops;
    let n = (KILLED_BATCH_NS / exec).clamp(20, 20_000);
    let window = exec * n;
    let at = overhead
        .saturating_mul(n)
        .saturating_add(window / 10 + rng.below(window * 8 / 10 + 1));
    // Timestamps come from the driver: never let them stall the run.
    (n as usize, Duration::from_nanos(at).min(MAX_KILL_DELAY))
}

/// Starts a driver outside the ctx (the ctx's drivers are busy in
/// threads), opens `name`, and returns it.
fn spawn_open(session: &Session, name: &str) -> Result<Driver, Outcome> {
    let mut d = session.spawn()?;
    let r = d.request(&Op::Open { name: name.into() })?;
    if let Err((code, msg)) = &r.result {
        fail!("open of the ring by a new process failed with {code} ({msg})");
    }
    Ok(d)
}

/// Runs [`KILLS`] victims one after the other: each runs one acknowledged
/// batch, then is SIGKILLed while running a second (see [`kill_plan`]).
/// `batch(k, first, n)` makes victim `k`'s ops `first..first + n`.
/// With `handover` (the role of the victims' side is limited to one
/// actor), a failure of victim k > 0 says that the role did not pass from
/// the victim killed before it.
#[allow(clippy::too_many_arguments)]
fn victims(
    session: &Session,
    name: &str,
    mut rng: Rng,
    first_process: usize,
    batch: &dyn Fn(usize, usize, usize) -> Vec<Op>,
    budget: &Budget,
    handover: Option<Role>,
) -> Result<Vec<Victim>, Outcome> {
    let mut out = Vec::new();
    for k in 0..KILLS {
        if budget.stop()? {
            break;
        }
        let process = first_process + k;
        let took_over = |e: Outcome| match handover {
            Some(role) if k > 0 => passed_on(e, role, process - 1, &role_name(process)),
            _ => e,
        };
        let mut d = spawn_open(session, name).map_err(took_over)?;
        let ops = batch(k, 0, ACKED_OPS);
        budget.issued.fetch_add(ops.len(), Ordering::SeqCst);
        let sent = monotonic_ns();
        let replies = d.batch(ops.clone()).map_err(|e| took_over(e.into()))?;
        let round_trip = monotonic_ns() - sent;
        let acked = ops
            .iter()
            .zip(&replies)
            .filter_map(|(op, r)| event(process, op, r).map_err(Outcome::Fail).transpose())
            .collect::<Result<Vec<_>, _>>()
            .map_err(took_over)?;
        let (n, at) = kill_plan(&replies, round_trip, &mut rng);
        let in_flight = batch(k, ACKED_OPS, n);
        budget.issued.fetch_add(in_flight.len(), Ordering::SeqCst);
        let (_, sent) = d.send(&Op::Batch {
            ops: in_flight.clone(),
        })?;
        std::thread::sleep(at);
        d.kill();
        let killed = monotonic_ns();
        let ops = in_flight.first().map_or("no op", |op| op.name());
        budget.killed(
            &role_name(process),
            &format!(
                "a batch of {} {ops} ({:.1} ms in)",
                in_flight.len(),
                at.as_secs_f64() * 1e3
            ),
        );
        out.push(Victim {
            process,
            acked,
            in_flight,
            sent,
            killed,
        });
    }
    Ok(out)
}

/// A failure of the actor `who` that had to take `role` over from the
/// killed driver `from`, said as such.
fn passed_on(e: Outcome, role: Role, from: usize, who: &str) -> Outcome {
    let say = |m: String| {
        format!(
            "the {} role did not pass from the killed {} to {who}: {m}\n(the driver declared one {} at a time; a dead holder must not keep its role)",
            role.name(),
            role_name(from),
            role.name()
        )
    };
    match e {
        Outcome::Fail(m) => Outcome::Fail(say(m)),
        Outcome::Hung(m) => Outcome::Hung(say(m)),
        other => other,
    }
}

/// What a crash run leaves to check: the history, deliveries by value, the
/// victims, and the owner's driver index.
struct CrashRun {
    history: Vec<Event>,
    got: HashMap<Vec<u8>, usize>,
    victims: Vec<Victim>,
    owner: usize,
    capacity: u64,
}

/// Which side the killed processes are on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Producers,
    Consumers,
}

/// The part the crash cases share: an owner `d0`, a surviving producer
/// `d1` and consumer `d2` at work while [`KILLS`] victims on `side` run one
/// after the other. Returns the history of the survivors and of the
/// victims' acknowledged batches (checked for torn items and duplicates),
/// deliveries by value, the victims, and the owner.
fn crash_run(ctx: &mut Ctx, side: Side) -> Result<CrashRun, Outcome> {
    let need = Need::capacity(2, &[16], ITEM_SIZE as u64).min_item_size(MAX_ITEM_LEN as u64);
    let (owner, name, g) = ctx.fresh_ring(&need)?;
    let (producer, consumer) = (ctx.spawn()?, ctx.spawn()?);
    ctx.open(producer, &name)?;
    ctx.open(consumer, &name)?;
    let blocking = ctx.has(Feature::Blocking);
    let (session, rng) = (ctx.session(), ctx.rng());
    // Victim k is producer 100 + k, or a consumer.
    let batch = move |k: usize, first: usize, n: usize| match side {
        Side::Producers => (first..first + n)
            .map(|s| put_op(Payload(item(100 + k as u32, s as u32)), blocking))
            .collect::<Vec<_>>(),
        Side::Consumers => vec![get_op(blocking); n],
    };
    let killed = if side == Side::Producers {
        "producers"
    } else {
        "consumers"
    };
    ctx.note(format!(
        "producer d{producer}, consumer d{consumer}; up to {KILLS} {killed} to be killed mid-batch, one after another"
    ));
    // With the killed side limited to one actor, that side's survivor
    // runs after the victims, taking the role over from the last one.
    let role = match side {
        Side::Producers => Role::Producer,
        Side::Consumers => Role::Consumer,
    };
    let handover = (role.limit(&ctx.roles()) == Some(1)).then_some(role);
    if handover.is_some() {
        ctx.note(format!(
            "one {} at a time: each victim takes the role over from the one killed before it, and d{} from the last",
            role.name(),
            if side == Side::Producers { producer } else { consumer }
        ));
    }
    let mut drivers = ctx.take_drivers();
    let budget = Budget::new();
    let done = AtomicUsize::new(0);
    let first_victim = drivers.len();
    let last_victim = first_victim + KILLS - 1;
    let survived = {
        let (head, tail) = drivers.split_at_mut(consumer);
        let (pd, cd) = (&mut head[producer], &mut tail[0]);
        std::thread::scope(|s| {
            let (b, dn) = (&budget, &done);
            let mut run_producer = move || {
                let r = b.worker("surviving producer", || {
                    produce(pd, producer, 0, 3000, blocking, b).map_err(|e| match handover {
                        Some(role) => passed_on(e, role, last_victim, &role_name(producer)),
                        None => e,
                    })
                });
                dn.fetch_add(1, Ordering::SeqCst);
                r
            };
            let mut run_consumer = move || {
                b.worker("surviving consumer", || {
                    consume(
                        cd,
                        consumer,
                        blocking,
                        &|| dn.load(Ordering::SeqCst) == 2,
                        b,
                    )
                    .map_err(|e| match handover {
                        Some(role) => passed_on(e, role, last_victim, &role_name(consumer)),
                        None => e,
                    })
                })
            };
            let role_name = format!("killed {killed}");
            let run_victims = || {
                let v = b.worker(&role_name, || {
                    victims(&session, &name, rng, first_victim, &batch, b, handover)
                });
                dn.fetch_add(1, Ordering::SeqCst);
                v
            };
            match (handover, side) {
                (None, _) => {
                    let prod = s.spawn(run_producer);
                    let cons = s.spawn(run_consumer);
                    let v = run_victims();
                    (prod.join().ok().flatten(), cons.join().ok().flatten(), v)
                }
                (Some(_), Side::Producers) => {
                    let cons = s.spawn(run_consumer);
                    let v = run_victims();
                    let prod = run_producer();
                    (prod, cons.join().ok().flatten(), v)
                }
                (Some(_), Side::Consumers) => {
                    let prod = s.spawn(run_producer);
                    let v = run_victims();
                    let cons = run_consumer();
                    (prod.join().ok().flatten(), cons, v)
                }
            }
        })
    };
    ctx.put_drivers(drivers);
    budget.verdict_after_kills(KILLS)?;
    let (Some(prod_events), Some(cons_events), Some(victims)) = survived else {
        fail!("a harness worker panicked (a ringcheck bug)");
    };
    let mut history: Vec<Event> = prod_events.into_iter().chain(cons_events).collect();
    for v in &victims {
        history.extend(v.acked.iter().cloned());
    }
    if let Some(msg) = torn(&history) {
        fail!("{msg}");
    }
    let mut got: HashMap<Vec<u8>, usize> = HashMap::new();
    for e in &history {
        if let Action::Get { value: Some(v) } = &e.action {
            *got.entry(v.clone()).or_default() += 1;
        }
    }
    if let Some((v, n)) = got.iter().find(|(_, n)| **n > 1) {
        fail!("{} was delivered {n} times", show(v));
    }
    Ok(CrashRun {
        history,
        got,
        victims,
        owner,
        capacity: g.capacity,
    })
}

fn producer_killed(ctx: &mut Ctx) -> CaseResult {
    let CrashRun {
        mut history,
        got,
        victims,
        owner,
        capacity,
    } = crash_run(ctx, Side::Producers)?;
    // Acknowledged puts (survivor's and victims' first batches): exactly once.
    for e in &history {
        if let Action::Put {
            value,
            stored: true,
        } = &e.action
        {
            if !got.contains_key(value) {
                fail!(
                    "{} was acknowledged as stored by {} but never delivered",
                    show(value),
                    role_name(e.process)
                );
            }
        }
    }
    // In flight: an item of a killed batch that was delivered was stored
    // between the batch's sending and the kill; one that was not may never
    // have been stored. With those, the history must be linearizable and
    // nothing acknowledged lost (the per-producer order is part of it).
    for v in &victims {
        let mut delivered = 0;
        for op in &v.in_flight {
            if let Op::Put { data } | Op::PutWait { data, .. } = op {
                if got.contains_key(&data.0) {
                    delivered += 1;
                    history.push(Event {
                        process: v.process,
                        action: Action::Put {
                            value: data.0.clone(),
                            stored: true,
                        },
                        t0: v.sent,
                        t1: v.killed,
                    });
                }
            }
        }
        ctx.note(format!(
            "killed producer {}: {delivered} of {} in-flight items delivered",
            role_name(v.process),
            v.in_flight.len()
        ));
    }
    let violations = check(&history, capacity, true);
    if !violations.is_empty() {
        fail!(
            "the history around the kills is not a correct FIFO history:\n{}",
            explain(&history, &violations)
        );
    }
    let left = ctx.len(owner)?;
    if left != 0 {
        fail!("the consumer saw the ring empty after the last put, yet len is {left}");
    }
    Ok(())
}

fn consumer_killed(ctx: &mut Ctx) -> CaseResult {
    let CrashRun {
        history,
        got,
        victims,
        owner,
        ..
    } = crash_run(ctx, Side::Consumers)?;
    let survivor = 2;
    let stored: Vec<&Vec<u8>> = history
        .iter()
        .filter_map(|e| match &e.action {
            Action::Put {
                value,
                stored: true,
            } => Some(value),
            _ => None,
        })
        .collect();
    if let Some(v) = got.keys().find(|v| !stored.contains(v)) {
        fail!("delivered {} which no acknowledged put stored", show(v));
    }
    // A killed consumer may have taken items it never reported; the
    // harness cannot know which, so this bound is loose.
    let missing = stored.iter().filter(|v| !got.contains_key(**v)).count();
    let could_take: usize = victims.iter().map(|v| v.in_flight.len()).sum();
    ctx.note(format!(
        "{missing} items missing, taken by killed consumers (at most {could_take})"
    ));
    if missing > could_take {
        fail!("{missing} stored items were never delivered; the killed batches could have taken at most {could_take}");
    }
    // Per-producer order among the survivor's deliveries.
    let mut last: Option<u32> = None;
    for e in history.iter().filter(|e| e.process == survivor) {
        if let Action::Get { value: Some(v) } = &e.action {
            let (_, s) = decode(v).unwrap_or((0, 0));
            if last.is_some_and(|l| s <= l) {
                fail!(
                    "the surviving consumer got {} after item {}",
                    show(v),
                    last.unwrap_or(0)
                );
            }
            last = Some(s);
        }
    }
    let left = ctx.len(owner)?;
    if left != 0 {
        fail!("the consumer saw the ring empty after the last put, yet len is {left}");
    }
    Ok(())
}
