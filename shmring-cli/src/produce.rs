//! `shmring produce`: a file or stdin into a ring as one framed stream.

use crate::error::{Cause, Failure};
use crate::frame::{self, Header, StreamId, Tally, Trailer};
use crate::{open, progress, summary};
use shmring::SharedBuffer;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Input bytes gathered before one `put_many`: bounds the batch's latency
/// on a slow input to what a pipe holds.
const BATCH_BYTES: usize = 64 * 1024;

/// Streams `input` (stdin if `None`) into ring `name`: marker and header,
/// data items, marker and trailer.
pub fn produce(
    name: &str,
    input: Option<PathBuf>,
    idle: Duration,
    trust: Option<u32>,
    quiet: bool,
) -> Result<(), Failure> {
    let fail = |c: Cause| Failure::of(name, c);
    let ring = open(name, trust).map_err(|e| fail(e.into()))?;
    let (mut reader, total, shown): (Box<dyn Read>, Option<u64>, String) = match &input {
        Some(p) => {
            let shown = p.display().to_string();
            let f = File::open(p).map_err(|source| {
                fail(Cause::Input {
                    path: shown.clone(),
                    source,
                })
            })?;
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (
                Box::new(io::BufReader::with_capacity(1 << 20, f)),
                len,
                shown,
            )
        }
        None => (
            Box::new(io::stdin().lock()),
            None,
            "standard input".to_owned(),
        ),
    };
    let started = Instant::now();
    let id = StreamId::random().map_err(|e| fail(Cause::Random(e)))?;
    let token = ring.session().map_err(|e| fail(e.into()))?;
    let header = Header {
        id,
        token,
        pid: std::process::id(),
        total_len: total,
        started_unix_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    put_record(&ring, &header.encode(), idle).map_err(fail)?;
    let bar = progress(total);
    let tally = send_data(&ring, &mut reader, &shown, idle, &bar).map_err(fail)?;
    let trailer = Trailer {
        id,
        token,
        bytes: tally.bytes,
        items: tally.items,
        checksum: tally.checksum(),
    };
    put_record(&ring, &trailer.encode(), idle).map_err(fail)?;
    bar.finish_and_clear();
    drop(ring);
    if !quiet {
        eprintln!(
            "{}",
            summary("produced", id, tally.bytes, tally.items, started.elapsed())
        );
    }
    Ok(())
}

/// Reads the input to its end into data items and puts them, in batches of
/// up to [`BATCH_BYTES`] (and at most the ring's capacity) per `put_many`.
/// Items are item_size bytes, the last one the rest (never 0 bytes: a
/// 0-byte item is a marker).
fn send_data(
    ring: &SharedBuffer,
    reader: &mut dyn Read,
    shown: &str,
    idle: Duration,
    bar: &indicatif::ProgressBar,
) -> Result<Tally, Cause> {
    let size = ring.item_size();
    let per_batch = (BATCH_BYTES / size).clamp(1, ring.capacity());
    let mut batch = vec![0u8; per_batch * size];
    let mut lens = Vec::with_capacity(per_batch);
    let mut tally = Tally::default();
    loop {
        lens.clear();
        let mut eof = false;
        for slot in batch.chunks_mut(size) {
            let n = read_item(reader, slot).map_err(|source| Cause::Input {
                path: shown.to_owned(),
                source,
            })?;
            if n > 0 {
                tally.add(&slot[..n]);
                lens.push(n);
            }
            if n < size {
                eof = true;
                break;
            }
        }
        // One small Vec of slices per batch, none per item.
        let items: Vec<&[u8]> = batch
            .chunks(size)
            .zip(&lens)
            .map(|(slot, &n)| &slot[..n])
            .collect();
        put_all(ring, &items, idle)?;
        bar.inc(lens.iter().sum::<usize>() as u64);
        if eof {
            return Ok(tally);
        }
    }
}

/// One data item: fills `slot` from `r` as far as the input goes; returns
/// the bytes read (fewer than `slot.len()` only at the end of the input).
fn read_item(r: &mut dyn Read, slot: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < slot.len() {
        match r.read(&mut slot[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Puts a marker and `record` (in as many items as the item size needs),
/// in one `put_many` when the ring has room for them all.
fn put_record(
    ring: &SharedBuffer,
    record: &[u8; frame::RECORD_LEN],
    idle: Duration,
) -> Result<(), Cause> {
    let mut items: Vec<&[u8]> = vec![&[]];
    items.extend(frame::fragments(record, ring.item_size()));
    put_all(ring, &items, idle)
}

/// Stores `items` in order: as many as fit per `put_many`, and when the
/// ring is full, waits up to `idle` for room for the next one.
fn put_all(ring: &SharedBuffer, items: &[&[u8]], idle: Duration) -> Result<(), Cause> {
    let mut done = 0;
    while done < items.len() {
        let n = ring.put_many(&items[done..])?;
        if n > 0 {
            done += n;
            continue;
        }
        if !ring.put_timeout(items[done], idle)? {
            return Err(Cause::StayedFull {
                secs: idle.as_secs(),
            });
        }
        done += 1;
    }
    Ok(())
}
