//! Stream framing (`specs/stream-framing.md`): the header and trailer
//! records that delimit a stream of data items in a ring.
//!
//! A stream is: a 0-byte item (the marker), the header record, data items
//! of 1 to item_size bytes, a marker, the trailer record. A record is
//! [`RECORD_LEN`] bytes, carried by as many items as it takes at the ring's
//! item size (one item when item_size >= 64). Data items are never empty,
//! so a 0-byte item can only be a marker and data items carry no framing
//! bytes at all.

use xxhash_rust::xxh3::Xxh3Default;

/// Bytes of every record (header and trailer alike).
pub const RECORD_LEN: usize = 64;
/// First 8 bytes of every record.
pub const MAGIC: [u8; 8] = *b"shmrSTRM";
/// Version of the framing, byte 9 of every record.
pub const VERSION: u8 = 1;
/// Kind byte (byte 8) of a header record.
pub const KIND_HEADER: u8 = 1;
/// Kind byte (byte 8) of a trailer record.
pub const KIND_TRAILER: u8 = 2;
/// Header flag: `total_len` is the stream's length.
pub const FLAG_TOTAL_KNOWN: u16 = 1;

/// A random 128-bit stream id, shown in hexadecimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamId(pub [u8; 16]);

impl StreamId {
    /// A fresh id from the operating system's random source.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id)?;
        Ok(StreamId(id))
    }
}

impl std::fmt::Display for StreamId {
    /// The first 8 bytes in hexadecimal: enough to tell streams apart in a
    /// message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0[..8].iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// What opens a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The stream's id; its trailer repeats it.
    pub id: StreamId,
    /// The producer's session token on the ring
    /// (`SharedBuffer::session`), whose liveness the consumer polls.
    pub token: u32,
    /// The producer's process id (for messages only).
    pub pid: u32,
    /// The stream's length in bytes, when the producer knew it.
    pub total_len: Option<u64>,
    /// When the producer started, nanoseconds since the Unix epoch.
    pub started_unix_ns: u64,
}

/// What closes a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// The id of the stream it closes.
    pub id: StreamId,
    /// The producer's session token (as in the header).
    pub token: u32,
    /// Data bytes in the stream.
    pub bytes: u64,
    /// Data items in the stream.
    pub items: u64,
    /// xxh3-64 (seed 0) of the stream's data bytes in order.
    pub checksum: u64,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Opens a stream.
    Header(Header),
    /// Closes a stream.
    Trailer(Trailer),
}

/// Why bytes after a marker are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The first 8 bytes are not [`MAGIC`].
    #[error("a control record without the stream magic")]
    BadMagic,
    /// A framing version this program does not speak.
    #[error("a control record of framing version {0} (this shmring speaks {VERSION})")]
    Version(u8),
    /// Neither a header nor a trailer.
    #[error("a control record of unknown kind {0}")]
    Kind(u8),
}

fn put_u16(rec: &mut [u8; RECORD_LEN], at: usize, v: u16) {
    rec[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(rec: &mut [u8; RECORD_LEN], at: usize, v: u32) {
    rec[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(rec: &mut [u8; RECORD_LEN], at: usize, v: u64) {
    rec[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn u16_at(rec: &[u8; RECORD_LEN], at: usize) -> u16 {
    u16::from_le_bytes([rec[at], rec[at + 1]])
}
fn u32_at(rec: &[u8; RECORD_LEN], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&rec[at..at + 4]);
    u32::from_le_bytes(b)
}
fn u64_at(rec: &[u8; RECORD_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&rec[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Magic, kind, version, flags, token and id: bytes 0..32 of every record.
fn common(kind: u8, flags: u16, token: u32, id: StreamId) -> [u8; RECORD_LEN] {
    let mut rec = [0u8; RECORD_LEN];
    rec[..8].copy_from_slice(&MAGIC);
    rec[8] = kind;
    rec[9] = VERSION;
    put_u16(&mut rec, 10, flags);
    put_u32(&mut rec, 12, token);
    rec[16..32].copy_from_slice(&id.0);
    rec
}

impl Header {
    /// The record's bytes.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let flags = if self.total_len.is_some() {
            FLAG_TOTAL_KNOWN
        } else {
            0
        };
        let mut rec = common(KIND_HEADER, flags, self.token, self.id);
        put_u32(&mut rec, 32, self.pid);
        put_u64(&mut rec, 40, self.total_len.unwrap_or(0));
        put_u64(&mut rec, 48, self.started_unix_ns);
        rec
    }
}

impl Trailer {
    /// The record's bytes.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut rec = common(KIND_TRAILER, 0, self.token, self.id);
        put_u64(&mut rec, 32, self.bytes);
        put_u64(&mut rec, 40, self.items);
        put_u64(&mut rec, 48, self.checksum);
        rec
    }
}

impl Record {
    /// Decodes a whole record.
    ///
    /// # Errors
    /// [`RecordError`] for a wrong magic, version or kind.
    pub fn decode(rec: &[u8; RECORD_LEN]) -> Result<Record, RecordError> {
        if rec[..8] != MAGIC {
            return Err(RecordError::BadMagic);
        }
        if rec[9] != VERSION {
            return Err(RecordError::Version(rec[9]));
        }
        let token = u32_at(rec, 12);
        let mut id = [0u8; 16];
        id.copy_from_slice(&rec[16..32]);
        let id = StreamId(id);
        match rec[8] {
            KIND_HEADER => Ok(Record::Header(Header {
                id,
                token,
                pid: u32_at(rec, 32),
                total_len: (u16_at(rec, 10) & FLAG_TOTAL_KNOWN != 0).then(|| u64_at(rec, 40)),
                started_unix_ns: u64_at(rec, 48),
            })),
            KIND_TRAILER => Ok(Record::Trailer(Trailer {
                id,
                token,
                bytes: u64_at(rec, 32),
                items: u64_at(rec, 40),
                checksum: u64_at(rec, 48),
            })),
            other => Err(RecordError::Kind(other)),
        }
    }
}

/// The items that carry `record` at item size `item_size`: full items, the
/// last one holding the rest.
pub fn fragments(record: &[u8; RECORD_LEN], item_size: usize) -> impl Iterator<Item = &[u8]> {
    record.chunks(item_size.max(1))
}

/// Running totals of a stream's data: what its trailer states.
#[derive(Default)]
pub struct Tally {
    /// Data bytes so far.
    pub bytes: u64,
    /// Data items so far.
    pub items: u64,
    hash: Xxh3Default,
}

impl Tally {
    /// Counts and hashes one data item.
    pub fn add(&mut self, item: &[u8]) {
        self.bytes += item.len() as u64;
        self.items += 1;
        self.hash.update(item);
    }

    /// xxh3-64 of the data so far.
    pub fn checksum(&self) -> u64 {
        self.hash.digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let h = Header {
            id: StreamId([7; 16]),
            token: 42,
            pid: 1234,
            total_len: Some(99),
            started_unix_ns: 5,
        };
        assert_eq!(Record::decode(&h.encode()), Ok(Record::Header(h.clone())));
        let h = Header {
            total_len: None,
            ..h
        };
        assert_eq!(Record::decode(&h.encode()), Ok(Record::Header(h)));
        let t = Trailer {
            id: StreamId([9; 16]),
            token: 42,
            bytes: 1 << 40,
            items: 3,
            checksum: 0xdead_beef,
        };
        assert_eq!(Record::decode(&t.encode()), Ok(Record::Trailer(t)));
    }

    #[test]
    fn fragments_cover_the_record_in_order() {
        let rec = Trailer {
            id: StreamId([1; 16]),
            token: 1,
            bytes: 2,
            items: 3,
            checksum: 4,
        }
        .encode();
        for size in [1, 7, 63, 64, 65536] {
            let parts: Vec<&[u8]> = fragments(&rec, size).collect();
            assert_eq!(parts.len(), RECORD_LEN.div_ceil(size));
            assert_eq!(parts.concat(), rec);
        }
    }

    #[test]
    fn the_checksum_does_not_depend_on_item_boundaries() {
        let mut a = Tally::default();
        a.add(b"hello ");
        a.add(b"world");
        let mut b = Tally::default();
        b.add(b"hello world");
        assert_eq!(a.checksum(), b.checksum());
        assert_eq!(a.checksum(), xxhash_rust::xxh3::xxh3_64(b"hello world"));
    }
}
