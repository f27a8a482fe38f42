//! Behaviour of one process's view of a ring: the original design's
//! acceptance list, each with a positive and a negative case, plus
//! integrity, lifecycle and hostile-segment checks.

mod common;

use common::{unique, SHM};
use rstest::rstest;
use shmring::{Config, Error, SharedBuffer};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

const HEADER: u64 = shmring::layout::HEADER_SIZE as u64;
const HEAD: u64 = shmring::layout::HEAD_OFFSET as u64;
const TAIL: u64 = shmring::layout::TAIL_OFFSET as u64;

fn ring(tag: &str, capacity: u32, item_size: u32) -> SharedBuffer {
    SharedBuffer::create(&unique(tag), Config::new(capacity, item_size)).expect("create")
}

fn drain(r: &SharedBuffer) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| r.get().expect("get")).collect()
}

#[test]
fn create_then_open_sees_the_same_ring() {
    let r = ring("open", 7, 33);
    let o = SharedBuffer::open(r.name()).expect("open");
    assert_eq!((o.capacity(), o.item_size()), (7, 33));
    assert!(!o.is_creator() && r.is_creator());
    assert!(r.put(b"x").unwrap());
    assert_eq!(o.get().unwrap().as_deref(), Some(&b"x"[..]));
}

#[test]
fn default_config_is_ten_items_of_64_bytes() {
    let r = SharedBuffer::create(&unique("default"), Config::default()).unwrap();
    assert_eq!((r.capacity(), r.item_size()), (10, 64));
}

#[test]
fn open_of_a_missing_ring_is_not_found() {
    let err = SharedBuffer::open(&unique("missing")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[test]
fn create_of_an_existing_name_fails_and_leaves_it_untouched() {
    let r = ring("exists", 4, 8);
    r.put(b"keep").unwrap();
    let err = SharedBuffer::create(r.name(), Config::new(9, 99)).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    let o = SharedBuffer::open(r.name()).unwrap();
    assert_eq!((o.capacity(), o.item_size()), (4, 8));
    assert_eq!(drain(&o), vec![b"keep".to_vec()]);
}

#[rstest]
#[case::capacity_zero(0, 64)]
#[case::item_size_zero(10, 0)]
#[case::capacity_too_large(shmring::MAX_CAPACITY + 1, 1)]
#[case::item_size_too_large(1, shmring::MAX_ITEM_SIZE + 1)]
#[case::segment_too_large(shmring::MAX_CAPACITY, shmring::MAX_ITEM_SIZE)]
fn invalid_geometry_is_refused_and_creates_nothing(#[case] capacity: u32, #[case] item_size: u32) {
    let name = unique("geom");
    let err = SharedBuffer::create(&name, Config::new(capacity, item_size)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(!SHM.path(&name).exists());
}

#[rstest]
#[case::one_byte(1, 1)]
#[case::odd_item(3, 13)]
#[case::large_item(2, 65536)]
fn valid_geometry_is_accepted(#[case] capacity: u32, #[case] item_size: u32) {
    let r = ring("geom-ok", capacity, item_size);
    assert_eq!(
        (r.capacity(), r.item_size()),
        (capacity as usize, item_size as usize)
    );
}

#[rstest]
#[case::empty("")]
#[case::slash("a/b")]
#[case::leading_slash("/abc")]
#[case::space("a b")]
#[case::non_ascii("ringé")]
#[case::nul("a\0b")]
#[case::too_long(&"x".repeat(201))]
fn invalid_names_are_refused(#[case] name: &str) {
    let err = SharedBuffer::create(name, Config::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
    let err = SharedBuffer::open(name).unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
}

#[rstest]
#[case::dots_and_dashes("a.b_c-D")]
#[case::dot(".")]
#[case::longest(&"y".repeat(200))]
fn valid_names_are_accepted(#[case] base: &str) {
    // Unique per process, trimmed to the limit.
    let mut name = format!("{base}{}", std::process::id());
    name.truncate(200);
    let r = SharedBuffer::create(&name, Config::default()).expect("create");
    assert!(SHM.path(&name).exists());
    drop(r);
    assert!(!SHM.path(&name).exists());
}

#[rstest]
#[case(1)]
#[case(2)]
#[case(10)]
fn exactly_capacity_items_fit_and_a_put_on_full_overwrites_nothing(#[case] capacity: u32) {
    let r = ring("full", capacity, 8);
    for i in 0..capacity {
        assert!(r.put(&i.to_le_bytes()).unwrap(), "item {i} must fit");
    }
    assert!(!r.put(b"extra").unwrap(), "put on full must refuse");
    assert!(!r.put_timeout(b"extra", Duration::ZERO).unwrap());
    assert_eq!(r.len().unwrap(), capacity as usize);
    let got = drain(&r);
    let want: Vec<Vec<u8>> = (0..capacity).map(|i| i.to_le_bytes().to_vec()).collect();
    assert_eq!(got, want);
    assert_eq!(r.stats().unwrap().full_refusals, 2);
}

#[test]
fn get_returns_the_item_then_none_when_empty() {
    let r = ring("empty", 3, 8);
    assert_eq!(r.get().unwrap(), None);
    assert!(r.is_empty().unwrap());
    r.put(b"a").unwrap();
    assert_eq!(r.get().unwrap(), Some(b"a".to_vec()));
    assert_eq!(r.get().unwrap(), None);
    let mut buf = [0u8; 8];
    assert_eq!(r.get_into(&mut buf).unwrap(), None);
}

#[test]
fn an_item_of_exactly_item_size_fits_and_one_more_byte_is_refused() {
    let r = ring("oversize", 4, 16);
    r.put(b"before").unwrap();
    assert!(r.put(&[7u8; 16]).unwrap());
    let err = r.put(&[8u8; 17]).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { len: 17, max: 16 }),
        "{err:?}"
    );
    let err = r
        .put_timeout(&[8u8; 1000], Duration::from_millis(10))
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }));
    assert_eq!(r.len().unwrap(), 2, "the refused item changed the ring");
    assert_eq!(drain(&r), vec![b"before".to_vec(), vec![7u8; 16]]);
}

#[test]
fn a_zero_byte_item_is_an_item_distinct_from_none() {
    let r = ring("zero", 2, 4);
    assert!(r.put(b"").unwrap());
    assert_eq!(r.len().unwrap(), 1);
    assert_eq!(r.get().unwrap(), Some(Vec::new()));
    assert_eq!(r.get().unwrap(), None);
    let mut buf = [0u8; 0];
    r.put(b"").unwrap();
    assert_eq!(r.get_into(&mut buf).unwrap(), Some(0));
}

#[test]
fn fifo_over_many_items_and_cycles() {
    let r = ring("fifo", 7, 12);
    let mut next_out = 0u64;
    for i in 0..10_000u64 {
        if !r.put(&i.to_le_bytes()).unwrap() {
            // Full: take a few, checking order.
            for _ in 0..3 {
                let got = r.get().unwrap().unwrap();
                assert_eq!(got, next_out.to_le_bytes());
                next_out += 1;
            }
            assert!(r.put(&i.to_le_bytes()).unwrap());
        }
    }
    for got in drain(&r) {
        assert_eq!(got, next_out.to_le_bytes());
        next_out += 1;
    }
    assert_eq!(next_out, 10_000);
}

#[test]
fn after_fill_and_drain_writing_restarts_at_slot_0_and_nothing_earlier_is_corrupted() {
    let r = ring("wrap", 4, 8);
    let stride = 64; // 8-byte prefix + 8-byte payload, rounded up to a cache line
    for item in [b"a0", b"a1", b"a2", b"a3"] {
        assert!(r.put(item).unwrap());
    }
    assert_eq!(drain(&r).len(), 4);
    for item in [b"b0", b"b1"] {
        assert!(r.put(item).unwrap());
    }
    // b0 sits in slot 0, b1 in slot 1; slots 2 and 3 still hold a2, a3.
    for (slot, want) in [(0, b"b0"), (1, b"b1"), (2, b"a2"), (3, b"a3")] {
        let raw = SHM.peek(r.name(), HEADER + slot * stride, 10);
        assert_eq!(&raw[0..4], &2u32.to_ne_bytes(), "length of slot {slot}");
        assert_eq!(&raw[8..10], want, "payload of slot {slot}");
    }
    // A fill that straddles the end: two more items go to slots 2 and 3,
    // then the ring is full and refuses.
    assert!(r.put(b"b2").unwrap() && r.put(b"b3").unwrap());
    assert!(!r.put(b"b4").unwrap());
    assert_eq!(drain(&r), [b"b0", b"b1", b"b2", b"b3"].map(|b| b.to_vec()));
}

#[test]
fn get_into_a_short_buffer_refuses_and_keeps_the_item() {
    let r = ring("short", 2, 16);
    r.put(b"0123456789").unwrap();
    let mut small = [0u8; 4];
    let err = r.get_into(&mut small).unwrap_err();
    assert!(
        matches!(err, Error::BufferTooSmall { len: 4, needed: 10 }),
        "{err:?}"
    );
    assert_eq!(r.get().unwrap().as_deref(), Some(&b"0123456789"[..]));
}

#[test]
fn a_stored_length_over_item_size_is_corrupt_not_an_overread() {
    let r = ring("badlen", 3, 8);
    r.put(b"x").unwrap();
    r.put(b"y").unwrap();
    SHM.poke(r.name(), HEADER, &u32::MAX.to_ne_bytes());
    let err = r.get().unwrap_err();
    assert!(matches!(err, Error::Corrupt { slot: 0, .. }), "{err:?}");
    assert_eq!(drain(&r), vec![b"y".to_vec()]);
}

#[test]
fn a_payload_byte_changed_behind_the_rings_back_is_caught() {
    let r = ring("flip", 3, 8);
    r.put(b"hello").unwrap();
    SHM.poke(r.name(), HEADER + 8 + 4, b"O");
    assert!(matches!(r.get(), Err(Error::Corrupt { .. })));
}

#[test]
fn get_timeout_on_empty_waits_the_timeout_then_returns_none() {
    let r = ring("get-timeout", 2, 8);
    let t = Instant::now();
    assert_eq!(r.get_timeout(Duration::from_millis(150)).unwrap(), None);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "returned early: {:?}",
        t.elapsed()
    );
}

#[test]
fn put_timeout_on_full_waits_the_timeout_then_returns_false() {
    let r = ring("put-timeout", 1, 8);
    r.put(b"a").unwrap();
    let t = Instant::now();
    assert!(!r.put_timeout(b"b", Duration::from_millis(150)).unwrap());
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "returned early: {:?}",
        t.elapsed()
    );
    assert_eq!(drain(&r), vec![b"a".to_vec()]);
}

#[test]
fn a_waiting_get_is_woken_by_a_put_from_another_thread() {
    let r = ring("wake-get", 1, 8);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| r.get_timeout(Duration::from_secs(30)));
        // Put only once the consumer is registered as sleeping.
        while r.stats().unwrap().waiting_consumers == 0 {
            std::thread::yield_now();
        }
        let t = Instant::now();
        r.put(b"wake").unwrap();
        assert_eq!(waiter.join().unwrap().unwrap(), Some(b"wake".to_vec()));
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "woken only by its deadline"
        );
    });
}

#[test]
fn a_waiting_put_is_woken_by_a_get_from_another_thread() {
    let r = ring("wake-put", 1, 8);
    r.put(b"first").unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| r.put_timeout(b"second", Duration::from_secs(30)));
        while r.stats().unwrap().waiting_producers == 0 {
            std::thread::yield_now();
        }
        let t = Instant::now();
        assert_eq!(r.get().unwrap(), Some(b"first".to_vec()));
        assert!(waiter.join().unwrap().unwrap());
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "woken only by its deadline"
        );
    });
    assert_eq!(drain(&r), vec![b"second".to_vec()]);
}

#[test]
fn operations_after_close_fail_with_closed() {
    let mut r = ring("closed", 2, 8);
    r.close().unwrap();
    assert!(matches!(r.put(b"x"), Err(Error::Closed)));
    assert!(matches!(r.get(), Err(Error::Closed)));
    assert!(matches!(r.len(), Err(Error::Closed)));
    assert!(matches!(r.close(), Err(Error::Closed)));
}

#[test]
fn the_creators_close_removes_the_name_and_an_openers_does_not() {
    let mut r = ring("lifecycle", 2, 8);
    let mut o = SharedBuffer::open(r.name()).unwrap();
    o.close().unwrap();
    assert!(
        SHM.path(r.name()).exists(),
        "an opener's close removed the ring"
    );
    let again = SharedBuffer::open(r.name()).unwrap();
    r.close().unwrap();
    assert!(!SHM.path(r.name()).exists());
    assert!(matches!(
        SharedBuffer::open(r.name()),
        Err(Error::NotFound { .. })
    ));
    // A handle still attached keeps working on its mapping.
    assert!(again.put(b"late").unwrap());
}

#[test]
fn a_persistent_ring_outlives_its_creator_until_removed() {
    let name = unique("persist");
    let _cleanup = SHM.cleanup(name.clone());
    drop(SharedBuffer::create(&name, Config::default().persist(true)).unwrap());
    let o = SharedBuffer::open(&name).unwrap();
    assert!(o.stats().unwrap().persist);
    drop(o);
    SharedBuffer::remove(&name).unwrap();
    assert!(matches!(
        SharedBuffer::remove(&name),
        Err(Error::NotFound { .. })
    ));
}

#[rstest]
#[case::default_mode(None, 0o600)]
#[case::group_readable(Some(0o640), 0o640)]
fn segments_get_exactly_the_configured_mode(#[case] mode: Option<u32>, #[case] want: u32) {
    let mut config = Config::default();
    if let Some(m) = mode {
        config = config.mode(m);
    }
    let r = SharedBuffer::create(&unique("mode"), config).unwrap();
    let got = std::fs::metadata(SHM.path(r.name()))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(got, want);
}

#[test]
fn a_mode_outside_0o777_is_refused() {
    let err = SharedBuffer::create(&unique("badmode"), Config::default().mode(0o4755)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }));
}

/// Hostile segments: each damages one header field of a valid ring and
/// expects a typed error from `open` (never a panic).
#[rstest]
#[case::bad_magic(0, b"NOTARING".as_slice(), "layout")]
#[case::version_1(8, &1u32.to_ne_bytes(), "layout")]
#[case::version_2(8, &2u32.to_ne_bytes(), "layout")]
#[case::version_4(8, &4u32.to_ne_bytes(), "layout")]
#[case::bad_init_state(12, &7u32.to_ne_bytes(), "header")]
#[case::capacity_changed(16, &11u32.to_ne_bytes(), "header")]
#[case::capacity_zero(16, &0u32.to_ne_bytes(), "header")]
#[case::item_size_changed(20, &200u32.to_ne_bytes(), "header")]
#[case::stride_changed(24, &8u32.to_ne_bytes(), "header")]
#[case::slots_offset_changed(36, &0u32.to_ne_bytes(), "header")]
#[case::segment_size_changed(40, &1u64.to_ne_bytes(), "header")]
fn a_corrupt_header_is_refused_on_open(
    #[case] offset: u64,
    #[case] bytes: &[u8],
    #[case] kind: &str,
) {
    let r = ring("hostile", 10, 64);
    SHM.poke(r.name(), offset, bytes);
    let err = SharedBuffer::open(r.name()).unwrap_err();
    match kind {
        "layout" => assert!(matches!(err, Error::IncompatibleLayout { .. }), "{err:?}"),
        _ => assert!(matches!(err, Error::CorruptHeader { .. }), "{err:?}"),
    }
}

#[rstest]
#[case::tail_behind_head(5, 3)]
#[case::more_items_than_capacity(0, 11)]
#[case::huge_tail(0, u64::MAX)]
fn corrupt_indices_make_operations_fail_not_overrun(#[case] head: u64, #[case] tail: u64) {
    let r = ring("indices", 10, 64);
    // A handle that never read the other side's index (here: a fresh one)
    // reads the damaged pair on its first operation.
    let fresh = SharedBuffer::open(r.name()).unwrap();
    SHM.poke(r.name(), HEAD, &head.to_ne_bytes());
    SHM.poke(r.name(), TAIL, &tail.to_ne_bytes());
    assert!(matches!(fresh.put(b"x"), Err(Error::CorruptHeader { .. })));
    assert!(matches!(r.get(), Err(Error::CorruptHeader { .. })));
    assert!(matches!(r.len(), Err(Error::CorruptHeader { .. })));
    // A producer whose cached head still shows free space may store into
    // a slot it owned before the damage, never outside the ring; once the
    // cache says full it reads the pair and fails.
    for _ in 0..=10 {
        match r.put(b"x") {
            Ok(true) => {}
            Err(Error::CorruptHeader { .. }) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(r.put(b"x"), Err(Error::CorruptHeader { .. })));
    // The failed operations released the lock: repair and carry on.
    SHM.poke(r.name(), HEAD, &0u64.to_ne_bytes());
    SHM.poke(r.name(), TAIL, &0u64.to_ne_bytes());
    assert!(r.put(b"x").unwrap());
}

#[test]
fn a_segment_shorter_than_its_geometry_is_refused() {
    let r = ring("short-seg", 10, 64);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(SHM.path(r.name()))
        .unwrap();
    f.set_len(400).unwrap();
    let err = SharedBuffer::open(r.name()).unwrap_err();
    assert!(matches!(err, Error::CorruptHeader { .. }), "{err:?}");
}

#[rstest]
#[case::never_sized(0)]
#[case::sized_but_never_initialised(4096)]
fn a_segment_whose_creator_never_finished_is_not_initialized(#[case] len: u64) {
    let name = unique("unfinished");
    let _cleanup = SHM.cleanup(name.clone());
    std::fs::File::create(SHM.path(&name))
        .unwrap()
        .set_len(len)
        .unwrap();
    let err = SharedBuffer::open(&name).unwrap_err();
    assert!(matches!(err, Error::NotInitialized { .. }), "{err:?}");
}

#[test]
fn a_foreign_file_with_our_prefix_is_incompatible() {
    let name = unique("foreign");
    let _cleanup = SHM.cleanup(name.clone());
    std::fs::write(SHM.path(&name), vec![0xA5u8; 4096]).unwrap();
    let err = SharedBuffer::open(&name).unwrap_err();
    assert!(matches!(err, Error::IncompatibleLayout { .. }), "{err:?}");
}

#[test]
fn a_ring_opened_while_its_creator_initialises_it_waits_for_ready() {
    // A segment at its final size with a pending header: `open` waits on
    // init_state, and succeeds as soon as a valid header is published.
    let name = unique("racing");
    let model = ring("model", 3, 8);
    let image = SHM.peek(model.name(), 0, shmring::layout::HEADER_SIZE + 3 * 64);
    let _cleanup = SHM.cleanup(name.clone());
    let mut pending = image.clone();
    pending[12..16].copy_from_slice(&0u32.to_ne_bytes());
    pending[0..8].fill(0);
    std::fs::write(SHM.path(&name), &pending).unwrap();
    std::thread::scope(|s| {
        let opener = s.spawn(|| SharedBuffer::open(&name));
        // Publish like a creator: the identity fields, then init_state.
        SHM.poke(&name, 0, &image[0..12]);
        SHM.poke(&name, 16, &image[16..64]);
        SHM.poke(&name, 12, &1u32.to_ne_bytes());
        let o = opener.join().unwrap().expect("open after publish");
        assert_eq!(o.capacity(), 3);
    });
}

#[test]
fn threads_sharing_handles_lose_and_duplicate_nothing() {
    let r = ring("threads", 8, 16);
    let per = 2000u32;
    let got = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for p in 0..2u32 {
            let r = &r;
            s.spawn(move || {
                for i in 0..per {
                    let item = [p.to_le_bytes(), i.to_le_bytes()].concat();
                    assert!(r.put_timeout(&item, Duration::from_secs(10)).unwrap());
                }
            });
        }
        for _ in 0..2 {
            let (r, got) = (&r, &got);
            s.spawn(move || {
                let mut mine = Vec::new();
                while let Some(item) = r.get_timeout(Duration::from_millis(500)).unwrap() {
                    mine.push(item);
                }
                got.lock().unwrap().push(mine);
            });
        }
    });
    let got = got.into_inner().unwrap();
    let mut all: Vec<(u32, u32)> = Vec::new();
    for mine in &got {
        let mut last = [None, None];
        for item in mine {
            let p = u32::from_le_bytes(item[0..4].try_into().unwrap());
            let i = u32::from_le_bytes(item[4..8].try_into().unwrap());
            assert!(last[p as usize] < Some(i), "producer {p} out of order");
            last[p as usize] = Some(i);
            all.push((p, i));
        }
    }
    all.sort();
    let want: Vec<(u32, u32)> = (0..2).flat_map(|p| (0..per).map(move |i| (p, i))).collect();
    assert_eq!(all, want, "lost or duplicated items");
}

#[test]
fn the_header_layout_is_pinned() {
    insta::assert_snapshot!(shmring::layout::describe());
}

#[test]
fn specs_layout_md_quotes_the_layout_table() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/layout.md"))
        .expect("specs/layout.md");
    assert!(
        doc.contains(&shmring::layout::describe()),
        "specs/layout.md does not quote layout::describe(); update it"
    );
}

#[test]
fn put_many_stores_what_fits_in_order_and_refuses_oversize_whole() {
    let r = ring("put-many", 3, 4);
    assert_eq!(r.put_many(&[b"a", b"bb"]).unwrap(), 2);
    assert_eq!(
        r.put_many(&[b"c", b"d", b"e"]).unwrap(),
        1,
        "only one slot was free"
    );
    assert_eq!(r.put_many(&[b"f"]).unwrap(), 0, "full");
    assert!(matches!(
        r.put_many(&[b"", b"toolong"]),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(drain(&r), [b"a".to_vec(), b"bb".to_vec(), b"c".to_vec()]);
    assert_eq!(r.put_many(&[]).unwrap(), 0);
}

#[test]
fn a_waiting_get_is_woken_by_put_many() {
    let r = ring("wake-many", 4, 8);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let t = Instant::now();
            (r.get_timeout(Duration::from_secs(30)), t.elapsed())
        });
        while r.stats().unwrap().waiting_consumers == 0 {
            std::thread::yield_now();
        }
        assert_eq!(r.put_many(&[b"x", b"y"]).unwrap(), 2);
        let (got, took) = waiter.join().unwrap();
        assert_eq!(got.unwrap(), Some(b"x".to_vec()));
        assert!(took < Duration::from_secs(30), "woken only by its deadline");
    });
}

#[test]
fn put_with_writes_in_place_and_a_panicking_writer_publishes_nothing() {
    let r = ring("put-with", 2, 8);
    assert!(r.put_with(3, |s| s.copy_from_slice(b"abc")).unwrap());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        r.put_with(2, |s| {
            s.copy_from_slice(b"xx");
            panic!("writer fails half-way");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(
        r.len().unwrap(),
        1,
        "the panicking writer's item is not published"
    );
    assert!(
        r.put_with(1, |s| s[0] = b'd').unwrap(),
        "the lock was released"
    );
    assert!(!r.put_with(1, |_| panic!("not called when full")).unwrap());
    assert!(matches!(
        r.put_with(9, |_| panic!("not called when too large")),
        Err(Error::TooLarge { len: 9, max: 8 })
    ));
    assert_eq!(drain(&r), [b"abc".to_vec(), b"d".to_vec()]);
}

#[test]
fn get_with_reads_in_place_and_a_panicking_reader_leaves_the_item() {
    let r = ring("get-with", 2, 8);
    assert_eq!(r.get_with(|_| ()).unwrap(), None);
    r.put(b"hello").unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        r.get_with(|_| panic!("reader fails"))
    }));
    assert!(panicked.is_err());
    assert_eq!(
        r.get_with(|item| item.to_vec()).unwrap(),
        Some(b"hello".to_vec())
    );
    assert_eq!(r.len().unwrap(), 0);
}

#[test]
fn get_with_does_not_hand_out_a_corrupt_item() {
    let r = ring("get-with-corrupt", 2, 8);
    r.put(b"hello").unwrap();
    r.put(b"next").unwrap();
    SHM.poke(r.name(), HEADER + 8 + 1, b"E");
    let err = r.get_with(|_| panic!("a corrupt item reached the reader"));
    assert!(matches!(err, Err(Error::Corrupt { seq: 0, .. })), "{err:?}");
    assert_eq!(r.get_with(|i| i.to_vec()).unwrap(), Some(b"next".to_vec()));
}

#[test]
fn batches_in_place_fill_and_drain_across_the_wrap() {
    let r = ring("many-with", 3, 4);
    for round in 0..4u8 {
        let mut k = 0u8;
        let n = r
            .put_many_with(usize::MAX, |s| {
                k += 1;
                s[..2].copy_from_slice(&[round, k]);
                Some(2)
            })
            .unwrap();
        assert_eq!(n, 3, "every free slot is filled");
        let mut got = Vec::new();
        assert_eq!(
            r.get_many_with(2, |i| {
                got.push(i.to_vec());
                true
            })
            .unwrap(),
            2
        );
        assert_eq!(
            r.get_many_with(5, |i| {
                got.push(i.to_vec());
                true
            })
            .unwrap(),
            1
        );
        assert_eq!(got, [vec![round, 1], vec![round, 2], vec![round, 3]]);
    }
    assert!(matches!(
        r.put_many_with(2, |_| Some(5)),
        Err(Error::TooLarge { len: 5, max: 4 })
    ));
    assert_eq!(r.len().unwrap(), 0, "an oversize batch publishes nothing");
    assert_eq!(r.put_many_with(2, |_| None).unwrap(), 0);
}

#[test]
fn a_single_role_passes_to_the_next_thread_when_its_holder_thread_exits() {
    let name = unique("single-roles-thread");
    let r = SharedBuffer::create(&name, Config::new(4, 8).single_roles()).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| assert!(r.put(b"a").unwrap())).join().unwrap();
        s.spawn(|| assert_eq!(r.get().unwrap(), Some(b"a".to_vec())))
            .join()
            .unwrap();
    });
    // The holder threads have exited: their roles pass to this thread.
    assert!(r.put(b"b").unwrap(), "the producer role passed on");
    assert_eq!(
        r.get().unwrap(),
        Some(b"b".to_vec()),
        "the consumer role passed on"
    );
    // A live holder still keeps its role from the other threads.
    std::thread::scope(|s| {
        let put = s.spawn(|| r.put(b"c")).join().unwrap();
        assert!(
            matches!(put, Err(Error::RoleTaken { role: "producer" })),
            "{put:?}"
        );
    });
}

#[test]
fn single_roles_are_held_by_one_thread_of_one_handle_until_it_closes() {
    let name = unique("single-roles");
    let r = SharedBuffer::create(&name, Config::new(4, 8).single_roles()).unwrap();
    assert!(
        r.put(b"a").unwrap(),
        "the first put takes the producer role"
    );
    let mut other = SharedBuffer::open(&name).unwrap();
    assert!(matches!(
        other.put(b"b"),
        Err(Error::RoleTaken { role: "producer" })
    ));
    assert_eq!(
        other.get().unwrap(),
        Some(b"a".to_vec()),
        "the consumer role is free"
    );
    assert!(matches!(
        r.get(),
        Err(Error::RoleTaken { role: "consumer" })
    ));
    // Another thread of the role holder's own handle is refused too: the
    // holder's operations take no lock.
    std::thread::scope(|s| {
        let put = s.spawn(|| r.put(b"c")).join().unwrap();
        assert!(
            matches!(put, Err(Error::RoleTaken { role: "producer" })),
            "{put:?}"
        );
    });
    assert_eq!(r.len().unwrap(), 0, "the refused put stored nothing");
    // Closing gives the role up: the next producer takes it.
    other.close().unwrap();
    let third = SharedBuffer::open(&name).unwrap();
    assert!(
        third.get().unwrap().is_none(),
        "the consumer role is free again"
    );
    drop(r);
    assert!(third.put(b"d").unwrap(), "the producer role is free again");
    assert_eq!(third.get().unwrap(), Some(b"d".to_vec()));
}

#[test]
fn a_single_role_ring_says_so_in_its_flags_and_plain_rings_refuse_nobody() {
    let plain = ring("plain-roles", 4, 8);
    let other = SharedBuffer::open(plain.name()).unwrap();
    assert!(plain.put(b"a").unwrap());
    assert!(other.put(b"b").unwrap(), "a plain ring has no roles");
    let single = SharedBuffer::create(&unique("flags"), Config::new(2, 8).single_roles()).unwrap();
    let flags = u32::from_ne_bytes(SHM.peek(single.name(), 28, 4).try_into().unwrap());
    assert_eq!(
        flags & 6,
        6,
        "bits 1 and 2: single producer, single consumer"
    );
    SHM.poke(single.name(), 28, &(flags | 8).to_ne_bytes());
    assert!(matches!(
        SharedBuffer::open(single.name()),
        Err(Error::CorruptHeader { .. })
    ));
}

#[test]
fn a_damaged_item_after_good_ones_ends_an_in_place_batch_before_it() {
    let r = ring("many-with-corrupt", 4, 8);
    r.put_many(&[b"good", b"bad", b"next"]).unwrap();
    // Damage the second item's payload (slot 1).
    let stride = (8 + 8u64).next_multiple_of(64);
    SHM.poke(r.name(), HEADER + stride + 8, b"X");
    let mut seen = Vec::new();
    let took = r
        .get_many_with(10, |item| {
            seen.push(item.to_vec());
            true
        })
        .unwrap();
    assert_eq!((took, seen.as_slice()), (1, &[b"good".to_vec()][..]));
    let err = r.get_many_with(10, |_| panic!("a damaged item reached the reader"));
    assert!(matches!(err, Err(Error::Corrupt { seq: 1, .. })), "{err:?}");
    assert_eq!(r.get().unwrap(), Some(b"next".to_vec()));
}
