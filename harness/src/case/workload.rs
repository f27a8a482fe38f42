//! The workload of the concurrent criteria: unique items, producer and
//! consumer loops over `batch`, the stall watchdog that stops a run that
//! makes no progress, the conversion of replies to history events, and the
//! check of a merged history.
//!
//! Every item is a [`crate::item::unique_item`]: producer id and
//! sequence number, then filler derived from both, up to a length that
//! varies with the sequence number. An item whose bytes differ from what
//! its header promises is torn (or foreign).

use super::{fail, CaseResult, Ctx, Outcome};
use crate::client::{Driver, Reply};
use crate::history::{check, show, Action, Event, Violation};
use crate::item::{decode_process_item, process_item_id, unique_item};
use crate::protocol::{monotonic_ns, Op, Payload};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Item size of every ring here, bytes.
pub(crate) const ITEM_SIZE: usize = 64;

/// Ops per batch.
pub(crate) const BATCH: usize = 50;

/// put_wait timeout, ms.
const PUT_WAIT_MS: u64 = 100;

/// get_wait timeout, ms.
const GET_WAIT_MS: u64 = 20;

/// Shared limits of one concurrent run: a worker that sees them broken
/// stops everyone, so that a broken ring cannot keep a case running
/// forever.
pub(crate) struct Budget {
    /// Puts sent so far (counted before each batch is sent).
    pub(crate) issued: AtomicUsize,
    /// Items got so far.
    delivered: AtomicUsize,
    /// When the case gives up.
    until: Instant,
    /// Set by the first worker that fails.
    abort: AtomicBool,
    /// CLOCK_MONOTONIC ns of the last put stored or item got.
    progress: AtomicU64,
    /// The first worker failure, with the worker's role.
    first_failure: Mutex<Option<Outcome>>,
    /// Producers still putting: only while one is, a standstill is a
    /// failure (once all are done, consumers idling on an empty ring is
    /// what should happen).
    pub(crate) active_producers: AtomicUsize,
    /// When the run began, CLOCK_MONOTONIC ns.
    started: u64,
    /// Every kill so far, in order: who, when, what was in flight.
    kills: Mutex<Vec<String>>,
}

/// Longest time without any item stored or got before a run is declared
/// stuck.
const STALL: Duration = Duration::from_secs(15);

/// Wall-time budget of one concurrent run.
const RUN_BUDGET: Duration = Duration::from_secs(120);

impl Budget {
    pub(crate) fn new() -> Self {
        Budget {
            issued: AtomicUsize::new(0),
            delivered: AtomicUsize::new(0),
            until: Instant::now() + RUN_BUDGET,
            abort: AtomicBool::new(false),
            progress: AtomicU64::new(monotonic_ns()),
            first_failure: Mutex::new(None),
            active_producers: AtomicUsize::new(0),
            started: monotonic_ns(),
            kills: Mutex::new(Vec::new()),
        }
    }

    /// Records that `victim` was SIGKILLed now, with `in_flight` running.
    pub(crate) fn killed(&self, victim: &str, in_flight: &str) {
        let at = monotonic_ns().saturating_sub(self.started) as f64 / 1e6;
        if let Ok(mut k) = self.kills.lock() {
            k.push(format!("{victim} killed at +{at:.1} ms during {in_flight}"));
        }
    }

    /// The first worker failure, followed by what was killed before it
    /// ("after 3 of 10 kills: ...") when anything was.
    pub(crate) fn verdict_after_kills(&self, planned: usize) -> CaseResult {
        let kills = self.kills.lock().map(|k| k.clone()).unwrap_or_default();
        self.verdict().map_err(|o| {
            if kills.is_empty() {
                return o;
            }
            let log = format!(
                "\nafter {} of {planned} kills:\n  {}",
                kills.len(),
                kills.join("\n  ")
            );
            match o {
                Outcome::Fail(m) => Outcome::Fail(m + &log),
                Outcome::Hung(m) => Outcome::Hung(m + &log),
                other => other,
            }
        })
    }

    /// Runs a worker as `role`; its failure, if it is the first, becomes
    /// the verdict, and stops the other workers at once.
    pub(crate) fn worker<T>(
        &self,
        role: &str,
        f: impl FnOnce() -> Result<T, Outcome>,
    ) -> Option<T> {
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
    pub(crate) fn verdict(&self) -> CaseResult {
        match self.first_failure.lock().ok().and_then(|mut f| f.take()) {
            Some(outcome) => Err(outcome),
            None => Ok(()),
        }
    }

    pub(crate) fn moved(&self) {
        self.progress.store(monotonic_ns(), Ordering::Relaxed);
    }

    /// Whether workers should stop (another failed, or time is up).
    pub(crate) fn stop(&self) -> Result<bool, Outcome> {
        if Instant::now() > self.until {
            return Err(Outcome::Hung(format!(
                "the run did not finish within {} s",
                RUN_BUDGET.as_secs()
            )));
        }
        let idle = monotonic_ns().saturating_sub(self.progress.load(Ordering::Relaxed));
        if idle > STALL.as_nanos() as u64 && self.active_producers.load(Ordering::Relaxed) > 0 {
            return Err(Outcome::Fail(format!(
                "no item was stored or got for {} s: producers see the ring full while consumers see it empty",
                STALL.as_secs()
            )));
        }
        Ok(self.abort.load(Ordering::Relaxed))
    }

    /// Counts `n` items got; fails if more came out than went in.
    pub(crate) fn got(&self, n: usize) -> CaseResult {
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
pub(crate) fn put_op(data: Payload, blocking: bool) -> Op {
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
pub(crate) fn get_op(blocking: bool) -> Op {
    if blocking {
        Op::GetWait {
            timeout_ms: GET_WAIT_MS,
        }
    } else {
        Op::Get
    }
}

/// The longest item [`item`] makes, bytes: a 2- to 5-byte header and up
/// to 39 more.
pub(crate) const MAX_ITEM_LEN: usize = 44;

/// The item `seq` of `producer` (below 256): a [`unique_item`] of 2 to 41
/// bytes or its header's length if longer (the length varies with `seq`
/// and `producer`), well within [`ITEM_SIZE`].
pub(crate) fn item(producer: u32, seq: u32) -> Vec<u8> {
    let len = 2 + (seq as usize * 13 + producer as usize * 5) % 40;
    unique_item(process_item_id(producer as u8, u64::from(seq)), len)
}

/// `(producer, seq)` of an intact item; `None` for a torn or foreign one.
pub(crate) fn decode(v: &[u8]) -> Option<(u32, u32)> {
    let (p, s) = decode_process_item(v)?;
    Some((u32::from(p), u32::try_from(s).ok()?))
}

/// Runs batches of puts for `producer` on `d` until `count` are stored;
/// items refused (full, or put_wait timed out) are not retried, the next
/// sequence number is used instead. Returns the history. While it runs the
/// producer counts as active for the stall check of [`Budget`].
pub(crate) fn produce(
    d: &mut Driver,
    process: usize,
    producer: u32,
    count: usize,
    blocking: bool,
    budget: &Budget,
) -> Result<Vec<Event>, Outcome> {
    produce_with(d, process, producer, count, blocking, budget, &item)
}

/// [`produce`] with items made by `make(producer, seq)` (unique per
/// producer and sequence number).
pub(crate) fn produce_with(
    d: &mut Driver,
    process: usize,
    producer: u32,
    count: usize,
    blocking: bool,
    budget: &Budget,
    make: &(dyn Fn(u32, u32) -> Vec<u8> + Sync),
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
                    let data = Payload(make(producer, seq + k));
                    put_op(data, blocking)
                })
                .collect();
            let replies = d.batch(ops.clone())?;
            for (op, r) in ops.into_iter().zip(&replies) {
                let ok = r.stored()?;
                stored += usize::from(ok);
                if ok {
                    budget.moved();
                }
                let (Op::Put { data } | Op::PutWait { data, .. }) = op else {
                    continue;
                };
                events.push(Event {
                    process,
                    action: Action::Put {
                        value: data.0,
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
pub(crate) fn consume(
    d: &mut Driver,
    process: usize,
    blocking: bool,
    finished: &dyn Fn() -> bool,
    budget: &Budget,
) -> Result<Vec<Event>, Outcome> {
    consume_with(d, process, blocking, false, finished, budget)
}

/// [`consume`]; with `mixed`, each batch mixes `get_wait` (with
/// `blocking`), `get` and `len` (one op in seven), so that a ring's count
/// is read while the producer moves the tail.
pub(crate) fn consume_with(
    d: &mut Driver,
    process: usize,
    blocking: bool,
    mixed: bool,
    finished: &dyn Fn() -> bool,
    budget: &Budget,
) -> Result<Vec<Event>, Outcome> {
    let mut events = Vec::new();
    loop {
        if budget.stop()? {
            return Ok(events);
        }
        let last_round = finished();
        let wait = blocking && !last_round;
        let ops: Vec<Op> = (0..BATCH)
            .map(|k| match mixed {
                true if k % 7 == 3 => Op::Len,
                true => get_op(wait && k % 3 == 0),
                false => get_op(wait),
            })
            .collect();
        let replies = d.batch(ops.clone())?;
        let (mut saw_empty, mut taken) = (false, 0);
        for (op, r) in ops.iter().zip(&replies) {
            let Some(e) = event(process, op, r).map_err(Outcome::Fail)? else {
                continue;
            };
            match &e.action {
                Action::Get { value: None } => saw_empty = true,
                Action::Get { value: Some(_) } => taken += 1,
                _ => {}
            }
            events.push(e);
        }
        budget.got(taken)?;
        if last_round && saw_empty {
            return Ok(events);
        }
    }
}

/// `len`s per batch of [`observe`].
const OBSERVE_BATCH: usize = 20;

/// Pause between two batches of [`observe`]: it paces the reader (about
/// 20 `len`s per millisecond at most), so that its history stays within
/// memory on a long run; it synchronises nothing.
const OBSERVE_PACE: Duration = Duration::from_millis(1);

/// Reads `len` on `d` in batches until `finished`, and returns the
/// history of those reads: an actor with no role, looking at the ring
/// while others move its indices.
pub(crate) fn observe(
    d: &mut Driver,
    process: usize,
    finished: &dyn Fn() -> bool,
    budget: &Budget,
) -> Result<Vec<Event>, Outcome> {
    let mut events = Vec::new();
    while !finished() && !budget.stop()? {
        let ops = vec![Op::Len; OBSERVE_BATCH];
        let replies = d.batch(ops.clone())?;
        for (op, r) in ops.iter().zip(&replies) {
            events.extend(event(process, op, r).map_err(Outcome::Fail)?);
        }
        std::thread::sleep(OBSERVE_PACE);
    }
    Ok(events)
}

/// Describes violations with a timeline of the events involved.
pub(crate) fn explain(history: &[Event], violations: &[Violation]) -> String {
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
                Action::Len { value } => format!("len -> {value}"),
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

pub(crate) fn role_name(process: usize) -> String {
    format!("d{process}")
}

/// Flags torn or foreign items, which the history checker would otherwise
/// only report as values nobody put.
pub(crate) fn torn(history: &[Event]) -> Option<String> {
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

pub(crate) fn verify(ctx: &mut Ctx, owner: usize, history: &[Event], capacity: u64) -> CaseResult {
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

/// The history event of a put, get or `len` `op` answered by `r` (`None`
/// for other ops); a failure answer is an error in words.
pub(crate) fn event(process: usize, op: &Op, r: &Reply) -> Result<Option<Event>, String> {
    if let Err((code, msg)) = &r.result {
        return Err(format!("{} failed with {code} ({msg})", op.name()));
    }
    let action = match op {
        Op::Put { data } | Op::PutWait { data, .. } => Action::Put {
            value: data.0.clone(),
            stored: r.stored().map_err(|e| e.to_string())?,
        },
        Op::Get | Op::GetWait { .. } => Action::Get {
            value: r.data().map_err(|e| e.to_string())?,
        },
        Op::Len => Action::Len {
            value: r.u64("len").map_err(|e| e.to_string())?,
        },
        _ => return Ok(None),
    };
    Ok(Some(Event {
        process,
        action,
        t0: r.t0,
        t1: r.t1,
    }))
}
