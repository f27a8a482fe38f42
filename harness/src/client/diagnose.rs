//! What a hung driver was doing: for each process of its group, its state
//! and kernel wait channel (`/proc/PID/stat`, `/proc/PID/wchan`), and a
//! native stack when `eu-stack` or `gdb` is on the machine (optional:
//! without them the report says so and goes on).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a stack dump may take before it is given up.
const STACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Most stack lines kept per process.
const STACK_LINES: usize = 12;

/// The pids of process group `pgid`, from `/proc`.
fn members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|s| s.pgrp == pgid))
        .collect();
    pids.sort_unstable();
    pids
}

/// The fields of `/proc/PID/stat` a report needs.
struct Stat {
    comm: String,
    state: char,
    pgrp: i32,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `comm` is in parentheses and may hold spaces and parentheses: the
    // fields after it start after the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let _ppid = rest.next()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some(Stat { comm, state, pgrp })
}

fn state_word(c: char) -> &'static str {
    match c {
        'R' => "running",
        'S' => "sleeping",
        'D' => "in uninterruptible wait",
        'T' => "stopped",
        't' => "stopped by a tracer",
        'Z' => "a zombie",
        'X' => "dead",
        _ => "in an unknown state",
    }
}

/// A native stack of `pid` from `eu-stack` or else `gdb`, cut to a few
/// lines; `None` when neither is installed or it did not answer in time.
fn native_stack(pid: i32) -> Option<Vec<String>> {
    let pid = pid.to_string();
    let tries: [(&str, Vec<&str>); 2] = [
        ("eu-stack", vec!["-p", &pid]),
        (
            "gdb",
            vec!["-batch", "-nx", "-p", &pid, "-ex", "thread apply all bt 8"],
        ),
    ];
    for (tool, args) in tries {
        let Ok(mut child) = Command::new(tool)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            continue;
        };
        let until = Instant::now() + STACK_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < until => {
                    // Polls the tool's exit; nothing else to wait on.
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
        let out = child.wait_with_output().ok()?;
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('#') || l.starts_with("TID"))
            .take(STACK_LINES)
            .map(|l| l.trim().to_owned())
            .collect();
        if !lines.is_empty() {
            return Some(lines);
        }
    }
    None
}

/// One line per process of group `pgid` (state, wait channel, and a short
/// native stack when a tool for it is installed), for a hang report.
pub fn describe_group(pgid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for pid in members(pgid) {
        let Some(s) = stat(pid) else { continue };
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan"))
            .ok()
            .filter(|w| !w.is_empty() && w != "0")
            .unwrap_or_else(|| "-".into());
        out.push(format!(
            "pid {pid} ({}) {}, kernel wait channel {wchan}",
            s.comm,
            state_word(s.state)
        ));
        if s.state != 'Z' {
            match native_stack(pid) {
                Some(stack) => out.extend(stack.into_iter().map(|l| format!("    {l}"))),
                None => out.push(
                    "    (no native stack: eu-stack and gdb are not installed or did not answer)"
                        .into(),
                ),
            }
        }
    }
    if out.is_empty() {
        out.push(format!("process group {pgid}: no process left"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;

    #[test]
    fn a_sleeping_group_is_described_with_its_state_and_wait_channel() {
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        // Waits (bounded) until the child is asleep in the kernel.
        let until = Instant::now() + Duration::from_secs(10);
        while stat(pgid).is_none_or(|s| s.state != 'S') {
            assert!(Instant::now() < until, "sleep never slept");
            std::thread::sleep(Duration::from_millis(5));
        }
        let lines = describe_group(pgid);
        let _ = child.kill();
        let _ = child.wait();
        assert!(lines[0].contains("(sleep) sleeping"), "{lines:?}");
        assert!(lines[0].contains("kernel wait channel"), "{lines:?}");
        assert!(describe_group(pgid)[0].contains("no process left"));
    }
}
