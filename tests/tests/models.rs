//! ringcheck_models' schedule models over the heap ring on plain `std` threads:
//! the same scenarios that `tests/loom.rs` and `tests/shuttle.rs` explore,
//! here as a stress run of the real OS scheduler, so that the models and
//! the heap ring are exercised by every `cargo nextest run`.

#![cfg(not(any(loom, shuttle)))]

use proptest::prelude::*;
use ringcheck_models::{self as models, KillPoint, Wait};
use shmring::model::heap_ring;

const ROUNDS: usize = 200;

#[test]
fn models_std_small_models_hold_on_os_threads() {
    for _ in 0..ROUNDS {
        models::put_get(heap_ring(2, 4));
        models::boundaries(heap_ring(1, 4));
        models::boundaries(heap_ring(2, 4));
        models::wrap_around(heap_ring(2, 4));
        models::get_woken_by_put(heap_ring(1, 4), Wait::Forever);
        models::get_woken_by_put(heap_ring(1, 4), Wait::Ms(3_600_000));
        models::put_woken_by_get(heap_ring(1, 4), Wait::Forever);
        models::put_woken_by_get(heap_ring(1, 4), Wait::Ms(3_600_000));
        models::timeout_expires(heap_ring(1, 4));
        models::put_timeout_expires(heap_ring(1, 4));
        models::two_producers_one_consumer(heap_ring(1, 4));
        for point in [
            KillPoint::PutHalfWritten,
            KillPoint::PutCommitted,
            KillPoint::GetCopied,
        ] {
            models::owner_killed(heap_ring(2, 4), point);
        }
    }
}

// Seeded faults are refused outside loom and shuttle at compile time now:
// `shmring::model::Fault` does not exist in this build (the `compile_fail`
// doc test of `shmring::model` checks it).

proptest! {
    #![proptest_config(ringcheck_models::proptest_config("models_std_scenarios_hold_on_os_threads", 24))]

    #[test]
    fn models_std_scenarios_hold_on_os_threads(s in models::scenario_strategy(20)) {
        models::run_scenario(heap_ring(s.capacity, s.item_size), &s);
    }
}
