//! Deliberately faulty rings: the suite's proof of its own teeth.
//!
//! (Stub: the implementations land in this module.)

use std::process::ExitCode;

/// Every faulty ring: `(name, criterion id it must fail, what is wrong)`.
/// `correct` and `slow` are correct and must be conforming.
pub const FAULTS: &[(&str, &str, &str)] = &[];

/// Serves the faulty ring `name` on stdin/stdout; `None` if unknown.
pub fn serve(name: &str) -> Option<ExitCode> {
    let _ = name;
    None
}
