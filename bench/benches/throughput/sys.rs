//! Every `unsafe` block of the bench: the libc calls with no safe wrapper
//! in the workspace's dependencies (POSIX message queues, a `SOCK_SEQPACKET`
//! socketpair and a pipe made with `CLOEXEC`, the shared mapping of the
//! cache-line ping-pong) and the adoption of a descriptor handed down by
//! the parent. Each returns owning types, so the scenario modules are safe
//! code; the items go through the descriptors with `rustix::io`.

use std::ffi::CString;
use std::io::Error;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::AtomicU64;

fn os_err(what: &str) -> String {
    format!("{what}: {}", Error::last_os_error())
}

/// Takes ownership of descriptor `fd`, which the parent left open across
/// `exec` for this process ([`crate::procs::Kid::spawn_with_fd`]).
pub fn adopt_inherited_fd(fd: i32) -> Result<OwnedFd, String> {
    // SAFETY: F_GETFD only reads the descriptor's flags; any number is
    // acceptable (a closed one gives EBADF).
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(os_err(&format!("inherited descriptor {fd}")));
    }
    // SAFETY: `fd` is open (checked above) and was handed down for this
    // role alone: nothing else in this process refers to it, and the role
    // adopts it once, so this `OwnedFd` is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A `SOCK_SEQPACKET` Unix-domain socketpair (close-on-exec): connected,
/// reliable, ordered, and one `send` is one message.
pub fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two ints, as socketpair(2) needs.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(os_err("socketpair"));
    }
    // SAFETY: socketpair succeeded, so both are fresh descriptors that
    // nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe (close-on-exec): (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2(2) needs.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_err("pipe2"));
    }
    // SAFETY: pipe2 succeeded, so both are fresh descriptors that nothing
    // else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A POSIX message queue descriptor; closed on drop, and the name removed
/// too if this handle created it.
pub struct MessageQueue {
    mqd: libc::mqd_t,
    name: CString,
    creator: bool,
    msgsize: usize,
}

impl MessageQueue {
    /// Creates queue `name` (`/` is prepended) of `maxmsg` messages of up
    /// to `msgsize` bytes; fails if the name exists.
    pub fn create(name: &str, maxmsg: usize, msgsize: usize) -> Result<Self, String> {
        let cname = CString::new(format!("/{name}")).map_err(|e| e.to_string())?;
        // SAFETY: an all-zero mq_attr is a valid value of the plain C struct.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        attr.mq_maxmsg = maxmsg as _;
        attr.mq_msgsize = msgsize as _;
        // SAFETY: `cname` is NUL-terminated and `attr` a valid mq_attr, both
        // alive for the call; with O_CREAT the variadic arguments are the
        // mode (as c_uint, after promotion) and a pointer to the attributes.
        let mqd = unsafe {
            libc::mq_open(
                cname.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
                &attr as *const libc::mq_attr,
            )
        };
        if mqd == -1 {
            return Err(os_err(&format!(
                "mq_open /{name} ({maxmsg} x {msgsize} B; see /proc/sys/fs/mqueue)"
            )));
        }
        Ok(MessageQueue {
            mqd,
            name: cname,
            creator: true,
            msgsize,
        })
    }

    /// Opens existing queue `name` (`/` is prepended) for reading and
    /// writing; `msgsize` must be its message size.
    pub fn open(name: &str, msgsize: usize) -> Result<Self, String> {
        let cname = CString::new(format!("/{name}")).map_err(|e| e.to_string())?;
        // SAFETY: `cname` is NUL-terminated and alive for the call; without
        // O_CREAT mq_open takes no further arguments.
        let mqd = unsafe { libc::mq_open(cname.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if mqd == -1 {
            return Err(os_err(&format!("mq_open /{name}")));
        }
        Ok(MessageQueue {
            mqd,
            name: cname,
            creator: false,
            msgsize,
        })
    }

    /// Sends one message, blocking while the queue is full.
    pub fn send(&self, msg: &[u8]) -> Result<(), String> {
        loop {
            // SAFETY: `msg` is readable for `msg.len()` bytes and `mqd` an
            // open queue descriptor owned by `self`.
            let rc = unsafe { libc::mq_send(self.mqd, msg.as_ptr().cast(), msg.len(), 0) };
            if rc == 0 {
                return Ok(());
            }
            if Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("mq_send"));
            }
        }
    }

    /// Receives the oldest message into `buf` (at least the queue's message
    /// size), blocking while the queue is empty; returns its length.
    pub fn receive(&self, buf: &mut [u8]) -> Result<usize, String> {
        assert!(buf.len() >= self.msgsize, "mq_receive needs msgsize bytes");
        loop {
            let mut prio = 0;
            // SAFETY: `buf` is writable for `buf.len()` bytes, `prio` is a
            // writable c_uint, and `mqd` an open queue descriptor owned by
            // `self`.
            let n = unsafe {
                libc::mq_receive(self.mqd, buf.as_mut_ptr().cast(), buf.len(), &mut prio)
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            if Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("mq_receive"));
            }
        }
    }
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        // SAFETY: `mqd` is open and owned by `self`, which is going away.
        unsafe { libc::mq_close(self.mqd) };
        if self.creator {
            // SAFETY: `name` is NUL-terminated.
            unsafe { libc::mq_unlink(self.name.as_ptr()) };
        }
    }
}

/// One 64-byte line of shared memory, mapped from a file in `/dev/shm`:
/// the cache-line ping-pong's only shared state. Unmapped on drop.
pub struct SharedLine {
    ptr: *mut u8,
}

impl SharedLine {
    /// Maps the first 4 KiB of `path` (created that long if `create`).
    pub fn map(path: &Path, create: bool) -> Result<SharedLine, String> {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(create)
            .open(path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        if create {
            file.set_len(4096).map_err(|e| format!("size: {e}"))?;
        }
        // SAFETY: a fresh shared mapping of 4096 bytes of a file at least
        // that long; it aliases no Rust object, and is only reached through
        // the AtomicU64 that `word` hands out.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(os_err("mmap"));
        }
        Ok(SharedLine { ptr: ptr.cast() })
    }

    pub fn word(&self) -> &AtomicU64 {
        // SAFETY: page-aligned, mapped for the life of `self`, and only ever
        // accessed atomically by both processes.
        unsafe { &*self.ptr.cast::<AtomicU64>() }
    }
}

impl Drop for SharedLine {
    fn drop(&mut self) {
        // SAFETY: unmaps what `map` mapped; `word` borrows `self`.
        unsafe { libc::munmap(self.ptr.cast(), 4096) };
    }
}
