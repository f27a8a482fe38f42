//! loom models of the ring core: every interleaving of a few threads on the
//! heap ring, up to a preemption bound, with loom's weak-memory atomics and
//! its cell race detector. The heap ring (`shmring::model::HeapRing`) runs
//! the crate-private ring algorithm, the very code that runs on a mapped
//! segment.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!   LOOM_MAX_PREEMPTIONS=3 cargo nextest run -p ringspec-tests --release -E 'test(loom)'
//! ```
//!
//! (This crate depends on shmring with its `model` feature, which these
//! tests need.)
//!
//! `LOOM_MAX_PREEMPTIONS` defaults to [`DEFAULT_PREEMPTIONS`] here (loom's
//! own default is unbounded). The `loom_finds_*` tests switch on one seeded
//! fault of the core each and require loom to report it.

#![cfg(loom)]

use ringcheck_models::{self as models, KillPoint, Wait};
use shmring::model::{heap_ring, heap_ring_single, heap_ring_with_fault, Fault, HeapRing};

/// Preemption bound when `LOOM_MAX_PREEMPTIONS` is not set.
const DEFAULT_PREEMPTIONS: usize = 3;

/// Explores `f` and reports on stderr how many schedules it ran.
fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(usize::MAX, f)
}

/// [`model`] with the preemption bound at most `max`, for models whose
/// schedules at the default bound take minutes.
fn model_bounded(max: usize, f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    let mut builder = loom::model::Builder::new();
    let bound = builder.preemption_bound.unwrap_or(DEFAULT_PREEMPTIONS);
    builder.preemption_bound = Some(bound.min(max));
    let schedules = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&schedules);
    let started = std::time::Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Relaxed);
        f();
    });
    eprintln!(
        "loom: {} schedules, preemption bound {:?}, {:.2?}",
        schedules.load(Relaxed),
        builder.preemption_bound,
        started.elapsed()
    );
}

/// Set in the child process that runs a faulty model.
const CHILD: &str = "SHMRING_LOOM_FAULT_CHILD";

/// Runs the faulty model `run` in a child process (the test binary running
/// only the calling test, with [`CHILD`] set) and requires it to fail with
/// a message containing `expect`. A child, because loom aborts the process
/// when a model fails with threads still blocked (a deadlock), which no
/// `catch_unwind` survives. The calling test is known by its thread's name,
/// which the test harness sets to the test's name, so renaming a test
/// cannot make the child run nothing.
fn finds(expect: &str, run: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        run();
        return;
    }
    let current = std::thread::current();
    let test = current
        .name()
        .filter(|n| *n != "main")
        .expect("finds runs on a test's thread, named after the test");
    // The name may carry the module path; the binary filters by it exactly.
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed") || !out.status.success(),
        "the child ran no test named {test}:\n{stdout}"
    );
    assert!(
        !out.status.success(),
        "loom explored every schedule of {test} and did not find the fault"
    );
    assert!(
        stderr.contains(expect),
        "{test}: loom failed, but not with {expect:?}:\n{stderr}"
    );
}

#[test]
fn loom_put_get_two_threads() {
    model(|| models::put_get(heap_ring(2, 4)));
}

#[test]
fn loom_full_and_empty_capacity_1() {
    model(|| models::boundaries(heap_ring(1, 4)));
}

#[test]
fn loom_full_and_empty_capacity_2() {
    model(|| models::boundaries(heap_ring(2, 4)));
}

#[test]
fn loom_wrap_around() {
    model(|| models::wrap_around(heap_ring(2, 4)));
}

#[test]
fn loom_blocked_get_woken_by_put() {
    model(|| models::get_woken_by_put(heap_ring(1, 4), Wait::Forever));
}

/// Two waits in a row, each woken by its own put: the regression model of
/// the lost wake-up shuttle found (`Fault::SleepUnregistered` is that
/// protocol's hole, and `loom_finds_sleep_unregistered` requires loom to
/// find it in this very model).
#[test]
fn loom_get_woken_twice() {
    model(|| models::get_woken_twice(heap_ring(2, 4)));
}

#[test]
fn loom_blocked_get_with_timeout_woken_by_put() {
    model(|| models::get_woken_by_put(heap_ring(1, 4), Wait::Ms(3_600_000)));
}

#[test]
fn loom_blocked_put_woken_by_get() {
    model(|| models::put_woken_by_get(heap_ring(1, 4), Wait::Forever));
}

#[test]
fn loom_blocked_put_with_timeout_woken_by_get() {
    model(|| models::put_woken_by_get(heap_ring(1, 4), Wait::Ms(3_600_000)));
}

#[test]
fn loom_get_timeout_expires_only_after_the_clock_moves() {
    model(|| models::timeout_expires(heap_ring(1, 4)));
}

#[test]
fn loom_put_timeout_expires_only_after_the_clock_moves() {
    model(|| models::put_timeout_expires(heap_ring(1, 4)));
}

/// Three threads and two locks: at preemption bound 3 the schedules take
/// over a minute on 2 cores, at bound 2 about 2 s (15,616 schedules);
/// `loom_owner_killed_*` and the other models run at the full bound.
#[test]
fn loom_two_producers_one_consumer_keep_per_producer_order() {
    model_bounded(2, || models::two_producers_one_consumer(heap_ring(2, 4)));
}

/// Single roles: no lock on the data path, the producer's and the
/// consumer's slot accesses ordered by the indices alone.
#[test]
fn loom_single_roles_put_get() {
    model(|| models::put_get(heap_ring_single(2, 4)));
}

#[test]
fn loom_single_roles_blocked_get_woken_by_put() {
    model(|| models::get_woken_by_put(heap_ring_single(1, 4), Wait::Forever));
}

/// A single producer killed mid-put or after its commit, while a consumer
/// waits: once it is dead, the next producer takes its role over, and the
/// dead put took effect exactly when it had committed (the waiting consumer
/// gets the dead producer's item first if, and only if, it committed).
fn single_producer_killed_at(point: KillPoint) {
    use ringcheck_models::{CrashModelRing, ModelRing};
    let ring = heap_ring_single(2, 4);
    let consumer = HeapRing::new(ring.memory().handle());
    let c = loom::thread::spawn(move || consumer.get(Wait::Forever));
    let victim = ring.handle_killed_at(point);
    let v = loom::thread::spawn(move || victim.put(b"dead", Wait::Forever));
    assert_eq!(v.join().unwrap(), Err(models::OpError::Abandoned));
    assert_eq!(
        ring.put(b"next", Wait::Forever),
        Ok(true),
        "the role is taken over"
    );
    let first = c.join().unwrap().expect("get").expect("an item");
    let rest = ring.get(Wait::No).expect("get");
    if point == KillPoint::PutCommitted {
        assert_eq!(
            (&first[..], rest.as_deref()),
            (&b"dead"[..], Some(&b"next"[..]))
        );
    } else {
        assert_eq!((&first[..], rest), (&b"next"[..], None));
    }
}

#[test]
fn loom_single_roles_killed_producer_hands_its_role_over() {
    model(|| single_producer_killed_at(KillPoint::PutHalfWritten));
    model(|| single_producer_killed_at(KillPoint::PutCommitted));
}

/// A batch put killed before its commit (after writing its first item)
/// publishes nothing; killed after its commit, before unlocking and waking,
/// it published all of it. A concurrent in-place batch get sees all of the
/// batch or none of it, and the next producer takes the dead one's lock
/// over.
fn batch_killed_at(point: KillPoint) {
    use ringcheck_models::CrashModelRing;
    let ring = heap_ring(4, 4);
    let victim = ring.handle_killed_at(point);
    let consumer = HeapRing::new(ring.memory().handle());
    let v = loom::thread::spawn(move || victim.put_many(&[b"a", b"b"]));
    let c = loom::thread::spawn(move || {
        let mut got = Vec::new();
        consumer
            .get_many_with(4, |item| {
                got.push(item.to_vec());
                true
            })
            .expect("get_many_with");
        got
    });
    assert_eq!(v.join().unwrap(), Err(models::OpError::Abandoned));
    let early = c.join().unwrap();
    assert_eq!(ring.put_many(&[b"c"]), Ok(1), "the lock is taken over");
    let mut all = early.clone();
    ring.get_many(4, |item| all.push(item.to_vec()))
        .expect("drain");
    let dead: Vec<Vec<u8>> = match point {
        KillPoint::PutCommitted => vec![b"a".to_vec(), b"b".to_vec()],
        _ => vec![],
    };
    assert!(early.is_empty() || early == dead, "a torn batch: {early:?}");
    let mut want = dead;
    want.push(b"c".to_vec());
    assert_eq!(all, want);
}

#[test]
fn loom_batch_put_killed_publishes_all_or_nothing() {
    model(|| batch_killed_at(KillPoint::PutHalfWritten));
    model(|| batch_killed_at(KillPoint::PutCommitted));
}

/// The in-place calls: a producer writes two items in slots (`put_with`,
/// then a batch of one with `put_many_with`) while a consumer reads them in
/// their slots (`get_with`, waiting, then `get_many_with`); loom's cells
/// report any slot access without a happens-before edge to the other
/// side's, and the items arrive whole and in order.
#[test]
fn loom_in_place_calls_hand_over_whole_items() {
    model(|| {
        let ring = heap_ring(1, 4);
        let producer = HeapRing::new(ring.memory().handle());
        let p = loom::thread::spawn(move || {
            let forever = std::time::Duration::MAX;
            assert_eq!(
                producer.put_with(2, forever, |s| s.copy_from_slice(b"ab")),
                Ok(true)
            );
            let mut left = 1;
            while left > 0 {
                left -= producer
                    .put_many_with(1, |s| {
                        s[..3].copy_from_slice(b"cde");
                        Some(3)
                    })
                    .expect("put_many_with");
                if left > 0 {
                    loom::thread::yield_now();
                }
            }
        });
        let forever = std::time::Duration::MAX;
        let first = ring.get_with(forever, |item| item.to_vec());
        assert_eq!(first, Ok(Some(b"ab".to_vec())));
        let mut second = Vec::new();
        while second.is_empty() {
            ring.get_many_with(1, |item| {
                second.extend_from_slice(item);
                true
            })
            .expect("get_many_with");
            if second.is_empty() {
                loom::thread::yield_now();
            }
        }
        assert_eq!(second, b"cde");
        p.join().unwrap();
    });
}

/// `put_many` commits its items with one store: a concurrent `get_many`
/// sees all of them or none, and they arrive in order. (Batches are not in
/// `ModelRing`, so this model drives the heap ring directly.)
#[test]
fn loom_batches_are_all_or_nothing() {
    model(|| {
        let ring = heap_ring(2, 4);
        let producer = HeapRing::new(ring.memory().handle());
        let consumer = HeapRing::new(ring.memory().handle());
        let p = loom::thread::spawn(move || producer.put_many(&[b"a", b"bc"]));
        let c = loom::thread::spawn(move || {
            let mut got = Vec::new();
            let n = consumer
                .get_many(2, |item| got.push(item.to_vec()))
                .expect("get_many");
            assert_eq!(n, got.len());
            got
        });
        assert_eq!(p.join().unwrap().expect("put_many"), 2);
        let mut got = c.join().unwrap();
        assert!(got.is_empty() || got.len() == 2, "a torn batch: {got:?}");
        ring.get_many(2, |item| got.push(item.to_vec()))
            .expect("drain");
        assert_eq!(got, [b"a".to_vec(), b"bc".to_vec()]);
    });
}

/// The producers' lock under contention: the lock algorithm of the
/// segment (`shmring::lock`: test-and-test-and-set word, sleepers registry,
/// futex), on model atomics.
#[test]
fn loom_two_producers_contend_for_the_lock() {
    model(|| models::two_producers_contend(heap_ring(2, 4)));
}

/// A producer dies holding the producers' lock (mid-put); two producers
/// then both find its token dead. Exactly one takes the lock over at a
/// time (the exchange of the dead token decides), both puts succeed, and
/// the dead put left nothing.
fn dead_owner_two_successors(ring: HeapRing) {
    use ringcheck_models::{CrashModelRing, ModelRing};
    let victim = ring.handle_killed_at(KillPoint::PutHalfWritten);
    assert_eq!(
        victim.put(b"dead", Wait::No),
        Err(models::OpError::Abandoned)
    );
    let successors: Vec<_> = [b"s0", b"s1"]
        .into_iter()
        .map(|item| {
            let h = HeapRing::new(ring.memory().handle());
            loom::thread::spawn(move || h.put(item, Wait::No))
        })
        .collect();
    for s in successors {
        assert_eq!(s.join().unwrap(), Ok(true), "a successor's put");
    }
    let mut got = vec![
        ring.get(Wait::No).expect("get").expect("an item"),
        ring.get(Wait::No).expect("get").expect("an item"),
    ];
    assert_eq!(ring.get(Wait::No), Ok(None), "the dead put left nothing");
    got.sort();
    assert_eq!(got, [b"s0".to_vec(), b"s1".to_vec()]);
}

#[test]
fn loom_dead_lock_owner_is_taken_over_by_one_successor_at_a_time() {
    model(|| dead_owner_two_successors(heap_ring(2, 4)));
}

#[test]
fn loom_owner_killed_mid_put_leaves_nothing() {
    model(|| models::owner_killed(heap_ring(2, 4), KillPoint::PutHalfWritten));
}

#[test]
fn loom_owner_killed_after_commit_delivers_and_wakes() {
    model(|| models::owner_killed(heap_ring(2, 4), KillPoint::PutCommitted));
}

#[test]
fn loom_owner_killed_mid_get_keeps_the_item() {
    model(|| models::owner_killed(heap_ring(2, 4), KillPoint::GetCopied));
}

#[test]
fn loom_finds_missed_notify() {
    finds("deadlock", || {
        let f = Fault::MissedNotify;
        model(move || models::get_woken_by_put(heap_ring_with_fault(1, 4, f), Wait::Forever))
    });
}

#[test]
fn loom_finds_commit_outside_lock() {
    finds("deadlock", || {
        let f = Fault::CommitOutsideLock;
        model(move || models::two_producers_one_consumer(heap_ring_with_fault(2, 4, f)))
    });
}

#[test]
fn loom_finds_publish_before_write() {
    finds("Causality violation", || {
        let f = Fault::PublishBeforeWrite;
        model(move || models::put_get(heap_ring_with_fault(2, 4, f)))
    });
}

#[test]
fn loom_finds_relaxed_waiter_count() {
    finds("deadlock", || {
        let f = Fault::RelaxedWaiterCount;
        model(move || models::get_woken_by_put(heap_ring_with_fault(1, 4, f), Wait::Forever))
    });
}

#[test]
fn loom_finds_wake_before_commit() {
    finds("deadlock", || {
        let f = Fault::WakeBeforeCommit;
        model(move || models::get_woken_by_put(heap_ring_with_fault(1, 4, f), Wait::Forever))
    });
}

#[test]
fn loom_finds_relaxed_index_refresh() {
    finds("Causality violation", || {
        let f = Fault::RelaxedIndexRefresh;
        model(move || models::put_get(heap_ring_with_fault(2, 4, f)))
    });
}

#[test]
fn loom_finds_commit_before_copy() {
    finds("Causality violation", || {
        let f = Fault::CommitBeforeCopy;
        model(move || models::wrap_around(heap_ring_with_fault(1, 4, f)))
    });
}

#[test]
fn loom_finds_sleep_unregistered() {
    finds("deadlock", || {
        let f = Fault::SleepUnregistered;
        model(move || models::get_woken_twice(heap_ring_with_fault(2, 4, f)))
    });
}

#[test]
fn loom_finds_release_skips_sleepers() {
    finds("deadlock", || {
        let f = Fault::ReleaseSkipsSleepers;
        model(move || models::two_producers_contend(heap_ring_with_fault(2, 4, f)))
    });
}

#[test]
fn loom_finds_takeover_without_exchange() {
    finds("Concurrent write accesses", || {
        let f = Fault::TakeoverWithoutExchange;
        model(move || dead_owner_two_successors(heap_ring_with_fault(2, 4, f)))
    });
}
