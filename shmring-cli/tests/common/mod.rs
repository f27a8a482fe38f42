//! Helpers of the `shmring` command's tests.

// Each test binary uses some of them.
#![allow(dead_code)]

pub use ringspec_testkit::unique;
use ringspec_testkit::Shm;

/// shmring's segment files (`/dev/shm/shmring-NAME`).
pub const SHM: Shm = Shm::new(shmring::OS_PREFIX);

/// A child process that is killed (and reaped) when dropped, also when the
/// test fails, so that no test leaves a process behind.
pub struct Proc(pub std::process::Child);

impl Proc {
    /// Waits up to `limit` for the process to exit; `None` if it is still
    /// running then.
    pub fn wait_for_exit(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The process's stderr (piped), read to its end; call after it exited.
    pub fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            e.read_to_string(&mut s).expect("read stderr");
        }
        s
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `cond` until it holds; panics naming `what` if it does not within
/// `limit`.
pub fn wait_until(what: &str, limit: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// `len` bytes from a xorshift64* generator: incompressible, reproducible.
pub fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}
