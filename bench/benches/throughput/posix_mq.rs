//! POSIX message queues between two processes: a queue of 10 messages of
//! 64 bytes (`mq_open` by the bench; the stock limits are `msg_max` 10 and
//! `msgsize_max` 8192, so 10 x 64 B is the largest depth an unprivileged
//! user gets, and the original ring geometry), a producer child calling
//! `mq_send` once per item and a consumer child `mq_receive` once per item,
//! both blocking in the kernel on full and empty. The consumer knows the
//! count. The bench removes the queue when the run ends.

use crate::items::{encode, Tally};
use crate::procs::{self, ready_then_go, Kid};
use crate::sys::MessageQueue;
use crate::ITEM;
use std::time::Duration;

/// Messages the queue holds: the stock `/proc/sys/fs/mqueue/msg_max`.
pub const DEPTH: usize = 10;

/// `mq-producer NAME COUNT`: sends items 0..COUNT of producer 0.
pub fn producer_role(args: &[String]) -> Result<(), String> {
    let [name, count] = args else {
        return Err("usage: mq-producer NAME COUNT".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let mq = MessageQueue::open(name, ITEM)?;
    ready_then_go()?;
    for seq in 0..count {
        mq.send(&encode(0, seq))?;
    }
    println!("done");
    Ok(())
}

/// `mq-consumer NAME COUNT`: receives and checks COUNT items, then reports
/// its tally.
pub fn consumer_role(args: &[String]) -> Result<(), String> {
    let [name, count] = args else {
        return Err("usage: mq-consumer NAME COUNT".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let mq = MessageQueue::open(name, ITEM)?;
    let mut tally = Tally::new(1);
    let mut buf = [0u8; ITEM];
    ready_then_go()?;
    for _ in 0..count {
        let n = mq.receive(&mut buf)?;
        tally.take(&buf[..n])?;
    }
    println!("{}", tally.report());
    Ok(())
}

/// Moves `items` items through a fresh queue between a producer and a
/// consumer child; the time from go until the consumer reported.
pub fn run(items: u64) -> Result<Duration, String> {
    let name = procs::unique_name("mq");
    // Declared before the children, so dropped (and the name removed) after
    // they are killed on an error.
    let _queue = MessageQueue::create(&name, DEPTH, ITEM)?;
    let args = [name, items.to_string()];
    let kids = vec![
        Kid::spawn("mq consumer".into(), "mq-consumer", &args)?,
        Kid::spawn("mq producer".into(), "mq-producer", &args)?,
    ];
    procs::timed_stream(kids, 1, 1, items, || Ok(()))
}
