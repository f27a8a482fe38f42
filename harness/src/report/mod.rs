//! Reports of a run, one module per format: [`text`] for people, [`json`]
//! for machines, [`junit`] for CI dashboards, and `timeline` (SVG) for
//! the history of a failed scenario. Each is fed the spec the run used.

mod json;
mod junit;
mod text;
mod timeline;

pub use json::json;
pub use junit::junit;
pub use text::{text, verdict_word};
pub use timeline::{timeline_svg, Kill, Unanswered};

use crate::run::RunReport;
use crate::spec::Spec;

/// The redactions that make a [`text`] report stable from run to run, as
/// `(regex, replacement)` pairs in the form `insta`'s `filters` setting
/// takes: the driver command, wall times, pids, the run's ring names and
/// timestamps. What remains is what the ring did: the verdict table, the
/// messages, the transcripts. With them, `insta::assert_snapshot!` of a
/// report turns a change in what a ring passes into a snapshot diff.
pub fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"via `[^`]*`", "via `[DRIVER]`"),
        (r"--driver '[^']*'|--driver \S+", "--driver [DRIVER]"),
        (r"in \d+\.\d s", "in [TIME]"),
        (r"pid \d+", "pid [PID]"),
        (r"rc[0-9a-f]{12}-\d+", "[RING]"),
        (r"\d+\.\d{3} ms", "[T] ms"),
        (r"after \d+ ms", "after [N] ms"),
    ]
}

/// A report format of `ringcheck run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// [`text`].
    Text,
    /// [`json`].
    Json,
    /// [`junit`].
    Junit,
}

/// `report` in `format`.
pub fn render(format: Format, report: &RunReport, spec: &Spec) -> String {
    match format {
        Format::Text => text(report, spec),
        Format::Json => json(report) + "\n",
        Format::Junit => junit(report, spec),
    }
}
