//! The conformance run: select cases, run each against fresh driver
//! processes, collect verdicts, and clean up whatever the implementation
//! left in `/dev/shm`.

use crate::cases::{registry, Ctx, Outcome};
use crate::client::{ClientError, Driver};
use crate::protocol::{Feature, Op};
use crate::spec::{Kind, Spec};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--only` named something the spec does not have.
    #[error("no criterion or case {0:?} (see `ringcheck list`)")]
    UnknownId(String),
    /// The driver cannot be started or does not answer `hello`.
    #[error("the driver cannot be started: {0}")]
    Driver(String),
}

/// FNV-1a of `s`: mixes a case id into the run seed.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Asks a fresh driver for its `impl` and features.
pub fn hello(
    driver: &[String],
    deadline: Duration,
) -> Result<(String, BTreeSet<Feature>), RunError> {
    let err = |e: ClientError| RunError::Driver(e.to_string());
    let mut d = Driver::spawn(driver, deadline).map_err(err)?;
    let r = d.request(&Op::Hello).map_err(err)?;
    let bad = |what: &str| RunError::Driver(format!("hello answered {}: {what}", r.describe()));
    let protocol = r.u64("protocol").map_err(err)?;
    if protocol != crate::protocol::PROTOCOL_VERSION {
        return Err(bad("protocol is not 1"));
    }
    let implementation = match r
        .result
        .as_ref()
        .ok()
        .and_then(|m| m.get("impl"))
        .and_then(|v| v.as_str())
    {
        Some(s) => s.to_owned(),
        None => return Err(bad("no \"impl\" string")),
    };
    let list = r
        .result
        .as_ref()
        .ok()
        .and_then(|m| m.get("features"))
        .and_then(|v| v.as_array());
    let Some(list) = list else {
        return Err(bad("no \"features\" list"));
    };
    let mut features = BTreeSet::new();
    for f in list {
        match f.as_str().and_then(Feature::parse) {
            Some(f) => {
                features.insert(f);
            }
            None => return Err(bad(&format!("unknown feature {f}"))),
        }
    }
    d.shutdown(Duration::from_secs(2));
    Ok((implementation, features))
}

/// Runs the selected cases.
///
/// # Errors
/// [`RunError`] if the selection is unknown or the driver cannot start;
/// every other problem is a verdict.
pub fn run(cfg: &RunConfig) -> Result<RunReport, RunError> {
    let spec = Spec::load();
    for id in &cfg.only {
        if !spec.cases().any(|(c, k)| &c.id == id || &k.id == id) {
            return Err(RunError::UnknownId(id.clone()));
        }
    }
    let started = Instant::now();
    let (implementation, features) = hello(&cfg.driver, cfg.deadline)?;
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
    let token = format!("rc{}", std::process::id());
    let mut cases = Vec::new();
    for (n, (criterion, case)) in selected.into_iter().enumerate() {
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
            let prefix = format!("{token}-{n}");
            let mut ctx = Ctx::new(
                cfg.driver.clone(),
                cfg.deadline,
                seed,
                features.clone(),
                prefix,
            );
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
    let leaked = sweep(&token);
    let token = format!("{token}-");
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
        implementation,
        driver: shell_words::join(&cfg.driver),
        features: features.into_iter().collect(),
        seed: cfg.seed,
        cases,
        ring_prefix: token,
        leaked,
        conforming,
        millis: started.elapsed().as_millis() as u64,
    })
}

/// Removes entries of `/dev/shm` whose name carries this run's token (the
/// implementation leaked them) and returns their names.
fn sweep(token: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return Vec::new();
    };
    let mut leaked: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.contains(&format!("{token}-")))
        .collect();
    leaked.sort();
    for name in &leaked {
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
    }
    leaked
}
