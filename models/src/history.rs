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

/// A broken property, with the events that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `fresh`, `repeat`, `order`, `empty`, `full` or `lost`.
    pub rule: &'static str,
    /// What is wrong, in words.
    pub message: String,
    /// Indices into the history of the events involved.
    pub events: Vec<usize>,
}

/// Checks `history` of a ring of `capacity` items. `drained`: the ring was
/// emptied at the end, so a stored value never got is lost. Returns the
/// violations found (empty: linearizable and nothing lost), at most a few
/// per rule.
pub fn check(history: &[Event], capacity: u64, drained: bool) -> Vec<Violation> {
    const MAX_PER_RULE: usize = 5;
    let mut out: Vec<Violation> = Vec::new();
    let mut push = |v: Violation| {
        if out.iter().filter(|o| o.rule == v.rule).count() < MAX_PER_RULE {
            out.push(v);
        }
    };
    // Index puts by value; got values by their (first) get.
    let mut put_of: HashMap<&[u8], usize> = HashMap::new();
    let mut get_of: HashMap<&[u8], usize> = HashMap::new();
    for (i, e) in history.iter().enumerate() {
        if let Action::Put { value, .. } = &e.action {
            if let Some(&j) = put_of.get(value.as_slice()) {
                push(Violation {
                    rule: "repeat",
                    message: format!(
                        "value {} was put twice (harness values must be unique)",
                        show(value)
                    ),
                    events: vec![j, i],
                });
            } else {
                put_of.insert(value, i);
            }
        }
    }
    for (i, e) in history.iter().enumerate() {
        let Action::Get { value: Some(v) } = &e.action else {
            continue;
        };
        if let Some(&j) = get_of.get(v.as_slice()) {
            push(Violation {
                rule: "repeat",
                message: format!("value {} was got twice", show(v)),
                events: vec![j, i],
            });
            continue;
        }
        get_of.insert(v, i);
        match put_of.get(v.as_slice()).map(|&p| (p, &history[p])) {
            None => push(Violation {
                rule: "fresh",
                message: format!("got {} which no put stored (foreign or torn item)", show(v)),
                events: vec![i],
            }),
            Some((
                p,
                Event {
                    action: Action::Put { stored: false, .. },
                    ..
                },
            )) => push(Violation {
                rule: "fresh",
                message: format!("got {} whose put answered stored: false", show(v)),
                events: vec![p, i],
            }),
            Some((p, put)) if e.t1 < put.t0 => push(Violation {
                rule: "fresh",
                message: format!("got {} before its put began", show(v)),
                events: vec![p, i],
            }),
            Some(_) => {}
        }
    }
    // Stored puts with the interval in which their value is surely present.
    struct Stored {
        put: usize,
        get: Option<usize>,
    }
    let stored: Vec<Stored> = history
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
    if drained {
        for s in stored.iter().filter(|s| s.get.is_none()) {
            if let Action::Put { value, .. } = &history[s.put].action {
                push(Violation {
                    rule: "lost",
                    message: format!(
                        "{} was stored but never got, and the ring was drained",
                        show(value)
                    ),
                    events: vec![s.put],
                });
            }
        }
    }
    // order: sweep b by put start; `a` qualifies once put(a) ended before
    // put(b) began. Among those, the latest get start (never got = +inf)
    // must not come after get(b) ended.
    let mut by_start: Vec<&Stored> = stored.iter().filter(|s| s.get.is_some()).collect();
    by_start.sort_by_key(|s| history[s.put].t0);
    let mut by_end: Vec<&Stored> = stored.iter().collect();
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
        if let Some((a_get_start, a_put)) = latest {
            if a_get_start > history[gb].t1 {
                let (Action::Put { value: va, .. }, Action::Put { value: vb, .. }) =
                    (&history[a_put].action, &history[b.put].action)
                else {
                    continue;
                };
                let how = if a_get_start == u64::MAX {
                    "is never got"
                } else {
                    "is got only after it"
                };
                let mut events = vec![a_put, b.put, gb];
                if let Some(ga) = get_of.get(va.as_slice()) {
                    events.push(*ga);
                }
                push(Violation {
                    rule: "order",
                    message: format!(
                        "{} was put before {} began, but {} was got first and {} {how}",
                        show(va),
                        show(vb),
                        show(vb),
                        show(va)
                    ),
                    events,
                });
            }
        }
    }
    // empty: the union of open intervals (put end, get start) in which a
    // value is surely present; a null get inside one merged piece is wrong.
    let mut present: Vec<(u64, u64, usize)> = stored
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
    for (i, e) in history.iter().enumerate() {
        if !matches!(e.action, Action::Get { value: None }) {
            continue;
        }
        let piece = merged.partition_point(|m| m.0 < e.t0);
        if piece > 0 {
            let (a, b, p) = merged[piece - 1];
            if a < e.t0 && e.t1 < b {
                push(Violation {
                    rule: "empty",
                    message: "a get answered null while the ring surely held an item throughout"
                        .into(),
                    events: vec![p, i],
                });
            }
        }
    }
    // full: the most items the ring may have held at instant t is the puts
    // begun by t minus the gets ended before t. It changes only at put
    // starts, so its maximum over [t0, t1] is at t0 or at a put start inside.
    let mut put_starts: Vec<u64> = stored.iter().map(|s| history[s.put].t0).collect();
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
            push(Violation {
                rule: "full",
                message: format!(
                    "a put answered stored: false although the ring held at most {peak} of {capacity} items throughout"
                ),
                events: vec![i],
            });
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

/// Appends `n` as unsigned LEB128 (7 bits a byte, low bits first).
fn push_leb128(v: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(byte);
            return;
        }
        v.push(byte | 0x80);
    }
}

/// Reads an unsigned LEB128 number at `*at`, moving `*at` past it.
fn read_leb128(v: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *v.get(*at)?;
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// The unique item with number `id`, at least `len` bytes: `id` in
/// unsigned LEB128 (1 byte below 128, 2 below 16384, ...), then filler
/// derived from `id` and the position, up to `len`. Every harness and model
/// makes its items here, so that the values of a history are unique (what
/// [`check`] needs) and a torn item, or one mixed from two puts, fails
/// [`decode_item`].
///
/// The item is longer than `len` when `len` is below the length of the
/// header ([`item_header_len`]); callers with a size limit check the
/// result.
pub fn unique_item(id: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(4));
    push_leb128(&mut v, id);
    let salt = (id as u8).wrapping_mul(31) ^ ((id >> 8) as u8).wrapping_mul(7);
    while v.len() < len {
        v.push(salt.wrapping_add(v.len() as u8) ^ 0x5a);
    }
    v
}

/// Bytes of the header of [`unique_item`]`(id, _)`: its shortest length.
pub fn item_header_len(id: u64) -> usize {
    unique_item(id, 0).len()
}

/// `id` of an intact [`unique_item`]; `None` for a torn, mixed or foreign
/// value.
pub fn decode_item(v: &[u8]) -> Option<u64> {
    let mut at = 0;
    let id = read_leb128(v, &mut at)?;
    (unique_item(id, v.len()) == v).then_some(id)
}

/// The item number of sequence number `seq` of `process`: the two packed
/// into one [`unique_item`] id, `seq * 256 + process`.
pub fn process_item_id(process: u8, seq: u64) -> u64 {
    seq << 8 | u64::from(process)
}

/// `(process, seq)` of an item made with a [`process_item_id`].
pub fn decode_process_item(v: &[u8]) -> Option<(u8, u64)> {
    let id = decode_item(v)?;
    Some((id as u8, id >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_decode_and_damage_is_detected() {
        for (p, s, len) in [(0, 0, 0), (3, 17, 9), (100, 2019, 64), (255, 1 << 40, 12)] {
            let id = process_item_id(p, s);
            let v = unique_item(id, len);
            assert_eq!(v.len(), len.max(item_header_len(id)));
            assert_eq!(decode_item(&v), Some(id));
            assert_eq!(decode_process_item(&v), Some((p, s)));
            let mut torn = v.clone();
            if let Some(last) = torn.last_mut() {
                *last ^= 1;
            }
            if torn.len() > item_header_len(id) {
                assert_eq!(decode_item(&torn), None, "{torn:?}");
            }
        }
        assert_eq!(unique_item(5, 0), vec![5]);
        assert_ne!(unique_item(1, 8), unique_item(2, 8));
        assert_eq!(decode_item(&[]), None);
        assert_eq!(decode_item(&[0x80; 20]), None);
    }
}
