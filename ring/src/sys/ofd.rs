//! Open-file-description record locks (`F_OFD_SETLK`, `F_OFD_GETLK`) on
//! single bytes of the segment's file, far beyond its end: the kernel's
//! proof that a handle is alive.
//!
//! An OFD lock belongs to the open file description, not to a process or a
//! pid: it is released when the last descriptor of that description is
//! closed, which the kernel does for every descriptor of a process that
//! dies, however it dies. Locks of one description never conflict with
//! each other, and locks of two descriptions (two handles, in one process
//! or two) always do. Nothing about them lives in the shared memory, so no
//! write to the segment can forge or remove one. Reference: fcntl(2), "Open
//! file description locks (non-POSIX)".

use rustix::fd::{AsRawFd, BorrowedFd};
use std::io;

/// A whole-byte write lock request on byte `offset`.
fn request(kind: libc::c_short, offset: u64) -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers, valid all-zero.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = offset as libc::off_t;
    lock.l_len = 1;
    // F_OFD_* requires l_pid 0.
    lock.l_pid = 0;
    lock
}

/// Takes a write lock on byte `offset` for this open file description,
/// without waiting: `Ok(false)` if another description holds it.
pub fn try_lock(fd: BorrowedFd<'_>, offset: u64) -> io::Result<bool> {
    let mut lock = request(libc::F_WRLCK as libc::c_short, offset);
    // SAFETY: `fd` is a live descriptor for the duration of the call and
    // `lock` a valid, initialised flock the kernel only reads.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(err),
    }
}

/// Whether another open file description holds a lock on byte `offset`
/// (a description's own locks do not count: they never conflict with it).
pub fn held_by_other(fd: BorrowedFd<'_>, offset: u64) -> io::Result<bool> {
    let mut lock = request(libc::F_WRLCK as libc::c_short, offset);
    // SAFETY: as in `try_lock`; the kernel writes the answer into `lock`.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
}
