//! crossbeam's `ArrayQueue` of [`QUEUE_CAPACITY`] 64-byte items between
//! threads of this process (1P1C and 2P2C), spinning on full and empty
//! (yielding after [`SPINS_BEFORE_YIELD`] failed attempts): what a
//! lock-free in-process MPMC queue does on this machine. The last producer
//! through puts one stop item per consumer. Each thread reads the clock as
//! it leaves the common barrier; the run is the first start to the last
//! end.

use crate::items::{encode, share, Tally};
use crate::ITEM;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Capacity of the in-process queues, the same as the large ring geometry.
pub const QUEUE_CAPACITY: usize = 1024;
/// Producer id that marks the end of the stream in the in-process queue
/// (shmring uses an empty item instead).
const STOP_ID: u32 = u32::MAX;

/// Consecutive failed attempts a queue thread spins through before it
/// starts yielding its CPU between attempts. 2P2C puts four threads on this
/// 2-core machine, and other work may hold a core: a pure spinner then burns
/// its whole time slice while the thread it waits for cannot run, and the
/// figure measures the scheduler rather than the queue. With a core each,
/// waits end long before the limit, so the anchor stays a spinning one.
const SPINS_BEFORE_YIELD: u32 = 1 << 10;

/// One failed attempt of a spinning thread (shared with [`crate::rtrb`]).
pub fn backoff(tries: &mut u32) {
    if *tries < SPINS_BEFORE_YIELD {
        *tries += 1;
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Moves `items` items through an `ArrayQueue` between threads, spinning on
/// full and empty, and returns the time from the common start until the
/// last consumer finished.
pub fn run(producers: u32, consumers: u32, items: u64) -> Result<Duration, String> {
    let queue = ArrayQueue::<[u8; ITEM]>::new(QUEUE_CAPACITY);
    let running = AtomicU32::new(producers);
    // Set by a failing consumer, so that producers waiting on a full queue
    // give up instead of waiting forever.
    let failed = AtomicBool::new(false);
    let start_line = Barrier::new((producers + consumers) as usize);
    let push = |mut item: [u8; ITEM]| -> Result<(), String> {
        let mut tries = 0;
        while let Err(back) = queue.push(item) {
            if failed.load(Ordering::Relaxed) {
                return Err("a consumer failed".into());
            }
            item = back;
            backoff(&mut tries);
        }
        Ok(())
    };
    // Every thread reads the clock itself as it leaves the barrier: on two
    // cores a coordinating thread may not run again until the work is done,
    // so its own clock reading could start the interval late.
    std::thread::scope(|s| {
        let consumer_threads: Vec<_> = (0..consumers)
            .map(|_| {
                let (queue, failed, start_line) = (&queue, &failed, &start_line);
                s.spawn(move || {
                    let mut tally = Tally::new(producers);
                    start_line.wait();
                    let start = Instant::now();
                    let mut tries = 0;
                    loop {
                        let Some(item) = queue.pop() else {
                            backoff(&mut tries);
                            continue;
                        };
                        tries = 0;
                        if item[..4] == STOP_ID.to_le_bytes() {
                            return Ok((start, Instant::now(), tally));
                        }
                        if let Err(e) = tally.take(&item) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                })
            })
            .collect();
        let producer_threads: Vec<_> = (0..producers)
            .map(|k| {
                let (push, running, start_line) = (&push, &running, &start_line);
                s.spawn(move || {
                    let n = share(items, producers, k);
                    start_line.wait();
                    let start = Instant::now();
                    for seq in 0..n {
                        push(encode(k, seq))?;
                    }
                    // The last producer through stops the consumers, after
                    // every real item is queued (the queue is FIFO).
                    if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                        for _ in 0..consumers {
                            push(encode(STOP_ID, 0))?;
                        }
                    }
                    Ok::<Instant, String>(start)
                })
            })
            .collect();
        let mut tally = Tally::new(producers);
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut result = Ok(());
        for t in consumer_threads {
            match t.join() {
                Ok(Ok((start, end, t))) => {
                    starts.push(start);
                    ends.push(end);
                    tally.add(&t);
                }
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err("a consumer thread panicked".into()),
            }
        }
        for t in producer_threads {
            match t.join() {
                Ok(Ok(start)) => starts.push(start),
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err("a producer thread panicked".into()),
            }
        }
        result?;
        tally.check(items)?;
        match (starts.iter().min(), ends.iter().max()) {
            (Some(&start), Some(&end)) => Ok(end - start),
            _ => Err("no thread ran".into()),
        }
    })
}
