//! `ringcheck_models` is generic: a ring that is not shmring, built on its
//! own facade (std, or shuttle under `--cfg shuttle`), runs the same
//! models. Here a plain `Mutex<VecDeque>` + `Condvar` ring passes them on
//! OS threads and, with `RUSTFLAGS="--cfg shuttle"`, under shuttle's
//! schedulers; a LIFO variant of it is caught.

#![cfg(not(loom))]

use ringcheck_models::{self as models, ModelRing, OpError, Wait};
#[cfg(shuttle)]
use shuttle::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
#[cfg(not(shuttle))]
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct State {
    items: VecDeque<Vec<u8>>,
    /// Model milliseconds.
    clock: u64,
}

/// A ring in the simplest correct way, or LIFO when `lifo`, or one whose
/// puts never notify when `mute`.
struct VecRing {
    inner: Arc<(Mutex<State>, Condvar)>,
    capacity: usize,
    item_size: usize,
    lifo: bool,
    mute: bool,
}

impl VecRing {
    fn new(capacity: usize, item_size: usize, lifo: bool) -> Self {
        let state = State {
            items: VecDeque::new(),
            clock: 0,
        };
        VecRing {
            inner: Arc::new((Mutex::new(state), Condvar::new())),
            capacity,
            item_size,
            lifo,
            mute: false,
        }
    }

    /// Waits on the condition variable while `blocked`, as `wait` allows;
    /// false if it gave up.
    fn wait_while(
        &self,
        wait: Wait,
        blocked: impl Fn(&State) -> bool,
    ) -> (bool, MutexGuard<'_, State>) {
        let (lock, cv) = &*self.inner;
        let mut s = lock.lock().unwrap();
        let deadline = match wait {
            Wait::Ms(ms) => Some(s.clock + ms),
            _ => None,
        };
        while blocked(&s) {
            let expired = match wait {
                Wait::No => true,
                Wait::Ms(_) => deadline.is_some_and(|d| s.clock >= d),
                Wait::Forever => false,
            };
            if expired {
                return (false, s);
            }
            s = cv.wait(s).unwrap();
        }
        (true, s)
    }
}

impl ModelRing for VecRing {
    fn capacity(&self) -> usize {
        self.capacity
    }
    fn item_size(&self) -> usize {
        self.item_size
    }
    fn handle(&self) -> Self {
        VecRing {
            inner: Arc::clone(&self.inner),
            capacity: self.capacity,
            item_size: self.item_size,
            lifo: self.lifo,
            mute: self.mute,
        }
    }
    fn put(&self, item: &[u8], wait: Wait) -> Result<bool, OpError> {
        let cap = self.capacity;
        let (ok, mut s) = self.wait_while(wait, |s| s.items.len() == cap);
        if ok {
            s.items.push_back(item.to_vec());
            if !self.mute {
                self.inner.1.notify_all();
            }
        }
        Ok(ok)
    }
    fn get(&self, wait: Wait) -> Result<Option<Vec<u8>>, OpError> {
        let (ok, mut s) = self.wait_while(wait, |s| s.items.is_empty());
        if !ok {
            return Ok(None);
        }
        let v = if self.lifo {
            s.items.pop_back()
        } else {
            s.items.pop_front()
        };
        self.inner.1.notify_all();
        Ok(v)
    }
    fn advance_clock(&self) {
        self.inner.0.lock().unwrap().clock += 1;
        self.inner.1.notify_all();
    }
}

fn contended() -> models::Scenario {
    models::Scenario {
        capacity: 2,
        item_size: 8,
        producers: vec![vec![(4, Wait::Forever); 20], vec![(8, Wait::Ms(2)); 20]],
        consumers: vec![vec![Wait::Forever; 10], vec![Wait::No; 10]],
    }
}

#[cfg(shuttle)]
#[test]
fn shuttle_models_run_a_third_party_ring() {
    shuttle::check_random(
        || models::two_producers_one_consumer(VecRing::new(1, 4, false)),
        200,
    );
    shuttle::check_pct(|| models::wrap_around(VecRing::new(2, 4, false)), 200, 3);
    shuttle::check_random(|| models::timeout_expires(VecRing::new(1, 4, false)), 200);
    shuttle::check_pct(
        || models::put_timeout_expires(VecRing::new(1, 4, false)),
        200,
        3,
    );
    let s = contended();
    shuttle::check_pct(
        move || models::run_scenario(VecRing::new(2, 8, false), &s),
        50,
        3,
    );
}

#[cfg(shuttle)]
#[test]
fn shuttle_models_catch_a_third_party_ring_that_misses_a_notify() {
    let failed = std::panic::catch_unwind(|| {
        shuttle::check_random(
            || {
                let mut ring = VecRing::new(1, 4, false);
                ring.mute = true;
                models::get_woken_by_put(ring, Wait::Forever)
            },
            200,
        )
    });
    let msg = failed.expect_err("a ring whose puts never notify must deadlock");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("deadlock"), "{msg}");
}

#[cfg(not(shuttle))]
#[test]
fn models_run_a_third_party_ring() {
    for _ in 0..50 {
        models::put_get(VecRing::new(2, 4, false));
        models::boundaries(VecRing::new(1, 4, false));
        models::wrap_around(VecRing::new(2, 4, false));
        models::get_woken_by_put(VecRing::new(1, 4, false), Wait::Forever);
        models::put_woken_by_get(VecRing::new(1, 4, false), Wait::Ms(3_600_000));
        models::timeout_expires(VecRing::new(1, 4, false));
        models::put_timeout_expires(VecRing::new(1, 4, false));
        models::two_producers_one_consumer(VecRing::new(2, 4, false));
    }
    models::run_scenario(VecRing::new(2, 8, false), &contended());
}

#[cfg(not(shuttle))]
#[test]
fn models_catch_a_lifo_ring() {
    // The sequential part of `boundaries` (fill, then take in order) is
    // enough: no schedule can hide LIFO order.
    let caught = std::panic::catch_unwind(|| models::boundaries(VecRing::new(2, 4, true)));
    let msg = caught.expect_err("a LIFO ring must fail the models");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("FIFO"), "{msg}");
}
