//! `rtrb`, a wait-free SPSC ring, of [`QUEUE_CAPACITY`] 64-byte items
//! between two threads of this process, spinning on full and empty (with
//! the same [`backoff`] as `ArrayQueue`): what the best in-process SPSC
//! queue does on this machine, the ceiling for shmring's 1P1C. The
//! consumer knows the count; the run is the first thread's start to the
//! consumer's end.

use crate::array_queue::{backoff, QUEUE_CAPACITY};
use crate::items::{encode, Tally};
use crate::ITEM;
use ::rtrb::{PushError, RingBuffer};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Moves `items` items through an `rtrb` ring between two threads and
/// returns the time from the common start until the consumer finished.
pub fn run(items: u64) -> Result<Duration, String> {
    let (mut tx, mut rx) = RingBuffer::<[u8; ITEM]>::new(QUEUE_CAPACITY);
    let start_line = Barrier::new(2);
    std::thread::scope(|s| {
        let start_line = &start_line;
        let consumer = s.spawn(move || {
            let mut tally = Tally::new(1);
            start_line.wait();
            let start = Instant::now();
            let mut tries = 0;
            let mut got = 0;
            while got < items {
                match rx.pop() {
                    Ok(item) => {
                        tries = 0;
                        got += 1;
                        tally.take(&item)?;
                    }
                    Err(_) => backoff(&mut tries),
                }
            }
            tally.check(items)?;
            Ok::<_, String>((start, Instant::now()))
        });
        let producer = s.spawn(move || {
            start_line.wait();
            let start = Instant::now();
            let mut tries = 0;
            for seq in 0..items {
                let mut item = encode(0, seq);
                while let Err(PushError::Full(back)) = tx.push(item) {
                    item = back;
                    backoff(&mut tries);
                }
                tries = 0;
            }
            start
        });
        let p_start = producer.join().map_err(|_| "rtrb producer panicked")?;
        let (c_start, end) = consumer
            .join()
            .map_err(|_| "rtrb consumer panicked".to_string())??;
        Ok(end - p_start.min(c_start))
    })
}
