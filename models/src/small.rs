//! The small models, sized for loom (2 to 4 threads, a few operations:
//! loom explores every interleaving up to its preemption bound), and run
//! as they are under shuttle and on OS threads.

use crate::history::Action;
use crate::item as items;
use crate::sync::thread;
use crate::sync::AtomicU64;
use crate::threads::{check, drain, fill, join, model_item, spawn, start_timer, Log};
use crate::{CrashModelRing, KillPoint, ModelRing, Wait};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

/// A producer thread puts two items while a consumer thread tries two
/// non-blocking gets; the main thread drains. FIFO, nothing lost or
/// duplicated, `None` only when the ring may be empty.
pub fn put_get<R: ModelRing>(ring: R) {
    let clock = Arc::new(AtomicU64::new(0));
    let len = ring.item_size().min(4);
    let p = spawn(&ring, 0, &clock, move |r, log| {
        for seq in 0..2 {
            assert_eq!(log.put(r, &model_item(0, seq, len), Wait::No), Ok(true));
        }
    });
    let c = spawn(&ring, 1, &clock, |r, log| {
        for _ in 0..2 {
            let _ = log.get(r, Wait::No);
        }
    });
    let (lp, ()) = join(p);
    let (lc, ()) = join(c);
    let mut main = Log::new(2, &clock);
    drain(&ring, &mut main);
    check(vec![lp, lc, main], ring.capacity(), true);
}

/// The full and empty boundaries of a small ring: sequentially, `capacity`
/// puts fill it, the next is refused, `capacity` gets empty it and the next
/// finds nothing; then a producer makes `capacity + 1` non-blocking puts
/// while a consumer makes as many non-blocking gets, and the history must
/// be linearizable (refusals only when it may be full, `None` only when it
/// may be empty).
pub fn boundaries<R: ModelRing>(ring: R) {
    let cap = ring.capacity();
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let mut main = Log::new(2, &clock);
    fill(&ring, &mut main, len);
    assert_eq!(
        main.put(&ring, &model_item(2, cap, len), Wait::No),
        Ok(false),
        "a put into a full ring must be refused"
    );
    for seq in 0..cap {
        assert_eq!(
            main.get(&ring, Wait::No),
            Ok(Some(model_item(2, seq, len))),
            "FIFO"
        );
    }
    assert_eq!(
        main.get(&ring, Wait::No),
        Ok(None),
        "the ring must be empty"
    );
    let p = spawn(&ring, 0, &clock, move |r, log| {
        for seq in 0..=cap {
            let _ = log.put(r, &model_item(0, seq, len), Wait::No);
        }
    });
    let c = spawn(&ring, 1, &clock, move |r, log| {
        for _ in 0..=cap {
            let _ = log.get(r, Wait::No);
        }
    });
    let (lp, ()) = join(p);
    let (lc, ()) = join(c);
    drain(&ring, &mut main);
    check(vec![main, lp, lc], cap, true);
}

/// Indices wrap past the last slot: the main thread puts `capacity` items
/// and takes `capacity - 1`, so the next item goes to slot 0 again; a
/// producer then puts `capacity` more (waiting for space) while a consumer
/// takes `capacity + 1` (waiting for items). Everything arrives once, in
/// order.
pub fn wrap_around<R: ModelRing>(ring: R) {
    let cap = ring.capacity();
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let mut main = Log::new(2, &clock);
    fill(&ring, &mut main, len);
    for _ in 0..cap - 1 {
        assert!(matches!(main.get(&ring, Wait::No), Ok(Some(_))));
    }
    let p = spawn(&ring, 0, &clock, move |r, log| {
        for seq in 0..cap {
            assert_eq!(
                log.put(r, &model_item(0, seq, len), Wait::Forever),
                Ok(true)
            );
        }
    });
    let c = spawn(&ring, 1, &clock, move |r, log| {
        (0..=cap)
            .map(|_| log.get(r, Wait::Forever).ok().flatten())
            .collect::<Vec<_>>()
    });
    let (lp, ()) = join(p);
    let (lc, got) = join(c);
    let mut want = vec![Some(model_item(2, cap - 1, len))];
    want.extend((0..cap).map(|seq| Some(model_item(0, seq, len))));
    assert_eq!(got, want, "wrap-around changed the order");
    check(vec![main, lp, lc], cap, false);
}

/// A consumer blocks in a get on an empty ring (waiting `wait`, which must
/// not expire: no thread advances the clock) and a producer's put must wake
/// it. A lost wake-up is a deadlock.
pub fn get_woken_by_put<R: ModelRing>(ring: R, wait: Wait) {
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let c = spawn(&ring, 1, &clock, move |r, log| log.get(r, wait));
    let p = spawn(&ring, 0, &clock, move |r, log| {
        assert_eq!(log.put(r, &model_item(0, 0, len), Wait::No), Ok(true));
    });
    let (lp, ()) = join(p);
    let (lc, got) = join(c);
    assert_eq!(got, Ok(Some(model_item(0, 0, len))), "the waiting get");
    check(vec![lp, lc], ring.capacity(), true);
}

/// A consumer blocks twice in a row on an empty ring while a producer puts
/// two items, one at a time: each put must wake the consumer waiting at
/// that moment. This is the shape of a lost wake-up that shuttle found in
/// an earlier wake-up protocol: the first put's wake, delayed after its
/// read of the waiter registry, cleared the registration the consumer made
/// for its *second* wait, and the second put then saw no one registered
/// (`shmring`'s `waiters` module tells the story). A lost wake-up is a
/// deadlock.
pub fn get_woken_twice<R: ModelRing>(ring: R) {
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let c = spawn(&ring, 1, &clock, move |r, log| {
        [log.get(r, Wait::Forever), log.get(r, Wait::Forever)]
    });
    let p = spawn(&ring, 0, &clock, move |r, log| {
        for seq in 0..2 {
            assert_eq!(log.put(r, &model_item(0, seq, len), Wait::No), Ok(true));
        }
    });
    let (lp, ()) = join(p);
    let (lc, got) = join(c);
    assert_eq!(
        got,
        [
            Ok(Some(model_item(0, 0, len))),
            Ok(Some(model_item(0, 1, len)))
        ],
        "the waiting gets"
    );
    check(vec![lp, lc], ring.capacity(), true);
}

/// Two producers put one item each into an empty ring of capacity 2
/// without waiting, so that they contend for the producers' lock (one may
/// sleep on it until the other releases it); the main thread drains. Both
/// puts succeed and both items arrive once. A lost wake-up of the lock is
/// a deadlock.
pub fn two_producers_contend<R: ModelRing>(ring: R) {
    assert!(ring.capacity() >= 2, "room for both items");
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            spawn(&ring, p, &clock, move |r, log| {
                assert_eq!(log.put(r, &model_item(p, 0, len), Wait::No), Ok(true));
            })
        })
        .collect();
    let mut logs: Vec<Log> = producers.into_iter().map(|h| join(h).0).collect();
    let mut main = Log::new(2, &clock);
    let got = drain(&ring, &mut main);
    assert_eq!(got.len(), 2, "both items arrive");
    logs.push(main);
    check(logs, ring.capacity(), true);
}

/// A producer blocks in a put on a full ring (waiting `wait`, which must
/// not expire) and a consumer's get must wake it. A lost wake-up is a
/// deadlock.
pub fn put_woken_by_get<R: ModelRing>(ring: R, wait: Wait) {
    let cap = ring.capacity();
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let mut main = Log::new(2, &clock);
    fill(&ring, &mut main, len);
    let p = spawn(&ring, 0, &clock, move |r, log| {
        log.put(r, &model_item(0, 0, len), wait)
    });
    let c = spawn(&ring, 1, &clock, move |r, log| {
        assert!(matches!(log.get(r, Wait::No), Ok(Some(_))));
    });
    let (lp, stored) = join(p);
    let (lc, ()) = join(c);
    assert_eq!(stored, Ok(true), "the waiting put");
    drain(&ring, &mut main);
    check(vec![main, lp, lc], cap, true);
}

/// A consumer waits 1 model ms on an empty ring while a producer puts one
/// item and a timer thread advances the clock by 1 ms. The get either
/// returns the item or, only after the clock moved, nothing; the history is
/// linearizable and nothing is lost.
pub fn timeout_expires<R: ModelRing>(ring: R) {
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let c = spawn(&ring, 1, &clock, move |r, log| log.get(r, Wait::Ms(1)));
    let p = spawn(&ring, 0, &clock, move |r, log| {
        assert_eq!(log.put(r, &model_item(0, 0, len), Wait::No), Ok(true));
    });
    let (timer, moved) = start_timer(&ring);
    let (lc, got) = join(c);
    let moved_before_return = moved.load(SeqCst);
    let (lp, ()) = join(p);
    timer.join().expect("timer thread");
    match got {
        Ok(Some(v)) => assert_eq!(v, model_item(0, 0, len)),
        Ok(None) => assert!(
            moved_before_return,
            "the get timed out before the clock reached its deadline"
        ),
        Err(()) => unreachable!("no handle is killed here"),
    }
    let mut main = Log::new(2, &clock);
    drain(&ring, &mut main);
    check(vec![lp, lc, main], ring.capacity(), true);
}

/// A producer waits 1 model ms to put into a full ring while a consumer
/// takes one item and a timer thread advances the clock by 1 ms. The put
/// either stores or, only after the clock moved, gives up; the history is
/// linearizable and nothing is lost.
pub fn put_timeout_expires<R: ModelRing>(ring: R) {
    let cap = ring.capacity();
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let mut main = Log::new(3, &clock);
    fill(&ring, &mut main, len);
    let p = spawn(&ring, 0, &clock, move |r, log| {
        log.put(r, &model_item(0, 0, len), Wait::Ms(1))
    });
    let c = spawn(&ring, 1, &clock, move |r, log| {
        assert!(matches!(log.get(r, Wait::No), Ok(Some(_))));
    });
    let (timer, moved) = start_timer(&ring);
    let (lp, stored) = join(p);
    let moved_before_return = moved.load(SeqCst);
    let (lc, ()) = join(c);
    timer.join().expect("timer thread");
    match stored {
        Ok(true) => {}
        Ok(false) => assert!(
            moved_before_return,
            "the put timed out before the clock reached its deadline"
        ),
        Err(()) => unreachable!("no handle is killed here"),
    }
    drain(&ring, &mut main);
    check(vec![main, lp, lc], cap, true);
}

/// Two producers put two and one items (waiting for space) while one
/// consumer takes all three (waiting for items): each producer's items
/// arrive in its order, nothing is lost or duplicated.
pub fn two_producers_one_consumer<R: ModelRing>(ring: R) {
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let a = spawn(&ring, 0, &clock, move |r, log| {
        for seq in 0..2 {
            assert_eq!(
                log.put(r, &model_item(0, seq, len), Wait::Forever),
                Ok(true)
            );
        }
    });
    let b = spawn(&ring, 1, &clock, move |r, log| {
        assert_eq!(log.put(r, &model_item(1, 0, len), Wait::Forever), Ok(true));
    });
    let c = spawn(&ring, 2, &clock, move |r, log| {
        (0..3)
            .map(|_| {
                log.get(r, Wait::Forever)
                    .ok()
                    .flatten()
                    .expect("a waiting get returns an item")
            })
            .collect::<Vec<_>>()
    });
    let (la, ()) = join(a);
    let (lb, ()) = join(b);
    let (lc, got) = join(c);
    let from = |p: u8| {
        got.iter()
            .filter(|v| items::decode_process_item(v).is_some_and(|(q, _)| q == p))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        from(0),
        vec![model_item(0, 0, len), model_item(0, 1, len)],
        "producer 0's order"
    );
    assert_eq!(from(1), vec![model_item(1, 0, len)]);
    check(vec![la, lb, lc], ring.capacity(), true);
}

/// A handle dies at `point` inside the critical section, holding the lock,
/// while a consumer waits for an item (for ever) and, unless the victim's
/// put committed (then its signal alone must wake the consumer), a second
/// producer puts one. The lock passes on (the next owner recovers it), the waiting
/// consumer is woken, and the dead operation took effect exactly when it
/// had committed: a put killed at [`KillPoint::PutCommitted`] is delivered
/// once, one killed at [`KillPoint::PutHalfWritten`] never (and never torn),
/// and the item a get killed at [`KillPoint::GetCopied`] had copied stays in
/// the ring and is delivered to someone else (nothing is lost).
pub fn owner_killed<R: CrashModelRing>(ring: R, point: KillPoint) {
    let len = ring.item_size().min(4);
    let clock = Arc::new(AtomicU64::new(0));
    let mut main = Log::new(3, &clock);
    let victim_item = model_item(0, 0, len);
    if point == KillPoint::GetCopied {
        assert_eq!(main.put(&ring, &victim_item, Wait::No), Ok(true));
    }
    let victim = {
        let handle = ring.handle_killed_at(point);
        let mut log = Log::new(0, &clock);
        let value = victim_item.clone();
        thread::spawn(move || {
            let r = if point == KillPoint::GetCopied {
                log.get(&handle, Wait::Forever).map(|_| ())
            } else {
                log.put(&handle, &value, Wait::Forever).map(|_| ())
            };
            assert_eq!(r, Err(()), "the victim's operation must be abandoned");
            log
        })
    };
    let c = spawn(&ring, 1, &clock, |r, log| log.get(r, Wait::Forever));
    let p = (point != KillPoint::PutCommitted).then(|| {
        spawn(&ring, 2, &clock, move |r, log| {
            assert_eq!(log.put(r, &model_item(2, 0, len), Wait::Forever), Ok(true));
        })
    });
    let lv = victim.join().expect("victim thread");
    let (lc, first) = join(c);
    let mut logs = vec![lv, lc];
    logs.extend(p.map(|p| join(p).0));
    assert!(
        matches!(first, Ok(Some(_))),
        "the waiting consumer got nothing"
    );
    drain(&ring, &mut main);
    logs.push(main);
    let events = check(logs, ring.capacity(), true);
    let delivered = events
        .iter()
        .filter(|e| matches!(&e.action, Action::Get { value: Some(v) } if *v == victim_item))
        .count();
    let want = match point {
        KillPoint::PutHalfWritten => 0,
        KillPoint::PutCommitted | KillPoint::GetCopied => 1,
    };
    assert_eq!(
        delivered, want,
        "the item of the operation killed at {point:?} was delivered {delivered} times"
    );
}
