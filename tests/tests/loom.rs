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
use shmring::model::{heap_ring, heap_ring_with_fault, Fault, HeapRing};

/// Preemption bound when `LOOM_MAX_PREEMPTIONS` is not set.
const DEFAULT_PREEMPTIONS: usize = 3;

/// Explores `f` and reports on stderr how many schedules it ran.
fn model(f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
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
/// only `test`, with [`CHILD`] set) and requires it to fail with a message
/// containing `expect`. A child, because loom aborts the process when a
/// model fails with threads still blocked (a deadlock), which no
/// `catch_unwind` survives.
fn finds(test: &str, expect: &str, run: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        run();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
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

#[test]
fn loom_two_producers_one_consumer_keep_per_producer_order() {
    model(|| models::two_producers_one_consumer(heap_ring(2, 4)));
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
    finds("loom_finds_missed_notify", "deadlock", || {
        let f = Fault::MissedNotify;
        model(move || models::get_woken_by_put(heap_ring_with_fault(1, 4, f), Wait::Forever))
    });
}

#[test]
fn loom_finds_commit_outside_lock() {
    finds("loom_finds_commit_outside_lock", "deadlock", || {
        let f = Fault::CommitOutsideLock;
        model(move || models::two_producers_one_consumer(heap_ring_with_fault(2, 4, f)))
    });
}

#[test]
fn loom_finds_publish_before_write() {
    finds(
        "loom_finds_publish_before_write",
        "Causality violation",
        || {
            let f = Fault::PublishBeforeWrite;
            model(move || models::put_get(heap_ring_with_fault(2, 4, f)))
        },
    );
}

#[test]
fn loom_finds_relaxed_waiter_count() {
    finds("loom_finds_relaxed_waiter_count", "deadlock", || {
        let f = Fault::RelaxedWaiterCount;
        model(move || models::get_woken_by_put(heap_ring_with_fault(1, 4, f), Wait::Forever))
    });
}

#[test]
fn loom_finds_wake_before_commit() {
    finds("loom_finds_wake_before_commit", "deadlock", || {
        let f = Fault::WakeBeforeCommit;
        model(move || models::get_woken_by_put(heap_ring_with_fault(1, 4, f), Wait::Forever))
    });
}

#[test]
fn loom_finds_relaxed_index_refresh() {
    finds(
        "loom_finds_relaxed_index_refresh",
        "Causality violation",
        || {
            let f = Fault::RelaxedIndexRefresh;
            model(move || models::put_get(heap_ring_with_fault(2, 4, f)))
        },
    );
}

#[test]
fn loom_finds_commit_before_copy() {
    finds("loom_finds_commit_before_copy", "Causality violation", || {
        let f = Fault::CommitBeforeCopy;
        model(move || models::wrap_around(heap_ring_with_fault(1, 4, f)))
    });
}
