//! Turn a Rust ring into a driver in a few lines: implement [`Ring`] for a
//! handle and [`Implementation`] for the type that makes handles, then call
//! [`serve_stdio`].
//!
//! ```no_run
//! use ringcheck_protocol::{serve_stdio, DriverError, Feature, Implementation, Ring};
//! # struct MyRing;
//! # impl Ring for MyRing {
//! #   fn put(&self, _: &[u8]) -> Result<bool, DriverError> { Ok(true) }
//! #   fn get(&self) -> Result<Option<Vec<u8>>, DriverError> { Ok(None) }
//! #   fn len(&self) -> Result<u64, DriverError> { Ok(0) }
//! #   fn close(&mut self) -> Result<(), DriverError> { Ok(()) }
//! # }
//! struct Mine;
//! impl Implementation for Mine {
//!     type Ring = MyRing;
//!     fn name(&self) -> String { "my-ring 0.1".into() }
//!     fn features(&self) -> Vec<Feature> { vec![Feature::Batch] }
//!     fn create(&self, name: &str, capacity: u64, item_size: u64) -> Result<MyRing, DriverError> {
//!         # let _ = (name, capacity, item_size);
//!         Ok(MyRing)
//!     }
//!     fn open(&self, name: &str) -> Result<(MyRing, u64, u64), DriverError> {
//!         # let _ = name;
//!         Ok((MyRing, 10, 64))
//!     }
//! }
//! fn main() -> std::process::ExitCode { serve_stdio(&Mine) }
//! ```
//!
//! `serve` handles the framing, ids, `hello`, `batch` (with `t0`/`t1`
//! timestamps), `parallel` (one scoped thread per op list), `close` and
//! `exit`; a malformed request gets an `invalid` failure, never a crash.

use crate::{
    failure, monotonic_ns, success, ErrorCode, Feature, GeometryOffer, Op, Payload, Roles,
    PROTOCOL_VERSION,
};
use serde_json::{Map, Value};
use std::io::{self, BufRead, Write};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// A failure to report: a protocol error code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverError {
    /// The protocol error code.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
}

impl DriverError {
    /// A failure with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        DriverError {
            code,
            message: message.into(),
        }
    }

    /// An `unsupported` failure for `op`.
    pub fn unsupported(op: &str) -> Self {
        DriverError::new(ErrorCode::Unsupported, format!("{op} is not implemented"))
    }
}

/// One attached ring. Methods take `&self` because `parallel` calls them
/// from several threads at once; an implementation without `parallel` may
/// still rely on the driver loop calling them one at a time.
#[allow(clippy::len_without_is_empty)] // `len` is a protocol op; emptiness is `get`.
pub trait Ring: Send + Sync {
    /// Stores `data` unless full; `Ok(false)` iff full.
    fn put(&self, data: &[u8]) -> Result<bool, DriverError>;
    /// Takes the oldest item; `Ok(None)` iff empty.
    fn get(&self) -> Result<Option<Vec<u8>>, DriverError>;
    /// Items stored now.
    fn len(&self) -> Result<u64, DriverError>;
    /// Detaches; the creator's close removes the name.
    fn close(&mut self) -> Result<(), DriverError>;
    /// [`put`](Self::put), waiting up to `timeout` for space (feature
    /// `blocking`).
    fn put_wait(&self, data: &[u8], timeout: Duration) -> Result<bool, DriverError> {
        let _ = (data, timeout);
        Err(DriverError::unsupported("put_wait"))
    }
    /// [`get`](Self::get), waiting up to `timeout` for an item (feature
    /// `blocking`).
    fn get_wait(&self, timeout: Duration) -> Result<Option<Vec<u8>>, DriverError> {
        let _ = timeout;
        Err(DriverError::unsupported("get_wait"))
    }
    /// Flips one bit of the oldest item as stored (feature `corrupt`);
    /// `invalid` on an empty ring.
    fn corrupt(&self) -> Result<(), DriverError> {
        Err(DriverError::unsupported("corrupt"))
    }
}

/// A ring implementation: how to create and open rings, and what it
/// declares in `hello`. `Sync` because the threads of `parallel` may
/// `create`, `open` or `close` too.
pub trait Implementation: Sync {
    /// The handle type.
    type Ring: Ring;
    /// The `impl` string of `hello` (name and version).
    fn name(&self) -> String;
    /// The features declared in `hello`. `batch` and `parallel` are served
    /// by [`serve`] itself; declare them to let the harness use them.
    fn features(&self) -> Vec<Feature>;
    /// The geometries `create` can build, declared in `hello` as
    /// `geometry`; `None` (the default) declares nothing, and the driver
    /// may refuse a geometry at `create` with `invalid`.
    fn geometry(&self) -> Option<GeometryOffer> {
        None
    }
    /// The roles declared in `hello` as `roles` ([`Roles`]): how many
    /// actors (driver processes, or thread lists of one `parallel`) may
    /// hold the producer and the consumer role of one ring at once. The
    /// default, [`Roles::ANY`], declares nothing: any number of each. An
    /// SPSC ring returns [`Roles::SPSC`]; a harness then never runs two
    /// producers or two consumers on one of its rings at once.
    fn roles(&self) -> Roles {
        Roles::ANY
    }
    /// Creates and owns the ring `name`.
    fn create(&self, name: &str, capacity: u64, item_size: u64) -> Result<Self::Ring, DriverError>;
    /// Attaches to the ring `name`; returns the handle, capacity and item
    /// size.
    fn open(&self, name: &str) -> Result<(Self::Ring, u64, u64), DriverError>;
}

/// Serves `imp` on this process's stdin and stdout until `exit` or EOF.
/// Returns exit code 0, or 1 if stdout broke.
pub fn serve_stdio<I: Implementation>(imp: &I) -> std::process::ExitCode {
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    match serve(imp, stdin, stdout) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("driver: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// The driver loop: one response line per request line, flushed, in order.
///
/// # Errors
/// Only I/O errors of `output` (or `input`); protocol errors are answered.
pub fn serve<I: Implementation>(
    imp: &I,
    input: impl BufRead,
    mut output: impl Write,
) -> io::Result<()> {
    let state = RwLock::new(State::<I::Ring> {
        rings: Vec::new(),
        current: None,
    });
    let mut input = input;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        // A line that is not UTF-8 is answered as invalid JSON, not fatal.
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let (id, reply, exit) = handle_line(imp, &state, line);
        let mut obj = Map::new();
        obj.insert("id".into(), id);
        obj.extend(reply);
        serde_json::to_writer(&mut output, &Value::Object(obj))?;
        output.write_all(b"\n")?;
        output.flush()?;
        if exit {
            break;
        }
    }
    for mut ring in write(&state).rings.drain(..) {
        let _ = ring.close();
    }
    Ok(())
}

/// The state for a lifecycle op. A poisoned lock (an implementation that
/// panicked on another thread of `parallel`) is taken over: the rings are
/// still there to answer for.
fn write<R>(state: &RwLock<State<R>>) -> RwLockWriteGuard<'_, State<R>> {
    state.write().unwrap_or_else(PoisonError::into_inner)
}

/// The state for a ring op: shared by the threads of `parallel`.
fn read<R>(state: &RwLock<State<R>>) -> RwLockReadGuard<'_, State<R>> {
    state.read().unwrap_or_else(PoisonError::into_inner)
}

struct State<R> {
    /// Every ring attached so far; kept open until exit so that a second
    /// `create` or `open` does not detach (and remove) the first.
    rings: Vec<R>,
    /// Index of the ring ops apply to; `None` before any attach or after
    /// `close`.
    current: Option<usize>,
}

fn handle_line<I: Implementation>(
    imp: &I,
    state: &RwLock<State<I::Ring>>,
    line: &str,
) -> (Value, Map<String, Value>, bool) {
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            let msg = format!("request is not JSON: {e}");
            return (Value::Null, failure(ErrorCode::Invalid, &msg), false);
        }
    };
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    if !id.is_u64() {
        let msg = "request has no u64 \"id\"";
        return (id, failure(ErrorCode::Invalid, msg), false);
    }
    let name = value.get("op").and_then(Value::as_str).unwrap_or("");
    let reply = match name {
        // The ops of a batch or parallel are parsed one by one: a bad op
        // yields its failure object in place and the others still run.
        "batch" | "parallel" => match nested(&value, name) {
            Err(reply) => reply,
            Ok(lists) if name == "batch" => success(results_field(Value::Array(list_results(
                imp, state, &lists[0],
            )))),
            Ok(lists) => {
                let out: Vec<Value> = std::thread::scope(|s| {
                    let handles: Vec<_> = lists
                        .iter()
                        .map(|ops| s.spawn(move || Value::Array(list_results(imp, state, ops))))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or(Value::Null))
                        .collect()
                });
                success(results_field(Value::Array(out)))
            }
        },
        _ => match parse_op(&value) {
            Ok(op) => {
                let exit = op == Op::Exit;
                let reply = match run_top(imp, &mut write(state), &op) {
                    Ok(results) => success(results),
                    Err(e) => failure(e.code, &e.message),
                };
                return (id, reply, exit);
            }
            Err(reply) => reply,
        },
    };
    (id, reply, false)
}

type Parsed = Result<Op, Map<String, Value>>;

/// The op lists of a `batch` (one list) or `parallel` (one per thread),
/// each op parsed on its own.
fn nested(value: &Value, name: &str) -> Result<Vec<Vec<Parsed>>, Map<String, Value>> {
    let parse_list =
        |v: &Value| -> Option<Vec<Parsed>> { Some(v.as_array()?.iter().map(parse_op).collect()) };
    let lists = if name == "batch" {
        value.get("ops").and_then(parse_list).map(|l| vec![l])
    } else {
        value
            .get("threads")
            .and_then(Value::as_array)
            .and_then(|ts| ts.iter().map(parse_list).collect::<Option<Vec<_>>>())
    };
    lists.ok_or_else(|| {
        let want = if name == "batch" {
            "\"ops\": a list of ops"
        } else {
            "\"threads\": a list of op lists"
        };
        failure(
            ErrorCode::Invalid,
            &format!("bad arguments for {name}: expected {want}"),
        )
    })
}

fn results_field(v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("results".into(), v);
    m
}

const OPS: [&str; 13] = [
    "hello", "create", "open", "put", "get", "put_wait", "get_wait", "len", "corrupt", "batch",
    "parallel", "close", "exit",
];

/// Parses one op object, answering `unsupported` for an unknown op name and
/// `invalid` for missing or ill-typed arguments.
fn parse_op(value: &Value) -> Result<Op, Map<String, Value>> {
    let name = value.get("op").and_then(Value::as_str).unwrap_or("");
    if !OPS.contains(&name) {
        let msg = format!("unknown op {name:?}");
        return Err(failure(ErrorCode::Unsupported, &msg));
    }
    serde_json::from_value::<Op>(value.clone()).map_err(|e| {
        let msg = format!("bad arguments for {name}: {e}");
        failure(ErrorCode::Invalid, &msg)
    })
}

fn run_top<I: Implementation>(
    imp: &I,
    state: &mut State<I::Ring>,
    op: &Op,
) -> Result<Map<String, Value>, DriverError> {
    match op {
        Op::Hello => {
            let mut m = Map::new();
            m.insert("impl".into(), imp.name().into());
            m.insert("protocol".into(), PROTOCOL_VERSION.into());
            let features: Vec<Value> = imp
                .features()
                .iter()
                .map(|f| Value::from(f.as_str()))
                .collect();
            m.insert("features".into(), Value::Array(features));
            if let Some(offer) = imp.geometry() {
                if let Ok(v) = serde_json::to_value(offer) {
                    m.insert("geometry".into(), v);
                }
            }
            let roles = imp.roles();
            if !roles.is_any() {
                if let Ok(v) = serde_json::to_value(roles) {
                    m.insert("roles".into(), v);
                }
            }
            Ok(m)
        }
        Op::Create {
            name,
            capacity,
            item_size,
        } => {
            check_name(name)?;
            if *capacity == 0 || *item_size == 0 {
                return Err(DriverError::new(
                    ErrorCode::Invalid,
                    "capacity and item_size must be >= 1",
                ));
            }
            let ring = imp.create(name, *capacity, *item_size)?;
            state.rings.push(ring);
            state.current = Some(state.rings.len() - 1);
            Ok(Map::new())
        }
        Op::Open { name } => {
            check_name(name)?;
            let (ring, capacity, item_size) = imp.open(name)?;
            state.rings.push(ring);
            state.current = Some(state.rings.len() - 1);
            let mut m = Map::new();
            m.insert("capacity".into(), capacity.into());
            m.insert("item_size".into(), item_size.into());
            Ok(m)
        }
        Op::Close => {
            // Before any create/open this is `invalid`, after a close
            // `closed`, as for every ring op.
            current(state)?;
            let i = state.current.take().unwrap_or_default();
            state.rings[i].close().map(|()| Map::new())
        }
        Op::Exit => Ok(Map::new()),
        Op::Batch { .. } | Op::Parallel { .. } => Err(DriverError::new(
            ErrorCode::Invalid,
            "batch and parallel cannot be nested",
        )),
        ring_op => ring_op_results(current(state)?, ring_op),
    }
}

fn check_name(name: &str) -> Result<(), DriverError> {
    if name.is_empty() || name.contains('/') {
        return Err(DriverError::new(
            ErrorCode::Invalid,
            format!("invalid ring name {name:?}"),
        ));
    }
    Ok(())
}

fn current<R>(state: &State<R>) -> Result<&R, DriverError> {
    match state.current {
        Some(i) => Ok(&state.rings[i]),
        None if state.rings.is_empty() => Err(DriverError::new(
            ErrorCode::Invalid,
            "no ring attached: create or open one first",
        )),
        None => Err(DriverError::new(ErrorCode::Closed, "the ring was closed")),
    }
}

/// Runs `ops` back to back; each result carries `t0` and `t1`. An op
/// that could not be parsed, or that a list may not hold (`hello`, `exit`,
/// `batch`, `parallel`), yields its failure in place. `create`, `open` and
/// `close` act as at top level; under `parallel` they wait for the other
/// threads' ring ops in progress.
fn list_results<I: Implementation>(
    imp: &I,
    state: &RwLock<State<I::Ring>>,
    ops: &[Parsed],
) -> Vec<Value> {
    ops.iter()
        .map(|op| {
            let t0 = monotonic_ns();
            let r = match op {
                Ok(Op::Hello | Op::Exit | Op::Batch { .. } | Op::Parallel { .. }) => {
                    Err(DriverError::new(
                        ErrorCode::Invalid,
                        format!(
                            "{} is not allowed inside batch or parallel",
                            op.as_ref().map_or("", Op::name)
                        ),
                    ))
                }
                Ok(op @ (Op::Create { .. } | Op::Open { .. } | Op::Close)) => {
                    run_top(imp, &mut write(state), op)
                }
                Ok(op) => current(&read(state)).and_then(|ring| ring_op_results(ring, op)),
                Err(bad) => {
                    let mut fail = bad.clone();
                    fail.insert("t0".into(), t0.into());
                    fail.insert("t1".into(), monotonic_ns().into());
                    return Value::Object(fail);
                }
            };
            let t1 = monotonic_ns();
            let mut obj = match r {
                Ok(results) => success(results),
                Err(e) => failure(e.code, &e.message),
            };
            obj.insert("t0".into(), t0.into());
            obj.insert("t1".into(), t1.into());
            Value::Object(obj)
        })
        .collect()
}

fn data_value(item: Option<Vec<u8>>) -> Value {
    item.map_or(Value::Null, |b| Value::String(Payload::encode(&b)))
}

/// A ring op (`put`, `get`, `put_wait`, `get_wait`, `len`, `corrupt`) on
/// the attached ring; any other op is `invalid` here.
fn ring_op_results<R: Ring>(ring: &R, op: &Op) -> Result<Map<String, Value>, DriverError> {
    let mut m = Map::new();
    match op {
        Op::Put { data } => {
            m.insert("stored".into(), ring.put(&data.0)?.into());
        }
        Op::Get => {
            m.insert("data".into(), data_value(ring.get()?));
        }
        Op::PutWait { data, timeout_ms } => {
            let stored = ring.put_wait(&data.0, Duration::from_millis(*timeout_ms))?;
            m.insert("stored".into(), stored.into());
        }
        Op::GetWait { timeout_ms } => {
            let item = ring.get_wait(Duration::from_millis(*timeout_ms))?;
            m.insert("data".into(), data_value(item));
        }
        Op::Len => {
            m.insert("len".into(), ring.len()?.into());
        }
        Op::Corrupt => ring.corrupt()?,
        other => {
            return Err(DriverError::new(
                ErrorCode::Invalid,
                format!("{} is not a ring op", other.name()),
            ))
        }
    }
    Ok(m)
}
