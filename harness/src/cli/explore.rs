//! `ringcheck explore`: generated scenarios, shrunk on failure.

use super::{emit, explore_cases, usage, DriverArgs, Exit};
use clap::Args;
use ringcheck::explore::{explore, ExploreConfig, ScenarioFailure};
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
        progress: !a.quiet,
    };
    let report = explore(&cfg, &session);
    if report.over_budget > 0 {
        out!(
            "explore: the time budget ran out; {} of {cases} scenarios were not run",
            report.over_budget
        );
    }
    for r in &report.refused {
        out!("refused geometry: {r}");
    }
    let seed = a.seed;
    let Some((scn, failure)) = report.failure else {
        out!(
            "explore: {cases} scenarios passed ({} runs, seed {seed})",
            report.runs
        );
        return Exit::Conforming;
    };
    let base = a.out.join(format!("ringcheck-explore-{seed}"));
    let json = base.with_extension("json");
    let svg = base.with_extension("svg");
    let saved = serde_json::to_string_pretty(&scn)
        .map_err(|e| e.to_string())
        .and_then(|t| std::fs::write(&json, t).map_err(|e| e.to_string()));
    let lanes = scn.processes.len();
    write_timeline(&svg, &failure, lanes);
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
        Ok(()) => out!(
            "replay: ringcheck replay {} --driver {}",
            json.display(),
            shell_words::quote(&shell_words::join(session.driver()))
        ),
        Err(e) => out!("could not save the scenario: {e}"),
    }
    out!("timeline: {}", svg.display());
    Exit::NotConforming
}

/// Writes the SVG timeline of a failure to `path`, saying so if it cannot.
pub fn write_timeline(path: &Path, f: &ScenarioFailure, lanes: usize) {
    let svg = timeline_svg(&f.history, &f.offending, lanes, &f.unanswered, &f.kills);
    if let Err(e) = std::fs::write(path, svg) {
        eprintln!("ringcheck: cannot write {}: {e}", path.display());
    }
}
