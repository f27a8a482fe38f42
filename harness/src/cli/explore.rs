//! `ringcheck explore`: generated scenarios, shrunk on failure.

use super::{emit, explore_cases, usage, DriverArgs, Exit};
use clap::Args;
use ringcheck::explore::{
    explore_with, ExploreConfig, ProcessScenario, Progress, ScenarioFailure, DEFAULT_SHRINK_TIME,
};
use ringcheck::protocol::Feature;
use ringcheck::report::timeline_svg;
use ringcheck::session::Session;
use std::path::{Path, PathBuf};

/// Arguments of `ringcheck explore`.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub driver: DriverArgs,
    /// Scenarios to generate (default: PROPTEST_CASES, else 100).
    #[arg(long)]
    pub cases: Option<u32>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Longest op list per process.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_ops: u64,
    /// Where to write a failing scenario (JSON) and its timeline (SVG).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Start no new scenario after this many seconds (a failure found in
    /// time is still shrunk).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub time_budget: Option<u64>,
    /// Stop shrinking a failure after this many seconds and report the
    /// smallest scenario that failed so far (0: report the failure as
    /// found). The failure is printed and its replay file written as soon
    /// as it is found, and the file is rewritten with each smaller failing
    /// scenario, so an interrupted run loses nothing. While shrinking, a
    /// candidate is judged hung after 10 times the failing run's slowest
    /// op (at least 0.5 s, at most --deadline) plus its own waits.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_SHRINK_TIME.as_secs())]
    pub shrink_time: u64,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Explores, and writes the minimal failing scenario if one fails.
pub fn main(a: ExploreArgs) -> Exit {
    let driver = match a.driver.argv() {
        Ok(d) => d,
        Err(e) => return e,
    };
    let session = match Session::start_with(driver, a.driver.deadline(), a.driver.max_line as usize)
    {
        Ok(s) => s,
        Err(e) => return usage(&e.to_string()),
    };
    if !session.has(Feature::Batch) {
        return usage("explore needs a driver with the batch feature");
    }
    let cases = explore_cases(a.cases);
    let cfg = ExploreConfig {
        cases,
        seed: a.seed,
        max_ops: a.max_ops as usize,
        max_shrink_iters: 200,
        time_budget: a.time_budget.map(std::time::Duration::from_secs),
        shrink_time: std::time::Duration::from_secs(a.shrink_time),
        progress: !a.quiet,
    };
    let seed = a.seed;
    let base = a.out.join(format!("ringcheck-explore-{seed}"));
    let json = base.with_extension("json");
    let svg = base.with_extension("svg");
    let replay_line = format!(
        "replay: ringcheck replay {} --driver {}",
        json.display(),
        shell_words::quote(&shell_words::join(session.driver()))
    );
    let observe = |found: Progress<'_>| match found {
        Progress::Failure {
            scenario,
            failure,
            index,
            runs,
        } => {
            out!(
                "explore: FAILED at scenario {index} after {runs} runs (seed {seed}), \
                 before shrinking ({} processes, {} ops):",
                scenario.processes.len(),
                scenario.ops()
            );
            emit(&scenario.describe());
            out!("why:");
            for line in failure.message().lines() {
                out!("  {line}");
            }
            match save(&json, &svg, scenario, failure) {
                Ok(()) => out!("saved before shrinking; {replay_line}"),
                Err(e) => out!("could not save the scenario: {e}"),
            }
            if a.shrink_time > 0 {
                out!(
                    "explore: shrinking (up to {} s, --shrink-time)",
                    a.shrink_time
                );
            }
        }
        Progress::Generated { .. } => {}
        Progress::Smaller { scenario, failure } => {
            if let Err(e) = save(&json, &svg, scenario, failure) {
                out!("could not save the scenario: {e}");
            }
        }
    };
    let report = explore_with(&cfg, &session, &observe);
    if report.over_budget > 0 {
        out!(
            "explore: the time budget ran out; {} of {cases} scenarios were not run",
            report.over_budget
        );
    }
    for r in &report.refused {
        out!("refused geometry: {r}");
    }
    let Some((scn, failure)) = report.failure else {
        out!(
            "explore: {cases} scenarios passed ({} runs, seed {seed})",
            report.runs
        );
        return Exit::Conforming;
    };
    let saved = save(&json, &svg, &scn, &failure);
    let lanes = scn.processes.len();
    if let Some(s) = &report.shrink {
        let how = if s.finished {
            "finished".to_owned()
        } else {
            format!("cut by the {} s budget (--shrink-time)", s.budget.as_secs())
        };
        out!(
            "explore: shrinking {how} after {:.1} s and {} runs (a candidate was hung after {} ms \
             plus its waits)",
            s.elapsed.as_secs_f64(),
            s.runs,
            s.hang_deadline.as_millis()
        );
    }
    out!(
        "explore: FAILED after {} runs (seed {seed}); minimal scenario ({} processes, {} ops):",
        report.runs,
        lanes,
        scn.ops()
    );
    emit(&scn.describe());
    out!("why:");
    for line in failure.message().lines() {
        out!("  {line}");
    }
    match saved {
        Ok(()) => out!("{replay_line}"),
        Err(e) => out!("could not save the scenario: {e}"),
    }
    out!("timeline: {}", svg.display());
    Exit::NotConforming
}

/// Writes `scn` to `json` (through a temporary file, so that the file is
/// always a whole scenario) and its timeline to `svg`.
fn save(
    json: &Path,
    svg: &Path,
    scn: &ProcessScenario,
    failure: &ScenarioFailure,
) -> Result<(), String> {
    let text = serde_json::to_string_pretty(scn).map_err(|e| e.to_string())?;
    let tmp = json.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, json))
        .map_err(|e| format!("{}: {e}", json.display()))?;
    write_timeline(svg, failure, scn.processes.len());
    Ok(())
}

/// Writes the SVG timeline of a failure to `path`, saying so if it cannot.
pub fn write_timeline(path: &Path, f: &ScenarioFailure, lanes: usize) {
    let svg = timeline_svg(&f.history, &f.offending, lanes, &f.unanswered, &f.kills);
    if let Err(e) = std::fs::write(path, svg) {
        eprintln!("ringcheck: cannot write {}: {e}", path.display());
    }
}
