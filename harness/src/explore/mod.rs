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
mod watchdog;

pub use execute::execute;
use execute::execute_within;
pub use scenario::{
    blocked_kills, scenarios, scenarios_within, Crash, KillPoint, Process, ProcessScenario, Size,
    Step,
};

use crate::case::Outcome;
use crate::history::Event;
use crate::protocol::Feature;
use crate::report::{Kill, Unanswered};
use crate::session::Session;
use std::time::{Duration, Instant};

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

/// How long shrinking may take by default ([`ExploreConfig::shrink_time`]).
pub const DEFAULT_SHRINK_TIME: Duration = Duration::from_secs(45);

/// A shrink candidate is judged hung after `HANG_MULTIPLE` (10) times the
/// slowest op answered in the failing run...
const HANG_MULTIPLE: u32 = 10;
/// ...but never sooner than this...
const HANG_FLOOR: Duration = Duration::from_millis(500);

/// The deadline after which a shrink candidate's request is judged hung:
/// `HANG_MULTIPLE` (10) times the slowest op the failing run itself got an
/// answer to (the driver's own timing of a healthy op on this machine,
/// now), at least `HANG_FLOOR` (500 ms) and at most `configured`. As for every
/// request, the driver also gets the wait timeouts of the request's ops
/// (and 1 ms per op of a batch) on top. A candidate of a wedge hangs
/// anyway, so the full deadline only made each hung candidate cost
/// seconds; a healthy candidate answers within a small multiple of the
/// failing run's ops, and the floor absorbs a busy machine's scheduling
/// noise.
pub fn hang_deadline(failure: &ScenarioFailure, configured: Duration) -> Duration {
    let slowest = failure
        .history
        .iter()
        .map(|e| e.t1.saturating_sub(e.t0))
        .max()
        .unwrap_or(0);
    Duration::from_nanos(slowest)
        .saturating_mul(HANG_MULTIPLE)
        .max(HANG_FLOOR)
        .min(configured)
}

/// Settings of an exploration.
#[derive(Debug, Clone)]
pub struct ExploreConfig {
    /// Scenarios to generate.
    pub cases: u32,
    /// Seed of the generator.
    pub seed: u64,
    /// Longest op list per process.
    pub max_ops: usize,
    /// Most shrink candidates tried after a failure.
    pub max_shrink_iters: u32,
    /// No new scenario starts after this long (shrinking a failure found
    /// in time still runs, within `shrink_time`).
    pub time_budget: Option<Duration>,
    /// How long shrinking a failure may take; when it runs out, the
    /// smallest scenario that failed so far is the result.
    pub shrink_time: Duration,
    /// Progress on stderr: each scenario, a failure's seed as soon as it
    /// is found, each shrink candidate.
    pub progress: bool,
}

impl Default for ExploreConfig {
    /// 100 scenarios of seed 1, up to 40 ops per process, 200 shrink
    /// candidates within [`DEFAULT_SHRINK_TIME`], no time budget, quiet.
    fn default() -> Self {
        ExploreConfig {
            cases: 100,
            seed: 1,
            max_ops: 40,
            max_shrink_iters: 200,
            time_budget: None,
            shrink_time: DEFAULT_SHRINK_TIME,
            progress: false,
        }
    }
}

/// What an exploration tells its observer while it runs
/// ([`explore_with`]).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A generated scenario, before it runs.
    Generated {
        /// The scenario.
        scenario: &'a ProcessScenario,
        /// Which generated scenario it is (1-based).
        index: u32,
    },
    /// The first failure, before any shrinking.
    Failure {
        /// The failing scenario as generated.
        scenario: &'a ProcessScenario,
        /// Why it fails.
        failure: &'a ScenarioFailure,
        /// Which generated scenario it is (1-based).
        index: u32,
        /// Runs so far, this one included.
        runs: u32,
    },
    /// Shrinking found a smaller scenario that still fails: the best so
    /// far.
    Smaller {
        /// The smaller failing scenario.
        scenario: &'a ProcessScenario,
        /// Why it fails.
        failure: &'a ScenarioFailure,
    },
}

/// How shrinking went.
#[derive(Debug, Clone)]
pub struct ShrinkSummary {
    /// Shrinking ran out of candidates (true) or was cut by
    /// [`ExploreConfig::shrink_time`] (false).
    pub finished: bool,
    /// How long it took.
    pub elapsed: Duration,
    /// Runs it made.
    pub runs: u32,
    /// The budget it had.
    pub budget: Duration,
    /// The deadline after which a candidate was judged hung
    /// ([`hang_deadline`]).
    pub hang_deadline: Duration,
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
    /// Which generated scenario failed first (1-based), if one did.
    pub found_at: Option<u32>,
    /// How shrinking went, if a scenario failed.
    pub shrink: Option<ShrinkSummary>,
}

/// Generates and runs scenarios against the driver; on a failure, proptest
/// shrinks it and the smallest one still failing is returned.
pub fn explore(cfg: &ExploreConfig, session: &Session) -> ExploreReport {
    explore_with(cfg, session, &|_| {})
}

/// [`explore`], telling `observe` of the first failure the moment it is
/// found (before shrinking) and of each smaller failing scenario shrinking
/// finds, so that a caller can save them as they come.
///
/// Scenarios stay within the roles the driver declared
/// ([`scenarios_within`]). Shrinking stops at [`ExploreConfig::shrink_time`]
/// with the smallest failing scenario so far, and judges candidates hung
/// after [`hang_deadline`].
pub fn explore_with(
    cfg: &ExploreConfig,
    session: &Session,
    observe: &dyn Fn(Progress<'_>),
) -> ExploreReport {
    use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Mutex, OnceLock};
    let blocking = session.has(Feature::Blocking);
    let crashes = session.has(Feature::Processes);
    let roles = session.hello().roles;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&cfg.seed.to_le_bytes());
    let config = Config {
        cases: cfg.cases,
        // proptest's value trees shrink one element at a time, with dozens
        // of candidates per scenario; the greedy pass of `shrink` drops
        // whole processes and halves of op lists first, and gets a wedge
        // small in a fraction of the runs. It does all the shrinking.
        max_shrink_iters: 0,
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
    let shrinking = AtomicBool::new(false);
    // Set when the failure is found: when shrinking began, the runs until
    // then, and the hang deadline of its candidates.
    let shrink_start: OnceLock<(Instant, u32, Duration)> = OnceLock::new();
    let cut = AtomicBool::new(false);
    let started = Instant::now();
    let over_budget = AtomicU32::new(0);
    let generated = AtomicU32::new(0);
    let found_at = AtomicU32::new(0);
    let over_shrink_time = || {
        shrink_start
            .get()
            .is_some_and(|(t, ..)| t.elapsed() >= cfg.shrink_time)
    };
    // A candidate's run, judged hung at the calibrated deadline.
    let run = |scn: &ProcessScenario| {
        execute_within(scn, session, shrink_start.get().map(|(_, _, hang)| *hang))
    };
    let strategy = scenarios_within(blocking, crashes, cfg.max_ops, roles);
    let result = runner.run(&strategy, |scn| {
        let shrink = shrinking.load(Ordering::Relaxed);
        let tries = if shrink { SHRINK_TRIES } else { 1 };
        if !shrink && cfg.time_budget.is_some_and(|b| started.elapsed() > b) {
            over_budget.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if shrink && over_shrink_time() {
            // Out of shrink time: every further candidate counts as
            // passing without a run, so proptest ends with the smallest
            // failure so far.
            cut.store(true, Ordering::Relaxed);
            return Ok(());
        }
        let index = if shrink {
            0
        } else {
            generated.fetch_add(1, Ordering::Relaxed) + 1
        };
        if !shrink {
            observe(Progress::Generated {
                scenario: &scn,
                index,
            });
        }
        if cfg.progress {
            if shrink {
                eprintln!(
                    "explore: shrinking, trying {} ops in {} processes",
                    scn.ops(),
                    scn.processes.len()
                );
            } else {
                eprintln!(
                    "explore: scenario {index}/{} ({} processes, {} ops, ring of {} x {} B{})",
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
            result = run(&scn);
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
                if shrink {
                    observe(Progress::Smaller {
                        scenario: &scn,
                        failure: &f,
                    });
                } else {
                    let n = runs.load(Ordering::Relaxed);
                    found_at.store(index, Ordering::Relaxed);
                    if cfg.progress {
                        eprintln!(
                            "explore: FAILED at scenario {index} (seed {}): {}",
                            cfg.seed,
                            f.message().lines().next().unwrap_or("")
                        );
                    }
                    observe(Progress::Failure {
                        scenario: &scn,
                        failure: &f,
                        index,
                        runs: n,
                    });
                    let hang = hang_deadline(&f, session.deadline());
                    if cfg.progress {
                        eprintln!(
                            "explore: shrinking the failure (up to {:?}; a candidate is hung \
                             after {hang:?} plus its waits)",
                            cfg.shrink_time
                        );
                    }
                    let _ = shrink_start.set((Instant::now(), n, hang));
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
                let deadline = shrink_start
                    .get()
                    .map(|(t, ..)| *t + cfg.shrink_time)
                    .unwrap_or_else(Instant::now);
                let (scn, f, finished) = shrink::minimize(
                    scn,
                    f,
                    cfg.max_shrink_iters,
                    deadline,
                    |candidate| {
                        for _ in 0..SHRINK_TRIES {
                            if Instant::now() >= deadline {
                                return None;
                            }
                            runs.fetch_add(1, Ordering::Relaxed);
                            match run(candidate) {
                                Err(f)
                                    if !matches!(
                                        f.outcome,
                                        Outcome::Skip(_) | Outcome::Unfit(_)
                                    ) =>
                                {
                                    return Some(*f)
                                }
                                _ => {}
                            }
                        }
                        None
                    },
                    |scenario, failure| {
                        if cfg.progress {
                            eprintln!(
                                "explore: smaller failing scenario: {} ops in {} processes",
                                scenario.ops(),
                                scenario.processes.len()
                            );
                        }
                        observe(Progress::Smaller { scenario, failure })
                    },
                );
                if !finished {
                    cut.store(true, Ordering::Relaxed);
                }
                let f = diagnosed(&scn, f, session, shrink_start.get().map(|s| s.2), &runs);
                (scn, f)
            })
        }
        _ => None,
    };
    let runs = runs.load(Ordering::Relaxed);
    let shrink = shrink_start.get().map(|(t, before, hang)| ShrinkSummary {
        finished: !cut.load(Ordering::Relaxed),
        elapsed: t.elapsed(),
        runs: runs - before,
        budget: cfg.shrink_time,
        hang_deadline: *hang,
    });
    ExploreReport {
        runs,
        refused: refused.into_inner().unwrap_or_default(),
        over_budget: over_budget.load(Ordering::Relaxed),
        failure,
        found_at: failure_found_at(found_at.load(Ordering::Relaxed)),
        shrink,
    }
}

/// A hang judged by the shrink deadline has no picture of what the hung
/// processes were doing: run the scenario once more with drivers whose own
/// deadline is `hang`, which look at each hung process, and keep that
/// failure if it hangs again.
fn diagnosed(
    scn: &ProcessScenario,
    f: ScenarioFailure,
    session: &Session,
    hang: Option<Duration>,
    runs: &std::sync::atomic::AtomicU32,
) -> ScenarioFailure {
    let (Outcome::Hung(_), Some(hang)) = (&f.outcome, hang) else {
        return f;
    };
    if hang >= session.deadline() {
        return f;
    }
    let Ok(quick) = Session::start(session.driver().to_vec(), hang) else {
        return f;
    };
    runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match execute(scn, &quick) {
        Err(again) if matches!(again.outcome, Outcome::Hung(_)) => *again,
        _ => f,
    }
}

fn failure_found_at(n: u32) -> Option<u32> {
    (n > 0).then_some(n)
}
