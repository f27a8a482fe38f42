//! `ringcheck`: check a ring implementation against the ring spec.
//!
//! Exit codes: 0 conforming, 1 not conforming, 2 usage error or a driver
//! that cannot be started at all.

use clap::{Parser, Subcommand, ValueEnum};
use ringcheck::run::{run, RunConfig};
use ringcheck::spec::{Kind, Spec};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ringcheck",
    version,
    about = "Conformance checks for ring buffers"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a ring implementation (by default the built-in shmring).
    Run {
        /// Driver command, split like a POSIX shell and run without one.
        #[arg(long)]
        driver: Option<String>,
        /// Run only this criterion or case (repeatable).
        #[arg(long = "only", value_name = "ID")]
        only: Vec<String>,
        /// Seed of every random choice (printed in each reproduction).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Per-request deadline, ms (waits get their own timeout on top).
        #[arg(long, default_value_t = 10_000)]
        deadline: u64,
        /// Report format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write a JUnit XML report here.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Run generated scenarios of real producer and consumer processes
    /// (property-based), shrinking any failure to a minimal scenario.
    Explore {
        /// Driver command (default: the built-in shmring).
        #[arg(long)]
        driver: Option<String>,
        /// Scenarios to generate (default: PROPTEST_CASES, else 100).
        #[arg(long)]
        cases: Option<u32>,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Per-request deadline, ms.
        #[arg(long, default_value_t = 10_000)]
        deadline: u64,
        /// Longest op list per process.
        #[arg(long, default_value_t = 40)]
        max_ops: usize,
        /// Where to write a failing scenario (JSON) and its timeline (SVG).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Run a failing scenario again: a file written by `explore`, or an
    /// explore seed (the same scenarios are generated again, and shrunk).
    Replay {
        /// The scenario file written by `explore`, or a seed.
        file: PathBuf,
        /// Driver command (default: the built-in shmring).
        #[arg(long)]
        driver: Option<String>,
        /// Runs (a concurrent failure may need several).
        #[arg(long, default_value_t = 1)]
        times: u32,
        /// Per-request deadline, ms.
        #[arg(long, default_value_t = 10_000)]
        deadline: u64,
    },
    /// List the criteria and their cases.
    List,
    /// Print one criterion's statement and cases.
    Explain {
        /// Criterion or case id.
        id: String,
    },
    /// List the deliberately faulty rings of the self-test set.
    Faults,
    /// Serve the built-in shmring over the driver protocol on stdin/stdout.
    Driver {
        /// Serve one of the deliberately faulty rings of the self-test set
        /// instead (see `ringcheck faults`).
        #[arg(long, value_name = "NAME")]
        faulty: Option<String>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::Explore {
            driver,
            cases,
            seed,
            deadline,
            max_ops,
            out,
        } => {
            let driver = match driver_argv(driver) {
                Ok(d) => d,
                Err(code) => return code,
            };
            let cases = explore_cases(cases);
            explore(
                driver,
                cases,
                seed,
                Duration::from_millis(deadline),
                max_ops,
                &out,
            )
        }
        Cmd::Replay {
            file,
            driver,
            times,
            deadline,
        } => {
            let driver = match driver_argv(driver) {
                Ok(d) => d,
                Err(code) => return code,
            };
            let seed = file.to_str().and_then(|s| s.parse::<u64>().ok());
            match seed {
                Some(seed) if !file.exists() => {
                    let cases = explore_cases(None);
                    explore(
                        driver,
                        cases,
                        seed,
                        Duration::from_millis(deadline),
                        40,
                        std::path::Path::new("."),
                    )
                }
                _ => replay(&file, driver, times, Duration::from_millis(deadline)),
            }
        }
        Cmd::Run {
            driver,
            only,
            seed,
            deadline,
            format,
            junit,
        } => {
            let driver = match driver_argv(driver) {
                Ok(d) => d,
                Err(code) => return code,
            };
            let cfg = RunConfig {
                driver,
                only,
                seed,
                deadline: Duration::from_millis(deadline),
                progress: std::io::stderr().is_terminal(),
            };
            let report = match run(&cfg) {
                Ok(r) => r,
                Err(e) => return usage(&e.to_string()),
            };
            match format {
                Format::Text => print!("{}", ringcheck::report::text(&report)),
                Format::Json => println!("{}", ringcheck::report::json(&report)),
            }
            if let Some(path) = junit {
                if let Err(e) = std::fs::write(&path, ringcheck::report::junit(&report)) {
                    eprintln!("ringcheck: cannot write {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
            ExitCode::from(if report.conforming { 0 } else { 1 })
        }
        Cmd::List => {
            print!("{}", list());
            ExitCode::SUCCESS
        }
        Cmd::Explain { id } => match explain(&id) {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => usage(&format!(
                "no criterion or case {id:?} (see `ringcheck list`)"
            )),
        },
        Cmd::Faults => {
            for (name, criterion, what) in ringcheck::faulty::FAULTS {
                let c = if criterion.is_empty() {
                    "(conforming)"
                } else {
                    criterion
                };
                println!("{name:<22} {c:<18} {what}");
            }
            ExitCode::SUCCESS
        }
        Cmd::Driver { faulty: None } => {
            ringcheck::driver::serve_stdio(&ringcheck::shmring_driver::Shmring)
        }
        Cmd::Driver { faulty: Some(name) } => {
            ringcheck::faulty::serve(&name).unwrap_or_else(|| {
                eprintln!("ringcheck: no faulty ring named {name:?} (see `ringcheck faults`)");
                ExitCode::from(2)
            })
        }
    }
}

/// Scenarios to explore: `--cases`, else `PROPTEST_CASES`, else 100.
fn explore_cases(flag: Option<u32>) -> u32 {
    flag.unwrap_or_else(|| ringcheck_models::env_or("PROPTEST_CASES", 100))
}

/// The driver argv: `--driver` split like a shell, or this binary's
/// `driver` subcommand.
fn driver_argv(driver: Option<String>) -> Result<Vec<String>, ExitCode> {
    match driver {
        Some(cmd) => match shell_words::split(&cmd) {
            Ok(argv) if !argv.is_empty() => Ok(argv),
            Ok(_) => Err(usage("--driver is empty")),
            Err(e) => Err(usage(&format!("--driver: {e}"))),
        },
        None => match std::env::current_exe() {
            Ok(exe) => Ok(vec![exe.to_string_lossy().into_owned(), "driver".into()]),
            Err(e) => Err(usage(&format!("cannot locate ringcheck itself: {e}"))),
        },
    }
}

fn explore(
    driver: Vec<String>,
    cases: u32,
    seed: u64,
    deadline: Duration,
    max_ops: usize,
    out: &std::path::Path,
) -> ExitCode {
    use ringcheck::explore::{explore, timeline_svg, ExploreConfig};
    let features = match ringcheck::run::hello(&driver, deadline) {
        Ok((_, f)) => f,
        Err(e) => return usage(&e.to_string()),
    };
    if !features.contains(&ringcheck::protocol::Feature::Batch) {
        return usage("explore needs a driver with the batch feature");
    }
    let cfg = ExploreConfig {
        driver: driver.clone(),
        cases,
        seed,
        deadline,
        max_ops,
        max_shrink_iters: 200,
    };
    let report = explore(&cfg, &features);
    for r in &report.refused {
        println!("refused geometry: {r}");
    }
    let Some((scn, failure)) = report.failure else {
        println!(
            "explore: {cases} scenarios passed ({} runs, seed {seed})",
            report.runs
        );
        return ExitCode::SUCCESS;
    };
    let base = out.join(format!("ringcheck-explore-{seed}"));
    let json = base.with_extension("json");
    let svg = base.with_extension("svg");
    let saved = serde_json::to_string_pretty(&scn)
        .map_err(|e| e.to_string())
        .and_then(|t| std::fs::write(&json, t).map_err(|e| e.to_string()));
    let lanes = scn.processes.len();
    let _ = std::fs::write(
        &svg,
        timeline_svg(&failure.history, &failure.offending, lanes),
    );
    println!(
        "explore: FAILED after {} runs (seed {seed}); minimal scenario ({} processes, {} ops):",
        report.runs,
        lanes,
        scn.ops()
    );
    print!("{}", scn.describe());
    println!("why:");
    for line in failure.message.lines() {
        println!("  {line}");
    }
    match saved {
        Ok(()) => println!(
            "replay: ringcheck replay {} --driver {}",
            json.display(),
            shell_words::quote(&shell_words::join(&driver))
        ),
        Err(e) => println!("could not save the scenario: {e}"),
    }
    println!("timeline: {}", svg.display());
    ExitCode::from(1)
}

fn replay(file: &std::path::Path, driver: Vec<String>, times: u32, deadline: Duration) -> ExitCode {
    use ringcheck::explore::{execute, timeline_svg, Outcome, Scenario};
    let scn: Scenario = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => return usage(&format!("{}: {e}", file.display())),
    };
    print!("{}", scn.describe());
    for n in 0..times.max(1) {
        let ring = format!("rr{}-{n}", std::process::id());
        match execute(&scn, &driver, deadline, &ring) {
            Outcome::Pass => println!("run {}: pass", n + 1),
            Outcome::Refused(why) => {
                println!("run {}: the driver refused the geometry: {why}", n + 1);
                return ExitCode::from(2);
            }
            Outcome::Fail(f) => {
                println!("run {}: FAIL\n  {}", n + 1, f.message.replace('\n', "\n  "));
                let svg = file.with_extension("replay.svg");
                let _ = std::fs::write(
                    &svg,
                    timeline_svg(&f.history, &f.offending, scn.processes.len()),
                );
                println!("timeline: {}", svg.display());
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("ringcheck: {msg}");
    ExitCode::from(2)
}

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Positive => "positive",
        Kind::Negative => "negative",
    }
}

fn features(list: &[ringcheck::protocol::Feature]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = list.iter().map(|f| f.as_str()).collect();
        format!(" [needs {}]", names.join(", "))
    }
}

fn list() -> String {
    let spec = Spec::load();
    let mut out = String::new();
    for c in &spec.criteria {
        out.push_str(&format!(
            "{:<18} {}{}\n",
            c.id,
            c.title,
            features(&c.features)
        ));
        for k in &c.cases {
            out.push_str(&format!(
                "  {:<36} {}{}\n",
                k.id,
                kind(k.kind),
                features(&k.features)
            ));
        }
    }
    out
}

fn explain(id: &str) -> Option<String> {
    let spec = Spec::load();
    let c = spec
        .criteria
        .iter()
        .find(|c| c.id == id || c.cases.iter().any(|k| k.id == id))?;
    let mut out = format!(
        "{} — {}\n\n{}\n\nsource: {}\nrequired: {}{}\n\ncases:\n",
        c.id,
        c.title,
        c.statement,
        c.source,
        if c.required { "yes" } else { "no" },
        features(&c.features)
    );
    for k in &c.cases {
        if k.id == id || c.id == id {
            out.push_str(&format!(
                "  {} ({}){}\n    {}\n",
                k.id,
                kind(k.kind),
                features(&k.features),
                k.checks
            ));
        }
    }
    Some(out)
}
