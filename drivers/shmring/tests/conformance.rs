//! The built-in ring, through this crate's driver binary: no leaked
//! segment, and generated multi-process scenarios (with crashes) passing.
//! (Its verdict on every case is `tests/suite.rs`.)
//!
//! Budget of the property test: `PROPTEST_CASES` (default 24, a ci setting
//! well inside 5 minutes on 2 cores); `PROPTEST_CASES=1000` for a deep
//! nightly run. Failing seeds are kept in `proptest-regressions/`.

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
