//! The driver protocol, version 1: message types shared by the harness
//! (client side) and [`crate::serve`] (driver side).
//!
//! The contract is `specs/driver-protocol.md`: one JSON object per line on
//! the driver's stdin and stdout, a request `{"id": u64, "op": ..., args}`,
//! a response `{"id": same, "ok": true, results}` or `{"id": same, "ok":
//! false, "error": code, "message": text}`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// The error codes of a failure response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// `open` of a ring name that does not exist.
    NotFound,
    /// `create` of a ring name that already exists (left untouched).
    Exists,
    /// `put` of more bytes than `item_size`; the ring is unchanged.
    TooLarge,
    /// An argument is out of range.
    Invalid,
    /// The item `get` reached failed its integrity check; it is consumed.
    Corrupt,
    /// An operation after `close`.
    Closed,
    /// An op the driver does not implement.
    Unsupported,
    /// Anything else.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::Exists => "exists",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Corrupt => "corrupt",
            ErrorCode::Closed => "closed",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Internal => "internal",
        }
    }

    /// Parses a wire code; `None` for a code the protocol does not define.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a driver may declare in `hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// A ring created by one driver process can be opened from another.
    Processes,
    /// `put_wait` and `get_wait`.
    Blocking,
    /// Items carry an integrity check that `get` verifies.
    Checksum,
    /// The `corrupt` test hook.
    Corrupt,
    /// `batch`.
    Batch,
    /// `parallel`.
    Parallel,
}

impl Feature {
    /// Every feature, in wire order.
    pub const ALL: [Feature; 6] = [
        Feature::Processes,
        Feature::Blocking,
        Feature::Checksum,
        Feature::Corrupt,
        Feature::Batch,
        Feature::Parallel,
    ];

    /// The feature as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Processes => "processes",
            Feature::Blocking => "blocking",
            Feature::Checksum => "checksum",
            Feature::Corrupt => "corrupt",
            Feature::Batch => "batch",
            Feature::Parallel => "parallel",
        }
    }

    /// Parses a wire feature name.
    pub fn parse(s: &str) -> Option<Self> {
        Feature::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Item bytes, carried as standard base64 with padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Payload(pub Vec<u8>);

impl Payload {
    /// Encodes as standard base64 with padding.
    pub fn encode(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Decodes standard base64 with padding.
    pub fn decode(s: &str) -> Result<Vec<u8>, String> {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("bad base64: {e}"))
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Payload::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Payload::decode(&s)
            .map(Payload)
            .map_err(serde::de::Error::custom)
    }
}

/// One operation: a request without its `id`, as it also appears inside
/// `batch` and `parallel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Identify the implementation and its features.
    Hello,
    /// Create and own a ring of `capacity` items of up to `item_size` bytes.
    Create {
        /// Ring name.
        name: String,
        /// Items, >= 1.
        capacity: u64,
        /// Bytes, >= 1.
        item_size: u64,
    },
    /// Attach to an existing ring.
    Open {
        /// Ring name.
        name: String,
    },
    /// Store an item unless full.
    Put {
        /// The item.
        data: Payload,
    },
    /// Take the oldest item, or null if empty.
    Get,
    /// Store an item, waiting up to `timeout_ms` for space.
    PutWait {
        /// The item.
        data: Payload,
        /// Milliseconds.
        timeout_ms: u64,
    },
    /// Take the oldest item, waiting up to `timeout_ms` for one.
    GetWait {
        /// Milliseconds.
        timeout_ms: u64,
    },
    /// Items stored now.
    Len,
    /// Flip one bit of the oldest item as stored.
    Corrupt,
    /// Run ops back to back inside the driver.
    Batch {
        /// The ops, without ids.
        ops: Vec<Op>,
    },
    /// Run op lists at once on that many threads.
    Parallel {
        /// One op list per thread.
        threads: Vec<Vec<Op>>,
    },
    /// Detach (the creator's close removes the name).
    Close,
    /// Answer, then exit 0.
    Exit,
}

impl Op {
    /// The op's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Hello => "hello",
            Op::Create { .. } => "create",
            Op::Open { .. } => "open",
            Op::Put { .. } => "put",
            Op::Get => "get",
            Op::PutWait { .. } => "put_wait",
            Op::GetWait { .. } => "get_wait",
            Op::Len => "len",
            Op::Corrupt => "corrupt",
            Op::Batch { .. } => "batch",
            Op::Parallel { .. } => "parallel",
            Op::Close => "close",
            Op::Exit => "exit",
        }
    }

    /// The op as a JSON object (without `id`).
    pub fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// A request: an op with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Echoed in the response.
    pub id: u64,
    /// The operation.
    #[serde(flatten)]
    pub op: Op,
}

/// A failure object: `{"ok": false, "error": code, "message": text}`.
pub fn failure(code: ErrorCode, message: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ok".into(), Value::Bool(false));
    m.insert("error".into(), Value::String(code.as_str().into()));
    m.insert("message".into(), Value::String(message.into()));
    m
}

/// A success object: `{"ok": true, results...}`.
pub fn success(results: Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ok".into(), Value::Bool(true));
    m.extend(results);
    m
}

/// CLOCK_MONOTONIC now, nanoseconds: the protocol's timestamps.
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
}
