//! The threads of a model: each runs on its own handle with a log of its
//! operations, stamped by a shared logical clock; the merged logs are
//! checked as one history.

use crate::history::{self, Action, Event};
use crate::sync::thread;
use crate::sync::AtomicU64;
use crate::{ModelRing, OpError, Wait};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

/// One thread's record of its operations.
pub(crate) struct Log {
    pub(crate) process: usize,
    pub(crate) clock: Arc<AtomicU64>,
    pub(crate) events: Vec<Event>,
    /// Abandoned puts: (value, t0, t1).
    abandoned_puts: Vec<(Vec<u8>, u64, u64)>,
}

impl Log {
    pub(crate) fn new(process: usize, clock: &Arc<AtomicU64>) -> Self {
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
    pub(crate) fn put<R: ModelRing>(
        &mut self,
        ring: &R,
        value: &[u8],
        wait: Wait,
    ) -> Result<bool, ()> {
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
    pub(crate) fn get<R: ModelRing>(
        &mut self,
        ring: &R,
        wait: Wait,
    ) -> Result<Option<Vec<u8>>, ()> {
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
/// [`unique_item`](crate::item::unique_item)): process, sequence number, then filler.
pub fn model_item(process: usize, seq: usize, len: usize) -> Vec<u8> {
    crate::item::unique_item(crate::item::process_item_id(process as u8, seq as u64), len)
}

/// Merges the logs, adds abandoned puts whose value was delivered (with the
/// interval from their start to their abandonment: they committed), and
/// checks the history. `drained`: the ring was emptied at the end.
///
/// # Panics
/// With the violations and the history, if any rule is broken.
pub(crate) fn check(logs: Vec<Log>, capacity: usize, drained: bool) -> Vec<Event> {
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
pub(crate) fn spawn<R: ModelRing, T: Send + 'static>(
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

pub(crate) fn join<T>(h: thread::JoinHandle<(Log, T)>) -> (Log, T) {
    h.join().expect("model thread panicked")
}

/// Gets until empty, without waiting, on the calling thread.
pub(crate) fn drain<R: ModelRing>(ring: &R, log: &mut Log) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(Some(v)) = log.get(ring, Wait::No) {
        out.push(v);
    }
    out
}

/// Fills the ring from the calling thread with `capacity` items of
/// `process`, without waiting.
pub(crate) fn fill<R: ModelRing>(ring: &R, log: &mut Log, len: usize) {
    for seq in 0..ring.capacity() {
        let process = log.process;
        assert_eq!(
            log.put(ring, &model_item(process, seq, len), Wait::No),
            Ok(true)
        );
    }
}

/// Starts a timer thread that sets the returned flag, then advances the
/// ring's clock by 1 ms (so a flag still clear means the clock has not
/// moved).
pub(crate) fn start_timer<R: ModelRing>(ring: &R) -> (thread::JoinHandle<()>, Arc<AtomicBool>) {
    let moved = Arc::new(AtomicBool::new(false));
    let handle = ring.handle();
    let flag = Arc::clone(&moved);
    let timer = thread::spawn(move || {
        flag.store(true, SeqCst);
        handle.advance_clock();
    });
    (timer, moved)
}
