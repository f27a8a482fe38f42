//! The built-in ring with single roles (`shmring-driver --single-roles`:
//! rings made with `Config::single_roles`, roles 1/1 declared), checked as
//! an SPSC ring: one test per case within the roles, the concurrency
//! cases 1P1C at depth, the crash cases handing the role over from each
//! killed holder, plus a snapshot of the verdicts.

fn main() -> std::process::ExitCode {
    ringcheck::testing::Suite::new(ringcheck::testing::Target::command([
        env!("CARGO_BIN_EXE_shmring-driver"),
        "--single-roles",
    ]))
    .with_snapshot("verdicts", |text| insta::assert_snapshot!("verdicts", text))
    .main()
}
