//! `ringcheck replay`: a failing scenario again, from its file or its
//! explore seed.

use super::explore::{write_timeline, ExploreArgs};
use super::{emit, usage, DriverArgs, Exit};
use clap::Args;
use ringcheck::case::Outcome;
use ringcheck::explore::{execute, ProcessScenario};
use ringcheck::session::Session;
use std::path::PathBuf;

/// Arguments of `ringcheck replay`.
#[derive(Args, Debug)]
#[group(required = true, multiple = false, args = ["file", "seed"])]
pub struct ReplayArgs {
    #[command(flatten)]
    driver: DriverArgs,
    /// The scenario file written by `explore`.
    file: Option<PathBuf>,
    /// Instead of a file: generate and shrink the scenarios of this explore
    /// seed again.
    #[arg(long)]
    seed: Option<u64>,
    /// Runs of the file's scenario (a concurrent failure may need several).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    times: u32,
}

/// Replays a scenario file, or re-explores a seed.
pub fn main(a: ReplayArgs) -> Exit {
    let file = match (a.file, a.seed) {
        (_, Some(seed)) => {
            return super::explore::main(ExploreArgs {
                driver: a.driver,
                cases: None,
                seed,
                max_ops: 40,
                out: PathBuf::from("."),
                time_budget: None,
                shrink_time: ringcheck::explore::DEFAULT_SHRINK_TIME.as_secs(),
                quiet: false,
            })
        }
        (Some(file), None) => file,
        (None, None) => return usage("replay needs a scenario file or --seed"),
    };
    replay_file(&file, &a.driver, a.times)
}

fn replay_file(file: &std::path::Path, driver: &DriverArgs, times: u32) -> Exit {
    let scn: ProcessScenario = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => return usage(&format!("{}: {e}", file.display())),
    };
    let argv = match driver.argv() {
        Ok(d) => d,
        Err(e) => return e,
    };
    let session = match Session::start_with(argv, driver.deadline(), driver.max_line as usize) {
        Ok(s) => s,
        Err(e) => return usage(&e.to_string()),
    };
    emit(&scn.describe());
    for n in 1..=times {
        match execute(&scn, &session) {
            Ok(()) => out!("run {n}: pass"),
            Err(f) if matches!(f.outcome, Outcome::Skip(_) | Outcome::Unfit(_)) => {
                out!("run {n}: {}", f.message());
                return Exit::Usage;
            }
            Err(f) => {
                out!("run {n}: FAIL\n  {}", f.message().replace('\n', "\n  "));
                let svg = file.with_extension("replay.svg");
                write_timeline(&svg, &f, scn.processes.len());
                out!("timeline: {}", svg.display());
                return Exit::NotConforming;
            }
        }
    }
    Exit::Conforming
}
