//! The `shmring` Python package assembled from a cargo build, for tests
//! and benches that run Python against the ring without installing the
//! wheel: the pure-Python half (`python/python/shmring/*.py`, `.pyi`) and
//! the extension module cargo built (`lib_shmring.so`, renamed
//! `_shmring.so`) in a fresh directory, to put on `PYTHONPATH`.

use std::io;
use std::path::{Path, PathBuf};

/// The package's pure-Python half in the workspace.
const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../python/python/shmring");

/// A staged copy of the package, removed on drop.
#[derive(Debug)]
pub struct PythonPackage {
    root: PathBuf,
}

impl PythonPackage {
    /// Stages the package with the extension module at `extension` (a
    /// `lib_shmring.so` that cargo built from the `shmring-python` crate)
    /// in a new directory under the system's temporary directory.
    ///
    /// # Errors
    /// Any I/O error reading the sources or writing the copy (what was
    /// written is removed).
    pub fn stage(extension: &Path) -> io::Result<PythonPackage> {
        let root = std::env::temp_dir().join(crate::unique("shmring-py"));
        let package = PythonPackage { root };
        let dir = package.root.join("shmring");
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(SOURCE)? {
            let path = entry?.path();
            if path.is_file() {
                if let Some(file) = path.file_name() {
                    std::fs::copy(&path, dir.join(file))?;
                }
            }
        }
        std::fs::copy(extension, dir.join("_shmring.so"))?;
        Ok(package)
    }

    /// The directory to put on `PYTHONPATH` (it holds `shmring/`).
    pub fn pythonpath(&self) -> &Path {
        &self.root
    }

    /// The extension module of the same cargo profile as the running
    /// executable (a test or bench in `target/PROFILE/deps/`): the
    /// `lib_shmring.so` that cargo built for the `shmring-python` crate
    /// beside it in `deps/` (where a test build of that crate leaves it),
    /// else in `target/PROFILE/` (where `cargo build` puts it), if either
    /// exists.
    pub fn built_extension() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let deps = exe.parent()?;
        [
            deps.join("lib_shmring.so"),
            deps.parent()?.join("lib_shmring.so"),
        ]
        .into_iter()
        .find(|so| so.is_file())
    }
}

impl Drop for PythonPackage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
