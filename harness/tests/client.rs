//! Drivers that misbehave are reported as failures of the implementation,
//! never as a crash or a stall of the harness.

mod common;

use common::*;
use ringcheck::client::{ClientError, Driver};
use ringcheck::protocol::Op;
use rstest::rstest;
use std::time::Duration;

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[rstest]
#[case::garbage("read l; echo garbage; sleep 5", "malformed")]
#[case::wrong_id("read l; echo '{\"id\":99,\"ok\":true}'; sleep 5", "malformed")]
#[case::no_ok("read l; echo '{\"id\":1}'; sleep 5", "malformed")]
#[case::unknown_error_code(
    "read l; echo '{\"id\":1,\"ok\":false,\"error\":\"oops\",\"message\":\"m\"}'; sleep 5",
    "malformed"
)]
#[case::exits("read l; exit 3", "exited")]
#[case::silent("read l; sleep 30", "hung")]
fn a_misbehaving_driver_gives_a_typed_error(#[case] script: &str, #[case] want: &str) {
    let mut d = Driver::spawn(&sh(script), Duration::from_millis(500)).unwrap();
    let err = d.request(&Op::Hello).unwrap_err();
    let got = match err {
        ClientError::Malformed { .. } => "malformed",
        ClientError::Exited { .. } => "exited",
        ClientError::Hung { .. } => "hung",
        ref other => panic!("unexpected {other:?}"),
    };
    assert_eq!(got, want, "{err}");
    assert!(d.is_dead(), "the driver was not killed");
    assert!(d.request(&Op::Hello).is_err(), "a dead driver answered");
}

#[test]
fn the_driver_stderr_tail_is_kept() {
    let mut d = Driver::spawn(
        &sh("echo first >&2; echo oops >&2; read l; exit 1"),
        Duration::from_secs(5),
    )
    .unwrap();
    let _ = d.request(&Op::Hello);
    assert!(
        d.stderr_tail().iter().any(|l| l == "oops"),
        "{:?}",
        d.stderr_tail()
    );
}

/// `ringcheck run` with `args`: (exit code, stderr).
fn run_stderr(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(BIN)
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_python_driver_that_fails_on_import_is_reported_with_its_traceback() {
    assert!(have_python(), "python3 is needed");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("driver.py");
    std::fs::write(&script, "import no_such_module_of_ringcheck_tests\n").unwrap();
    let driver = format!("python3 {}", script.display());
    let (code, err) = run_stderr(&["--driver", &driver]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("exit status: 1"), "{err}");
    assert!(err.contains("Traceback"), "{err}");
    assert!(
        err.contains("ModuleNotFoundError: No module named 'no_such_module_of_ringcheck_tests'"),
        "{err}"
    );
}

#[test]
fn a_driver_that_logs_and_exits_is_reported_with_its_status_and_stderr() {
    let (code, err) = run_stderr(&[
        "--driver",
        "sh -c 'echo cannot find the ring library >&2; exit 3'",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("exit status: 3"), "{err}");
    assert!(err.contains("cannot find the ring library"), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}

#[test]
fn a_driver_killed_by_a_signal_during_hello_is_reported_with_the_signal() {
    let (code, err) = run_stderr(&["--driver", "sh -c 'kill -SEGV $$'"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("signal: 11"), "{err}");
}

#[test]
fn invalid_option_values_are_usage_errors() {
    for args in [
        &["--deadline", "0"][..],
        &["--jobs", "0"],
        &["--partition", "count:3/2"],
        &["--only", "no-such-criterion"],
        &["--require", "teleport"],
    ] {
        let (code, err) = run_stderr(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
}

#[test]
fn a_driver_that_cannot_start_is_a_usage_error_exit_2() {
    let (code, _) = ringcheck_run(&["--driver", "/nonexistent/driver"]);
    assert_eq!(code, Some(2));
    let (code, _) = ringcheck_run(&["--driver", "sh -c 'exit 0'"]);
    assert_eq!(code, Some(2));
}

#[test]
fn a_driver_that_hangs_mid_run_is_reported_hung_and_the_run_goes_on() {
    // Answers hello (the run's probe and each case's), then never again.
    let script = r#"while read l; do case "$l" in *hello*) id=$(echo "$l" | sed 's/.*"id":\([0-9]*\).*/\1/'); echo "{\"id\":$id,\"ok\":true,\"impl\":\"mute\",\"protocol\":1,\"features\":[]}";; *) sleep 60;; esac; done"#;
    let driver = shell_words::join(["sh", "-c", script]);
    let (code, report) = json_run(&[
        "--driver",
        &driver,
        "--deadline",
        "300",
        "--only",
        "empty",
        "--only",
        "full",
    ]);
    assert_eq!(code, Some(1));
    let v = verdicts(&report);
    assert_eq!(v.len(), 4);
    assert!(v.iter().all(|(_, verdict)| verdict == "hung"), "{v:?}");
}

#[test]
fn a_driver_without_features_has_those_cases_skipped_not_passed() {
    // The Rust ring of the self-test set, declared through a wrapper that
    // strips every feature from hello.
    let inner = format!("{} correct", workspace_bin("faulty-ring").display());
    let script = format!(r#"{inner} | sed -u 's/"features":\[[^]]*\]/"features":[]/'"#);
    let driver = shell_words::join(["sh", "-c", &script]);
    let (code, report) = json_run(&[
        "--driver",
        &driver,
        "--only",
        "integrity",
        "--only",
        "crash",
        "--only",
        "full",
    ]);
    assert_eq!(code, Some(0), "{report:#}");
    for (id, verdict) in verdicts(&report) {
        let want = if id.starts_with("full.") {
            "pass"
        } else {
            "skip"
        };
        assert_eq!(verdict, want, "{id}");
    }
}

#[test]
fn an_endless_response_line_fails_the_request_without_being_held() {
    // Answers hello with a line of 50 MB that never ends in a newline
    // before the limit.
    let script = r#"read l; head -c 50000000 /dev/zero | tr '\0' a; echo"#;
    let mut d = Driver::spawn_with(&sh(script), Duration::from_secs(20), 1 << 20).unwrap();
    let err = d.request(&Op::Hello).unwrap_err();
    assert!(
        matches!(err, ClientError::Malformed { ref reason, .. } if reason.contains("over the limit")),
        "{err}"
    );
    assert!(d.is_dead(), "the driver was not killed");
}

#[test]
fn the_line_limit_is_an_option_of_the_command_line() {
    let script = r#"read l; head -c 100000 /dev/zero | tr '\0' a; echo"#;
    let driver = shell_words::join(["sh", "-c", script]);
    let (code, err) = run_stderr(&["--driver", &driver, "--max-line", "4096"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("100000 bytes or more, over the limit"),
        "{err}"
    );
}

#[test]
fn a_hello_with_roles_it_cannot_honour_is_a_usage_error_naming_them() {
    let inner = format!("{} correct", workspace_bin("faulty-ring").display());
    for (roles, says) in [
        (r#"{"producers":0}"#, r#""producers": 0"#),
        (r#"{"producers":-1}"#, "roles"),
        (r#"{"writers":1}"#, "writers"),
        (r#""spsc""#, "roles"),
    ] {
        let script = format!(r#"{inner} | sed -u 's/"features":/"roles":{roles},"features":/'"#);
        let driver = shell_words::join(["sh", "-c", &script]);
        let (code, err) = run_stderr(&["--driver", &driver, "--only", "empty"]);
        assert_eq!(code, Some(2), "{roles}: {err}");
        assert!(err.contains(says), "{roles}: {err}");
    }
}
