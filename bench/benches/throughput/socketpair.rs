//! A Unix-domain `SOCK_SEQPACKET` socketpair between two processes: the
//! bench makes the pair and hands one end to a producer child, which sends
//! one 64-byte message per item, and the other to a consumer child, which
//! receives one message per item (`write`/`read` on the socket: one call,
//! one message). Both block in the kernel on full (the socket's send
//! buffer) and empty. The consumer knows the count.

use crate::items::{encode, Tally};
use crate::procs::{self, inherited_fd, ready_then_go, Kid};
use crate::ITEM;
use rustix::io::{read, write, Errno};
use std::time::Duration;

/// `sock-producer COUNT FD`: sends items 0..COUNT of producer 0 on FD.
pub fn producer_role(args: &[String]) -> Result<(), String> {
    let [count, fd] = args else {
        return Err("usage: sock-producer COUNT FD".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let sock = inherited_fd(fd)?;
    ready_then_go()?;
    for seq in 0..count {
        let item = encode(0, seq);
        let n = loop {
            match write(&sock, &item) {
                Err(Errno::INTR) => continue,
                r => break r.map_err(|e| format!("send {seq}: {e}"))?,
            }
        };
        if n != ITEM {
            return Err(format!("send {seq}: {n} bytes sent, expected {ITEM}"));
        }
    }
    println!("done");
    Ok(())
}

/// `sock-consumer COUNT FD`: receives and checks COUNT messages from FD,
/// then reports its tally.
pub fn consumer_role(args: &[String]) -> Result<(), String> {
    let [count, fd] = args else {
        return Err("usage: sock-consumer COUNT FD".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let sock = inherited_fd(fd)?;
    let mut tally = Tally::new(1);
    // One byte more than an item: a longer message would show as such
    // rather than be truncated to a valid-looking one.
    let mut buf = [0u8; ITEM + 1];
    ready_then_go()?;
    for i in 0..count {
        let n = loop {
            match read(&sock, &mut buf) {
                Err(Errno::INTR) => continue,
                r => break r.map_err(|e| format!("receive {i}: {e}"))?,
            }
        };
        if n == 0 {
            return Err(format!("the producer closed the socket after {i} items"));
        }
        tally.take(&buf[..n])?;
    }
    println!("{}", tally.report());
    Ok(())
}

/// Moves `items` items through a fresh socketpair between a producer and a
/// consumer child; the time from go until the consumer reported.
pub fn run(items: u64) -> Result<Duration, String> {
    let (rx, tx) = crate::sys::seqpacket_pair()?;
    let args = [items.to_string()];
    let kids = vec![
        Kid::spawn_with_fd("socket consumer".into(), "sock-consumer", &args, rx)?,
        Kid::spawn_with_fd("socket producer".into(), "sock-producer", &args, tx)?,
    ];
    procs::timed_stream(kids, 1, 1, items, || Ok(()))
}
