//! A scripted ring process for the multi-process tests: one invocation is
//! one producer, consumer or crash victim.
//!
//! ```text
//! ring-actor produce NAME PRODUCER COUNT TIMEOUT_MS   put COUNT items "P:SEQ"
//! ring-actor consume NAME TIMEOUT_MS                  print items until "stop"
//! ring-actor get-wait NAME TIMEOUT_MS                 one get_timeout; prints "item ..." or "none", then "elapsed_ms N"
//! ring-actor pause NAME POINT OP [ITEM]               pause at POINT inside OP (put|get) and wait to be killed
//! ring-actor create NAME CAPACITY ITEM_SIZE           create (not persistent), print "created", wait to be killed
//! ```
//! Exit codes: 0 done, 3 a timeout expired, 1 an error (printed).

use shmring::hooks::{self, Point};
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
        ["pause", name, point, op, rest @ ..] => {
            let ring = SharedBuffer::open(name).expect("open");
            let at = match *point {
                "put-half-written" => Point::PutHalfWritten,
                "put-committed" => Point::PutCommitted,
                "get-copied" => Point::GetCopied,
                other => panic!("unknown point {other}"),
            };
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
