//! A hostile or broken process against the ring: writes to the locks'
//! words while a peer holds a lock, a stopped lock holder, waiters killed
//! asleep, a process scribbling over the header while others stream, and
//! objects planted at a ring's path. Every process must get typed errors or
//! carry on, within its own deadline; none may die by a signal or hang.

use proptest::prelude::*;
use ringspec_tests::{unique, Actor, SHM};
use rstest::rstest;
use shmring::layout::{
    CONSUMER_LOCK_OFFSET, HEADER_SIZE, HEAD_OFFSET, MAX_TOKEN, NEXT_TOKEN_OFFSET,
    PRODUCER_LOCK_OFFSET, TAIL_OFFSET,
};
use shmring::{Config, Error, SharedBuffer};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const ACTOR: &str = env!("CARGO_BIN_EXE_ring-actor");

/// Bytes of one cache line of the header.
const LINE: usize = 64;

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// An outcome a process may see from a damaged lock: success or a typed
/// error about the lock or the header.
fn typed<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(
        r,
        Ok(_) | Err(Error::LockTimeout { .. }) | Err(Error::CorruptHeader { .. })
    )
}

/// Runs `f` and returns its result and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

/// Which of the two locks a peer holds while it is stopped.
#[derive(Debug, Clone, Copy)]
enum Held {
    /// The producers' lock, inside a put (its item half written).
    Producers,
    /// The consumers' lock, inside a get (the oldest item copied out,
    /// `head` not yet advanced); the ring must hold an item.
    Consumers,
}

/// Spawns a `ring-actor` that stops itself (SIGSTOP) inside the lock
/// `held` of ring `name`, and waits until it is stopped there.
fn stop_inside(name: &str, held: Held) -> Actor {
    let args = match held {
        Held::Producers => ["pause-stop", name, "put-half-written", "put", "held"],
        Held::Consumers => ["pause-stop", name, "get-copied", "get", "held"],
    };
    let mut holder = Actor::spawn(ACTOR, &args);
    assert_eq!(holder.next_line(), "paused");
    holder.wait_stopped();
    holder
}

/// A peer stops itself holding one of the locks; this process overwrites
/// words of that lock's line, then lets the peer finish. Version 1 kept
/// glibc's robust-list pointers at bytes 24..40 of its one mutex (88..104 of
/// the segment), and glibc wrote through them at unlock: the holder died of
/// SIGSEGV. Those bytes are now unused bytes of the producers' line; they
/// are still poked, under each lock. Now the holder finishes and exits
/// normally, and every call of this process returns a typed result within
/// its lock timeout. The other cases put an out-of-range owner, a cleared
/// owner, a token no session holds, saturated sleepers and waiter registry,
/// or garbage over the whole line (index included) into the held lock.
#[rstest]
#[case::old_robust_list_pointers_under_the_producers_lock(
    Held::Producers,
    88,
    &[0x7ffd_1234, 0x5678, 0x7ffd_1234, 0x9abc]
)]
#[case::old_robust_list_pointers_under_the_consumers_lock(
    Held::Consumers,
    88,
    &[0x7ffd_1234, 0x5678, 0x7ffd_1234, 0x9abc]
)]
#[case::producers_owner_out_of_range(Held::Producers, PRODUCER_LOCK_OFFSET, &[0xdead_beef])]
#[case::consumers_owner_out_of_range(Held::Consumers, CONSUMER_LOCK_OFFSET, &[0xdead_beef])]
#[case::producers_owner_cleared_behind_the_holders_back(
    Held::Producers,
    PRODUCER_LOCK_OFFSET,
    &[0]
)]
#[case::consumers_owner_cleared_behind_the_holders_back(
    Held::Consumers,
    CONSUMER_LOCK_OFFSET,
    &[0]
)]
#[case::producers_owner_a_token_nobody_holds(
    Held::Producers,
    PRODUCER_LOCK_OFFSET,
    &[0x1234_5678]
)]
#[case::consumers_owner_a_token_nobody_holds(
    Held::Consumers,
    CONSUMER_LOCK_OFFSET,
    &[0x1234_5678]
)]
#[case::producers_sleepers_and_registry_at_the_top(
    Held::Producers,
    PRODUCER_LOCK_OFFSET + 4,
    &[u32::MAX, u32::MAX]
)]
#[case::consumers_sleepers_and_registry_at_the_top(
    Held::Consumers,
    CONSUMER_LOCK_OFFSET + 4,
    &[u32::MAX, u32::MAX]
)]
#[case::producers_whole_line_garbage(
    Held::Producers,
    PRODUCER_LOCK_OFFSET / LINE * LINE,
    &[0xa5a5_a5a5; 16]
)]
#[case::consumers_whole_line_garbage(
    Held::Consumers,
    CONSUMER_LOCK_OFFSET / LINE * LINE,
    &[0xa5a5_a5a5; 16]
)]
fn overwriting_a_lock_while_a_peer_holds_it_kills_and_hangs_nobody(
    #[case] held: Held,
    #[case] offset: usize,
    #[case] values: &[u32],
) {
    let config = Config::new(4, 32).lock_timeout(Duration::from_millis(300));
    let r = SharedBuffer::create(&unique("lock-poke"), config).expect("create");
    r.put(b"a").unwrap();
    let holder = stop_inside(r.name(), held);
    SHM.poke(r.name(), offset, &words(values));
    holder.signal(libc::SIGCONT);
    let (lines, code) = holder.finish();
    assert_eq!(code, Some(0), "the lock holder died by a signal: {lines:?}");
    assert_eq!(lines.first().map(String::as_str), Some("done"), "{lines:?}");
    // This process: typed outcomes only, each within its deadline.
    for _ in 0..3 {
        let t = Instant::now();
        let put = r.put(b"x");
        assert!(typed(&put), "{put:?}");
        let get = r.get();
        assert!(typed(&get), "{get:?}");
        let len = r.len();
        assert!(typed(&len), "{len:?}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "calls overran their lock timeouts"
        );
    }
}

/// A process stopped (SIGSTOP: alive, not dead) while holding one side's
/// lock: a timed call of that side gives up at its own 100 ms deadline with
/// `LockTimeout`, not at the 5 s lock timeout, and a dead holder is taken
/// over at once. The other side is not blocked at all: producers and
/// consumers do not share a lock, so a get returns the stored item while a
/// put's holder is stopped, and a put stores while a get's holder is
/// stopped. (With version 1's single lock the get timed out too; the two
/// locks changed that on purpose.)
#[test]
fn a_stopped_lock_holder_costs_its_own_side_only_a_timed_calls_own_timeout() {
    let r = SharedBuffer::create(&unique("stopped"), Config::new(4, 32)).expect("create");
    let five_s = Duration::from_secs(5);
    assert!(r.put(b"a").unwrap());

    let holder = stop_inside(r.name(), Held::Producers);
    let (put, took) = timed(|| r.put_timeout(b"b", Duration::from_millis(100)));
    assert!(
        matches!(put, Err(Error::LockTimeout { waited_ms: 100 })),
        "{put:?}"
    );
    assert!(
        took >= Duration::from_millis(100),
        "gave up early: {took:?}"
    );
    assert!(
        took < five_s / 2,
        "waited for the 5 s lock timeout, not its own: {took:?}"
    );
    // Untimed: waiting for the stopped holder's lock would take the 5 s
    // lock timeout.
    let (got, took) = timed(|| r.get());
    assert_eq!(got.unwrap(), Some(b"a".to_vec()));
    assert!(
        took < five_s / 2,
        "a get waited for the producers' lock: {took:?}"
    );
    holder.kill();
    // Dead now: taken over at once, not after a lock timeout.
    let (put, took) = timed(|| r.put(b"b"));
    assert!(put.unwrap());
    assert!(took < Duration::from_secs(1), "took over late: {took:?}");
    assert_eq!(r.stats().unwrap().lock_recoveries, 1);

    // The holder copies "b" out and stops before advancing head.
    let holder = stop_inside(r.name(), Held::Consumers);
    let (got, took) = timed(|| r.get_timeout(Duration::from_millis(100)));
    assert!(
        matches!(got, Err(Error::LockTimeout { waited_ms: 100 })),
        "{got:?}"
    );
    assert!(
        took >= Duration::from_millis(100),
        "gave up early: {took:?}"
    );
    assert!(
        took < five_s / 2,
        "waited for the 5 s lock timeout, not its own: {took:?}"
    );
    let (put, took) = timed(|| r.put(b"c"));
    assert!(put.unwrap());
    assert!(
        took < five_s / 2,
        "a put waited for the consumers' lock: {took:?}"
    );
    holder.kill();
    let (got, took) = timed(|| r.get());
    assert_eq!(
        got.unwrap(),
        Some(b"b".to_vec()),
        "the dead get's item is still there"
    );
    assert!(took < Duration::from_secs(1), "took over late: {took:?}");
    assert_eq!(r.get().unwrap(), Some(b"c".to_vec()));
    assert_eq!(r.stats().unwrap().lock_recoveries, 2);
}

proptest! {
    #![proptest_config(ringcheck_models::proptest_config("hostile", 64))]

    /// Random values in both locks' lines (owner, sleepers and the unused
    /// rest: each lock has a line of its own) and in the session
    /// counter `next_token`, with nobody holding a lock: every call returns
    /// a typed outcome within its lock timeout, a fresh session opens or
    /// reports `CorruptHeader`, and an owner over the largest token is
    /// `CorruptHeader` wherever it is read.
    #[test]
    fn fuzzed_lock_words_give_typed_outcomes(
        producers_owner in prop_oneof![Just(0u32), 1u32..1000, any::<u32>()],
        producers_rest in any::<[u32; 15]>(),
        consumers_owner in prop_oneof![Just(0u32), 1u32..1000, any::<u32>()],
        consumers_rest in any::<[u32; 15]>(),
        next_token in any::<u32>(),
    ) {
        let config = Config::new(2, 16).lock_timeout(Duration::from_millis(50));
        let r = SharedBuffer::create(&unique("lock-fuzz"), config).expect("create");
        for (offset, owner, rest) in [
            (PRODUCER_LOCK_OFFSET, producers_owner, producers_rest),
            (CONSUMER_LOCK_OFFSET, consumers_owner, consumers_rest),
        ] {
            let mut line = vec![owner];
            line.extend(rest);
            // From the lock's owner word to the end of its line.
            prop_assert_eq!(offset % LINE + 4 * line.len(), LINE);
            SHM.poke(r.name(), offset, &words(&line));
        }
        SHM.poke(r.name(), NEXT_TOKEN_OFFSET, &next_token.to_ne_bytes());
        // A fresh session draws its token from the damaged counter.
        let other = SharedBuffer::open_with_lock_timeout(r.name(), Duration::from_millis(50));
        prop_assert!(
            matches!(other, Ok(_) | Err(Error::CorruptHeader { .. })),
            "{other:?}"
        );
        let t = Instant::now();
        for ring in std::iter::once(&r).chain(other.as_ref().ok()) {
            let put = ring.put(b"x");
            prop_assert!(typed(&put), "{put:?}");
            let get = ring.get();
            prop_assert!(typed(&get), "{get:?}");
            let stats = ring.stats();
            prop_assert!(typed(&stats), "{stats:?}");
        }
        prop_assert!(t.elapsed() < Duration::from_secs(2));
        // An owner word out of range is reported by every operation that
        // needs that lock; `len` takes no lock (it reads the indices
        // consistently without one), so it answers whatever the locks say.
        if consumers_owner > MAX_TOKEN {
            let get = r.get();
            prop_assert!(matches!(get, Err(Error::CorruptHeader { .. })), "{:?}", get);
        }
        if producers_owner > MAX_TOKEN {
            let put = r.put(b"y");
            prop_assert!(matches!(put, Err(Error::CorruptHeader { .. })), "{:?}", put);
        }
        let len = r.len();
        prop_assert!(matches!(len, Ok(n) if n <= 2), "{:?}", len);
    }
}

/// `head` and `tail` both at u64::MAX (any index derived from them would
/// overflow): every put and get is `CorruptHeader`, never a panic, and the
/// locks are released each time.
#[test]
fn head_and_tail_at_u64_max_are_a_typed_error_not_a_panic_or_a_wedge() {
    let r = SharedBuffer::create(&unique("u64max"), Config::new(4, 16)).expect("create");
    SHM.poke(r.name(), HEAD_OFFSET, &u64::MAX.to_ne_bytes());
    SHM.poke(r.name(), TAIL_OFFSET, &u64::MAX.to_ne_bytes());
    assert!(matches!(r.put(b"x"), Err(Error::CorruptHeader { .. })));
    assert!(matches!(r.get(), Err(Error::CorruptHeader { .. })));
    assert!(matches!(
        r.put_many(&[b"x"]),
        Err(Error::CorruptHeader { .. })
    ));
    assert!(matches!(
        r.get_many(4, |_| ()),
        Err(Error::CorruptHeader { .. })
    ));
    // Not wedged: the locks were released each time.
    SHM.poke(r.name(), HEAD_OFFSET, &0u64.to_ne_bytes());
    SHM.poke(r.name(), TAIL_OFFSET, &0u64.to_ne_bytes());
    assert!(r.put(b"x").unwrap());
}

/// Polls `count` of the ring's stats (a bounded poll: yields between reads,
/// fails after 10 s) until it is at least `n`.
fn until_waiting(r: &SharedBuffer, what: &str, count: impl Fn(&shmring::Stats) -> u32, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&r.stats().expect("stats")) < n {
        assert!(Instant::now() < deadline, "no {what} started waiting");
        std::thread::yield_now();
    }
}

/// A consumer process SIGKILLed while asleep in `get_timeout` on an empty
/// ring stays registered in `get_waiters` (it never deregisters); the next
/// put's wake clears the registry, so it is not counted for ever, and the
/// item put is still there to get. Likewise a producer killed asleep on a
/// full ring is cleared from `put_waiters` by the next get.
#[test]
fn a_waiter_killed_asleep_is_not_counted_for_ever() {
    let r = SharedBuffer::create(&unique("killed-asleep"), Config::new(1, 16)).expect("create");

    let mut consumer = Actor::spawn(ACTOR, &["sleep-get", r.name(), "30000"]);
    assert_eq!(consumer.next_line(), "waiting");
    until_waiting(&r, "consumer", |s| s.waiting_consumers, 1);
    consumer.kill();
    assert!(r.put(b"one").unwrap());
    assert_eq!(r.stats().unwrap().waiting_consumers, 0);
    assert_eq!(r.get().unwrap(), Some(b"one".to_vec()));

    assert!(r.put(b"two").unwrap());
    let mut producer = Actor::spawn(ACTOR, &["sleep-put", r.name(), "three", "30000"]);
    assert_eq!(producer.next_line(), "waiting");
    until_waiting(&r, "producer", |s| s.waiting_producers, 1);
    producer.kill();
    assert_eq!(r.get().unwrap(), Some(b"two".to_vec()));
    let stats = r.stats().unwrap();
    assert_eq!(stats.waiting_producers, 0);
    assert_eq!(stats.len, 0, "the killed producer stored its item");
}

/// Error variants a streaming process may report while the header is
/// garbage: a lock or index out of range or held by someone else, or an
/// item that fails its check.
const STREAM_ERRORS: &[&str] = &["CorruptHeader", "LockTimeout", "Corrupt"];

/// A process that keeps overwriting random 4-byte words of the first 512
/// bytes of a segment (the whole header and the first slots) with random
/// values, while a producer process and a consumer process stream items
/// through the ring (from when 100 items went through), never makes them
/// die by a signal or hang: both exit normally within their own deadline,
/// and every error they met was a typed shmring error of a kind listed in
/// `STREAM_ERRORS`. The ring may be garbage afterwards; its name is
/// removed. The seed is printed; set `HOSTILE_SEED` to replay one.
#[test]
fn scribbling_over_the_header_while_others_stream_kills_and_hangs_nobody() {
    let name = unique("scribble");
    let _cleanup = SHM.cleanup(name.clone());
    let r = SharedBuffer::create(&name, Config::new(8, 32)).expect("create");
    let deadline_ms = 5000;
    let spawned = Instant::now();
    let actors: Vec<Actor> = ["stream-put", "stream-get"]
        .into_iter()
        .map(|cmd| {
            let mut a = Actor::spawn(ACTOR, &[cmd, &name, "1000000", &deadline_ms.to_string()]);
            assert_eq!(a.next_line(), "opened", "{cmd}");
            a
        })
        .collect();
    // Scribble while they are mid-stream: holding locks, asleep on the
    // indices' futexes.
    let streaming = Instant::now() + Duration::from_secs(3);
    while r.stats().expect("stats").gets < 100 {
        assert!(Instant::now() < streaming, "the actors never streamed");
        std::thread::yield_now();
    }

    let seed: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .map(|s| s.parse().expect("HOSTILE_SEED"))
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            t.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
        });
    eprintln!("HOSTILE_SEED={seed}");
    let mut x = seed | 1;
    let mut next = move || {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(SHM.path(&name))
        .expect("segment file");
    let scribble = Duration::from_millis(1500);
    let start = Instant::now();
    let mut writes = 0u64;
    while start.elapsed() < scribble {
        let (where_, what) = (next(), next());
        let offset = (where_ % (2 * HEADER_SIZE as u64 / 4)) * 4;
        // Zero, a small number (a live session's token, a small index) or
        // anything.
        let value = match what % 4 {
            0 => 0,
            1 => (what >> 32) as u32 % 16,
            _ => (what >> 32) as u32,
        };
        file.write_all_at(&value.to_ne_bytes(), offset)
            .expect("write segment");
        writes += 1;
    }
    eprintln!("{writes} writes in {:?}", start.elapsed());

    // Each actor checks its deadline between calls, and a call waits at
    // most about 100 ms for a lock plus 10 ms for an item.
    let limit = Duration::from_millis(deadline_ms + 3000);
    for (actor, what) in actors.into_iter().zip(["producer", "consumer"]) {
        let left = limit.saturating_sub(spawned.elapsed());
        let Some((lines, status)) = actor.finish_within(left) else {
            panic!("the {what} hung past its deadline (HOSTILE_SEED={seed})");
        };
        eprintln!("{what}: {lines:?}");
        assert_eq!(
            status.signal(),
            None,
            "the {what} died by a signal (HOSTILE_SEED={seed}): {lines:?}"
        );
        assert_eq!(
            status.code(),
            Some(0),
            "the {what} failed (HOSTILE_SEED={seed}): {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("stopped ")),
            "{what}: {lines:?}"
        );
        for line in lines.iter().filter(|l| l.starts_with("error ")) {
            let kind = line.split(' ').nth(1).unwrap_or_default();
            assert!(
                STREAM_ERRORS.contains(&kind),
                "the {what} met an unexpected error (HOSTILE_SEED={seed}): {line}"
            );
        }
    }
    drop(r);
    assert!(
        !std::path::Path::new(&SHM.path(&name)).exists(),
        "the segment outlived its creator"
    );
}

#[test]
fn a_symbolic_link_at_a_rings_path_is_refused_not_followed() {
    let target = SharedBuffer::create(&unique("link-target"), Config::default()).unwrap();
    let name = unique("link");
    let _cleanup = SHM.cleanup(name.clone());
    std::os::unix::fs::symlink(SHM.path(target.name()), SHM.path(&name)).unwrap();
    let err = SharedBuffer::open(&name).unwrap_err();
    assert!(matches!(err, Error::Untrusted { .. }), "{err:?}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn a_fifo_at_a_rings_path_is_refused_without_blocking() {
    let name = unique("fifo");
    let _cleanup = SHM.cleanup(name.clone());
    let path =
        std::ffi::CString::new(SHM.path(&name).into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let err = SharedBuffer::open(&name).unwrap_err();
    assert!(matches!(err, Error::Untrusted { .. }), "{err:?}");
    assert!(err.to_string().contains("not a regular"), "{err}");
}

/// Needs root (to give the segment away with `chown`); elsewhere it says so
/// and checks nothing.
#[test]
fn a_segment_owned_by_another_user_is_refused_unless_that_uid_is_trusted() {
    let r = SharedBuffer::create(&unique("foreign-owner"), Config::new(2, 8)).unwrap();
    let stranger = 54_321;
    if let Err(e) = std::os::unix::fs::chown(SHM.path(r.name()), Some(stranger), None) {
        eprintln!("skipped: cannot chown a segment ({e}); run as root to check this");
        return;
    }
    let err = SharedBuffer::open(r.name()).unwrap_err();
    assert!(matches!(err, Error::Untrusted { .. }), "{err:?}");
    assert!(err.to_string().contains("uid 54321"), "{err}");
    let trusted = SharedBuffer::open_with_config(r.name(), &Config::default().trust_uid(stranger))
        .expect("open a trusted owner's ring");
    assert!(trusted.put(b"ok").unwrap());
    assert_eq!(r.get().unwrap(), Some(b"ok".to_vec()));
}

/// `/dev/shm` is replaced, in a private mount namespace (`unshare -m`), by
/// a 1 MiB tmpfs: a 4 MiB ring is `NoSpace` at `create`, never a SIGBUS at
/// a later write, and a ring that fits is created. Needs `unshare` and the
/// right to mount (root, or user namespaces); elsewhere it says so and
/// checks nothing.
#[test]
fn a_ring_that_does_not_fit_in_dev_shm_is_refused_at_create() {
    let script = format!(
        "mount -t tmpfs -o size=1m shmring-test /dev/shm || exit 97; \
         {ACTOR} try-create big 64 65536; {ACTOR} try-create small 4 64"
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output();
    let out = match out {
        Ok(out) if out.status.code() != Some(97) && out.status.success() => out,
        other => {
            eprintln!("skipped: no private mount namespace here ({other:?})");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("error NoSpace"), "{stdout}");
    assert_eq!(lines[1], "created", "{stdout}");
}
