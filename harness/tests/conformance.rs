//! Full conformance runs: the built-in shmring and the Python driver are
//! conforming, with pinned reports.

mod common;

use common::*;

#[test]
fn the_built_in_ring_is_conforming() {
    let (code, text) = ringcheck_run(&["--seed", "1"]);
    assert_eq!(code, Some(0), "{text}");
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn the_python_driver_for_the_original_design_is_conforming() {
    assert!(have_python(), "python3 is needed for the Python driver");
    let driver = python_driver();
    let (code, text) = ringcheck_run(&["--driver", &driver, "--seed", "1"]);
    assert_eq!(code, Some(0), "{text}");
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn json_and_junit_reports_carry_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let (code, report) = json_run(&[
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

#[test]
fn the_built_in_ring_leaks_no_segment() {
    let (code, report) = json_run(&["--only", "lifecycle", "--only", "crash"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        report["leaked"],
        serde_json::json!([]),
        "shmring leaked segments"
    );
}

/// A ring whose creator's close keeps the name leaks one segment per
/// lifecycle case: the run must list them and still leave nothing behind.
#[test]
fn segments_a_faulty_ring_leaks_are_reported_and_removed() {
    let driver = format!("{BIN} driver --faulty close-keeps-name");
    let (code, report) = json_run(&["--driver", &driver, "--only", "lifecycle"]);
    assert_eq!(code, Some(1));
    let leaked = report["leaked"].as_array().expect("leaked list");
    assert!(!leaked.is_empty(), "the leak went unnoticed: {report:#}");
    let prefix = report["ring_prefix"].as_str().unwrap();
    let left: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(prefix))
        .collect();
    assert!(left.is_empty(), "left in /dev/shm: {left:?}");
}
