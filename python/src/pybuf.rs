//! Items from and into Python objects that support the buffer protocol
//! (PEP 3118: `bytes`, `bytearray`, `memoryview`, `array.array`, NumPy
//! arrays, ...). The crate's only `unsafe` besides `fork`'s registration.
//!
//! A `bytes` object is immutable, so its bytes are used in place, even
//! with the GIL released. Any other buffer may be written by another
//! Python thread once the GIL is released, so its bytes are copied (under
//! the GIL) into a Rust `Vec` first: the ring then never reads memory that
//! can change under it, and a racing writer cannot make a put store an
//! item whose CRC does not match it.

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The bytes of one item, borrowed from a `bytes` object or copied from
/// another buffer.
pub enum Item<'py> {
    /// A `bytes` object (immutable: read in place).
    Bytes(Bound<'py, PyBytes>),
    /// A copy of a mutable buffer's bytes.
    Copied(Vec<u8>),
}

impl Item<'_> {
    /// The item's bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Item::Bytes(b) => b.as_bytes(),
            Item::Copied(v) => v,
        }
    }
}

/// The item `obj` stands for.
///
/// # Errors
/// `TypeError` if `obj` does not support the buffer protocol (a `str`, an
/// `int`, ...) or its buffer is not C-contiguous; `shmring.TooLarge` if it
/// is longer than `item_size` bytes (nothing is copied).
pub fn item<'py>(obj: &Bound<'py, PyAny>, item_size: usize) -> PyResult<Item<'py>> {
    let py = obj.py();
    let too_large = |len: usize| {
        crate::errors::to_py(
            py,
            shmring::Error::TooLarge {
                len,
                max: item_size,
            },
        )
    };
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        let len = bytes.as_bytes().len();
        if len > item_size {
            return Err(too_large(len));
        }
        return Ok(Item::Bytes(bytes.clone()));
    }
    let buf = buffer(obj)?;
    let len = buf.len_bytes();
    if len > item_size {
        return Err(too_large(len));
    }
    if len == 0 {
        return Ok(Item::Copied(Vec::new()));
    }
    // SAFETY: the export `buf` keeps the object's memory alive and its
    // size fixed until it is released; it is C-contiguous, so its
    // `len_bytes()` bytes start at `buf_ptr()`; the GIL is held (`py`)
    // for the whole copy, so no Python code runs meanwhile.
    let bytes = unsafe { std::slice::from_raw_parts(buf.buf_ptr().cast::<u8>(), len) };
    Ok(Item::Copied(bytes.to_vec()))
}

/// A C-contiguous buffer of `obj`.
///
/// # Errors
/// `TypeError` if `obj` has no buffer or a non-contiguous one.
pub fn buffer(obj: &Bound<'_, PyAny>) -> PyResult<PyUntypedBuffer> {
    let buf = PyUntypedBuffer::get(obj).map_err(|_| {
        let type_name = obj
            .get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        PyTypeError::new_err(format!(
            "a bytes-like object is required, not '{type_name}'"
        ))
    })?;
    if !buf.is_c_contiguous() {
        return Err(PyTypeError::new_err("a C-contiguous buffer is required"));
    }
    Ok(buf)
}

/// A writable C-contiguous buffer of `obj`, for `get_into`.
///
/// # Errors
/// `TypeError` if `obj` has no buffer, a read-only one (`bytes`) or a
/// non-contiguous one.
pub fn writable(obj: &Bound<'_, PyAny>) -> PyResult<PyUntypedBuffer> {
    let buf = buffer(obj)?;
    if buf.readonly() {
        return Err(PyTypeError::new_err(
            "get_into() needs a writable bytes-like object (bytearray, memoryview of one, ...)",
        ));
    }
    Ok(buf)
}

/// Copies `data` to the start of the writable buffer `buf`.
///
/// # Panics
/// If `data` is longer than the buffer (the caller sized it).
pub fn write(_py: Python<'_>, buf: &PyUntypedBuffer, data: &[u8]) {
    assert!(data.len() <= buf.len_bytes(), "item longer than the buffer");
    assert!(!buf.readonly(), "read-only buffer");
    if data.is_empty() {
        return;
    }
    // SAFETY: `buf` is a writable (checked above, and by `writable`),
    // C-contiguous export of at least `data.len()` bytes at `buf_ptr()`,
    // alive and fixed in size until released; the GIL is held (`_py`), so
    // no Python code reads or writes it during the copy; `data` is Rust
    // memory and cannot overlap a Python object's buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr(), buf.buf_ptr().cast::<u8>(), data.len());
    }
}
