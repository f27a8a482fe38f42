//! One session with an implementation under test: how to start its driver
//! processes, what it declared in `hello`, the names of the rings it is
//! given, and the removal of what it left behind.
//!
//! The conformance run ([`crate::run`]) and the scenario exploration
//! ([`crate::explore`]) both work through a [`Session`]: one handshake
//! (protocol version, `impl`, features), one naming scheme, one sweep.

use crate::client::{ClientError, Driver, Reply};
use crate::protocol::{Feature, GeometryOffer, Op, Roles, PROTOCOL_VERSION};
use std::collections::BTreeSet;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long a driver may take to end after `close` and `exit` before it is
/// killed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What a driver said of itself in `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The `impl` string: name and version of the implementation.
    pub implementation: String,
    /// The features it declared.
    pub features: BTreeSet<Feature>,
    /// The geometries it declared it can build, if it declared any.
    pub geometry: Option<GeometryOffer>,
    /// How many actors may hold each role of a ring at once
    /// ([`Roles::ANY`] when it declared none).
    pub roles: Roles,
}

/// Why a session could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// The driver could not be started or did not answer `hello`.
    #[error("the driver cannot be started: {0}")]
    Driver(#[from] ClientError),
    /// The driver died or failed during `hello`; the last lines of its
    /// stderr say why.
    #[error("the driver cannot be started: {error}\n{}", stderr_text(.stderr))]
    Died {
        /// What went wrong.
        error: ClientError,
        /// The tail of the driver's stderr.
        stderr: Vec<String>,
    },
    /// The driver answered `hello` with something this harness cannot use.
    #[error("the driver's hello is not usable: {0}")]
    Hello(String),
}

/// A driver's stderr tail, indented, for an error message.
fn stderr_text(tail: &[String]) -> String {
    if tail.is_empty() {
        return "  (the driver wrote nothing on stderr)".into();
    }
    let mut out = String::from("  stderr of the driver (tail):");
    for line in tail {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

/// The tokens of the sessions alive in this process, for
/// [`install_interrupt_cleanup`].
static LIVE_TOKENS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// On SIGINT, SIGTERM or SIGHUP: kills every driver's process group,
/// removes the `/dev/shm` leftovers of every live session, says so on
/// stderr, and exits with status 130. The command line and
/// [`crate::testing`] install it; a library user may too. A thread of its
/// own waits for the signals (`signal-hook`'s iterator), so the cleanup
/// runs outside any signal handler.
///
/// # Errors
/// If it is already installed in this process, or the signals cannot be
/// registered, in words.
pub fn install_interrupt_cleanup() -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Err("the interrupt cleanup is already installed".into());
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| format!("cannot register SIGINT, SIGTERM and SIGHUP: {e}"))?;
    std::thread::Builder::new()
        .name("ringcheck-interrupt".into())
        .spawn(move || {
            if signals.forever().next().is_none() {
                return;
            }
            let killed = crate::client::kill_all();
            let tokens: Vec<String> = LIVE_TOKENS
                .lock()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default();
            let removed: usize = tokens.iter().map(|t| sweep(t).len()).sum();
            eprintln!(
                "ringcheck: interrupted: killed {killed} driver process group(s), removed {removed} leftover segment(s) of run {}",
                tokens.join(", ")
            );
            std::process::exit(130);
        })
        .map_err(|e| format!("cannot start the interrupt thread: {e}"))?;
    Ok(())
}

/// A session with one driver command.
#[derive(Debug)]
pub struct Session {
    driver: Vec<String>,
    deadline: Duration,
    /// Longest response line, bytes.
    max_line: usize,
    hello: Hello,
    /// Every ring name of the session starts with this, and every entry of
    /// `/dev/shm` that contains it is the session's own.
    token: String,
    next_name: AtomicU64,
}

impl Session {
    /// Starts one driver of `driver` (argv, run without a shell), asks its
    /// `hello`, and ends it. `deadline` bounds each request, on top of an
    /// op's own wait.
    ///
    /// # Errors
    /// [`SessionError`] if the driver cannot start or its `hello` is not
    /// protocol version 1 with an `impl` and a list of known features.
    pub fn start(driver: Vec<String>, deadline: Duration) -> Result<Session, SessionError> {
        Session::start_with(driver, deadline, crate::client::MAX_LINE)
    }

    /// [`start`](Self::start), with responses limited to `max_line` bytes
    /// a line.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with(
        driver: Vec<String>,
        deadline: Duration,
        max_line: usize,
    ) -> Result<Session, SessionError> {
        let mut d = Driver::spawn_with(&driver, deadline, max_line)?;
        let hello = handshake(&mut d);
        d.shutdown(SHUTDOWN_GRACE);
        let hello = hello.map_err(|e| with_stderr(e, &d))?;
        let token = run_token();
        if let Ok(mut live) = LIVE_TOKENS.lock() {
            live.insert(token.clone());
        }
        Ok(Session {
            driver,
            deadline,
            max_line,
            hello,
            token,
            next_name: AtomicU64::new(0),
        })
    }

    /// The driver command.
    pub fn driver(&self) -> &[String] {
        &self.driver
    }

    /// The per-request deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// What the driver declared.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Whether the driver declared `f`.
    pub fn has(&self, f: Feature) -> bool {
        self.hello.features.contains(&f)
    }

    /// The prefix of every ring name of the session.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A fresh ring name, unique in the session and among sessions:
    /// `TOKEN-N`, within the protocol's `[A-Za-z0-9._-]{1,64}`.
    pub fn ring_name(&self) -> String {
        let n = self.next_name.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}-{n}", self.token)
    }

    /// Starts one more driver process and checks its `hello`.
    ///
    /// # Errors
    /// [`SessionError`] as for [`start`](Self::start).
    pub fn spawn(&self) -> Result<Driver, SessionError> {
        let mut d = Driver::spawn_with(&self.driver, self.deadline, self.max_line)?;
        match handshake(&mut d) {
            Ok(_) => Ok(d),
            Err(e) => {
                d.kill();
                Err(with_stderr(e, &d))
            }
        }
    }

    /// Removes the entries of `/dev/shm` that this session's rings left
    /// behind (their names contain the session's token) and returns their
    /// names, sorted.
    pub fn sweep(&self) -> Vec<String> {
        remove_matching(|n| n.contains(&self.token))
    }

    /// Removes the entries of `/dev/shm` of the rings `names` (of this
    /// session) only: an entry whose name ends with a ring name or has it
    /// followed by a `.` (the forms drivers give their segments), not one
    /// where it is followed by more digits (`-1` is not `-12`). For a case
    /// whose neighbours of the same session may still be running.
    pub fn sweep_rings(&self, names: &[String]) -> Vec<String> {
        remove_matching(|n| {
            names
                .iter()
                .any(|r| n.ends_with(r.as_str()) || n.contains(&format!("{r}.")))
        })
    }
}

/// `e`, with the stderr tail of `d` when the driver failed.
fn with_stderr(e: SessionError, d: &Driver) -> SessionError {
    match e {
        SessionError::Driver(error) => SessionError::Died {
            error,
            stderr: d.stderr_tail(),
        },
        other => other,
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE_TOKENS.lock() {
            live.remove(&self.token);
        }
    }
}

/// Asks `d` for its `hello` and checks it.
fn handshake(d: &mut Driver) -> Result<Hello, SessionError> {
    let r: Reply = d.request(&Op::Hello)?;
    let bad = |what: &str| SessionError::Hello(format!("hello answered {}: {what}", r.describe()));
    let protocol = r.u64("protocol")?;
    if protocol != PROTOCOL_VERSION {
        return Err(bad(&format!(
            "protocol {protocol}, expected {PROTOCOL_VERSION}"
        )));
    }
    let results = r.result.as_ref().map_err(|_| bad("a failure"))?;
    let Some(implementation) = results.get("impl").and_then(|v| v.as_str()) else {
        return Err(bad("no \"impl\" string"));
    };
    let Some(list) = results.get("features").and_then(|v| v.as_array()) else {
        return Err(bad("no \"features\" list"));
    };
    let mut features = BTreeSet::new();
    for f in list {
        match f.as_str().and_then(Feature::parse) {
            Some(f) => {
                features.insert(f);
            }
            None => return Err(bad(&format!("unknown feature {f}"))),
        }
    }
    let geometry = match results.get("geometry") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<GeometryOffer>(v.clone())
                .map_err(|e| bad(&format!("a \"geometry\" this harness cannot read ({e})")))?,
        ),
    };
    let roles = match results.get("roles") {
        None | Some(serde_json::Value::Null) => Roles::ANY,
        Some(v) => {
            let roles = serde_json::from_value::<Roles>(v.clone())
                .map_err(|e| bad(&format!("\"roles\" this harness cannot read ({e})")))?;
            roles
                .validate()
                .map_err(|e| bad(&format!("\"roles\" with {e}")))?;
            roles
        }
    };
    Ok(Hello {
        implementation: implementation.to_owned(),
        features,
        geometry,
        roles,
    })
}

/// A token no other session on this host has: `rc`, 12 random hex digits
/// (from the standard library's randomly keyed SipHash, seeded by the OS)
/// and the pid, so that runs in different pid namespaces do not collide.
fn run_token() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("rc{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// Removes the entries of `/dev/shm` whose name contains `token` and returns
/// their names, sorted.
fn sweep(token: &str) -> Vec<String> {
    remove_matching(|n| n.contains(token))
}

/// Removes the entries of `/dev/shm` whose name `matches`, and returns
/// their names, sorted.
fn remove_matching(matches: impl Fn(&str) -> bool) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return Vec::new();
    };
    let mut leaked: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| matches(n))
        .collect();
    leaked.sort();
    for name in &leaked {
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
    }
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_and_names_fit_the_protocol() {
        let (a, b) = (run_token(), run_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn sweep_removes_only_the_token_s_entries() {
        let token = run_token();
        let mine = format!("/dev/shm/x-{token}-1");
        let other = format!("/dev/shm/x-{}-1", run_token());
        std::fs::write(&mine, b"").unwrap();
        std::fs::write(&other, b"").unwrap();
        assert_eq!(sweep(&token), vec![format!("x-{token}-1")]);
        assert!(std::path::Path::new(&other).exists());
        std::fs::remove_file(&other).unwrap();
        assert!(!std::path::Path::new(&mine).exists());
    }
}
