//! The conformance run: select cases, run each in a [`Session`] with fresh
//! driver processes, collect verdicts, and remove whatever the
//! implementation left in `/dev/shm`.

use crate::case::{Ctx, Outcome};
use crate::criteria::registry;
use crate::protocol::Feature;
use crate::select::{SelectError, Selection};
use crate::session::{Session, SessionError};
use crate::spec::{CaseSpec, Criterion, Kind, Spec};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The version of the JSON report's shape ([`RunReport`]); it changes
/// when a field is removed or changes meaning, not when one is added.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The driver command (argv).
    pub driver: Vec<String>,
    /// Which cases.
    pub selection: Selection,
    /// Features the driver must declare: a run whose driver lacks one is
    /// not conforming (`--require`).
    pub require: Vec<Feature>,
    /// A skipped case makes the run not conforming (`--strict`).
    pub strict: bool,
    /// Cases run side by side, at least 1; the timing-sensitive criteria
    /// (`timing = true` in the spec) always run one at a time, after the
    /// others.
    pub jobs: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Per-request deadline.
    pub deadline: Duration,
    /// Longest response line, bytes ([`crate::client::MAX_LINE`] by
    /// default): a longer one fails its case as malformed.
    pub max_line: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl RunConfig {
    /// Every case of the spec against `driver`, one at a time, seed 1,
    /// deadline 10 s, no progress bar.
    pub fn new(driver: Vec<String>) -> Self {
        RunConfig {
            driver,
            selection: Selection::default(),
            require: Vec::new(),
            strict: false,
            jobs: 1,
            seed: 1,
            deadline: Duration::from_secs(10),
            max_line: crate::client::MAX_LINE,
            progress: false,
        }
    }
}

/// The verdict of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The case passed.
    Pass,
    /// The implementation broke the criterion.
    Fail,
    /// An operation got no answer within the deadline.
    Hung,
    /// Not applicable: a feature the driver does not declare.
    Skip,
}

/// The verdict of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunVerdict {
    /// Every case that applies passed, and nothing is unmet.
    Conforming,
    /// A case failed or hung, or a `--require`/`--strict` condition is
    /// unmet.
    NotConforming,
    /// Nothing failed, but a criterion that applies to every driver could
    /// not be checked at any geometry the driver offers: not conforming
    /// either, for want of evidence.
    Unchecked,
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// Criterion id.
    pub criterion: String,
    /// Case id.
    pub id: String,
    /// Positive or negative.
    pub kind: Kind,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it failed, hung or was skipped.
    pub message: Option<String>,
    /// Requests and responses of a failed or hung case.
    pub transcript: Vec<String>,
    /// Stderr tails of the case's drivers, for failed or hung cases.
    pub stderr: Vec<(usize, Vec<String>)>,
    /// Skipped because no geometry the driver offers fits the case (not
    /// for a missing feature).
    pub no_geometry: bool,
    /// Entries the case's rings left in `/dev/shm` (removed by the harness).
    pub leaked: Vec<String>,
    /// Wall time, ms.
    pub millis: u64,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The driver's `impl`.
    pub implementation: String,
    /// The driver command as given.
    pub driver: String,
    /// The features the driver declared.
    pub features: Vec<Feature>,
    /// The roles the driver declared, within which every case ran and the
    /// verdict holds.
    pub roles: crate::protocol::Roles,
    /// The run's seed.
    pub seed: u64,
    /// The shard of the suite this run took (`count:K/N`, `hash:K/N`), if
    /// partitioned.
    pub partition: Option<String>,
    /// Every selected case, in spec order.
    pub cases: Vec<CaseReport>,
    /// Why the run is not conforming beyond its cases: a `--require`d
    /// feature the driver lacks, a case skipped under `--strict`.
    pub unmet: Vec<String>,
    /// Every ring name of the run starts with this.
    pub ring_prefix: String,
    /// Segments the implementation left in `/dev/shm` (removed by the
    /// harness).
    pub leaked: Vec<String>,
    /// [`RunVerdict::Conforming`], [`RunVerdict::NotConforming`] or
    /// [`RunVerdict::Unchecked`].
    pub verdict: RunVerdict,
    /// The verdict is [`RunVerdict::Conforming`].
    pub conforming: bool,
    /// Wall time, ms.
    pub millis: u64,
}

impl RunReport {
    /// The command that runs case `id` again with this run's driver and
    /// seed.
    pub fn reproduce(&self, id: &str) -> String {
        reproduce_command(&self.driver, id, self.seed)
    }
}

/// The command that runs case `id` again with `driver` (as one shell
/// string) and `seed`: what every report prints for a failed case.
pub fn reproduce_command(driver: &str, id: &str, seed: u64) -> String {
    format!(
        "ringcheck run --driver {} --only {id} --seed {seed}",
        shell_words::quote(driver)
    )
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The selection is malformed or matches nothing.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The driver cannot be started or does not answer `hello` usably.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// FNV-1a of `s`: mixes a case id into the run seed.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs one case in `session`, with the case's own seed derived from
/// `seed`: skipped with the reason when the driver lacks a feature the case
/// needs, else run in a fresh [`Ctx`] whose drivers are ended afterwards.
/// A panic of the case (a ringcheck bug) is a failure, not a crash.
pub fn run_case(
    session: &Arc<Session>,
    seed: u64,
    criterion: &Criterion,
    case: &CaseSpec,
) -> CaseReport {
    let t = Instant::now();
    let missing: Vec<&str> = case
        .needs(criterion)
        .difference(&session.hello().features)
        .map(|f| f.as_str())
        .collect();
    let func = registry()
        .into_iter()
        .find(|(id, _)| *id == case.id)
        .map(|(_, f)| f);
    let mut no_geometry = false;
    let mut leaked = Vec::new();
    let (verdict, message, transcript, stderr) = if !missing.is_empty() {
        let why = format!("the driver does not declare {}", missing.join(", "));
        (Verdict::Skip, Some(why), Vec::new(), Vec::new())
    } else if let Some(func) = func {
        let mut ctx = Ctx::new(Arc::clone(session), seed ^ fnv1a(&case.id));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| func(&mut ctx)))
            .unwrap_or_else(|_| {
                Err(Outcome::Fail(
                    "the harness itself panicked (a ringcheck bug)".into(),
                ))
            });
        let stderr = ctx.stderr_tails();
        ctx.teardown();
        // A case run alone (one test of a `testing` suite) must leave
        // nothing either.
        leaked = ctx.sweep();
        match outcome {
            Ok(()) => (Verdict::Pass, None, Vec::new(), Vec::new()),
            Err(Outcome::Fail(m)) => (Verdict::Fail, Some(m), ctx.transcript, stderr),
            Err(Outcome::Hung(m)) => {
                let others = ctx.live_states();
                let m = if others.is_empty() {
                    m
                } else {
                    format!(
                        "{m}\nthe other drivers at the hang:\n  {}",
                        others.join("\n  ")
                    )
                };
                (Verdict::Hung, Some(m), ctx.transcript, stderr)
            }
            Err(Outcome::Skip(m)) => (Verdict::Skip, Some(m), Vec::new(), Vec::new()),
            Err(Outcome::Unfit(m)) => {
                no_geometry = true;
                (Verdict::Skip, Some(m), ctx.transcript, Vec::new())
            }
        }
    } else {
        let why = "no implementation of this case (a ringcheck bug)".to_owned();
        (Verdict::Fail, Some(why), Vec::new(), Vec::new())
    };
    CaseReport {
        criterion: criterion.id.clone(),
        id: case.id.clone(),
        kind: case.kind,
        verdict,
        message,
        transcript,
        stderr,
        no_geometry,
        leaked,
        millis: t.elapsed().as_millis() as u64,
    }
}

/// Runs the selected cases: those of timing-sensitive criteria one at a
/// time, the others `cfg.jobs` at a time; the report lists them in spec
/// order.
///
/// The progress bar of a run on stderr: indicatif's with the `cli`
/// feature, nothing without it (the library alone draws no bar).
struct Progress {
    #[cfg(feature = "cli")]
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// A bar of `len` cases, shown if `show`.
    fn new(show: bool, len: usize) -> Progress {
        #[cfg(feature = "cli")]
        {
            let bar = if show {
                let bar = indicatif::ProgressBar::new(len as u64);
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                {
                    bar.set_style(style);
                }
                bar
            } else {
                indicatif::ProgressBar::hidden()
            };
            Progress { bar }
        }
        #[cfg(not(feature = "cli"))]
        {
            let _ = (show, len);
            Progress {}
        }
    }

    /// Case `id` starts.
    fn case(&self, id: &str) {
        #[cfg(feature = "cli")]
        self.bar.set_message(id.to_owned());
        #[cfg(not(feature = "cli"))]
        let _ = id;
    }

    /// A case ended.
    fn done(&self) {
        #[cfg(feature = "cli")]
        self.bar.inc(1);
    }

    /// The run ended: the bar goes.
    fn finish(&self) {
        #[cfg(feature = "cli")]
        self.bar.finish_and_clear();
    }
}

/// # Errors
/// [`RunError`] if the selection is malformed or the driver cannot start;
/// every other problem is a verdict.
pub fn run(cfg: &RunConfig, spec: &Spec) -> Result<RunReport, RunError> {
    let selected = cfg.selection.cases(spec)?;
    let started = Instant::now();
    let session = Arc::new(Session::start_with(
        cfg.driver.clone(),
        cfg.deadline,
        cfg.max_line,
    )?);
    let bar = Progress::new(cfg.progress, selected.len());
    let run_one = |&(i, (criterion, case)): &(usize, (&Criterion, &CaseSpec))| {
        bar.case(&case.id);
        let report = run_case(&session, cfg.seed, criterion, case);
        bar.done();
        (i, report)
    };
    let (timed, free): (Vec<_>, Vec<_>) = selected
        .iter()
        .copied()
        .enumerate()
        .partition(|(_, (criterion, _))| criterion.timing);
    let next = AtomicUsize::new(0);
    let mut cases: Vec<(usize, CaseReport)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..cfg.jobs.clamp(1, free.len().max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(item) = free.get(next.fetch_add(1, Ordering::Relaxed)) {
                        done.push(run_one(item));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    cases.extend(timed.iter().map(run_one));
    cases.sort_by_key(|(i, _)| *i);
    let cases: Vec<CaseReport> = cases.into_iter().map(|(_, r)| r).collect();
    bar.finish();
    let mut leaked: Vec<String> = cases.iter().flat_map(|c| c.leaked.clone()).collect();
    leaked.extend(session.sweep());
    leaked.sort();
    let features = &session.hello().features;
    let mut unmet: Vec<String> = cfg
        .require
        .iter()
        .filter(|f| !features.contains(f))
        .map(|f| format!("--require {}: the driver does not declare it", f.as_str()))
        .collect();
    if cfg.strict {
        unmet.extend(
            cases
                .iter()
                .filter(|c| c.verdict == Verdict::Skip)
                .map(|c| format!("--strict: {} was skipped", c.id)),
        );
    }
    let required: BTreeSet<&str> = spec
        .criteria
        .iter()
        .filter(|c| c.required)
        .map(|c| c.id.as_str())
        .collect();
    let failed = !unmet.is_empty()
        || cases.iter().any(|c| {
            required.contains(c.criterion.as_str())
                && matches!(c.verdict, Verdict::Fail | Verdict::Hung)
        });
    // The criteria that need no feature apply to every driver: one of
    // their cases that no offered geometry fits leaves the run unchecked.
    let for_everyone: BTreeSet<&str> = spec
        .criteria
        .iter()
        .filter(|c| c.required && c.features.is_empty())
        .map(|c| c.id.as_str())
        .collect();
    let unchecked: Vec<String> = cases
        .iter()
        .filter(|c| c.no_geometry && for_everyone.contains(c.criterion.as_str()))
        .map(|c| format!("{} was checked at no geometry the driver offers", c.id))
        .collect();
    let verdict = if failed {
        RunVerdict::NotConforming
    } else if !unchecked.is_empty() {
        RunVerdict::Unchecked
    } else {
        RunVerdict::Conforming
    };
    unmet.extend(unchecked);
    Ok(RunReport {
        schema_version: REPORT_SCHEMA_VERSION,
        implementation: session.hello().implementation.clone(),
        driver: shell_words::join(&cfg.driver),
        features: features.iter().copied().collect(),
        roles: session.hello().roles,
        seed: cfg.seed,
        partition: cfg.selection.partition.map(|p| p.to_string()),
        cases,
        unmet,
        ring_prefix: format!("{}-", session.token()),
        leaked,
        verdict,
        conforming: verdict == RunVerdict::Conforming,
        millis: started.elapsed().as_millis() as u64,
    })
}
