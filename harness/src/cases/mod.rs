//! The cases of the spec, grouped by criterion, and the context they run
//! in. Each case is a function from a [`Ctx`] (the driver command, features,
//! seed, deadline) to a result; [`registry`] maps every case id of
//! `specs/ring.toml` to its function, and a test checks the mapping both
//! ways.

mod basic;
mod blocking;
mod concurrent;

use crate::client::{ClientError, Driver, Reply};
use crate::protocol::{ErrorCode, Feature, Op, Payload};
use std::collections::BTreeSet;
use std::time::Duration;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The implementation broke the criterion; the message says how.
    Fail(String),
    /// An operation got no answer within the deadline.
    Hung(String),
    /// The case cannot apply (the reason names what is missing).
    Skip(String),
}

/// What a case function returns.
pub type CaseResult = Result<(), Outcome>;

/// A case function.
pub type CaseFn = fn(&mut Ctx) -> CaseResult;

impl From<ClientError> for Outcome {
    fn from(e: ClientError) -> Self {
        if e.is_hung() {
            Outcome::Hung(e.to_string())
        } else {
            Outcome::Fail(e.to_string())
        }
    }
}

/// Fails the case with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::cases::Outcome::Fail(format!($($arg)*)))
    };
}
pub(crate) use fail;

/// Every case id with its function, in spec order.
pub fn registry() -> Vec<(&'static str, CaseFn)> {
    let mut all = basic::cases();
    all.extend(blocking::cases());
    all.extend(concurrent::cases());
    all
}

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): small, fast, and fully determined by the
/// seed, which is all a reproducible case needs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Everything a case needs: how to start drivers, what they can do, and a
/// transcript of what was said, for the report.
pub struct Ctx {
    pub(crate) cmd: Vec<String>,
    deadline: Duration,
    /// The run's seed mixed with the case id.
    pub seed: u64,
    features: BTreeSet<Feature>,
    /// Unique per run: every ring name starts with it.
    prefix: String,
    next_name: u32,
    drivers: Vec<Driver>,
    /// Requests and responses, one line each, in order.
    pub transcript: Vec<String>,
}

/// Longest transcript kept per case.
const TRANSCRIPT_LINES: usize = 400;

impl Ctx {
    /// A context for one case.
    pub fn new(
        cmd: Vec<String>,
        deadline: Duration,
        seed: u64,
        features: BTreeSet<Feature>,
        prefix: String,
    ) -> Self {
        Ctx {
            cmd,
            deadline,
            seed,
            features,
            prefix,
            next_name: 0,
            drivers: Vec::new(),
            transcript: Vec::new(),
        }
    }

    /// Whether the driver declared `f`.
    pub fn has(&self, f: Feature) -> bool {
        self.features.contains(&f)
    }

    /// The per-request deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// A random generator seeded for this case.
    pub fn rng(&self) -> Rng {
        Rng::new(self.seed)
    }

    /// A fresh ring name, unique in the run: `[A-Za-z0-9._-]{1,64}`.
    pub fn ring_name(&mut self) -> String {
        self.next_name += 1;
        format!("{}-{}", self.prefix, self.next_name)
    }

    /// Notes a line in the transcript.
    pub fn note(&mut self, line: impl Into<String>) {
        if self.transcript.len() < TRANSCRIPT_LINES {
            self.transcript.push(line.into());
        } else if self.transcript.len() == TRANSCRIPT_LINES {
            self.transcript.push("... (transcript cut)".into());
        }
    }

    /// Starts one more driver process and checks its `hello`; returns its
    /// index (`d0`, `d1`, ... in transcripts).
    pub fn spawn(&mut self) -> Result<usize, Outcome> {
        let mut d = Driver::spawn(&self.cmd, self.deadline)?;
        let i = self.drivers.len();
        let hello = d.request(&Op::Hello)?;
        let protocol = hello.u64("protocol")?;
        if protocol != crate::protocol::PROTOCOL_VERSION {
            fail!("d{i} speaks protocol {protocol}, expected 1");
        }
        self.note(format!("d{i} started (pid {})", d.pid()));
        self.drivers.push(d);
        Ok(i)
    }

    /// Driver `i`, for cases that drive several at once.
    pub fn driver(&mut self, i: usize) -> &mut Driver {
        &mut self.drivers[i]
    }

    /// Takes the drivers out (to hand them to threads); give them back with
    /// [`put_drivers`](Self::put_drivers).
    pub fn take_drivers(&mut self) -> Vec<Driver> {
        std::mem::take(&mut self.drivers)
    }

    /// Gives back drivers taken by [`take_drivers`](Self::take_drivers).
    pub fn put_drivers(&mut self, drivers: Vec<Driver>) {
        self.drivers = drivers;
    }

    /// Sends `op` to driver `i` and notes both sides.
    pub fn call(&mut self, i: usize, op: Op) -> Result<Reply, Outcome> {
        self.note(format!("d{i} -> {}", describe_op(&op)));
        let r = self.drivers[i].request(&op);
        match &r {
            Ok(reply) => self.note(format!("d{i} <- {}", reply.describe())),
            Err(e) => self.note(format!("d{i} <- {e}")),
        }
        Ok(r?)
    }

    /// A success of `op`, or a failure saying what came instead.
    pub fn call_ok(&mut self, i: usize, op: Op) -> Result<Reply, Outcome> {
        let name = op.name();
        let r = self.call(i, op)?;
        if let Err((code, msg)) = &r.result {
            fail!("{name} on d{i} failed with {code} ({msg}); expected success");
        }
        Ok(r)
    }

    /// Expects `op` to fail with `code`.
    pub fn call_err(&mut self, i: usize, op: Op, code: ErrorCode) -> CaseResult {
        let name = op.name();
        let r = self.call(i, op)?;
        match r.error() {
            Some(c) if c == code => Ok(()),
            Some(c) => fail!("{name} on d{i} failed with {c}; expected {code}"),
            None => fail!(
                "{name} on d{i} answered {}; expected error {code}",
                r.describe()
            ),
        }
    }

    /// `create` on driver `i`, expecting success.
    pub fn create(&mut self, i: usize, name: &str, capacity: u64, item_size: u64) -> CaseResult {
        self.call_ok(
            i,
            Op::Create {
                name: name.into(),
                capacity,
                item_size,
            },
        )?;
        Ok(())
    }

    /// `open` on driver `i`, expecting success; returns (capacity, item_size).
    pub fn open(&mut self, i: usize, name: &str) -> Result<(u64, u64), Outcome> {
        let r = self.call_ok(i, Op::Open { name: name.into() })?;
        Ok((r.u64("capacity")?, r.u64("item_size")?))
    }

    /// `put` on driver `i`, expecting success; returns `stored`.
    pub fn put(&mut self, i: usize, data: &[u8]) -> Result<bool, Outcome> {
        let r = self.call_ok(
            i,
            Op::Put {
                data: Payload(data.to_vec()),
            },
        )?;
        Ok(r.stored()?)
    }

    /// `get` on driver `i`, expecting success; returns `data`.
    pub fn get(&mut self, i: usize) -> Result<Option<Vec<u8>>, Outcome> {
        let r = self.call_ok(i, Op::Get)?;
        Ok(r.data()?)
    }

    /// `len` on driver `i`, expecting success.
    pub fn len(&mut self, i: usize) -> Result<u64, Outcome> {
        let r = self.call_ok(i, Op::Len)?;
        Ok(r.u64("len")?)
    }

    /// A driver that holds a fresh ring of the given geometry; returns the
    /// driver index and the ring name.
    pub fn fresh_ring(
        &mut self,
        capacity: u64,
        item_size: u64,
    ) -> Result<(usize, String), Outcome> {
        let d = self.spawn()?;
        let name = self.ring_name();
        self.create(d, &name, capacity, item_size)?;
        Ok((d, name))
    }

    /// Ends every driver: `close`, `exit`, then SIGKILL after a grace period.
    pub fn teardown(&mut self) {
        for d in &mut self.drivers {
            d.shutdown(Duration::from_secs(2));
        }
    }

    /// The stderr tails of the drivers, for a failure report.
    pub fn stderr_tails(&self) -> Vec<(usize, Vec<String>)> {
        self.drivers
            .iter()
            .enumerate()
            .map(|(i, d)| (i, d.stderr_tail()))
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }
}

/// An op for transcripts: its JSON, with long payloads cut.
pub fn describe_op(op: &Op) -> String {
    match op {
        Op::Batch { ops } => format!("batch of {} ops", ops.len()),
        Op::Parallel { threads } => format!(
            "parallel of {} threads ({} ops)",
            threads.len(),
            threads.iter().map(Vec::len).sum::<usize>()
        ),
        _ => {
            let mut s = serde_json::Value::Object(op.to_json()).to_string();
            if s.len() > 160 {
                let mut cut = 160;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push_str("...");
            }
            s
        }
    }
}
