//! The context a case runs in ([`Ctx`]): its session, seed, drivers,
//! transcript and rings, and the roles each of its drivers holds.

use super::geometry::{Geometry, Need};
use super::outcome::{fail, CaseResult, Outcome};
use crate::client::{describe_op, Driver, Reply};
use crate::protocol::{ErrorCode, Feature, Op, Payload};
use crate::session::{Session, SHUTDOWN_GRACE};
use ringcheck_models::Rng;
use std::sync::Arc;
use std::time::Duration;

/// Everything a case needs: the session (how to start drivers, what they
/// can do, ring names), the case's seed, its drivers, and a transcript of
/// what was said, for the report.
pub struct Ctx {
    session: Arc<Session>,
    /// The geometry of the last ring made with [`Ctx::create_fitting`].
    pub geometry: Option<Geometry>,
    /// The run's seed mixed with the case id.
    pub seed: u64,
    drivers: Vec<Driver>,
    /// Requests and responses, one line each, in order.
    pub transcript: Vec<String>,
    /// The ring names given out to the case.
    rings: Vec<String>,
    /// What each driver of `drivers` holds, by the same index.
    holdings: Vec<Holding>,
}

/// The ring a driver has open, whether it created it, and the roles it
/// holds on it (held from its first put or get until it closes the ring).
#[derive(Debug, Clone, Default)]
struct Holding {
    ring: Option<String>,
    creator: bool,
    producer: bool,
    consumer: bool,
}

/// One of the two roles of a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Takes `put` and `put_wait`.
    Producer,
    /// Takes `get` and `get_wait`.
    Consumer,
}

impl Role {
    /// The role `op` takes, if any (`len`, `create`, `open`, `close` take
    /// none).
    pub fn of(op: &Op) -> Option<Role> {
        match op {
            Op::Put { .. } | Op::PutWait { .. } => Some(Role::Producer),
            Op::Get | Op::GetWait { .. } => Some(Role::Consumer),
            _ => None,
        }
    }

    /// "producer" or "consumer".
    pub fn name(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        }
    }

    /// The declared limit of this role (`None`: any number).
    pub fn limit(self, roles: &crate::protocol::Roles) -> Option<u32> {
        match self {
            Role::Producer => roles.producers,
            Role::Consumer => roles.consumers,
        }
    }
}

impl Holding {
    fn has(&self, role: Role) -> bool {
        match role {
            Role::Producer => self.producer,
            Role::Consumer => self.consumer,
        }
    }
}

/// Longest transcript kept per case.
const TRANSCRIPT_LINES: usize = 400;

impl Ctx {
    /// A context for one case of `session`, with its own `seed`.
    pub fn new(session: Arc<Session>, seed: u64) -> Self {
        Ctx {
            session,
            geometry: None,
            rings: Vec::new(),
            seed,
            drivers: Vec::new(),
            transcript: Vec::new(),
            holdings: Vec::new(),
        }
    }

    /// The session the case runs in.
    pub fn session(&self) -> Arc<Session> {
        Arc::clone(&self.session)
    }

    /// Whether the driver declared `f`.
    pub fn has(&self, f: Feature) -> bool {
        self.session.has(f)
    }

    /// The roles the driver declared: how many actors may hold the
    /// producer and the consumer role of one ring at once.
    pub fn roles(&self) -> crate::protocol::Roles {
        self.session.hello().roles
    }

    /// The per-request deadline.
    pub fn deadline(&self) -> Duration {
        self.session.deadline()
    }

    /// A random generator seeded for this case.
    pub fn rng(&self) -> Rng {
        Rng::new(self.seed)
    }

    /// A fresh ring name, unique in the run ([`Session::ring_name`]).
    pub fn ring_name(&mut self) -> String {
        let name = self.session.ring_name();
        self.rings.push(name.clone());
        name
    }

    /// Removes what the case's rings left in `/dev/shm` (a killed creator
    /// cannot remove its own) and returns the names removed.
    pub fn sweep(&self) -> Vec<String> {
        self.session.sweep_rings(&self.rings)
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
        let d = self.session.spawn()?;
        let i = self.drivers.len();
        self.note(format!("d{i} started (pid {})", d.pid()));
        self.drivers.push(d);
        self.holdings.resize(self.drivers.len(), Holding::default());
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
        self.holdings.resize(self.drivers.len(), Holding::default());
    }

    /// Sends `op` to driver `i` and notes both sides. Within the declared
    /// roles ([`claim`](Self::claim)): a put or get that would make one
    /// actor too many hold its role first hands the role over.
    pub fn call(&mut self, i: usize, op: Op) -> Result<Reply, Outcome> {
        self.claim(i, &op)?;
        self.note(format!("d{i} -> {}", describe_op(&op)));
        let r = self.drivers[i].request(&op);
        match &r {
            Ok(reply) => {
                self.note(format!("d{i} <- {}", reply.describe()));
                if reply.result.is_ok() {
                    self.opened_or_closed(i, &op);
                }
            }
            Err(e) => self.note(format!("d{i} <- {e}")),
        }
        Ok(r?)
    }

    /// Records that driver `i` is about to send `op`, and keeps the
    /// declared roles: when `op` takes a role that `i` does not hold and
    /// as many other live drivers as declared hold it on the same ring,
    /// they hand it over by closing the ring and opening it again (a new
    /// actor, holding nothing). Sequential cases get their hand-overs
    /// from here; the concurrent ones plan their actors within the roles
    /// themselves.
    ///
    /// # Errors
    /// A failure when a holder to hand over created the ring (its close
    /// would remove it: the case is not written for these roles, a
    /// ringcheck bug), or when its close or open fails.
    pub fn claim(&mut self, i: usize, op: &Op) -> CaseResult {
        let Some(role) = Role::of(op) else {
            return Ok(());
        };
        let Some(ring) = self.holdings.get(i).and_then(|h| h.ring.clone()) else {
            return Ok(());
        };
        if !self.holdings[i].has(role) {
            if let Some(limit) = role.limit(&self.roles()) {
                let holders: Vec<usize> = (0..self.holdings.len())
                    .filter(|&j| j != i && !self.drivers[j].is_dead())
                    .filter(|&j| {
                        let h = &self.holdings[j];
                        h.ring.as_deref() == Some(ring.as_str()) && h.has(role)
                    })
                    .collect();
                let excess = (holders.len() + 1).saturating_sub(limit as usize);
                for &j in &holders[..excess] {
                    self.hand_over(j, role, &ring)?;
                }
            }
        }
        let h = &mut self.holdings[i];
        match role {
            Role::Producer => h.producer = true,
            Role::Consumer => h.consumer = true,
        }
        Ok(())
    }

    /// Driver `j` hands its `role` on `ring` over: close, then open.
    fn hand_over(&mut self, j: usize, role: Role, ring: &str) -> CaseResult {
        let roles = self.roles();
        if self.holdings[j].creator {
            fail!(
                "ringcheck cannot hand the {} role over from d{j}, which created the ring (its close would remove it): this case does not keep to the roles {roles} (a ringcheck bug)",
                role.name()
            );
        }
        self.note(format!(
            "d{j} hands its {} role over (the driver declared {roles}): close, then open again",
            role.name()
        ));
        self.call_ok(j, Op::Close)?;
        self.call_ok(j, Op::Open { name: ring.into() })?;
        Ok(())
    }

    /// Updates what driver `i` holds after `op` succeeded.
    fn opened_or_closed(&mut self, i: usize, op: &Op) {
        let Some(h) = self.holdings.get_mut(i) else {
            return;
        };
        match op {
            Op::Create { name, .. } | Op::Open { name } => {
                *h = Holding {
                    ring: Some(name.clone()),
                    creator: matches!(op, Op::Create { .. }),
                    ..Holding::default()
                }
            }
            Op::Close => *h = Holding::default(),
            _ => {}
        }
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

    /// A new driver that holds a fresh ring whose geometry meets `need`;
    /// returns the driver index, the ring name and the geometry.
    ///
    /// # Errors
    /// As [`create_fitting`](Self::create_fitting).
    pub fn fresh_ring(&mut self, need: &Need) -> Result<(usize, String, Geometry), Outcome> {
        let d = self.spawn()?;
        let (name, geometry) = self.create_fitting(d, need)?;
        Ok((d, name, geometry))
    }

    /// Creates, on driver `d`, a fresh ring whose geometry meets `need`,
    /// trying the candidates within the driver's offer in order: a refusal
    /// (`invalid`) of a geometry the driver did not declare moves on to the
    /// next; of one it declared, fails the case.
    ///
    /// # Errors
    /// [`Outcome::Unfit`] when no candidate is left; a failure for any other
    /// answer to `create`.
    pub fn create_fitting(&mut self, d: usize, need: &Need) -> Result<(String, Geometry), Outcome> {
        let offer = self.session.hello().geometry.clone();
        let mut refused = Vec::new();
        for geometry in need.candidates(offer.as_ref()) {
            let name = self.ring_name();
            let op = Op::Create {
                name: name.clone(),
                capacity: geometry.capacity,
                item_size: geometry.item_size,
            };
            let r = self.call(d, op)?;
            match r.error() {
                None => {
                    self.geometry = Some(geometry);
                    return Ok((name, geometry));
                }
                Some(ErrorCode::Invalid) if offer.is_none() => refused.push(geometry.to_string()),
                Some(ErrorCode::Invalid) => fail!(
                    "create of {geometry} was refused ({}), although the driver declared it can build it",
                    r.describe()
                ),
                Some(c) => fail!("create of {geometry} failed with {c}; expected success"),
            }
        }
        let offered = match &offer {
            Some(o) => serde_json::to_string(o).unwrap_or_default(),
            None => "nothing declared".into(),
        };
        let refused = if refused.is_empty() {
            String::new()
        } else {
            format!("; refused at create: {}", refused.join(", "))
        };
        Err(Outcome::Unfit(format!(
            "no geometry the driver offers fits ({need}; offered: {offered}{refused})"
        )))
    }

    /// Ends every driver: `close`, `exit`, then SIGKILL after a grace period.
    pub fn teardown(&mut self) {
        for d in &mut self.drivers {
            d.shutdown(SHUTDOWN_GRACE);
        }
    }

    /// For each driver of the case still alive, what its processes are
    /// doing ([`crate::client::diagnose::describe_group`]).
    pub fn live_states(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, d) in self
            .drivers
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.is_dead())
        {
            for line in crate::client::diagnose::describe_group(d.pid() as i32) {
                out.push(format!("d{i}: {line}"));
            }
        }
        out
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
