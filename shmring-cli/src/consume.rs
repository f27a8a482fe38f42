//! `shmring consume`: framed streams out of a ring, verified, into a file
//! or stdout.

use crate::error::{Cause, Failure, StreamError};
use crate::frame::{Header, Record, Tally, Trailer, RECORD_LEN};
use crate::{open, progress, summary};
use clap::ValueEnum;
use indicatif::ProgressBar;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest wait for an item before the consumer checks whether the
/// stream's producer is still alive: a dead producer is reported within
/// about this long.
const NAP: Duration = Duration::from_millis(150);

/// Bytes of items taken per lock acquisition (at most the ring's capacity
/// in items).
const BATCH_BYTES: usize = 64 * 1024;

/// Bytes of the output buffer for items of `item_size` bytes. A write of at
/// least the buffer's size bypasses the buffer, so items of 16 KiB and more
/// go from their slot to the kernel with no copy in between; smaller ones
/// are gathered into writes of 1 MiB (a syscall per item would cost more
/// than the copy).
fn write_buffer(item_size: usize) -> usize {
    if item_size >= 16 * 1024 {
        item_size
    } else {
        1 << 20
    }
}

/// Placeholder for the stream number in an output path.
pub const STREAM_NUMBER: &str = "%n";

/// What becomes of a file's partial output when its stream fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Partial {
    /// Keep it as `OUT.partial`.
    Keep,
    /// Remove it.
    Remove,
}

/// Where streams go and how `consume` runs.
pub struct Options {
    /// Output path (`%n` is replaced by the stream number, from 1); stdout
    /// if `None`.
    pub output: Option<PathBuf>,
    /// Longest wait for an item inside a stream (and, without `follow`,
    /// for the first header).
    pub idle: Duration,
    /// Consume stream after stream, not just one.
    pub follow: bool,
    /// With `follow`: stop after this many streams.
    pub max_streams: Option<u64>,
    /// What becomes of a failed stream's output file.
    pub partial: Partial,
    /// No summary lines.
    pub quiet: bool,
}

/// Consumes streams from ring `name`. Items are read in place, a batch per
/// lock acquisition, and written out from their slots (`write_buffer`); the batch
/// stops before any item after the last stream asked for, which stays in
/// the ring.
pub fn consume(name: &str, opts: Options, trust: Option<u32>) -> Result<(), Failure> {
    let fail = |c: Cause| Failure::of(name, c);
    let ring = open(name, trust).map_err(|e| fail(e.into()))?;
    let own_token = ring.session().map_err(|e| fail(e.into()))?;
    let mut c = Consumer {
        item_size: ring.item_size(),
        opts,
        stream: None,
        record: None,
        streams: 0,
    };
    let batch = (BATCH_BYTES / ring.item_size()).clamp(1, ring.capacity());
    let mut last_item = Instant::now();
    loop {
        let producer_gone = c.stream.as_ref().is_some_and(|s| s.producer_gone);
        let wait = if producer_gone { Duration::ZERO } else { NAP };
        // The first event other than `More` ends the batch: later items
        // belong to the next stream or to nobody yet.
        let mut outcome: Result<Event, Cause> = Ok(Event::More);
        let took = ring.get_many_with_timeout(batch, wait, |item| {
            if !matches!(outcome, Ok(Event::More)) {
                return false;
            }
            outcome = c.accept(item);
            true
        });
        c.show_progress();
        let event = match (took, outcome) {
            (Err(e @ shmring::Error::Corrupt { .. }), _) => Err(StreamError::CorruptItem(e).into()),
            (Err(e), _) => Err(e.into()),
            (Ok(_), Err(cause)) => Err(cause),
            (Ok(0), Ok(_)) => c.idle(&ring, own_token, last_item.elapsed()),
            (Ok(_), Ok(event)) => {
                last_item = Instant::now();
                Ok(event)
            }
        };
        match event {
            Ok(Event::More) => {}
            Ok(Event::Ended) => {
                let enough = c.opts.max_streams.is_some_and(|m| c.streams >= m);
                if !c.opts.follow || enough {
                    return Ok(());
                }
                last_item = Instant::now();
            }
            Err(cause) => {
                let note = c.abandon();
                return Err(Failure {
                    note,
                    ..fail(cause)
                });
            }
        }
    }
}

/// What an item did to the stream.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// Nothing ended.
    More,
    /// A stream ended, verified.
    Ended,
}

/// The consumer's state between items.
struct Consumer {
    item_size: usize,
    opts: Options,
    /// The stream being received.
    stream: Option<Open>,
    /// A record being assembled after a marker.
    record: Option<Pending>,
    /// Streams begun so far.
    streams: u64,
}

/// A stream being received.
struct Open {
    header: Header,
    tally: Tally,
    sink: Sink,
    bar: ProgressBar,
    started: Instant,
    /// Its producer's session was found closed: whatever it put is in the
    /// ring, so an empty ring now means the stream will never end.
    producer_gone: bool,
    /// Bytes written since the progress bar last moved (it moves once per
    /// batch, not per item).
    unshown: u64,
}

/// Record bytes received so far.
struct Pending {
    bytes: [u8; RECORD_LEN],
    len: usize,
}

impl Consumer {
    /// Takes one item: a marker, a record's piece, or data.
    fn accept(&mut self, item: &[u8]) -> Result<Event, Cause> {
        if let Some(p) = &mut self.record {
            let want = (RECORD_LEN - p.len).min(self.item_size);
            if item.len() != want {
                return Err(StreamError::Truncated {
                    so_far: p.len,
                    total: RECORD_LEN,
                    got: item.len(),
                    want,
                }
                .into());
            }
            p.bytes[p.len..p.len + want].copy_from_slice(item);
            p.len += want;
            if p.len < RECORD_LEN {
                return Ok(Event::More);
            }
            let record = Record::decode(&p.bytes).map_err(StreamError::from)?;
            self.record = None;
            return self.on_record(record);
        }
        if item.is_empty() {
            self.record = Some(Pending {
                bytes: [0; RECORD_LEN],
                len: 0,
            });
            return Ok(Event::More);
        }
        let Some(open) = &mut self.stream else {
            return Err(StreamError::NoHeader {
                what: "a data item",
            }
            .into());
        };
        open.sink.write_item(item)?;
        open.tally.add(item);
        open.unshown += item.len() as u64;
        Ok(Event::More)
    }

    fn on_record(&mut self, record: Record) -> Result<Event, Cause> {
        match (record, &self.stream) {
            (Record::Header(header), None) => {
                self.streams += 1;
                let sink = Sink::open(self.opts.output.as_deref(), self.streams, self.item_size)?;
                self.stream = Some(Open {
                    bar: progress(header.total_len),
                    header,
                    tally: Tally::default(),
                    sink,
                    started: Instant::now(),
                    producer_gone: false,
                    unshown: 0,
                });
                Ok(Event::More)
            }
            (Record::Header(new), Some(open)) => Err(StreamError::Restarted {
                old: open.header.id,
                old_pid: open.header.pid,
                new: new.id,
                new_pid: new.pid,
                bytes: open.tally.bytes,
            }
            .into()),
            (Record::Trailer(_), None) => Err(StreamError::NoHeader { what: "a trailer" }.into()),
            (Record::Trailer(trailer), Some(open)) => {
                verify(open, &trailer)?;
                let open = self.stream.take().expect("a stream is open");
                open.bar.finish_and_clear();
                open.sink.finish()?;
                if !self.opts.quiet {
                    eprintln!(
                        "{}, checksum verified",
                        summary(
                            "consumed",
                            open.header.id,
                            open.tally.bytes,
                            open.tally.items,
                            open.started.elapsed()
                        )
                    );
                }
                Ok(Event::Ended)
            }
        }
    }

    /// The ring was empty for a nap: has the producer died, or the idle
    /// timeout passed?
    fn idle(
        &mut self,
        ring: &shmring::SharedBuffer,
        own_token: u32,
        idle_for: Duration,
    ) -> Result<Event, Cause> {
        if let Some(open) = &mut self.stream {
            if open.producer_gone {
                return Err(StreamError::ProducerDied {
                    id: open.header.id,
                    pid: open.header.pid,
                    bytes: open.tally.bytes,
                    items: open.tally.items,
                }
                .into());
            }
            // A token this handle holds was free when it opened the ring,
            // so the producer that drew it had closed by then.
            let token = open.header.token;
            if token == own_token || !ring.session_alive(token)? {
                // Look once more: what it put before it died is there now.
                open.producer_gone = true;
                return Ok(Event::More);
            }
        }
        let in_stream = self.stream.is_some() || self.record.is_some();
        if (in_stream || !self.opts.follow) && idle_for >= self.opts.idle {
            return Err(Cause::StayedEmpty {
                secs: self.opts.idle.as_secs(),
                when: if in_stream {
                    "before the stream ended"
                } else {
                    "before a stream began"
                },
            });
        }
        Ok(Event::More)
    }

    /// Moves the open stream's progress bar by what was written since.
    fn show_progress(&mut self) {
        if let Some(open) = &mut self.stream {
            open.bar.inc(std::mem::take(&mut open.unshown));
        }
    }

    /// Ends the open stream after a failure; says what became of its output.
    fn abandon(&mut self) -> Option<String> {
        let open = self.stream.take()?;
        open.bar.finish_and_clear();
        Some(open.sink.abandon(self.opts.partial))
    }
}

/// Checks `trailer` against what arrived of the stream.
fn verify(open: &Open, trailer: &Trailer) -> Result<(), StreamError> {
    let id = open.header.id;
    if trailer.id != id {
        return Err(StreamError::WrongTrailer {
            open: id,
            found: trailer.id,
        });
    }
    let t = &open.tally;
    if (trailer.bytes, trailer.items) != (t.bytes, t.items) {
        return Err(StreamError::Gap {
            id,
            sent_bytes: trailer.bytes,
            sent_items: trailer.items,
            got_bytes: t.bytes,
            got_items: t.items,
        });
    }
    if trailer.checksum != t.checksum() {
        return Err(StreamError::Checksum {
            id,
            expected: trailer.checksum,
            actual: t.checksum(),
            bytes: t.bytes,
        });
    }
    Ok(())
}

/// Where one stream's data goes.
enum Sink {
    /// Standard output.
    Stdout(BufWriter<io::StdoutLock<'static>>, u64),
    /// An existing object that is not a regular file (`/dev/null`, a FIFO):
    /// written in place.
    Direct(PathBuf, BufWriter<File>, u64),
    /// A regular file: written as `PATH.partial`, renamed to `PATH` once the
    /// trailer verified.
    Staged {
        path: PathBuf,
        partial: PathBuf,
        out: BufWriter<File>,
        bytes: u64,
    },
}

impl Sink {
    /// The sink of stream number `n` (from 1).
    fn open(template: Option<&Path>, n: u64, item_size: usize) -> Result<Sink, Cause> {
        let capacity = write_buffer(item_size);
        let Some(template) = template else {
            return Ok(Sink::Stdout(
                BufWriter::with_capacity(capacity, io::stdout().lock()),
                0,
            ));
        };
        let path = PathBuf::from(
            template
                .to_string_lossy()
                .replace(STREAM_NUMBER, &n.to_string()),
        );
        let create = |p: &Path| {
            File::create(p)
                .map(|f| BufWriter::with_capacity(capacity, f))
                .map_err(|source| Cause::Output {
                    path: p.display().to_string(),
                    source,
                })
        };
        match std::fs::metadata(&path) {
            Ok(m) if !m.is_file() => {
                let out = create(&path)?;
                Ok(Sink::Direct(path, out, 0))
            }
            _ => {
                let mut partial = path.clone().into_os_string();
                partial.push(".partial");
                let partial = PathBuf::from(partial);
                let out = create(&partial)?;
                Ok(Sink::Staged {
                    path,
                    partial,
                    out,
                    bytes: 0,
                })
            }
        }
    }

    fn shown(&self) -> String {
        match self {
            Sink::Stdout(..) => "standard output".to_owned(),
            Sink::Direct(p, ..) => p.display().to_string(),
            Sink::Staged { partial, .. } => partial.display().to_string(),
        }
    }

    /// One data item out.
    fn write_item(&mut self, item: &[u8]) -> Result<(), Cause> {
        let (out, bytes): (&mut dyn Write, &mut u64) = match self {
            Sink::Stdout(w, b) => (w, b),
            Sink::Direct(_, w, b) => (w, b),
            Sink::Staged { out, bytes, .. } => (out, bytes),
        };
        *bytes += item.len() as u64;
        out.write_all(item).map_err(|source| Cause::Output {
            path: self.shown(),
            source,
        })
    }

    /// The stream verified: flush, and give a staged file its name.
    fn finish(self) -> Result<(), Cause> {
        let err = |path: &Path, source| Cause::Output {
            path: path.display().to_string(),
            source,
        };
        match self {
            Sink::Stdout(mut w, _) => w.flush().map_err(|e| err(Path::new("standard output"), e)),
            Sink::Direct(p, mut w, _) => w.flush().map_err(|e| err(&p, e)),
            Sink::Staged {
                path,
                partial,
                mut out,
                ..
            } => {
                out.flush().map_err(|e| err(&partial, e))?;
                drop(out);
                std::fs::rename(&partial, &path).map_err(|e| err(&path, e))
            }
        }
    }

    /// The stream failed: keeps or removes what was written, per `policy`,
    /// and says which.
    fn abandon(self, policy: Partial) -> String {
        match self {
            Sink::Stdout(mut w, bytes) => {
                let _ = w.flush();
                format!("the {bytes} bytes written to standard output are an incomplete stream")
            }
            Sink::Direct(p, mut w, bytes) => {
                let _ = w.flush();
                format!(
                    "the {bytes} bytes written to {} are an incomplete stream",
                    p.display()
                )
            }
            Sink::Staged {
                partial,
                mut out,
                bytes,
                ..
            } => match policy {
                Partial::Keep => {
                    let _ = out.flush();
                    format!(
                        "the partial output ({bytes} bytes) is kept as {}",
                        partial.display()
                    )
                }
                Partial::Remove => {
                    drop(out);
                    match std::fs::remove_file(&partial) {
                        Ok(()) => format!(
                            "the partial output ({bytes} bytes, {}) was removed",
                            partial.display()
                        ),
                        Err(e) => format!("the partial output {} remains: {e}", partial.display()),
                    }
                }
            },
        }
    }
}
