//! The command line: the arguments of every command, declared once, and
//! the exit codes. One module per command.

/// `println!` that ignores a closed stdout (`ringcheck list | head`):
/// the reader has gone, and there is nobody left to tell.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` of a whole text, ignoring a closed stdout as [`out!`] does.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

pub mod explore;
pub mod list;
pub mod replay;
pub mod run;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Exit codes, the same for every command.
const EXIT_CODES: &str = "Exit codes: 0 conforming (or nothing wrong found), 1 not conforming \
(or a failing scenario), 2 usage error or a driver that cannot be started, 3 unchecked (a \
criterion for every driver fits no geometry the driver offers), 130 interrupted \
(drivers killed and the run's segments removed first).";

/// Conformance checks for ring buffers.
#[derive(Parser)]
#[command(name = "ringcheck", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Check a ring implementation (by default the built-in shmring).
    #[command(after_help = concat!(
        "Example: ringcheck run --driver \"python3 drivers/python/driver.py\" --only crash\n\n",
        "Exit codes: 0 conforming, 1 not conforming, 2 usage error or a driver that cannot be started."
    ))]
    Run(run::RunArgs),
    /// Run generated scenarios of real producer and consumer processes
    /// (property-based), shrinking any failure to a minimal scenario.
    #[command(after_help = concat!(
        "Example: ringcheck explore --cases 200 --seed 7\n\n",
        "Exit codes: 0 every scenario passed, 1 a scenario failed (written to --out), 2 usage error or a driver that cannot be started."
    ))]
    Explore(explore::ExploreArgs),
    /// Run a failing scenario again: a file written by `explore`, or the
    /// scenarios of an explore seed (generated and shrunk again).
    #[command(after_help = concat!(
        "Example: ringcheck replay ringcheck-explore-7.json --times 20\n\n",
        "Exit codes: 0 every run passed, 1 a run failed, 2 usage error or a driver that cannot be started."
    ))]
    Replay(replay::ReplayArgs),
    /// List the criteria and their cases.
    #[command(after_help = "Example: ringcheck list --format json\n\nExit codes: 0.")]
    List {
        /// `text` for people; `json`: the spec, with the shape of
        /// `ring.toml` (`criterion` and `case` lists).
        #[arg(long, value_enum, default_value_t = list::ListFormat::Text)]
        format: list::ListFormat,
    },
    /// Print one criterion's statement and cases.
    #[command(after_help = concat!(
        "Example: ringcheck explain concurrency\n\n",
        "Exit codes: 0, or 2 for an unknown id."
    ))]
    Explain {
        /// Criterion or case id.
        id: String,
    },
}

/// How `ringcheck` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: conforming, or nothing wrong found.
    Conforming = 0,
    /// 1: not conforming, or a failing scenario.
    NotConforming = 1,
    /// 2: a usage error, or a driver that cannot be started at all.
    Usage = 2,
    /// 3: nothing failed, but a criterion that applies to every driver was
    /// checked at no geometry the driver offers.
    Unchecked = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// Prints `msg` as a usage error and returns [`Exit::Usage`].
pub fn usage(msg: &str) -> Exit {
    eprintln!("ringcheck: {msg}");
    Exit::Usage
}

/// The driver to check and its deadline, shared by every command that
/// talks to one.
#[derive(Args, Debug, Clone)]
pub struct DriverArgs {
    /// Driver command, split like a POSIX shell and run without one
    /// (default: the built-in shmring's `shmring-driver`, beside this
    /// binary or on PATH).
    #[arg(long)]
    pub driver: Option<String>,
    /// Per-request deadline, ms (an op's own wait comes on top).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub deadline: u64,
    /// Longest response line a driver may write, bytes; a longer one fails
    /// its case as malformed (the harness never holds more of it).
    #[arg(long, default_value_t = ringcheck::client::MAX_LINE as u64,
          value_parser = clap::value_parser!(u64).range(64..=(1u64 << 32)))]
    pub max_line: u64,
}

/// Name of the built-in ring's driver binary.
const BUILTIN_DRIVER: &str = "shmring-driver";

impl DriverArgs {
    /// The driver argv: `--driver` split like a shell, or the built-in
    /// driver found beside this binary or on PATH.
    ///
    /// # Errors
    /// A usage error: an empty or unbalanced `--driver`, or no built-in
    /// driver to be found.
    pub fn argv(&self) -> Result<Vec<String>, Exit> {
        match &self.driver {
            Some(cmd) => match shell_words::split(cmd) {
                Ok(argv) if !argv.is_empty() => Ok(argv),
                Ok(_) => Err(usage("--driver is empty")),
                Err(e) => Err(usage(&format!("--driver: {e}"))),
            },
            None => builtin_driver().map(|p| vec![p.to_string_lossy().into_owned()]),
        }
    }

    /// The per-request deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline)
    }
}

/// `shmring-driver` beside this executable, else the first on PATH.
fn builtin_driver() -> Result<PathBuf, Exit> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(BUILTIN_DRIVER)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(BUILTIN_DRIVER));
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            usage(&format!(
                "the built-in driver `{BUILTIN_DRIVER}` is neither beside ringcheck nor on PATH: \
                 build it (`cargo build --release -p {BUILTIN_DRIVER}`), install it \
                 (`cargo install --path drivers/shmring`), or pass --driver"
            ))
        })
}

/// The number of scenarios: `--cases`, else `PROPTEST_CASES`, else 100.
pub fn explore_cases(flag: Option<u32>) -> u32 {
    flag.unwrap_or_else(|| ringcheck_models::env_or("PROPTEST_CASES", 100))
}
