//! The shuttle scenarios: larger than the small models (3 to 4 threads,
//! tens of operations), chosen by proptest.

use crate::item as items;
use crate::sync::thread;
use crate::sync::AtomicU64;
use crate::threads::{check, join, model_item, spawn, Log};
use crate::{ModelRing, Wait};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// A shuttle scenario: a ring geometry and each thread's operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Slots, items.
    pub capacity: u32,
    /// Largest item, bytes; at least 3.
    pub item_size: u32,
    /// Per producer thread: each put's item length (bytes, 3 to
    /// `item_size`) and wait.
    pub producers: Vec<Vec<(u32, Wait)>>,
    /// Per consumer thread: each get's wait.
    pub consumers: Vec<Vec<Wait>>,
}

/// Generates [`Scenario`]s: capacity 1 to 8 (edges favoured), item size 3
/// to 16 bytes, 1 or 2 producers and 1 or 2 consumers with at least 3
/// threads in all, 5 to `max_ops` operations each, a third of them not
/// waiting, a third waiting a few model ms and a third waiting for ever.
pub fn scenario_strategy(max_ops: usize) -> impl Strategy<Value = Scenario> {
    let wait = prop_oneof![
        Just(Wait::No),
        (1u64..4).prop_map(Wait::Ms),
        Just(Wait::Forever),
    ];
    let geometry = (prop_oneof![Just(1u32), Just(2), 1u32..=8], 3u32..=16);
    (geometry, 1usize..=2, 1usize..=2)
        .prop_filter("at least 3 threads", |(_, p, c)| p + c >= 3)
        .prop_flat_map(move |((capacity, item_size), p, c)| {
            let put = (3..=item_size, wait.clone());
            let ops = 5..=max_ops.max(5);
            (
                Just(capacity),
                Just(item_size),
                proptest::collection::vec(proptest::collection::vec(put, ops.clone()), p),
                proptest::collection::vec(proptest::collection::vec(wait.clone(), ops), c),
            )
        })
        .prop_map(|(capacity, item_size, producers, consumers)| Scenario {
            capacity,
            item_size,
            producers,
            consumers,
        })
}

/// Runs `scenario` on `ring` (of the scenario's geometry): producers and
/// consumers run their operations while the main thread advances the clock
/// (so timed waits expire); once every producer is done, the main thread
/// puts one end marker per consumer, waiting for ever, and each consumer,
/// after its own operations, waits for ever until it takes one. The ring is
/// then empty, and the whole history must be linearizable with nothing
/// lost. Every wait for ever must be woken.
///
/// For shuttle and plain threads; the clock loop is too long for loom.
///
/// # Panics
/// On a violation, or if `ring`'s geometry is not the scenario's.
pub fn run_scenario<R: ModelRing>(ring: R, scenario: &Scenario) {
    assert_eq!(ring.capacity(), scenario.capacity as usize);
    let clock = Arc::new(AtomicU64::new(0));
    let producers_done = Arc::new(AtomicUsize::new(0));
    let end_len = 3.min(scenario.item_size as usize);
    const END: u8 = 0xff;
    let producers: Vec<_> = scenario
        .producers
        .iter()
        .enumerate()
        .map(|(p, ops)| {
            let ops = ops.clone();
            let done = Arc::clone(&producers_done);
            spawn(&ring, p, &clock, move |r, log| {
                for (seq, &(len, wait)) in ops.iter().enumerate() {
                    let _ = log.put(r, &model_item(p, seq, len as usize), wait);
                }
                done.fetch_add(1, SeqCst);
            })
        })
        .collect();
    let first_consumer = scenario.producers.len();
    let consumers: Vec<_> = scenario
        .consumers
        .iter()
        .enumerate()
        .map(|(c, ops)| {
            let ops = ops.clone();
            spawn(&ring, first_consumer + c, &clock, move |r, log| {
                let is_end = |v: &Option<Vec<u8>>| {
                    v.as_deref()
                        .and_then(items::decode_process_item)
                        .is_some_and(|(p, _)| p == END)
                };
                for &wait in &ops {
                    if let Ok(v) = log.get(r, wait) {
                        if is_end(&v) {
                            return;
                        }
                    }
                }
                while !matches!(log.get(r, Wait::Forever), Ok(v) if is_end(&v)) {}
            })
        })
        .collect();
    while producers_done.load(SeqCst) < scenario.producers.len() {
        ring.advance_clock();
        thread::yield_now();
    }
    let main_id = first_consumer + scenario.consumers.len();
    let mut main = Log::new(main_id, &clock);
    for k in 0..scenario.consumers.len() {
        assert_eq!(
            main.put(&ring, &model_item(END as usize, k, end_len), Wait::Forever),
            Ok(true)
        );
    }
    let mut logs = vec![];
    for h in producers.into_iter().chain(consumers) {
        logs.push(join(h).0);
    }
    assert_eq!(
        main.get(&ring, Wait::No),
        Ok(None),
        "the ring must be empty at the end"
    );
    logs.push(main);
    check(logs, ring.capacity(), true);
}
