//! The shared segment of a simple ring: a file in `/dev/shm`, mapped
//! shared, holding an 8-word header and `capacity` slots.
//!
//! All `unsafe` of the faulty rings is in this file: the `mmap` and
//! `munmap`, and the two views of the mapping ([`Segment::word`] and the
//! slot bytes). Both views are atomics (`AtomicU64` header words,
//! `AtomicU8` slot bytes), valid for any bit pattern, so even the faults
//! that race on purpose (`unlocked`) have no undefined behaviour in this
//! process; they only lose or duplicate items. The geometry is read from
//! the segment once, checked against the mapping's length, and every slot
//! access is reduced modulo that capacity, so no value in shared memory can
//! steer an access out of the mapping.

use crate::driver::DriverError;
use crate::protocol::ErrorCode;
use rustix::fd::OwnedFd;
use rustix::fs::{flock, fstat, ftruncate, FlockOperation, Mode};
use rustix::io::Errno;
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use rustix::shm;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// `"RCFAULT1"`: the header's first word once the creator has initialised
/// it.
const MAGIC: u64 = u64::from_be_bytes(*b"RCFAULT1");
/// Header words.
const HEADER_WORDS: usize = 8;
/// Header bytes (slots start here).
const HEADER_BYTES: usize = HEADER_WORDS * 8;
/// Bytes in front of each payload: `len: u32`, `crc32: u32` (native endian).
pub(super) const SLOT_PREFIX: usize = 8;
/// The largest segment these test rings make.
const MAX_SEGMENT: u64 = 1 << 30;
/// How long `open` waits for a creator that has made the file but not yet
/// sized or initialised it.
const INIT_WAIT: Duration = Duration::from_secs(1);

/// The header words, by index.
#[derive(Debug, Clone, Copy)]
pub(super) enum Word {
    /// [`MAGIC`], stored last by the creator (release).
    Magic = 0,
    /// Slots.
    Capacity = 1,
    /// Largest payload, bytes.
    ItemSize = 2,
    /// Items taken so far (a count; slot = head % capacity).
    Head = 3,
    /// Items put so far (a count; slot = tail % capacity).
    Tail = 4,
    /// The spin-lock word of fault `non-robust-lock` (0 = free, else the
    /// holder's pid).
    SpinLock = 5,
    /// CLOCK_MONOTONIC ns of the latest failed lock attempt: lets a
    /// releaser step back so that waiters are not starved.
    ContendedAt = 6,
    /// The creator's pid (informational).
    CreatorPid = 7,
}

/// Geometry, validated: every slot lies inside `segment_len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Geometry {
    /// Slots, >= 1.
    pub capacity: u64,
    /// Largest payload, 1 ..= u32::MAX bytes.
    pub item_size: usize,
    /// Bytes per slot: prefix + item_size, rounded up to 8.
    stride: usize,
    /// Header + all slots.
    segment_len: usize,
}

impl Geometry {
    /// Checks `capacity` and `item_size`; `Err` says why they are refused.
    pub(super) fn new(capacity: u64, item_size: u64) -> Result<Geometry, String> {
        if capacity == 0 || item_size == 0 {
            return Err("capacity and item_size must be >= 1".into());
        }
        if item_size > u64::from(u32::MAX) {
            return Err(format!(
                "item_size {item_size} does not fit the u32 length field"
            ));
        }
        let stride = (SLOT_PREFIX as u64 + item_size + 7) & !7;
        let total = capacity
            .checked_mul(stride)
            .and_then(|n| n.checked_add(HEADER_BYTES as u64))
            .filter(|&n| n <= MAX_SEGMENT)
            .ok_or_else(|| {
                format!(
                    "capacity {capacity} x item_size {item_size} exceeds this test ring's \
                     {MAX_SEGMENT}-byte segment limit"
                )
            })?;
        Ok(Geometry {
            capacity,
            item_size: item_size as usize,
            stride: stride as usize,
            segment_len: total as usize,
        })
    }
}

fn internal(what: &str, e: Errno) -> DriverError {
    DriverError::new(ErrorCode::Internal, format!("{what}: {e}"))
}

/// A shared, read-write mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    /// Bytes mapped, >= HEADER_BYTES.
    len: usize,
}

// SAFETY: the mapping is plain shared memory that is only ever accessed
// through atomics (see `Segment::word` and `Segment::bytes`); moving the
// pointer to another thread changes nothing about that.
unsafe impl Send for Mapping {}
// SAFETY: as above: `&Mapping` only yields atomic views.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(fd: &OwnedFd, len: usize) -> Result<Mapping, DriverError> {
        if len < HEADER_BYTES {
            return Err(DriverError::new(ErrorCode::Internal, "segment too short"));
        }
        // SAFETY: a fresh shared mapping of `len` bytes at an address the
        // kernel chooses; it aliases no Rust object.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )
        }
        .map_err(|e| internal("mmap", e))?;
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| DriverError::new(ErrorCode::Internal, "mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; every view of it borrows
        // the `Segment` that owns this mapping, so none outlives it.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// An attached segment: the file descriptor (which carries the `flock`),
/// the mapping and the validated geometry.
pub(super) struct Segment {
    fd: OwnedFd,
    map: Mapping,
    geo: Geometry,
}

/// What [`Segment::create`] found.
pub(super) enum Created {
    /// A new, initialised segment.
    New(Segment),
    /// The name is taken; nothing was touched.
    Exists,
}

/// The OS name (`/dev/shm/<os_name>`) of the ring `name`; `invalid` if it
/// cannot be one file name.
pub(super) fn os_name(name: &str) -> Result<String, DriverError> {
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\0']) {
        return Err(DriverError::new(
            ErrorCode::Invalid,
            format!("invalid ring name {name:?} (1..=200 bytes, no '/' or NUL)"),
        ));
    }
    Ok(format!("ringcheck-faulty-{name}"))
}

/// Removes `os_name`; true if it existed.
pub(super) fn unlink(os_name: &str) -> bool {
    shm::unlink(os_name).is_ok()
}

impl Segment {
    /// Creates `os_name` exclusively (O_CREAT|O_EXCL, mode 0600), sizes,
    /// maps and initialises it; the magic word is stored last. On failure
    /// after the file was made, the file is removed again.
    pub(super) fn create(os_name: &str, geo: Geometry) -> Result<Created, DriverError> {
        let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
        let fd = match shm::open(os_name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => return Ok(Created::Exists),
            Err(e @ (Errno::NAMETOOLONG | Errno::INVAL)) => {
                return Err(DriverError::new(
                    ErrorCode::Invalid,
                    format!("shm_open: {e}"),
                ))
            }
            Err(e) => return Err(internal("shm_open", e)),
        };
        let made = (|| {
            ftruncate(&fd, geo.segment_len as u64).map_err(|e| internal("ftruncate", e))?;
            let map = Mapping::new(&fd, geo.segment_len)?;
            let seg = Segment { fd, map, geo };
            seg.word(Word::Capacity)
                .store(geo.capacity, Ordering::Relaxed);
            seg.word(Word::ItemSize)
                .store(geo.item_size as u64, Ordering::Relaxed);
            seg.word(Word::Head).store(0, Ordering::Relaxed);
            seg.word(Word::Tail).store(0, Ordering::Relaxed);
            seg.word(Word::SpinLock).store(0, Ordering::Relaxed);
            seg.word(Word::ContendedAt).store(0, Ordering::Relaxed);
            seg.word(Word::CreatorPid)
                .store(u64::from(std::process::id()), Ordering::Relaxed);
            seg.word(Word::Magic).store(MAGIC, Ordering::Release);
            Ok(seg)
        })();
        if made.is_err() {
            unlink(os_name);
        }
        made.map(Created::New)
    }

    /// Opens and maps the existing `os_name` and checks its header:
    /// `not_found` if there is no such file, `internal` if it is not (or
    /// not yet, after [`INIT_WAIT`]) a valid faulty-ring segment.
    pub(super) fn open(os_name: &str) -> Result<Segment, DriverError> {
        let fd = match shm::open(os_name, shm::OFlags::RDWR, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                return Err(DriverError::new(
                    ErrorCode::NotFound,
                    format!("no ring at /dev/shm/{os_name}"),
                ))
            }
            Err(e @ (Errno::NAMETOOLONG | Errno::INVAL)) => {
                return Err(DriverError::new(
                    ErrorCode::Invalid,
                    format!("shm_open: {e}"),
                ))
            }
            Err(e) => return Err(internal("shm_open", e)),
        };
        let start = Instant::now();
        let not_ready = || {
            DriverError::new(
                ErrorCode::Internal,
                format!("/dev/shm/{os_name} was not initialised within {INIT_WAIT:?}"),
            )
        };
        // The creator sizes the file right after making it.
        let len = loop {
            let size = fstat(&fd).map_err(|e| internal("fstat", e))?.st_size;
            let size = usize::try_from(size).unwrap_or(0);
            if size >= HEADER_BYTES {
                break size;
            }
            if start.elapsed() > INIT_WAIT {
                return Err(not_ready());
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let map = Mapping::new(&fd, len)?;
        // Until the magic word is there, the geometry may be half written.
        let mut seg = Segment {
            fd,
            map,
            geo: Geometry {
                capacity: 1,
                item_size: 0,
                stride: SLOT_PREFIX,
                segment_len: HEADER_BYTES,
            },
        };
        while seg.word(Word::Magic).load(Ordering::Acquire) != MAGIC {
            if start.elapsed() > INIT_WAIT {
                return Err(not_ready());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let capacity = seg.word(Word::Capacity).load(Ordering::Relaxed);
        let item_size = seg.word(Word::ItemSize).load(Ordering::Relaxed);
        let geo = Geometry::new(capacity, item_size)
            .ok()
            .filter(|g| g.segment_len <= len)
            .ok_or_else(|| {
                DriverError::new(
                    ErrorCode::Internal,
                    format!(
                        "corrupt header in /dev/shm/{os_name}: capacity {capacity}, \
                         item_size {item_size}, {len} bytes mapped"
                    ),
                )
            })?;
        seg.geo = geo;
        Ok(seg)
    }

    /// The validated geometry.
    pub(super) fn geometry(&self) -> Geometry {
        self.geo
    }

    /// Header word `w`.
    pub(super) fn word(&self, w: Word) -> &AtomicU64 {
        let words = {
            // SAFETY: the mapping is at least HEADER_BYTES long (checked in
            // `Mapping::new`) and page-aligned (mmap), so it starts with
            // HEADER_WORDS aligned u64s; AtomicU64 has u64's layout and
            // accepts any bit pattern; the borrow is tied to `self`, which
            // keeps the mapping alive; these bytes are only ever accessed
            // as these atomics.
            unsafe { &*self.map.ptr.as_ptr().cast::<[AtomicU64; HEADER_WORDS]>() }
        };
        &words[w as usize]
    }

    /// Every byte after the header.
    fn bytes(&self) -> &[AtomicU8] {
        // SAFETY: bytes HEADER_BYTES..len of the live mapping (len >=
        // HEADER_BYTES); AtomicU8 has u8's layout and accepts any value; the
        // borrow is tied to `self`; these bytes are only ever accessed as
        // these atomics (never through the AtomicU64 header view).
        unsafe {
            std::slice::from_raw_parts(
                self.map.ptr.as_ptr().add(HEADER_BYTES).cast::<AtomicU8>(),
                self.map.len - HEADER_BYTES,
            )
        }
    }

    /// The slot of item `index` (`index % capacity`): `stride` bytes.
    fn slot(&self, index: u64) -> &[AtomicU8] {
        let i = (index % self.geo.capacity) as usize;
        let start = i * self.geo.stride;
        // In bounds: HEADER_BYTES + capacity * stride == segment_len <= len,
        // checked in `Geometry::new` and `open`; `get` keeps even a broken
        // invariant from panicking.
        self.bytes()
            .get(start..start + self.geo.stride)
            .unwrap_or(&[])
    }

    /// The `(len, crc)` prefix of the slot of item `index`.
    pub(super) fn read_prefix(&self, index: u64) -> (u32, u32) {
        let mut raw = [0u8; SLOT_PREFIX];
        for (d, s) in raw.iter_mut().zip(self.slot(index)) {
            *d = s.load(Ordering::Relaxed);
        }
        let len = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let crc = u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]);
        (len, crc)
    }

    /// Writes the prefix of the slot of item `index`.
    pub(super) fn write_prefix(&self, index: u64, len: u32, crc: u32) {
        let mut raw = [0u8; SLOT_PREFIX];
        raw[..4].copy_from_slice(&len.to_ne_bytes());
        raw[4..].copy_from_slice(&crc.to_ne_bytes());
        for (d, s) in self.slot(index).iter().zip(raw) {
            d.store(s, Ordering::Relaxed);
        }
    }

    /// The first `n` payload bytes of the slot of item `index` (at most
    /// `item_size`).
    pub(super) fn read_payload(&self, index: u64, n: usize) -> Vec<u8> {
        let n = n.min(self.geo.item_size);
        let payload = self.slot(index).get(SLOT_PREFIX..).unwrap_or(&[]);
        payload
            .iter()
            .take(n)
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// Writes `src` at payload byte `offset` of the slot of item `index`;
    /// bytes past `item_size` are dropped.
    pub(super) fn write_payload(&self, index: u64, offset: usize, src: &[u8]) {
        let payload = self.slot(index).get(SLOT_PREFIX..).unwrap_or(&[]);
        let payload = payload
            .get(offset..self.geo.item_size.min(payload.len()))
            .unwrap_or(&[]);
        for (d, &s) in payload.iter().zip(src) {
            d.store(s, Ordering::Relaxed);
        }
    }

    /// Flips bit 0 of byte `offset` (prefix included) of the slot of item
    /// `index`.
    pub(super) fn flip_bit(&self, index: u64, offset: usize) {
        if let Some(b) = self.slot(index).get(offset) {
            b.fetch_xor(1, Ordering::Relaxed);
        }
    }

    /// Tries to take the segment's `flock` without blocking: true if taken.
    /// An exclusive `flock` belongs to the open file description: the kernel
    /// releases it when the holder's descriptor closes (its process dies);
    /// it does not exclude threads that share this descriptor.
    pub(super) fn try_flock(&self) -> Result<bool, DriverError> {
        match flock(&self.fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(Errno::WOULDBLOCK | Errno::INTR) => Ok(false),
            Err(e) => Err(internal("flock", e)),
        }
    }

    /// Releases the segment's `flock`.
    pub(super) fn unflock(&self) {
        let _ = flock(&self.fd, FlockOperation::Unlock);
    }
}
