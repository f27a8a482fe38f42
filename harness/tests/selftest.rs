//! The suite's proof of its own teeth: every deliberately faulty ring of
//! the self-test set is non-conforming, with the criterion of its bug
//! among those named as failed; the correct rings are conforming.

mod common;

use common::*;
use rstest::rstest;

fn faulty_driver(name: &str) -> String {
    format!("{BIN} driver --faulty {name}")
}

fn expected_criterion(fault: &str) -> &'static str {
    ringcheck::faulty::FAULTS
        .iter()
        .find(|(n, _, _)| *n == fault)
        .map(|(_, c, _)| *c)
        .unwrap_or_else(|| panic!("no faulty ring {fault}"))
}

/// Runs the fault's own criterion (so each bug costs seconds, not a full
/// run) and checks it fails there.
#[rstest]
#[case::overwrite_when_full("overwrite-when-full")]
#[case::capacity_plus_one("capacity-plus-one")]
#[case::lifo("lifo")]
#[case::oversize_truncates("oversize-truncates")]
#[case::zero_byte_is_null("zero-byte-is-null")]
#[case::wrap_loses_slot("wrap-loses-slot")]
#[case::no_checksum("no-checksum")]
#[case::corrupt_stalls("corrupt-stalls")]
#[case::no_wakeup("no-wakeup")]
#[case::ignores_timeout("ignores-timeout")]
#[case::lock_leak_on_error("lock-leak-on-error")]
#[case::open_creates("open-creates")]
#[case::close_keeps_name("close-keeps-name")]
#[case::unlocked("unlocked")]
#[case::publish_before_write("publish-before-write")]
#[case::non_robust_lock("non-robust-lock")]
fn each_faulty_ring_fails_its_criterion(#[case] fault: &str) {
    let criterion = expected_criterion(fault);
    assert!(!criterion.is_empty(), "{fault} is listed as correct");
    // A crash bug shows only when a kill lands inside its window: each
    // seed makes 10 kills at other instants, and up to 3 seeds are tried.
    let seeds: &[&str] = if criterion == "crash" {
        &["1", "2", "3"]
    } else {
        &["1"]
    };
    let mut outcome = None;
    for seed in seeds {
        let (code, report) = json_run(&[
            "--driver",
            &faulty_driver(fault),
            "--only",
            criterion,
            "--seed",
            seed,
        ]);
        outcome = Some((code, report));
        if outcome.as_ref().is_some_and(|(code, _)| *code == Some(1)) {
            break;
        }
    }
    let (code, report) = outcome.expect("a run");
    assert_eq!(code, Some(1), "{fault} was judged conforming: {report:#}");
    assert_eq!(report["conforming"], false);
    let failed = failed_criteria(&report);
    assert!(
        failed.contains(&criterion.to_owned()),
        "{fault}: failed {failed:?}, expected {criterion}"
    );
}

#[test]
fn every_faulty_ring_is_in_the_self_test() {
    let listed = include_str!("selftest.rs");
    for (name, criterion, _) in ringcheck::faulty::FAULTS {
        if !criterion.is_empty() {
            assert!(
                listed.contains(&format!("(\"{name}\")")),
                "{name} has no case here"
            );
        }
    }
    let bug_classes = ringcheck::faulty::FAULTS
        .iter()
        .filter(|(_, c, _)| !c.is_empty())
        .count();
    assert!(bug_classes >= 10, "only {bug_classes} faulty rings");
}

#[test]
fn the_correct_simple_ring_is_conforming_on_every_criterion() {
    let (code, report) = json_run(&["--driver", &faulty_driver("correct")]);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(verdicts(&report).iter().all(|(_, v)| v == "pass"));
}

#[test]
fn the_correct_but_slow_ring_is_conforming() {
    let (code, report) = json_run(&["--driver", &faulty_driver("slow")]);
    assert_eq!(code, Some(0), "{report:#}");
}

#[test]
fn a_faulty_rings_report_names_the_criterion_and_a_minimal_reproduction() {
    let (code, text) = ringcheck_run(&[
        "--driver",
        &faulty_driver("lifo"),
        "--only",
        "fifo",
        "--seed",
        "7",
    ]);
    assert_eq!(code, Some(1));
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(text);
    });
}
