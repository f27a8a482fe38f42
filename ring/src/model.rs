//! The ring on the heap, for schedule exploration (`model` feature): the
//! same algorithm as [`SharedBuffer`](crate::SharedBuffer), over
//! [`HeapMemory`], implementing [`ModelRing`] and [`CrashModelRing`] so
//! that `ringcheck_models` runs its loom, shuttle and thread models on it.
//!
//! Build with `RUSTFLAGS="--cfg loom"` or `RUSTFLAGS="--cfg shuttle"` to
//! put the heap memory's atomics, locks and cells under loom or shuttle
//! (the models' threads follow the same `cfg`); a plain build runs on
//! `std` threads. Only those two builds can switch on a seeded `Fault`
//! (`heap_ring_with_fault`), because several faults are data races by
//! design:
//!
//! ```compile_fail
//! // No seeded fault outside `--cfg loom` and `--cfg shuttle`.
//! let _ = shmring::model::Fault::MissedNotify;
//! ```
//!
//! ```
//! use ringcheck_models::{ModelRing, Wait};
//! let ring = shmring::model::heap_ring(2, 8); // 2 items of <= 8 B
//! let other = ring.handle();
//! let producer = std::thread::spawn(move || other.put(b"hi", Wait::Forever));
//! assert_eq!(ring.get(Wait::Forever), Ok(Some(b"hi".to_vec())));
//! assert_eq!(producer.join().unwrap(), Ok(true));
//! ```

mod heap;

#[cfg(any(loom, shuttle))]
pub use crate::algorithm::Fault;
pub use heap::HeapMemory;

use crate::algorithm::{KillPoint, Ring};
use heap::HeapError;
use ringcheck_models::{CrashModelRing, ModelRing, OpError, Wait};

/// A ring on the heap: the ring algorithm over [`HeapMemory`]. Its
/// operations are those of [`ModelRing`], plus the batches.
#[derive(Debug)]
pub struct HeapRing {
    ring: Ring<HeapMemory>,
}

/// An operation's error as the models see it: an abandoned operation, or
/// any [`Error`](crate::Error) in words.
fn op_error(e: HeapError) -> OpError {
    match e {
        HeapError::Abandoned => OpError::Abandoned,
        HeapError::Ring(e) => OpError::Failed(e.to_string()),
    }
}

impl HeapRing {
    /// The ring in `memory`, as a handle on it.
    pub fn new(memory: HeapMemory) -> Self {
        HeapRing {
            ring: Ring::new(memory),
        }
    }

    /// This handle's memory.
    pub fn memory(&self) -> &HeapMemory {
        self.ring.memory()
    }

    /// Stores items from the front of `items` until the ring is full, under
    /// one acquisition of the lock and committed by one store, as
    /// [`SharedBuffer::put_many`](crate::SharedBuffer::put_many). Returns
    /// how many were stored.
    ///
    /// # Errors
    /// [`OpError::Failed`] for an item over the item size (nothing stored).
    pub fn put_many(&self, items: &[&[u8]]) -> Result<usize, OpError> {
        self.ring.put_many(items).map_err(op_error)
    }

    /// Takes up to `max` items, oldest first, under one acquisition of the
    /// lock, and passes each to `f`, as
    /// [`SharedBuffer::get_many`](crate::SharedBuffer::get_many). Returns
    /// how many were taken.
    ///
    /// # Errors
    /// [`OpError::Failed`] for an item that failed its integrity check.
    pub fn get_many(&self, max: usize, f: impl FnMut(&[u8])) -> Result<usize, OpError> {
        self.ring.get_many(max, f).map_err(op_error)
    }
}

impl HeapRing {
    /// Writes an item of `len` bytes in place, waiting up to `timeout` for
    /// a free slot, as
    /// [`SharedBuffer::put_with_timeout`](crate::SharedBuffer::put_with_timeout).
    ///
    /// # Errors
    /// [`OpError::Failed`] for `len` over the item size;
    /// [`OpError::Abandoned`] from a killed handle.
    pub fn put_with(
        &self,
        len: usize,
        timeout: std::time::Duration,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<bool, OpError> {
        self.ring.put_with(len, timeout, write).map_err(op_error)
    }

    /// Reads the oldest item in place, waiting up to `timeout`, as
    /// [`SharedBuffer::get_with_timeout`](crate::SharedBuffer::get_with_timeout).
    ///
    /// # Errors
    /// [`OpError::Failed`] for a corrupt item; [`OpError::Abandoned`] from a
    /// killed handle.
    pub fn get_with<R>(
        &self,
        timeout: std::time::Duration,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, OpError> {
        self.ring.get_with(timeout, read).map_err(op_error)
    }

    /// Writes up to `max` items in place under one lock acquisition, as
    /// [`SharedBuffer::put_many_with`](crate::SharedBuffer::put_many_with).
    ///
    /// # Errors
    /// [`OpError::Failed`] for a length over the item size.
    pub fn put_many_with(
        &self,
        max: usize,
        write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<usize, OpError> {
        self.ring.put_many_with(max, write).map_err(op_error)
    }

    /// Reads up to `max` items in place under one lock acquisition, as
    /// [`SharedBuffer::get_many_with`](crate::SharedBuffer::get_many_with).
    ///
    /// # Errors
    /// [`OpError::Failed`] for a corrupt item.
    pub fn get_many_with(
        &self,
        max: usize,
        read: impl FnMut(&[u8]) -> bool,
    ) -> Result<usize, OpError> {
        self.ring.get_many_with(max, read).map_err(op_error)
    }
}

impl ModelRing for HeapRing {
    fn capacity(&self) -> usize {
        self.ring.capacity()
    }
    fn item_size(&self) -> usize {
        self.ring.item_size()
    }
    fn handle(&self) -> Self {
        HeapRing::new(self.memory().handle())
    }
    fn put(&self, item: &[u8], wait: Wait) -> Result<bool, OpError> {
        self.ring
            .put_timeout(item, wait.duration())
            .map_err(op_error)
    }
    fn get(&self, wait: Wait) -> Result<Option<Vec<u8>>, OpError> {
        self.ring.get_timeout(wait.duration()).map_err(op_error)
    }
    fn advance_clock(&self) {
        self.memory().advance_clock();
    }
}

impl CrashModelRing for HeapRing {
    fn handle_killed_at(&self, point: ringcheck_models::KillPoint) -> Self {
        HeapRing::new(self.memory().handle_killed_at(point))
    }
}

/// Where a model's kill point ([`ringcheck_models::KillPoint`]) is inside
/// the algorithm ([`KillPoint`]).
fn point(point: ringcheck_models::KillPoint) -> KillPoint {
    match point {
        ringcheck_models::KillPoint::PutHalfWritten => KillPoint::PutHalfWritten,
        ringcheck_models::KillPoint::PutCommitted => KillPoint::PutCommitted,
        ringcheck_models::KillPoint::GetCopied => KillPoint::GetCopied,
    }
}

/// A fresh heap ring of `capacity` items of up to `item_size` bytes.
///
/// # Panics
/// On a geometry that [`HeapMemory::new`] refuses.
pub fn heap_ring(capacity: u32, item_size: u32) -> HeapRing {
    HeapRing::new(HeapMemory::new(capacity, item_size).expect("model ring geometry"))
}

/// A fresh heap ring with single roles ([`HeapMemory::with_single_roles`]).
///
/// # Panics
/// On a geometry that [`HeapMemory::new`] refuses.
pub fn heap_ring_single(capacity: u32, item_size: u32) -> HeapRing {
    HeapRing::new(HeapMemory::with_single_roles(capacity, item_size).expect("model ring geometry"))
}

/// [`heap_ring`] with the seeded `fault` switched on (loom and shuttle
/// builds only).
///
/// # Panics
/// On a geometry that [`HeapMemory::new`] refuses.
#[cfg(any(loom, shuttle))]
pub fn heap_ring_with_fault(capacity: u32, item_size: u32, fault: Fault) -> HeapRing {
    HeapRing::new(HeapMemory::with_fault(capacity, item_size, fault).expect("model ring geometry"))
}
