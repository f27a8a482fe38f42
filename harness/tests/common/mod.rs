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
        "python3 {}/../drivers/python/driver.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A binary of another package of this workspace (`shmring-driver`,
/// `faulty-ring`), from the directory that holds this package's binaries:
/// `cargo nextest run --workspace` builds every binary of the workspace
/// there before the tests run.
///
/// # Panics
/// If it is not there (the tests were run with `-p ringcheck` alone),
/// saying how to build it.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(BIN).parent().expect("target dir");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests with `cargo nextest run --workspace`, \
         or `cargo build --bins --workspace` first",
        path.display()
    );
    path
}
