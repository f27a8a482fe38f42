//! Running one scenario against real driver processes and checking the
//! merged history.

use super::scenario::{CrashPoint, ProcessScenario, Values};
use super::ScenarioFailure;
use crate::client::{batch_replies, ClientError, Driver, Reply};
use crate::criteria::Outcome;
use crate::history::{check, Action, Event, Rule, Violation};
use crate::protocol::{monotonic_ns, ErrorCode, Op};
use crate::session::{Session, SessionError, SHUTDOWN_GRACE};
use crate::workload::event;
use std::collections::HashSet;
use std::time::Duration;

/// Runs `scn` with driver processes of `session` on a fresh ring of the
/// session, checks the merged history, and removes what the ring left in
/// `/dev/shm`. A geometry the driver refuses (`invalid` at `create`) is
/// `Outcome::Skip`.
///
/// # Errors
/// The verdict and the history that shows it.
pub fn execute(scn: &ProcessScenario, session: &Session) -> Result<(), ScenarioFailure> {
    let ring = session.ring_name();
    let result = match execute_inner(scn, session, &ring) {
        Ok(r) => r,
        Err(e) => Err(failure(e.into(), Vec::new(), Vec::new())),
    };
    session.sweep();
    result
}

fn failure(outcome: Outcome, history: Vec<Event>, offending: Vec<usize>) -> ScenarioFailure {
    ScenarioFailure {
        outcome,
        history,
        offending,
    }
}

fn fail(message: String, history: Vec<Event>) -> Result<Result<(), ScenarioFailure>, SessionError> {
    Ok(Err(failure(Outcome::Fail(message), history, Vec::new())))
}

struct Ran {
    replies: Vec<Reply>,
    ops: Vec<Op>,
    /// Killed at random: sent and killed times, and the ops in flight.
    in_flight: Option<(u64, u64, Vec<Op>)>,
}

/// The run; `Err` only for a driver that could not be started or talked
/// to, `Ok(Err(..))` for a verdict.
fn execute_inner(
    scn: &ProcessScenario,
    session: &Session,
    ring: &str,
) -> Result<Result<(), ScenarioFailure>, SessionError> {
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
                s.spawn(move || run_process(d, ops, crash))
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
    for (i, r) in ran.into_iter().enumerate() {
        let ran = r?;
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
    // Drain, as one more process.
    let drain = scn.processes.len();
    let limit = values.made() as usize + 2;
    let mut drained = false;
    for _ in 0..=limit / 64 + 1 {
        let ops = vec![Op::Get; 64];
        let replies = batch_replies(&owner.request(&Op::Batch { ops: ops.clone() })?, &ops)?;
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

fn run_process(d: &mut Driver, ops: &[Op], crash: Option<CrashPoint>) -> Result<Ran, ClientError> {
    match crash {
        None => Ok(Ran {
            replies: d.batch(ops.to_vec())?,
            ops: ops.to_vec(),
            in_flight: None,
        }),
        Some(CrashPoint::AfterOp(k)) => {
            let k = (k as usize).min(ops.len());
            let replies = if k > 0 {
                d.batch(ops[..k].to_vec())?
            } else {
                Vec::new()
            };
            d.kill();
            Ok(Ran {
                replies,
                ops: ops[..k].to_vec(),
                in_flight: None,
            })
        }
        Some(CrashPoint::AtMicros(us)) => {
            let (_, sent) = d.send(&Op::Batch { ops: ops.to_vec() })?;
            std::thread::sleep(Duration::from_micros(u64::from(us)));
            d.kill();
            let killed = monotonic_ns();
            Ok(Ran {
                replies: Vec::new(),
                ops: Vec::new(),
                in_flight: Some((sent, killed, ops.to_vec())),
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
