//! The `shmring` binary: real files through real producer and consumer
//! processes, and the exit codes and messages of each subcommand.

mod common;

use common::{random_bytes, unique, SHM};
use rstest::rstest;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_shmring");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run shmring")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[rstest]
#[case::original_geometry(10, 64, 4_000_000, false)]
#[case::large_items(256, 65536, 4_000_000, false)]
#[case::odd_tail(3, 1000, 4_000_003, false)]
#[case::empty_file(10, 64, 0, false)]
#[case::single_roles(10, 64, 4_000_000, true)]
#[case::single_roles_large_items(256, 65536, 4_000_000, true)]
fn a_file_produced_in_one_process_arrives_byte_identical_in_another(
    #[case] capacity: u32,
    #[case] item_size: u32,
    #[case] len: usize,
    #[case] single_roles: bool,
) {
    let name = unique("file");
    let _cleanup = SHM.cleanup(name.clone());
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.bin"), dir.path().join("out.bin"));
    let data = random_bytes(len, 0x9e37_79b9_7f4a_7c15 ^ len as u64);
    std::fs::write(&input, &data).unwrap();
    let (cap, size) = (capacity.to_string(), item_size.to_string());
    let mut create = vec!["create", &name, "--capacity", &cap, "--item-size", &size];
    if single_roles {
        create.push("--single-roles");
    }
    let o = run(&create);
    assert!(o.status.success(), "create: {}", stderr(&o));
    let stat = run(&["stat", &name]);
    let roles = String::from_utf8_lossy(&stat.stdout).into_owned();
    assert_eq!(
        roles.contains("one producer and one consumer at a time"),
        single_roles,
        "{roles}"
    );
    let consumer = Command::new(BIN)
        .args(["consume", &name, "--output", output.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let p = run(&["produce", &name, "--input", input.to_str().unwrap()]);
    let c = consumer.wait_with_output().unwrap();
    assert!(p.status.success(), "produce: {}", stderr(&p));
    assert!(c.status.success(), "consume: {}", stderr(&c));
    assert!(
        std::fs::read(&output).unwrap() == data,
        "output differs from input"
    );
    let o = run(&["rm", &name]);
    assert!(o.status.success(), "rm: {}", stderr(&o));
    assert!(!SHM.path(&name).exists(), "rm left the segment");
}

#[test]
fn produce_and_consume_stream_through_stdin_and_stdout() {
    use std::io::Write;
    let name = unique("pipe");
    let _cleanup = SHM.cleanup(name.clone());
    assert!(
        run(&["create", &name, "--capacity", "4", "--item-size", "7"])
            .status
            .success()
    );
    let data = random_bytes(100_000, 7);
    let consumer = Command::new(BIN)
        .args(["consume", &name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut producer = Command::new(BIN)
        .args(["produce", &name])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed stdin from a thread while this one drains stdout: the pipes
    // hold 64 KiB, so doing one after the other would deadlock.
    let mut stdin = producer.stdin.take().unwrap();
    let feeder = std::thread::spawn({
        let data = data.clone();
        move || stdin.write_all(&data)
    });
    let out = consumer.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(producer.wait().unwrap().success());
    assert!(out.status.success());
    assert!(out.stdout == data);
}

#[test]
fn stat_reports_geometry_fill_counters_and_creator() {
    let name = unique("stat");
    let _cleanup = SHM.cleanup(name.clone());
    assert!(
        run(&["create", &name, "--capacity", "5", "--item-size", "32"])
            .status
            .success()
    );
    let ring = shmring::SharedBuffer::open(&name).unwrap();
    ring.put(b"one").unwrap();
    ring.put(b"two").unwrap();
    ring.get().unwrap();
    let o = run(&["stat", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "geometry        5 items x 32 bytes",
        "fill            1 / 5 items",
        "puts            2",
        "gets            1",
        "persist         yes",
        "creator         pid ",
        ", exited, ring persists",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn ls_lists_rings_and_flags_a_dead_creator() {
    let live = unique("ls-live");
    let _c1 = SHM.cleanup(live.clone());
    assert!(run(&["create", &live]).status.success());
    // A non-persistent ring whose creator is gone: leaked.
    let leaked = unique("ls-leaked");
    let _c2 = SHM.cleanup(leaked.clone());
    let ring = shmring::SharedBuffer::create(&leaked, shmring::Config::default()).unwrap();
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    SHM.poke(&leaked, 32, &dead_pid.to_ne_bytes());
    let o = run(&["ls"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let line = |n: &str| text.lines().find(|l| l.starts_with(n)).map(str::to_owned);
    let live_line = line(&live).expect("live ring listed");
    assert!(live_line.contains("exited, ring persists"), "{live_line}");
    let leaked_line = line(&leaked).expect("leaked ring listed");
    assert!(leaked_line.contains("DEAD, ring leaked"), "{leaked_line}");
    drop(ring);
}

#[rstest]
#[case::stat_missing(&["stat", "no-such-ring-xyz"], "does not exist")]
#[case::rm_missing(&["rm", "no-such-ring-xyz"], "does not exist")]
#[case::produce_missing(&["produce", "no-such-ring-xyz"], "does not exist")]
#[case::consume_missing(&["consume", "no-such-ring-xyz"], "does not exist")]
#[case::bad_name(&["create", "bad/name"], "invalid ring name")]
fn runtime_errors_exit_1_naming_the_ring_and_cause(#[case] args: &[&str], #[case] cause: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(args[1]) && err.contains(cause), "{err}");
}

#[test]
fn create_of_an_existing_ring_exits_1_and_leaves_it() {
    let name = unique("dup");
    let _cleanup = SHM.cleanup(name.clone());
    assert!(run(&["create", &name, "--capacity", "3"]).status.success());
    let o = run(&["create", &name, "--capacity", "9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"));
    assert_eq!(shmring::SharedBuffer::open(&name).unwrap().capacity(), 3);
}

#[test]
fn produce_gives_up_when_the_ring_stays_full() {
    let name = unique("stuck");
    let _cleanup = SHM.cleanup(name.clone());
    assert!(
        run(&["create", &name, "--capacity", "1", "--item-size", "4"])
            .status
            .success()
    );
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, b"0123456789").unwrap();
    let o = run(&[
        "produce",
        &name,
        "--input",
        input.to_str().unwrap(),
        "--idle-timeout",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("stayed full"), "{}", stderr(&o));
}

#[rstest]
#[case::no_subcommand(&[])]
#[case::unknown_subcommand(&["bogus"])]
#[case::missing_name(&["create"])]
#[case::bad_number(&["create", "x", "--capacity", "ten"])]
#[case::bad_mode(&["create", "x", "--mode", "999"])]
fn usage_errors_exit_2(#[case] args: &[&str]) {
    assert_eq!(run(args).status.code(), Some(2));
}

#[test]
fn create_applies_the_requested_mode() {
    use std::os::unix::fs::PermissionsExt;
    let name = unique("mode");
    let _cleanup = SHM.cleanup(name.clone());
    assert!(run(&["create", &name, "--mode", "640"]).status.success());
    let mode = std::fs::metadata(SHM.path(&name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
}

/// A ring owned by another user is refused by `stat` and flagged by `ls`,
/// unless `--trust-uid` names its owner. Needs root (to give the segment
/// away with `chown`); elsewhere it says so and checks nothing.
#[test]
fn rings_of_another_user_are_refused_unless_their_uid_is_trusted() {
    let name = unique("foreign");
    let _cleanup = SHM.cleanup(name.clone());
    assert!(run(&["create", &name]).status.success());
    if let Err(e) = std::os::unix::fs::chown(SHM.path(&name), Some(54_321), None) {
        eprintln!("skipped: cannot chown a segment ({e}); run as root to check this");
        return;
    }
    let o = run(&["stat", &name]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("owned by uid 54321"), "{}", stderr(&o));
    let ls = String::from_utf8(run(&["ls"]).stdout).unwrap();
    let line = ls.lines().find(|l| l.starts_with(&name)).expect("listed");
    assert!(line.contains("unreadable: refusing"), "{line}");
    let o = run(&["stat", &name, "--trust-uid", "54321"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
