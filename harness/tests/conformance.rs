//! `ringcheck run` from the command line: the Python driver of the
//! original design is conforming, with a pinned report, and the JSON and
//! JUnit reports carry every case. (The built-in ring's conformance is
//! checked in `drivers/shmring/tests/conformance.rs`.)

mod common;

use common::*;

#[test]
fn the_python_driver_for_the_original_design_is_conforming() {
    assert!(have_python(), "python3 is needed for the Python driver");
    let driver = python_driver();
    // The text report of the command line, pinned. Every case of the
    // Python driver, the slow ones too, is one test of `python_suite`; here
    // the crash, concurrency and deep-lap cases are left out to keep the
    // pinned run short.
    let (code, text) = ringcheck_run(&[
        "--driver",
        &driver,
        "--seed",
        "1",
        "--exclude",
        "crash,concurrency,wrap-around.many-cycles",
    ]);
    assert_eq!(code, Some(0), "{text}");
    insta::with_settings!({filters => ringcheck::report::redactions()}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn json_and_junit_reports_carry_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    assert!(have_python(), "python3 is needed for the Python driver");
    let driver = python_driver();
    let (code, report) = json_run(&[
        "--driver",
        &driver,
        "--only",
        "full",
        "--only",
        "empty",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(report["conforming"], true);
    let v = verdicts(&report);
    assert_eq!(v.len(), 4);
    assert!(v.iter().all(|(_, verdict)| verdict == "pass"), "{v:?}");
    let xml = std::fs::read_to_string(junit).unwrap();
    for id in [
        "full.exactly-capacity",
        "full.refuse",
        "empty.new-ring",
        "empty.after-drain",
    ] {
        assert!(xml.contains(id), "{id} missing from JUnit:\n{xml}");
    }
}
