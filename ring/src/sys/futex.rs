//! CLOCK_MONOTONIC deadlines and futex waits on words in shared memory.
//!
//! The futexes are process-shared (no `FUTEX_PRIVATE_FLAG`): the kernel keys
//! them by the physical page, so processes that map the segment at different
//! addresses wait on the same word. Reference: futex(2), and Drepper,
//! "Futexes Are Tricky" (2011).

use rustix::thread::futex;
use rustix::time::{clock_gettime, ClockId, Timespec};
use std::num::NonZeroU32;
use std::sync::atomic::AtomicU32;
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
/// wake, value change, signal or timeout alike (the caller re-checks its
/// condition and the clock); true if the sleep ended because `deadline`
/// passed (`ETIMEDOUT`).
pub fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) -> bool {
    const MATCH_ANY: NonZeroU32 = NonZeroU32::MAX;
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
    // retried wait never stretches the total time.
    let ts = deadline.timespec();
    matches!(
        futex::wait_bitset(word, futex::Flags::empty(), expected, Some(&ts), MATCH_ANY),
        Err(rustix::io::Errno::TIMEDOUT)
    )
}

/// Wakes every process sleeping on `word`.
pub fn wake_all(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}
