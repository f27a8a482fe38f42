//! `shmring`: create, feed, drain, inspect and remove shared-memory rings
//! from the shell.
//!
//! Exit codes: 0 success, 1 runtime error (the message names the ring and
//! the cause), 2 usage.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shmring::{Config, SharedBuffer, Stats, OS_PREFIX};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "shmring",
    version,
    about = "Robust ring buffers in named shared memory"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Also open rings owned by this uid (by default a ring owned by
    /// another user than the effective one is refused).
    #[arg(long, global = true, value_name = "UID")]
    trust_uid: Option<u32>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a ring that persists until `shmring rm NAME`.
    Create {
        /// Ring name: 1 to 200 bytes of [A-Za-z0-9._-].
        name: String,
        /// Slots, items.
        #[arg(long, default_value_t = 10)]
        capacity: u32,
        /// Largest item, bytes.
        #[arg(long, default_value_t = 64)]
        item_size: u32,
        /// Permission bits of the segment, octal.
        #[arg(long, default_value = "600", value_parser = parse_mode)]
        mode: u32,
    },
    /// Stream a file (or stdin) into the ring as items of up to item_size
    /// bytes, waiting when full, then an end-of-stream marker (a 0-byte item).
    Produce {
        /// Ring name.
        name: String,
        /// Input file; stdin if absent.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Give up after the ring stayed full this many seconds.
        #[arg(long, default_value_t = 60)]
        idle_timeout: u64,
    },
    /// Write the ring's items to a file (or stdout) until end of stream.
    Consume {
        /// Ring name.
        name: String,
        /// Output file; stdout if absent.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Give up after the ring stayed empty this many seconds.
        #[arg(long, default_value_t = 60)]
        idle_timeout: u64,
    },
    /// Show a ring's geometry, fill, counters and creator.
    Stat {
        /// Ring name.
        name: String,
    },
    /// List the rings in /dev/shm, flagging those whose creator is dead.
    Ls,
    /// Remove a ring's name (attached processes keep their mapping).
    Rm {
        /// Ring name.
        name: String,
    },
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{s:?} is not an octal mode in 000..=777"))
}

/// A runtime failure: which ring, and why.
struct Failure {
    ring: String,
    cause: String,
}

fn fail(ring: &str, cause: impl std::fmt::Display) -> Failure {
    Failure {
        ring: ring.to_owned(),
        cause: cause.to_string(),
    }
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
        } => create(&name, capacity, item_size, mode),
        Cmd::Produce {
            name,
            input,
            idle_timeout,
        } => produce(&name, input, Duration::from_secs(idle_timeout), trust),
        Cmd::Consume {
            name,
            output,
            idle_timeout,
        } => consume(&name, output, Duration::from_secs(idle_timeout), trust),
        Cmd::Stat { name } => stat(&name, trust),
        Cmd::Ls => ls(trust),
        Cmd::Rm { name } => SharedBuffer::remove(&name).map_err(|e| fail(&name, e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if f.cause.contains(&format!("'{}'", f.ring)) {
                eprintln!("shmring: {}", f.cause);
            } else {
                eprintln!("shmring: ring '{}': {}", f.ring, f.cause);
            }
            ExitCode::from(1)
        }
    }
}

fn create(name: &str, capacity: u32, item_size: u32, mode: u32) -> Result<(), Failure> {
    let config = Config::new(capacity, item_size).mode(mode).persist(true);
    let ring = SharedBuffer::create(name, config).map_err(|e| fail(name, e))?;
    eprintln!(
        "created ring '{name}': {} items of up to {} bytes (remove with `shmring rm {name}`)",
        ring.capacity(),
        ring.item_size()
    );
    Ok(())
}

fn progress(total: Option<u64>) -> ProgressBar {
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

/// Fills `buf` from `r` as far as it can; returns the bytes read (short only
/// at end of input).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Opens ring `name` with a lock timeout of `lock_timeout`, trusting its
/// owner if it is `trust` (`--trust-uid`).
fn open(
    name: &str,
    trust: Option<u32>,
    lock_timeout: Duration,
) -> Result<SharedBuffer, shmring::Error> {
    let mut config = Config::default().lock_timeout(lock_timeout);
    config.trusted_uid = trust;
    SharedBuffer::open_with_config(name, &config)
}

fn produce(
    name: &str,
    input: Option<PathBuf>,
    idle: Duration,
    trust: Option<u32>,
) -> Result<(), Failure> {
    let ring = open(name, trust, Config::default().lock_timeout).map_err(|e| fail(name, e))?;
    let (mut reader, total): (Box<dyn Read>, Option<u64>) = match &input {
        Some(p) => {
            let f = File::open(p).map_err(|e| fail(name, format!("{}: {e}", p.display())))?;
            let len = f.metadata().ok().map(|m| m.len());
            (Box::new(io::BufReader::with_capacity(1 << 20, f)), len)
        }
        None => (Box::new(io::stdin().lock()), None),
    };
    let bar = progress(total);
    let mut chunk = vec![0u8; ring.item_size()];
    loop {
        let n = read_full(&mut reader, &mut chunk).map_err(|e| fail(name, format!("read: {e}")))?;
        // Data items are 1..=item_size bytes; the 0-byte item ends the stream.
        put_waiting(&ring, &chunk[..n], idle).map_err(|e| fail(name, e))?;
        if n == 0 {
            break;
        }
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

fn put_waiting(ring: &SharedBuffer, item: &[u8], idle: Duration) -> Result<(), String> {
    if ring.put_timeout(item, idle).map_err(|e| e.to_string())? {
        Ok(())
    } else {
        Err(format!(
            "stayed full for {} s (is a consumer running?)",
            idle.as_secs()
        ))
    }
}

fn consume(
    name: &str,
    output: Option<PathBuf>,
    idle: Duration,
    trust: Option<u32>,
) -> Result<(), Failure> {
    let ring = open(name, trust, Config::default().lock_timeout).map_err(|e| fail(name, e))?;
    let mut out: Box<dyn Write> = match &output {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(p).map_err(|e| fail(name, format!("{}: {e}", p.display())))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let bar = progress(None);
    let mut buf = vec![0u8; ring.item_size()];
    loop {
        match ring.get_into_timeout(&mut buf, idle) {
            Ok(Some(0)) => break,
            Ok(Some(n)) => {
                out.write_all(&buf[..n])
                    .map_err(|e| fail(name, format!("write: {e}")))?;
                bar.inc(n as u64);
            }
            Ok(None) => {
                return Err(fail(
                    name,
                    format!(
                        "stayed empty for {} s before end of stream (is a producer running?)",
                        idle.as_secs()
                    ),
                ))
            }
            Err(e) => return Err(fail(name, e)),
        }
    }
    out.flush().map_err(|e| fail(name, format!("write: {e}")))?;
    bar.finish_and_clear();
    Ok(())
}

fn creator_state(s: &Stats) -> &'static str {
    match (s.creator_alive(), s.persist) {
        (true, _) => "alive",
        (false, true) => "exited (ring persists)",
        (false, false) => "DEAD (ring leaked)",
    }
}

fn stat(name: &str, trust: Option<u32>) -> Result<(), Failure> {
    let ring = open(name, trust, Config::default().lock_timeout).map_err(|e| fail(name, e))?;
    let s = ring.stats().map_err(|e| fail(name, e))?;
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
        "waiting         {} consumers, {} producers",
        s.waiting_consumers, s.waiting_producers
    );
    println!("persist         {}", if s.persist { "yes" } else { "no" });
    println!(
        "creator         pid {} ({})",
        s.creator_pid,
        creator_state(&s)
    );
    Ok(())
}

fn ls(trust: Option<u32>) -> Result<(), Failure> {
    let dir = std::fs::read_dir("/dev/shm").map_err(|e| fail("*", format!("/dev/shm: {e}")))?;
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
        match open(&name, trust, Duration::from_secs(1)).and_then(|r| r.stats()) {
            Ok(s) => println!(
                "{:<32} {:>9} {:>10} {:>9}  pid {} {}",
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
