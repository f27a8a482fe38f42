//! The harness side of the driver protocol: spawn a driver, send requests,
//! enforce deadlines, validate responses, keep the driver's stderr tail.
//!
//! Everything a driver can do wrong (not start, exit, hang, print a line
//! that is not a valid response) becomes a [`ClientError`] that the case
//! reports as a verdict about the implementation; none of it can crash or
//! stall the harness.

pub mod diagnose;
mod reply;

pub use reply::{batch_replies, describe_op, parallel_replies, truncate, Reply};

use crate::protocol::{monotonic_ns, ErrorCode, Op, Request};
use reply::malformed;
use serde_json::Value;
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead as _, BufReader, Write};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Lines of a driver's stderr kept for the report.
const STDERR_TAIL_LINES: usize = 20;

/// Longest stderr line kept, bytes; a longer one is noted by its length.
const STDERR_LINE_BYTES: usize = 4096;

/// The default limit of one response line, bytes (64 MiB: a `batch` of
/// 20,000 results, or of 64 items of 64 KiB in base64, fits with room to
/// spare). A longer line fails the request as malformed, without the
/// harness ever holding more than this of it.
pub const MAX_LINE: usize = 64 << 20;

/// A driver that failed the protocol (or could not be run at all).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The driver command could not be started.
    #[error("cannot start driver `{cmd}`: {reason}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// The OS error.
        reason: String,
    },
    /// No response within the deadline; the driver has been killed.
    #[error("hung: no response to `{op}` within {waited_ms} ms (driver killed); at the hang:\n  {}", at_hang.join("\n  "))]
    Hung {
        /// The op that got no answer.
        op: String,
        /// How long the harness waited, ms.
        waited_ms: u64,
        /// What the driver's processes were doing when it was given up
        /// ([`diagnose::describe_group`]).
        at_hang: Vec<String>,
    },
    /// The driver exited (or closed stdout) with a request outstanding.
    #[error("driver exited during `{op}` ({status})")]
    Exited {
        /// The op that got no answer.
        op: String,
        /// Exit status as text.
        status: String,
    },
    /// A response that breaks the protocol; the driver has been killed.
    #[error("malformed response to `{op}`: {reason}: {line}")]
    Malformed {
        /// The op answered.
        op: String,
        /// What is wrong.
        reason: String,
        /// The offending line (cut to 300 bytes).
        line: String,
    },
    /// A success was required but the op failed.
    #[error("`{op}` failed with {code} ({message})")]
    Failed {
        /// The op.
        op: String,
        /// The error code.
        code: ErrorCode,
        /// The driver's message.
        message: String,
    },
    /// Writing the request failed (the driver is gone).
    #[error("cannot send `{op}` to the driver: {reason}")]
    Send {
        /// The op.
        op: String,
        /// The OS error.
        reason: String,
    },
}

impl ClientError {
    /// Whether this is a hang (verdict `hung`) rather than a failure.
    pub fn is_hung(&self) -> bool {
        matches!(self, ClientError::Hung { .. })
    }
}

/// Calls `f` with each line of `r` (UTF-8 decoded lossily, without the
/// newline) until `f` returns false or the stream ends.
/// A line read from a driver: its text, or how long it was when it ran
/// over the limit (the rest of it is skipped).
enum Line {
    Text(String),
    TooLong(usize),
}

/// Calls `f` with every line of `r` (without its `\n`; bytes that are not
/// UTF-8 replaced) until `f` returns false or `r` ends. A line over `limit`
/// bytes is never held whole: it is passed as [`Line::TooLong`], so a
/// driver writing an endless line costs at most `limit` bytes of memory.
fn for_each_line(r: impl std::io::Read, limit: usize, mut f: impl FnMut(Line) -> bool) {
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    let mut skipped = 0usize;
    loop {
        let chunk = match r.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(chunk) => chunk,
        };
        let (part, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if skipped == 0 && buf.len() + part.len() <= limit {
            buf.extend_from_slice(part);
        } else {
            skipped = skipped.max(buf.len()) + part.len();
            buf.clear();
        }
        let used = end.unwrap_or(chunk.len());
        r.consume(used);
        if end.is_some() {
            let line = if skipped > 0 {
                Line::TooLong(std::mem::take(&mut skipped))
            } else {
                Line::Text(String::from_utf8_lossy(&buf).into_owned())
            };
            buf.clear();
            if !f(line) {
                return;
            }
        }
    }
}

/// The process groups of the drivers alive in this process (each driver
/// leads its own group), for [`kill_all`].
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// SIGKILLs process group `pgid`: the driver and everything it started
/// that stayed in its group (a wrapper's child, a forked helper).
fn kill_group(pgid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Set once the run is interrupted: no driver starts after that.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// SIGKILLs the process group of every driver still alive in this process,
/// refuses to start any more, and returns how many groups there were: what
/// an interrupted run must not leave behind.
pub fn kill_all() -> usize {
    let mut live = LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    INTERRUPTED.store(true, Ordering::SeqCst);
    let groups = std::mem::take(&mut *live);
    for &g in &groups {
        kill_group(g);
    }
    groups.len()
}

/// One driver process.
pub struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Disconnected once the stderr reader has seen end of file.
    stderr_eof: Receiver<()>,
    next_id: u64,
    deadline: Duration,
    /// Killed or exited: every further request fails at once.
    dead: Option<ClientError>,
}

impl Driver {
    /// Starts `cmd` (argv, run without a shell) with piped stdio, as the
    /// leader of a process group of its own. `deadline` bounds each
    /// request, on top of the op's own wait timeouts; a response line over
    /// [`MAX_LINE`] bytes is a malformed response.
    ///
    /// # Errors
    /// [`ClientError::Spawn`] if the program cannot be started.
    pub fn spawn(cmd: &[String], deadline: Duration) -> Result<Driver, ClientError> {
        Driver::spawn_with(cmd, deadline, MAX_LINE)
    }

    /// [`spawn`](Self::spawn) with a response-line limit of `max_line`
    /// bytes.
    ///
    /// # Errors
    /// [`ClientError::Spawn`] if the program cannot be started.
    pub fn spawn_with(
        cmd: &[String],
        deadline: Duration,
        max_line: usize,
    ) -> Result<Driver, ClientError> {
        let shown = shell_words::join(cmd);
        let (prog, args) = cmd.split_first().ok_or_else(|| ClientError::Spawn {
            cmd: shown.clone(),
            reason: "empty command".into(),
        })?;
        // The group is registered before the process exists, under the lock,
        // so that an interrupt between the spawn and the registration
        // cannot miss it.
        let mut live = LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(ClientError::Spawn {
                cmd: shown,
                reason: "the run was interrupted".into(),
            });
        }
        let mut child = Command::new(prog)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| ClientError::Spawn {
                cmd: shown,
                reason: e.to_string(),
            })?;
        live.insert(child.id() as i32);
        drop(live);
        let (tx, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            // Bytes, not `lines()`: a line that is not UTF-8 is a malformed
            // response to report, not a reason to stop reading.
            std::thread::spawn(move || {
                for_each_line(out, max_line, |line| {
                    let more = matches!(line, Line::Text(_));
                    // After an overlong line nothing more is read: the
                    // driver is killed when the reply is taken.
                    tx.send(line).is_ok() && more
                });
            });
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (eof_tx, stderr_eof) = mpsc::channel::<()>();
        if let Some(err) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            // Keeps draining to the end, so a chatty driver never blocks on
            // a full stderr pipe. Dropping `eof_tx` at the end tells
            // `stderr_tail` that the tail is complete.
            std::thread::spawn(move || {
                let _eof = eof_tx;
                for_each_line(err, STDERR_LINE_BYTES, |line| {
                    let line = match line {
                        Line::Text(t) => t,
                        Line::TooLong(n) => format!("({n} bytes of one line, left out)"),
                    };
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == STDERR_TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                    true
                });
            });
        }
        Ok(Driver {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            stderr_eof,
            next_id: 1,
            deadline,
            dead: None,
        })
    }

    /// The driver's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the driver wrote to stderr. Once the driver is dead,
    /// first waits up to 500 ms for its stderr to reach end of file, so
    /// that its last words are in.
    pub fn stderr_tail(&self) -> Vec<String> {
        if self.dead.is_some() {
            let _ = self.stderr_eof.recv_timeout(Duration::from_millis(500));
        }
        self.stderr
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How long `op` may take beyond the base deadline: its own wait
    /// timeouts, plus 1 ms per op of a batch.
    fn allowance(op: &Op) -> Duration {
        fn one(op: &Op) -> u64 {
            match op {
                Op::PutWait { timeout_ms, .. } | Op::GetWait { timeout_ms } => *timeout_ms + 1,
                Op::Batch { ops } => ops.iter().map(one).sum(),
                Op::Parallel { threads } => threads
                    .iter()
                    .map(|t| t.iter().map(one).sum())
                    .max()
                    .unwrap_or(0),
                _ => 0,
            }
        }
        Duration::from_millis(one(op))
    }

    /// Sends `op` without waiting for the answer; returns its id and send
    /// time. Pair with [`receive`](Self::receive).
    ///
    /// # Errors
    /// [`ClientError::Send`] if the driver is gone.
    pub fn send(&mut self, op: &Op) -> Result<(u64, u64), ClientError> {
        if let Some(e) = &self.dead {
            return Err(e.clone());
        }
        let id = self.next_id;
        self.next_id += 1;
        let req = Request { id, op: op.clone() };
        let mut line = serde_json::to_vec(&req).unwrap_or_default();
        line.push(b'\n');
        let t0 = monotonic_ns();
        let sent = match self.stdin.as_mut() {
            Some(s) => s.write_all(&line).and_then(|()| s.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if let Err(e) = sent {
            // A broken pipe means the driver is gone: say how it ended.
            let err = match self.exit_status(Duration::from_millis(500)) {
                Some(status) => ClientError::Exited {
                    op: op.name().into(),
                    status,
                },
                None => ClientError::Send {
                    op: op.name().into(),
                    reason: e.to_string(),
                },
            };
            return Err(self.fail(err));
        }
        Ok((id, t0))
    }

    /// Waits for the answer to request `id` (sent at `t0`) for `op`.
    ///
    /// # Errors
    /// [`ClientError::Hung`], [`ClientError::Exited`] or
    /// [`ClientError::Malformed`]; the driver is killed on each.
    pub fn receive(&mut self, id: u64, t0: u64, op: &Op) -> Result<Reply, ClientError> {
        if let Some(e) = &self.dead {
            return Err(e.clone());
        }
        let limit = self.deadline + Self::allowance(op);
        let line = match self.lines.recv_timeout(limit) {
            Ok(Line::Text(line)) => line,
            Ok(Line::TooLong(n)) => {
                let reason = format!("a response line of {n} bytes or more, over the limit");
                return Err(self.fail(malformed(op.name(), reason, "(left out)")));
            }
            Err(RecvTimeoutError::Timeout) => {
                let at_hang = diagnose::describe_group(self.child.id() as i32);
                return Err(self.fail(ClientError::Hung {
                    op: op.name().into(),
                    waited_ms: limit.as_millis() as u64,
                    at_hang,
                }));
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Stdout is closed; the process may live on. Kill it before
                // reaping so that the wait cannot block.
                let status = match self.exit_status(Duration::from_millis(100)) {
                    Some(s) => s,
                    None => {
                        self.end_group();
                        match self.child.wait() {
                            Ok(s) => format!("closed its stdout; killed ({s})"),
                            Err(e) => e.to_string(),
                        }
                    }
                };
                return Err(self.fail(ClientError::Exited {
                    op: op.name().into(),
                    status,
                }));
            }
        };
        let t1 = monotonic_ns();
        let name = op.name();
        let parsed: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => return Err(self.fail(malformed(name, format!("not JSON ({e})"), &line))),
        };
        let Value::Object(obj) = parsed else {
            return Err(self.fail(malformed(name, "not a JSON object", &line)));
        };
        if obj.get("id").and_then(Value::as_u64) != Some(id) {
            return Err(self.fail(malformed(name, format!("expected id {id}"), &line)));
        }
        let reply = Reply::parse(name, &obj, &line, t0, t1).map_err(|e| self.fail(e))?;
        Ok(reply)
    }

    /// How the driver ended ("exit status: 1", "signal: 9 (SIGKILL)"), if it
    /// ends within `grace`; `None` if it still runs.
    fn exit_status(&mut self, grace: Duration) -> Option<String> {
        let until = std::time::Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return Some(s.to_string()),
                Ok(None) if std::time::Instant::now() < until => {
                    // Polls the child's exit: nothing to wait on but the
                    // process itself.
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => return None,
                Err(e) => return Some(e.to_string()),
            }
        }
    }

    /// Sends `op` and waits for its answer.
    ///
    /// # Errors
    /// As [`send`](Self::send) and [`receive`](Self::receive).
    pub fn request(&mut self, op: &Op) -> Result<Reply, ClientError> {
        let (id, t0) = self.send(op)?;
        self.receive(id, t0, op)
    }

    /// Sends a `batch` and returns one reply per op, each with the driver's
    /// `t0`/`t1`.
    ///
    /// # Errors
    /// As [`request`](Self::request), plus [`ClientError::Malformed`] if the
    /// batch itself failed or its results do not match its ops.
    pub fn batch(&mut self, ops: Vec<Op>) -> Result<Vec<Reply>, ClientError> {
        let batch = Op::Batch { ops };
        let reply = self.request(&batch)?;
        let Op::Batch { ops } = &batch else {
            unreachable!()
        };
        batch_replies(&reply, ops).map_err(|e| self.fail(e))
    }

    /// Sends a `parallel` and returns one reply list per thread.
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    pub fn parallel(&mut self, threads: Vec<Vec<Op>>) -> Result<Vec<Vec<Reply>>, ClientError> {
        let op = Op::Parallel { threads };
        let reply = self.request(&op)?;
        let Op::Parallel { threads } = &op else {
            unreachable!()
        };
        parallel_replies(&reply, threads).map_err(|e| self.fail(e))
    }

    fn fail(&mut self, err: ClientError) -> ClientError {
        self.kill();
        self.dead = Some(err.clone());
        err
    }

    /// SIGKILLs the driver and reaps it.
    pub fn kill(&mut self) {
        self.end_group();
        let _ = self.child.wait();
        self.stdin = None;
        if self.dead.is_none() {
            self.dead = Some(ClientError::Exited {
                op: "-".into(),
                status: "killed by the harness".into(),
            });
        }
    }

    /// Whether the driver was killed or failed.
    pub fn is_dead(&self) -> bool {
        self.dead.is_some()
    }

    /// Ends the driver politely: `close`, `exit`, then EOF; SIGKILL if it is
    /// still running after `grace`.
    pub fn shutdown(&mut self, grace: Duration) {
        if self.dead.is_none() {
            let saved = self.deadline;
            self.deadline = grace;
            let _ = self.request(&Op::Close);
            let _ = self.request(&Op::Exit);
            self.deadline = saved;
        }
        self.stdin = None;
        let until = monotonic_ns() + grace.as_nanos() as u64;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if monotonic_ns() >= until => break,
                // Polls the exit of a process: there is nothing else to
                // wait on.
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        // Whatever the driver started and left behind (a wrapper's child, a
        // forked helper holding the pipes) goes with it.
        self.end_group();
        let _ = self.child.wait();
        self.dead.get_or_insert(ClientError::Exited {
            op: "-".into(),
            status: "shut down".into(),
        });
    }
}

impl Driver {
    /// SIGKILLs the driver's process group and forgets it.
    fn end_group(&mut self) {
        let pgid = self.child.id() as i32;
        if let Ok(mut live) = LIVE_GROUPS.lock() {
            if live.remove(&pgid) {
                kill_group(pgid);
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.end_group();
        let _ = self.child.wait();
    }
}
