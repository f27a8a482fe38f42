//! The one process-spawning helper of the bench, used by every
//! cross-process scenario: [`Kid`], a child process (this binary
//! re-executed in a role, or an outside program such as `python3`) whose
//! stdout lines are read on a thread so that every wait has a deadline,
//! killed and reaped when dropped; and [`timed_stream`], the timed run of
//! consumer and producer children shared by shmring, POSIX message queues,
//! the socketpair and the pipe.
//!
//! The protocol on the children's stdin and stdout: a child prints `ready`
//! once its channel is open, waits for `go` on stdin (so that the timed
//! interval starts with every process running), and a producer prints
//! `done` when it has sent its items, a consumer `done` and its tally (see
//! [`crate::items::Tally::report`]).

use crate::items::Tally;
use crate::STALL;
use std::io::{BufRead, BufReader, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const ROLE_VAR: &str = "SHMRING_BENCH_ROLE";

/// The role this process runs, when it is a child of the bench.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

pub fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad {what} {s:?}"))
}

/// Tells the parent the channel is open, then waits for its go, so that the
/// timed interval starts with every process already running.
pub fn ready_then_go() -> Result<(), String> {
    println!("ready");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading go: {e}"))?;
    if line.trim() != "go" {
        return Err(format!("expected go from the parent, got {line:?}"));
    }
    Ok(())
}

/// The descriptor a parent handed down with [`Kid::spawn_with_fd`], from
/// the argument that names it.
pub fn inherited_fd(arg: &str) -> Result<OwnedFd, String> {
    crate::sys::adopt_inherited_fd(parse("descriptor", arg)?)
}

/// A name no other run uses (for rings, queues, files): pid plus a counter.
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("bench-{tag}-{}-{n}", std::process::id())
}

/// A child process. Dropping it kills and reaps the child, so an error
/// anywhere leaves no process behind, and none writing to a channel whose
/// creator is about to remove it.
pub struct Kid {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Kid {
    /// This binary, re-executed in `role` with `args`.
    pub fn spawn(what: String, role: &str, args: &[String]) -> Result<Kid, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.env(ROLE_VAR, role).args(args);
        Kid::spawn_command(what.clone(), cmd).map_err(|e| format!("spawning {what}: {e}"))
    }

    /// [`Kid::spawn`] handing `fd` down to the child, whose last argument
    /// is then its number (see [`inherited_fd`]). The parent's copy closes
    /// once the child runs, so the child holds the only one: an end of a
    /// pipe or socket sees end-of-file when its peer process exits.
    pub fn spawn_with_fd(
        what: String,
        role: &str,
        args: &[String],
        fd: OwnedFd,
    ) -> Result<Kid, String> {
        // Every descriptor of this process is close-on-exec (std and libc
        // calls made with CLOEXEC), so only this one reaches the child. The
        // bench spawns from one thread, so no other child can inherit it
        // before it is closed below.
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::empty())
            .map_err(|e| format!("{what}: clearing FD_CLOEXEC: {e}"))?;
        let mut args = args.to_vec();
        args.push(fd.as_raw_fd().to_string());
        let kid = Kid::spawn(what, role, &args);
        drop(fd);
        kid
    }

    /// Any program, with its stdin and stdout piped to this process and
    /// its stderr on ours.
    pub fn spawn_command(what: String, mut cmd: Command) -> std::io::Result<Kid> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Kid {
            what,
            child,
            stdin,
            lines,
        })
    }

    pub fn go(&mut self) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        stdin
            .write_all(b"go\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: sending go: {e}", self.what))
    }

    /// Waits for a clean exit.
    pub fn finish(mut self) -> Result<(), String> {
        self.stdin = None;
        let deadline = Instant::now() + STALL;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("{}: {status}", self.what)),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(None) => return Err(format!("{}: did not exit", self.what)),
                Err(e) => return Err(format!("{}: wait: {e}", self.what)),
            }
        }
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Waits for the next line of `kids[i]`, which must start with `word`.
/// Meanwhile any child that exits with a failure ends the wait at once: the
/// others would otherwise block on the channel until their own timeouts.
pub fn expect(kids: &mut [Kid], i: usize, word: &str) -> Result<String, String> {
    expect_within(kids, i, word, STALL)
}

/// [`expect`] with a deadline of its own.
pub fn expect_within(
    kids: &mut [Kid],
    i: usize,
    word: &str,
    within: Duration,
) -> Result<String, String> {
    let deadline = Instant::now() + within;
    loop {
        match kids[i].lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if line.split_whitespace().next() == Some(word) => return Ok(line),
            Ok(line) => return Err(format!("{}: expected {word:?}, got {line:?}", kids[i].what)),
            Err(RecvTimeoutError::Disconnected) => {
                let status = kids[i].child.wait();
                return Err(format!(
                    "{}: ended before {word:?} ({status:?})",
                    kids[i].what
                ));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        for kid in kids.iter_mut() {
            if let Ok(Some(status)) = kid.child.try_wait() {
                if !status.success() {
                    return Err(format!("{} failed ({status})", kid.what));
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("{}: no {word:?} within {within:?}", kids[i].what));
        }
    }
}

/// One timed run of a stream: `kids` are `consumers` consumer children
/// then the producer children, each already spawned on one channel. Waits
/// for every `ready`, sends every `go`, waits for every producer's `done`,
/// calls `stop` (which ends the consumers' streams, for channels whose
/// consumers do not know how many items come), then collects every
/// consumer's tally. Returns the time from go until the last consumer
/// reported, once the tally shows that each of `producers`' share of
/// `items` arrived exactly once and every child exited cleanly.
pub fn timed_stream(
    mut kids: Vec<Kid>,
    consumers: usize,
    producers: u32,
    items: u64,
    stop: impl FnOnce() -> Result<(), String>,
) -> Result<Duration, String> {
    for i in 0..kids.len() {
        expect(&mut kids, i, "ready")?;
    }
    let start = Instant::now();
    for kid in &mut kids {
        kid.go()?;
    }
    for i in consumers..kids.len() {
        expect(&mut kids, i, "done")?;
    }
    stop()?;
    let mut tally = Tally::new(producers);
    for i in 0..consumers {
        let line = expect(&mut kids, i, "done")?;
        tally.add_report(&line)?;
    }
    let elapsed = start.elapsed();
    tally.check(items)?;
    for kid in kids {
        kid.finish()?;
    }
    Ok(elapsed)
}
