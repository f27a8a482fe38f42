//! `ringcheck run`: the conformance run.

use super::{usage, DriverArgs, Exit};
use clap::{Args, ValueEnum};
use ringcheck::report::{render, Format};
use ringcheck::run::{run, RunConfig};
use ringcheck::spec::Spec;
use std::io::IsTerminal as _;
use std::path::PathBuf;

/// Arguments of `ringcheck run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    driver: DriverArgs,
    /// Run only this criterion or case (repeatable).
    #[arg(long = "only", value_name = "ID")]
    only: Vec<String>,
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

/// Runs the selected cases and reports them.
pub fn main(a: RunArgs) -> Exit {
    let driver = match a.driver.argv() {
        Ok(d) => d,
        Err(e) => return e,
    };
    let spec = Spec::load();
    let cfg = RunConfig {
        driver,
        only: a.only,
        seed: a.seed,
        deadline: a.driver.deadline(),
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
        None => print!("{text}"),
    }
    if let Some(path) = &a.junit {
        if let Err(e) = std::fs::write(path, render(Format::Junit, &report, &spec)) {
            return usage(&format!("cannot write {}: {e}", path.display()));
        }
    }
    if report.conforming {
        Exit::Conforming
    } else {
        Exit::NotConforming
    }
}
