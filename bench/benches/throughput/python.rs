//! Python between two processes: the `shmring` Python package next to the
//! Python designs it replaces. `bench/python/stream.py` (run with
//! `python3` through [`Kid`], so a hung run is killed) creates a ring,
//! forks one producer and one consumer process that move 64-byte items
//! through it, and reports items/s. The timed interval holds the ring's
//! calls alone: the producer builds its items before it, and the consumer
//! checks every item it took, in full and in order, after it, so a run
//! that lost, duplicated, reordered or damaged an item reports no figure.
//! Three subjects:
//!
//! - [`Subject::Original`], the original Python design
//!   (`bench/python/original_design.py`: one fork-shared
//!   `multiprocessing.Lock`, no checksum), the baseline of every ratio;
//! - [`Subject::Reference`], the reference Python design
//!   (`drivers/python/shared_buffer.py`: flock on the segment, CRC-32 per
//!   item), the one copy of it the bench uses;
//! - [`Subject::Package`], the `shmring` package: the release build of its
//!   extension (`cargo build --release -p shmring-python`, run by
//!   [`Package::build`] before any Python row) staged with its
//!   pure-Python half by [`PythonPackage`].
//!
//! How each is driven, one item per call: the designs have only
//! non-blocking calls (`put` refuses when full, `get` returns `None` when
//! empty), so their producer and consumer retry after `time.sleep(0)`
//! ([`Wait::Poll`]; spinning without the sleep measured slower for the
//! original design, whose retries then contend for its lock). The package
//! is measured both that way ([`PACKAGE_10_POLL`]) and with its blocking
//! calls, `put(data, None)` and `get(None)` (the timeout by position)
//! ([`Wait::Block`]), which wait in the ring (a short spin, then a futex)
//! instead of returning to Python. Blocking calls are the faster (4x to 6x
//! at 10 x 64 B on the 2-core VM: each `time.sleep(0)` is a system call
//! that costs tens of microseconds there, and the package's polling rate
//! is bound by it) and what a program using the package would write, so
//! the package's other rows, and the ratio the summary judges against
//! 20x, use them. Batched rows (`put_many` of up to B items,
//! `get_many(B)`) exist for the package only: the designs have no batch
//! calls, so a batched row is compared with the design's one item per
//! call.
//!
//! A missing `python3` or a failed build or run fails the bench.

use crate::procs::{expect_within, Kid};
use crate::STALL;
use ringspec_testkit::PythonPackage;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The driver, from the workspace root.
const DRIVER: &str = "bench/python/stream.py";

/// What moves the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `bench/python/original_design.py`.
    Original,
    /// `drivers/python/shared_buffer.py`.
    Reference,
    /// The `shmring` package.
    Package,
}

/// How a producer or consumer waits for space or an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Non-blocking calls, retried after `time.sleep(0)`.
    Poll,
    /// Blocking calls (`timeout=None`).
    Block,
}

/// One Python row: a subject, a geometry (capacity x 64 B) and how it is
/// called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub subject: Subject,
    pub capacity: u32,
    /// Items per `put_many`/`get_many` call; 1: `put` and `get` per item.
    pub batch: u32,
    pub wait: Wait,
}

const fn row(subject: Subject, capacity: u32, batch: u32, wait: Wait) -> Row {
    Row {
        subject,
        capacity,
        batch,
        wait,
    }
}

pub const ORIGINAL_10: Row = row(Subject::Original, 10, 1, Wait::Poll);
pub const ORIGINAL_1024: Row = row(Subject::Original, 1024, 1, Wait::Poll);
pub const REFERENCE_10: Row = row(Subject::Reference, 10, 1, Wait::Poll);
/// The package driven as the designs are.
pub const PACKAGE_10_POLL: Row = row(Subject::Package, 10, 1, Wait::Poll);
pub const PACKAGE_10: Row = row(Subject::Package, 10, 1, Wait::Block);
/// Batches of the capacity.
pub const PACKAGE_10_BATCH: Row = row(Subject::Package, 10, 10, Wait::Block);
pub const PACKAGE_1024: Row = row(Subject::Package, 1024, 1, Wait::Block);
pub const PACKAGE_1024_BATCH: Row = row(Subject::Package, 1024, 64, Wait::Block);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `shmring` package, staged from the release build of its extension.
pub struct Package {
    staged: PythonPackage,
}

impl Package {
    /// Builds the extension with the bench's profile (`cargo build
    /// --release -p shmring-python`) and stages the package with it
    /// ([`PythonPackage::build`]).
    pub fn build() -> Result<Package, String> {
        Ok(Package {
            staged: PythonPackage::build()?,
        })
    }
}

/// Items/s of `row` moving `items` items.
pub fn run(row: Row, package: &Package, items: u64) -> Result<f64, String> {
    let root = workspace_root();
    let mut cmd = Command::new("python3");
    cmd.arg(root.join(DRIVER));
    let subject = match row.subject {
        Subject::Original => "bench/python/original_design.py",
        Subject::Reference => "drivers/python/shared_buffer.py",
        Subject::Package => "the shmring package",
    };
    match row.subject {
        Subject::Package => {
            cmd.arg("--package")
                .env("PYTHONPATH", package.staged.pythonpath());
        }
        Subject::Original | Subject::Reference => {
            cmd.arg("--design").arg(root.join(subject));
        }
    }
    let wait = match row.wait {
        Wait::Poll => "poll",
        Wait::Block => "block",
    };
    cmd.args(["--items", &items.to_string()])
        .args(["--capacity", &row.capacity.to_string()])
        .args(["--batch", &row.batch.to_string()])
        .args(["--wait", wait]);
    let what = format!(
        "python3 {DRIVER} ({subject}, capacity {}, batch {}, {wait})",
        row.capacity, row.batch
    );
    let kid = Kid::spawn_command(what.clone(), cmd).map_err(|e| format!("running {what}: {e}"))?;
    // Far beyond a healthy run (the slowest row moves tens of thousands of
    // items a second), so that only a hang ends it.
    let within = STALL + Duration::from_millis(items);
    let mut kids = [kid];
    let line = expect_within(&mut kids, 0, "done", within)?;
    let [kid] = kids;
    kid.finish()?;
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{what}: bad report {line:?}"))
}
