//! The Python designs shmring replaces, at their geometry (10 x 64 B), one
//! producer and one consumer process: `bench/python/stream.py` (run with
//! `python3` through [`Kid`], so a hung run is killed) imports a design's
//! `SharedBuffer` from a module file and reports items/s. Two designs:
//!
//! - [`REFERENCE_DESIGN`], the reference Python design
//!   (flock on the segment, CRC-32 per item): the one copy of it the bench
//!   uses;
//! - [`ORIGINAL_DESIGN`], the design before it was made robust (one
//!   fork-shared `multiprocessing.Lock`, no checksum), which the README's
//!   earlier figures were measured with.
//!
//! Skipped, not failed, when there is no `python3`.

use crate::procs::{expect_within, Kid};
use crate::STALL;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The reference Python design, from the workspace root.
pub const REFERENCE_DESIGN: &str = "drivers/python/shared_buffer.py";
/// The original Python design before it was made robust, from the
/// workspace root.
pub const ORIGINAL_DESIGN: &str = "bench/python/original_design.py";
/// The driver, from the workspace root.
const DRIVER: &str = "bench/python/stream.py";

fn workspace_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Items/s of `design` (a path from the workspace root) moving `items`
/// items, or `None` when there is no `python3`.
pub fn run(design: &str, items: u64) -> Result<Option<f64>, String> {
    let mut cmd = Command::new("python3");
    cmd.arg(workspace_path(DRIVER))
        .arg("--design")
        .arg(workspace_path(design))
        .arg("--items")
        .arg(items.to_string());
    let what = format!("python3 {DRIVER} --design {design}");
    let kid = match Kid::spawn_command(what.clone(), cmd) {
        Ok(kid) => kid,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("running {what}: {e}")),
    };
    // Far beyond a healthy run (Python moves tens of thousands of items a
    // second here), so that only a hang ends it.
    let within = STALL + Duration::from_millis(items);
    let mut kids = [kid];
    let line = expect_within(&mut kids, 0, "done", within)?;
    let [kid] = kids;
    kid.finish()?;
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| format!("{what}: bad report {line:?}"))
}
