//! `ringcheck::testing` cannot pass by mistake: a suite whose driver cannot
//! start fails every one of its tests, with the reason, and its entry
//! points exit the process with the status (they return `!`).

use ringcheck::spec::Spec;
use ringcheck::testing::{Arguments, Suite, Target};

#[test]
fn a_suite_whose_driver_cannot_start_fails_every_test() {
    let cases = Spec::load().cases().count() as u64;
    assert!(cases > 30, "the spec has its cases");
    let missing = "/nonexistent/ringcheck-no-such-driver";
    let conclusion = Suite::new(Target::command([missing])).run(Arguments::from_iter([
        "suite",
        "--test-threads",
        "2",
    ]));
    assert_eq!(conclusion.num_passed, 0, "a test passed without a driver");
    assert_eq!(conclusion.num_ignored, 0, "a test was ignored, not failed");
    assert_eq!(conclusion.num_failed, cases, "every case fails");
    assert!(conclusion.has_failed());
}

/// The natural slip, `fn main() { ... }` without `-> ExitCode`, must still
/// exit with the suite's status: the entry points never return, so the
/// status cannot be dropped. (A compile-time check: this only has to build.)
#[allow(dead_code)]
fn a_main_without_exit_code_still_exits_with_the_status() {
    ringcheck::testing::main(Target::command(["driver"]))
}
