//! `explore` and `replay` against real drivers: the Python driver passes
//! generated scenarios, and from the command line a faulty ring's failure
//! is found, saved, drawn and replayed. (The built-in ring's property test
//! is in `drivers/shmring/tests/conformance.rs`; the self-test set's in
//! `fixtures/tests/explore.rs`.)

mod common;

use common::*;
use ringcheck::explore::{explore, ExploreConfig};
use ringcheck::session::Session;
use std::time::Duration;

#[test]
fn the_python_driver_passes_generated_scenarios() {
    assert!(have_python(), "python3 is needed for the Python driver");
    let driver = shell_words::split(&python_driver()).unwrap();
    let session = Session::start(driver, Duration::from_secs(10)).expect("the driver starts");
    let cfg = ExploreConfig {
        cases: ringcheck_models::env_or("PROPTEST_CASES", 8).min(8),
        seed: 1,
        max_ops: 20,
        max_shrink_iters: 50,
        time_budget: None,
        shrink_time: ringcheck::explore::DEFAULT_SHRINK_TIME,
        progress: false,
    };
    let report = explore(&cfg, &session);
    if let Some((scn, why)) = report.failure {
        panic!("{}\n{}", scn.describe(), why.message());
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
            &format!("{} unlocked", workspace_bin("faulty-ring").display()),
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
