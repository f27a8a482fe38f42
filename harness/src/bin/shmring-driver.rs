//! `shmring-driver`: the built-in shmring as a stand-alone driver of the
//! ring driver protocol (the same as `ringcheck driver`), for harnesses
//! other than ringcheck.

fn main() -> std::process::ExitCode {
    ringcheck::driver::serve_stdio(&ringcheck::shmring_driver::Shmring)
}
