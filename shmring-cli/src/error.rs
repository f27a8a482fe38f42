//! What a command can fail with, worded for the shell, and its exit code.

use crate::frame::{RecordError, StreamId};
use std::io;

/// Exit code of a runtime error.
pub const EXIT_RUNTIME: u8 = 1;
// Usage errors exit with 2, clap's code for them.
/// Exit code of a stream that failed verification.
pub const EXIT_STREAM: u8 = 3;

/// A command's failure: the ring it concerns, the cause, and what became of
/// the partial output.
#[derive(Debug)]
pub struct Failure {
    /// The ring concerned, if any.
    pub ring: Option<String>,
    /// What went wrong.
    pub cause: Cause,
    /// What became of the output written so far, when that matters.
    pub note: Option<String>,
}

impl Failure {
    /// A failure of ring `ring`.
    pub fn of(ring: &str, cause: impl Into<Cause>) -> Self {
        Failure {
            ring: Some(ring.to_owned()),
            cause: cause.into(),
            note: None,
        }
    }

    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self.cause {
            Cause::Stream(_) => EXIT_STREAM,
            _ => EXIT_RUNTIME,
        }
    }
}

impl std::fmt::Display for Failure {
    /// `ring 'NAME': CAUSE[; NOTE]`, naming the ring once: a cause that
    /// names it already is not prefixed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ring {
            Some(ring) if !self.cause.names_ring() => write!(f, "ring '{ring}': {}", self.cause)?,
            _ => write!(f, "{}", self.cause)?,
        }
        match &self.note {
            Some(note) => write!(f, "; {note}"),
            None => Ok(()),
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// The ring library refused.
    #[error(transparent)]
    Ring(#[from] shmring::Error),
    /// `create` of a ring larger than the free shared memory.
    #[error(
        "cannot create ring '{ring}': it needs {needed} bytes ({}) of shared memory and {dir} has {} free",
        human(*needed),
        free.map_or_else(|| "less".to_owned(), |f| format!("{f} bytes ({})", human(f)))
    )]
    NoSpace {
        /// The ring name.
        ring: String,
        /// Bytes of the segment.
        needed: u64,
        /// The shared-memory filesystem.
        dir: &'static str,
        /// Its free bytes, if known.
        free: Option<u64>,
    },
    /// Reading the input failed.
    #[error("cannot read {path}: {source}")]
    Input {
        /// The input, as named to the user.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The output, as named to the user.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The ring stayed full for the idle timeout.
    #[error("stayed full for {secs} s (is a consumer running?)")]
    StayedFull {
        /// The idle timeout, seconds.
        secs: u64,
    },
    /// The ring stayed empty for the idle timeout.
    #[error("stayed empty for {secs} s {when} (is a producer running?)")]
    StayedEmpty {
        /// The idle timeout, seconds.
        secs: u64,
        /// "before a stream began" or "before the stream ended".
        when: &'static str,
    },
    /// No random stream id could be drawn.
    #[error("cannot draw a random stream id: {0}")]
    Random(getrandom::Error),
    /// `ls` could not read the shared-memory directory.
    #[error("cannot list /dev/shm: {0}")]
    List(io::Error),
    /// The stream failed verification.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

impl Cause {
    /// Whether the message names the ring already.
    fn names_ring(&self) -> bool {
        use shmring::Error as E;
        match self {
            Cause::Ring(e) => matches!(
                e,
                E::NotFound { .. }
                    | E::AlreadyExists { .. }
                    | E::InvalidName { .. }
                    | E::NotInitialized { .. }
                    | E::Untrusted { .. }
            ),
            Cause::NoSpace { .. } => true,
            _ => false,
        }
    }
}

/// How a framed stream failed verification (`specs/stream-framing.md`).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The producer's session ended with the ring empty and no trailer.
    #[error(
        "the producer (pid {pid}) died after sending {bytes} bytes in {items} items of stream {id}, \
         before its trailer: the stream is incomplete"
    )]
    ProducerDied {
        /// The stream.
        id: StreamId,
        /// The producer's pid, from the header.
        pid: u32,
        /// Data bytes received.
        bytes: u64,
        /// Data items received.
        items: u64,
    },
    /// A header arrived inside a stream.
    #[error(
        "a new stream {new} (producer pid {new_pid}) began before stream {old} (producer pid {old_pid}) \
         ended, after {bytes} bytes of it: its producer was restarted, and the rest of stream {old} \
         will never come"
    )]
    Restarted {
        /// The stream that was open.
        old: StreamId,
        /// Its producer's pid.
        old_pid: u32,
        /// The stream that began.
        new: StreamId,
        /// Its producer's pid.
        new_pid: u32,
        /// Data bytes of the old stream received.
        bytes: u64,
    },
    /// Data or a trailer arrived with no stream open.
    #[error(
        "{what} arrived before any stream header: this consumer joined a stream in the middle, \
         its start was taken by an earlier consumer (killed?) and is lost"
    )]
    NoHeader {
        /// "a data item" or "a trailer".
        what: &'static str,
    },
    /// The trailer's counts differ from what arrived.
    #[error(
        "items of stream {id} are missing: its trailer counts {sent_bytes} bytes in {sent_items} items, \
         {got_bytes} bytes in {got_items} items arrived (another consumer took some?)"
    )]
    Gap {
        /// The stream.
        id: StreamId,
        /// Bytes the trailer counts.
        sent_bytes: u64,
        /// Items the trailer counts.
        sent_items: u64,
        /// Bytes received.
        got_bytes: u64,
        /// Items received.
        got_items: u64,
    },
    /// The trailer's checksum differs from the data's.
    #[error(
        "checksum mismatch in stream {id}: its trailer states xxh3 {expected:016x}, \
         the {bytes} bytes received hash to {actual:016x}"
    )]
    Checksum {
        /// The stream.
        id: StreamId,
        /// The trailer's checksum.
        expected: u64,
        /// The received data's checksum.
        actual: u64,
        /// Bytes received.
        bytes: u64,
    },
    /// A trailer of another stream closed the open one.
    #[error("a trailer of stream {found} arrived in stream {open}")]
    WrongTrailer {
        /// The open stream.
        open: StreamId,
        /// The trailer's stream.
        found: StreamId,
    },
    /// A record's item was shorter or longer than its place in the record.
    #[error(
        "a truncated control record: after {so_far} of its {total} bytes came an item of {got} bytes \
         where {want} were due"
    )]
    Truncated {
        /// Record bytes received before this item.
        so_far: usize,
        /// Bytes of a record.
        total: usize,
        /// Bytes of the item.
        got: usize,
        /// Bytes due.
        want: usize,
    },
    /// An item of the stream failed the ring's integrity check; it was
    /// consumed, so the stream has lost it.
    #[error("an item of the stream is lost: {0}")]
    CorruptItem(shmring::Error),
    /// Bytes after a marker that are no record.
    #[error("{0}")]
    BadRecord(#[from] RecordError),
}

/// `n` bytes in binary units, one decimal.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
