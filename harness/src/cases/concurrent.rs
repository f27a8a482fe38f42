//! Concurrency and crash criteria: several drivers (or threads) at once,
//! their timestamped histories merged and checked by
//! [`crate::history::check`].
//!
//! Every item is unique and self-describing: `p<producer>:<seq>:` followed
//! by filler letters derived from both, up to a length that varies with
//! the sequence number. An item whose bytes differ from what its prefix
//! promises is torn (or foreign).

use super::{fail, CaseFn, CaseResult, Ctx, Outcome, Rng};
use crate::client::{Driver, Reply};
use crate::history::{check, show, Action, Event, Violation};
use crate::protocol::{Feature, Op, Payload};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub(super) fn cases() -> Vec<(&'static str, CaseFn)> {
    vec![
        ("concurrency.processes-1p1c", processes_1p1c),
        ("concurrency.processes-3p2c", processes_3p2c),
        ("concurrency.threads", threads),
        ("crash.producer-killed", producer_killed),
        ("crash.consumer-killed", consumer_killed),
    ]
}

/// Item size of every ring here, bytes.
const ITEM_SIZE: usize = 64;
/// Ops per batch.
const BATCH: usize = 50;
/// put_wait timeout, ms.
const PUT_WAIT_MS: u64 = 100;
/// get_wait timeout, ms.
const GET_WAIT_MS: u64 = 20;

/// Shared limits of one concurrent run: a worker that sees them broken
/// stops everyone, so that a broken ring cannot keep a case running
/// forever.
pub struct Budget {
    /// Puts sent so far (counted before each batch is sent).
    issued: AtomicUsize,
    /// Items got so far.
    delivered: AtomicUsize,
    /// When the case gives up.
    until: std::time::Instant,
    /// Set by the first worker that fails.
    abort: AtomicBool,
    /// CLOCK_MONOTONIC ns of the last put stored or item got.
    progress: std::sync::atomic::AtomicU64,
    /// The first worker failure, with the worker's role.
    first_failure: std::sync::Mutex<Option<Outcome>>,
    /// Producers still putting: only while one is, a standstill is a
    /// failure (once all are done, consumers idling on an empty ring is
    /// what should happen).
    active_producers: AtomicUsize,
}

/// Longest time without any item stored or got before a run is declared
/// stuck.
const STALL: Duration = Duration::from_secs(15);

/// Wall-time budget of one concurrent run.
const RUN_BUDGET: Duration = Duration::from_secs(120);

impl Budget {
    fn new() -> Self {
        Budget {
            issued: AtomicUsize::new(0),
            delivered: AtomicUsize::new(0),
            until: std::time::Instant::now() + RUN_BUDGET,
            abort: AtomicBool::new(false),
            progress: std::sync::atomic::AtomicU64::new(crate::protocol::monotonic_ns()),
            first_failure: std::sync::Mutex::new(None),
            active_producers: AtomicUsize::new(0),
        }
    }

    /// Runs a worker as `role`; its failure, if it is the first, becomes
    /// the verdict, and stops the other workers at once.
    fn worker<T>(&self, role: &str, f: impl FnOnce() -> Result<T, Outcome>) -> Option<T> {
        match f() {
            Ok(v) => Some(v),
            Err(e) => {
                let named = match e {
                    Outcome::Hung(m) => Outcome::Hung(format!("{role}: {m}")),
                    Outcome::Fail(m) => Outcome::Fail(format!("{role}: {m}")),
                    skip => skip,
                };
                if let Ok(mut first) = self.first_failure.lock() {
                    first.get_or_insert(named);
                }
                self.abort.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// The first failure of any worker.
    fn verdict(&self) -> CaseResult {
        match self.first_failure.lock().ok().and_then(|mut f| f.take()) {
            Some(outcome) => Err(outcome),
            None => Ok(()),
        }
    }

    fn moved(&self) {
        self.progress
            .store(crate::protocol::monotonic_ns(), Ordering::Relaxed);
    }

    /// Whether workers should stop (another failed, or time is up).
    fn stop(&self) -> Result<bool, Outcome> {
        if std::time::Instant::now() > self.until {
            return Err(Outcome::Hung(format!(
                "the run did not finish within {} s",
                RUN_BUDGET.as_secs()
            )));
        }
        let idle =
            crate::protocol::monotonic_ns().saturating_sub(self.progress.load(Ordering::Relaxed));
        if idle > STALL.as_nanos() as u64 && self.active_producers.load(Ordering::Relaxed) > 0 {
            return Err(Outcome::Fail(format!(
                "no item was stored or got for {} s: producers see the ring full while consumers see it empty",
                STALL.as_secs()
            )));
        }
        Ok(self.abort.load(Ordering::Relaxed))
    }

    /// Counts `n` items got; fails if more came out than went in.
    fn got(&self, n: usize) -> CaseResult {
        if n > 0 {
            self.moved();
        }
        let total = self.delivered.fetch_add(n, Ordering::SeqCst) + n;
        let issued = self.issued.load(Ordering::SeqCst);
        if total > issued {
            fail!("{total} items were got but only {issued} puts were issued");
        }
        Ok(())
    }
}

/// A put of `data`: `put_wait` when the driver has `blocking`.
fn put_op(data: Payload, blocking: bool) -> Op {
    if blocking {
        Op::PutWait {
            data,
            timeout_ms: PUT_WAIT_MS,
        }
    } else {
        Op::Put { data }
    }
}

/// A get: `get_wait` when the driver has `blocking`.
fn get_op(blocking: bool) -> Op {
    if blocking {
        Op::GetWait {
            timeout_ms: GET_WAIT_MS,
        }
    } else {
        Op::Get
    }
}

/// The item `seq` of `producer`.
pub fn item(producer: u32, seq: u32) -> Vec<u8> {
    let mut v = format!("p{producer}:{seq}:").into_bytes();
    let len = (v.len() + (seq as usize * 13 + producer as usize * 5) % 40).min(ITEM_SIZE);
    let mut k = 0u32;
    while v.len() < len {
        v.push(b'a' + ((producer * 7 + seq * 3 + k) % 26) as u8);
        k += 1;
    }
    v
}

/// `(producer, seq)` of an intact item; `None` for a torn or foreign one.
pub fn decode(v: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(v).ok()?;
    let rest = text.strip_prefix('p')?;
    let mut parts = rest.splitn(3, ':');
    let p: u32 = parts.next()?.parse().ok()?;
    let s: u32 = parts.next()?.parse().ok()?;
    (item(p, s) == v).then_some((p, s))
}

/// Runs batches of puts for `producer` on `d` until `count` are stored;
/// items refused (full, or put_wait timed out) are not retried, the next
/// sequence number is used instead. Returns the history. While it runs the
/// producer counts as active for the stall check of [`Budget`].
fn produce(
    d: &mut Driver,
    process: usize,
    producer: u32,
    count: usize,
    blocking: bool,
    budget: &Budget,
) -> Result<Vec<Event>, Outcome> {
    budget.active_producers.fetch_add(1, Ordering::SeqCst);
    let result = (|| {
        let mut events = Vec::new();
        let (mut seq, mut stored) = (0u32, 0usize);
        while stored < count && !budget.stop()? {
            let n = BATCH.min(count - stored);
            budget.issued.fetch_add(n, Ordering::SeqCst);
            let ops: Vec<Op> = (0..n as u32)
                .map(|k| {
                    let data = Payload(item(producer, seq + k));
                    put_op(data, blocking)
                })
                .collect();
            let replies = d.batch(ops)?;
            for (k, r) in replies.iter().enumerate() {
                let ok = r.stored()?;
                stored += usize::from(ok);
                if ok {
                    budget.moved();
                }
                events.push(Event {
                    process,
                    action: Action::Put {
                        value: item(producer, seq + k as u32),
                        stored: ok,
                    },
                    t0: r.t0,
                    t1: r.t1,
                });
            }
            seq += n as u32;
        }
        Ok(events)
    })();
    budget.active_producers.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Runs batches of gets on `d` until `finished` was true before a batch
/// that then met an empty ring (so nothing more can come).
fn consume(
    d: &mut Driver,
    process: usize,
    blocking: bool,
    finished: &dyn Fn() -> bool,
    budget: &Budget,
) -> Result<Vec<Event>, Outcome> {
    let mut events = Vec::new();
    loop {
        if budget.stop()? {
            return Ok(events);
        }
        let last_round = finished();
        let ops: Vec<Op> = if blocking && !last_round {
            vec![
                Op::GetWait {
                    timeout_ms: GET_WAIT_MS
                };
                BATCH
            ]
        } else {
            vec![Op::Get; BATCH]
        };
        let replies = d.batch(ops)?;
        let mut saw_empty = false;
        for r in &replies {
            let value = r.data()?;
            saw_empty |= value.is_none();
            events.push(Event {
                process,
                action: Action::Get { value },
                t0: r.t0,
                t1: r.t1,
            });
        }
        budget.got(
            replies.len()
                - replies
                    .iter()
                    .filter(|r| matches!(r.data(), Ok(None)))
                    .count(),
        )?;
        if last_round && saw_empty {
            return Ok(events);
        }
    }
}

/// Describes violations with a timeline of the events involved.
fn explain(history: &[Event], violations: &[Violation]) -> String {
    let origin = history.iter().map(|e| e.t0).min().unwrap_or(0);
    let at = |t: u64| format!("{:.3} ms", (t - origin) as f64 / 1e6);
    let mut out = Vec::new();
    for v in violations {
        out.push(format!("[{}] {}", v.rule, v.message));
        for &i in &v.events {
            let e = &history[i];
            let what = match &e.action {
                Action::Put { value, stored } => format!("put {} -> stored: {stored}", show(value)),
                Action::Get { value: Some(v) } => format!("get -> {}", show(v)),
                Action::Get { value: None } => "get -> null".into(),
            };
            out.push(format!(
                "    {} from {} to {}: {what}",
                role_name(e.process),
                at(e.t0),
                at(e.t1)
            ));
        }
    }
    out.join("\n")
}

fn role_name(process: usize) -> String {
    format!("d{process}")
}

/// Flags torn or foreign items, which the history checker would otherwise
/// only report as values nobody put.
fn torn(history: &[Event]) -> Option<String> {
    history.iter().find_map(|e| match &e.action {
        Action::Get { value: Some(v) } if decode(v).is_none() => Some(format!(
            "{} got a torn or foreign item {} ({} bytes)",
            role_name(e.process),
            show(v),
            v.len()
        )),
        _ => None,
    })
}

/// P producer and C consumer processes on a ring of `capacity`.
fn processes(
    ctx: &mut Ctx,
    producers: usize,
    consumers: usize,
    capacity: u64,
    per_producer: usize,
) -> CaseResult {
    let (owner, name) = ctx.fresh_ring(capacity, ITEM_SIZE as u64)?;
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

fn verify(ctx: &mut Ctx, owner: usize, history: &[Event], capacity: u64) -> CaseResult {
    ctx.note(format!("history of {} operations", history.len()));
    if let Some(msg) = torn(history) {
        fail!("{msg}");
    }
    let violations = check(history, capacity, true);
    if !violations.is_empty() {
        fail!(
            "the history of {} operations is not a correct FIFO history:\n{}",
            history.len(),
            explain(history, &violations)
        );
    }
    let left = ctx.len(owner)?;
    if left != 0 {
        fail!("the consumers saw the ring empty after the last put, yet len is {left}");
    }
    Ok(())
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
    let capacity = 8;
    let (d, _) = ctx.fresh_ring(capacity, ITEM_SIZE as u64)?;
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
                history.push(event(t, op, r)?);
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
            let e = event(producers as usize + consumers, op, r)?;
            empty |= matches!(e.action, Action::Get { value: None });
            history.push(e);
        }
        if empty {
            break;
        }
    }
    verify(ctx, d, &history, capacity)
}

fn event(process: usize, op: &Op, r: &Reply) -> Result<Event, Outcome> {
    let action = match op {
        Op::Put { data } | Op::PutWait { data, .. } => Action::Put {
            value: data.0.clone(),
            stored: r.stored()?,
        },
        _ => Action::Get { value: r.data()? },
    };
    Ok(Event {
        process,
        action,
        t0: r.t0,
        t1: r.t1,
    })
}

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

/// Spawns a driver outside the ctx (the ctx's drivers are busy in
/// threads), opens `name`, and returns it.
fn spawn_open(cmd: &[String], deadline: Duration, name: &str) -> Result<Driver, Outcome> {
    let mut d = Driver::spawn(cmd, deadline)?;
    d.request(&Op::Hello)?;
    let r = d.request(&Op::Open { name: name.into() })?;
    if let Err((code, msg)) = &r.result {
        fail!("open of the ring by a new process failed with {code} ({msg})");
    }
    Ok(d)
}

/// Runs [`KILLS`] victims one after the other: each runs one acknowledged
/// batch, then is SIGKILLed while running a second (see [`kill_plan`]).
/// `batch(k, first, n)` makes victim `k`'s ops `first..first + n`.
fn victims(
    cmd: &[String],
    deadline: Duration,
    name: &str,
    mut rng: Rng,
    first_process: usize,
    batch: &dyn Fn(usize, usize, usize) -> Vec<Op>,
    budget: &Budget,
) -> Result<Vec<Victim>, Outcome> {
    let mut out = Vec::new();
    for k in 0..KILLS {
        if budget.stop()? {
            break;
        }
        let process = first_process + k;
        let mut d = spawn_open(cmd, deadline, name)?;
        let ops = batch(k, 0, ACKED_OPS);
        budget.issued.fetch_add(ops.len(), Ordering::SeqCst);
        let sent = crate::protocol::monotonic_ns();
        let replies = d.batch(ops.clone())?;
        let round_trip = crate::protocol::monotonic_ns() - sent;
        let acked = ops
            .iter()
            .zip(&replies)
            .map(|(op, r)| event(process, op, r))
            .collect::<Result<Vec<_>, _>>()?;
        let (n, at) = kill_plan(&replies, round_trip, &mut rng);
        let in_flight = batch(k, ACKED_OPS, n);
        budget.issued.fetch_add(in_flight.len(), Ordering::SeqCst);
        let (_, sent) = d.send(&Op::Batch {
            ops: in_flight.clone(),
        })?;
        std::thread::sleep(at);
        d.kill();
        let killed = crate::protocol::monotonic_ns();
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

/// What a crash run leaves to check: the history, deliveries by value, the
/// victims, and the owner's driver index.
struct CrashRun {
    history: Vec<Event>,
    got: HashMap<Vec<u8>, usize>,
    victims: Vec<Victim>,
    owner: usize,
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
    let capacity = 16;
    let (owner, name) = ctx.fresh_ring(capacity, ITEM_SIZE as u64)?;
    let (producer, consumer) = (ctx.spawn()?, ctx.spawn()?);
    ctx.open(producer, &name)?;
    ctx.open(consumer, &name)?;
    let blocking = ctx.has(Feature::Blocking);
    let (cmd, deadline, rng) = (ctx.cmd.clone(), ctx.deadline(), ctx.rng());
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
        "producer d{producer}, consumer d{consumer}; {KILLS} {killed} killed mid-batch"
    ));
    let mut drivers = ctx.take_drivers();
    let budget = Budget::new();
    let done = AtomicUsize::new(0);
    let first_victim = drivers.len();
    let survived = {
        let (head, tail) = drivers.split_at_mut(consumer);
        let (pd, cd) = (&mut head[producer], &mut tail[0]);
        std::thread::scope(|s| {
            let (b, dn) = (&budget, &done);
            let prod = s.spawn(move || {
                let r = b.worker("surviving producer", || {
                    produce(pd, producer, 0, 3000, blocking, b)
                });
                dn.fetch_add(1, Ordering::SeqCst);
                r
            });
            let cons = s.spawn(move || {
                b.worker("surviving consumer", || {
                    consume(
                        cd,
                        consumer,
                        blocking,
                        &|| dn.load(Ordering::SeqCst) == 2,
                        b,
                    )
                })
            });
            let role = format!("killed {killed}");
            let v = b.worker(&role, || {
                victims(&cmd, deadline, &name, rng, first_victim, &batch, b)
            });
            dn.fetch_add(1, Ordering::SeqCst);
            (prod.join().ok().flatten(), cons.join().ok().flatten(), v)
        })
    };
    ctx.put_drivers(drivers);
    budget.verdict()?;
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
    })
}

fn producer_killed(ctx: &mut Ctx) -> CaseResult {
    let capacity = 16;
    let CrashRun {
        mut history,
        got,
        victims,
        owner,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_decode_and_damage_is_detected() {
        for (p, s) in [(0, 0), (3, 17), (100, 2019)] {
            let v = item(p, s);
            assert!(v.len() <= ITEM_SIZE);
            assert_eq!(decode(&v), Some((p, s)));
            let mut torn = v.clone();
            if let Some(last) = torn.last_mut() {
                *last ^= 1;
            }
            assert_eq!(decode(&torn), None);
        }
    }
}
