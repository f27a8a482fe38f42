//! A scripted ring process for the multi-process tests: one invocation is
//! one producer, consumer or crash victim.
//!
//! ```text
//! ring-actor produce NAME PRODUCER COUNT TIMEOUT_MS   put COUNT items "P:SEQ"
//! ring-actor consume NAME TIMEOUT_MS                  print items until "stop"
//! ring-actor get-wait NAME TIMEOUT_MS                 one get_timeout; prints "item ..." or "none", then "elapsed_ms N"
//! ring-actor pause NAME POINT OP [ITEM]               pause at POINT inside OP (put|get) and wait to be killed
//! ring-actor pause-stop NAME POINT OP [ITEM]          print "paused" at POINT inside OP and stop (SIGSTOP); once continued, finish OP and print "done"
//! ring-actor sleep-get NAME TIMEOUT_MS                print "waiting", then one get_timeout; prints "item ..." or "none"
//! ring-actor sleep-put NAME ITEM TIMEOUT_MS           print "waiting", then one put_timeout; prints "stored" or "full"
//! ring-actor stream-put NAME COUNT DEADLINE_MS        print "opened", put COUNT items "SEQ" (10 ms timed puts) or stop at the deadline
//! ring-actor stream-get NAME COUNT DEADLINE_MS        print "opened", get COUNT items (10 ms timed gets) or stop at the deadline
//! ring-actor create NAME CAPACITY ITEM_SIZE           create (not persistent), print "created", wait to be killed
//! ring-actor try-create NAME CAPACITY ITEM_SIZE       create and close; print "created" or "error KIND: MESSAGE"
//! ```
//! Exit codes: 0 done, 3 a timeout expired, 1 an error (printed).
//!
//! `stream-put` and `stream-get` tolerate every error: they count each by
//! its variant, go on until COUNT items or the deadline, and then print
//! `put N` / `got N`, `stopped count|deadline` and one `error KIND COUNT`
//! line per variant seen, and exit 0. Only a panic (exit 101) or a signal
//! ends them otherwise.

use shmring::hooks::{self, KillPoint};
use shmring::SharedBuffer;
use std::io::Write;
use std::time::{Duration, Instant};

fn ms(arg: &str) -> Duration {
    Duration::from_millis(arg.parse().expect("milliseconds"))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .expect("stdout");
}

fn point_of(name: &str) -> KillPoint {
    match name {
        "put-half-written" => KillPoint::PutHalfWritten,
        "put-committed" => KillPoint::PutCommitted,
        "get-copied" => KillPoint::GetCopied,
        other => panic!("unknown point {other}"),
    }
}

/// The variant name of `e`, as its `Debug` form starts with it.
fn kind(e: &shmring::Error) -> String {
    format!("{e:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// Runs `op` until it has succeeded `count` times or `deadline` passed,
/// counting errors by variant, and prints the summary described in the
/// module docs (`done` names what succeeded: "put" or "got").
fn stream(
    done: &str,
    count: u64,
    deadline: Duration,
    mut op: impl FnMut(u64) -> shmring::Result<bool>,
) {
    let start = Instant::now();
    let mut ok = 0u64;
    let mut errors = std::collections::BTreeMap::<String, u64>::new();
    let stopped = loop {
        if ok == count {
            break "count";
        }
        if start.elapsed() >= deadline {
            break "deadline";
        }
        match op(ok) {
            Ok(true) => ok += 1,
            Ok(false) => {}
            Err(e) => *errors.entry(kind(&e)).or_default() += 1,
        }
    };
    say(&format!("{done} {ok}"));
    say(&format!("stopped {stopped}"));
    for (kind, n) in errors {
        say(&format!("error {kind} {n}"));
    }
}

fn block_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match a.as_slice() {
        ["produce", name, producer, count, timeout] => {
            let ring = SharedBuffer::open(name).expect("open");
            let count: u64 = count.parse().expect("count");
            for seq in 0..count {
                let item = format!("{producer}:{seq}");
                if !ring.put_timeout(item.as_bytes(), ms(timeout)).expect("put") {
                    eprintln!("producer {producer}: full for {timeout} ms at item {seq}");
                    std::process::exit(3);
                }
            }
            0
        }
        ["consume", name, timeout] => {
            let ring = SharedBuffer::open(name).expect("open");
            loop {
                match ring.get_timeout(ms(timeout)).expect("get") {
                    Some(item) if item == b"stop" => break 0,
                    Some(item) => say(&String::from_utf8_lossy(&item)),
                    None => break 3,
                }
            }
        }
        ["get-wait", name, timeout] => {
            let ring = SharedBuffer::open(name).expect("open");
            let t = Instant::now();
            match ring.get_timeout(ms(timeout)).expect("get") {
                Some(item) => say(&format!("item {}", String::from_utf8_lossy(&item))),
                None => say("none"),
            }
            say(&format!("elapsed_ms {}", t.elapsed().as_millis()));
            0
        }
        ["sleep-get", name, timeout] => {
            let ring = SharedBuffer::open(name).expect("open");
            say("waiting");
            match ring.get_timeout(ms(timeout)).expect("get") {
                Some(item) => say(&format!("item {}", String::from_utf8_lossy(&item))),
                None => say("none"),
            }
            0
        }
        ["sleep-put", name, item, timeout] => {
            let ring = SharedBuffer::open(name).expect("open");
            say("waiting");
            let stored = ring.put_timeout(item.as_bytes(), ms(timeout)).expect("put");
            say(if stored { "stored" } else { "full" });
            0
        }
        ["stream-put", name, count, deadline] => {
            let ring = SharedBuffer::open(name).expect("open");
            say("opened");
            let wait = Duration::from_millis(10);
            stream("put", count.parse().expect("count"), ms(deadline), |seq| {
                ring.put_timeout(seq.to_string().as_bytes(), wait)
            });
            0
        }
        ["stream-get", name, count, deadline] => {
            let ring = SharedBuffer::open(name).expect("open");
            say("opened");
            let wait = Duration::from_millis(10);
            stream("got", count.parse().expect("count"), ms(deadline), |_| {
                ring.get_timeout(wait).map(|item| item.is_some())
            });
            0
        }
        ["pause", name, point, op, rest @ ..] => {
            let ring = SharedBuffer::open(name).expect("open");
            let at = point_of(point);
            hooks::install(move |p| {
                if p == at {
                    say("paused");
                    block_forever();
                }
            });
            match *op {
                "put" => {
                    let item = rest.first().copied().unwrap_or("crash-item");
                    ring.put(item.as_bytes()).expect("put");
                }
                _ => {
                    ring.get().expect("get");
                }
            }
            say("not paused");
            1
        }
        ["pause-stop", name, point, op, rest @ ..] => {
            let ring = SharedBuffer::open(name).expect("open");
            let at = point_of(point);
            hooks::install(move |p| {
                if p == at {
                    say("paused");
                    // SAFETY: raise(3) has no memory effects.
                    unsafe { libc::raise(libc::SIGSTOP) };
                }
            });
            let result = match *op {
                "put" => {
                    let item = rest.first().copied().unwrap_or("crash-item");
                    ring.put(item.as_bytes()).map(|_| ())
                }
                _ => ring.get().map(|_| ()),
            };
            match result {
                Ok(()) => say("done"),
                Err(e) => say(&format!("error {e}")),
            }
            0
        }
        ["try-create", name, capacity, item_size] => {
            let config =
                shmring::Config::new(capacity.parse().unwrap(), item_size.parse().unwrap());
            match SharedBuffer::create(name, config) {
                Ok(_ring) => say("created"),
                Err(e @ shmring::Error::NoSpace { .. }) => say(&format!("error NoSpace: {e}")),
                Err(e) => say(&format!("error other: {e}")),
            }
            0
        }
        ["create", name, capacity, item_size] => {
            let config =
                shmring::Config::new(capacity.parse().unwrap(), item_size.parse().unwrap());
            let _ring = SharedBuffer::create(name, config).expect("create");
            say("created");
            block_forever();
        }
        _ => {
            eprintln!("usage: see the module docs of ring-actor");
            2
        }
    };
    std::process::exit(code);
}
