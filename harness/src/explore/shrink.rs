//! Shrinking a failing scenario beyond proptest's value trees: a greedy
//! pass over the scenario's own structure (processes, ops, geometry, crash
//! point), in the manner of delta debugging (Zeller and Hildebrandt,
//! "Simplifying and isolating failure-inducing input", TSE 2002).

use super::scenario::{Crash, KillPoint, ProcessScenario};
use super::ScenarioFailure;
use std::time::Instant;

/// Smaller variants of `scn`, most aggressive first: without one process,
/// with one process's ops halved or one op dropped, a smaller geometry, an
/// earlier or no crash.
fn smaller(scn: &ProcessScenario) -> Vec<ProcessScenario> {
    let mut out = Vec::new();
    let producers = scn.processes.iter().filter(|p| p.producer).count();
    for i in 0..scn.processes.len() {
        let last_of_role = if scn.processes[i].producer {
            producers == 1
        } else {
            scn.processes.len() - producers == 1
        };
        if last_of_role {
            continue;
        }
        let mut c = scn.clone();
        c.processes.remove(i);
        c.crash = match scn.crash {
            Some(k) if k.process == i => None,
            Some(k) if k.process > i => Some(Crash {
                process: k.process - 1,
                ..k
            }),
            other => other,
        };
        out.push(c);
    }
    for i in 0..scn.processes.len() {
        let n = scn.processes[i].steps.len();
        if n > 1 {
            for half in [
                &scn.processes[i].steps[..n / 2],
                &scn.processes[i].steps[n / 2..],
            ] {
                let mut c = scn.clone();
                c.processes[i].steps = half.to_vec();
                out.push(c);
            }
        }
    }
    for i in 0..scn.processes.len() {
        let n = scn.processes[i].steps.len();
        for j in (0..n).rev() {
            if n > 1 {
                let mut c = scn.clone();
                c.processes[i].steps.remove(j);
                out.push(c);
            }
        }
    }
    if scn.capacity > 1 {
        out.push(ProcessScenario {
            capacity: (scn.capacity / 2).max(1),
            ..scn.clone()
        });
    }
    if scn.item_size > 1 {
        out.push(ProcessScenario {
            item_size: (scn.item_size / 2).max(1),
            ..scn.clone()
        });
    }
    for i in 0..scn.processes.len() {
        let start = scn.processes[i].start_us;
        for later in [0, start / 2] {
            if later < start {
                let mut c = scn.clone();
                c.processes[i].start_us = later;
                out.push(c);
            }
        }
    }
    if let Some(k) = scn.crash {
        out.push(ProcessScenario {
            crash: None,
            ..scn.clone()
        });
        let earlier = match k.at {
            KillPoint::AfterOp(n) if n > 0 => Some(KillPoint::AfterOp(n / 2)),
            KillPoint::AtMicros(us) if us > 0 => Some(KillPoint::AtMicros(us / 2)),
            _ => None,
        };
        if let Some(at) = earlier {
            out.push(ProcessScenario {
                crash: Some(Crash { at, ..k }),
                ..scn.clone()
            });
        }
    }
    out
}

/// Greedy minimization (in the manner of delta debugging): take the first
/// smaller variant that still fails (telling `smaller_fails` of it), repeat
/// until none does, `budget` candidates were tried or `deadline` passed.
/// Returns the smallest failing scenario found, why it fails, and whether
/// the pass finished (false: cut by `deadline`).
pub(crate) fn minimize(
    mut scn: ProcessScenario,
    mut why: ScenarioFailure,
    budget: u32,
    deadline: Instant,
    fails: impl Fn(&ProcessScenario) -> Option<ScenarioFailure>,
    smaller_fails: impl Fn(&ProcessScenario, &ScenarioFailure),
) -> (ProcessScenario, ScenarioFailure, bool) {
    let mut tried = 0;
    'outer: while tried < budget {
        for c in smaller(&scn) {
            if Instant::now() >= deadline {
                return (scn, why, false);
            }
            tried += 1;
            if let Some(f) = fails(&c) {
                smaller_fails(&c, &f);
                scn = c;
                why = f;
                continue 'outer;
            }
            if tried >= budget {
                break;
            }
        }
        break;
    }
    let finished = Instant::now() < deadline;
    (scn, why, finished)
}
