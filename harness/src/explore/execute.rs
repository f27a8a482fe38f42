//! Running one scenario against real driver processes and checking the
//! merged history.

use super::scenario::{KillPoint, ProcessScenario, Values};
use super::watchdog::Watchdog;
use super::ScenarioFailure;
use crate::case::workload::event;
use crate::case::Outcome;
use crate::client::{batch_replies, ClientError, Driver, Reply};
use crate::history::{check, Action, Event, Rule, Violation};
use crate::protocol::{monotonic_ns, ErrorCode, Op};
use crate::report::{Kill, Unanswered};
use crate::session::{Session, SessionError, SHUTDOWN_GRACE};
use std::collections::HashSet;
use std::time::Duration;

/// Runs `scn` with driver processes of `session` on a fresh ring of the
/// session, checks the merged history, and removes what the ring left in
/// `/dev/shm`. A geometry the driver refuses (`invalid` at `create`) is
/// `Outcome::Skip`.
///
/// # Errors
/// The verdict and the history that shows it.
pub fn execute(scn: &ProcessScenario, session: &Session) -> Result<(), Box<ScenarioFailure>> {
    execute_within(scn, session, None)
}

/// [`execute`]; with `hang`, a request is judged hung once it has run
/// `hang` plus its ops' wait timeouts (and 1 ms per op): its driver is
/// SIGKILLed then, without the diagnosis of the client's own deadline
/// (which stays the backstop).
pub(crate) fn execute_within(
    scn: &ProcessScenario,
    session: &Session,
    hang: Option<Duration>,
) -> Result<(), Box<ScenarioFailure>> {
    let ring = session.ring_name();
    let watchdog = hang.map(|h| (Watchdog::new(), h));
    let watch = watchdog.as_ref().map(|(w, h)| Watch { dog: w, hang: *h });
    let result = match execute_inner(scn, session, &ring, watch) {
        Ok(r) => r,
        Err(e) => Err(failure(e.into(), Vec::new(), Vec::new())),
    };
    session.sweep();
    result
}

fn failure(outcome: Outcome, history: Vec<Event>, offending: Vec<usize>) -> Box<ScenarioFailure> {
    Box::new(ScenarioFailure {
        outcome,
        history,
        offending,
        unanswered: Vec::new(),
        kills: Vec::new(),
    })
}

fn fail(
    message: String,
    history: Vec<Event>,
) -> Result<Result<(), Box<ScenarioFailure>>, SessionError> {
    Ok(Err(failure(Outcome::Fail(message), history, Vec::new())))
}

struct Ran {
    replies: Vec<Reply>,
    ops: Vec<Op>,
    /// Killed at random: sent and killed times, and the ops in flight.
    in_flight: Option<(u64, u64, Vec<Op>)>,
    /// A batch that got no answer, and the error that says so.
    hung: Option<(Unanswered, ClientError)>,
    /// When the process was SIGKILLed, if it was.
    killed: Option<u64>,
}

/// The run; `Err` only for a driver that could not be started or talked
/// to, `Ok(Err(..))` for a verdict.
fn execute_inner(
    scn: &ProcessScenario,
    session: &Session,
    ring: &str,
    watch: Option<Watch<'_>>,
) -> Result<Result<(), Box<ScenarioFailure>>, SessionError> {
    let mut owner = session.spawn()?;
    let created = owner.request(&Op::Create {
        name: ring.into(),
        capacity: scn.capacity,
        item_size: scn.item_size,
    })?;
    match created.error() {
        None => {}
        Some(ErrorCode::Invalid) => {
            owner.shutdown(SHUTDOWN_GRACE);
            let declared = session
                .hello()
                .geometry
                .as_ref()
                .is_some_and(|o| o.allows(scn.capacity, scn.item_size));
            if declared {
                return fail(
                    format!(
                        "create of {} x {} B was refused ({}), although the driver declared it can build it",
                        scn.capacity,
                        scn.item_size,
                        created.describe()
                    ),
                    Vec::new(),
                );
            }
            let why = format!("the driver refused the geometry: {}", created.describe());
            return Ok(Err(failure(Outcome::Unfit(why), Vec::new(), Vec::new())));
        }
        Some(_) => {
            return fail(
                format!("create answered {}", created.describe()),
                Vec::new(),
            )
        }
    }
    let mut values = Values::new(scn.item_size as usize);
    let plans: Vec<Vec<Op>> = scn
        .processes
        .iter()
        .map(|p| p.steps.iter().filter_map(|s| values.op(*s)).collect())
        .collect();
    let mut drivers = Vec::new();
    for _ in &plans {
        let mut d = session.spawn()?;
        let r = d.request(&Op::Open { name: ring.into() })?;
        if let Some(code) = r.error() {
            owner.shutdown(SHUTDOWN_GRACE);
            return fail(format!("open answered {code}"), Vec::new());
        }
        drivers.push(d);
    }
    let ran: Vec<Result<Ran, ClientError>> = std::thread::scope(|s| {
        let handles: Vec<_> = drivers
            .iter_mut()
            .zip(&plans)
            .enumerate()
            .map(|(i, (d, ops))| {
                let crash = scn.crash.filter(|c| c.process == i).map(|c| c.at);
                let start = Duration::from_micros(u64::from(scn.processes[i].start_us));
                s.spawn(move || {
                    // A late start is part of the scenario (the process
                    // reaches the ring only after another was killed), not
                    // a stand-in for synchronisation.
                    if !start.is_zero() {
                        std::thread::sleep(start);
                    }
                    run_process(d, i, ops, crash, watch)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(panicked())))
            .collect()
    });
    for d in &mut drivers {
        d.shutdown(SHUTDOWN_GRACE);
    }
    let mut history = Vec::new();
    let mut in_flight_puts: Vec<(usize, u64, u64, Vec<u8>)> = Vec::new();
    let mut lost_gets = false;
    let mut unanswered = Vec::new();
    let mut hangs = Vec::new();
    let mut kills = Vec::new();
    for (i, r) in ran.into_iter().enumerate() {
        let ran = r?;
        if let Some((u, e)) = ran.hung {
            hangs.push(format!("p{i}: {e}"));
            unanswered.push(u);
        }
        if let Some(at) = ran.killed {
            kills.push(Kill { process: i, at });
        }
        for (op, reply) in ran.ops.iter().zip(&ran.replies) {
            match answered(i, op, reply, scn.capacity) {
                Ok(e) => history.extend(e),
                Err(msg) => return fail(format!("p{i}: {msg}"), history),
            }
        }
        if let Some((sent, killed, ops)) = ran.in_flight {
            for op in ops {
                match op {
                    Op::Put { data } | Op::PutWait { data, .. } => {
                        in_flight_puts.push((i, sent, killed, data.0))
                    }
                    Op::Get | Op::GetWait { .. } => lost_gets = true,
                    _ => {}
                }
            }
        }
    }
    if !hangs.is_empty() {
        let after = if kills.is_empty() {
            String::new()
        } else {
            format!(" after {} kill(s)", kills.len())
        };
        return Ok(Err(Box::new(ScenarioFailure {
            outcome: Outcome::Hung(format!("wedged{after}:\n{}", hangs.join("\n"))),
            history,
            offending: Vec::new(),
            unanswered,
            kills,
        })));
    }
    // Drain, as one more process. Every scenario process has closed the
    // ring (the shutdowns above) or was killed, so the drain never holds
    // the consumer role beside a live holder: a limited role
    // ([`crate::protocol::Roles`]) is handed over as the roles say.
    let drain = scn.processes.len();
    let limit = values.made() as usize + 2;
    let mut drained = false;
    for _ in 0..=limit / 64 + 1 {
        let ops = vec![Op::Get; 64];
        let batch = Op::Batch { ops: ops.clone() };
        let replies = batch_replies(&request(&mut owner, &batch, watch)?, &ops)?;
        for (op, reply) in ops.iter().zip(&replies) {
            match answered(drain, op, reply, scn.capacity) {
                Ok(e) => {
                    drained |= e
                        .as_ref()
                        .is_some_and(|e| matches!(e.action, Action::Get { value: None }));
                    history.extend(e);
                }
                Err(msg) => return fail(format!("drain: {msg}"), history),
            }
        }
        if drained {
            break;
        }
    }
    let _ = owner.request(&Op::Close);
    owner.shutdown(SHUTDOWN_GRACE);
    if !drained {
        return fail(
            "the drain got more items than were ever put".into(),
            history,
        );
    }
    // Delivered in-flight puts happened between send and kill.
    let got: HashSet<Vec<u8>> = history
        .iter()
        .filter_map(|e| match &e.action {
            Action::Get { value: Some(v) } => Some(v.clone()),
            _ => None,
        })
        .collect();
    for (i, sent, killed, v) in in_flight_puts {
        if got.contains(&v) {
            history.push(Event {
                process: i,
                action: Action::Put {
                    value: v,
                    stored: true,
                },
                t0: sent,
                t1: killed,
            });
        }
    }
    let violations: Vec<Violation> = if lost_gets {
        // A consumer killed mid-batch may have taken items nobody saw:
        // only duplicates and foreign or torn items can be judged.
        check(&history, scn.capacity, false)
            .into_iter()
            .filter(|v| matches!(v.rule, Rule::Repeat | Rule::Fresh))
            .collect()
    } else {
        check(&history, scn.capacity, true)
    };
    if violations.is_empty() {
        return Ok(Ok(()));
    }
    let offending: Vec<usize> = violations.iter().flat_map(|v| v.events.clone()).collect();
    let message: Vec<String> = violations
        .iter()
        .map(|v| format!("[{}] {}", v.rule, v.message))
        .collect();
    Ok(Err(failure(
        Outcome::Fail(message.join("\n")),
        history,
        offending,
    )))
}

fn panicked() -> ClientError {
    ClientError::Send {
        op: "batch".into(),
        reason: "a harness worker panicked".into(),
    }
}

/// Runs `ops` as one batch; a hang is kept as an unanswered request (with
/// the error) rather than returned, so that the scenario's picture shows
/// it.
fn batch_or_hang(
    d: &mut Driver,
    process: usize,
    ops: &[Op],
    watch: Option<Watch<'_>>,
) -> Result<Ran, ClientError> {
    let batch = Op::Batch { ops: ops.to_vec() };
    let (id, t0) = d.send(&batch)?;
    match receive(d, id, t0, &batch, watch) {
        Ok(reply) => Ok(Ran {
            replies: batch_replies(&reply, ops)?,
            ops: ops.to_vec(),
            in_flight: None,
            hung: None,
            killed: None,
        }),
        Err(e) if e.is_hung() => Ok(Ran {
            replies: Vec::new(),
            ops: Vec::new(),
            in_flight: None,
            hung: Some((
                Unanswered {
                    process,
                    what: format!("batch of {} ops", ops.len()),
                    t0,
                    gave_up: monotonic_ns(),
                },
                e,
            )),
            killed: None,
        }),
        Err(e) => Err(e),
    }
}

fn run_process(
    d: &mut Driver,
    process: usize,
    ops: &[Op],
    crash: Option<KillPoint>,
    watch: Option<Watch<'_>>,
) -> Result<Ran, ClientError> {
    match crash {
        None => batch_or_hang(d, process, ops, watch),
        Some(KillPoint::AfterOp(k)) => {
            let k = (k as usize).min(ops.len());
            let ran = if k > 0 {
                batch_or_hang(d, process, &ops[..k], watch)?
            } else {
                batch_or_hang(d, process, &[], watch)?
            };
            d.kill();
            Ok(Ran {
                in_flight: None,
                killed: Some(monotonic_ns()),
                ..ran
            })
        }
        Some(KillPoint::AtMicros(us)) => {
            let (_, sent) = d.send(&Op::Batch { ops: ops.to_vec() })?;
            std::thread::sleep(Duration::from_micros(u64::from(us)));
            d.kill();
            let killed = monotonic_ns();
            Ok(Ran {
                replies: Vec::new(),
                ops: Vec::new(),
                in_flight: Some((sent, killed, ops.to_vec())),
                hung: None,
                killed: Some(killed),
            })
        }
    }
}

/// The history event of an answered op (`None` for `len`, whose answer
/// is only checked against the capacity); a failure in words.
fn answered(process: usize, op: &Op, r: &Reply, capacity: u64) -> Result<Option<Event>, String> {
    if let (Op::Len, Ok(_)) = (op, &r.result) {
        let n = r.u64("len").map_err(|e| e.to_string())?;
        if n > capacity {
            return Err(format!("len answered {n} on a ring of {capacity}"));
        }
    }
    event(process, op, r)
}

/// The hang deadline of a run and the watchdog that enforces it.
#[derive(Clone, Copy)]
struct Watch<'a> {
    dog: &'a Watchdog,
    hang: Duration,
}

/// How long `op` may run before `watch` judges it hung: the hang deadline
/// plus its wait timeouts and 1 ms per op.
fn limit(op: &Op, hang: Duration) -> Duration {
    fn one(op: &Op) -> u64 {
        match op {
            Op::PutWait { timeout_ms, .. } | Op::GetWait { timeout_ms } => *timeout_ms + 1,
            Op::Batch { ops } => ops.iter().map(one).sum::<u64>() + ops.len() as u64,
            _ => 1,
        }
    }
    hang + Duration::from_millis(one(op))
}

/// [`Driver::receive`], under `watch` if any: a driver that the watchdog
/// killed got no answer in time, which is a hang.
fn receive(
    d: &mut Driver,
    id: u64,
    t0: u64,
    op: &Op,
    watch: Option<Watch<'_>>,
) -> Result<Reply, ClientError> {
    let Some(w) = watch else {
        return d.receive(id, t0, op);
    };
    let limit = limit(op, w.hang);
    let armed = w.dog.arm(d.pid() as i32, limit);
    let answer = d.receive(id, t0, op);
    let fired = w.dog.disarm(armed);
    match answer {
        Err(e) if fired && !e.is_hung() => Err(ClientError::Hung {
            op: op.name().into(),
            waited_ms: limit.as_millis() as u64,
            at_hang: vec!["(not examined: judged hung at the shrink deadline and killed)".into()],
        }),
        other => other,
    }
}

/// [`Driver::request`] under `watch`.
fn request(d: &mut Driver, op: &Op, watch: Option<Watch<'_>>) -> Result<Reply, ClientError> {
    let (id, t0) = d.send(op)?;
    receive(d, id, t0, op, watch)
}
