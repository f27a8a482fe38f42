//! Helpers shared by the integration tests of `shmring`.

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
/// whose handle does not remove them (persistent rings, raw segments).
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

/// Reads `len` bytes at `offset` of a ring's segment file.
pub fn peek(name: &str, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(shm_path(name)).expect("segment file");
    let mut buf = vec![0; len];
    f.read_exact_at(&mut buf, offset).expect("read segment");
    buf
}
