//! A process-shared, robust `pthread_mutex_t` living in the segment.
//!
//! Robustness comes from the kernel: glibc puts every robust mutex a thread
//! holds on that thread's robust list (set_robust_list(2)); when the thread
//! dies, however it dies, the kernel marks the lock word `FUTEX_OWNER_DIED`
//! and wakes one waiter, whose lock call then returns `EOWNERDEAD`. The new
//! owner repairs the protected state and calls `pthread_mutex_consistent`.
//! Reference: pthread_mutexattr_setrobust(3), Linux
//! `Documentation/locking/robust-futexes.rst`.

use super::futex::Deadline;
use std::cell::UnsafeCell;

/// Storage for the mutex. glibc's `pthread_mutex_t` is 40 bytes on x86_64
/// and 48 on aarch64; the header gives it a whole cache line.
#[repr(C)]
pub struct RawMutex(UnsafeCell<libc::pthread_mutex_t>);

const _: () = assert!(std::mem::size_of::<RawMutex>() <= 64);

// SAFETY: pthread mutexes are designed to be used from many threads (and,
// with PTHREAD_PROCESS_SHARED, many processes) at once through a shared
// pointer.
unsafe impl Sync for RawMutex {}

/// How a lock was acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// The previous owner unlocked normally.
    Clean,
    /// The previous owner died holding the lock; the caller must check the
    /// protected state, then call [`RawMutex::mark_consistent`].
    OwnerDied,
}

/// Why a lock was not acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockError {
    /// The deadline passed while a live owner held the lock.
    Timeout,
    /// A previous owner-died recovery was abandoned (unlocked without
    /// `pthread_mutex_consistent`); the mutex is permanently unusable.
    NotRecoverable,
    /// Any other errno.
    Os(i32),
}

/// `trylock` rounds before a contended lock sleeps in the kernel.
pub const SPIN_TRIES: u32 = 100;

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
compile_error!(
    "shmring needs Linux with glibc (robust process-shared mutexes, pthread_mutex_clocklock)"
);

extern "C" {
    // glibc >= 2.30; the libc crate does not bind it yet.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clockid: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

impl RawMutex {
    /// Initialises the mutex in place as process-shared and robust.
    ///
    /// # Safety
    /// `this` points to writable memory of the segment that no process uses
    /// as a mutex yet (the creator calls this before publishing the header).
    pub unsafe fn init(this: *const RawMutex) -> Result<(), i32> {
        // SAFETY: attr is a local that pthread_mutexattr_init initialises
        // before use; the mutex pointer is valid and not in use (caller).
        unsafe {
            let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            let a = attr.as_mut_ptr();
            let mut rc = libc::pthread_mutexattr_init(a);
            if rc == 0 {
                rc = libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED);
            }
            if rc == 0 {
                rc = libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST);
            }
            if rc == 0 {
                rc = libc::pthread_mutex_init((*this).0.get(), a);
            }
            libc::pthread_mutexattr_destroy(a);
            if rc == 0 {
                Ok(())
            } else {
                Err(rc)
            }
        }
    }

    /// Locks, waiting at most `timeout`.
    ///
    /// Critical sections are a few hundred nanoseconds, and glibc's robust
    /// mutexes never spin: a contended lock would put the caller to sleep in
    /// the kernel and make the unlocker pay a futex wake. So it first polls
    /// with `trylock` (which also reports `EOWNERDEAD`) for up to
    /// [`SPIN_TRIES`] rounds, and only then blocks with a CLOCK_MONOTONIC
    /// deadline, computed only on that slow path.
    pub fn lock(&self, timeout: std::time::Duration) -> Result<Acquired, LockError> {
        for _ in 0..SPIN_TRIES {
            // SAFETY: the mutex was initialised by the creator before the
            // header was published (init_state READY, read with Acquire by
            // every opener), and the mapping outlives `self`.
            match unsafe { libc::pthread_mutex_trylock(self.0.get()) } {
                0 => return Ok(Acquired::Clean),
                libc::EOWNERDEAD => return Ok(Acquired::OwnerDied),
                libc::EBUSY => std::hint::spin_loop(),
                libc::ENOTRECOVERABLE => return Err(LockError::NotRecoverable),
                e => return Err(LockError::Os(e)),
            }
        }
        let ts = Deadline::after(timeout).timespec();
        let abstime = libc::timespec {
            tv_sec: ts.tv_sec as libc::time_t,
            tv_nsec: ts.tv_nsec as _,
        };
        // SAFETY: as above.
        let rc = unsafe { pthread_mutex_clocklock(self.0.get(), libc::CLOCK_MONOTONIC, &abstime) };
        match rc {
            0 => Ok(Acquired::Clean),
            libc::EOWNERDEAD => Ok(Acquired::OwnerDied),
            libc::ETIMEDOUT => Err(LockError::Timeout),
            libc::ENOTRECOVERABLE => Err(LockError::NotRecoverable),
            e => Err(LockError::Os(e)),
        }
    }

    /// Marks the state consistent after an [`Acquired::OwnerDied`] lock.
    pub fn mark_consistent(&self) {
        // SAFETY: called only by the current owner after EOWNERDEAD.
        unsafe {
            libc::pthread_mutex_consistent(self.0.get());
        }
    }

    /// Unlocks.
    pub fn unlock(&self) {
        // SAFETY: called only by the current owner (the lock guard).
        unsafe {
            libc::pthread_mutex_unlock(self.0.get());
        }
    }
}
