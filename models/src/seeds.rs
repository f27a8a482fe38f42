//! The seeds of every randomised test in the workspace: fixed in CI and in
//! the README's test command, so that two runs check the same cases;
//! random only when asked for (the nightly command), and then printed, so
//! that a failure replays exactly.
//!
//! | `PROPTEST_RNG_SEED` | proptest's generator |
//! |---|---|
//! | unset | [`FIXED_SEED`] |
//! | a number | that number |
//! | `random` | a fresh seed, printed on stderr |
//!
//! A failing case is written by proptest as a regression file beside the
//! test's source (`proptest-regressions/`, one line per failure, the
//! case's own seed): commit it, and every later run replays it before the
//! generated cases.

use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use std::hash::{BuildHasher, Hasher};

/// The generator's seed when `PROPTEST_RNG_SEED` is unset.
pub const FIXED_SEED: u64 = 0x5249_4e47_5350_4543;

/// The seed named by `PROPTEST_RNG_SEED` ([`FIXED_SEED`] if unset; a
/// fresh one for `random`, the same for the whole process), and whether
/// it was drawn at random.
///
/// # Panics
/// If `PROPTEST_RNG_SEED` is neither a `u64` nor `random`: a nightly
/// command with a typo must not quietly run the fixed cases.
pub fn proptest_seed() -> (u64, bool) {
    // Drawn once per process, so that every test of a run, and every
    // record it writes, names the same seed.
    static SEED: std::sync::OnceLock<(u64, bool)> = std::sync::OnceLock::new();
    *SEED.get_or_init(draw)
}

fn draw() -> (u64, bool) {
    match std::env::var("PROPTEST_RNG_SEED") {
        Err(_) => (FIXED_SEED, false),
        Ok(v) if v == "random" => {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            (h.finish(), true)
        }
        Ok(v) => match v.parse() {
            Ok(n) => (n, false),
            Err(_) => panic!("PROPTEST_RNG_SEED={v:?} is neither a u64 nor \"random\""),
        },
    }
}

/// The proptest configuration of test `name`: `cases` cases (or
/// `PROPTEST_CASES`), the seed of [`proptest_seed`], failures persisted
/// as regression files beside the source. Prints the seed and the case
/// count on stderr, so a run's log says which cases it checked.
///
/// # Panics
/// As [`proptest_seed`].
pub fn proptest_config(name: &str, cases: u32) -> Config {
    let (seed, random) = proptest_seed();
    let cases = crate::env_or("PROPTEST_CASES", cases);
    eprintln!(
        "proptest {name}: seed {seed}{}, {cases} cases (replay: PROPTEST_RNG_SEED={seed})",
        if random { " (random)" } else { "" }
    );
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}
