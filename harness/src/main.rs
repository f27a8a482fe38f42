//! `ringcheck`: check a ring implementation against the ring spec.
//!
//! Exit codes ([`cli::Exit`]): 0 conforming, 1 not conforming, 2 usage
//! error or a driver that cannot be started at all; 130 interrupted (every
//! driver killed and the run's segments removed first).

mod cli;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // Ctrl-C or SIGTERM mid-run: no driver and no segment of the run stays.
    if let Err(e) = ringcheck::session::install_interrupt_cleanup() {
        eprintln!("ringcheck: cannot handle interrupts ({e}); an interrupted run may leave drivers behind");
    }
    let exit = match args.command {
        cli::Command::Run(a) => cli::run::main(a),
        cli::Command::Explore(a) => cli::explore::main(a),
        cli::Command::Replay(a) => cli::replay::main(a),
        cli::Command::List { format } => cli::list::main(format),
        cli::Command::Explain { id } => cli::list::explain(&id),
    };
    exit.into()
}
