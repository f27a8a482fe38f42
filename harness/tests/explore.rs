//! Multi-process property tests: generated scenarios of real producer and
//! consumer processes (each a `ringcheck driver` process serving shmring)
//! on a real ring, checked for loss, duplicates, torn items, order and
//! linearizability, with crashes. A failure is shrunk by proptest and
//! persisted in `proptest-regressions/` next to this file.
//!
//! Budget: `PROPTEST_CASES` (default 24 here, a ci setting well inside 5
//! minutes on 2 cores); `PROPTEST_CASES=1000` for a deep nightly run.

mod common;

use common::*;
use proptest::prelude::*;
use ringcheck::explore::{execute, explore, scenarios, ExploreConfig, Outcome};
use ringcheck::protocol::Feature;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn builtin() -> Vec<String> {
    vec![BIN.into(), "driver".into()]
}

fn cases(default: u32) -> u32 {
    ringcheck_models::env_or("PROPTEST_CASES", default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn generated_multi_process_scenarios_pass_on_the_built_in_ring(scn in scenarios(true, true, 30)) {
        static N: AtomicU32 = AtomicU32::new(0);
        let ring = format!("pt{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        match execute(&scn, &builtin(), Duration::from_secs(10), &ring) {
            Outcome::Pass => {}
            Outcome::Refused(why) => prop_assert!(false, "the built-in ring refused {} x {}: {why}", scn.capacity, scn.item_size),
            Outcome::Fail(f) => prop_assert!(false, "{}\n{}", scn.describe(), f.message),
        }
    }
}

fn all_features() -> std::collections::BTreeSet<Feature> {
    Feature::ALL.into_iter().collect()
}

fn explore_faulty(fault: &str, cases: u32, seed: u64) -> ringcheck::explore::ExploreReport {
    let cfg = ExploreConfig {
        driver: vec![BIN.into(), "driver".into(), "--faulty".into(), fault.into()],
        cases,
        seed,
        // A wedged ring answers nothing: keep each hang short.
        deadline: Duration::from_secs(2),
        max_ops: 40,
        max_shrink_iters: 100,
    };
    explore(&cfg, &all_features())
}

/// Most explorations a fault may take to be found and shrunk small.
const SEEDS: u64 = 3;

/// The concurrency and crash bugs of the self-test set are found within
/// the ci budget, and shrunk to small scenarios (at most 30 ops).
///
/// Whether a crash fault shows depends on a kill landing inside a critical
/// section while another process is still there to notice, so one
/// exploration (100 generated runs, then a shrink whose candidates each get
/// 3 runs) misses it or stops shrinking early now and then. As with the
/// self-test's crash cases, a fault gets up to [`SEEDS`] independent
/// explorations, and one of them must find it and shrink it small.
#[rstest::rstest]
#[case::unlocked("unlocked")]
#[case::publish_before_write("publish-before-write")]
#[case::non_robust_lock("non-robust-lock")]
fn explore_finds_the_concurrency_and_crash_faults(#[case] fault: &str) {
    let mut attempts = Vec::new();
    for seed in 1..=SEEDS {
        let report = explore_faulty(fault, 100, seed);
        let Some((scn, why)) = report.failure else {
            attempts.push(format!("seed {seed}: no failure in {} runs", report.runs));
            continue;
        };
        eprintln!(
            "{fault}, seed {seed}: found and shrunk in {} runs to {} processes, {} ops:\n{}{}",
            report.runs,
            scn.processes.len(),
            scn.ops(),
            scn.describe(),
            why.message
        );
        if scn.ops() <= 30 {
            return;
        }
        attempts.push(format!("seed {seed}: shrunk only to {} ops", scn.ops()));
    }
    panic!("{fault}: {}", attempts.join("; "));
}

#[test]
fn the_python_driver_passes_generated_scenarios() {
    assert!(have_python(), "python3 is needed for the Python driver");
    let driver = shell_words::split(&python_driver()).unwrap();
    let features: std::collections::BTreeSet<Feature> =
        [Feature::Processes, Feature::Blocking, Feature::Batch]
            .into_iter()
            .collect();
    let cfg = ExploreConfig {
        driver,
        cases: cases(8).min(8),
        seed: 1,
        deadline: Duration::from_secs(10),
        max_ops: 20,
        max_shrink_iters: 50,
    };
    let report = explore(&cfg, &features);
    if let Some((scn, why)) = report.failure {
        panic!("{}\n{}", scn.describe(), why.message);
    }
}

#[test]
fn explore_and_replay_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args([
            "explore",
            "--cases",
            "40",
            "--driver",
            &format!("{BIN} driver --faulty unlocked"),
        ])
        .args(["--out", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("minimal scenario") && text.contains("replay: ringcheck replay"),
        "{text}"
    );
    let json = dir.path().join("ringcheck-explore-1.json");
    let svg = std::fs::read_to_string(dir.path().join("ringcheck-explore-1.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("#e6550d"),
        "the timeline marks no offending op"
    );
    // The saved scenario replays; the built-in ring passes it.
    let replay = std::process::Command::new(BIN)
        .args(["replay", json.to_str().unwrap(), "--times", "3"])
        .output()
        .unwrap();
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
}
