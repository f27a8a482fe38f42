//! The built-in ring, through this crate's driver binary: no leaked
//! segment, and generated multi-process scenarios (with crashes) passing.
//! (Its verdict on every case is `tests/suite.rs`.)
//!
//! Budget of the property test: `PROPTEST_CASES` (default 24, a ci setting
//! well inside 5 minutes on 2 cores); `PROPTEST_CASES=1000` for a deep
//! nightly run. Failing seeds are kept in `proptest-regressions/`, and
//! scenarios that `ringcheck explore` found failing (nightly, with a random
//! `--seed`) are kept in `tests/explore-regressions/`: every run replays
//! both.

use proptest::prelude::*;
use ringcheck::explore::{execute, scenarios};
use ringcheck::run::{run, RunConfig, RunReport};
use ringcheck::session::Session;
use ringcheck::spec::Spec;
use std::time::Duration;

const DRIVER: &str = env!("CARGO_BIN_EXE_shmring-driver");

fn check(only: &[&str]) -> (RunReport, Spec) {
    let spec = Spec::load();
    let mut cfg = RunConfig::new(vec![DRIVER.into()]);
    cfg.selection.only = only.iter().map(|s| s.parse().unwrap()).collect();
    (run(&cfg, &spec).expect("the driver starts"), spec)
}

#[test]
fn the_built_in_ring_leaks_no_segment() {
    let (report, _) = check(&["lifecycle", "crash"]);
    assert!(report.conforming);
    assert_eq!(
        report.leaked,
        Vec::<String>::new(),
        "shmring leaked segments"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        max_shrink_iters: 100,
        ..ringcheck_models::proptest_config("generated_multi_process_scenarios_pass_on_the_built_in_ring", 24)
    })]

    #[test]
    fn generated_multi_process_scenarios_pass_on_the_built_in_ring(scn in scenarios(true, true, 30)) {
        let session = Session::start(vec![DRIVER.into()], Duration::from_secs(10)).expect("the driver starts");
        if let Err(f) = execute(&scn, &session) {
            prop_assert!(false, "{}\n{}", scn.describe(), f.message());
        }
    }
}

/// The scenarios in `tests/explore-regressions/` (as `ringcheck explore`
/// writes them, `ringcheck-explore-SEED.json`), each replayed three times on
/// the built-in ring: a failure `explore` found once, at night or against
/// another ring, is checked again on every run.
#[test]
fn saved_explore_scenarios_pass_on_the_built_in_ring() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/explore-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no scenario", dir.display());
    let session =
        Session::start(vec![DRIVER.into()], Duration::from_secs(10)).expect("the driver starts");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable scenario");
        let scn: ringcheck::explore::ProcessScenario = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a scenario: {e}", file.display()));
        for run in 1..=3 {
            if let Err(f) = execute(&scn, &session) {
                panic!(
                    "{} (run {run}):\n{}\n{}",
                    file.display(),
                    scn.describe(),
                    f.message()
                );
            }
        }
    }
}
