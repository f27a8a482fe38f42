//! Waiter registries that heal, and the futex words sleepers wait on: a
//! 32-bit word counting the processes registered as (about to be)
//! sleeping, in its low [`COUNT_BITS`] bits, under a generation in its high
//! bits.
//!
//! # Protocol
//! A waiter registers (`fetch_add(1)`, SeqCst), which tells it the
//! generation `g` it registered in; issues its half of the store-buffering
//! pair (a SeqCst fence); re-reads the condition it waits for (an index, a
//! lock word) and, if it still blocks, reads the registry again and sleeps
//! **on the registry word itself**, expecting the value it just read, but
//! only if that value is still of generation `g` ([`current`]). On return,
//! it removes its own registration if the generation is still `g`
//! ([`deregister`]).
//!
//! A waker changes the condition, issues its half of the pair, and reads
//! the registry. If it counts registrations, the waker moves the word to a
//! new generation with count 0 ([`take`]: a compare-exchange retried until
//! it succeeds, so the generation always moves) and then wakes every
//! sleeper on the word. A woken waiter that must still wait registers
//! afresh.
//!
//! # Why the sleep is on the registry
//! Every clear is followed by a wake on the very word whose change the
//! sleepers compare, so a registration that a clear removes belongs to a
//! waiter that either is asleep on the word (and the wake reaches it) or
//! has not compared yet (and its compare fails: the generation moved).
//! Whichever waker cleared it, no waiter sleeps unregistered. The
//! store-buffering pair gives the rest: either the waker's read of the
//! registry sees the registration (and it clears and wakes), or the
//! waiter's re-read sees the changed condition (and it does not sleep).
//!
//! An earlier design slept on the condition's own word (an index's low
//! half, the lock word) and cleared the registry by one compare-exchange
//! from the value the waker had read. shuttle found the hole: a waker
//! `W` read a registration of consumer `C` (`C` then saw `W`'s commit and
//! took the item without sleeping, deregistering), `C` blocked again on
//! the *next* empty ring and registered again, restoring the very value
//! `W` had read; `W`'s exchange succeeded and cleared `C`'s new
//! registration, `W`'s wake reached nobody (`C` had not slept yet), and `C`
//! slept on the index with its registration gone. The next commit saw a
//! count of 0 and did not wake it: a lost wake-up, a hang in the models,
//! a 100 ms stall per occurrence in processes, where every sleep is capped.
//! A clear could remove a registration whose waiter it never wakes; now the
//! clear itself is what that waiter's futex compares.
//!
//! # Healing
//! A waiter killed asleep stays counted only until the next wake clears
//! the registry, instead of for ever; a waiter that returns unwoken
//! (timeout, nap, spurious return) removes only its own registration, and
//! only in the generation it registered in: after a clear, decrementing
//! would remove someone else's.
//!
//! # Limits
//! The generation has 16 bits. A waiter stopped between reading the
//! registry and its futex compare while exactly a multiple of 65,536 clears
//! go by could sleep with its registration cleared, and its late
//! deregistration could remove another's; either costs at most one nap
//! (every sleep is capped), and needs 65,536 wakes inside that one stop.
//!
//! A process that writes the word (a hostile or broken one) cannot make a
//! waiter hang or panic: a sleeper whose compare fails returns at once and
//! retries its operation, and a sleep that a lost clear leaves unwoken ends
//! by its nap. While the writes go on, waiters keep returning early (each
//! retry costs a spin, the barrier and a failed futex call), and the
//! exchanges of [`take`] and [`deregister`] give up after [`TRIES`]
//! attempts so that a waker is never held up by them.

use crate::sync::AtomicWord;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

/// Compare-exchange attempts of [`take`] and [`deregister`] before they
/// give up on a word that keeps changing under them (only writes from
/// outside the protocol change it that often).
pub const TRIES: u32 = 64;

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

/// Registers one waiter in `word` (SeqCst: the waiter's half of the
/// store-buffering pair starts here); returns the generation it registered
/// in.
pub(crate) fn register(word: &impl AtomicWord<u32>) -> u32 {
    generation(word.fetch_add(1, SeqCst))
}

/// The registry's value to sleep on, if it is still of generation `gen`;
/// `None` once a waker cleared the registration (the caller must not
/// sleep: the waker's wake may already have gone out).
pub(crate) fn current(word: &impl AtomicWord<u32>, gen: u32) -> Option<u32> {
    let w = word.load(SeqCst);
    (generation(w) == gen).then_some(w)
}

/// Removes one registration of generation `gen` from the registry `word`,
/// unless a waker already cleared it.
pub(crate) fn deregister(word: &impl AtomicWord<u32>, gen: u32) {
    let mut w = word.load(Relaxed);
    for _ in 0..TRIES {
        let Some(less) = deregistered(w, gen) else {
            return;
        };
        match word.compare_exchange(w, less, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(now) => w = now,
        }
    }
}

/// Whether the registry value `seen` (read by a waker after its commit or
/// release) counts registrations; if so the registry moves to a new
/// generation with count 0 and the caller must wake every sleeper on
/// `word`. The exchange is retried, whatever the word became meanwhile:
/// registrations made since `seen` are cleared too, which is safe because
/// their waiters compare this word before they sleep. (Up to [`TRIES`]
/// attempts: the protocol's own RMWs cannot fail it that often.)
pub(crate) fn take(word: &impl AtomicWord<u32>, seen: u32) -> bool {
    if count(seen) == 0 {
        return false;
    }
    let mut w = seen;
    for _ in 0..TRIES {
        match word.compare_exchange(w, cleared(w), SeqCst, Relaxed) {
            Ok(_) => break,
            Err(now) => w = now,
        }
    }
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
