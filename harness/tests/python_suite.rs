//! The Python driver of the original design checked through
//! `ringcheck::testing`, one test per case; the cases that need
//! `parallel`, which it does not declare, are ignored with the reason.

fn main() -> std::process::ExitCode {
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/../drivers/python/driver.py");
    ringcheck::testing::main(ringcheck::testing::Target::command(["python3", driver]))
}
