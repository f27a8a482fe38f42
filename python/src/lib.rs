//! `shmring._shmring`: the extension module of the `shmring` Python
//! package, built with [PyO3](https://pyo3.rs) and maturin.
//!
//! It exposes [`shmring::SharedBuffer`] as the Python class
//! `shmring.SharedBuffer`, with the original Python design's interface
//! (`put(data) -> bool`, `get() -> bytes | None`, `close()`) and Python's
//! conventions (context manager, `len()`, exceptions that derive from the
//! built-in ones). The pure-Python half of the package
//! (`python/shmring/`) holds the exception classes and the type stubs.
//!
//! - [`buffer`]: the class, its blocking calls (in slices of 50 ms with
//!   the GIL released, so that other threads run and Ctrl-C is seen) and
//!   its handling of `fork`.
//! - [`errors`]: each [`shmring::Error`] variant to one exception class.
//! - [`pybuf`]: items from and into Python buffer objects; the crate's
//!   only `unsafe`.
//! - [`fork`]: a count of forks, so that a handle inherited by a child
//!   process reopens the ring under its own session.

#![deny(missing_docs)]

pub mod buffer;
pub mod errors;
pub mod fork;
pub mod pybuf;

use pyo3::prelude::*;

/// The module `shmring._shmring`: the class `SharedBuffer` and the limits
/// `MAX_CAPACITY` (items), `MAX_ITEM_SIZE` and `MAX_SEGMENT_SIZE` (bytes).
#[pymodule]
mod _shmring {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::buffer::SharedBuffer;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::fork::install();
        m.add("MAX_CAPACITY", shmring::MAX_CAPACITY)?;
        m.add("MAX_ITEM_SIZE", shmring::MAX_ITEM_SIZE)?;
        m.add("MAX_SEGMENT_SIZE", shmring::MAX_SEGMENT_SIZE)?;
        Ok(())
    }
}
