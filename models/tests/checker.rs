//! The polynomial history checker against an exhaustive linearizability
//! search on small random histories: it must never report a violation that
//! the search refutes (soundness), and for rings that never fill it must
//! find every non-linearizable history (completeness).

use proptest::prelude::*;
use ringcheck_models::history::{check, Action, Event, Rule};
use ringcheck_models::Rng;
use std::collections::{HashSet, VecDeque};

/// Wing and Gong's search: linearize, one at a time, an op that no pending
/// op ended before, and backtrack; memoised on (done set, ring contents).
fn linearizable(h: &[Event], capacity: usize) -> bool {
    fn go(
        h: &[Event],
        cap: usize,
        done: u32,
        q: &mut VecDeque<Vec<u8>>,
        seen: &mut HashSet<(u32, Vec<Vec<u8>>)>,
    ) -> bool {
        if done.count_ones() as usize == h.len() {
            return true;
        }
        if !seen.insert((done, q.iter().cloned().collect())) {
            return false;
        }
        let min_end = (0..h.len())
            .filter(|i| done & (1 << i) == 0)
            .map(|i| h[i].t1)
            .min()
            .unwrap_or(u64::MAX);
        for i in 0..h.len() {
            if done & (1 << i) != 0 || h[i].t0 > min_end {
                continue;
            }
            let mut next = q.clone();
            let ok = match &h[i].action {
                Action::Put {
                    value,
                    stored: true,
                } if next.len() < cap => {
                    next.push_back(value.clone());
                    true
                }
                Action::Put { stored: false, .. } => next.len() == cap,
                Action::Put { .. } => false,
                Action::Get { value: Some(v) } => {
                    next.front() == Some(v) && next.pop_front().is_some()
                }
                Action::Get { value: None } => next.is_empty(),
                Action::Len { value } => next.len() as u64 == *value,
            };
            if ok && go(h, cap, done | (1 << i), &mut next, seen) {
                return true;
            }
        }
        false
    }
    go(h, capacity, 0, &mut VecDeque::new(), &mut HashSet::new())
}

#[derive(Debug, Clone)]
struct Plan {
    process: usize,
    is_put: bool,
    /// A `len` (then `is_put` is ignored).
    is_len: bool,
    start: u64,
    len: u64,
    lin: u64,
}

/// A linearizable-by-construction history: each op takes effect at a point
/// of its interval, in that order, on a bounded FIFO; ops of one process do
/// not overlap.
fn build(plans: &[Plan], capacity: usize) -> Vec<Event> {
    let mut by_process: Vec<Vec<&Plan>> = vec![Vec::new(); 3];
    for p in plans {
        by_process[p.process].push(p);
    }
    let mut timed: Vec<(u64, u64, u64, usize, bool, bool)> = Vec::new();
    for (proc_id, ops) in by_process.iter().enumerate() {
        let mut clock = 0;
        for p in ops {
            let t0 = clock + p.start;
            let t1 = t0 + p.len;
            let lin = t0 + p.lin % (p.len + 1);
            timed.push((lin, t0, t1, proc_id, p.is_put, p.is_len));
            clock = t1 + 1;
        }
    }
    timed.sort();
    let mut q: VecDeque<Vec<u8>> = VecDeque::new();
    let mut next_value = 0u8;
    timed
        .into_iter()
        .map(|(_, t0, t1, process, is_put, is_len)| {
            let action = if is_len {
                Action::Len {
                    value: q.len() as u64,
                }
            } else if is_put {
                next_value += 1;
                let value = vec![next_value];
                let stored = q.len() < capacity;
                if stored {
                    q.push_back(value.clone());
                }
                Action::Put { value, stored }
            } else {
                Action::Get {
                    value: q.pop_front(),
                }
            };
            Event {
                process,
                action,
                t0,
                t1,
            }
        })
        .collect()
}

/// Damages one result so that the history may stop being linearizable.
fn mutate(h: &mut [Event], which: usize, kind: u8) {
    if h.is_empty() {
        return;
    }
    let i = which % h.len();
    let gets: Vec<usize> = (0..h.len())
        .filter(|&j| matches!(h[j].action, Action::Get { .. }))
        .collect();
    match (&mut h[i].action, kind % 4) {
        (Action::Get { value }, 0) => *value = None,
        (Action::Put { stored, .. }, 1) => *stored = !*stored,
        (Action::Len { value }, 0) => *value += 1,
        // A count read from two indices at different instants: it may
        // wrap below zero.
        (Action::Len { value }, 1) => *value = value.wrapping_sub(1),
        (Action::Get { .. }, 2) if gets.len() >= 2 => {
            let (a, b) = (gets[which % gets.len()], gets[(which / 7 + 1) % gets.len()]);
            let va = h[a].action.clone();
            h[a].action = h[b].action.clone();
            h[b].action = va;
        }
        (_, _) => {
            // Shift one op's interval: it may now end before something it
            // had to follow.
            let e = &mut h[i];
            let shift = e.t0.min(5);
            e.t0 -= shift;
            e.t1 -= shift;
        }
    }
}

/// Plans of up to 10 ops; with `lens`, about one op in four is a `len`
/// (the `len` rule is a necessary condition only, so the completeness
/// property is checked without them).
fn plans(lens: bool) -> impl Strategy<Value = Vec<Plan>> {
    let len_ops = if lens { 0..4u8 } else { 0..1u8 };
    prop::collection::vec(
        (0..3usize, any::<bool>(), len_ops, 0..4u64, 0..6u64, 0..6u64).prop_map(
            |(process, is_put, len_op, start, len, lin)| Plan {
                process,
                is_put,
                is_len: len_op == 3,
                start,
                len,
                lin,
            },
        ),
        1..11,
    )
}

proptest! {
    #![proptest_config(ringcheck_models::proptest_config("checker", 3000))]

    #[test]
    fn generated_histories_are_linearizable_and_the_checker_agrees(p in plans(true), cap in 1..4usize) {
        let h = build(&p, cap);
        prop_assert!(linearizable(&h, cap));
        prop_assert_eq!(check(&h, cap as u64, false), vec![]);
    }

    #[test]
    fn the_checker_is_sound_and_complete_for_rings_that_never_fill(
        p in plans(false), which in 0..100usize, kind in 0..4u8,
    ) {
        let cap = 64;
        let mut h = build(&p, cap);
        mutate(&mut h, which, kind);
        let exhaustive = linearizable(&h, cap);
        let found = check(&h, cap as u64, false);
        prop_assert_eq!(exhaustive, found.is_empty(), "history {:#?}\nviolations {:#?}", h, found);
    }

    #[test]
    fn the_checker_is_sound_for_small_rings(
        p in plans(true), cap in 1..4usize, which in 0..100usize, kind in 0..4u8,
    ) {
        let mut h = build(&p, cap);
        mutate(&mut h, which, kind);
        let found = check(&h, cap as u64, false);
        if !found.is_empty() {
            prop_assert!(!linearizable(&h, cap), "false alarm {:#?} on {:#?}", found, h);
        }
    }
}

#[test]
fn a_lost_item_is_reported_only_when_drained() {
    let h = vec![Event {
        process: 0,
        action: Action::Put {
            value: b"x".to_vec(),
            stored: true,
        },
        t0: 0,
        t1: 1,
    }];
    assert!(check(&h, 4, false).is_empty());
    assert_eq!(check(&h, 4, true)[0].rule, Rule::Lost);
}

#[test]
fn checks_100k_overlapping_operations() {
    // 4 producers and 4 consumers with overlapping intervals through a
    // ring of 8, as a real run produces them: a correct history of 100k
    // operations. (Its speed is measured by the conformance runs, not
    // asserted here.)
    let mut h = Vec::new();
    let mut q: std::collections::VecDeque<Vec<u8>> = Default::default();
    let mut rng = Rng::new(3);
    let mut clock = 0u64;
    let mut seq = [0u32; 4];
    while h.len() < 100_000 {
        clock += 1 + rng.below(3);
        let process = rng.below(8) as usize;
        let (t0, t1) = (clock - rng.below(2).min(clock), clock + rng.below(3));
        let action = if process < 4 {
            let value = format!("p{process}:{}", seq[process]).into_bytes();
            seq[process] += 1;
            let stored = q.len() < 8;
            if stored {
                q.push_back(value.clone());
            }
            Action::Put { value, stored }
        } else {
            Action::Get {
                value: q.pop_front(),
            }
        };
        h.push(Event {
            process,
            action,
            t0,
            t1,
        });
    }
    for v in q.drain(..) {
        clock += 2;
        h.push(Event {
            process: 4,
            action: Action::Get { value: Some(v) },
            t0: clock,
            t1: clock + 1,
        });
    }
    let t = std::time::Instant::now();
    let found = check(&h, 8, true);
    eprintln!("checked {} operations in {:?}", h.len(), t.elapsed());
    assert!(found.is_empty(), "{:?}", &found[..found.len().min(3)]);
}

/// The comparison above means something only if the damaged histories are
/// often non-linearizable; this counts them on a seeded sample.
#[test]
fn damaged_histories_are_often_non_linearizable_and_always_caught() {
    let mut rng = Rng::new(7);
    let (mut bad, mut total) = (0, 0);
    for _ in 0..3000 {
        let n = 1 + rng.below(10) as usize;
        let plans: Vec<Plan> = (0..n)
            .map(|_| Plan {
                process: rng.below(3) as usize,
                is_put: rng.below(2) == 0,
                is_len: false,
                start: rng.below(4),
                len: rng.below(6),
                lin: rng.below(6),
            })
            .collect();
        let mut h = build(&plans, 64);
        mutate(&mut h, rng.below(100) as usize, rng.below(4) as u8);
        let exhaustive = linearizable(&h, 64);
        assert_eq!(exhaustive, check(&h, 64, false).is_empty(), "{h:#?}");
        total += 1;
        bad += usize::from(!exhaustive);
    }
    assert!(
        bad * 10 > total,
        "only {bad} of {total} damaged histories are non-linearizable"
    );
    eprintln!("{bad} of {total} damaged histories are non-linearizable");
}

/// The `len` rule on its own: a count that no instant of the call allows
/// (one read from two indices at different instants) is caught, the
/// counts some instant allows are not.
#[test]
fn a_len_that_no_instant_of_its_call_allows_is_caught() {
    let ev = |process, action, t0, t1| Event {
        process,
        action,
        t0,
        t1,
    };
    let put = |v: &[u8]| Action::Put {
        value: v.to_vec(),
        stored: true,
    };
    let get = |v: &[u8]| Action::Get {
        value: Some(v.to_vec()),
    };
    // a is put by 10; its get runs 20..30; len runs 25..28 (a may or may
    // not be taken yet: 0 or 1 allowed); b is put 40..50.
    let history = |n: u64| {
        vec![
            ev(0, put(b"a"), 0, 10),
            ev(1, get(b"a"), 20, 30),
            ev(2, Action::Len { value: n }, 25, 28),
            ev(0, put(b"b"), 40, 50),
        ]
    };
    for ok in [0, 1] {
        assert_eq!(check(&history(ok), 4, false), vec![], "len {ok}");
    }
    for bad in [2, u64::MAX] {
        let found = check(&history(bad), 4, false);
        assert_eq!(found.len(), 1, "len {bad}: {found:?}");
        assert_eq!(found[0].rule, Rule::Len);
        assert_eq!(found[0].events, vec![2]);
        assert!(
            found[0].message.contains("between 0 and 1 of 4"),
            "{}",
            found[0].message
        );
    }
    // Above the capacity is never allowed, even with puts in flight.
    let h = vec![
        ev(0, put(b"a"), 0, 100),
        ev(2, Action::Len { value: 2 }, 10, 20),
    ];
    assert_eq!(check(&h, 1, false)[0].rule, Rule::Len);
}
