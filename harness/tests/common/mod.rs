//! Running the `ringcheck` binary from tests.
#![allow(dead_code)]

use std::process::Command;

/// The ringcheck binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ringcheck");

/// Runs `ringcheck run` with `args`; returns (exit code, stdout).
pub fn ringcheck_run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("run")
        .args(args)
        .output()
        .expect("run ringcheck");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The JSON report of a run.
pub fn json_run(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, out) = ringcheck_run(&all);
    let report =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON report ({e}): {out}"));
    (code, report)
}

/// `(case id, verdict)` pairs of a JSON report.
pub fn verdicts(report: &serde_json::Value) -> Vec<(String, String)> {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Criteria with a failed or hung case.
pub fn failed_criteria(report: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| matches!(c["verdict"].as_str(), Some("fail" | "hung")))
        .map(|c| c["criterion"].as_str().unwrap().to_owned())
        .collect();
    out.dedup();
    out
}

/// Text-report redactions: paths, times, pids and run-specific names.
pub fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"via `[^`]*`", "via `[DRIVER]`"),
        (r"--driver '[^']*'|--driver \S+", "--driver [DRIVER]"),
        (r"in \d+\.\d s", "in [TIME]"),
        (r"pid \d+", "pid [PID]"),
        (r"rc\d+-\d+-\d+", "[RING]"),
        (r"\d+\.\d{3} ms", "[T] ms"),
        (r"after \d+ ms", "after [N] ms"),
    ]
}

/// Whether python3 is available for the Python driver.
pub fn have_python() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The Python driver command.
pub fn python_driver() -> String {
    format!(
        "python3 {}/drivers/python/driver.py",
        env!("CARGO_MANIFEST_DIR")
    )
}
