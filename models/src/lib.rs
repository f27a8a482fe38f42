//! Schedule-exploration models of a ring, generic over the ring
//! ([`ModelRing`]), to run under loom, shuttle or plain threads.
//!
//! Each model spawns its threads through [`sync`] (the facade that is
//! `std`, loom under `--cfg loom` or shuttle under `--cfg shuttle`), records every operation
//! as a history [`Event`] stamped by a logical clock, and checks the
//! history for linearizability against the FIFO specification with
//! [`history::check`] plus the model's own assertions. A violation panics,
//! which is how loom and shuttle learn that a schedule failed.
//!
//! The loom models are small on purpose (2 to 4 threads, a few operations)
//! because loom explores every interleaving up to its preemption bound; the
//! shuttle [`Scenario`]s are larger (3 to 4 threads, tens of operations)
//! and chosen by proptest ([`scenario_strategy`]).
//!
//! A ring joins by implementing [`ModelRing`] (and [`CrashModelRing`] if it
//! can model an owner killed inside its critical section) on loom's or
//! shuttle's primitives under the same `cfg`, so that loom and shuttle
//! control its threads, atomics and locks. This crate depends on no ring:
//! `shmring` implements both traits for its heap ring behind its `model`
//! feature, and its `tests/loom.rs` and `tests/shuttle.rs` show the runner
//! glue.

#![deny(missing_docs)]

pub mod history;
mod rng;
pub mod sync;

pub use rng::Rng;

use crate::history::{Action, Event};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use crate::sync::thread;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// How long a put or get may wait, in the ring's model clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wait {
    /// Do not wait: refuse when full, return nothing when empty.
    No,
    /// Wait up to this many model milliseconds (each
    /// [`ModelRing::advance_clock`] is one).
    Ms(u64),
    /// Wait until woken; a lost wake-up leaves the thread asleep, which
    /// loom and shuttle report as a deadlock.
    Forever,
}

impl Wait {
    /// As a `Duration` (`Duration::MAX` for ever, zero for no wait).
    pub fn duration(self) -> Duration {
        match self {
            Wait::No => Duration::ZERO,
            Wait::Ms(ms) => Duration::from_millis(ms),
            Wait::Forever => Duration::MAX,
        }
    }
}

/// Why an operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// A [`CrashModelRing`] handle abandoned it at its kill point.
    Abandoned,
    /// Any other error (a corrupt item, a broken header, ...), in words.
    Failed(String),
}

/// A ring that the models can drive. All methods are called from threads
/// of the [`sync`] facade.
pub trait ModelRing: Send + Sync + Sized + 'static {
    /// Slots, items.
    fn capacity(&self) -> usize;
    /// Largest item, bytes.
    fn item_size(&self) -> usize;
    /// Another handle on the same ring, for another thread (as another
    /// process would open the ring).
    fn handle(&self) -> Self;
    /// Stores `item`, waiting as `wait` says: `Ok(false)` if full at the
    /// end of the wait.
    ///
    /// # Errors
    /// [`OpError`].
    fn put(&self, item: &[u8], wait: Wait) -> Result<bool, OpError>;
    /// Takes the oldest item, waiting as `wait` says: `Ok(None)` if empty at
    /// the end of the wait.
    ///
    /// # Errors
    /// [`OpError`].
    fn get(&self, wait: Wait) -> Result<Option<Vec<u8>>, OpError>;
    /// Moves the ring's model clock on by 1 ms and wakes timed waiters.
    fn advance_clock(&self);
}

/// Where a [`CrashModelRing`] handle dies, holding the ring's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// A put has written part of its payload; nothing is published.
    PutHalfWritten,
    /// A put has committed but not unlocked.
    PutCommitted,
    /// A get has copied its item out but not consumed it.
    GetCopied,
}

/// A ring whose handles can die inside the critical section.
pub trait CrashModelRing: ModelRing {
    /// A handle whose first operation reaching `point` is abandoned there,
    /// holding the lock ([`OpError::Abandoned`]).
    fn handle_killed_at(&self, point: KillPoint) -> Self;
}

/// One thread's record of its operations.
struct Log {
    process: usize,
    clock: Arc<AtomicU64>,
    events: Vec<Event>,
    /// Abandoned puts: (value, t0, t1).
    abandoned_puts: Vec<(Vec<u8>, u64, u64)>,
}

impl Log {
    fn new(process: usize, clock: &Arc<AtomicU64>) -> Self {
        Log {
            process,
            clock: Arc::clone(clock),
            events: Vec::new(),
            abandoned_puts: Vec::new(),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, SeqCst)
    }

    /// Puts `value`; `Err` only for an abandoned put.
    fn put<R: ModelRing>(&mut self, ring: &R, value: &[u8], wait: Wait) -> Result<bool, ()> {
        let t0 = self.tick();
        let r = ring.put(value, wait);
        let t1 = self.tick();
        match r {
            Ok(stored) => {
                self.events.push(Event {
                    process: self.process,
                    action: Action::Put {
                        value: value.to_vec(),
                        stored,
                    },
                    t0,
                    t1,
                });
                Ok(stored)
            }
            Err(OpError::Abandoned) => {
                self.abandoned_puts.push((value.to_vec(), t0, t1));
                Err(())
            }
            Err(OpError::Failed(e)) => panic!(
                "process {}: put of {} failed: {e}",
                self.process,
                history::show(value)
            ),
        }
    }

    /// Gets; `Err` only for an abandoned get.
    fn get<R: ModelRing>(&mut self, ring: &R, wait: Wait) -> Result<Option<Vec<u8>>, ()> {
        let t0 = self.tick();
        let r = ring.get(wait);
        let t1 = self.tick();
        match r {
            Ok(value) => {
                self.events.push(Event {
                    process: self.process,
                    action: Action::Get {
                        value: value.clone(),
                    },
                    t0,
                    t1,
                });
                Ok(value)
            }
            Err(OpError::Abandoned) => Err(()),
            Err(OpError::Failed(e)) => panic!("process {}: get failed: {e}", self.process),
        }
    }
}

/// A unique item of `len` bytes (at least the header of
/// [`history::unique_item`]): process, sequence number, then filler.
pub fn item(process: usize, seq: usize, len: usize) -> Vec<u8> {
    history::unique_item(history::process_item_id(process as u8, seq as u64), len)
}

/// Merges the logs, adds abandoned puts whose value was delivered (with the
/// interval from their start to their abandonment: they committed), and
/// checks the history. `drained`: the ring was emptied at the end.
///
/// # Panics
/// With the violations and the history, if any rule is broken.
fn check(logs: Vec<Log>, capacity: usize, drained: bool) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    let mut abandoned = Vec::new();
    for log in logs {
        events.extend(log.events);
        abandoned.extend(log.abandoned_puts.into_iter().map(|a| (log.process, a)));
    }
    for (process, (value, t0, t1)) in abandoned {
        let got = events
            .iter()
            .any(|e| matches!(&e.action, Action::Get { value: Some(v) } if *v == value));
        if got {
            events.push(Event {
                process,
                action: Action::Put {
                    value,
                    stored: true,
                },
                t0,
                t1,
            });
        }
    }
    events.sort_by_key(|e| e.t0);
    let violations = history::check(&events, capacity as u64, drained);
    if !violations.is_empty() {
        let mut msg = String::from("history is not linearizable:\n");
        for v in &violations {
            msg.push_str(&format!("  {}: {}\n", v.rule, v.message));
        }
        msg.push_str("history (t0..t1 process action):\n");
        for e in &events {
            msg.push_str(&format!(
                "  {:>3}..{:<3} p{} {:?}\n",
                e.t0, e.t1, e.process, e.action
            ));
        }
        panic!("{msg}");
    }
    events
}

/// Runs `f` on its own facade thread with its own handle and log.
fn spawn<R: ModelRing, T: Send + 'static>(
    ring: &R,
    process: usize,
    clock: &Arc<AtomicU64>,
    f: impl FnOnce(&R, &mut Log) -> T + Send + 'static,
) -> thread::JoinHandle<(Log, T)> {
    let handle = ring.handle();
    let mut log = Log::new(process, clock);
    thread::spawn(move || {
        let out = f(&handle, &mut log);
        (log, out)
    })
}

fn join<T>(h: thread::JoinHandle<(Log, T)>) -> (Log, T) {
    h.join().expect("model thread panicked")
}

/// Gets until empty, without waiting, on the calling thread.
fn drain<R: ModelRing>(ring: &R, log: &mut Log) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(Some(v)) = log.get(ring, Wait::No) {
        out.push(v);
    }
    out
}

/// Fills the ring from the calling thread with `capacity` items of
/// `process`, without waiting.
fn fill<R: ModelRing>(ring: &R, log: &mut Log, len: usize) {
    for seq in 0..ring.capacity() {
        let process = log.process;
        assert_eq!(log.put(ring, &item(process, seq, len), Wait::No), Ok(true));
    }
}

/// Starts a timer thread that sets the returned flag, then advances the
/// ring's clock by 1 ms (so a flag still clear means the clock has not
/// moved).
fn start_timer<R: ModelRing>(ring: &R) -> (thread::JoinHandle<()>, Arc<AtomicBool>) {
    let moved = Arc::new(AtomicBool::new(false));
    let handle = ring.handle();
    let flag = Arc::clone(&moved);
    let timer = thread::spawn(move || {
        flag.store(true, SeqCst);
        handle.advance_clock();
    });
    (timer, moved)
}

/// A producer thread puts two items while a consumer thread tries two
/// non-blocking gets; the main thread drains. FIFO, nothing lost or
/// duplicated, `None` only when the ring may be empty.
pub fn put_get<R: ModelRing>(ring: R) {
    let clock = Arc::new(AtomicU64::new(0));
    let len = ring.item_size().min(4);
    let p = spawn(&ring, 0, &clock, move |r, log| {
        for seq in 0..2 {
            assert_eq!(log.put(r, &item(0, seq, len), Wait::No), Ok(true));
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
        main.put(&ring, &item(2, cap, len), Wait::No),
        Ok(false),
        "a put into a full ring must be refused"
    );
    for seq in 0..cap {
        assert_eq!(
            main.get(&ring, Wait::No),
            Ok(Some(item(2, seq, len))),
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
            let _ = log.put(r, &item(0, seq, len), Wait::No);
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
            assert_eq!(log.put(r, &item(0, seq, len), Wait::Forever), Ok(true));
        }
    });
    let c = spawn(&ring, 1, &clock, move |r, log| {
        (0..=cap)
            .map(|_| log.get(r, Wait::Forever).ok().flatten())
            .collect::<Vec<_>>()
    });
    let (lp, ()) = join(p);
    let (lc, got) = join(c);
    let mut want = vec![Some(item(2, cap - 1, len))];
    want.extend((0..cap).map(|seq| Some(item(0, seq, len))));
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
        assert_eq!(log.put(r, &item(0, 0, len), Wait::No), Ok(true));
    });
    let (lp, ()) = join(p);
    let (lc, got) = join(c);
    assert_eq!(got, Ok(Some(item(0, 0, len))), "the waiting get");
    check(vec![lp, lc], ring.capacity(), true);
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
        log.put(r, &item(0, 0, len), wait)
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
        assert_eq!(log.put(r, &item(0, 0, len), Wait::No), Ok(true));
    });
    let (timer, moved) = start_timer(&ring);
    let (lc, got) = join(c);
    let moved_before_return = moved.load(SeqCst);
    let (lp, ()) = join(p);
    timer.join().expect("timer thread");
    match got {
        Ok(Some(v)) => assert_eq!(v, item(0, 0, len)),
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
        log.put(r, &item(0, 0, len), Wait::Ms(1))
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
            assert_eq!(log.put(r, &item(0, seq, len), Wait::Forever), Ok(true));
        }
    });
    let b = spawn(&ring, 1, &clock, move |r, log| {
        assert_eq!(log.put(r, &item(1, 0, len), Wait::Forever), Ok(true));
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
            .filter(|v| history::decode_process_item(v).is_some_and(|(q, _)| q == p))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        from(0),
        vec![item(0, 0, len), item(0, 1, len)],
        "producer 0's order"
    );
    assert_eq!(from(1), vec![item(1, 0, len)]);
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
    let victim_item = item(0, 0, len);
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
            assert_eq!(log.put(r, &item(2, 0, len), Wait::Forever), Ok(true));
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

/// A shuttle scenario: a ring geometry and each thread's operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Slots, items.
    pub capacity: u32,
    /// Largest item, bytes; at least 3.
    pub item_size: u32,
    /// Per producer thread: each put's item length (bytes, 3 to
    /// `item_size`) and wait.
    pub producers: Vec<Vec<(u32, Wait)>>,
    /// Per consumer thread: each get's wait.
    pub consumers: Vec<Vec<Wait>>,
}

/// Generates [`Scenario`]s: capacity 1 to 8 (edges favoured), item size 3
/// to 16 bytes, 1 or 2 producers and 1 or 2 consumers with at least 3
/// threads in all, 5 to `max_ops` operations each, a third of them not
/// waiting, a third waiting a few model ms and a third waiting for ever.
pub fn scenario_strategy(max_ops: usize) -> impl Strategy<Value = Scenario> {
    let wait = prop_oneof![
        Just(Wait::No),
        (1u64..4).prop_map(Wait::Ms),
        Just(Wait::Forever),
    ];
    let geometry = (prop_oneof![Just(1u32), Just(2), 1u32..=8], 3u32..=16);
    (geometry, 1usize..=2, 1usize..=2)
        .prop_filter("at least 3 threads", |(_, p, c)| p + c >= 3)
        .prop_flat_map(move |((capacity, item_size), p, c)| {
            let put = (3..=item_size, wait.clone());
            let ops = 5..=max_ops.max(5);
            (
                Just(capacity),
                Just(item_size),
                proptest::collection::vec(proptest::collection::vec(put, ops.clone()), p),
                proptest::collection::vec(proptest::collection::vec(wait.clone(), ops), c),
            )
        })
        .prop_map(|(capacity, item_size, producers, consumers)| Scenario {
            capacity,
            item_size,
            producers,
            consumers,
        })
}

/// Runs `scenario` on `ring` (of the scenario's geometry): producers and
/// consumers run their operations while the main thread advances the clock
/// (so timed waits expire); once every producer is done, the main thread
/// puts one end marker per consumer, waiting for ever, and each consumer,
/// after its own operations, waits for ever until it takes one. The ring is
/// then empty, and the whole history must be linearizable with nothing
/// lost. Every wait for ever must be woken.
///
/// For shuttle and plain threads; the clock loop is too long for loom.
///
/// # Panics
/// On a violation, or if `ring`'s geometry is not the scenario's.
pub fn run_scenario<R: ModelRing>(ring: R, scenario: &Scenario) {
    assert_eq!(ring.capacity(), scenario.capacity as usize);
    let clock = Arc::new(AtomicU64::new(0));
    let producers_done = Arc::new(AtomicUsize::new(0));
    let end_len = 3.min(scenario.item_size as usize);
    const END: u8 = 0xff;
    let producers: Vec<_> = scenario
        .producers
        .iter()
        .enumerate()
        .map(|(p, ops)| {
            let ops = ops.clone();
            let done = Arc::clone(&producers_done);
            spawn(&ring, p, &clock, move |r, log| {
                for (seq, &(len, wait)) in ops.iter().enumerate() {
                    let _ = log.put(r, &item(p, seq, len as usize), wait);
                }
                done.fetch_add(1, SeqCst);
            })
        })
        .collect();
    let first_consumer = scenario.producers.len();
    let consumers: Vec<_> = scenario
        .consumers
        .iter()
        .enumerate()
        .map(|(c, ops)| {
            let ops = ops.clone();
            spawn(&ring, first_consumer + c, &clock, move |r, log| {
                let is_end = |v: &Option<Vec<u8>>| {
                    v.as_deref()
                        .and_then(history::decode_process_item)
                        .is_some_and(|(p, _)| p == END)
                };
                for &wait in &ops {
                    if let Ok(v) = log.get(r, wait) {
                        if is_end(&v) {
                            return;
                        }
                    }
                }
                while !matches!(log.get(r, Wait::Forever), Ok(v) if is_end(&v)) {}
            })
        })
        .collect();
    while producers_done.load(SeqCst) < scenario.producers.len() {
        ring.advance_clock();
        thread::yield_now();
    }
    let main_id = first_consumer + scenario.consumers.len();
    let mut main = Log::new(main_id, &clock);
    for k in 0..scenario.consumers.len() {
        assert_eq!(
            main.put(&ring, &item(END as usize, k, end_len), Wait::Forever),
            Ok(true)
        );
    }
    let mut logs = vec![];
    for h in producers.into_iter().chain(consumers) {
        logs.push(join(h).0);
    }
    assert_eq!(
        main.get(&ring, Wait::No),
        Ok(None),
        "the ring must be empty at the end"
    );
    logs.push(main);
    check(logs, ring.capacity(), true);
}

/// The number in environment variable `var` (a test budget such as
/// `PROPTEST_CASES` or `SHMRING_SHUTTLE_ITERATIONS`), or `default` if it is
/// unset or not a number.
pub fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
