//! ringcheck's schedule models over the heap ring on plain `std` threads:
//! the same scenarios that `tests/loom.rs` and `tests/shuttle.rs` explore,
//! here as a stress run of the real OS scheduler, so that the models and
//! the heap ring are exercised by every `cargo nextest run`.

#![cfg(not(any(loom, feature = "shuttle")))]

use proptest::prelude::*;
use ringcheck::models::{self, heap_ring, KillPoint, Wait};
use shmring::core::Fault;
use shmring::heap::HeapMemory;

const ROUNDS: usize = 200;

#[test]
fn models_std_small_models_hold_on_os_threads() {
    for _ in 0..ROUNDS {
        models::put_get(heap_ring(2, 4, None));
        models::boundaries(heap_ring(1, 4, None));
        models::boundaries(heap_ring(2, 4, None));
        models::wrap_around(heap_ring(2, 4, None));
        models::get_woken_by_put(heap_ring(1, 4, None), Wait::Forever);
        models::get_woken_by_put(heap_ring(1, 4, None), Wait::Ms(3_600_000));
        models::put_woken_by_get(heap_ring(1, 4, None), Wait::Forever);
        models::put_woken_by_get(heap_ring(1, 4, None), Wait::Ms(3_600_000));
        models::timeout_expires(heap_ring(1, 4, None));
        models::put_timeout_expires(heap_ring(1, 4, None));
        models::two_producers_one_consumer(heap_ring(1, 4, None));
        for point in [
            KillPoint::PutHalfWritten,
            KillPoint::PutCommitted,
            KillPoint::GetCopied,
        ] {
            models::owner_killed(heap_ring(2, 4, None), point);
        }
    }
}

#[test]
fn models_std_seeded_faults_are_refused_outside_loom_and_shuttle() {
    for fault in Fault::ALL {
        let err = HeapMemory::with_fault(2, 4, fault).unwrap_err();
        assert!(err.to_string().contains("loom or shuttle"), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn models_std_scenarios_hold_on_os_threads(s in models::scenario_strategy(20)) {
        models::run_scenario(heap_ring(s.capacity, s.item_size, None), &s);
    }
}
