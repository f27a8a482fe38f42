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
//! # Seeds
//! Every run checks the same cases: proptest draws the scenarios from a
//! fixed seed (`ringcheck_models::seeds`, printed on stderr), and each
//! scenario's schedulers are seeded from the scenario itself. The nightly
//! command draws fresh scenarios and explores deeper:
//!
//! ```text
//! PROPTEST_RNG_SEED=random PROPTEST_CASES=200 SHMRING_SHUTTLE_ITERATIONS=500 \
//!   RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle \
//!   cargo nextest run -p ringspec-tests --profile shuttle
//! ```
//!
//! A failure on the correct core writes two regression files, to commit:
//! proptest's (`proptest-regressions/tests/shuttle.txt`, the scenario's
//! seed) and this file's own (`shuttle-regressions/found-SEED.json`: the
//! scenario, the scheduler, its seed and budget, and the failing
//! schedule). `shuttle_regressions_pass` re-runs every record with its
//! scheduler, seed and budget on each run, so a failure found at depth is
//! checked by every later CI run, at that depth, even once the code
//! changed and the recorded schedule no longer applies.
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
use serde::{Deserialize, Serialize};
use shmring::model::{heap_ring, heap_ring_with_fault, Fault, HeapRing};
use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::{Config, Runner};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

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

/// Which of shuttle's schedulers a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Scheduler {
    /// `RandomScheduler`.
    Random,
    /// `PctScheduler` at depth [`PCT_DEPTH`].
    Pct,
}

/// Runs `s` with `scheduler` seeded with `seed` for `iterations`
/// schedules; the panic's message on a failure.
fn run_with(
    s: &Scenario,
    fault: Option<Fault>,
    scheduler: Scheduler,
    seed: u64,
    iterations: usize,
) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| match scheduler {
        Scheduler::Random => {
            Runner::new(RandomScheduler::new_from_seed(seed, iterations), config())
                .run(body(s, fault))
        }
        Scheduler::Pct => Runner::new(
            PctScheduler::new_from_seed(seed, PCT_DEPTH, iterations),
            config(),
        )
        .run(body(s, fault)),
    }))
    .map(drop)
    .map_err(message)
}

/// A failure of the correct core, kept so that every later run checks it
/// again (`shuttle-regressions/*.json`).
#[derive(Debug, Serialize, Deserialize)]
struct Regression {
    /// What was found, in words.
    note: String,
    scenario: Scenario,
    scheduler: Scheduler,
    seed: u64,
    iterations: usize,
    /// shuttle's encoded failing schedule, as found (it replays the
    /// failure only on the code that had it).
    schedule: String,
}

fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("shuttle-regressions")
}

/// Writes `r` as `shuttle-regressions/found-<proptest seed>.json`; returns
/// the path, or why it could not. One file per run: each failure proptest
/// meets while it shrinks overwrites the last, so the file ends up holding
/// the smallest failing scenario.
fn record(r: &Regression) -> Result<PathBuf, String> {
    let json = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    let dir = regressions_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (seed, _) = ringcheck_models::seeds::proptest_seed();
    let path = dir.join(format!("found-{seed}.json"));
    std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Runs `s` under the random, then the PCT scheduler. On a failure returns
/// a report with everything needed to replay it, and, on the correct core
/// (`fault` is `None`), records it as a regression file.
fn explore(s: &Scenario, fault: Option<Fault>) -> Result<(), String> {
    explore_n(s, fault, iterations())
}

/// [`explore`] with `n` schedules per scheduler.
fn explore_n(s: &Scenario, fault: Option<Fault>, n: usize) -> Result<(), String> {
    let seed = seed_of(s);
    let outcome = run_with(s, fault, Scheduler::Random, seed, n)
        .map_err(|m| (Scheduler::Random, m))
        .and_then(|()| {
            run_with(s, fault, Scheduler::Pct, seed, n).map_err(|m| (Scheduler::Pct, m))
        });
    outcome.map_err(|(scheduler, msg)| {
        let json = serde_json::to_string(s).expect("scenario to JSON");
        let schedule = schedule_of(&msg).unwrap_or_default();
        let fault_env = fault.map_or(String::new(), |f| format!("SHMRING_SHUTTLE_FAULT={f:?} "));
        let recorded = match fault {
            Some(_) => String::new(),
            None => match record(&Regression {
                note: format!("found by shuttle_scenarios_are_linearizable: {}", first_line(&msg)),
                scenario: s.clone(),
                scheduler,
                seed,
                iterations: n,
                schedule: schedule.clone(),
            }) {
                Ok(path) => format!("\nrecorded as {} (commit it)", path.display()),
                Err(e) => format!("\nnot recorded: {e}"),
            },
        };
        format!(
            "shuttle ({scheduler:?} scheduler, seed {seed:#x}, {n} iterations) found a failing \
             schedule of scenario\n{json}\n{msg}\nreplay:\n  {fault_env}SHMRING_SHUTTLE_SCENARIO='{json}' \
             SHMRING_SHUTTLE_SCHEDULE='{schedule}' RUSTFLAGS=\"--cfg shuttle\" \
             CARGO_TARGET_DIR=target/shuttle cargo nextest run -p ringspec-tests -E \
             'test(shuttle_replay)'{recorded}"
        )
    })
}

/// The line of a replay's failure saying that the schedule no longer fits
/// the code (rather than that the code failed), if it is one.
fn diverged(msg: &str) -> Option<&str> {
    msg.lines().find(|l| {
        l.contains("scheduled task is not runnable")
            || l.contains("schedule ended early")
            || l.contains("but next schedule step is")
    })
}

fn first_line(msg: &str) -> &str {
    msg.lines().next().unwrap_or("")
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
    #![proptest_config(models::proptest_config("shuttle_scenarios_are_linearizable", cases()))]

    #[test]
    fn shuttle_scenarios_are_linearizable(s in models::scenario_strategy(30)) {
        if let Err(report) = explore(&s, None) {
            panic!("{report}");
        }
    }
}

/// Schedules per scheduler that [`finds`] may spend on a seeded fault: the
/// lock's own steps (the segment's algorithm, run by the model) widen the
/// windows the faults need, and a fault is found long before this.
const FIND_ITERATIONS: usize = 400;

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
    let report = match explore_n(&s, Some(fault), FIND_ITERATIONS) {
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
fn shuttle_finds_release_skips_sleepers() {
    finds(Fault::ReleaseSkipsSleepers);
}

/// The regression records, each run with its scheduler, seed and budget.
fn regressions() -> Vec<(PathBuf, Regression)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(regressions_dir())
        .expect("shuttle-regressions/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("a readable record");
            let r = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not a regression record: {e}", p.display()));
            (p, r)
        })
        .collect()
}

/// Every recorded failure of the correct core passes now, explored as it
/// was found (same scheduler, seed and number of schedules).
#[test]
fn shuttle_regressions_pass() {
    let all = regressions();
    assert!(
        !all.is_empty(),
        "shuttle-regressions/ holds the known findings"
    );
    for (path, r) in &all {
        eprintln!(
            "shuttle regression {}: {:?} scheduler, seed {:#x}, {} iterations",
            path.display(),
            r.scheduler,
            r.seed,
            r.iterations
        );
        if let Err(msg) = run_with(&r.scenario, None, r.scheduler, r.seed, r.iterations) {
            panic!("{} fails again:\n{msg}", path.display());
        }
    }
}

/// A producer dies holding the producers' lock (mid-put); two producers
/// then both find its token dead and race to take the lock over. Both
/// puts succeed and both items arrive once.
fn dead_owner_two_successors(fault: Option<Fault>) -> impl Fn() + Send + Sync + 'static {
    use ringcheck_models::{CrashModelRing, KillPoint, ModelRing, OpError};
    move || {
        let ring = match fault {
            None => heap_ring(2, 4),
            Some(f) => heap_ring_with_fault(2, 4, f),
        };
        let victim = ring.handle_killed_at(KillPoint::PutHalfWritten);
        assert_eq!(victim.put(b"dead", Wait::No), Err(OpError::Abandoned));
        let successors: Vec<_> = [b"s0", b"s1"]
            .into_iter()
            .map(|item| {
                let h = ring.handle();
                shuttle::thread::spawn(move || h.put(item, Wait::No))
            })
            .collect();
        for s in successors {
            assert_eq!(s.join().unwrap(), Ok(true), "a successor's put");
        }
        let mut got = Vec::new();
        while let Ok(Some(v)) = ring.get(Wait::No) {
            got.push(v);
        }
        got.sort();
        assert_eq!(got, [b"s0".to_vec(), b"s1".to_vec()], "each item once");
    }
}

#[test]
fn shuttle_dead_lock_owner_is_taken_over_by_one_successor_at_a_time() {
    let n = iterations();
    Runner::new(RandomScheduler::new_from_seed(SEED, n), config())
        .run(dead_owner_two_successors(None));
    Runner::new(PctScheduler::new_from_seed(SEED, PCT_DEPTH, n), config())
        .run(dead_owner_two_successors(None));
}

#[test]
fn shuttle_finds_takeover_without_exchange() {
    let found = catch_unwind(AssertUnwindSafe(|| {
        Runner::new(
            RandomScheduler::new_from_seed(SEED, FIND_ITERATIONS),
            config(),
        )
        .run(dead_owner_two_successors(Some(
            Fault::TakeoverWithoutExchange,
        )))
    }))
    .map_err(message)
    .expect_err("shuttle did not find TakeoverWithoutExchange");
    assert!(
        found.contains("each item once"),
        "another failure:\n{found}"
    );
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
            let replayed = catch_unwind(AssertUnwindSafe(|| {
                shuttle::replay(body(&s, fault), &schedule)
            }))
            .map_err(message);
            match replayed {
                Ok(()) => eprintln!("shuttle_replay: the schedule ran to its end and passed"),
                // A schedule names the task to run at each step; code that
                // changed since it was recorded takes other steps, and
                // shuttle stops where the schedule no longer fits. The
                // scenario is then explored afresh, as its regression
                // record is.
                Err(m) if diverged(&m).is_some() => {
                    let why = diverged(&m).unwrap_or_default();
                    let why: String = why.chars().take(120).collect();
                    eprintln!(
                        "shuttle_replay: the schedule does not fit this code ({why}...); \
                         exploring the scenario with both schedulers instead"
                    );
                    explore(&s, fault).unwrap_or_else(|r| panic!("{r}"));
                }
                Err(m) => panic!("the replayed schedule fails:\n{m}"),
            }
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
