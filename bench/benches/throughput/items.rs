//! The items every scenario moves and their verification: 64-byte items
//! carrying a producer id, a sequence number and a fill that depends on
//! both, and the [`Tally`] a consumer keeps, so that each run also checks
//! that every item arrived exactly once, whole and in order. The check
//! costs every scenario the same few nanoseconds per item.

use crate::ITEM;
use std::fmt::Write as _;

/// Fill byte of an item: depends on producer and sequence number, so a
/// stale slot or a torn copy fails the check.
fn fill(producer: u32, seq: u64) -> u8 {
    (seq as u8).wrapping_mul(31) ^ (producer as u8) ^ 0x5a
}

/// Item `seq` of `producer`: producer id (u32 LE), sequence number (u64 LE),
/// fill bytes.
pub fn encode(producer: u32, seq: u64) -> [u8; ITEM] {
    let mut item = [fill(producer, seq); ITEM];
    item[..4].copy_from_slice(&producer.to_le_bytes());
    item[4..12].copy_from_slice(&seq.to_le_bytes());
    item
}

/// Items producer `k` of `producers` sends out of `total`.
pub fn share(total: u64, producers: u32, k: u32) -> u64 {
    let p = u64::from(producers);
    total / p + u64::from(u64::from(k) < total % p)
}

/// What consumers saw, per producer: item count, sum of sequence numbers,
/// and the next sequence number allowed. Count and sum together catch lost
/// and duplicated items; the ordering check holds because every channel
/// measured is FIFO, so any one consumer sees each producer's items in
/// increasing order.
#[derive(Debug)]
pub struct Tally {
    count: Vec<u64>,
    seq_sum: Vec<u64>,
    next: Vec<u64>,
}

impl Tally {
    pub fn new(producers: u32) -> Self {
        let n = producers as usize;
        Tally {
            count: vec![0; n],
            seq_sum: vec![0; n],
            next: vec![0; n],
        }
    }

    /// Items counted so far, from every producer.
    pub fn received(&self) -> u64 {
        self.count.iter().sum()
    }

    /// Checks one item in full and counts it.
    pub fn take(&mut self, item: &[u8]) -> Result<(), String> {
        if item.len() != ITEM {
            return Err(format!("item of {} bytes, expected {ITEM}", item.len()));
        }
        let producer = u32::from_le_bytes([item[0], item[1], item[2], item[3]]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&item[4..12]);
        let seq = u64::from_le_bytes(seq);
        let p = producer as usize;
        if p >= self.count.len() {
            return Err(format!("item from unknown producer {producer}"));
        }
        let f = fill(producer, seq);
        if item[12..].iter().any(|&b| b != f) {
            return Err(format!("producer {producer} item {seq}: payload damaged"));
        }
        if seq < self.next[p] {
            return Err(format!(
                "producer {producer}: item {seq} came after item {}",
                self.next[p] - 1
            ));
        }
        self.next[p] = seq + 1;
        self.count[p] += 1;
        self.seq_sum[p] += seq;
        Ok(())
    }

    /// The consumer's report line: `done` then count and sum per producer.
    pub fn report(&self) -> String {
        let mut line = String::from("done");
        for (c, s) in self.count.iter().zip(&self.seq_sum) {
            let _ = write!(line, " {c} {s}");
        }
        line
    }

    /// Adds a consumer's report line.
    pub fn add_report(&mut self, line: &str) -> Result<(), String> {
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad report {line:?}: {e}"))?;
        if fields.len() != 2 * self.count.len() {
            return Err(format!("bad report {line:?}: wrong field count"));
        }
        for (p, pair) in fields.chunks(2).enumerate() {
            self.count[p] += pair[0];
            self.seq_sum[p] += pair[1];
        }
        Ok(())
    }

    pub fn add(&mut self, other: &Tally) {
        for p in 0..self.count.len() {
            self.count[p] += other.count[p];
            self.seq_sum[p] += other.seq_sum[p];
        }
    }

    /// Every producer's items arrived exactly once.
    pub fn check(&self, total: u64) -> Result<(), String> {
        let producers = self.count.len() as u32;
        for k in 0..producers {
            let n = share(total, producers, k);
            let (c, s) = (self.count[k as usize], self.seq_sum[k as usize]);
            if c != n || s != n * n.saturating_sub(1) / 2 {
                return Err(format!(
                    "producer {k}: consumers got {c} items (sequence sum {s}), expected {n}"
                ));
            }
        }
        Ok(())
    }
}
