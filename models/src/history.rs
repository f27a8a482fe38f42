//! Histories of concurrent ring operations and their checker.
//!
//! # Algorithm
//! Checking linearizability is NP-complete in general (Gibbons and Korach,
//! "Testing shared memories", SIAM J. Comput. 1997), but not for a FIFO
//! queue whose enqueued values are unique (a *differentiated* history, which
//! the harness guarantees by putting producer id and sequence number in
//! every item). For those, Henzinger, Sezgin and Vafeiadis ("Aspect-oriented
//! linearizability proofs", CONCUR 2013) show that a history is
//! linearizable iff it contains none of a few violation patterns, each
//! checkable in polynomial time. This module checks them in O(n log n):
//!
//! - **fresh**: a get returns a value that no put stored, or returns it
//!   before its put began;
//! - **repeat**: a value is returned twice;
//! - **order**: `put(a)` ends before `put(b)` begins, `b` is got, and `a` is
//!   never got or its get begins after `get(b)` ended (this includes
//!   per-producer order);
//! - **empty witness**: a get returns null during an interval entirely
//!   covered by the union of the intervals in which some value is surely
//!   in the ring (from the end of its put to the start of its get, or
//!   forever if never got).
//!
//! The ring is bounded, which the paper's queue is not; a put answered
//! `stored: false` is checked by a necessary condition (**full witness**):
//! at some instant of its interval the ring may have held `capacity` items,
//! counting every put begun and every get not yet ended. A test compares
//! the checker with an exhaustive search (Wing and Gong, 1993) on small
//! random histories.
//!
//! A `len` answered `n` is checked by the bounds of the ring's fill at
//! each instant t (**len witness**): at least the stored puts ended before
//! t minus the gets of an item begun by t, at most the stored puts begun
//! by t minus those gets ended before t, and never above `capacity`. Some
//! instant of the `len` call must allow `n`; both bounds change only at
//! the starts and ends of puts and gets, so the instants tried are the
//! call's start and those points inside it. This is a necessary
//! condition: it never reports a linearizable history, and catches a
//! count read from two indices at different instants once it leaves
//! what any instant allowed.
//!
//! Lost items are reported separately when the caller drained the ring
//! (`drained`): a stored value never got.

use std::collections::HashMap;

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A put of `value`, answered `stored`.
    Put {
        /// The item.
        value: Vec<u8>,
        /// Whether it was stored (false: the ring was full or the wait
        /// timed out).
        stored: bool,
    },
    /// A get, answered with an item or null.
    Get {
        /// The item, or None for null.
        value: Option<Vec<u8>>,
    },
    /// A `len`, answered with a count of items.
    Len {
        /// The count answered, items.
        value: u64,
    },
}

/// One completed operation: who, what, and when (CLOCK_MONOTONIC ns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The process (driver index) or thread that ran it.
    pub process: usize,
    /// What it did.
    pub action: Action,
    /// Just before it began.
    pub t0: u64,
    /// Just after it ended.
    pub t1: u64,
}

/// The rules a history of a FIFO ring must keep, each checked by one
/// function (see the module docs for the argument of each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A value put twice, or got twice.
    Repeat,
    /// A get returns a value no put stored, one whose put answered
    /// `stored: false`, or one before its put began.
    Fresh,
    /// A stored value never got, though the ring was drained.
    Lost,
    /// `put(a)` ended before `put(b)` began, `b` was got, and `a` was
    /// never got or got only after `get(b)` ended.
    Order,
    /// A get answered null while some value was surely in the ring.
    Empty,
    /// A put answered `stored: false` while the ring surely held fewer
    /// than `capacity` items.
    Full,
    /// A `len` answered a count the ring held at no instant of the call.
    Len,
}

impl Rule {
    /// Every rule, in the order they are checked.
    pub const ALL: [Rule; 7] = [
        Rule::Repeat,
        Rule::Fresh,
        Rule::Lost,
        Rule::Order,
        Rule::Empty,
        Rule::Full,
        Rule::Len,
    ];

    /// Its name in reports: `repeat`, `fresh`, `lost`, `order`, `empty`,
    /// `full`, `len`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Repeat => "repeat",
            Rule::Fresh => "fresh",
            Rule::Lost => "lost",
            Rule::Order => "order",
            Rule::Empty => "empty",
            Rule::Full => "full",
            Rule::Len => "len",
        }
    }

    /// The violations of this rule in the indexed history.
    fn check(self, ix: &Index<'_>) -> Vec<Violation> {
        match self {
            Rule::Repeat => repeat(ix),
            Rule::Fresh => fresh(ix),
            Rule::Lost => lost(ix),
            Rule::Order => order(ix),
            Rule::Empty => empty(ix),
            Rule::Full => full(ix),
            Rule::Len => len(ix),
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken rule, with the events that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, in words.
    pub message: String,
    /// Indices into the history of the events involved.
    pub events: Vec<usize>,
}

/// Checks `history` of a ring of `capacity` items. `drained`: the ring was
/// emptied at the end, so a stored value never got is lost. Returns the
/// violations found (empty: linearizable and nothing lost), at most a few
/// per rule, rule by rule.
pub fn check(history: &[Event], capacity: u64, drained: bool) -> Vec<Violation> {
    const MAX_PER_RULE: usize = 5;
    let ix = Index::new(history, capacity, drained);
    Rule::ALL
        .iter()
        .flat_map(|rule| rule.check(&ix).into_iter().take(MAX_PER_RULE))
        .collect()
}

/// A stored put, and the first get of its value if any: between the end
/// of the one and the start of the other the value is surely in the ring.
struct Stored {
    put: usize,
    get: Option<usize>,
}

/// What every rule looks up: the history, puts by value, first gets by
/// value, and the stored puts.
struct Index<'h> {
    history: &'h [Event],
    capacity: u64,
    drained: bool,
    /// The first put of each value.
    put_of: HashMap<&'h [u8], usize>,
    /// The first get of each value.
    get_of: HashMap<&'h [u8], usize>,
    /// Every put answered `stored: true`, in history order.
    stored: Vec<Stored>,
}

impl<'h> Index<'h> {
    fn new(history: &'h [Event], capacity: u64, drained: bool) -> Self {
        let mut put_of: HashMap<&[u8], usize> = HashMap::new();
        let mut get_of: HashMap<&[u8], usize> = HashMap::new();
        for (i, e) in history.iter().enumerate() {
            match &e.action {
                Action::Put { value, .. } => {
                    put_of.entry(value.as_slice()).or_insert(i);
                }
                Action::Get { value: Some(v) } => {
                    get_of.entry(v.as_slice()).or_insert(i);
                }
                Action::Get { value: None } | Action::Len { .. } => {}
            }
        }
        let stored = history
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match &e.action {
                Action::Put {
                    value,
                    stored: true,
                } => Some(Stored {
                    put: i,
                    get: get_of.get(value.as_slice()).copied(),
                }),
                _ => None,
            })
            .collect();
        Index {
            history,
            capacity,
            drained,
            put_of,
            get_of,
            stored,
        }
    }

    /// The value of put event `i`.
    fn value(&self, i: usize) -> &'h [u8] {
        match &self.history[i].action {
            Action::Put { value, .. } => value,
            Action::Get { value } => value.as_deref().unwrap_or_default(),
            Action::Len { .. } => &[],
        }
    }
}

fn violation(rule: Rule, message: String, events: Vec<usize>) -> Violation {
    Violation {
        rule,
        message,
        events,
    }
}

/// repeat: a value put twice (the harness's values must be unique) or got
/// twice.
fn repeat(ix: &Index<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, e) in ix.history.iter().enumerate() {
        let (first, what) = match &e.action {
            Action::Put { value, .. } => (ix.put_of[value.as_slice()], "put"),
            Action::Get { value: Some(v) } => (ix.get_of[v.as_slice()], "got"),
            Action::Get { value: None } | Action::Len { .. } => continue,
        };
        if first != i {
            let note = if what == "put" {
                " (harness values must be unique)"
            } else {
                ""
            };
            out.push(violation(
                Rule::Repeat,
                format!("value {} was {what} twice{note}", show(ix.value(i))),
                vec![first, i],
            ));
        }
    }
    out
}

/// fresh: the first get of a value must follow a put that stored it and
/// must not end before that put began.
fn fresh(ix: &Index<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (&v, &i) in sorted(&ix.get_of) {
        let e = &ix.history[i];
        match ix.put_of.get(v).map(|&p| (p, &ix.history[p])) {
            None => out.push(violation(
                Rule::Fresh,
                format!("got {} which no put stored (foreign or torn item)", show(v)),
                vec![i],
            )),
            Some((
                p,
                Event {
                    action: Action::Put { stored: false, .. },
                    ..
                },
            )) => out.push(violation(
                Rule::Fresh,
                format!("got {} whose put answered stored: false", show(v)),
                vec![p, i],
            )),
            Some((p, put)) if e.t1 < put.t0 => out.push(violation(
                Rule::Fresh,
                format!("got {} before its put began", show(v)),
                vec![p, i],
            )),
            Some(_) => {}
        }
    }
    out
}

/// The entries of a value-to-event map in event order, for reports that
/// read in history order.
fn sorted<'m, 'h>(map: &'m HashMap<&'h [u8], usize>) -> Vec<(&'m &'h [u8], &'m usize)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by_key(|(_, &i)| i);
    v
}

/// lost: with the ring drained, every stored value must have been got.
fn lost(ix: &Index<'_>) -> Vec<Violation> {
    if !ix.drained {
        return Vec::new();
    }
    ix.stored
        .iter()
        .filter(|s| s.get.is_none())
        .map(|s| {
            violation(
                Rule::Lost,
                format!(
                    "{} was stored but never got, and the ring was drained",
                    show(ix.value(s.put))
                ),
                vec![s.put],
            )
        })
        .collect()
}

/// order: sweep b by put start; `a` qualifies once put(a) ended before
/// put(b) began. Among those, the latest get start (never got = +inf) must
/// not come after get(b) ended. O(n log n).
fn order(ix: &Index<'_>) -> Vec<Violation> {
    let history = ix.history;
    let mut out = Vec::new();
    let mut by_start: Vec<&Stored> = ix.stored.iter().filter(|s| s.get.is_some()).collect();
    by_start.sort_by_key(|s| history[s.put].t0);
    let mut by_end: Vec<&Stored> = ix.stored.iter().collect();
    by_end.sort_by_key(|s| history[s.put].t1);
    let mut k = 0;
    let mut latest: Option<(u64, usize)> = None; // (get start or MAX, put index)
    for b in by_start {
        let b_start = history[b.put].t0;
        while k < by_end.len() && history[by_end[k].put].t1 < b_start {
            let a = by_end[k];
            let start = a.get.map_or(u64::MAX, |g| history[g].t0);
            if latest.is_none_or(|(s, _)| start > s) {
                latest = Some((start, a.put));
            }
            k += 1;
        }
        let Some(gb) = b.get else { continue };
        let Some((a_get_start, a_put)) = latest else {
            continue;
        };
        if a_get_start <= history[gb].t1 {
            continue;
        }
        let (va, vb) = (ix.value(a_put), ix.value(b.put));
        let how = if a_get_start == u64::MAX {
            "is never got"
        } else {
            "is got only after it"
        };
        let mut events = vec![a_put, b.put, gb];
        events.extend(ix.get_of.get(va));
        out.push(violation(
            Rule::Order,
            format!(
                "{} was put before {} began, but {} was got first and {} {how}",
                show(va),
                show(vb),
                show(vb),
                show(va)
            ),
            events,
        ));
    }
    out
}

/// empty: the union of open intervals (put end, get start) in which a
/// value is surely present; a null get inside one merged piece is wrong.
fn empty(ix: &Index<'_>) -> Vec<Violation> {
    let history = ix.history;
    let mut present: Vec<(u64, u64, usize)> = ix
        .stored
        .iter()
        .map(|s| {
            let from = history[s.put].t1;
            let to = s.get.map_or(u64::MAX, |g| history[g].t0);
            (from, to, s.put)
        })
        .filter(|(a, b, _)| a < b)
        .collect();
    present.sort();
    let mut merged: Vec<(u64, u64, usize)> = Vec::new();
    for (a, b, p) in present {
        match merged.last_mut() {
            // Open intervals: touching ends leave a gap point, so only
            // strict overlap merges.
            Some(last) if a < last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b, p)),
        }
    }
    let mut out = Vec::new();
    for (i, e) in history.iter().enumerate() {
        if !matches!(e.action, Action::Get { value: None }) {
            continue;
        }
        let piece = merged.partition_point(|m| m.0 < e.t0);
        if piece > 0 {
            let (a, b, p) = merged[piece - 1];
            if a < e.t0 && e.t1 < b {
                out.push(violation(
                    Rule::Empty,
                    "a get answered null while the ring surely held an item throughout".into(),
                    vec![p, i],
                ));
            }
        }
    }
    out
}

/// full: the most items the ring may have held at instant t is the puts
/// begun by t minus the gets ended before t. It changes only at put
/// starts, so its maximum over [t0, t1] is at t0 or at a put start inside.
fn full(ix: &Index<'_>) -> Vec<Violation> {
    let history = ix.history;
    let capacity = ix.capacity;
    let mut put_starts: Vec<u64> = ix.stored.iter().map(|s| history[s.put].t0).collect();
    put_starts.sort_unstable();
    let mut get_ends: Vec<u64> = history
        .iter()
        .filter(|e| matches!(e.action, Action::Get { value: Some(_) }))
        .map(|e| e.t1)
        .collect();
    get_ends.sort_unstable();
    let may_hold = |t: u64| {
        let puts = put_starts.partition_point(|&s| s <= t) as i64;
        let gets = get_ends.partition_point(|&g| g < t) as i64;
        puts - gets
    };
    let mut out = Vec::new();
    for (i, e) in history.iter().enumerate() {
        if !matches!(e.action, Action::Put { stored: false, .. }) {
            continue;
        }
        let lo = put_starts.partition_point(|&s| s < e.t0);
        let hi = put_starts.partition_point(|&s| s <= e.t1);
        let peak = std::iter::once(e.t0)
            .chain(put_starts[lo..hi].iter().copied())
            .map(may_hold)
            .max()
            .unwrap_or(0);
        if peak < capacity as i64 {
            out.push(violation(
                Rule::Full,
                format!(
                    "a put answered stored: false although the ring held at most {peak} of {capacity} items throughout"
                ),
                vec![i],
            ));
        }
    }
    out
}

/// Instants tried per `len` call before falling back to the extreme
/// bounds over the call (still sound, less precise).
const LEN_INSTANTS: usize = 4096;

/// len: see the module docs. `lo(t)` = stored puts ended before t minus
/// gets of an item begun by t; `hi(t)` = stored puts begun by t minus
/// gets of an item ended before t. Both are step functions whose steps are
/// at put and get starts and just after their ends.
fn len(ix: &Index<'_>) -> Vec<Violation> {
    let history = ix.history;
    let sorted = |mut v: Vec<u64>| {
        v.sort_unstable();
        v
    };
    let put_starts = sorted(ix.stored.iter().map(|s| history[s.put].t0).collect());
    let put_ends = sorted(ix.stored.iter().map(|s| history[s.put].t1).collect());
    let gets: Vec<&Event> = history
        .iter()
        .filter(|e| matches!(e.action, Action::Get { value: Some(_) }))
        .collect();
    let get_starts = sorted(gets.iter().map(|e| e.t0).collect());
    let get_ends = sorted(gets.iter().map(|e| e.t1).collect());
    let upto = |v: &[u64], t: u64| v.partition_point(|&x| x <= t) as i64;
    let before = |v: &[u64], t: u64| v.partition_point(|&x| x < t) as i64;
    let lo = |t: u64| (before(&put_ends, t) - upto(&get_starts, t)).max(0);
    let hi = |t: u64| (upto(&put_starts, t) - before(&get_ends, t)).min(ix.capacity as i64);
    let mut out = Vec::new();
    for (i, e) in history.iter().enumerate() {
        let Action::Len { value } = e.action else {
            continue;
        };
        // The instants where a bound may change inside [t0, t1].
        let inside = |v: &[u64], shift: u64| -> Vec<u64> {
            let a = v.partition_point(|&x| x.saturating_add(shift) <= e.t0);
            let b = v.partition_point(|&x| x.saturating_add(shift) <= e.t1);
            v[a..b].iter().map(|&x| x.saturating_add(shift)).collect()
        };
        let mut instants: Vec<u64> = std::iter::once(e.t0)
            .chain(inside(&put_starts, 0))
            .chain(inside(&get_starts, 0))
            .chain(inside(&put_ends, 1))
            .chain(inside(&get_ends, 1))
            .collect();
        let (mut least, mut most) = (i64::MAX, i64::MIN);
        let mut allowed = false;
        if instants.len() <= LEN_INSTANTS {
            for &t in &instants {
                let (l, h) = (lo(t), hi(t));
                least = least.min(l);
                most = most.max(h);
                allowed |= l <= value as i64 && value as i64 <= h;
            }
        } else {
            // Too many to try one by one: the lowest lower bound and the
            // highest upper bound over the call.
            instants.sort_unstable();
            least = instants.iter().map(|&t| lo(t)).min().unwrap_or(0);
            most = instants.iter().map(|&t| hi(t)).max().unwrap_or(0);
            allowed = least <= value as i64 && value as i64 <= most;
        }
        if !allowed {
            let range = format!("between {} and {most}", least.min(most));
            out.push(violation(
                Rule::Len,
                format!(
                    "len answered {value} although at every instant of the call the ring held {range} of {} items",
                    ix.capacity
                ),
                vec![i],
            ));
        }
    }
    out
}

/// A value for messages: printable ASCII as text, else hex, cut to 24 bytes.
pub fn show(v: &[u8]) -> String {
    let cut = &v[..v.len().min(24)];
    let more = if v.len() > 24 { "..." } else { "" };
    if cut.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("\"{}{more}\"", String::from_utf8_lossy(cut))
    } else {
        let hex: String = cut.iter().map(|b| format!("{b:02x}")).collect();
        format!("0x{hex}{more} ({} bytes)", v.len())
    }
}
