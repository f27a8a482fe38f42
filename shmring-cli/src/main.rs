//! `shmring`: create, feed, drain, inspect and remove shared-memory rings
//! from the shell. `produce` and `consume` carry framed streams
//! (`specs/stream-framing.md`): a header, the data, and a trailer with
//! the byte count and an xxh3 checksum that `consume` verifies.
//!
//! Exit codes: 0 success, 1 runtime error (the message names the ring and
//! the cause), 2 usage, 3 a stream that failed verification.

mod consume;
mod error;
mod frame;
mod produce;

use clap::{CommandFactory, Parser, Subcommand};
use error::{human, Cause, Failure};
use frame::StreamId;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shmring::{
    Config, SharedBuffer, Stats, MAX_CAPACITY, MAX_ITEM_SIZE, MAX_SEGMENT_SIZE, OS_PREFIX,
};
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  runtime error (the message names the ring and the cause)
  2  usage error (bad arguments, an impossible geometry)
  3  a stream that failed verification (producer died or restarted, items
     missing, checksum mismatch)";

#[derive(Parser)]
#[command(
    name = "shmring",
    version,
    about = "Robust ring buffers in named shared memory",
    after_help = top_help(),
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Also open rings owned by this uid (by default a ring owned by
    /// another user than the effective one is refused).
    #[arg(long, global = true, value_name = "UID")]
    trust_uid: Option<u32>,
}

/// The top level's help epilogue: exit codes and a session.
fn top_help() -> String {
    format!(
        "{EXIT_CODES}\n\nExample:\n  shmring create jobs --capacity 256 --item-size 65536\n  \
         shmring consume jobs --output copy.bin &\n  shmring produce jobs --input data.bin\n  \
         shmring rm jobs"
    )
}

/// A subcommand's help epilogue: `example`, then the exit codes.
fn help(example: &str) -> String {
    format!("Example:\n  {example}\n\n{EXIT_CODES}")
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a ring that persists until `shmring rm NAME`.
    #[command(after_help = help("shmring create jobs --capacity 256 --item-size 65536 --mode 640"))]
    Create {
        /// Ring name: 1 to 200 bytes of [A-Za-z0-9._-].
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// Slots, items.
        #[arg(long, default_value_t = 10)]
        capacity: u64,
        /// Largest item, bytes.
        #[arg(long, default_value_t = 64)]
        item_size: u64,
        /// Permission bits of the segment, octal.
        #[arg(long, default_value = "600", value_parser = parse_mode)]
        mode: u32,
        /// One producer and one consumer at a time, each holding its role
        /// (the ring's lock for its side) until it closes: no lock on the
        /// data path. Another producer or consumer is refused while the
        /// holder lives.
        #[arg(long)]
        single_roles: bool,
    },
    /// Stream a file (or stdin) into the ring as one framed stream: a
    /// header, items of up to item_size bytes (waiting when full), a
    /// trailer with the byte count and checksum.
    #[command(after_help = help("shmring produce jobs --input data.bin    (or: tar c dir | shmring produce jobs)"))]
    Produce {
        /// Ring name.
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// Input file; stdin if absent.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Give up after the ring stayed full this many seconds.
        #[arg(long, default_value_t = 60)]
        idle_timeout: u64,
        /// No summary line.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write a framed stream from the ring to a file (or stdout), verify
    /// its trailer, and exit; with --follow, stream after stream. A stream
    /// whose producer died (noticed within about 150 ms of the ring running empty) or was
    /// restarted, with missing items, or whose checksum differs, fails
    /// with exit code 3.
    #[command(after_help = help("shmring consume jobs --output copy.bin    (or: shmring consume jobs --follow --output 'part-%n.bin')"))]
    Consume {
        /// Ring name.
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// Output file; stdout if absent. A regular file is written as
        /// OUTPUT.partial and renamed to OUTPUT once the stream verified.
        /// `%n` in it stands for the stream's number (1, 2, ...), which
        /// --follow with a file needs.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Give up after the ring stayed empty this many seconds inside a
        /// stream (and, without --follow, before it).
        #[arg(long, default_value_t = 60)]
        idle_timeout: u64,
        /// Consume one stream after another, until interrupted or
        /// --max-streams.
        #[arg(long)]
        follow: bool,
        /// With --follow, stop after this many streams.
        #[arg(long, requires = "follow", value_name = "N")]
        max_streams: Option<u64>,
        /// What becomes of a failed stream's output file.
        #[arg(long, value_enum, default_value = "keep")]
        partial: consume::Partial,
        /// No summary lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Show a ring's geometry, fill, counters and creator.
    #[command(after_help = help("shmring stat jobs"))]
    Stat {
        /// Ring name.
        #[arg(allow_hyphen_values = true)]
        name: String,
    },
    /// List the rings in /dev/shm, flagging those whose creator is dead.
    #[command(after_help = help("shmring ls"))]
    Ls,
    /// Remove a ring's name (attached processes keep their mapping).
    #[command(after_help = help("shmring rm jobs    (a name beginning with '-' needs no '--': shmring rm -old)"))]
    Rm {
        /// Ring name.
        #[arg(allow_hyphen_values = true)]
        name: String,
    },
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{s:?} is not an octal mode in 000..=777"))
}

/// The limits of a ring's geometry, in the one wording every geometry
/// error ends with.
fn geometry_limits() -> String {
    format!(
        "a ring holds 1..={MAX_CAPACITY} items of 1..={MAX_ITEM_SIZE} bytes, \
         in a segment of at most {MAX_SEGMENT_SIZE} bytes ({})",
        human(MAX_SEGMENT_SIZE)
    )
}

/// Checks a geometry given on the command line against shmring's limits.
fn check_geometry(capacity: u64, item_size: u64) -> Result<(u32, u32), String> {
    // The library's checks and wording; only values past u32, which it
    // cannot be given, are worded here, the same way.
    let reason = match (u32::try_from(capacity), u32::try_from(item_size)) {
        (Ok(c), Ok(s)) => match shmring::Geometry::new(c, s) {
            Ok(_) => return Ok((c, s)),
            Err(shmring::Error::InvalidConfig { reason }) => reason,
            Err(e) => e.to_string(),
        },
        (Err(_), _) => format!("capacity {capacity} is outside 1..={MAX_CAPACITY} items"),
        (_, Err(_)) => format!("item size {item_size} is outside 1..={MAX_ITEM_SIZE} bytes"),
    };
    Err(format!("invalid geometry: {reason}; {}", geometry_limits()))
}

/// Exits with a usage error (code 2) of subcommand `sub` saying `msg`.
fn usage_error(sub: &str, msg: String) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let cmd = cli.find_subcommand_mut(sub).expect("a subcommand");
    cmd.error(clap::error::ErrorKind::ValueValidation, msg)
        .exit()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let trust = cli.trust_uid;
    let result = match cli.cmd {
        Cmd::Create {
            name,
            capacity,
            item_size,
            mode,
            single_roles,
        } => {
            let (capacity, item_size) =
                check_geometry(capacity, item_size).unwrap_or_else(|m| usage_error("create", m));
            create(&name, capacity, item_size, mode, single_roles)
        }
        Cmd::Produce {
            name,
            input,
            idle_timeout,
            quiet,
        } => produce::produce(
            &name,
            input,
            Duration::from_secs(idle_timeout),
            trust,
            quiet,
        ),
        Cmd::Consume {
            name,
            output,
            idle_timeout,
            follow,
            max_streams,
            partial,
            quiet,
        } => {
            if let Some(p) = &output {
                let numbered = p.to_string_lossy().contains(consume::STREAM_NUMBER);
                let regular = std::fs::metadata(p).map_or(true, |m| m.is_file());
                if follow && regular && !numbered {
                    usage_error(
                        "consume",
                        format!(
                            "--follow with --output {} would write every stream to one file: \
                         put {} in the path for the stream's number",
                            p.display(),
                            consume::STREAM_NUMBER
                        ),
                    );
                }
            }
            let opts = consume::Options {
                output,
                idle: Duration::from_secs(idle_timeout),
                follow,
                max_streams,
                partial,
                quiet,
            };
            consume::consume(&name, opts, trust)
        }
        Cmd::Stat { name } => stat(&name, trust),
        Cmd::Ls => ls(trust),
        Cmd::Rm { name } => SharedBuffer::remove(&name).map_err(|e| Failure::of(&name, e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("shmring: {f}");
            ExitCode::from(f.exit_code())
        }
    }
}

/// The one-line summary of a stream: bytes, items, seconds, MB/s.
pub(crate) fn summary(verb: &str, id: StreamId, bytes: u64, items: u64, took: Duration) -> String {
    let secs = took.as_secs_f64();
    let rate = if secs > 0.0 {
        bytes as f64 / secs / 1e6
    } else {
        0.0
    };
    format!(
        "shmring: {verb} stream {id}: {bytes} bytes ({}) in {items} items, {secs:.3} s, {rate:.1} MB/s",
        human(bytes)
    )
}

fn create(
    name: &str,
    capacity: u32,
    item_size: u32,
    mode: u32,
    single_roles: bool,
) -> Result<(), Failure> {
    let config = Config::new(capacity, item_size).mode(mode).persist(true);
    let config = if single_roles {
        config.single_roles()
    } else {
        config
    };
    let ring = SharedBuffer::create(name, config).map_err(|e| match e {
        shmring::Error::NoSpace { needed, dir } => Failure::of(
            name,
            Cause::NoSpace {
                ring: name.to_owned(),
                needed,
                dir,
                free: free_bytes(dir),
            },
        ),
        e => Failure::of(name, e),
    })?;
    eprintln!(
        "created ring '{name}': {} items of up to {} bytes (remove with `shmring rm {name}`)",
        ring.capacity(),
        ring.item_size()
    );
    Ok(())
}

/// Free bytes of the filesystem at `dir`, for unprivileged users.
fn free_bytes(dir: &str) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

pub(crate) fn progress(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = if total.is_some() {
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(s) = ProgressStyle::with_template(style) {
        bar.set_style(s);
    }
    bar
}

/// Opens ring `name`, trusting its owner if it is `trust` (`--trust-uid`).
pub(crate) fn open(name: &str, trust: Option<u32>) -> Result<SharedBuffer, shmring::Error> {
    open_with_lock_timeout(name, trust, Config::default().lock_timeout)
}

/// [`open`] with a lock timeout of `lock_timeout`.
fn open_with_lock_timeout(
    name: &str,
    trust: Option<u32>,
    lock_timeout: Duration,
) -> Result<SharedBuffer, shmring::Error> {
    let mut config = Config::default().lock_timeout(lock_timeout);
    config.trusted_uid = trust;
    SharedBuffer::open_with_config(name, &config)
}

/// Whether the creator lives, and what its exit meant for the ring.
fn creator_state(s: &Stats) -> &'static str {
    match (s.creator_alive(), s.persist) {
        (true, _) => "alive",
        (false, true) => "exited, ring persists",
        (false, false) => "DEAD, ring leaked",
    }
}

fn stat(name: &str, trust: Option<u32>) -> Result<(), Failure> {
    let ring = open(name, trust).map_err(|e| Failure::of(name, e))?;
    let s = ring.stats().map_err(|e| Failure::of(name, e))?;
    println!("ring            {name}");
    println!(
        "segment         /dev/shm/{OS_PREFIX}{name} ({} bytes)",
        s.segment_size
    );
    println!(
        "geometry        {} items x {} bytes",
        s.capacity, s.item_size
    );
    println!("fill            {} / {} items", s.len, s.capacity);
    println!("puts            {}", s.puts);
    println!("gets            {}", s.gets);
    println!("full refusals   {}", s.full_refusals);
    println!("empty gets      {}", s.empty_gets);
    println!("corrupt items   {}", s.corrupt_items);
    println!(
        "lock recoveries {}{}",
        s.lock_recoveries,
        if s.last_recovery_pid != 0 {
            format!(" (last by pid {})", s.last_recovery_pid)
        } else {
            String::new()
        }
    );
    println!(
        "sleeps          {} ({} woken late)",
        s.sleeps, s.late_wakeups
    );
    println!(
        "waiting         {} consumers, {} producers",
        s.waiting_consumers, s.waiting_producers
    );
    println!("persist         {}", if s.persist { "yes" } else { "no" });
    println!(
        "roles           {}",
        match (s.single_producer, s.single_consumer) {
            (true, true) => "one producer and one consumer at a time",
            (true, false) => "one producer at a time, any consumers",
            (false, true) => "any producers, one consumer at a time",
            (false, false) => "any producers and consumers",
        }
    );
    println!(
        "creator         pid {}, {}",
        s.creator_pid,
        creator_state(&s)
    );
    Ok(())
}

fn ls(trust: Option<u32>) -> Result<(), Failure> {
    let dir = std::fs::read_dir("/dev/shm").map_err(|e| Failure {
        ring: None,
        cause: Cause::List(e),
        note: None,
    })?;
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter_map(|f| f.strip_prefix(OS_PREFIX).map(str::to_owned))
        .collect();
    names.sort();
    println!(
        "{:<32} {:>9} {:>10} {:>9}  creator",
        "NAME", "CAPACITY", "ITEM_SIZE", "FILL"
    );
    for name in names {
        match open_with_lock_timeout(&name, trust, Duration::from_secs(1)).and_then(|r| r.stats()) {
            Ok(s) => println!(
                "{:<32} {:>9} {:>10} {:>9}  pid {}, {}",
                name,
                s.capacity,
                s.item_size,
                s.len,
                s.creator_pid,
                creator_state(&s)
            ),
            Err(e) => println!("{name:<32} unreadable: {e}"),
        }
    }
    Ok(())
}
