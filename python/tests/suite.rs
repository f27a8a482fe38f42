//! The `shmring` Python package checked by ringcheck, one test per case:
//! the Python reference driver with `--ring shmring` over the extension
//! module, built with this test's cargo profile (`cargo build -p
//! shmring-python`: cargo builds no cdylib for a test of its own crate)
//! and staged with the package's Python half on `PYTHONPATH`, as `pip
//! install ./python` would install it. Every case runs: the driver
//! declares `processes`, `blocking`, `checksum`, `corrupt`, `batch` and
//! `parallel`, as `shmring-driver` does.

use ringspec_testkit::PythonPackage;

fn main() {
    let package = match PythonPackage::build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("the shmring Python package: {e}");
            std::process::exit(101);
        }
    };
    // Before any thread starts: the drivers the suite spawns inherit it.
    std::env::set_var("PYTHONPATH", package.pythonpath());
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/../drivers/python/driver.py");
    let target = ringcheck::testing::Target::command(["python3", driver, "--ring", "shmring"]);
    let conclusion =
        ringcheck::testing::Suite::new(target).run(ringcheck::testing::Arguments::from_args());
    drop(package);
    conclusion.exit();
}
