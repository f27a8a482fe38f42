//! ringcheck inside another crate's test suite: one test per case, for
//! `cargo test` and `cargo nextest run`.
//!
//! Add `ringcheck` as a dev-dependency and a test target without the
//! standard harness:
//!
//! ```toml
//! [[test]]
//! name = "ringcheck"
//! harness = false
//! ```
//!
//! whose whole body is one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     ringcheck::testing::main(ringcheck::testing::Target::command(["python3", "driver.py"]))
//! }
//! ```
//!
//! [`main`] and [`Suite::main`] never return: they exit the process with
//! the suite's status (101 if any test failed), as libtest does, so a
//! `main` written with or without `-> ExitCode` cannot swallow a failure.
//! A driver that cannot start fails every test, with the reason.
//!
//! or, for a Rust ring that implements [`ringcheck_protocol::Implementation`]
//! (and `Default`), `Target::rust::<MyRing>()`: the test binary then serves
//! as its own driver (it runs itself with [`SERVE_ARG`]), no extra binary.
//!
//! Each case becomes one test named `criterion::case`
//! (`wrap-around::straddle`), so nextest's filters
//! (`-E 'test(/^crash::/)'`), `--partition`, retries, JUnit output and
//! test groups all apply. A case that needs a feature the driver does not
//! declare is listed as ignored, its name tagged with `[skip: ...]` in the
//! kind column; run anyway (`--include-ignored`) it fails with the reason.
//! The driver's `hello` is asked once per test process: once for the whole
//! suite under `cargo test`, once per case under nextest, which runs every
//! test in a process of its own.
//!
//! Under `cargo test` the cases run one at a time unless `--test-threads`
//! says otherwise. Under nextest, keep the timing-sensitive criteria
//! ([`TIMING_FILTER`]) in a serial test group:
//!
//! ```toml
//! [test-groups]
//! ringcheck-timing = { max-threads = 1 }
//!
//! [[profile.default.overrides]]
//! filter = 'binary(ringcheck) & test(/^(blocking|concurrency|crash)::/)'
//! test-group = 'ringcheck-timing'
//! ```
//!
//! Regression snapshots: [`snapshot`] gives the stable text of a run's
//! verdicts for `insta::assert_snapshot!`, so a change in what a ring
//! passes shows up as a snapshot diff; [`Suite::with_snapshot`] adds it to
//! the suite as one more test.

use crate::protocol::Implementation;
use crate::run::{reproduce_command, run, run_case, RunConfig, RunReport, Verdict};
use crate::session::Session;
use crate::spec::{CaseSpec, Criterion, Spec};
pub use libtest_mimic::{Arguments, Conclusion};
use libtest_mimic::{Failed, Trial};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The argument with which a [`Target::rust`] test binary runs itself as
/// the driver.
pub const SERVE_ARG: &str = "--ringcheck-serve-driver";

/// The nextest filter of the timing-sensitive criteria, whose cases
/// should share a serial test group.
pub const TIMING_FILTER: &str = "test(/^(blocking|concurrency|crash)::/)";

/// What the suite checks.
#[derive(Clone)]
pub enum Target {
    /// A driver command (argv, no shell).
    Command(Vec<String>),
    /// A Rust ring served by this very test binary.
    Rust(fn() -> ExitCode),
}

impl Target {
    /// A driver started as `argv` (the program, then its arguments; run
    /// without a shell).
    pub fn command<I, S>(argv: I) -> Target
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Target::Command(argv.into_iter().map(Into::into).collect())
    }

    /// The ring `I`, served over the driver protocol by the test binary
    /// itself.
    pub fn rust<I: Implementation + Default>() -> Target {
        Target::Rust(|| crate::protocol::serve_stdio(&I::default()))
    }

    /// The driver argv.
    fn argv(&self) -> Vec<String> {
        match self {
            Target::Command(argv) => argv.clone(),
            Target::Rust(_) => {
                let exe = std::env::current_exe()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| std::env::args().next().unwrap_or_default());
                vec![exe, SERVE_ARG.into()]
            }
        }
    }
}

/// What checks the snapshot text (an `insta` assertion).
type SnapshotAssert = Box<dyn FnOnce(String) + Send>;

/// The test suite of one target: every case of the spec, plus an optional
/// snapshot test.
pub struct Suite {
    target: Target,
    deadline: Duration,
    seed: u64,
    snapshot: Option<(String, SnapshotAssert)>,
}

impl Suite {
    /// The suite of `target`: seed 1, a 10 s deadline per request.
    pub fn new(target: Target) -> Suite {
        Suite {
            target,
            deadline: Duration::from_secs(10),
            seed: 1,
            snapshot: None,
        }
    }

    /// The seed of every random choice.
    pub fn seed(mut self, seed: u64) -> Suite {
        self.seed = seed;
        self
    }

    /// The deadline of each request, on top of an op's own wait.
    pub fn deadline(mut self, deadline: Duration) -> Suite {
        self.deadline = deadline;
        self
    }

    /// One more test, `name`, that runs the whole suite and hands its
    /// [`snapshot`] to `assert` (typically `|s| insta::assert_snapshot!("verdicts", s)`).
    pub fn with_snapshot(
        mut self,
        name: impl Into<String>,
        assert: impl FnOnce(String) + Send + 'static,
    ) -> Suite {
        self.snapshot = Some((name.into(), Box::new(assert)));
        self
    }

    /// Parses the test harness's arguments, runs the selected tests and
    /// exits the process with their status (0 if all passed, 101 if any
    /// failed); serves the ring instead when run as its own driver. Never
    /// returns, so that no caller can drop the status.
    pub fn main(self) -> ! {
        if let Target::Rust(serve) = &self.target {
            if std::env::args().nth(1).as_deref() == Some(SERVE_ARG) {
                let code = serve();
                std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 });
            }
        }
        // A test killed by a timeout (SIGTERM from nextest) or Ctrl-C leaves
        // no driver and no segment behind; a harness that installed its own
        // handler keeps it.
        let _ = crate::session::install_interrupt_cleanup();
        self.run(Arguments::from_args()).exit()
    }

    /// Runs the tests `args` select and returns libtest's conclusion
    /// (counts of passed, failed and ignored tests), for a harness that
    /// wants to look before it exits: [`main`](Self::main) is this, then
    /// [`Conclusion::exit`].
    pub fn run(self, mut args: Arguments) -> Conclusion {
        if args.test_threads.is_none() {
            // Cases start processes and measure waits: one at a time
            // unless asked otherwise.
            args.test_threads = Some(1);
        }
        let trials = self.trials(args.list);
        libtest_mimic::run(&args, trials)
    }

    /// The trials. `hello` is asked (once) to know which cases are
    /// ignored; a driver that cannot start makes every trial fail with the
    /// reason.
    fn trials(self, listing: bool) -> Vec<Trial> {
        let spec = Arc::new(Spec::load());
        let session = Session::start(self.target.argv(), self.deadline).map(Arc::new);
        let mut trials = Vec::new();
        let mut ignored = Vec::new();
        for (criterion, case) in spec.cases() {
            let name = test_name(criterion, case);
            let trial = match &session {
                Err(e) => {
                    let msg = e.to_string();
                    Trial::test(name, move || Err(Failed::from(msg)))
                }
                Ok(session) => {
                    let missing: Vec<&str> = case
                        .needs(criterion)
                        .difference(&session.hello().features)
                        .map(|f| f.as_str())
                        .collect();
                    let (session, spec, id, seed) = (
                        Arc::clone(session),
                        Arc::clone(&spec),
                        case.id.clone(),
                        self.seed,
                    );
                    let trial = Trial::test(name, move || run_one(&session, &spec, &id, seed));
                    if missing.is_empty() {
                        trial
                    } else {
                        ignored.push(format!(
                            "{} (the driver does not declare {})",
                            case.id,
                            missing.join(", ")
                        ));
                        trial.with_ignored_flag(true)
                    }
                }
            };
            trials.push(trial);
        }
        if !ignored.is_empty() && !listing {
            eprintln!("ringcheck: ignored, not passed: {}", ignored.join("; "));
        }
        if let Some((name, assert)) = self.snapshot {
            let argv = self.target.argv();
            let (deadline, seed) = (self.deadline, self.seed);
            trials.push(Trial::test(name, move || {
                let mut cfg = RunConfig::new(argv);
                cfg.deadline = deadline;
                cfg.seed = seed;
                let spec = Spec::load();
                let report = run(&cfg, &spec).map_err(|e| Failed::from(e.to_string()))?;
                assert(snapshot(&report, &spec));
                Ok(())
            }));
        }
        trials
    }
}

/// The test name of a case: `criterion::rest-of-case-id`.
pub fn test_name(criterion: &Criterion, case: &CaseSpec) -> String {
    let rest = case
        .id
        .strip_prefix(&format!("{}.", criterion.id))
        .unwrap_or(&case.id);
    format!("{}::{rest}", criterion.id)
}

/// Runs case `id` as one test.
fn run_one(session: &Arc<Session>, spec: &Spec, id: &str, seed: u64) -> Result<(), Failed> {
    let (criterion, case) = spec
        .cases()
        .find(|(_, k)| k.id == id)
        .ok_or_else(|| Failed::from(format!("no case {id}")))?;
    let report = run_case(session, seed, criterion, case);
    let reproduce = format!(
        "reproduce: {}",
        reproduce_command(&shell_words::join(session.driver()), id, seed)
    );
    let detail = || {
        let mut out = format!(
            "{}\n{reproduce}",
            report.message.as_deref().unwrap_or_default()
        );
        for line in report.transcript.iter().rev().take(40).rev() {
            let _ = write!(out, "\n  {line}");
        }
        for (d, tail) in &report.stderr {
            let _ = write!(out, "\nstderr of d{d} (tail):");
            for line in tail {
                let _ = write!(out, "\n  {line}");
            }
        }
        out
    };
    match report.verdict {
        Verdict::Pass => Ok(()),
        Verdict::Fail => Err(Failed::from(format!("FAIL: {}", detail()))),
        Verdict::Hung => Err(Failed::from(format!("HUNG: {}", detail()))),
        Verdict::Skip => Err(Failed::from(format!(
            "skipped, not passed: {}",
            report.message.unwrap_or_default()
        ))),
    }
}

/// Runs every case of `target` as [`Suite::main`] does: the one-line body
/// of a `harness = false` test target. Exits the process with the suite's
/// status; never returns.
pub fn main(target: Target) -> ! {
    Suite::new(target).main()
}

/// The stable text of a run's verdicts, for a regression snapshot: the
/// implementation, its features, the table of criteria, and each case's
/// verdict (with the reason of a skip). Nothing that changes from run to
/// run (times, pids, ring names, messages of failures) is in it, so it
/// needs no redaction; [`crate::report::redactions`] makes the full text
/// report stable too.
pub fn snapshot(report: &RunReport, spec: &Spec) -> String {
    let mut out = String::new();
    let features: Vec<&str> = report.features.iter().map(|f| f.as_str()).collect();
    let _ = writeln!(out, "implementation: {}", report.implementation);
    let _ = writeln!(out, "features: {}", features.join(", "));
    if !report.roles.is_any() {
        let _ = writeln!(out, "roles: {}", report.roles);
    }
    let _ = writeln!(
        out,
        "verdict: {}",
        crate::report::verdict_word(report.verdict)
    );
    for why in &report.unmet {
        let _ = writeln!(out, "  {why}");
    }
    for c in &spec.criteria {
        let mine: Vec<_> = report
            .cases
            .iter()
            .filter(|k| k.criterion == c.id)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", c.id);
        for k in mine {
            let verdict = match k.verdict {
                Verdict::Pass => "pass".to_owned(),
                Verdict::Fail => "FAIL".to_owned(),
                Verdict::Hung => "HUNG".to_owned(),
                Verdict::Skip => format!("skip ({})", k.message.as_deref().unwrap_or("")),
            };
            let _ = writeln!(out, "  {:<36} {verdict}", k.id);
        }
    }
    out
}
