//! The built-in ring checked as a ringcheck user checks theirs: one test
//! per case (`criterion::case`), through `ringcheck::testing`, plus a
//! snapshot of the verdicts.

fn main() -> std::process::ExitCode {
    ringcheck::testing::Suite::new(ringcheck::testing::Target::command([env!(
        "CARGO_BIN_EXE_shmring-driver"
    )]))
    .with_snapshot("verdicts", |text| insta::assert_snapshot!("verdicts", text))
    .main()
}
