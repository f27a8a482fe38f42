//! `ringcheck run`: the conformance run.

use super::{emit, usage, DriverArgs, Exit};
use clap::{Args, ValueEnum};
use ringcheck::protocol::Feature;
use ringcheck::report::{render, Format};
use ringcheck::run::{run, RunConfig, RunVerdict};
use ringcheck::select::{Partition, Pattern, Selection};
use ringcheck::spec::Spec;
use std::io::IsTerminal as _;
use std::path::PathBuf;

/// Arguments of `ringcheck run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    driver: DriverArgs,
    /// Run only the cases matching these globs, comma-separated, over case
    /// and criterion ids (repeatable): `--only 'crash,fifo.*'`.
    #[arg(long = "only", value_name = "GLOBS")]
    only: Vec<Pattern>,
    /// Leave out the cases matching these globs (repeatable).
    #[arg(long = "exclude", value_name = "GLOBS")]
    exclude: Vec<Pattern>,
    /// Run one shard of the selection: `count:K/N` (round robin in spec
    /// order) or `hash:K/N` (by case id), as nextest's `--partition`.
    #[arg(long, value_name = "count:K/N|hash:K/N")]
    partition: Option<Partition>,
    /// The driver must declare this feature, else the run is not
    /// conforming (repeatable).
    #[arg(long = "require", value_name = "FEATURE", value_parser = parse_feature)]
    require: Vec<Feature>,
    /// A skipped case makes the run not conforming.
    #[arg(long)]
    strict: bool,
    /// Cases run side by side (the timing-sensitive criteria stay one at a
    /// time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Seed of every random choice (printed in each reproduction).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Write the report here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Also write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
}

/// `--format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Junit,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Junit => Format::Junit,
        }
    }
}

/// A feature name of the protocol.
fn parse_feature(s: &str) -> Result<Feature, String> {
    Feature::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Feature::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown feature {s:?} (one of {})", all.join(", "))
    })
}

/// Runs the selected cases and reports them.
pub fn main(a: RunArgs) -> Exit {
    let driver = match a.driver.argv() {
        Ok(d) => d,
        Err(e) => return e,
    };
    let spec = Spec::load();
    let cfg = RunConfig {
        driver,
        selection: Selection {
            only: a.only,
            exclude: a.exclude,
            partition: a.partition,
        },
        require: a.require,
        strict: a.strict,
        jobs: usize::from(a.jobs),
        seed: a.seed,
        deadline: a.driver.deadline(),
        max_line: a.driver.max_line as usize,
        progress: std::io::stderr().is_terminal(),
    };
    let report = match run(&cfg, &spec) {
        Ok(r) => r,
        Err(e) => return usage(&e.to_string()),
    };
    let text = render(a.format.into(), &report, &spec);
    match &a.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                return usage(&format!("cannot write {}: {e}", path.display()));
            }
        }
        None => emit(&text),
    }
    if let Some(path) = &a.junit {
        if let Err(e) = std::fs::write(path, render(Format::Junit, &report, &spec)) {
            return usage(&format!("cannot write {}: {e}", path.display()));
        }
    }
    match report.verdict {
        RunVerdict::Conforming => Exit::Conforming,
        RunVerdict::NotConforming => Exit::NotConforming,
        RunVerdict::Unchecked => Exit::Unchecked,
    }
}
