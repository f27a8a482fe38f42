//! Integrity checking of shmring: an item damaged in the segment (by the
//! `test-hooks` feature's `corrupt_oldest`, which flips one bit of the
//! oldest item as stored) is reported as corrupt, consumed, and the items
//! behind it stay reachable, through every way of getting.

use ringspec_tests::unique;
use rstest::rstest;
use shmring::{Config, Error, SharedBuffer};
use std::time::Duration;

fn ring(tag: &str, capacity: u32, item_size: u32) -> SharedBuffer {
    SharedBuffer::create(&unique(tag), Config::new(capacity, item_size)).expect("create")
}

fn drain(r: &SharedBuffer) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| r.get().expect("get")).collect()
}

#[rstest]
#[case::payload(b"abc".as_slice())]
#[case::zero_byte(b"".as_slice())]
fn a_corrupted_item_is_reported_consumed_and_later_items_are_intact(#[case] first: &[u8]) {
    let r = ring("corrupt", 4, 8);
    for item in [first, b"b", b"c"] {
        r.put(item).unwrap();
    }
    assert!(r.corrupt_oldest().unwrap());
    let err = r.get().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Corrupt {
                slot: 0,
                seq: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(drain(&r), vec![b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(r.stats().unwrap().corrupt_items, 1);
}

#[test]
fn corrupt_oldest_on_an_empty_ring_does_nothing() {
    let r = ring("corrupt-empty", 2, 8);
    assert!(!r.corrupt_oldest().unwrap());
}

/// A second handle with a short lock timeout: if a failed operation had
/// kept the lock, its next call would fail with LockTimeout.
#[test]
fn the_lock_is_released_after_every_failed_operation() {
    let r = ring("release", 1, 4);
    let other = SharedBuffer::open_with_lock_timeout(r.name(), Duration::from_millis(200)).unwrap();
    assert!(matches!(r.put(b"toolong"), Err(Error::TooLarge { .. })));
    assert!(other.put(b"ok").unwrap());
    assert!(!r.put(b"full").unwrap());
    assert_eq!(other.len().unwrap(), 1);
    assert!(matches!(
        r.get_into(&mut [0u8; 1]),
        Err(Error::BufferTooSmall { .. })
    ));
    assert_eq!(other.len().unwrap(), 1);
    r.corrupt_oldest().unwrap();
    assert!(matches!(r.get(), Err(Error::Corrupt { .. })));
    assert!(other.put(b"ok2").unwrap());
    assert_eq!(r.get().unwrap(), Some(b"ok2".to_vec()));
    assert_eq!(r.get().unwrap(), None);
    assert_eq!(other.len().unwrap(), 0);
}

#[test]
fn get_many_takes_up_to_max_in_order_and_reports_corruption_after_the_good_ones() {
    let r = ring("get-many", 8, 8);
    for item in [b"0", b"1", b"2", b"3", b"4"] {
        r.put(item).unwrap();
    }
    let mut got = Vec::new();
    assert_eq!(r.get_many(2, |i| got.push(i.to_vec())).unwrap(), 2);
    assert_eq!(got, [b"0".to_vec(), b"1".to_vec()]);
    r.corrupt_oldest().unwrap(); // item "2"
    got.clear();
    let err = r.get_many(10, |i| got.push(i.to_vec())).unwrap_err();
    assert!(matches!(err, Error::Corrupt { seq: 2, .. }), "{err:?}");
    assert_eq!(
        got,
        [b"3".to_vec(), b"4".to_vec()],
        "the good items are still delivered"
    );
    assert_eq!(r.get_many(10, |_| panic!("empty")).unwrap(), 0);
    // Batches wrap around the end of the slot array.
    for round in 0..5u8 {
        assert_eq!(
            r.put_many(&[&[round, 1], &[round, 2], &[round, 3]])
                .unwrap(),
            3
        );
        let mut seen = Vec::new();
        assert_eq!(r.get_many(3, |i| seen.push(i.to_vec())).unwrap(), 3);
        assert_eq!(seen, [vec![round, 1], vec![round, 2], vec![round, 3]]);
    }
}
