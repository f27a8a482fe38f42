//! Support for the cross-crate, multi-process tests: spawning `ring-actor`
//! processes and cleaning up after them, also when a test fails.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use ringspec_testkit::unique;
use ringspec_testkit::Shm;

/// shmring's segment files (`/dev/shm/shmring-NAME`).
pub const SHM: Shm = Shm::new(shmring::OS_PREFIX);

/// A child process that is SIGKILLed and reaped when dropped.
pub struct Actor {
    child: Child,
    lines: Option<Lines<BufReader<ChildStdout>>>,
}

impl Actor {
    /// Starts `exe` with `args`, stdout piped, stderr inherited.
    pub fn spawn(exe: &str, args: &[&str]) -> Actor {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {exe}: {e}"));
        let lines = child.stdout.take().map(|s| BufReader::new(s).lines());
        Actor { child, lines }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the child prints; panics at end of output.
    pub fn next_line(&mut self) -> String {
        self.lines
            .as_mut()
            .and_then(|l| l.next())
            .expect("actor ended its output")
            .expect("read actor output")
    }

    /// Every remaining line, then the exit code (None if killed by a signal).
    pub fn finish(mut self) -> (Vec<String>, Option<i32>) {
        let lines = self
            .lines
            .take()
            .map(|l| l.map_while(Result::ok).collect())
            .unwrap_or_default();
        let status = self.child.wait().expect("wait");
        (lines, status.code())
    }

    /// Waits up to `limit` for the child to exit, then returns every
    /// remaining line and its exit status; `None` (and the child SIGKILLed
    /// and reaped) if it was still running at `limit`. The child must not
    /// print more than a pipe holds (64 KiB) before it exits.
    pub fn finish_within(mut self, limit: Duration) -> Option<(Vec<String>, ExitStatus)> {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let lines = self
            .lines
            .take()
            .map(|l| l.map_while(Result::ok).collect())
            .unwrap_or_default();
        Some((lines, status))
    }

    /// Waits until the child is stopped by a signal (it stopped itself, say),
    /// without reaping it.
    pub fn wait_stopped(&self) {
        let mut status = 0;
        // SAFETY: waitpid on our own, not yet reaped child, with a valid
        // out-pointer.
        let rc = unsafe { libc::waitpid(self.pid() as i32, &mut status, libc::WUNTRACED) };
        assert_eq!(rc, self.pid() as i32, "waitpid");
        assert!(
            libc::WIFSTOPPED(status),
            "the actor ended instead of stopping"
        );
    }

    /// Sends signal `sig` to the child.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) has no memory effects; the pid is our unreaped
        // child, so it names no other process.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, sig) }, 0, "kill");
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Actor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
