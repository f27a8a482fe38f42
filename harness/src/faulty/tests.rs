//! Unit tests: the base ring (fault `correct`) and a quick look at several
//! faults. Every test uses its own ring name, removed again even when the
//! test fails.

use super::segment::os_name;
use super::{remove_segments, Fault, Faulty, FaultyRing, FAULTS};
use crate::driver::{DriverError, Implementation, Ring};
use crate::protocol::ErrorCode;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A unique ring name whose segment is removed on drop (pass or panic).
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Name(format!("ut-{}-{n}-{tag}", std::process::id()))
    }

    fn path(&self) -> std::path::PathBuf {
        format!("/dev/shm/{}", os_name(&self.0).unwrap()).into()
    }

    fn exists(&self) -> bool {
        self.path().exists()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
    }
}

fn create(fault: Fault, name: &Name, capacity: u64, item_size: u64) -> FaultyRing {
    Faulty(fault)
        .create(&name.0, capacity, item_size)
        .expect("create")
}

fn open(fault: Fault, name: &Name) -> FaultyRing {
    Faulty(fault).open(&name.0).expect("open").0
}

fn code<T: std::fmt::Debug>(r: Result<T, DriverError>) -> ErrorCode {
    r.expect_err("expected an error").code
}

fn item(i: u64) -> Vec<u8> {
    format!("item-{i}").into_bytes()
}

#[test]
fn table_is_consistent() {
    assert_eq!(FAULTS.len(), Fault::ALL.len());
    let names: HashSet<_> = FAULTS.iter().map(|f| f.0).collect();
    assert_eq!(names.len(), FAULTS.len(), "duplicate names");
    for (f, &(name, criterion, description)) in Fault::ALL.iter().zip(FAULTS) {
        assert_eq!(Fault::parse(name), Some(*f));
        assert_eq!(f.criterion(), criterion);
        assert!(!description.is_empty());
        let correct = matches!(f, Fault::Correct | Fault::Slow);
        assert_eq!(criterion.is_empty(), correct, "{name}");
    }
    assert_eq!(Fault::parse("no-such-fault"), None);
}

#[test]
fn create_put_get_full_empty_oversize_close() {
    let name = Name::new("basic");
    let mut ring = create(Fault::Correct, &name, 3, 8);
    assert!(name.exists());
    assert_eq!(ring.len().unwrap(), 0);
    assert_eq!(ring.get().unwrap(), None);
    for i in 0..3 {
        assert!(ring.put(&item(i)).unwrap());
    }
    assert!(!ring.put(b"more").unwrap(), "full ring must refuse");
    assert_eq!(ring.len().unwrap(), 3);
    assert_eq!(code(ring.put(b"123456789")), ErrorCode::TooLarge);
    assert!(ring.put(b"").is_ok());
    for i in 0..3 {
        assert_eq!(ring.get().unwrap(), Some(item(i)));
    }
    assert_eq!(ring.get().unwrap(), None);
    assert!(ring.put(b"12345678").unwrap(), "exactly item_size fits");
    assert!(ring.put(b"").unwrap());
    assert_eq!(ring.get().unwrap().as_deref(), Some(&b"12345678"[..]));
    assert_eq!(ring.get().unwrap(), Some(Vec::new()), "0-byte item != null");
    ring.close().unwrap();
    assert!(!name.exists(), "the creator's close removes the name");
    assert_eq!(code(ring.get()), ErrorCode::Closed);
    assert_eq!(code(ring.close()), ErrorCode::Closed);
}

#[test]
fn lifecycle_errors() {
    let name = Name::new("life");
    let imp = Faulty(Fault::Correct);
    assert_eq!(code(imp.open(&name.0)), ErrorCode::NotFound);
    assert!(!name.exists());
    let _ring = create(Fault::Correct, &name, 2, 4);
    assert_eq!(code(imp.create(&name.0, 5, 5)), ErrorCode::Exists);
    let (other, capacity, item_size) = imp.open(&name.0).unwrap();
    assert_eq!(
        (capacity, item_size),
        (2, 4),
        "the existing ring is untouched"
    );
    drop(other);
    assert!(name.exists(), "an opener's drop leaves the name");
    let other = Name::new("geo");
    assert_eq!(code(imp.create(&other.0, 0, 4)), ErrorCode::Invalid);
    assert_eq!(code(imp.create(&other.0, 4, 0)), ErrorCode::Invalid);
    assert_eq!(
        code(imp.create(&other.0, 1 << 40, 1 << 20)),
        ErrorCode::Invalid
    );
    assert_eq!(code(imp.create("a/b", 1, 1)), ErrorCode::Invalid);
    assert_eq!(code(imp.create("", 1, 1)), ErrorCode::Invalid);
    assert!(!other.exists());
}

#[test]
fn drop_of_creator_unlinks() {
    let name = Name::new("drop");
    drop(create(Fault::Correct, &name, 1, 1));
    assert!(!name.exists());
}

#[test]
fn two_handles_in_one_process() {
    let name = Name::new("two");
    let a = create(Fault::Correct, &name, 4, 16);
    let mut b = open(Fault::Correct, &name);
    assert!(a.put(b"from a").unwrap());
    assert!(b.put(b"from b").unwrap());
    assert_eq!(a.len().unwrap(), 2);
    assert_eq!(b.get().unwrap().as_deref(), Some(&b"from a"[..]));
    assert_eq!(a.get().unwrap().as_deref(), Some(&b"from b"[..]));
    b.close().unwrap();
    assert!(name.exists(), "an opener's close keeps the name");
    assert!(a.put(b"still").unwrap());
    assert_eq!(a.get().unwrap().as_deref(), Some(&b"still"[..]));
}

#[test]
fn wraps_many_times() {
    let name = Name::new("wrap");
    let ring = create(Fault::Correct, &name, 3, 8);
    let (mut next_in, mut next_out) = (0u64, 0u64);
    for round in 0..50 {
        let puts = 1 + round % 3;
        for _ in 0..puts {
            if ring.put(&item(next_in)).unwrap() {
                next_in += 1;
            }
        }
        for _ in 0..(round % 2 + 1) {
            match ring.get().unwrap() {
                Some(got) => {
                    assert_eq!(got, item(next_out));
                    next_out += 1;
                }
                None => assert_eq!(next_in, next_out),
            }
        }
    }
    while let Some(got) = ring.get().unwrap() {
        assert_eq!(got, item(next_out));
        next_out += 1;
    }
    assert_eq!(next_in, next_out);
    assert!(next_in > 30);
}

#[test]
fn corrupt_is_detected_and_consumed() {
    let name = Name::new("crc");
    let ring = create(Fault::Correct, &name, 4, 8);
    assert_eq!(code(ring.corrupt()), ErrorCode::Invalid, "empty ring");
    ring.put(b"first").unwrap();
    ring.put(b"").unwrap();
    ring.put(b"third").unwrap();
    ring.corrupt().unwrap();
    assert_eq!(code(ring.get()), ErrorCode::Corrupt);
    ring.corrupt().unwrap(); // the 0-byte item: its CRC is flipped
    assert_eq!(code(ring.get()), ErrorCode::Corrupt);
    assert_eq!(ring.get().unwrap().as_deref(), Some(&b"third"[..]));
    assert_eq!(ring.get().unwrap(), None);
}

#[test]
fn blocking_ops() {
    let name = Name::new("wait");
    let ring = create(Fault::Correct, &name, 1, 8);
    let t = Instant::now();
    assert_eq!(ring.get_wait(Duration::from_millis(50)).unwrap(), None);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(50),
        "returned before its timeout"
    );
    ring.put(b"x").unwrap();
    assert!(!ring.put_wait(b"y", Duration::from_millis(20)).unwrap());
    let other = open(Fault::Correct, &name);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(other.get().unwrap().as_deref(), Some(&b"x"[..]));
        });
        // A lost wake-up would hold it to its 30 s deadline.
        let t = Instant::now();
        assert!(ring.put_wait(b"y", Duration::from_secs(30)).unwrap());
        assert!(t.elapsed() < Duration::from_secs(29), "put_wait woken");
    });
    assert_eq!(ring.get().unwrap().as_deref(), Some(&b"y"[..]));
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(30));
            assert!(other.put(b"z").unwrap());
        });
        let t = Instant::now();
        let got = ring.get_wait(Duration::from_secs(30)).unwrap();
        assert_eq!(got.as_deref(), Some(&b"z"[..]));
        assert!(t.elapsed() < Duration::from_secs(29), "get_wait woken");
    });
}

/// Threads of one process on one handle and on a second handle: every
/// item comes out exactly once, and each producer's items in order.
#[test]
fn concurrent_threads_lose_nothing() {
    let name = Name::new("par");
    let a = create(Fault::Correct, &name, 8, 16);
    let b = open(Fault::Correct, &name);
    const PRODUCERS: u64 = 4;
    const EACH: u64 = 300;
    let got: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let ring = if p % 2 == 0 { &a } else { &b };
            s.spawn(move || {
                for i in 0..EACH {
                    let data = format!("{p}:{i}").into_bytes();
                    assert!(ring.put_wait(&data, Duration::from_secs(10)).unwrap());
                }
            });
        }
        let consumers: Vec<_> = [&a, &b]
            .into_iter()
            .map(|ring| {
                s.spawn(move || {
                    let mut got = Vec::new();
                    while let Some(x) = ring.get_wait(Duration::from_millis(500)).unwrap() {
                        got.push(x);
                    }
                    got
                })
            })
            .collect();
        consumers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = HashSet::new();
    for list in &got {
        let mut last = vec![None; PRODUCERS as usize];
        for x in list {
            assert!(
                seen.insert(x.clone()),
                "duplicate {:?}",
                String::from_utf8_lossy(x)
            );
            let s = String::from_utf8(x.clone()).unwrap();
            let (p, i) = s.split_once(':').unwrap();
            let (p, i): (usize, u64) = (p.parse().unwrap(), i.parse().unwrap());
            assert!(last[p].is_none_or(|l| l < i), "producer order");
            last[p] = Some(i);
        }
    }
    assert_eq!(seen.len() as u64, PRODUCERS * EACH);
}

#[test]
fn hostile_header_is_an_error_not_a_panic() {
    let name = Name::new("hostile");
    let ring = create(Fault::Correct, &name, 2, 8);
    ring.put(b"ok").unwrap();
    // Tail far ahead of head: the indices are refused.
    let path = name.path();
    let mut bytes = std::fs::read(&path).unwrap();
    // Rewrite in place (no O_TRUNC: the file is mapped).
    let rewrite = |bytes: &[u8]| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(bytes).unwrap();
    };
    bytes[32..40].copy_from_slice(&1000u64.to_ne_bytes());
    rewrite(&bytes);
    assert_eq!(code(ring.get()), ErrorCode::Internal);
    assert_eq!(code(ring.put(b"x")), ErrorCode::Internal);
    // A stored length beyond item_size is a corrupt item, consumed.
    bytes[32..40].copy_from_slice(&1u64.to_ne_bytes());
    bytes[64..68].copy_from_slice(&u32::MAX.to_ne_bytes());
    rewrite(&bytes);
    assert_eq!(code(ring.get()), ErrorCode::Corrupt);
    assert_eq!(ring.len().unwrap(), 0);
    // A geometry larger than the file: open refuses it.
    bytes[8..16].copy_from_slice(&1_000_000u64.to_ne_bytes());
    rewrite(&bytes);
    assert_eq!(
        code(Faulty(Fault::Correct).open(&name.0)),
        ErrorCode::Internal
    );
}

#[test]
fn slow_is_correct() {
    let name = Name::new("slow");
    let ring = create(Fault::Slow, &name, 2, 4);
    let t = Instant::now();
    assert!(ring.put(b"a").unwrap());
    assert!(ring.put(b"b").unwrap());
    assert!(!ring.put(b"c").unwrap());
    assert_eq!(ring.get().unwrap().as_deref(), Some(&b"a"[..]));
    assert!(t.elapsed() >= 4 * super::ring::SLOW_OP, "every op sleeps");
}

#[test]
fn fault_lifo() {
    let name = Name::new("lifo");
    let ring = create(Fault::Lifo, &name, 4, 8);
    for i in 0..3 {
        ring.put(&item(i)).unwrap();
    }
    assert_eq!(ring.get().unwrap(), Some(item(2)));
    assert_eq!(ring.get().unwrap(), Some(item(1)));
}

#[test]
fn fault_overwrite_when_full() {
    let name = Name::new("ovw");
    let ring = create(Fault::OverwriteWhenFull, &name, 2, 8);
    for i in 0..3 {
        assert!(ring.put(&item(i)).unwrap(), "stored: true even when full");
    }
    assert_eq!(ring.len().unwrap(), 2);
    assert_eq!(ring.get().unwrap(), Some(item(1)), "item 0 was overwritten");
}

#[test]
fn fault_capacity_plus_one() {
    let name = Name::new("cap1");
    let ring = create(Fault::CapacityPlusOne, &name, 2, 8);
    for i in 0..3 {
        assert!(ring.put(&item(i)).unwrap());
    }
    assert!(!ring.put(&item(3)).unwrap());
    assert_eq!(ring.len().unwrap(), 3);
    assert_eq!(ring.get().unwrap(), Some(item(2)), "slot of item 0 reused");
}

#[test]
fn fault_oversize_truncates() {
    let name = Name::new("trunc");
    let ring = create(Fault::OversizeTruncates, &name, 2, 4);
    assert!(ring.put(b"abcdefgh").unwrap());
    assert_eq!(ring.get().unwrap().as_deref(), Some(&b"abcd"[..]));
}

#[test]
fn fault_zero_byte_is_null() {
    let name = Name::new("zero");
    let ring = create(Fault::ZeroByteIsNull, &name, 2, 4);
    ring.put(b"").unwrap();
    ring.put(b"x").unwrap();
    assert_eq!(ring.get().unwrap(), None);
    assert_eq!(ring.get().unwrap().as_deref(), Some(&b"x"[..]));
}

#[test]
fn fault_wrap_loses_slot() {
    let name = Name::new("wls");
    let ring = create(Fault::WrapLosesSlot, &name, 3, 8);
    for i in 0..3 {
        assert!(ring.put(&item(i)).unwrap());
    }
    for i in 0..3 {
        assert_eq!(ring.get().unwrap(), Some(item(i)), "first cycle is fine");
    }
    ring.put(&item(3)).unwrap();
    assert_eq!(
        ring.get().unwrap(),
        Some(item(0)),
        "stale slot after the wrap"
    );
}

#[test]
fn fault_checksums() {
    let name = Name::new("nocrc");
    let ring = create(Fault::NoChecksum, &name, 2, 4);
    ring.put(b"a").unwrap();
    ring.corrupt().unwrap();
    assert_eq!(
        ring.get().unwrap().as_deref(),
        Some(&b"`"[..]),
        "bit 0 of 'a'"
    );

    let name = Name::new("stall");
    let ring = create(Fault::CorruptStalls, &name, 2, 4);
    ring.put(b"a").unwrap();
    ring.put(b"b").unwrap();
    ring.corrupt().unwrap();
    assert_eq!(code(ring.get()), ErrorCode::Corrupt);
    assert_eq!(code(ring.get()), ErrorCode::Corrupt, "not consumed");
    assert_eq!(ring.len().unwrap(), 2);
}

#[test]
fn fault_no_wakeup() {
    let name = Name::new("nowake");
    let ring = create(Fault::NoWakeup, &name, 2, 4);
    let other = open(Fault::NoWakeup, &name);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Well past the 10 ms it watches, so it is parked unwatched.
            std::thread::sleep(Duration::from_millis(200));
            other.put(b"x").unwrap();
        });
        let t = Instant::now();
        let got = ring.get_wait(Duration::from_millis(1000)).unwrap();
        assert_eq!(got.as_deref(), Some(&b"x"[..]));
        assert!(t.elapsed() >= Duration::from_millis(1000), "not woken");
    });
    // A handoff within its first 10 ms still works.
    ring.put(b"y").unwrap();
    let t = Instant::now();
    assert_eq!(
        ring.get_wait(Duration::from_secs(30)).unwrap().as_deref(),
        Some(&b"y"[..])
    );
    assert!(t.elapsed() < Duration::from_secs(29));
}

#[test]
fn fault_lifecycle() {
    let name = Name::new("opcr");
    let (mut ring, capacity, item_size) = Faulty(Fault::OpenCreates).open(&name.0).unwrap();
    assert_eq!((capacity, item_size), (10, 64));
    assert!(name.exists());
    ring.close().unwrap();
    assert!(!name.exists());

    let name = Name::new("keep");
    let mut ring = create(Fault::CloseKeepsName, &name, 1, 1);
    ring.close().unwrap();
    assert!(name.exists(), "close keeps the name");
    assert!(Faulty(Fault::CloseKeepsName).open(&name.0).is_ok());
    drop(ring);
    assert!(name.exists(), "nothing removes it: the segment leaks");
}

#[test]
fn fault_lock_leak_on_error() {
    let name = Name::new("leak");
    let a = create(Fault::LockLeakOnError, &name, 2, 4);
    let mut b = open(Fault::LockLeakOnError, &name);
    let _ = &mut b;
    assert!(b.lock_is_free());
    assert_eq!(code(a.put(b"too large")), ErrorCode::TooLarge);
    assert!(
        !b.lock_is_free(),
        "the flock is still held by a's descriptor"
    );
    assert!(a.put(b"ok").unwrap(), "a's own ops still get through");
    assert!(!b.lock_is_free(), "and do not release it");
    drop(a);
    assert!(b.lock_is_free(), "closing the descriptor releases it");
    b.close().unwrap();

    // The correct ring releases the lock on that error path.
    let name = Name::new("noleak");
    let a = create(Fault::Correct, &name, 2, 4);
    let b = open(Fault::Correct, &name);
    assert_eq!(code(a.put(b"too large")), ErrorCode::TooLarge);
    assert!(b.lock_is_free());
}

#[test]
fn fault_unlocked_and_non_robust_still_work_single_threaded() {
    for fault in [
        Fault::Unlocked,
        Fault::NonRobustLock,
        Fault::PublishBeforeWrite,
    ] {
        let name = Name::new("st");
        let ring = create(fault, &name, 3, 16);
        for round in 0..4 {
            for i in 0..3 {
                assert!(ring.put(&item(round * 3 + i)).unwrap(), "{fault:?}");
            }
            for i in 0..3 {
                assert_eq!(ring.get().unwrap(), Some(item(round * 3 + i)), "{fault:?}");
            }
        }
    }
}

#[test]
fn remove_segments_cleans_up_after_killed_creators() {
    let a = Name::new("left");
    let prefix = a.0.clone();
    let b = Name(format!("{prefix}-b"));
    // A creator that never closes nor drops, as if SIGKILLed.
    std::mem::forget(create(Fault::Correct, &a, 1, 1));
    std::mem::forget(create(Fault::Correct, &b, 1, 1));
    let other = Name::new("kept");
    let kept = create(Fault::Correct, &other, 1, 1);
    assert_eq!(remove_segments(""), 0);
    assert_eq!(remove_segments(&prefix), 2);
    assert!(!a.exists() && !b.exists());
    assert!(other.exists());
    drop(kept);
}
