//! Property-based exploration: generated scenarios of real producer and
//! consumer processes on a real ring, checked like the conformance run and
//! shrunk to the smallest scenario that still fails.
//!
//! A [`ProcessScenario`] is a geometry, one op list per process (producers put,
//! consumers get, both may ask `len`), and an optional crash: SIGKILL of
//! one process after its k-th op, or a number of microseconds into its
//! batch. Each process is one driver process that runs its whole list as
//! one `batch`, all at once; a separate driver then drains the ring. The
//! merged history is checked by [`crate::history::check`]: no loss, no
//! duplicate, never torn, per-producer order, linearizable; after a crash,
//! acknowledged items exactly once and items in flight at most once.
//!
//! Scenarios come from proptest strategies, so a failure is shrunk by
//! proptest's value trees (fewer processes, fewer ops, smaller geometry,
//! earlier crash). Runs against real processes are not deterministic: a
//! shrink step that does not fail again is simply not taken.

mod execute;
mod scenario;
mod shrink;

pub use execute::execute;
pub use scenario::{scenarios, Crash, CrashPoint, Process, ProcessScenario, Size, Step};

use crate::criteria::Outcome;
use crate::history::Event;
use crate::protocol::Feature;
use crate::report::{Kill, Unanswered};
use crate::session::Session;

/// Why a scenario did not pass: the verdict (`Skip` when the driver
/// refused the geometry) and the history that shows it.
#[derive(Debug, Clone)]
pub struct ScenarioFailure {
    /// The verdict, with what is wrong in words.
    pub outcome: Outcome,
    /// The merged history (process `processes.len()` is the drain).
    pub history: Vec<Event>,
    /// Events named by the violations.
    pub offending: Vec<usize>,
    /// Requests that never got an answer (a hang).
    pub unanswered: Vec<Unanswered>,
    /// The kills of the scenario.
    pub kills: Vec<Kill>,
}

impl ScenarioFailure {
    /// What is wrong, in words.
    pub fn message(&self) -> &str {
        match &self.outcome {
            Outcome::Fail(m) | Outcome::Hung(m) | Outcome::Skip(m) | Outcome::Unfit(m) => m,
        }
    }
}

/// Runs of each shrink candidate before it counts as passing.
const SHRINK_TRIES: u32 = 3;

/// Settings of an exploration.
#[derive(Debug, Clone)]
pub struct ExploreConfig {
    /// Scenarios to generate.
    pub cases: u32,
    /// Seed of the generator.
    pub seed: u64,
    /// Longest op list per process.
    pub max_ops: usize,
    /// Most shrink steps tried after a failure.
    pub max_shrink_iters: u32,
    /// No new scenario starts after this long (shrinking a failure found
    /// in time still finishes).
    pub time_budget: Option<std::time::Duration>,
    /// Progress on stderr: each scenario, a failure's seed as soon as it
    /// is found, each shrink step.
    pub progress: bool,
}

/// The result of an exploration.
#[derive(Debug)]
pub struct ExploreReport {
    /// Scenarios run (including shrink attempts).
    pub runs: u32,
    /// Geometries the driver refused.
    pub refused: Vec<String>,
    /// Scenarios not run because the time budget ran out.
    pub over_budget: u32,
    /// The minimal failing scenario and why it fails, if any failed.
    pub failure: Option<(ProcessScenario, ScenarioFailure)>,
}

/// Generates and runs scenarios against the driver; on a failure, proptest
/// shrinks it and the smallest one still failing is returned.
pub fn explore(cfg: &ExploreConfig, session: &Session) -> ExploreReport {
    use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;
    let blocking = session.has(Feature::Blocking);
    let crashes = session.has(Feature::Processes);
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&cfg.seed.to_le_bytes());
    let config = Config {
        cases: cfg.cases,
        max_shrink_iters: cfg.max_shrink_iters,
        failure_persistence: None,
        max_global_rejects: cfg.cases * 4,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let runs = AtomicU32::new(0);
    let refused = Mutex::new(Vec::new());
    let last_failure: Mutex<Option<(ProcessScenario, ScenarioFailure)>> = Mutex::new(None);
    // Once a failure is seen, proptest only shrinks; a smaller candidate
    // is run up to SHRINK_TRIES times, since a concurrent failure does not
    // show on every run.
    let shrinking = std::sync::atomic::AtomicBool::new(false);
    let started = std::time::Instant::now();
    let over_budget = AtomicU32::new(0);
    let generated = AtomicU32::new(0);
    let result = runner.run(&scenarios(blocking, crashes, cfg.max_ops), |scn| {
        let shrink = shrinking.load(Ordering::Relaxed);
        let tries = if shrink { SHRINK_TRIES } else { 1 };
        if !shrink && cfg.time_budget.is_some_and(|b| started.elapsed() > b) {
            over_budget.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if cfg.progress {
            if shrink {
                eprintln!(
                    "explore: shrinking, trying {} ops in {} processes",
                    scn.ops(),
                    scn.processes.len()
                );
            } else {
                let k = generated.fetch_add(1, Ordering::Relaxed) + 1;
                eprintln!(
                    "explore: scenario {k}/{} ({} processes, {} ops, ring of {} x {} B{})",
                    cfg.cases,
                    scn.processes.len(),
                    scn.ops(),
                    scn.capacity,
                    scn.item_size,
                    if scn.crash.is_some() { ", a kill" } else { "" }
                );
            }
        }
        if let Some(offer) = &session.hello().geometry {
            if !offer.allows(scn.capacity, scn.item_size) {
                return Err(TestCaseError::reject("geometry not offered"));
            }
        }
        let mut result = Ok(());
        for _ in 0..tries {
            runs.fetch_add(1, Ordering::Relaxed);
            result = execute(&scn, session);
            if result.is_err() {
                break;
            }
        }
        match result {
            Ok(()) => Ok(()),
            Err(f) if matches!(f.outcome, Outcome::Skip(_) | Outcome::Unfit(_)) => {
                if let Ok(mut r) = refused.lock() {
                    r.push(format!(
                        "{} x {} B: {}",
                        scn.capacity,
                        scn.item_size,
                        f.message()
                    ));
                }
                Err(TestCaseError::reject("geometry refused"))
            }
            Err(f) => {
                if cfg.progress && !shrink {
                    eprintln!(
                        "explore: FAILED (seed {}): {}\nexplore: shrinking the failure",
                        cfg.seed,
                        f.message().lines().next().unwrap_or("")
                    );
                }
                shrinking.store(true, Ordering::Relaxed);
                let msg = f.message().to_owned();
                if let Ok(mut last) = last_failure.lock() {
                    *last = Some((scn, *f));
                }
                Err(TestCaseError::fail(msg))
            }
        }
    });
    let failure = match result {
        Err(proptest::test_runner::TestError::Fail(_, minimal)) => {
            let last = last_failure.lock().ok().and_then(|mut l| l.take());
            let found = last.map(|(scn, f)| {
                if scn == minimal {
                    (scn, f)
                } else {
                    (minimal, f)
                }
            });
            // proptest's value trees shrink one strategy at a time, and a
            // flaky candidate often stops them early; finish with a greedy
            // pass over the scenario's own structure.
            found.map(|(scn, f)| {
                shrink::minimize(scn, f, cfg.max_shrink_iters, |candidate| {
                    for _ in 0..SHRINK_TRIES {
                        runs.fetch_add(1, Ordering::Relaxed);
                        match execute(candidate, session) {
                            Err(f)
                                if !matches!(f.outcome, Outcome::Skip(_) | Outcome::Unfit(_)) =>
                            {
                                return Some(*f)
                            }
                            _ => {}
                        }
                    }
                    None
                })
            })
        }
        _ => None,
    };
    ExploreReport {
        runs: runs.load(Ordering::Relaxed),
        refused: refused.into_inner().unwrap_or_default(),
        over_budget: over_budget.load(Ordering::Relaxed),
        failure,
    }
}
