//! The conformance run: select cases, run each in a [`Session`] with fresh
//! driver processes, collect verdicts, and remove whatever the
//! implementation left in `/dev/shm`.

use crate::criteria::{registry, Ctx, Outcome};
use crate::protocol::Feature;
use crate::session::{Session, SessionError};
use crate::spec::{Kind, Spec};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The version of the JSON report's shape ([`RunReport`]); it changes
/// when a field is removed or changes meaning, not when one is added.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The driver command (argv).
    pub driver: Vec<String>,
    /// Criterion or case ids to run; empty: all.
    pub only: Vec<String>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Per-request deadline.
    pub deadline: Duration,
    /// Show a progress bar on stderr.
    pub progress: bool,
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
    /// The run's seed.
    pub seed: u64,
    /// Every selected case.
    pub cases: Vec<CaseReport>,
    /// Every ring name of the run starts with this.
    pub ring_prefix: String,
    /// Segments the implementation left in `/dev/shm` (removed by the
    /// harness).
    pub leaked: Vec<String>,
    /// Every required case that applies passed.
    pub conforming: bool,
    /// Wall time, ms.
    pub millis: u64,
}

impl RunReport {
    /// The command that runs case `id` again with this run's driver and
    /// seed.
    pub fn reproduce(&self, id: &str) -> String {
        format!(
            "ringcheck run --driver {} --only {id} --seed {}",
            shell_words::quote(&self.driver),
            self.seed
        )
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--only` named something the spec does not have.
    #[error("no criterion or case {0:?} (see `ringcheck list`)")]
    UnknownId(String),
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

/// Runs the selected cases.
///
/// # Errors
/// [`RunError`] if the selection is unknown or the driver cannot start;
/// every other problem is a verdict.
pub fn run(cfg: &RunConfig, spec: &Spec) -> Result<RunReport, RunError> {
    for id in &cfg.only {
        if !spec.cases().any(|(c, k)| &c.id == id || &k.id == id) {
            return Err(RunError::UnknownId(id.clone()));
        }
    }
    let started = Instant::now();
    let session = Arc::new(Session::start(cfg.driver.clone(), cfg.deadline)?);
    let features = session.hello().features.clone();
    let registry = registry();
    let selected: Vec<_> = spec
        .cases()
        .filter(|(c, k)| {
            cfg.only.is_empty() || cfg.only.iter().any(|id| id == &c.id || id == &k.id)
        })
        .collect();
    let bar = if cfg.progress {
        let bar = indicatif::ProgressBar::new(selected.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut cases = Vec::new();
    for (criterion, case) in selected {
        bar.set_message(case.id.clone());
        let t = Instant::now();
        let needs = case.needs(criterion);
        let missing: Vec<&str> = needs.difference(&features).map(|f| f.as_str()).collect();
        let func = registry
            .iter()
            .find(|(id, _)| *id == case.id)
            .map(|(_, f)| *f);
        let (verdict, message, transcript, stderr) = if !missing.is_empty() {
            let why = format!("the driver does not declare {}", missing.join(", "));
            (Verdict::Skip, Some(why), Vec::new(), Vec::new())
        } else if let Some(func) = func {
            let seed = cfg.seed ^ fnv1a(&case.id);
            let mut ctx = Ctx::new(Arc::clone(&session), seed);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| func(&mut ctx)))
                .unwrap_or_else(|_| {
                    Err(Outcome::Fail(
                        "the harness itself panicked (a ringcheck bug)".into(),
                    ))
                });
            let stderr = ctx.stderr_tails();
            ctx.teardown();
            match outcome {
                Ok(()) => (Verdict::Pass, None, Vec::new(), Vec::new()),
                Err(Outcome::Fail(m)) => (Verdict::Fail, Some(m), ctx.transcript, stderr),
                Err(Outcome::Hung(m)) => (Verdict::Hung, Some(m), ctx.transcript, stderr),
                Err(Outcome::Skip(m)) => (Verdict::Skip, Some(m), Vec::new(), Vec::new()),
            }
        } else {
            let why = "no implementation of this case (a ringcheck bug)".to_owned();
            (Verdict::Fail, Some(why), Vec::new(), Vec::new())
        };
        cases.push(CaseReport {
            criterion: criterion.id.clone(),
            id: case.id.clone(),
            kind: case.kind,
            verdict,
            message,
            transcript,
            stderr,
            millis: t.elapsed().as_millis() as u64,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let leaked = session.sweep();
    let required: BTreeSet<&str> = spec
        .criteria
        .iter()
        .filter(|c| c.required)
        .map(|c| c.id.as_str())
        .collect();
    let conforming = cases.iter().all(|c| {
        !required.contains(c.criterion.as_str())
            || matches!(c.verdict, Verdict::Pass | Verdict::Skip)
    });
    Ok(RunReport {
        schema_version: REPORT_SCHEMA_VERSION,
        implementation: session.hello().implementation.clone(),
        driver: shell_words::join(&cfg.driver),
        features: features.into_iter().collect(),
        seed: cfg.seed,
        cases,
        ring_prefix: format!("{}-", session.token()),
        leaked,
        conforming,
        millis: started.elapsed().as_millis() as u64,
    })
}
