//! The Python class `shmring.SharedBuffer`.
//!
//! Every ring call runs with the GIL released (`Python::detach`): even a
//! non-blocking `put` may wait for the producers' lock (up to the lock
//! timeout if a stopped process holds it), and other Python threads must
//! run meanwhile. A blocking call waits in slices of at most
//! [`SLICE`]; between two slices it takes the GIL back, runs Python's
//! signal handlers (so Ctrl-C raises `KeyboardInterrupt` within about one
//! slice) and checks that the handle is still open. A slice that ends
//! without its item took nothing, so an interrupted call loses nothing.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PySequence, PyTuple, PyType};

use crate::errors::{closed, IntoPy};
use crate::{fork, pybuf};

/// Longest wait without looking at Python's signals: 50 ms, so that
/// Ctrl-C interrupts a blocking call within 100 ms.
pub const SLICE: Duration = Duration::from_millis(50);

/// The Rust handle.
type Ring = shmring::SharedBuffer;

/// What `close` changes and a fork makes stale.
struct State {
    /// `None` once closed. Shared with the calls in flight, so that
    /// `close` never waits for a blocking call: the last one out closes
    /// the Rust handle.
    ring: Option<Arc<Ring>>,
    /// [`fork::generation`] when `ring` was opened: another value means
    /// this process is a fork child that inherited the handle.
    forks: u64,
}

/// A ring buffer in named shared memory (`/dev/shm/shmring-NAME`), shared
/// by producer and consumer processes on one host.
///
/// `SharedBuffer(name, create=False, capacity=10, item_size=64, *,
/// single_roles=False, trust_uid=None, persist=False)` creates the ring
/// (`create=True`: `capacity` slots of at most `item_size` bytes; the
/// creator's close removes it unless `persist`) or attaches to an
/// existing one (its geometry is read from it; the creation arguments
/// are then ignored). `single_roles`: one producer and one consumer at a
/// time, no lock on the data path. `trust_uid`: also open rings owned by
/// this user. Timeouts are in seconds (`0`: no wait, `None`: for ever).
///
/// Thread-safe. Inherited across `fork`, a handle reopens the ring by
/// name in the child on first use; pickled, it is its name.
///
/// Raises `InvalidName`, `InvalidConfig`, `AlreadyExists` (the existing
/// ring untouched), `NoSpace`, `NotFound`, `NotInitialized`,
/// `IncompatibleLayout`, `CorruptHeader`, `Untrusted`, `OsError`.
#[pyclass(module = "shmring", name = "SharedBuffer", frozen)]
pub struct SharedBuffer {
    state: Mutex<State>,
    name: String,
    capacity: usize,
    item_size: usize,
    single_roles: bool,
    creator: bool,
    trust_uid: Option<u32>,
}

impl SharedBuffer {
    fn state(&self) -> MutexGuard<'_, State> {
        // Held only with the GIL and never across a release of it (see
        // `ring`), so two threads cannot wait for each other through the
        // two locks. A panic cannot happen while it is held (it only moves
        // an `Arc` or opens a ring), so a poisoned lock still holds a
        // consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Rust handle for one call: reopened by name first in a fork
    /// child (see [`fork`]).
    fn ring(&self, py: Python<'_>) -> PyResult<Arc<Ring>> {
        let mut state = self.state();
        let Some(ring) = state.ring.as_ref() else {
            return Err(closed(py));
        };
        let now = fork::generation();
        if state.forks == now {
            return Ok(Arc::clone(ring));
        }
        // The inherited handle is the parent's: never closed here (that
        // would remove the parent's ring if it created it), so forgotten;
        // its mapping and descriptor are the child's copies and go with
        // the process.
        let inherited = state.ring.take();
        std::mem::forget(inherited);
        // Opened with the GIL held: releasing it while holding `state`
        // would let another thread take the GIL and then wait for `state`
        // while this one waits for the GIL. (An open waits only for a
        // creator that is still initialising, at most 1 s.)
        let reopened = Ring::open_with_config(&self.name, &self.open_config()).or_raise(py)?;
        let reopened = Arc::new(reopened);
        state.ring = Some(Arc::clone(&reopened));
        state.forks = now;
        Ok(reopened)
    }

    fn open_config(&self) -> shmring::Config {
        open_config(self.trust_uid)
    }

    fn is_closed(&self) -> bool {
        self.state().ring.is_none()
    }

    /// Runs `attempt(slice)` with the GIL released until it yields a value,
    /// the deadline passes (`Ok(None)`), it fails, a signal handler raises
    /// or the handle is closed. `timeout`: `None` waits for ever.
    fn wait<T: Send>(
        &self,
        py: Python<'_>,
        timeout: Option<Duration>,
        mut attempt: impl FnMut(Duration) -> shmring::Result<Option<T>> + Send,
    ) -> PyResult<Option<T>> {
        if timeout == Some(Duration::ZERO) {
            return py.detach(|| attempt(Duration::ZERO)).or_raise(py);
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let slice = match deadline {
                None => SLICE,
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
            };
            if let Some(v) = py.detach(|| attempt(slice)).or_raise(py)? {
                return Ok(Some(v));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            py.check_signals()?;
            if self.is_closed() {
                return Err(closed(py));
            }
        }
    }
}

/// The options of an open: the lock timeout's default and the trusted uid.
fn open_config(trust_uid: Option<u32>) -> shmring::Config {
    shmring::Config {
        trusted_uid: trust_uid,
        ..shmring::Config::default()
    }
}

/// A timeout argument in seconds: `None` waits for ever, as does a value
/// too large for a `Duration` (`math.inf`).
fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_nan() || s < 0.0 => Err(PyValueError::new_err(format!(
            "timeout must be a number of seconds >= 0, or None to wait for ever; got {s}"
        ))),
        Some(s) => Ok(Duration::try_from_secs_f64(s).ok()),
    }
}

/// A count argument (`capacity`, `item_size`) as `u32`.
fn count(py: Python<'_>, what: &str, value: i64) -> PyResult<u32> {
    u32::try_from(value).map_err(|_| {
        crate::errors::to_py(
            py,
            shmring::Error::InvalidConfig {
                reason: format!("{what} {value} is out of range"),
            },
        )
    })
}

#[pymethods]
impl SharedBuffer {
    #[new]
    #[pyo3(signature = (name, create=false, capacity=10, item_size=64, *, single_roles=false, trust_uid=None, persist=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        create: bool,
        capacity: i64,
        item_size: i64,
        single_roles: bool,
        trust_uid: Option<u32>,
        persist: bool,
    ) -> PyResult<Self> {
        let (capacity, item_size) = if create {
            (
                count(py, "capacity", capacity)?,
                count(py, "item_size", item_size)?,
            )
        } else {
            (0, 0)
        };
        let owned = name.to_owned();
        let ring = if create {
            let mut config = shmring::Config::new(capacity, item_size).persist(persist);
            if single_roles {
                config = config.single_roles();
            }
            if let Some(uid) = trust_uid {
                config = config.trust_uid(uid);
            }
            py.detach(move || Ring::create(&owned, config))
        } else {
            let config = open_config(trust_uid);
            py.detach(move || Ring::open_with_config(&owned, &config))
        }
        .or_raise(py)?;
        let stats = ring.stats().or_raise(py)?;
        Ok(SharedBuffer {
            name: ring.name().to_owned(),
            capacity: ring.capacity(),
            item_size: ring.item_size(),
            single_roles: stats.single_producer && stats.single_consumer,
            creator: ring.is_creator(),
            trust_uid,
            state: Mutex::new(State {
                ring: Some(Arc::new(ring)),
                forks: fork::generation(),
            }),
        })
    }

    /// The ring's name (without the `shmring-` prefix of `/dev/shm`).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Slots: the most items the ring holds.
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// Largest item, bytes.
    #[getter]
    fn item_size(&self) -> usize {
        self.item_size
    }

    /// Whether the ring has single roles (one producer and one consumer
    /// at a time, no lock on the data path).
    #[getter]
    fn single_roles(&self) -> bool {
        self.single_roles
    }

    /// Whether this handle created the ring (and removes it on close,
    /// unless it persists).
    #[getter]
    fn is_creator(&self) -> bool {
        self.creator
    }

    /// Whether `close` has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.is_closed()
    }

    /// Stores `data` (bytes-like, at most `item_size` bytes) unless the
    /// ring is full; with a `timeout` (seconds, `None`: for ever), waits
    /// for space up to it. Returns whether it was stored (`False`: the
    /// ring stayed full, nothing stored or overwritten).
    ///
    /// Raises `TypeError` (not bytes-like, or not C-contiguous),
    /// `TooLarge` (nothing stored), `ValueError` (negative or NaN
    /// timeout), `RoleTaken`, `LockTimeout`, `Closed`, `CorruptHeader`;
    /// `KeyboardInterrupt` from Ctrl-C while waiting (nothing stored).
    #[pyo3(signature = (data, timeout=Some(0.0)), text_signature = "(self, data, timeout=0.0)")]
    fn put(&self, py: Python<'_>, data: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = self::timeout(timeout)?;
        let item = pybuf::item(data, self.item_size)?;
        let ring = self.ring(py)?;
        let bytes = item.as_slice();
        let stored = self.wait(py, timeout, |t| {
            ring.put_timeout(bytes, t).map(|s| s.then_some(()))
        })?;
        Ok(stored.is_some())
    }

    /// Takes the oldest item, or `None` if the ring is empty; with a
    /// `timeout` (seconds, `None`: for ever), waits for one up to it.
    ///
    /// Raises `CorruptItem` (the item failed its CRC-32C check and is
    /// consumed; the next get returns the next item), `ValueError`
    /// (negative or NaN timeout), `RoleTaken`, `LockTimeout`, `Closed`,
    /// `CorruptHeader`; `KeyboardInterrupt` from Ctrl-C while waiting
    /// (nothing taken).
    #[pyo3(signature = (timeout=Some(0.0)), text_signature = "(self, timeout=0.0)")]
    fn get<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let timeout = self::timeout(timeout)?;
        let ring = self.ring(py)?;
        let item = self.wait(py, timeout, |t| ring.get_timeout(t))?;
        Ok(item.map(|v| PyBytes::new(py, &v)))
    }

    /// Takes the oldest item into the start of `buffer` (a writable,
    /// C-contiguous bytes-like object: `bytearray`, a `memoryview` of
    /// one, ...) and returns its length in bytes, or `None` if the ring
    /// stayed empty until `timeout` (seconds, `None`: for ever).
    ///
    /// Raises `TypeError` (read-only or not a buffer), `BufferTooSmall`
    /// (the item is longer than `buffer`; it stays in the ring), and as
    /// `get`.
    #[pyo3(signature = (buffer, timeout=Some(0.0)), text_signature = "(self, buffer, timeout=0.0)")]
    fn get_into(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Option<usize>> {
        let timeout = self::timeout(timeout)?;
        let buf = pybuf::writable(buffer)?;
        let ring = self.ring(py)?;
        // The item lands in Rust memory first (the GIL is released while
        // the ring is read), then is copied into `buffer` under the GIL. A
        // scratch as long as `buffer` (at most one item) keeps the ring's
        // own check: an item longer than `buffer` stays in the ring.
        let mut scratch = vec![0u8; buf.len_bytes().min(self.item_size)];
        let got = self.wait(py, timeout, |t| ring.get_into_timeout(&mut scratch, t))?;
        if let Some(len) = got {
            pybuf::write(py, &buf, &scratch[..len]);
        }
        Ok(got)
    }

    /// Stores items from the front of `items` (a list or tuple of
    /// bytes-like objects) until the ring is full, all committed together
    /// (a process killed meanwhile stored all or none); returns how many
    /// were stored: `items[n:]` are still the caller's. With a `timeout`
    /// (seconds, `None`: for ever), waits up to it for room for the first.
    ///
    /// Raises `TypeError` (not a list or tuple, or an item not
    /// bytes-like), `TooLarge` (nothing of the batch stored), and as `put`.
    #[pyo3(signature = (items, timeout=Some(0.0)), text_signature = "(self, items, timeout=0.0)")]
    fn put_many(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let timeout = self::timeout(timeout)?;
        // A sequence, not any iterable: the items after the stored ones
        // must still be the caller's (an iterator would have lost them).
        let seq = if items.is_instance_of::<PyList>() || items.is_instance_of::<PyTuple>() {
            items.cast::<PySequence>()?
        } else {
            return Err(PyTypeError::new_err(
                "put_many() takes a list or tuple of bytes-like objects",
            ));
        };
        let n = seq.len()?;
        let mut owned = Vec::with_capacity(n);
        for i in 0..n {
            owned.push(pybuf::item(&seq.get_item(i)?, self.item_size)?);
        }
        let ring = self.ring(py)?;
        if n == 0 {
            return Ok(0);
        }
        let slices: Vec<&[u8]> = owned.iter().map(pybuf::Item::as_slice).collect();
        let stored = self.wait(py, timeout, |t| {
            let mut next = slices.iter();
            let k = ring.put_many_with_timeout(slices.len(), t, |slot| {
                let item = next.next()?;
                slot[..item.len()].copy_from_slice(item);
                Some(item.len())
            })?;
            Ok((k > 0).then_some(k))
        })?;
        Ok(stored.unwrap_or(0))
    }

    /// Takes up to `max` items, oldest first, all consumed together; an
    /// empty list if the ring stayed empty until `timeout` (seconds,
    /// `None`: for ever).
    ///
    /// Raises `CorruptItem` when the oldest item is damaged (it alone is
    /// consumed; a damaged item after good ones ends the batch before
    /// it), and as `get`.
    #[pyo3(signature = (max, timeout=Some(0.0)), text_signature = "(self, max, timeout=0.0)")]
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        max: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let timeout = self::timeout(timeout)?;
        let ring = self.ring(py)?;
        // One buffer for the whole batch and the items' lengths: two
        // allocations however many items come.
        let mut bytes = Vec::new();
        let mut lens = Vec::new();
        if max > 0 {
            self.wait(py, timeout, |t| {
                let k = ring.get_many_with_timeout(max, t, |item| {
                    bytes.extend_from_slice(item);
                    lens.push(item.len());
                    true
                })?;
                Ok((k > 0).then_some(k))
            })?;
        }
        let mut at = 0;
        let list = PyList::empty(py);
        for len in lens {
            list.append(PyBytes::new(py, &bytes[at..at + len]))?;
            at += len;
        }
        Ok(list)
    }

    /// Items in the ring now (as `len(ring)`).
    ///
    /// Raises `Closed`, `CorruptHeader`.
    fn len(&self, py: Python<'_>) -> PyResult<usize> {
        let ring = self.ring(py)?;
        py.detach(|| ring.len()).or_raise(py)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.len(py)
    }

    /// The ring's header, read once, as a dict: geometry (`capacity`
    /// items, `item_size` and `segment_size` bytes), `len`, counters
    /// (`puts`, `gets`, `full_refusals`, `empty_gets`, `corrupt_items`,
    /// `lock_recoveries`, `sleeps`, `late_wakeups`), sleepers
    /// (`waiting_consumers`, `waiting_producers`), `creator_pid`,
    /// `persist`, `single_producer`, `single_consumer`,
    /// `created_unix_ns`, `last_recovery_pid`.
    ///
    /// Raises `Closed`, `CorruptHeader`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let ring = self.ring(py)?;
        let s = py.detach(|| ring.stats()).or_raise(py)?;
        let d = PyDict::new(py);
        d.set_item("capacity", s.capacity)?;
        d.set_item("item_size", s.item_size)?;
        d.set_item("segment_size", s.segment_size)?;
        d.set_item("len", s.len)?;
        d.set_item("puts", s.puts)?;
        d.set_item("gets", s.gets)?;
        d.set_item("full_refusals", s.full_refusals)?;
        d.set_item("empty_gets", s.empty_gets)?;
        d.set_item("corrupt_items", s.corrupt_items)?;
        d.set_item("lock_recoveries", s.lock_recoveries)?;
        d.set_item("last_recovery_pid", s.last_recovery_pid)?;
        d.set_item("late_wakeups", s.late_wakeups)?;
        d.set_item("sleeps", s.sleeps)?;
        d.set_item("waiting_consumers", s.waiting_consumers)?;
        d.set_item("waiting_producers", s.waiting_producers)?;
        d.set_item("creator_pid", s.creator_pid)?;
        d.set_item("persist", s.persist)?;
        d.set_item("single_producer", s.single_producer)?;
        d.set_item("single_consumer", s.single_consumer)?;
        d.set_item("created_unix_ns", s.created_unix_ns)?;
        Ok(d)
    }

    /// Detaches from the ring; if this handle created it (and it does not
    /// persist), removes its name. Closing twice is allowed; other calls
    /// then raise `Closed`, as does a blocking call of another thread
    /// within 50 ms.
    ///
    /// Raises `OsError` if the name could not be removed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let (ring, inherited) = {
            let mut state = self.state();
            let inherited = state.forks != fork::generation();
            (state.ring.take(), inherited)
        };
        let Some(ring) = ring else {
            return Ok(());
        };
        if inherited {
            // The parent's handle: see `ring`.
            std::mem::forget(ring);
            return Ok(());
        }
        match Arc::try_unwrap(ring) {
            Ok(mut ring) => py.detach(move || ring.close()).or_raise(py),
            // A blocking call in another thread still holds it: it sees
            // the close within one slice, and dropping the last `Arc`
            // closes the Rust handle.
            Err(_in_flight) => Ok(()),
        }
    }

    /// Removes the ring `name` from `/dev/shm`; processes attached to it
    /// keep working on their mapping.
    ///
    /// Raises `InvalidName`, `NotFound`, `OsError`.
    #[staticmethod]
    fn remove(py: Python<'_>, name: &str) -> PyResult<()> {
        let name = name.to_owned();
        py.detach(move || Ring::remove(&name)).or_raise(py)
    }

    /// Damages the oldest item so that its integrity check fails (for
    /// conformance suites' `corrupt` operation); `False` if the ring is
    /// empty. Not for programs that only use rings.
    fn _corrupt_oldest(&self, py: Python<'_>) -> PyResult<bool> {
        let ring = self.ring(py)?;
        py.detach(|| ring.corrupt_oldest()).or_raise(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Pickles as the ring's name: the process that unpickles it (a
    /// `multiprocessing` child started by spawn or forkserver) attaches
    /// to the ring by name.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyType>, (String,))> {
        Ok((slf.get_type(), (slf.get().name.clone(),)))
    }

    fn __repr__(&self) -> String {
        let state = if self.is_closed() { ", closed" } else { "" };
        format!(
            "SharedBuffer({:?}, capacity={}, item_size={}{}{})",
            self.name,
            self.capacity,
            self.item_size,
            if self.single_roles {
                ", single_roles=True"
            } else {
                ""
            },
            state
        )
    }
}

impl Drop for SharedBuffer {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if state.forks != fork::generation() {
            // Collected in a fork child: the parent's handle (see `ring`).
            std::mem::forget(state.ring.take());
        }
    }
}
