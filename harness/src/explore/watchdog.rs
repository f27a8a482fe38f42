//! Judging a shrink candidate hung without the cost of diagnosing it: a
//! thread that SIGKILLs a driver's process group once a request of it has
//! run past its limit. The client's own deadline would also look at each
//! hung process (its state, and a native stack through `gdb`, a second or
//! more per process); shrinking a wedge meets dozens of hung candidates,
//! and only the final scenario needs that picture.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

struct Armed {
    id: u64,
    pgid: i32,
    at: Instant,
    fired: bool,
    done: bool,
}

#[derive(Default)]
struct State {
    next: u64,
    armed: Vec<Armed>,
    stop: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The watchdog; its thread ends when it is dropped.
pub(crate) struct Watchdog {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watchdog {
    /// Starts the watchdog's thread.
    pub(crate) fn new() -> Watchdog {
        let shared: Shared = Arc::default();
        let theirs = Arc::clone(&shared);
        let thread = std::thread::spawn(move || watch(&theirs));
        Watchdog {
            shared,
            thread: Some(thread),
        }
    }

    /// SIGKILLs process group `pgid` `after` from now, unless
    /// [`disarm`](Self::disarm)ed first.
    pub(crate) fn arm(&self, pgid: i32, after: Duration) -> u64 {
        let mut s = lock(&self.shared);
        s.next += 1;
        let id = s.next;
        let now = Instant::now();
        s.armed.push(Armed {
            id,
            pgid,
            at: now
                .checked_add(after)
                .unwrap_or(now + Duration::from_secs(1 << 30)),
            fired: false,
            done: false,
        });
        drop(s);
        self.shared.1.notify_all();
        id
    }

    /// Forgets `id`; whether it fired (the group was killed).
    pub(crate) fn disarm(&self, id: u64) -> bool {
        let mut s = lock(&self.shared);
        let fired = s.armed.iter().any(|a| a.id == id && a.fired);
        s.armed.retain(|a| a.id != id);
        fired
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(shared: &Shared) {
    let mut s = lock(shared);
    loop {
        if s.stop {
            return;
        }
        let now = Instant::now();
        for a in s.armed.iter_mut().filter(|a| !a.done && a.at <= now) {
            if let Some(pid) = rustix::process::Pid::from_raw(a.pgid) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            a.fired = true;
            a.done = true;
        }
        let next = s.armed.iter().filter(|a| !a.done).map(|a| a.at).min();
        s = match next {
            None => shared.1.wait(s).unwrap_or_else(|e| e.into_inner()),
            Some(at) => {
                let wait = at.saturating_duration_since(Instant::now());
                shared
                    .1
                    .wait_timeout(s, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0)
            }
        };
    }
}
