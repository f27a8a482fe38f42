//! A pipe between two processes carrying fixed-size 64-byte records: the
//! bench makes the pipe and hands the write end to a producer child, which
//! writes one record per item (one `write` of 64 bytes, atomic as it is
//! under `PIPE_BUF`), and the read end to a consumer child, which reads one
//! record per item (one `read` of 64 bytes; a short read, which cannot
//! happen as every write is a whole record, would be completed). The stock
//! pipe holds 64 KiB: 1024 records, the large ring's geometry. Both block
//! in the kernel on full and empty. The consumer knows the count.

use crate::items::{encode, Tally};
use crate::procs::{self, inherited_fd, ready_then_go, Kid};
use crate::ITEM;
use rustix::io::{read, write, Errno};
use std::time::Duration;

/// `pipe-producer COUNT FD`: writes items 0..COUNT of producer 0 to FD.
pub fn producer_role(args: &[String]) -> Result<(), String> {
    let [count, fd] = args else {
        return Err("usage: pipe-producer COUNT FD".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let pipe = inherited_fd(fd)?;
    ready_then_go()?;
    for seq in 0..count {
        let item = encode(0, seq);
        let n = loop {
            match write(&pipe, &item) {
                Err(Errno::INTR) => continue,
                r => break r.map_err(|e| format!("write {seq}: {e}"))?,
            }
        };
        if n != ITEM {
            return Err(format!("write {seq}: {n} bytes written, expected {ITEM}"));
        }
    }
    println!("done");
    Ok(())
}

/// `pipe-consumer COUNT FD`: reads and checks COUNT records from FD, then
/// reports its tally.
pub fn consumer_role(args: &[String]) -> Result<(), String> {
    let [count, fd] = args else {
        return Err("usage: pipe-consumer COUNT FD".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let pipe = inherited_fd(fd)?;
    let mut tally = Tally::new(1);
    let mut buf = [0u8; ITEM];
    ready_then_go()?;
    for i in 0..count {
        let mut got = 0;
        while got < ITEM {
            match read(&pipe, &mut buf[got..]) {
                Err(Errno::INTR) => continue,
                Err(e) => return Err(format!("read {i}: {e}")),
                Ok(0) => return Err(format!("the producer closed the pipe after {i} items")),
                Ok(n) => got += n,
            }
        }
        tally.take(&buf)?;
    }
    println!("{}", tally.report());
    Ok(())
}

/// Moves `items` items through a fresh pipe between a producer and a
/// consumer child; the time from go until the consumer reported.
pub fn run(items: u64) -> Result<Duration, String> {
    let (rx, tx) = crate::sys::pipe()?;
    let args = [items.to_string()];
    let kids = vec![
        Kid::spawn_with_fd("pipe consumer".into(), "pipe-consumer", &args, rx)?,
        Kid::spawn_with_fd("pipe producer".into(), "pipe-producer", &args, tx)?,
    ];
    procs::timed_stream(kids, 1, 1, items, || Ok(()))
}
