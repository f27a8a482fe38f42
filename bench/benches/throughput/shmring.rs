//! shmring between processes: one ring in `/dev/shm` created by the bench,
//! producer and consumer children that open it by name, one blocking call
//! per item (`put_timeout`, `get_into_timeout`) or batches
//! (`put_many`, `get_many`). The consumers do not know how many items
//! come: once every producer is done, the parent puts one empty item per
//! consumer, which ends its stream (the ring is FIFO).
//!
//! Also the one-way latency: this process puts an item on one ring and a
//! `pong` child echoes it on another; half of each round trip is a sample.

use crate::items::{encode, share, Tally};
use crate::procs::{self, expect, ready_then_go, Kid};
use crate::{ITEM, STALL};
use shmring::{Config, SharedBuffer};
use std::time::{Duration, Instant};

/// One cross-process throughput scenario.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    capacity: u32,
    producers: u32,
    consumers: u32,
    /// Items per `put_many`/`get_many` call; 1: `put_timeout` and
    /// `get_into_timeout` per item.
    batch: u32,
    /// A ring whose producer and consumer hold their roles for the session
    /// (`Config::single_roles`): no lock on the data path.
    single: bool,
}

pub const SHM_1P1C: Shape = Shape {
    capacity: 1024,
    producers: 1,
    consumers: 1,
    batch: 1,
    single: false,
};
/// 1P1C moving up to 32 items per lock acquisition.
pub const SHM_1P1C_BATCH: Shape = Shape {
    capacity: 1024,
    producers: 1,
    consumers: 1,
    batch: 32,
    single: false,
};
/// The original design's geometry (`Config::default()`): 10 x 64 B.
pub const SHM_1P1C_SMALL: Shape = Shape {
    capacity: 10,
    producers: 1,
    consumers: 1,
    batch: 1,
    single: false,
};
/// The original geometry, moving up to 10 items per lock acquisition.
pub const SHM_1P1C_SMALL_BATCH: Shape = Shape {
    capacity: 10,
    producers: 1,
    consumers: 1,
    batch: 10,
    single: false,
};
/// [`SHM_1P1C`] on a ring with single roles: each side holds its lock for
/// the session.
pub const SHM_1P1C_SINGLE: Shape = Shape {
    capacity: 1024,
    producers: 1,
    consumers: 1,
    batch: 1,
    single: true,
};
pub const SHM_2P2C: Shape = Shape {
    capacity: 1024,
    producers: 2,
    consumers: 2,
    batch: 1,
    single: false,
};

fn open(name: &str) -> Result<SharedBuffer, String> {
    SharedBuffer::open(name).map_err(|e| format!("open {name}: {e}"))
}

fn create(name: &str, shape: Shape) -> Result<SharedBuffer, String> {
    let config = Config::new(shape.capacity, ITEM as u32);
    let config = if shape.single {
        config.single_roles()
    } else {
        config
    };
    SharedBuffer::create(name, config).map_err(|e| format!("create {name}: {e}"))
}

/// `producer RING ID COUNT BATCH`: puts items 0..COUNT of producer ID.
pub fn producer_role(args: &[String]) -> Result<(), String> {
    let [name, id, count, batch] = args else {
        return Err("usage: producer RING ID COUNT BATCH".into());
    };
    let id: u32 = procs::parse("producer id", id)?;
    let count: u64 = procs::parse("count", count)?;
    let batch: u64 = procs::parse("batch", batch)?;
    let ring = open(name)?;
    ready_then_go()?;
    if batch > 1 {
        let mut seq = 0;
        while seq < count {
            let items: Vec<[u8; ITEM]> = (seq..count.min(seq + batch))
                .map(|s| encode(id, s))
                .collect();
            let refs: Vec<&[u8]> = items.iter().map(|i| &i[..]).collect();
            let mut n = ring
                .put_many(&refs)
                .map_err(|e| format!("put_many {seq}: {e}"))? as u64;
            if n == 0 {
                // Full: wait for room with the blocking single put.
                if !ring
                    .put_timeout(refs[0], STALL)
                    .map_err(|e| format!("put {seq}: {e}"))?
                {
                    return Err(format!(
                        "ring {name} stayed full for {STALL:?} at item {seq}"
                    ));
                }
                n = 1;
            }
            seq += n;
        }
        println!("done");
        return Ok(());
    }
    for seq in 0..count {
        let item = encode(id, seq);
        let stored = ring
            .put_timeout(&item, STALL)
            .map_err(|e| format!("put {seq}: {e}"))?;
        if !stored {
            return Err(format!(
                "ring {name} stayed full for {STALL:?} at item {seq}"
            ));
        }
    }
    println!("done");
    Ok(())
}

/// `consumer RING PRODUCERS BATCH`: takes and checks items until an empty
/// item, then reports its tally.
pub fn consumer_role(args: &[String]) -> Result<(), String> {
    let [name, producers, batch] = args else {
        return Err("usage: consumer RING PRODUCERS BATCH".into());
    };
    let producers: u32 = procs::parse("producer count", producers)?;
    let batch: usize = procs::parse("batch", batch)?;
    let ring = open(name)?;
    let mut tally = Tally::new(producers);
    let mut buf = [0u8; ITEM];
    ready_then_go()?;
    if batch > 1 {
        // One consumer only: the first empty item ends the stream.
        let mut stopped = false;
        let mut failed = None;
        while !stopped {
            let n = ring
                .get_many(batch, |item| {
                    if item.is_empty() {
                        stopped = true;
                    } else if let Err(e) = tally.take(item) {
                        failed.get_or_insert(e);
                    }
                })
                .map_err(|e| format!("get_many: {e}"))?;
            if let Some(e) = failed.take() {
                return Err(e);
            }
            if n == 0 {
                match ring
                    .get_into_timeout(&mut buf, STALL)
                    .map_err(|e| format!("get: {e}"))?
                {
                    None => return Err(format!("ring {name} stayed empty for {STALL:?}")),
                    Some(0) => stopped = true,
                    Some(n) => tally.take(&buf[..n])?,
                }
            }
        }
        println!("{}", tally.report());
        return Ok(());
    }
    loop {
        match ring
            .get_into_timeout(&mut buf, STALL)
            .map_err(|e| format!("get: {e}"))?
        {
            None => {
                return Err(format!(
                    "ring {name} stayed empty for {STALL:?} after {} items",
                    tally.received()
                ));
            }
            Some(0) => break,
            Some(n) => tally.take(&buf[..n])?,
        }
    }
    println!("{}", tally.report());
    Ok(())
}

/// `pong PING PONG COUNT`: echoes COUNT items from PING to PONG.
pub fn pong_role(args: &[String]) -> Result<(), String> {
    let [ping, pong, count] = args else {
        return Err("usage: pong PING PONG COUNT".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let (ping, pong) = (open(ping)?, open(pong)?);
    let mut buf = [0u8; ITEM];
    println!("ready");
    for i in 0..count {
        let n = ping
            .get_into_timeout(&mut buf, STALL)
            .map_err(|e| format!("get: {e}"))?
            .ok_or_else(|| format!("no ping {i} within {STALL:?}"))?;
        let stored = pong
            .put_timeout(&buf[..n], STALL)
            .map_err(|e| format!("put: {e}"))?;
        if !stored {
            return Err(format!("pong ring stayed full at item {i}"));
        }
    }
    Ok(())
}

/// Moves `items` items through a fresh ring between child processes and
/// returns the time from go until every consumer reported.
pub fn run(shape: Shape, items: u64) -> Result<Duration, String> {
    let name = procs::unique_name("tp");
    // Declared before the children, so dropped after them: on an error the
    // children are dead before the segment is removed.
    let ring = create(&name, shape)?;
    // Consumers first: indices 0..consumers, then the producers.
    let c = shape.consumers as usize;
    let mut kids = Vec::with_capacity(c + shape.producers as usize);
    for i in 0..shape.consumers {
        let args = [
            name.clone(),
            shape.producers.to_string(),
            shape.batch.to_string(),
        ];
        kids.push(Kid::spawn(format!("consumer {i}"), "consumer", &args)?);
    }
    for k in 0..shape.producers {
        let n = share(items, shape.producers, k);
        let args = [
            name.clone(),
            k.to_string(),
            n.to_string(),
            shape.batch.to_string(),
        ];
        kids.push(Kid::spawn(format!("producer {k}"), "producer", &args)?);
    }
    // The ring is FIFO, so empty items put after every producer finished
    // come after every real item; a consumer stops at the first it takes,
    // so with one per consumer each takes exactly one.
    let stop = || {
        for _ in 0..shape.consumers {
            if !ring.put_timeout(&[], STALL).map_err(|e| e.to_string())? {
                return Err("ring stayed full while stopping the consumers".to_string());
            }
        }
        Ok(())
    };
    let elapsed = procs::timed_stream(kids, c, shape.producers, items, stop)?;
    let left = ring.len().map_err(|e| e.to_string())?;
    if left != 0 {
        return Err(format!("{left} items left in the ring"));
    }
    let mut ring = ring;
    ring.close().map_err(|e| format!("close {name}: {e}"))?;
    Ok(elapsed)
}

/// One-way latencies (half of each round trip), sorted, ns: this process
/// puts an item on one ring and a pong child echoes it on another. Expect
/// two modes: a waiter still in its short spin sees the item within a cache
/// line transfer, one already asleep on the futex needs a kernel wake-up.
pub fn latency_run(round_trips: usize, shape: Shape) -> Result<Vec<u64>, String> {
    let (ping_name, pong_name) = (procs::unique_name("ping"), procs::unique_name("pong"));
    let ping = create(&ping_name, shape)?;
    let pong = create(&pong_name, shape)?;
    // Untimed round trips first: page faults, caches and CPU frequency
    // settle before the samples count.
    let warm = round_trips / 10;
    let total = warm + round_trips;
    let args = [ping_name, pong_name, total.to_string()];
    let mut kids = [Kid::spawn("pong".into(), "pong", &args)?];
    expect(&mut kids, 0, "ready")?;
    let mut buf = [0u8; ITEM];
    let mut samples = Vec::with_capacity(round_trips);
    for i in 0..total {
        let item = encode(0, i as u64);
        let t = Instant::now();
        if !ping.put_timeout(&item, STALL).map_err(|e| e.to_string())? {
            return Err("ping ring stayed full".into());
        }
        let n = pong
            .get_into_timeout(&mut buf, STALL)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no echo of item {i} within {STALL:?}"))?;
        let rtt = t.elapsed();
        if buf[..n] != item {
            return Err(format!("echo of item {i} differs"));
        }
        if i >= warm {
            samples.push(rtt.as_nanos() as u64 / 2);
        }
    }
    let [kid] = kids;
    kid.finish()?;
    samples.sort_unstable();
    Ok(samples)
}
