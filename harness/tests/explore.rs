//! `explore` and `replay` against real drivers: the Python driver passes
//! generated scenarios, and from the command line a faulty ring's failure
//! is found, saved, drawn and replayed. (The built-in ring's property test
//! is in `drivers/shmring/tests/conformance.rs`; the self-test set's in
//! `fixtures/tests/explore.rs`.)

mod common;

use common::*;
use ringcheck::explore::{explore, explore_with, ExploreConfig, ProcessScenario, Progress};
use ringcheck::protocol::Roles;
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

/// A wedge found from the command line is printed and saved before any
/// shrinking, and shrinking keeps to `--shrink-time`: the report says
/// whether it finished or was cut, and the saved scenario is whole.
#[test]
fn a_wedge_is_saved_before_shrinking_and_shrinking_keeps_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["explore", "--seed", "2", "--shrink-time", "5", "--quiet"])
        .args(["--deadline", "2000"])
        .args([
            "--driver",
            &format!("{} wedge-on-kill", workspace_bin("faulty-ring").display()),
        ])
        .args(["--out", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
    };
    let found = at("before shrinking");
    let saved = at("saved before shrinking; replay: ringcheck replay");
    let shrinking = at("explore: shrinking (up to 5 s, --shrink-time)");
    let minimal = at("minimal scenario");
    assert!(
        found < saved && saved < shrinking && shrinking < minimal,
        "{text}"
    );
    assert!(
        text.contains("explore: shrinking finished after")
            || text.contains("explore: shrinking cut by the 5 s budget (--shrink-time)"),
        "{text}"
    );
    let json = std::fs::read_to_string(dir.path().join("ringcheck-explore-2.json")).unwrap();
    let scn: ProcessScenario = serde_json::from_str(&json).unwrap();
    assert!(text.contains(&format!(
        "minimal scenario ({} processes",
        scn.processes.len()
    )));
}

/// `sh -c 'faulty-ring correct | sed ...'`: the correct ring, declaring
/// one producer and one consumer in its hello.
fn spsc_driver() -> Vec<String> {
    let ring = workspace_bin("faulty-ring");
    let script = format!(
        "{} correct | sed -u 's/\"features\":/\"roles\":{{\"producers\":1,\"consumers\":1}},\"features\":/'",
        ring.display()
    );
    vec!["sh".into(), "-c".into(), script]
}

/// Against a driver that declares one producer and one consumer, explore
/// generates no scenario with two processes that put or two that get, and
/// the correct ring passes them all (the drain takes the consumer role
/// only after every scenario process closed the ring or was killed).
#[test]
fn explore_keeps_to_the_declared_roles() {
    let session =
        Session::start(spsc_driver(), Duration::from_secs(10)).expect("the driver starts");
    assert_eq!(session.hello().roles, Roles::SPSC);
    let cfg = ExploreConfig {
        cases: ringcheck_models::env_or("PROPTEST_CASES", 16).min(16),
        max_ops: 12,
        ..ExploreConfig::default()
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let report = explore_with(&cfg, &session, &|p| {
        if let Progress::Generated { scenario, .. } = p {
            seen.lock().unwrap().push(scenario.clone());
        }
    });
    if let Some((scn, why)) = report.failure {
        panic!("{}\n{}", scn.describe(), why.message());
    }
    let seen = seen.into_inner().unwrap();
    assert!(!seen.is_empty());
    for scn in &seen {
        let puts = scn.processes.iter().filter(|p| p.puts()).count();
        let gets = scn.processes.iter().filter(|p| p.gets()).count();
        assert!(puts <= 1 && gets <= 1, "{}", scn.describe());
    }
}
