//! `ringcheck`: check a ring implementation against the ring spec.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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

#[derive(Subcommand)]
enum Cmd {
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
        Cmd::Driver { faulty: None } => {
            ringcheck::driver::serve_stdio(&ringcheck::shmring_driver::Shmring)
        }
        Cmd::Driver { faulty: Some(name) } => {
            ringcheck::faulty::serve(&name).unwrap_or_else(|| {
                eprintln!("ringcheck: no faulty ring named {name:?}");
                ExitCode::from(2)
            })
        }
    }
}
