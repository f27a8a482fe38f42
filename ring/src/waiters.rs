//! Waiter registries that heal: a 32-bit word counting the processes
//! registered as (about to be) sleeping on a futex, in its low
//! [`COUNT_BITS`] bits, under a generation in its high bits.
//!
//! A waker that finds registrations clears them all at once (a new
//! generation, count 0) and then wakes every sleeper; a woken waiter that
//! sleeps again registers afresh. A waiter that returns from its sleep
//! unwoken (timeout, nap, spurious return) removes its own registration,
//! but only if the generation is still the one it registered in: otherwise
//! a waker has already cleared it, and decrementing would remove someone
//! else's. So a waiter killed asleep is counted only until the next wake,
//! instead of for ever.
//!
//! The clearing keeps the store-buffering argument of the wake-up protocol
//! (a waiter's registration, an RMW, is followed by its read of the futex
//! word; the waker's commit is followed by its read of the registry): a
//! registration the waker clears was made before the waker's read, and
//! the `FUTEX_WAKE` that follows the clear reaches that waiter whether it
//! is asleep already or about to compare the futex word, which the commit
//! has changed.

use crate::sync::AtomicWord;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

/// Bits of a registry word that count registrations.
pub const COUNT_BITS: u32 = 16;
const COUNT_MASK: u32 = (1 << COUNT_BITS) - 1;

/// Registrations in registry word `w`.
pub fn count(w: u32) -> u32 {
    w & COUNT_MASK
}

/// Generation of registry word `w`.
pub fn generation(w: u32) -> u32 {
    w >> COUNT_BITS
}

/// `w` with its registrations cleared: the next generation, count 0.
pub fn cleared(w: u32) -> u32 {
    generation(w).wrapping_add(1) << COUNT_BITS
}

/// `w` with one registration of generation `gen` removed, or `None` if
/// `w` is of another generation or counts none (nothing to remove).
pub fn deregistered(w: u32, gen: u32) -> Option<u32> {
    (generation(w) == gen && count(w) != 0).then(|| w - 1)
}

/// Removes one registration of generation `gen` from the registry `word`,
/// unless a waker already cleared it.
pub(crate) fn deregister(word: &impl AtomicWord<u32>, gen: u32) {
    let mut w = word.load(Relaxed);
    while let Some(less) = deregistered(w, gen) {
        match word.compare_exchange(w, less, Relaxed, Relaxed) {
            Ok(_) => break,
            Err(now) => w = now,
        }
    }
}

/// Whether the registry value `seen` (read by a waker after its commit or
/// release) counts registrations; if so they are cleared (one exchange,
/// skipped if the word changed meanwhile) and the caller must wake every
/// sleeper, who registers afresh if it sleeps again.
pub(crate) fn take(word: &impl AtomicWord<u32>, seen: u32) -> bool {
    if count(seen) == 0 {
        return false;
    }
    let _ = word.compare_exchange(seen, cleared(seen), SeqCst, Relaxed);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_forgets_registrations_and_stale_deregistrations_do_nothing() {
        let w = 3u32; // generation 0, three registered
        assert_eq!(count(w), 3);
        let c = cleared(w);
        assert_eq!((generation(c), count(c)), (1, 0));
        assert_eq!(deregistered(c, 0), None, "registered before the clear");
        let again = c + 1; // one registration of generation 1
        assert_eq!(deregistered(again, 1), Some(c));
        assert_eq!(deregistered(again, 0), None);
        assert_eq!(generation(cleared(u32::MAX)), 0, "generations wrap");
    }
}
