//! Helpers of the `shmring` command's tests.

// Each test binary uses some of them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// A ring name unique to this process and call, prefixed with `tag`.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Path of a ring's segment file.
pub fn shm_path(name: &str) -> std::path::PathBuf {
    format!("/dev/shm/{}{name}", shmring::OS_PREFIX).into()
}

/// Removes a ring's name when dropped, also when the test fails; for rings
/// whose handle does not remove them (persistent rings).
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(shm_path(&self.0));
    }
}

/// Overwrites `bytes` at `offset` of a ring's segment file, as a hostile or
/// broken process could.
pub fn poke(name: &str, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(name))
        .expect("segment file");
    f.write_all_at(bytes, offset).expect("write segment");
}

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
