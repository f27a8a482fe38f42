//! Generated scenarios: a geometry, one op list per process, an optional
//! crash; the proptest strategies that make them, biased toward the
//! situations where ring bugs live.

use crate::item::{item_header_len, unique_item};
use crate::protocol::Roles;
use crate::protocol::{Op, Payload};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// A payload size, relative to the item size so that shrinking keeps its
/// meaning across geometries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// 0 bytes (only the first such put of a scenario; later ones get the
    /// smallest size that keeps them unique).
    Zero,
    /// `item_size` bytes.
    Max,
    /// `item_size - 1` bytes.
    MaxMinus1,
    /// `1 + n % item_size` bytes.
    #[serde(rename = "mod")]
    Some(u32),
}

/// One op of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `put`.
    Put(Size),
    /// `put_wait` with a timeout, ms.
    PutWait(Size, u16),
    /// `get`.
    Get,
    /// `get_wait` with a timeout, ms.
    GetWait(u16),
    /// `len`.
    Len,
}

/// When a process is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillPoint {
    /// After its first `k` ops have answered (the rest never run).
    AfterOp(u16),
    /// This many microseconds after its batch was sent.
    AtMicros(u32),
}

/// Which process dies, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    /// Index into [`ProcessScenario::processes`].
    pub process: usize,
    /// When.
    pub at: KillPoint,
}

/// One process: producer or consumer, and its ops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Puts (true) or gets (false).
    pub producer: bool,
    /// Its ops, run as one batch.
    pub steps: Vec<Step>,
    /// Microseconds after the other processes' batches were sent that this
    /// one's is sent (0: at once). A late start lets a process act on the
    /// ring only after another was killed in a wait.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_us: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Process {
    /// Whether it puts (and so holds the producer role once it runs).
    pub fn puts(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Put(_) | Step::PutWait(..)))
    }

    /// Whether it gets (and so holds the consumer role once it runs).
    pub fn gets(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Get | Step::GetWait(_)))
    }
}

/// A whole generated scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessScenario {
    /// Items.
    pub capacity: u64,
    /// Bytes.
    pub item_size: u64,
    /// Producers first, then consumers.
    pub processes: Vec<Process>,
    /// An optional crash.
    pub crash: Option<Crash>,
}

impl ProcessScenario {
    /// Total ops, for reports.
    pub fn ops(&self) -> usize {
        self.processes.iter().map(|p| p.steps.len()).sum()
    }

    /// Whether it stays within `roles`: at most that many processes put,
    /// and at most that many get (a process that does both counts for
    /// each role).
    pub fn within(&self, roles: &Roles) -> bool {
        let putters = self.processes.iter().filter(|p| p.puts()).count();
        let getters = self.processes.iter().filter(|p| p.gets()).count();
        roles.producers_up_to(putters) == putters && roles.consumers_up_to(getters) == getters
    }

    /// Driver features the scenario needs.
    pub fn needs_blocking(&self) -> bool {
        self.processes
            .iter()
            .flat_map(|p| &p.steps)
            .any(|s| matches!(s, Step::PutWait(..) | Step::GetWait(_)))
    }

    /// The scenario in the protocol's terms, one line per process:
    /// `p0 producer: put 64 B, put_wait 63 B (20 ms), len`, then the crash.
    pub fn describe(&self) -> String {
        let size = |s: Size| match s {
            Size::Zero => "0 B".to_owned(),
            Size::Max => format!("{} B", self.item_size),
            Size::MaxMinus1 => format!("{} B", self.item_size.saturating_sub(1)),
            Size::Some(n) => format!("{} B", 1 + u64::from(n) % self.item_size.max(1)),
        };
        let mut out = format!("ring of {} x {} B\n", self.capacity, self.item_size);
        for (i, p) in self.processes.iter().enumerate() {
            let role = if p.producer { "producer" } else { "consumer" };
            let steps: Vec<String> = p
                .steps
                .iter()
                .map(|s| match *s {
                    Step::Put(s) => format!("put {}", size(s)),
                    Step::PutWait(s, t) => format!("put_wait {} ({t} ms)", size(s)),
                    Step::Get => "get".into(),
                    Step::GetWait(t) => format!("get_wait ({t} ms)"),
                    Step::Len => "len".into(),
                })
                .collect();
            let start = if p.start_us > 0 {
                format!(" (starts {} us late)", p.start_us)
            } else {
                String::new()
            };
            out.push_str(&format!("  p{i} {role}{start}: {}\n", steps.join(", ")));
        }
        match self.crash {
            Some(Crash {
                process,
                at: KillPoint::AfterOp(k),
            }) => out.push_str(&format!(
                "  crash: p{process} SIGKILLed after its first {k} ops answered\n"
            )),
            Some(Crash {
                process,
                at: KillPoint::AtMicros(us),
            }) => out.push_str(&format!(
                "  crash: p{process} SIGKILLed {us} us after its batch was sent\n"
            )),
            None => out.push_str("  no crash\n"),
        }
        out
    }
}

/// A wait timeout, ms: up to 50, so that a process is often asleep in a
/// wait when another is killed, and a scenario stays short.
fn wait_ms() -> impl Strategy<Value = u16> {
    0..50u16
}

pub(crate) fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        1 => Just(Size::Zero),
        2 => Just(Size::Max),
        1 => Just(Size::MaxMinus1),
        4 => any::<u32>().prop_map(Size::Some),
    ]
}

fn producer_step(blocking: bool) -> BoxedStrategy<Step> {
    if blocking {
        prop_oneof![
            4 => size().prop_map(Step::Put),
            4 => (size(), wait_ms()).prop_map(|(s, t)| Step::PutWait(s, t)),
            1 => Just(Step::Len),
        ]
        .boxed()
    } else {
        prop_oneof![6 => size().prop_map(Step::Put), 1 => Just(Step::Len)].boxed()
    }
}

fn consumer_step(blocking: bool) -> BoxedStrategy<Step> {
    if blocking {
        prop_oneof![4 => Just(Step::Get), 4 => wait_ms().prop_map(Step::GetWait), 1 => Just(Step::Len)].boxed()
    } else {
        prop_oneof![6 => Just(Step::Get), 1 => Just(Step::Len)].boxed()
    }
}

/// Scenarios: capacity 1 to 300 (biased small), item size 1 to 64 KiB
/// (biased to edges), 1 to 4 producers and consumers with up to `max_ops`
/// ops each, and (with `crashes`) an optional kill. The same as
/// [`scenarios_within`] for an MPMC ring ([`Roles::ANY`]).
pub fn scenarios(
    blocking: bool,
    crashes: bool,
    max_ops: usize,
) -> impl Strategy<Value = ProcessScenario> {
    scenarios_within(blocking, crashes, max_ops, Roles::ANY)
}

/// Scenarios within the roles a driver declared: at most
/// `roles.producers` processes put and at most `roles.consumers` get.
/// With `blocking` and `crashes`, one scenario in four is a *blocked kill*
/// (see [`blocked_kills`]); the rest are as [`scenarios`] says.
pub fn scenarios_within(
    blocking: bool,
    crashes: bool,
    max_ops: usize,
    roles: Roles,
) -> BoxedStrategy<ProcessScenario> {
    let general = general(blocking, crashes, max_ops, roles);
    if blocking && crashes {
        prop_oneof![3 => general, 1 => blocked_kills(max_ops, roles)].boxed()
    } else {
        general
    }
}

fn general(
    blocking: bool,
    crashes: bool,
    max_ops: usize,
    roles: Roles,
) -> BoxedStrategy<ProcessScenario> {
    let capacity = prop_oneof![3 => 1..=4u64, 2 => 1..=300u64];
    let item_size = prop_oneof![
        1 => Just(1u64),
        1 => Just(2u64),
        4 => 1..=64u64,
        1 => Just(4096u64),
        1 => Just(65536u64),
    ];
    let producers = prop::collection::vec(
        prop::collection::vec(producer_step(blocking), 1..=max_ops),
        1..=roles.producers_up_to(4),
    );
    let consumers = prop::collection::vec(
        prop::collection::vec(consumer_step(blocking), 1..=max_ops),
        1..=roles.consumers_up_to(4),
    );
    let crash = if crashes {
        // Most scenarios kill someone: crash bugs are what real processes
        // find and threads cannot.
        prop::option::weighted(
            0.7,
            (
                any::<prop::sample::Index>(),
                prop_oneof![
                    (0..64u16).prop_map(KillPoint::AfterOp),
                    (0..3000u32).prop_map(KillPoint::AtMicros),
                    // Late enough that the victim is likely asleep in a wait:
                    // kills of blocked processes are where wedges hide.
                    (3000..30_000u32).prop_map(KillPoint::AtMicros),
                ],
            ),
        )
        .boxed()
    } else {
        Just(None).boxed()
    };
    (capacity, item_size, producers, consumers, crash)
        .prop_map(|(capacity, item_size, ps, cs, crash)| {
            let mut processes: Vec<Process> = ps
                .into_iter()
                .map(|steps| Process {
                    producer: true,
                    steps,
                    start_us: 0,
                })
                .collect();
            processes.extend(cs.into_iter().map(|steps| Process {
                producer: false,
                steps,
                start_us: 0,
            }));
            let crash = crash.map(|(i, at)| Crash {
                process: i.index(processes.len()),
                at,
            });
            ProcessScenario {
                capacity,
                item_size,
                processes,
                crash,
            }
        })
        .boxed()
}

/// A wait long enough to be asleep in when the kill comes, ms.
fn long_wait_ms() -> impl Strategy<Value = u16> {
    20..50u16
}

/// Blocked kills, the scenarios that wedge real queues: on a small ring,
/// the victim (p0) goes to sleep in a wait, on the empty ring (a consumer
/// in `get_wait`) or on the full ring it filled itself (a producer in
/// `put_wait`), and is SIGKILLed 1 to 15 ms into its batch, while asleep;
/// the other processes start 0 to 25 ms late, so that most of them reach
/// the ring after the kill, and put, get and wait on it: a wake-up meant
/// for the dead sleeper, then sleepers of their own. Within `roles`: a
/// second process of the victim's role only when its role allows two.
pub fn blocked_kills(max_ops: usize, roles: Roles) -> BoxedStrategy<ProcessScenario> {
    let ops = 1..=max_ops.clamp(1, 8);
    let victim_consumes = any::<bool>();
    let victim_waits = prop::collection::vec(long_wait_ms(), 1..=3);
    let producer = prop::collection::vec(producer_step(true), ops.clone());
    let consumer = prop::collection::vec(
        prop_oneof![3 => long_wait_ms().prop_map(Step::GetWait), 1 => Just(Step::Get)],
        ops,
    );
    let starts = prop::collection::vec(0..25_000u32, 3);
    let kill_us = 1000..15_000u32;
    (
        1..=4u64,
        8..=64u64,
        victim_consumes,
        victim_waits,
        producer,
        consumer,
        any::<bool>(),
        starts,
        kill_us,
    )
        .prop_map(
            move |(capacity, item_size, consumes, waits, puts, gets, third, starts, kill_us)| {
                let victim = if consumes {
                    Process {
                        producer: false,
                        steps: waits.into_iter().map(Step::GetWait).collect(),
                        start_us: 0,
                    }
                } else {
                    let mut steps: Vec<Step> =
                        (0..capacity).map(|_| Step::Put(Size::Max)).collect();
                    steps.extend(waits.into_iter().map(|t| Step::PutWait(Size::Max, t)));
                    Process {
                        producer: true,
                        steps,
                        start_us: 0,
                    }
                };
                let producer = Process {
                    producer: true,
                    steps: puts,
                    start_us: starts[0],
                };
                let consumer = Process {
                    producer: false,
                    steps: gets,
                    start_us: starts[1],
                };
                // The other role's process, then a second one of the
                // victim's role if the roles allow it.
                let (other, same) = if consumes {
                    (producer, consumer)
                } else {
                    (consumer, producer)
                };
                let second_allowed = if consumes {
                    roles.consumers_up_to(2) == 2
                } else {
                    roles.producers_up_to(2) == 2
                };
                let mut processes = vec![victim, other];
                if third && second_allowed {
                    processes.push(Process {
                        start_us: starts[2],
                        ..same
                    });
                }
                ProcessScenario {
                    capacity,
                    item_size,
                    processes,
                    crash: Some(Crash {
                        process: 0,
                        at: KillPoint::AtMicros(kill_us),
                    }),
                }
            },
        )
        .boxed()
}

/// Makes the unique payloads of one scenario: value `n` is
/// [`unique_item`]`(n, size)`, sized as its [`Size`] asks and at least as
/// long as its header. At most one value is empty.
pub(crate) struct Values {
    item_size: usize,
    next: u64,
    empty_used: bool,
}

impl Values {
    /// Values for items of at most `item_size` bytes.
    pub(crate) fn new(item_size: usize) -> Self {
        Values {
            item_size,
            next: 0,
            empty_used: false,
        }
    }

    /// How many values were made.
    pub(crate) fn made(&self) -> u64 {
        self.next
    }

    /// The next value of `size`; `None` when no unique value fits in
    /// `item_size` (the op is dropped).
    fn make(&mut self, size: Size) -> Option<Vec<u8>> {
        let want = match size {
            Size::Zero if !self.empty_used => {
                self.empty_used = true;
                return Some(Vec::new());
            }
            Size::Zero => 0,
            Size::Max => self.item_size,
            Size::MaxMinus1 => self.item_size.saturating_sub(1),
            Size::Some(n) => 1 + n as usize % self.item_size,
        };
        let n = self.next;
        self.next += 1;
        if item_header_len(n) > self.item_size {
            return None;
        }
        Some(unique_item(n, want))
    }

    /// The protocol op of `step`, or `None` when its value does not fit.
    pub(crate) fn op(&mut self, step: Step) -> Option<Op> {
        Some(match step {
            Step::Put(s) => Op::Put {
                data: Payload(self.make(s)?),
            },
            Step::PutWait(s, t) => Op::PutWait {
                data: Payload(self.make(s)?),
                timeout_ms: u64::from(t),
            },
            Step::Get => Op::Get,
            Step::GetWait(t) => Op::GetWait {
                timeout_ms: u64::from(t),
            },
            Step::Len => Op::Len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Draws `n` scenarios of `strategy`.
    fn draw(strategy: &BoxedStrategy<ProcessScenario>, n: usize) -> Vec<ProcessScenario> {
        let mut runner = TestRunner::deterministic();
        (0..n)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect()
    }

    #[test]
    fn scenarios_stay_within_the_declared_roles() {
        let mpsc = Roles::MPSC;
        for (roles, putters, getters) in [(Roles::SPSC, 1, 1), (mpsc, 4, 1)] {
            for scn in draw(&scenarios_within(true, true, 12, roles), 300) {
                assert!(scn.within(&roles), "{roles}:\n{}", scn.describe());
                let puts = scn.processes.iter().filter(|p| p.puts()).count();
                let gets = scn.processes.iter().filter(|p| p.gets()).count();
                assert!(puts <= putters && gets <= getters, "{}", scn.describe());
            }
        }
    }

    #[test]
    fn blocked_kills_kill_a_sleeper_before_the_others_act() {
        let scns = draw(&blocked_kills(8, Roles::ANY), 200);
        for scn in &scns {
            let victim = &scn.processes[0];
            let Some(Crash {
                process: 0,
                at: KillPoint::AtMicros(us),
            }) = scn.crash
            else {
                panic!("no kill of p0:\n{}", scn.describe());
            };
            assert!((1000..15_000).contains(&us));
            assert!(
                victim
                    .steps
                    .iter()
                    .any(|s| matches!(s, Step::GetWait(t) | Step::PutWait(_, t) if *t >= 20)),
                "{}",
                scn.describe()
            );
        }
        assert!(scns.iter().any(|s| s.processes.len() == 3));
        assert!(scns.iter().any(|s| s.processes[0].producer));
        assert!(scns.iter().any(|s| !s.processes[0].producer));
        assert!(scns
            .iter()
            .any(|s| s.processes[1..].iter().any(|p| p.start_us > 15_000)));
    }
}
