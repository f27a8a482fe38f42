//! The whole driver process tree is the driver: a driver started through a
//! wrapper that does not exec is killed with its children, and an
//! interrupted run leaves no driver process and none of its segments.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A marker argument no other process on the machine carries.
fn marker(tag: &str) -> String {
    format!("--ringcheck-test-marker-{tag}-{}", std::process::id())
}

/// Pids of live processes whose command line contains `marker`.
fn carrying(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            });
            !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .collect()
}

#[test]
fn the_built_in_ring_through_a_wrapper_that_does_not_exec_conforms_and_leaves_nothing() {
    let mark = marker("wrapper");
    let inner = format!(
        "{} --label={mark}",
        workspace_bin("shmring-driver").display()
    );
    let driver = shell_words::join(["sh", "-c", &format!("{inner}; exit $?")]);
    let (code, report) = json_run(&["--driver", &driver, "--only", "crash,concurrency"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["conforming"], true);
    assert_eq!(verdicts(&report).len(), 5);
    assert_eq!(
        carrying(&mark),
        Vec::<u32>::new(),
        "drivers outlived the run"
    );
}

#[test]
fn an_interrupted_run_kills_its_drivers_and_removes_its_segments() {
    let mark = marker("sigint");
    let driver = format!(
        "{} --label={mark}",
        workspace_bin("shmring-driver").display()
    );
    let run = Command::new(BIN)
        .args(["run", "--driver", &driver, "--only", "crash"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Waits (polling the process table, bounded) until the run has drivers
    // at work, then interrupts it.
    let until = Instant::now() + Duration::from_secs(30);
    let drivers = || {
        carrying(&mark)
            .into_iter()
            .filter(|&p| p != run.id())
            .count()
    };
    while drivers() < 3 {
        assert!(Instant::now() < until, "the run never started its drivers");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = rustix::process::Pid::from_raw(run.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: killed"), "{err}");
    // The run SIGKILLs its drivers' process groups and exits; a driver may
    // still be tearing down for a moment after that (seen once in CI), so
    // the process table is polled, for at most 2 s, until none is left.
    let until = Instant::now() + Duration::from_secs(2);
    while !carrying(&mark).is_empty() && Instant::now() < until {
        std::thread::yield_now();
    }
    assert_eq!(
        carrying(&mark),
        Vec::<u32>::new(),
        "drivers outlived the run by 2 s"
    );
    let token = err
        .split("of run ")
        .nth(1)
        .map(str::trim)
        .expect("the run token in the message");
    assert!(token.starts_with("rc"), "{err}");
    let left: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(token))
        .collect();
    assert!(left.is_empty(), "segments left: {left:?}");
}
