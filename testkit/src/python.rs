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

    /// Builds the extension module with the cargo profile of the running
    /// executable (a test or bench in `target/PROFILE/deps/`: `cargo build
    /// -p shmring-python`, with `--release` for `release`), then stages
    /// the package with it. Cargo builds no cdylib for a test of its own
    /// crate, so a test that needs the module builds it this way; the
    /// build is a no-op when it is current.
    ///
    /// # Errors
    /// In words: cargo could not run or failed (its output went to this
    /// process's stderr), the module is missing after it, or staging
    /// failed.
    pub fn build() -> Result<PythonPackage, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .and_then(|p| p.to_str())
            .ok_or_else(|| format!("{} is not in target/PROFILE/deps", exe.display()))?
            .to_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(cargo);
        command.args(["build", "-p", "shmring-python"]);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                command.arg("--release");
            }
            other => {
                command.args(["--profile", other]);
            }
        }
        let what = format!("cargo build -p shmring-python (profile {profile})");
        let status = command
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("running {what}: {e}"))?;
        if !status.success() {
            return Err(format!("{what} failed ({status})"));
        }
        let extension = Self::built_extension()
            .ok_or_else(|| format!("{what} left no lib_shmring.so beside {}", exe.display()))?;
        Self::stage(&extension).map_err(|e| format!("staging {}: {e}", extension.display()))
    }

    /// The directory to put on `PYTHONPATH` (it holds `shmring/`).
    pub fn pythonpath(&self) -> &Path {
        &self.root
    }

    /// The extension module of the same cargo profile as the running
    /// executable (a test or bench in `target/PROFILE/deps/`): the
    /// `lib_shmring.so` that `cargo build -p shmring-python` put in
    /// `target/PROFILE/` (or its copy in `deps/`), if it exists.
    pub fn built_extension() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let deps = exe.parent()?;
        [
            deps.parent()?.join("lib_shmring.so"),
            deps.join("lib_shmring.so"),
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
