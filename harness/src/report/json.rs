//! The JSON report, for machines: [`RunReport`] serialized as it is, with
//! its `schema_version` (documented in `specs/report-schema.md`).

use crate::run::RunReport;

/// The report as pretty-printed JSON.
pub fn json(r: &RunReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
