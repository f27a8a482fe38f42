//! `ringcheck`: check a ring implementation against the ring spec.
//!
//! Exit codes ([`cli::Exit`]): 0 conforming, 1 not conforming, 2 usage
//! error or a driver that cannot be started at all.

mod cli;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let exit = match args.command {
        cli::Command::Run(a) => cli::run::main(a),
        cli::Command::Explore(a) => cli::explore::main(a),
        cli::Command::Replay(a) => cli::replay::main(a),
        cli::Command::List { format } => cli::list::main(format),
        cli::Command::Explain { id } => cli::list::explain(&id),
    };
    exit.into()
}
