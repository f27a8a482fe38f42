//! A hostile or broken process against the ring: writes to the lock's
//! words while a peer holds the lock, a stopped lock holder, and objects
//! planted at a ring's path. Every process must get typed errors or carry
//! on, within its own deadline; none may die by a signal or hang.

use proptest::prelude::*;
use ringspec_tests::{unique, Actor, Cleanup};
use rstest::rstest;
use shmring::{Config, Error, SharedBuffer};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

const ACTOR: &str = env!("CARGO_BIN_EXE_ring-actor");

/// Offset of the lock's cache line in the header (`specs/layout.md`).
const LOCK_LINE: u64 = 64;

fn shm_path(name: &str) -> String {
    format!("/dev/shm/{}{name}", shmring::OS_PREFIX)
}

/// Overwrites `bytes` at `offset` of a ring's segment, as a hostile process
/// that may write it could.
fn poke(name: &str, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(name))
        .expect("segment file");
    f.write_all_at(bytes, offset).expect("write segment");
}

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

/// A peer stops itself holding the lock; this process overwrites part of
/// the lock's line, then lets the peer finish. Version 1 kept glibc's
/// robust-list pointers at bytes 24..40 of the mutex (88..104 of the
/// segment), and glibc wrote through them at unlock: the holder died of
/// SIGSEGV. Now the holder finishes and exits normally, and every call of
/// this process returns a typed result within its lock timeout.
#[rstest]
#[case::old_robust_list_pointers(88, &[0x7ffd_1234, 0x5678, 0x7ffd_1234, 0x9abc])]
#[case::owner_out_of_range(LOCK_LINE, &[0xdead_beef])]
#[case::owner_cleared_behind_the_holders_back(LOCK_LINE, &[0])]
#[case::owner_a_token_nobody_holds(LOCK_LINE, &[0x1234_5678])]
#[case::sleepers_and_counter_at_the_top(LOCK_LINE + 4, &[u32::MAX, u32::MAX])]
#[case::whole_line_garbage(LOCK_LINE, &[0xa5a5_a5a5; 16])]
fn overwriting_the_lock_while_a_peer_holds_it_kills_and_hangs_nobody(
    #[case] offset: u64,
    #[case] values: &[u32],
) {
    let config = Config::new(4, 32).lock_timeout(Duration::from_millis(300));
    let r = SharedBuffer::create(&unique("lock-poke"), config).expect("create");
    r.put(b"a").unwrap();
    let mut holder = Actor::spawn(
        ACTOR,
        &["pause-stop", r.name(), "put-half-written", "put", "held"],
    );
    assert_eq!(holder.next_line(), "paused");
    holder.wait_stopped();
    poke(r.name(), offset, &words(values));
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

/// A process stopped (SIGSTOP: alive, not dead) while holding the lock:
/// a call with a 100 ms timeout gives up at its own deadline with
/// `LockTimeout`, not at the 5 s lock timeout; a dead holder is taken over.
#[test]
fn a_stopped_lock_holder_costs_a_timed_call_only_its_own_timeout() {
    let r = SharedBuffer::create(&unique("stopped"), Config::new(4, 32)).expect("create");
    assert!(r.put(b"a").unwrap());
    let mut holder = Actor::spawn(
        ACTOR,
        &["pause-stop", r.name(), "put-half-written", "put", "held"],
    );
    assert_eq!(holder.next_line(), "paused");
    holder.wait_stopped();
    let t = Instant::now();
    let got = r.get_timeout(Duration::from_millis(100));
    let took = t.elapsed();
    assert!(
        matches!(got, Err(Error::LockTimeout { waited_ms: 100 })),
        "{got:?}"
    );
    assert!(
        took >= Duration::from_millis(100),
        "gave up early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "waited for the 5 s lock timeout, not its own: {took:?}"
    );
    let t = Instant::now();
    let put = r.put_timeout(b"b", Duration::from_millis(100));
    assert!(matches!(put, Err(Error::LockTimeout { .. })), "{put:?}");
    assert!(t.elapsed() < Duration::from_millis(2500));
    holder.kill();
    // Dead now: taken over at once.
    assert_eq!(r.get().unwrap(), Some(b"a".to_vec()));
    assert_eq!(r.stats().unwrap().lock_recoveries, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random values in the lock's words, with nobody holding the lock:
    /// every call returns a typed outcome within its lock timeout.
    #[test]
    fn fuzzed_lock_words_give_typed_outcomes(
        owner in prop_oneof![Just(0u32), 1u32..1000, any::<u32>()],
        sleepers in any::<u32>(),
        next in any::<u32>(),
        rest in any::<[u32; 13]>(),
    ) {
        let config = Config::new(2, 16).lock_timeout(Duration::from_millis(50));
        let r = SharedBuffer::create(&unique("lock-fuzz"), config).expect("create");
        let mut line = vec![owner, sleepers, next];
        line.extend(rest);
        poke(r.name(), LOCK_LINE, &words(&line));
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
        if owner > (1 << 31) - 1 {
            let len = r.len();
            prop_assert!(matches!(len, Err(Error::CorruptHeader { .. })), "{:?}", len);
        }
    }
}

#[test]
fn head_and_tail_at_u64_max_are_a_typed_error_not_a_panic_or_a_wedge() {
    let r = SharedBuffer::create(&unique("u64max"), Config::new(4, 16)).expect("create");
    poke(r.name(), 128, &u64::MAX.to_ne_bytes());
    poke(r.name(), 192, &u64::MAX.to_ne_bytes());
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
    // Not wedged: the lock was released each time.
    poke(r.name(), 128, &0u64.to_ne_bytes());
    poke(r.name(), 192, &0u64.to_ne_bytes());
    assert!(r.put(b"x").unwrap());
}

#[test]
fn a_symbolic_link_at_a_rings_path_is_refused_not_followed() {
    let target = SharedBuffer::create(&unique("link-target"), Config::default()).unwrap();
    let name = unique("link");
    let _cleanup = Cleanup(name.clone());
    std::os::unix::fs::symlink(shm_path(target.name()), shm_path(&name)).unwrap();
    let err = SharedBuffer::open(&name).unwrap_err();
    assert!(matches!(err, Error::Untrusted { .. }), "{err:?}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn a_fifo_at_a_rings_path_is_refused_without_blocking() {
    let name = unique("fifo");
    let _cleanup = Cleanup(name.clone());
    let path = std::ffi::CString::new(shm_path(&name)).unwrap();
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
    if let Err(e) = std::os::unix::fs::chown(shm_path(r.name()), Some(stranger), None) {
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
