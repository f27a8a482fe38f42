//! Framed streams through real `shmring produce` and `consume` processes:
//! producers and consumers killed mid-stream, a restarted producer, damaged
//! trailers written by hand from `specs/stream-framing.md`, streams one
//! after another; and the command's polish (summary lines, geometry usage
//! errors, help, names beginning with '-', no space in /dev/shm).

mod common;

use common::{random_bytes, unique, wait_until, Proc, SHM};
use rstest::rstest;
use shmring::SharedBuffer;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_shmring");

/// Exit code of a stream that failed verification.
const EXIT_STREAM: i32 = 3;

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run shmring")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A persistent ring made by `shmring create`, removed when the returned
/// guard drops.
fn ring(tag: &str, capacity: u32, item_size: u32) -> (String, ringspec_testkit::Cleanup) {
    let name = unique(tag);
    let cleanup = SHM.cleanup(name.clone());
    let (c, s) = (capacity.to_string(), item_size.to_string());
    let o = run(&["create", &name, "--capacity", &c, "--item-size", &s]);
    assert!(o.status.success(), "create: {}", stderr(&o));
    (name, cleanup)
}

fn spawn(args: &[&str], stdin: Stdio) -> Proc {
    Proc(
        Command::new(BIN)
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shmring"),
    )
}

/// Items ever taken from ring `name`.
fn gets(name: &str) -> u64 {
    SharedBuffer::open(name).unwrap().stats().unwrap().gets
}

/// `path` with `.partial` appended.
fn partial(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    p.into()
}

// Rings of 16 x 64 B. A test writes its producer's stdin in one write of
// whole 64-byte items, so every item is full and the test knows how many
// items the producer puts (it commits them in batches of up to 8, half the
// ring).
const CAP: u32 = 16;
const SIZE: u32 = 64;
const BATCH: usize = (CAP * SIZE) as usize;
/// Items of a header (or trailer): the 0-byte marker and the 64-byte
/// record.
const RECORD_ITEMS: u64 = 2;

#[rstest]
#[case::partial_kept("keep")]
#[case::partial_removed("remove")]
fn a_killed_producer_is_reported_within_2_s(#[case] policy: &str) {
    let (name, _cleanup) = ring("kill-prod", CAP, SIZE);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    let mut consumer = spawn(
        &[
            "consume",
            &name,
            "--output",
            out.to_str().unwrap(),
            "--partial",
            policy,
        ],
        Stdio::null(),
    );
    let mut producer = spawn(&["produce", &name], Stdio::piped());
    let data = random_bytes(10 * BATCH, 1);
    let mut stdin = producer.0.stdin.take().unwrap();
    stdin.write_all(&data).unwrap();
    let items = RECORD_ITEMS + (data.len() / SIZE as usize) as u64;
    wait_until(
        "the consumer took the header and all data",
        Duration::from_secs(20),
        || gets(&name) >= items,
    );
    producer.kill();
    let killed = Instant::now();
    let status = consumer
        .wait_for_exit(Duration::from_secs(2))
        .expect("consume still running 2 s after its producer was killed");
    let err = consumer.stderr();
    assert_eq!(status.code(), Some(EXIT_STREAM), "{err}");
    assert!(killed.elapsed() < Duration::from_secs(2));
    assert!(err.contains("producer") && err.contains("died"), "{err}");
    assert!(!out.exists(), "the final name must not appear: {err}");
    if policy == "keep" {
        assert!(err.contains("kept as"), "{err}");
        assert_eq!(std::fs::read(partial(&out)).unwrap(), data);
    } else {
        assert!(err.contains("removed"), "{err}");
        assert!(!partial(&out).exists());
    }
    drop(stdin);
}

#[test]
fn a_restarted_producer_never_yields_exit_0_with_other_output() {
    let (name, _cleanup) = ring("restart", CAP, SIZE);
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in.bin"), dir.path().join("out.bin"));
    let data = random_bytes(40 * BATCH, 2);
    std::fs::write(&input, &data).unwrap();
    let mut consumer = spawn(
        &["consume", &name, "--output", out.to_str().unwrap()],
        Stdio::null(),
    );
    // The first producer gets a quarter of the file through, then dies.
    let mut first = spawn(&["produce", &name], Stdio::piped());
    let mut stdin = first.0.stdin.take().unwrap();
    stdin.write_all(&data[..10 * BATCH]).unwrap();
    let items = RECORD_ITEMS + 10 * u64::from(CAP);
    wait_until(
        "the first producer's items were taken",
        Duration::from_secs(20),
        || gets(&name) >= items,
    );
    first.kill();
    // The restarted one sends the whole file.
    let _second = spawn(
        &[
            "produce",
            &name,
            "--input",
            input.to_str().unwrap(),
            "--idle-timeout",
            "2",
        ],
        Stdio::null(),
    );
    let status = consumer
        .wait_for_exit(Duration::from_secs(20))
        .expect("consume ended");
    let err = consumer.stderr();
    let output = std::fs::read(&out).ok();
    assert!(
        !(status.success() && output.as_deref() != Some(&data[..])),
        "exit 0 with an output that differs from the input: {err}"
    );
    assert_eq!(status.code(), Some(EXIT_STREAM), "{err}");
    assert!(
        err.contains("died") || err.contains("restarted"),
        "names neither the death nor the restart: {err}"
    );
    drop(stdin);
}

#[test]
fn the_consumer_after_a_killed_one_reports_the_gap() {
    let (name, _cleanup) = ring("kill-cons", CAP, SIZE);
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(20 * BATCH, 3);
    let mut producer = spawn(&["produce", &name, "--idle-timeout", "2"], Stdio::piped());
    let mut stdin = producer.0.stdin.take().unwrap();
    let out1 = dir.path().join("out1.bin");
    let mut first = spawn(
        &["consume", &name, "--output", out1.to_str().unwrap()],
        Stdio::null(),
    );
    stdin.write_all(&data[..10 * BATCH]).unwrap();
    let items = RECORD_ITEMS + 10 * u64::from(CAP);
    wait_until(
        "the first consumer took items",
        Duration::from_secs(20),
        || gets(&name) >= items,
    );
    first.kill();
    let out2 = dir.path().join("out2.bin");
    let mut second = spawn(
        &["consume", &name, "--output", out2.to_str().unwrap()],
        Stdio::null(),
    );
    stdin.write_all(&data[10 * BATCH..]).unwrap();
    drop(stdin);
    let status = second
        .wait_for_exit(Duration::from_secs(20))
        .expect("the second consumer ended");
    let err = second.stderr();
    assert_eq!(status.code(), Some(EXIT_STREAM), "{err}");
    assert!(err.contains("joined a stream in the middle"), "{err}");
    assert!(!out2.exists());
}

/// A stream's records, written by hand from `specs/stream-framing.md`.
mod by_hand {
    /// `kind` 1 (header) or 2 (trailer); `a`, `b`, `c` at offsets 32, 40
    /// and 48 (header: pid in the low 4 bytes of `a`, total length,
    /// start time; trailer: bytes, items, checksum).
    pub fn record(kind: u8, token: u32, id: [u8; 16], a: u64, b: u64, c: u64) -> [u8; 64] {
        let mut r = [0u8; 64];
        r[..8].copy_from_slice(b"shmrSTRM");
        r[8] = kind;
        r[9] = 1;
        r[12..16].copy_from_slice(&token.to_le_bytes());
        r[16..32].copy_from_slice(&id);
        r[32..40].copy_from_slice(&a.to_le_bytes());
        r[40..48].copy_from_slice(&b.to_le_bytes());
        r[48..56].copy_from_slice(&c.to_le_bytes());
        r
    }
}

/// How a hand-made stream's trailer is damaged.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// The checksum is off by one bit.
    Checksum,
    /// The trailer record is cut to 40 bytes.
    Truncated,
    /// One data item is never put, but counted and hashed.
    MissingItem,
}

#[rstest]
#[case::corrupt_checksum(Damage::Checksum, "checksum mismatch")]
#[case::truncated_trailer(Damage::Truncated, "truncated control record")]
#[case::missing_item(Damage::MissingItem, "are missing")]
fn a_damaged_stream_fails_verification(#[case] damage: Damage, #[case] says: &str) {
    let (name, _cleanup) = ring("damaged", 64, SIZE);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    let producer = SharedBuffer::open(&name).unwrap();
    let token = producer.session().unwrap();
    let id = [0x5a; 16];
    let data = random_bytes(10 * SIZE as usize, 4);
    let header = by_hand::record(1, token, id, u64::from(std::process::id()), 0, 0);
    assert!(producer.put(&[]).unwrap() && producer.put(&header).unwrap());
    for (i, item) in data.chunks(SIZE as usize).enumerate() {
        if i == 3 && matches!(damage, Damage::MissingItem) {
            continue;
        }
        assert!(producer.put(item).unwrap());
    }
    let mut checksum = xxhash_rust::xxh3::xxh3_64(&data);
    if matches!(damage, Damage::Checksum) {
        checksum ^= 1;
    }
    let trailer = by_hand::record(2, token, id, data.len() as u64, 10, checksum);
    let trailer = match damage {
        Damage::Truncated => &trailer[..40],
        _ => &trailer[..],
    };
    assert!(producer.put(&[]).unwrap() && producer.put(trailer).unwrap());
    let o = run(&["consume", &name, "--output", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(EXIT_STREAM), "{}", stderr(&o));
    assert!(stderr(&o).contains(says), "{}", stderr(&o));
    assert!(!out.exists());
    assert!(partial(&out).exists(), "partial output kept by default");
}

#[test]
fn a_well_formed_hand_made_stream_is_accepted() {
    // The counterpart of the damaged streams: the spec alone suffices to
    // write a stream that consume accepts.
    let (name, _cleanup) = ring("by-hand", 64, SIZE);
    let producer = SharedBuffer::open(&name).unwrap();
    let token = producer.session().unwrap();
    let data = random_bytes(300, 5);
    let header = by_hand::record(1, token, [1; 16], 7, 0, 0);
    assert!(producer.put(&[]).unwrap() && producer.put(&header).unwrap());
    for item in data.chunks(SIZE as usize) {
        assert!(producer.put(item).unwrap());
    }
    let sum = xxhash_rust::xxh3::xxh3_64(&data);
    let trailer = by_hand::record(2, token, [1; 16], 300, 5, sum);
    assert!(producer.put(&[]).unwrap() && producer.put(&trailer).unwrap());
    let o = run(&["consume", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, data);
}

#[test]
fn two_streams_in_a_row_with_follow_are_delimited() {
    let (name, _cleanup) = ring("follow", 4, 100);
    let dir = tempfile::tempdir().unwrap();
    let inputs = [random_bytes(12_345, 6), random_bytes(54_321, 7)];
    let template = dir.path().join("out-%n.bin");
    let mut consumer = spawn(
        &[
            "consume",
            &name,
            "--follow",
            "--max-streams",
            "2",
            "--output",
            template.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    for (i, data) in inputs.iter().enumerate() {
        let input = dir.path().join(format!("in-{i}.bin"));
        std::fs::write(&input, data).unwrap();
        let o = run(&["produce", &name, "--input", input.to_str().unwrap()]);
        assert!(o.status.success(), "produce {i}: {}", stderr(&o));
    }
    let status = consumer
        .wait_for_exit(Duration::from_secs(20))
        .expect("consume --follow --max-streams 2 ended");
    let err = consumer.stderr();
    assert!(status.success(), "{err}");
    for (i, data) in inputs.iter().enumerate() {
        let got = std::fs::read(dir.path().join(format!("out-{}.bin", i + 1))).unwrap();
        assert!(&got == data, "stream {} differs", i + 1);
    }
    assert_eq!(err.matches("consumed stream").count(), 2, "{err}");
}

#[test]
fn streams_queued_back_to_back_are_taken_one_per_consume() {
    // Both streams wait in the ring before any consumer runs: a consume
    // without --follow takes the first and leaves the second whole, for
    // a consume --follow.
    let (name, _cleanup) = ring("queued", 64, 64);
    let dir = tempfile::tempdir().unwrap();
    let inputs = [random_bytes(1000, 8), random_bytes(999, 9)];
    for (i, data) in inputs.iter().enumerate() {
        let input = dir.path().join(format!("in-{i}.bin"));
        std::fs::write(&input, data).unwrap();
        let o = run(&["produce", &name, "--input", input.to_str().unwrap()]);
        assert!(o.status.success(), "produce {i}: {}", stderr(&o));
    }
    let o = run(&["consume", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == inputs[0], "first stream differs");
    let o = run(&["consume", &name, "--follow", "--max-streams", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == inputs[1], "second stream differs");
}

#[test]
fn produce_and_consume_end_with_a_summary_line() {
    let (name, _cleanup) = ring("summary", 8, 1000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, random_bytes(50_000, 10)).unwrap();
    let mut consumer = spawn(&["consume", &name], Stdio::null());
    let p = run(&["produce", &name, "--input", input.to_str().unwrap()]);
    let status = consumer.wait_for_exit(Duration::from_secs(20)).unwrap();
    let c = consumer.stderr();
    assert!(status.success() && p.status.success(), "{c}");
    for (what, err) in [("produced", stderr(&p)), ("consumed", c)] {
        let line = err
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no summary line in {err:?}"));
        for part in ["50000 bytes", "50 items", " s, ", "MB/s"] {
            assert!(line.contains(part), "{part:?} missing from {line:?}");
        }
    }
}

/// The one wording of the geometry limits, from shmring's constants.
fn limits() -> String {
    format!(
        "a ring holds 1..={} items of 1..={} bytes, in a segment of at most {} bytes",
        shmring::MAX_CAPACITY,
        shmring::MAX_ITEM_SIZE,
        shmring::MAX_SEGMENT_SIZE
    )
}

#[rstest]
#[case::capacity_0(0, 64)]
#[case::capacity_too_large(u64::from(shmring::MAX_CAPACITY) + 1, 64)]
#[case::capacity_past_u32(99_999_999_999, 64)]
#[case::item_size_0(10, 0)]
#[case::item_size_too_large(10, u64::from(shmring::MAX_ITEM_SIZE) + 1)]
#[case::segment_too_large(shmring::MAX_CAPACITY.into(), shmring::MAX_ITEM_SIZE.into())]
fn every_geometry_error_is_a_usage_error_in_one_wording(
    #[case] capacity: u64,
    #[case] item_size: u64,
) {
    let name = unique("geom");
    let _cleanup = SHM.cleanup(name.clone());
    let o = run(&[
        "create",
        &name,
        "--capacity",
        &capacity.to_string(),
        "--item-size",
        &item_size.to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(&limits()), "{}", stderr(&o));
    assert!(!SHM.path(&name).exists());
}

#[rstest]
fn help_shows_exit_codes_and_an_example(
    #[values("create", "produce", "consume", "stat", "ls", "rm")] cmd: &str,
) {
    let o = run(&[cmd, "--help"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(
        text.contains(&format!("Example:\n  shmring {cmd}")),
        "{text}"
    );
}

#[test]
fn a_ring_whose_name_begins_with_a_dash_needs_no_double_dash() {
    let name = format!("-{}", unique("dash"));
    let _cleanup = SHM.cleanup(name.clone());
    assert!(run(&["create", &name]).status.success());
    let o = run(&["stat", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["rm", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!SHM.path(&name).exists());
}

#[rstest]
#[case::invalid_name(&["create", "bad/name"], "bad/name")]
#[case::missing(&["stat", "no-such-ring-q7"], "no-such-ring-q7")]
#[case::exists(&["create", "EXISTING"], "EXISTING")]
fn an_error_names_the_ring_once(#[case] args: &[&str], #[case] ring: &str) {
    let existing = unique("once");
    let _cleanup = SHM.cleanup(existing.clone());
    assert!(run(&["create", &existing]).status.success());
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "EXISTING" { &existing[..] } else { a })
        .collect();
    let ring = if ring == "EXISTING" {
        &existing[..]
    } else {
        ring
    };
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).matches(ring).count(), 1, "{}", stderr(&o));
}

#[test]
fn create_beyond_the_free_shared_memory_says_so() {
    let free = {
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid path and a valid out-pointer.
        let rc = unsafe { libc::statvfs(c"/dev/shm".as_ptr(), &mut s) };
        assert_eq!(rc, 0);
        s.f_bavail as u64 * s.f_frsize as u64
    };
    // Items of 64 MiB: the largest ring within shmring's limits that is
    // larger than the free space.
    let item = u64::from(shmring::MAX_ITEM_SIZE);
    let capacity = free / item + 2;
    if (capacity + 1) * (item + 64) > shmring::MAX_SEGMENT_SIZE {
        eprintln!("skipped: /dev/shm has more free space than the largest ring");
        return;
    }
    let name = unique("nospace");
    let _cleanup = SHM.cleanup(name.clone());
    let o = run(&[
        "create",
        &name,
        "--capacity",
        &capacity.to_string(),
        "--item-size",
        &item.to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("of shared memory and /dev/shm has"), "{err}");
    assert!(err.contains("free"), "{err}");
    assert_eq!(err.matches(&name[..]).count(), 1, "{err}");
    assert!(!SHM.path(&name).exists());
}

/// A restarted producer, made by hand so that nothing races: a stream's
/// header and some data, then, with the first producer's session still
/// open (no death to notice first), a new marker and header. consume must
/// report the restart, whatever it has written so far.
#[test]
fn a_new_header_inside_an_open_stream_is_reported_as_a_restart() {
    let (name, _cleanup) = ring("restart-by-hand", 64, SIZE);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    let first = SharedBuffer::open(&name).unwrap();
    let second = SharedBuffer::open(&name).unwrap();
    let data = random_bytes(5 * SIZE as usize, 8);
    let header = by_hand::record(1, first.session().unwrap(), [1; 16], 1, 0, 0);
    assert!(first.put(&[]).unwrap() && first.put(&header).unwrap());
    for item in data.chunks(SIZE as usize) {
        assert!(first.put(item).unwrap());
    }
    let header = by_hand::record(1, second.session().unwrap(), [2; 16], 2, 0, 0);
    assert!(second.put(&[]).unwrap() && second.put(&header).unwrap());
    let o = run(&["consume", &name, "--output", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(EXIT_STREAM), "{}", stderr(&o));
    assert!(stderr(&o).contains("restarted"), "{}", stderr(&o));
    assert!(!out.exists(), "a broken stream never gets the final name");
    assert_eq!(std::fs::read(partial(&out)).unwrap(), data);
}
