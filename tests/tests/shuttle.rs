//! shuttle tests of the ring core: proptest chooses a scenario (capacity,
//! item sizes, 3 to 4 threads with tens of operations each, a mix of
//! non-blocking, timed and unbounded waits) and shuttle runs it on the heap
//! ring under its random scheduler and its PCT scheduler (Burckhardt et
//! al., "A Randomized Scheduler with Probabilistic Guarantees of Finding
//! Bugs", ASPLOS 2010), checking every history for linearizability.
//!
//! ```text
//! RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle \
//!   cargo nextest run -p ringspec-tests -E 'test(shuttle)'
//! ```
//!
//! Budget: `SHMRING_SHUTTLE_ITERATIONS` schedules per scheduler and
//! scenario (default 50) and `PROPTEST_CASES` scenarios (default 16).
//!
//! A failure prints the scenario as JSON, the scheduler and its seed, and
//! shuttle's encoded schedule, with the command that replays it exactly:
//!
//! ```text
//! SHMRING_SHUTTLE_SCENARIO='{...}' SHMRING_SHUTTLE_SCHEDULE='9102...' \
//!   RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle \
//!   cargo nextest run -p ringspec-tests -E 'test(shuttle_replay)'
//! ```

#![cfg(all(shuttle, not(loom)))]

use proptest::prelude::*;
use ringcheck_models::{self as models, env_or, Scenario, Wait};
use shmring::model::{heap_ring, heap_ring_with_fault, Fault, HeapRing};
use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::{Config, Runner};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Mixed with a CRC of the scenario into the schedulers' seed: each
/// scenario gets its own schedules, and a scenario's run is a function of
/// the scenario, so proptest can shrink it.
const SEED: u64 = 0x5eed_0f5a_1e55;

fn seed_of(s: &Scenario) -> u64 {
    let json = serde_json::to_string(s).expect("scenario to JSON");
    SEED ^ (u64::from(crc32fast::hash(json.as_bytes())) << 16)
}
/// PCT depth: bugs that need up to this many ordering constraints.
const PCT_DEPTH: usize = 3;

fn iterations() -> usize {
    env_or("SHMRING_SHUTTLE_ITERATIONS", 50)
}

fn cases() -> u32 {
    env_or("PROPTEST_CASES", 16)
}

fn config() -> Config {
    let mut config = Config::new();
    // Its warning says that it treats every ordering as SeqCst: the Relaxed
    // fault is loom's to find (tests/loom.rs).
    config.silence_warnings = true;
    config
}

fn ring(s: &Scenario, fault: Option<Fault>) -> HeapRing {
    match fault {
        None => heap_ring(s.capacity, s.item_size),
        Some(f) => heap_ring_with_fault(s.capacity, s.item_size, f),
    }
}

fn body(s: &Scenario, fault: Option<Fault>) -> impl Fn() + Send + Sync + 'static {
    let s = s.clone();
    move || models::run_scenario(ring(&s, fault), &s)
}

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Runs `s` under the random, then the PCT scheduler. On a failure returns
/// a report with everything needed to replay it.
fn explore(s: &Scenario, fault: Option<Fault>) -> Result<(), String> {
    let n = iterations();
    let seed = seed_of(s);
    let random = catch_unwind(AssertUnwindSafe(|| {
        Runner::new(RandomScheduler::new_from_seed(seed, n), config()).run(body(s, fault))
    }));
    let outcome = match random {
        Ok(_) => catch_unwind(AssertUnwindSafe(|| {
            Runner::new(PctScheduler::new_from_seed(seed, PCT_DEPTH, n), config())
                .run(body(s, fault))
        }))
        .map(drop)
        .map_err(|p| ("pct", p)),
        Err(p) => Err(("random", p)),
    };
    outcome.map_err(|(scheduler, payload)| {
        let msg = message(payload);
        let json = serde_json::to_string(s).expect("scenario to JSON");
        let schedule = schedule_of(&msg).unwrap_or_default();
        let fault_env = fault.map_or(String::new(), |f| format!("SHMRING_SHUTTLE_FAULT={f:?} "));
        format!(
            "shuttle ({scheduler} scheduler, seed {seed:#x}, {n} iterations) found a failing \
             schedule of scenario\n{json}\n{msg}\nreplay:\n  {fault_env}SHMRING_SHUTTLE_SCENARIO='{json}' \
             SHMRING_SHUTTLE_SCHEDULE='{schedule}' RUSTFLAGS=\"--cfg shuttle\" \
             CARGO_TARGET_DIR=target/shuttle cargo nextest run -p ringspec-tests -E \
             'test(shuttle_replay)'"
        )
    })
}

/// The encoded schedule in a shuttle failure message: the hex lines between
/// the quotes after "failing schedule:", joined (shuttle wraps it).
fn schedule_of(msg: &str) -> Option<String> {
    let rest = &msg[msg.find("failing schedule:")?..];
    let open = rest.find('"')?;
    let quoted = &rest[open + 1..];
    let close = quoted.find('"')?;
    let schedule: String = quoted[..close].split_whitespace().collect();
    (!schedule.is_empty() && schedule.chars().all(|c| c.is_ascii_hexdigit())).then_some(schedule)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn shuttle_scenarios_are_linearizable(s in models::scenario_strategy(30)) {
        if let Err(report) = explore(&s, None) {
            panic!("{report}");
        }
    }
}

/// A scenario with enough contention for every seeded fault.
fn contended() -> Scenario {
    let puts = |n: usize| {
        (0..n)
            .map(|k| (3 + (k % 6) as u32, Wait::Forever))
            .collect()
    };
    Scenario {
        capacity: 2,
        item_size: 8,
        producers: vec![puts(10), puts(10)],
        consumers: vec![
            vec![Wait::Forever; 8],
            (0..8)
                .map(|k| if k % 2 == 0 { Wait::No } else { Wait::Ms(2) })
                .collect(),
        ],
    }
}

/// Requires shuttle to find `fault` in the contended scenario, then replays
/// the schedule it printed and requires the same failure.
fn finds(fault: Fault) {
    let s = contended();
    let report = match explore(&s, Some(fault)) {
        Ok(()) => panic!("shuttle did not find {fault:?}"),
        Err(report) => report,
    };
    eprintln!("{report}");
    let schedule = schedule_of(&report).expect("the report carries the encoded schedule");
    let replayed = catch_unwind(AssertUnwindSafe(|| {
        shuttle::replay(body(&s, Some(fault)), &schedule)
    }))
    .map_err(message)
    .expect_err("replaying the printed schedule did not fail again");
    // The same failure: deadlock, history violation or failed operation.
    let kind = ["deadlock!", "history is not linearizable", "failed:"]
        .into_iter()
        .find(|k| report.contains(k))
        .expect("a known kind of failure");
    assert!(
        replayed.contains(kind),
        "the replay of {fault:?} failed differently:\n{replayed}"
    );
}

#[test]
fn shuttle_finds_missed_notify() {
    finds(Fault::MissedNotify);
}

#[test]
fn shuttle_finds_commit_outside_lock() {
    finds(Fault::CommitOutsideLock);
}

#[test]
fn shuttle_finds_publish_before_write() {
    finds(Fault::PublishBeforeWrite);
}

#[test]
fn shuttle_finds_wake_before_commit() {
    finds(Fault::WakeBeforeCommit);
}

#[test]
fn shuttle_finds_commit_before_copy() {
    finds(Fault::CommitBeforeCopy);
}

#[test]
fn shuttle_passes_the_correct_core_on_the_contended_scenario() {
    explore(&contended(), None).unwrap_or_else(|r| panic!("{r}"));
}

/// Replays a reported failure: `SHMRING_SHUTTLE_SCENARIO` (the JSON) and
/// `SHMRING_SHUTTLE_SCHEDULE` (shuttle's encoded schedule), optionally
/// `SHMRING_SHUTTLE_FAULT` (a `Fault` name). Without them it replays the
/// contended scenario's first random schedule, which must pass.
#[test]
fn shuttle_replay() {
    let scenario = std::env::var("SHMRING_SHUTTLE_SCENARIO").ok();
    let schedule = std::env::var("SHMRING_SHUTTLE_SCHEDULE").ok();
    let fault = std::env::var("SHMRING_SHUTTLE_FAULT").ok().map(|name| {
        *Fault::ALL
            .iter()
            .find(|f| format!("{f:?}") == name)
            .unwrap_or_else(|| panic!("unknown fault {name}; one of {:?}", Fault::ALL))
    });
    match (scenario, schedule) {
        (Some(json), Some(schedule)) => {
            let s: Scenario =
                serde_json::from_str(&json).expect("SHMRING_SHUTTLE_SCENARIO is a scenario");
            shuttle::replay(body(&s, fault), &schedule);
        }
        (None, None) => {
            Runner::new(
                RandomScheduler::new_from_seed(seed_of(&contended()), 1),
                config(),
            )
            .run(body(&contended(), None));
        }
        _ => panic!("set both SHMRING_SHUTTLE_SCENARIO and SHMRING_SHUTTLE_SCHEDULE"),
    }
}
