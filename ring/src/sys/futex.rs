//! CLOCK_MONOTONIC deadlines and futex waits on words in shared memory.
//!
//! The futexes are process-shared (no `FUTEX_PRIVATE_FLAG`): the kernel keys
//! them by the physical page, so processes that map the segment at different
//! addresses wait on the same word. Reference: futex(2), and Drepper,
//! "Futexes Are Tricky" (2011).

use rustix::thread::futex;
use rustix::time::{clock_gettime, ClockId, Timespec};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

/// Nanoseconds of CLOCK_MONOTONIC: the same clock in every process of the
/// host.
pub fn monotonic_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// An absolute CLOCK_MONOTONIC instant, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(pub u64);

impl Deadline {
    /// Now plus `d`, saturating.
    pub fn after(d: Duration) -> Self {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Deadline(monotonic_ns().saturating_add(ns))
    }

    /// Whether the deadline has passed.
    pub fn passed(self) -> bool {
        monotonic_ns() >= self.0
    }

    pub fn timespec(self) -> Timespec {
        Timespec {
            tv_sec: (self.0 / 1_000_000_000) as i64,
            tv_nsec: (self.0 % 1_000_000_000) as i64,
        }
    }
}

/// Sleeps while `*word == expected`, until woken or `deadline`. Returns on
/// wake, value change, signal or timeout alike: the caller re-checks its
/// condition and the clock.
pub fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) {
    const MATCH_ANY: NonZeroU32 = NonZeroU32::MAX;
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
    // retried wait never stretches the total time.
    let ts = deadline.timespec();
    let _ = futex::wait_bitset(word, futex::Flags::empty(), expected, Some(&ts), MATCH_ANY);
}

/// Wakes every process sleeping on `word`.
pub fn wake_all(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// Address of the low 32 bits of `word`, the futex word of a 64-bit index.
fn low_half(word: &AtomicU64) -> *const u32 {
    let base = word.as_ptr().cast::<u32>();
    if cfg!(target_endian = "little") {
        base
    } else {
        // SAFETY: the second u32 of an 8-byte object is in bounds.
        unsafe { base.add(1) }
    }
}

/// Sleeps while the low 32 bits of `*word` equal those of `expected`, until
/// woken by [`wake_all_low`] or `deadline`. Returns on wake, value change,
/// signal or timeout alike.
///
/// The low half of a 64-bit index serves the ring as a futex word: for
/// the index to move by a multiple of 2^32 between a waiter's read and its
/// sleep, 2^32 operations would have to complete in that window, and even
/// then the miss costs one capped nap, since every sleep of the ring ends
/// within 100 ms. The address goes to the kernel as a raw pointer; no Rust
/// reference to the half is made, so there is no mixed-size access in the
/// program.
pub fn wait_low(word: &AtomicU64, expected: u64, deadline: Deadline) {
    let ts = deadline.timespec();
    let ts = libc::timespec {
        tv_sec: ts.tv_sec as libc::time_t,
        tv_nsec: ts.tv_nsec as libc::c_long,
    };
    // SAFETY: the address is that of a live, 4-byte aligned u32 inside
    // `word` (an AtomicU64 is 8-byte aligned), which the kernel reads
    // atomically; `ts` lives across the call. FUTEX_WAIT_BITSET takes an
    // absolute CLOCK_MONOTONIC deadline. The result is ignored: every
    // return (wake, EAGAIN, EINTR, ETIMEDOUT) leads the caller to re-check.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            low_half(word),
            libc::FUTEX_WAIT_BITSET,
            expected as u32,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        );
    }
}

/// Wakes every process sleeping on the low half of `word` ([`wait_low`]).
pub fn wake_all_low(word: &AtomicU64) {
    // SAFETY: as in `wait_low`; FUTEX_WAKE only reads the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            low_half(word),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        );
    }
}
