//! A POSIX shared-memory object mapped into this process.
//!
//! All pointer arithmetic on the mapping is here. Slot accessors reduce the
//! slot index modulo the capacity that was validated against the mapping
//! length, so no value read from shared memory can steer an access outside
//! the mapping.

use crate::error::{Error, Result};
use crate::layout::{Geometry, Header, HEADER_SIZE, SLOT_PREFIX};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{fallocate, fchmod, fstat, ftruncate, FallocateFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use std::ptr::NonNull;

/// Where Linux keeps POSIX shared-memory objects: `shm_open("/x")` is
/// `open("/dev/shm/x")`. The segment is opened by that path directly so
/// that `O_NOFOLLOW` applies (`shm_open` of rustix does not set it).
pub const SHM_DIR: &str = "/dev/shm";

/// A mapping of a whole segment, unmapped on drop, with the descriptor it
/// was mapped from (kept open: the handle's session lock lives on it).
#[derive(Debug)]
pub struct Segment {
    ptr: NonNull<u8>,
    /// Bytes mapped; at least [`HEADER_SIZE`].
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is plain shared memory; all access to it goes through
// atomics, or raw copies made by the slot's owner (the side whose lock or
// role covers it).
unsafe impl Send for Segment {}
// SAFETY: as above; `&Segment` hands out only `&Header` (atomics) and
// copies by the slot's owner.
unsafe impl Sync for Segment {}

/// Outcome of [`Segment::create`] when the name is taken.
pub enum Created {
    /// A fresh, zero-filled segment of the requested size.
    New(Segment),
    /// The name exists; nothing was touched.
    Exists,
}

/// Who may own a segment that [`Segment::open`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct Trust {
    /// A uid trusted besides this process's effective uid.
    pub uid: Option<u32>,
}

fn path_of(os_name: &str) -> String {
    format!("{SHM_DIR}{os_name}")
}

impl Segment {
    /// Creates `os_name` exclusively with exactly `mode` (umask ignored),
    /// sizes it to `len` bytes (zero-filled), reserves those bytes in the
    /// filesystem (`fallocate`, so that a later write can never fault for
    /// lack of space) and maps it. On any failure after the object was
    /// made, the object is removed again.
    ///
    /// # Errors
    /// [`Error::NoSpace`] if the filesystem cannot hold `len` bytes,
    /// [`Error::Io`] otherwise.
    pub fn create(os_name: &str, len: usize, mode: u32) -> Result<Created> {
        let path = path_of(os_name);
        let flags = OFlags::CREATE
            | OFlags::EXCL
            | OFlags::RDWR
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let fd = match rustix::fs::open(&path, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => return Ok(Created::Exists),
            Err(e) => return Err(Error::io("shm_open", e)),
        };
        let made = (|| {
            fchmod(&fd, Mode::from_raw_mode(mode & 0o777)).map_err(|e| Error::io("fchmod", e))?;
            ftruncate(&fd, len as u64).map_err(|e| Error::io("ftruncate", e))?;
            match fallocate(&fd, FallocateFlags::empty(), 0, len as u64) {
                Ok(()) => {}
                Err(Errno::NOSPC) => {
                    return Err(Error::NoSpace {
                        needed: len as u64,
                        dir: SHM_DIR,
                    })
                }
                Err(e) => return Err(Error::io("fallocate", e)),
            }
            Self::map(fd, len)
        })();
        if made.is_err() {
            let _ = rustix::fs::unlink(&path);
        }
        made.map(Created::New)
    }

    /// Opens and maps an existing `os_name`, whatever its size, if it is a
    /// regular file (not a symbolic link: `O_NOFOLLOW`; not a FIFO or a
    /// device) owned by this process's effective uid or `trust.uid`.
    ///
    /// A creator makes the object before it sizes it, so an object shorter
    /// than the header is polled (1 ms apart) until `size_wait` runs out, then
    /// reported as [`Error::NotInitialized`].
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Untrusted`], [`Error::NotInitialized`],
    /// [`Error::Io`].
    pub fn open(
        os_name: &str,
        name: &str,
        size_wait: std::time::Duration,
        trust: Trust,
    ) -> Result<Segment> {
        let untrusted = |reason: String| Error::Untrusted {
            name: name.to_owned(),
            reason,
        };
        // O_NONBLOCK: opening a FIFO planted at the path must not block.
        let flags =
            OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let fd = match rustix::fs::open(path_of(os_name), flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                return Err(Error::NotFound {
                    name: name.to_owned(),
                })
            }
            Err(Errno::LOOP) => {
                return Err(untrusted(format!(
                    "{} is a symbolic link, which is never followed",
                    path_of(os_name)
                )))
            }
            Err(e) => return Err(Error::io("shm_open", e)),
        };
        let st = fstat(&fd).map_err(|e| Error::io("fstat", e))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind != FileType::RegularFile {
            return Err(untrusted(format!(
                "{} is a {kind:?}, not a regular shared-memory object",
                path_of(os_name)
            )));
        }
        let me = rustix::process::geteuid().as_raw();
        if st.st_uid != me && Some(st.st_uid) != trust.uid {
            return Err(untrusted(format!(
                "it is owned by uid {}, and this process runs as uid {me} (Config::trust_uid allows another owner)",
                st.st_uid
            )));
        }
        let deadline = super::futex::Deadline::after(size_wait);
        loop {
            let len = fstat(&fd).map_err(|e| Error::io("fstat", e))?.st_size;
            let len = usize::try_from(len).unwrap_or(0);
            if len >= HEADER_SIZE {
                return Self::map(fd, len);
            }
            if deadline.passed() {
                return Err(Error::NotInitialized {
                    name: name.to_owned(),
                });
            }
            // There is nothing to wait on before the object has a size.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The descriptor the segment was mapped from.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn map(fd: OwnedFd, len: usize) -> Result<Segment> {
        // SAFETY: a fresh shared mapping of `len` bytes chosen by the kernel;
        // it aliases no Rust object.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| Error::io("mmap", e))?;
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| Error::io("mmap", Errno::NOMEM))?;
        Ok(Segment { ptr, len, fd })
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The header at offset 0.
    pub fn header(&self) -> &Header {
        // SAFETY: `len >= HEADER_SIZE` (checked before mapping), mmap returns
        // page-aligned memory (Header needs 64), the mapping lives as long as
        // `self`, and every Header field is an atomic, valid for any bit
        // pattern and safe to share.
        unsafe { &*self.ptr.as_ptr().cast::<Header>() }
    }

    /// Start of slot `index % capacity`, with the range `[start, start +
    /// stride)` inside the mapping because `geometry` was validated against
    /// `self.len`.
    fn slot(&self, g: &Geometry, index: u64) -> *mut u8 {
        // A power-of-two capacity (the common case) takes a mask instead of
        // a 64-bit division, which costs tens of cycles and runs several
        // times per item; the branch is the same for the ring's whole life.
        let cap = u64::from(g.capacity);
        let i = if cap.is_power_of_two() {
            (index & (cap - 1)) as usize
        } else {
            (index % cap) as usize
        };
        debug_assert!(g.segment_size <= self.len);
        // SAFETY: HEADER_SIZE + i * stride + stride <= segment_size <= len.
        unsafe { self.ptr.as_ptr().add(HEADER_SIZE + i * g.slot_stride) }
    }

    /// Starts taking the slot of item `seq` for writing (`prefetchw` of its
    /// lines where the CPU has it; a no-op elsewhere).
    pub fn prefetch_for_write(&self, g: &Geometry, seq: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            let p = self.slot(g, seq);
            // SAFETY: a prefetch is a hint with no architectural effect on
            // memory and cannot fault; both addresses are inside the slot.
            // ET0 is `prefetchw`, which CPUs without it execute as a no-op.
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
                _mm_prefetch::<_MM_HINT_ET0>(p.cast::<i8>());
                _mm_prefetch::<_MM_HINT_ET0>(p.add(g.slot_stride - 1).cast::<i8>());
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (g, seq);
    }

    /// Reads the `(len, crc)` prefix of the slot of item `seq`. Call under
    /// the lock of the side that owns the slot.
    pub fn read_prefix(&self, g: &Geometry, seq: u64) -> (u32, u32) {
        let p = self.slot(g, seq);
        // The payload is read next, and the slot's last line is another
        // cache line whenever the slot is not aligned in one: start its
        // transfer now, so that it overlaps the prefix's instead of
        // following it (the copy's length depends on the prefix).
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint with no architectural effect on
        // memory and cannot fault; the address is inside the slot.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(p.add(g.slot_stride - 1).cast::<i8>());
        }
        let mut raw = [0u8; SLOT_PREFIX];
        // SAFETY: `p` starts a slot of `stride >= SLOT_PREFIX` bytes inside
        // the mapping; the lock keeps well-behaved writers out; bytes are
        // copied, no reference into shared memory is formed.
        unsafe { std::ptr::copy_nonoverlapping(p, raw.as_mut_ptr(), SLOT_PREFIX) };
        let len = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let crc = u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]);
        (len, crc)
    }

    /// Calls `f` with the first `len` payload bytes of the slot of item
    /// `seq`, in place (cut to `item_size`).
    ///
    /// # Safety
    /// The caller owns the slot (the ring's protocol keeps every
    /// well-behaved process from writing it meanwhile). A process that
    /// breaks the protocol can change the bytes under `f`. In Rust's model
    /// that is a data race on memory behind a shared reference, as for any
    /// mapping shared with another process; the compiler cannot see the
    /// other process's stores, so what `f` can get is inconsistent bytes
    /// (which is why `get_with` documents that its CRC check can be
    /// outrun, and the copying gets check their private copy), never an
    /// access outside the slot.
    pub unsafe fn with_payload<R>(
        &self,
        g: &Geometry,
        seq: u64,
        len: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let n = len.min(g.item_size as usize);
        let p = self.slot(g, seq);
        // SAFETY: SLOT_PREFIX + n <= SLOT_PREFIX + item_size <= stride, so
        // the slice lies inside the mapping, which outlives the call;
        // ownership of the slot is the caller's contract.
        f(unsafe { std::slice::from_raw_parts(p.add(SLOT_PREFIX), n) })
    }

    /// Calls `f` with payload bytes `offset..offset + len` of the slot of
    /// item `seq`, in place, to write them (cut to `item_size`).
    ///
    /// # Safety
    /// As [`with_payload`](Self::with_payload), as the slot's only writer.
    pub unsafe fn with_payload_mut<R>(
        &self,
        g: &Geometry,
        seq: u64,
        offset: usize,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> R {
        let offset = offset.min(g.item_size as usize);
        let n = len.min(g.item_size as usize - offset);
        let p = self.slot(g, seq);
        // SAFETY: SLOT_PREFIX + offset + n <= SLOT_PREFIX + item_size <=
        // stride; the caller owns the slot, so this is the only reference.
        f(unsafe { std::slice::from_raw_parts_mut(p.add(SLOT_PREFIX + offset), n) })
    }

    /// Writes the prefix of the slot of item `seq`.
    pub fn write_prefix(&self, g: &Geometry, seq: u64, len: u32, crc: u32) {
        let mut raw = [0u8; SLOT_PREFIX];
        raw[..4].copy_from_slice(&len.to_ne_bytes());
        raw[4..].copy_from_slice(&crc.to_ne_bytes());
        let p = self.slot(g, seq);
        // SAFETY: the slot holds at least SLOT_PREFIX bytes.
        unsafe { std::ptr::copy_nonoverlapping(raw.as_ptr(), p, SLOT_PREFIX) };
    }

    /// Flips bit 0 of byte `offset` of the slot of item `seq` (offset taken
    /// modulo the stride). For `SharedBuffer::corrupt_oldest`
    /// (`corrupt` only).
    #[cfg(feature = "corrupt")]
    pub fn flip_bit(&self, g: &Geometry, seq: u64, offset: usize) {
        let p = self.slot(g, seq);
        // SAFETY: offset % stride stays inside the slot.
        unsafe {
            let b = p.add(offset % g.slot_stride);
            b.write(b.read() ^ 1);
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped; no reference derived from
        // it outlives `self` (they all borrow `self`).
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Removes `os_name`; processes that have it mapped keep their mapping.
pub fn unlink(os_name: &str, name: &str) -> Result<()> {
    match rustix::fs::unlink(path_of(os_name)) {
        Ok(()) => Ok(()),
        Err(Errno::NOENT) => Err(Error::NotFound {
            name: name.to_owned(),
        }),
        Err(e) => Err(Error::io("shm_unlink", e)),
    }
}
