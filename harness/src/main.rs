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
        Cmd::Run {
            driver,
            only,
            seed,
            deadline,
            format,
            junit,
        } => {
            let driver = match driver {
                Some(cmd) => match shell_words::split(&cmd) {
                    Ok(argv) if !argv.is_empty() => argv,
                    Ok(_) => return usage("--driver is empty"),
                    Err(e) => return usage(&format!("--driver: {e}")),
                },
                None => match std::env::current_exe() {
                    Ok(exe) => vec![exe.to_string_lossy().into_owned(), "driver".into()],
                    Err(e) => return usage(&format!("cannot locate ringcheck itself: {e}")),
                },
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
