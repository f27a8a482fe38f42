//! Each [`shmring::Error`] variant to one exception class of
//! `shmring._errors` (the table is in the package's README section and in
//! the classes' docstrings).
//!
//! | `shmring::Error` | Python exception | also an instance of |
//! |---|---|---|
//! | `NotFound` | `shmring.NotFound` | `FileNotFoundError` |
//! | `AlreadyExists` | `shmring.AlreadyExists` | `FileExistsError` |
//! | `InvalidName` | `shmring.InvalidName` | `ValueError` |
//! | `InvalidConfig` | `shmring.InvalidConfig` | `ValueError` |
//! | `TooLarge` | `shmring.TooLarge` | `ValueError` |
//! | `BufferTooSmall` | `shmring.BufferTooSmall` | `ValueError` |
//! | `Corrupt` | `shmring.CorruptItem` | |
//! | `IncompatibleLayout` | `shmring.IncompatibleLayout` | |
//! | `CorruptHeader` | `shmring.CorruptHeader` | |
//! | `NotInitialized` | `shmring.NotInitialized` | |
//! | `LockTimeout` | `shmring.LockTimeout` | `TimeoutError` |
//! | `NoSpace` | `shmring.NoSpace` | `OSError` (`errno` `ENOSPC`) |
//! | `Untrusted` | `shmring.Untrusted` | `PermissionError` |
//! | `RoleTaken` | `shmring.RoleTaken` | |
//! | `Closed` | `shmring.Closed` | `ValueError` |
//! | `Io` | `shmring.OsError` | `OSError` (with the OS's `errno`) |
//!
//! Every class derives from `shmring.Error`, which a variant added to
//! the Rust library later also maps to until it has a class of its own.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

/// `shmring._errors`, imported on the first error (not at module load,
/// which would import the package from inside its own `__init__`).
static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The exception class `shmring._errors.<name>`.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let module = ERRORS.get_or_try_init(py, || py.import("shmring._errors").map(Bound::unbind))?;
    module.bind(py).getattr(name)
}

/// The Python exception for `err`: an instance of the class in the
/// module's table, with `str(e)` the Rust error's message.
///
/// If the class cannot be made (the pure-Python half of the package is
/// missing), the `ImportError` that says so is returned instead.
pub fn to_py(py: Python<'_>, err: shmring::Error) -> PyErr {
    use shmring::Error as E;
    let message = err.to_string();
    let made: PyResult<(&str, Bound<'_, PyTuple>)> = (|| {
        Ok(match &err {
            E::NotFound { .. } => ("NotFound", (message,).into_pyobject(py)?),
            E::AlreadyExists { .. } => ("AlreadyExists", (message,).into_pyobject(py)?),
            E::InvalidName { .. } => ("InvalidName", (message,).into_pyobject(py)?),
            E::InvalidConfig { .. } => ("InvalidConfig", (message,).into_pyobject(py)?),
            E::TooLarge { .. } => ("TooLarge", (message,).into_pyobject(py)?),
            E::BufferTooSmall { .. } => ("BufferTooSmall", (message,).into_pyobject(py)?),
            E::Corrupt { slot, seq, reason } => (
                "CorruptItem",
                (message, *slot, *seq, *reason).into_pyobject(py)?,
            ),
            E::IncompatibleLayout { .. } => ("IncompatibleLayout", (message,).into_pyobject(py)?),
            E::CorruptHeader { .. } => ("CorruptHeader", (message,).into_pyobject(py)?),
            E::NotInitialized { .. } => ("NotInitialized", (message,).into_pyobject(py)?),
            E::LockTimeout { .. } => ("LockTimeout", (message,).into_pyobject(py)?),
            // OSError(errno, strerror) sets `errno` and `strerror`.
            E::NoSpace { .. } => ("NoSpace", (libc::ENOSPC, message).into_pyobject(py)?),
            E::Untrusted { .. } => ("Untrusted", (message,).into_pyobject(py)?),
            E::RoleTaken { .. } => ("RoleTaken", (message,).into_pyobject(py)?),
            E::Closed => ("Closed", (message,).into_pyobject(py)?),
            E::Io { source, .. } => match source.raw_os_error() {
                Some(errno) => ("OsError", (errno, message).into_pyobject(py)?),
                None => ("OsError", (message,).into_pyobject(py)?),
            },
            _ => ("Error", (message,).into_pyobject(py)?),
        })
    })();
    match made.and_then(|(name, args)| class(py, name)?.call1(args)) {
        Ok(exception) => PyErr::from_value(exception),
        Err(e) => e,
    }
}

/// `shmring.Closed` for an operation on a closed handle.
pub fn closed(py: Python<'_>) -> PyErr {
    to_py(py, shmring::Error::Closed)
}

/// `Result` to `PyResult` through [`to_py`].
pub trait IntoPy<T> {
    /// The value, or the exception for the error.
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for shmring::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
