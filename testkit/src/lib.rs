//! `ringspec-testkit`: the helpers that every test crate of the workspace
//! shares (shmring's, the CLI's, `ringspec-tests`, the fixtures'), in one
//! place so that they cannot drift apart: a ring name unique to the test
//! process, and a segment family in `/dev/shm` ([`Shm`]: the file of a
//! ring, its removal on drop, hostile writes and raw reads).
//!
//! It depends on nothing, so that any crate's tests can use it (a crate's
//! segment prefix is a constant of that crate, given to [`Shm::new`]).
//!
//! ```
//! use ringspec_testkit::{unique, Shm};
//! const SHM: Shm = Shm::new("doc-example-");
//! let name = unique("kit");
//! let _cleanup = SHM.cleanup(&name); // removes the file even if the test panics
//! std::fs::write(SHM.path(&name), [0u8; 16]).unwrap();
//! SHM.poke(&name, 8, &[1, 2]);
//! assert_eq!(SHM.peek(&name, 7, 3), vec![0, 1, 2]);
//! ```

#![deny(missing_docs)]

mod python;
pub use python::PythonPackage;

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A ring name unique to this process and call: `t-TAG-PID-N`.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The segment files of one ring implementation: ring `name` is the file
/// `/dev/shm/PREFIX NAME`.
#[derive(Debug, Clone, Copy)]
pub struct Shm {
    prefix: &'static str,
}

impl Shm {
    /// The family whose files are named `prefix` + ring name.
    pub const fn new(prefix: &'static str) -> Shm {
        Shm { prefix }
    }

    /// The path of ring `name`'s segment file.
    pub fn path(&self, name: &str) -> PathBuf {
        format!("/dev/shm/{}{name}", self.prefix).into()
    }

    /// Whether ring `name`'s segment file exists.
    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// A guard that removes ring `name`'s segment file when dropped, also
    /// when the test fails; for rings whose handle does not remove them
    /// (persistent rings, raw segments, rings of killed processes).
    pub fn cleanup(&self, name: impl Into<String>) -> Cleanup {
        Cleanup {
            path: self.path(&name.into()),
        }
    }

    /// Overwrites `bytes` at byte `offset` of ring `name`'s segment file,
    /// as a hostile or broken process could.
    ///
    /// # Panics
    /// If the file cannot be opened or written, or `offset` does not fit a
    /// u64 (a broken test).
    pub fn poke<O: TryInto<u64>>(&self, name: &str, offset: O, bytes: &[u8]) {
        let offset = offset.try_into().ok().expect("an offset that fits u64");
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.path(name))
            .expect("segment file");
        f.write_all_at(bytes, offset).expect("write segment");
    }

    /// Reads `len` bytes at byte `offset` of ring `name`'s segment file.
    ///
    /// # Panics
    /// If the file cannot be opened or is shorter (a broken test).
    pub fn peek<O: TryInto<u64>>(&self, name: &str, offset: O, len: usize) -> Vec<u8> {
        let offset = offset.try_into().ok().expect("an offset that fits u64");
        let f = std::fs::File::open(self.path(name)).expect("segment file");
        let mut buf = vec![0; len];
        f.read_exact_at(&mut buf, offset).expect("read segment");
        buf
    }
}

/// Removes a segment file when dropped ([`Shm::cleanup`]).
#[derive(Debug)]
#[must_use = "the file is removed when the guard is dropped: bind it to a name"]
pub struct Cleanup {
    path: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cleanup_removes_the_file_on_panic() {
        const SHM: Shm = Shm::new("testkit-");
        assert_ne!(unique("a"), unique("a"));
        let name = unique("panic");
        std::fs::write(SHM.path(&name), b"x").unwrap();
        let r = std::panic::catch_unwind(|| {
            let _c = SHM.cleanup(&name);
            panic!("a failing test");
        });
        assert!(r.is_err());
        assert!(!SHM.exists(&name), "the file outlived the failed test");
    }
}
