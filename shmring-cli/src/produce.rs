//! `shmring produce`: a file or stdin into a ring as one framed stream.

use crate::error::{Cause, Failure};
use crate::frame::{self, Header, StreamId, Tally, Trailer};
use crate::{open, progress, summary};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use shmring::SharedBuffer;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Input bytes written into slots before one commit: bounds the batch's
/// latency on a slow input to what a pipe holds.
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
    let item_size = ring.item_size();
    let (mut input, total, shown) = match &input {
        Some(p) => {
            let shown = p.display().to_string();
            let f = File::open(p).map_err(|source| {
                fail(Cause::Input {
                    path: shown.clone(),
                    source,
                })
            })?;
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Input::new(f, len.is_none(), item_size), len, shown)
        }
        None => {
            let shown = "standard input".to_owned();
            let f = io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map(File::from)
                .map_err(|source| {
                    fail(Cause::Input {
                        path: shown.clone(),
                        source,
                    })
                })?;
            let regular = f.metadata().is_ok_and(|m| m.is_file());
            (Input::new(f, !regular, item_size), None, shown)
        }
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
    let tally = send_data(&ring, &mut input, &shown, idle, &bar).map_err(fail)?;
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

/// The input, read straight into slots. A pipe, terminal or socket (not a
/// regular file) is asked with poll(2) whether a read would block before
/// any read that could hold back items already written into slots but not
/// yet committed: the batch is committed first, so a slow input's bytes
/// reach the consumer as they come, not when a batch fills.
struct Input {
    reader: BufReader<File>,
    may_block: bool,
}

impl Input {
    fn new(f: File, may_block: bool, item_size: usize) -> Self {
        // A read of at least the buffer's size bypasses the buffer (no
        // copy), so large items go from the kernel straight into the slot;
        // small ones are gathered by the buffer, a syscall per 1 MiB.
        let capacity = if item_size >= 16 * 1024 {
            item_size
        } else {
            1 << 20
        };
        Input {
            reader: BufReader::with_capacity(capacity, f),
            may_block,
        }
    }

    /// Whether a read would return at once (data, end of input or error).
    fn ready(&self) -> bool {
        if !self.may_block || !self.reader.buffer().is_empty() {
            return true;
        }
        let fd = self.reader.get_ref().as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        // An error of poll itself reads as ready: the read will report it.
        !matches!(poll(&mut fds, Some(&Timespec::default())), Ok(0))
    }

    /// Fills `slot` from the input: returns the bytes read and whether the
    /// input ended. Stops early, with what it has, when more would block.
    fn read_item(&mut self, slot: &mut [u8]) -> io::Result<(usize, bool)> {
        let mut n = 0;
        while n < slot.len() {
            if n > 0 && !self.ready() {
                break;
            }
            match self.reader.read(&mut slot[n..]) {
                Ok(0) => return Ok((n, true)),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((n, false))
    }
}

/// Reads the input to its end straight into the ring's slots (no copy in
/// between: `put_many_with_timeout` hands out each free slot and the read
/// fills it), up to [`BATCH_BYTES`] (and at most the ring's capacity) per
/// commit. Items are item_size bytes, shorter where the input paused or
/// ended (never 0 bytes: a 0-byte item is a marker).
fn send_data(
    ring: &SharedBuffer,
    input: &mut Input,
    shown: &str,
    idle: Duration,
    bar: &indicatif::ProgressBar,
) -> Result<Tally, Cause> {
    let size = ring.item_size();
    // Half the ring at most, so that the consumer drains one half while
    // this producer fills the other, instead of taking turns.
    let per_batch = (BATCH_BYTES / size).clamp(1, ring.capacity().div_ceil(2));
    let mut tally = Tally::default();
    let mut eof = false;
    let mut failed = None;
    while !eof {
        let mut bytes = 0;
        let mut items = 0;
        let stored = ring.put_many_with_timeout(per_batch, idle, |slot| {
            if eof || (items > 0 && !input.ready()) {
                return None;
            }
            match input.read_item(slot) {
                Ok((n, end)) => {
                    eof = end;
                    if n == 0 {
                        return None;
                    }
                    tally.add(&slot[..n]);
                    bytes += n;
                    items += 1;
                    Some(n)
                }
                Err(source) => {
                    eof = true;
                    failed = Some(source);
                    None
                }
            }
        })?;
        if let Some(source) = failed {
            return Err(Cause::Input {
                path: shown.to_owned(),
                source,
            });
        }
        if stored == 0 && !eof {
            return Err(Cause::StayedFull {
                secs: idle.as_secs(),
            });
        }
        bar.inc(bytes as u64);
    }
    Ok(tally)
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
