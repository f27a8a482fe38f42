//! Throughput and latency of shmring between processes, next to its
//! anchors, all measured in the same run: `rtrb` (a wait-free SPSC ring)
//! and crossbeam's `ArrayQueue` between threads (what in-process queues can
//! do on this machine), a cache-line ping-pong between two processes (the
//! floor of one-way latency: one line moving between cores), and the
//! original Python design that shmring replaces
//! (`benches/original_design.py`).
//!
//! Cross-process scenarios need real processes, so this binary re-executes
//! itself: with `SHMRING_BENCH_ROLE` set to `producer`, `consumer` or `pong`,
//! `main` runs that role and exits before criterion starts. The parent
//! creates every ring (its handle removes the segment when dropped) and
//! every child is killed and reaped when its handle drops, so a failed run
//! leaves neither processes nor segments behind.
//!
//! Criterion measures each throughput scenario with `iter_custom` under
//! linear sampling: sample `i` moves `i * d` batches through one set of
//! fresh processes, and the slope of time over batches discounts the fixed
//! cost of starting them. Criterion reports no percentiles, and its figures
//! sit in JSON files, so the closing summary comes from separate timed runs
//! (median of a few) made with the same code.
//!
//! `SHMRING_BENCH_QUICK=1` shrinks every count so the whole run takes
//! seconds; the same small counts apply when the binary runs without
//! `--bench` (as `cargo test --benches` does), which makes that a smoke test.

use criterion::{Criterion, SamplingMode, Throughput};
use crossbeam_queue::ArrayQueue;
use shmring::{Config, SharedBuffer};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const ROLE_VAR: &str = "SHMRING_BENCH_ROLE";
const QUICK_VAR: &str = "SHMRING_BENCH_QUICK";
/// Item size of every scenario, bytes.
const ITEM: usize = 64;
/// Longest wait on a ring or a child before a run is called failed: far
/// beyond any healthy wait, short enough that a hung run ends by itself.
const STALL: Duration = Duration::from_secs(20);
/// `ArrayQueue` capacity, the same as the large ring geometry.
const QUEUE_CAPACITY: usize = 1024;
/// Producer id that marks the end of the stream in the in-process queue
/// (shmring uses an empty item instead).
const STOP_ID: u32 = u32::MAX;

/// One cross-process throughput scenario.
#[derive(Debug, Clone, Copy)]
struct Shape {
    capacity: u32,
    producers: u32,
    consumers: u32,
    /// Items per `put_many`/`get_many` call; 1: `put_timeout` and
    /// `get_into_timeout` per item.
    batch: u32,
    /// A ring whose producer and consumer hold their roles for the session
    /// (`Config::single_roles`): no lock on the data path.
    single: bool,
}

const SHM_1P1C: Shape = Shape {
    capacity: 1024,
    producers: 1,
    consumers: 1,
    batch: 1,
    single: false,
};
/// 1P1C moving up to 32 items per lock acquisition.
const SHM_1P1C_BATCH: Shape = Shape {
    capacity: 1024,
    producers: 1,
    consumers: 1,
    batch: 32,
    single: false,
};
/// The original design's geometry (`Config::default()`): 10 x 64 B.
const SHM_1P1C_SMALL: Shape = Shape {
    capacity: 10,
    producers: 1,
    consumers: 1,
    batch: 1,
    single: false,
};
/// The original geometry, moving up to 10 items per lock acquisition.
const SHM_1P1C_SMALL_BATCH: Shape = Shape {
    capacity: 10,
    producers: 1,
    consumers: 1,
    batch: 10,
    single: false,
};
/// [`SHM_1P1C`] on a ring with single roles: each side holds its lock for
/// the session.
const SHM_1P1C_SINGLE: Shape = Shape {
    capacity: 1024,
    producers: 1,
    consumers: 1,
    batch: 1,
    single: true,
};
const SHM_2P2C: Shape = Shape {
    capacity: 1024,
    producers: 2,
    consumers: 2,
    batch: 1,
    single: false,
};

/// Counts for one run of the bench.
struct Plan {
    /// Items per criterion iteration.
    batch: u64,
    warm_up: Duration,
    measurement: Duration,
    /// Items per timed summary run, and runs per scenario (median taken).
    summary_items: u64,
    summary_runs: usize,
    python_items: u64,
    python_runs: usize,
    round_trips: usize,
}

impl Plan {
    fn full() -> Self {
        Plan {
            batch: 10_000,
            warm_up: Duration::from_secs(1),
            measurement: Duration::from_secs(5),
            summary_items: 1_000_000,
            summary_runs: 5,
            python_items: 100_000,
            python_runs: 3,
            round_trips: 20_000,
        }
    }

    fn quick() -> Self {
        Plan {
            batch: 2_000,
            warm_up: Duration::from_millis(200),
            measurement: Duration::from_millis(500),
            summary_items: 100_000,
            summary_runs: 1,
            python_items: 10_000,
            python_runs: 1,
            round_trips: 2_000,
        }
    }
}

// ---------------------------------------------------------------------------
// Items and their verification

/// Fill byte of an item: depends on producer and sequence number, so a
/// stale slot or a torn copy fails the check.
fn fill(producer: u32, seq: u64) -> u8 {
    (seq as u8).wrapping_mul(31) ^ (producer as u8) ^ 0x5a
}

/// Item `seq` of `producer`: producer id (u32 LE), sequence number (u64 LE),
/// fill bytes.
fn encode(producer: u32, seq: u64) -> [u8; ITEM] {
    let mut item = [fill(producer, seq); ITEM];
    item[..4].copy_from_slice(&producer.to_le_bytes());
    item[4..12].copy_from_slice(&seq.to_le_bytes());
    item
}

/// Items producer `k` of `producers` sends out of `total`.
fn share(total: u64, producers: u32, k: u32) -> u64 {
    let p = u64::from(producers);
    total / p + u64::from(u64::from(k) < total % p)
}

/// What consumers saw, per producer: item count, sum of sequence numbers,
/// and the next sequence number allowed. Count and sum together catch lost
/// and duplicated items; the ordering check holds because the ring is FIFO,
/// so any one consumer sees each producer's items in increasing order.
#[derive(Debug)]
struct Tally {
    count: Vec<u64>,
    seq_sum: Vec<u64>,
    next: Vec<u64>,
}

impl Tally {
    fn new(producers: u32) -> Self {
        let n = producers as usize;
        Tally {
            count: vec![0; n],
            seq_sum: vec![0; n],
            next: vec![0; n],
        }
    }

    /// Checks one item in full and counts it.
    fn take(&mut self, item: &[u8]) -> Result<(), String> {
        if item.len() != ITEM {
            return Err(format!("item of {} bytes, expected {ITEM}", item.len()));
        }
        let producer = u32::from_le_bytes([item[0], item[1], item[2], item[3]]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&item[4..12]);
        let seq = u64::from_le_bytes(seq);
        let p = producer as usize;
        if p >= self.count.len() {
            return Err(format!("item from unknown producer {producer}"));
        }
        let f = fill(producer, seq);
        if item[12..].iter().any(|&b| b != f) {
            return Err(format!("producer {producer} item {seq}: payload damaged"));
        }
        if seq < self.next[p] {
            return Err(format!(
                "producer {producer}: item {seq} came after item {}",
                self.next[p] - 1
            ));
        }
        self.next[p] = seq + 1;
        self.count[p] += 1;
        self.seq_sum[p] += seq;
        Ok(())
    }

    /// The consumer's report line: `done` then count and sum per producer.
    fn report(&self) -> String {
        let mut line = String::from("done");
        for (c, s) in self.count.iter().zip(&self.seq_sum) {
            let _ = write!(line, " {c} {s}");
        }
        line
    }

    /// Adds a consumer's report line.
    fn add_report(&mut self, line: &str) -> Result<(), String> {
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad report {line:?}: {e}"))?;
        if fields.len() != 2 * self.count.len() {
            return Err(format!("bad report {line:?}: wrong field count"));
        }
        for (p, pair) in fields.chunks(2).enumerate() {
            self.count[p] += pair[0];
            self.seq_sum[p] += pair[1];
        }
        Ok(())
    }

    fn add(&mut self, other: &Tally) {
        for p in 0..self.count.len() {
            self.count[p] += other.count[p];
            self.seq_sum[p] += other.seq_sum[p];
        }
    }

    /// Every producer's items arrived exactly once.
    fn check(&self, total: u64) -> Result<(), String> {
        let producers = self.count.len() as u32;
        for k in 0..producers {
            let n = share(total, producers, k);
            let (c, s) = (self.count[k as usize], self.seq_sum[k as usize]);
            if c != n || s != n * n.saturating_sub(1) / 2 {
                return Err(format!(
                    "producer {k}: consumers got {c} items (sequence sum {s}), expected {n}"
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Child roles (this binary re-executed)

fn run_role(role: &str) -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match role {
        "producer" => producer_role(&args),
        "consumer" => consumer_role(&args),
        "pong" => pong_role(&args),
        "line-pong" => line_pong_role(&args),
        other => Err(format!("unknown role {other:?}")),
    }
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad {what} {s:?}"))
}

fn open(name: &str) -> Result<SharedBuffer, String> {
    SharedBuffer::open(name).map_err(|e| format!("open {name}: {e}"))
}

/// Tells the parent the ring is open, then waits for its go, so that the
/// timed interval starts with every process already running.
fn ready_then_go() -> Result<(), String> {
    println!("ready");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading go: {e}"))?;
    if line.trim() != "go" {
        return Err(format!("expected go from the parent, got {line:?}"));
    }
    Ok(())
}

/// `producer RING ID COUNT`: puts items 0..COUNT of producer ID.
fn producer_role(args: &[String]) -> Result<(), String> {
    let [name, id, count, batch] = args else {
        return Err("usage: producer RING ID COUNT BATCH".into());
    };
    let id: u32 = parse("producer id", id)?;
    let count: u64 = parse("count", count)?;
    let batch: u64 = parse("batch", batch)?;
    let ring = open(name)?;
    ready_then_go()?;
    if batch > 1 {
        let mut seq = 0;
        while seq < count {
            let items: Vec<[u8; ITEM]> = (seq..count.min(seq + batch))
                .map(|s| encode(id, s))
                .collect();
            let refs: Vec<&[u8]> = items.iter().map(|i| &i[..]).collect();
            let mut n = ring
                .put_many(&refs)
                .map_err(|e| format!("put_many {seq}: {e}"))? as u64;
            if n == 0 {
                // Full: wait for room with the blocking single put.
                if !ring
                    .put_timeout(refs[0], STALL)
                    .map_err(|e| format!("put {seq}: {e}"))?
                {
                    return Err(format!(
                        "ring {name} stayed full for {STALL:?} at item {seq}"
                    ));
                }
                n = 1;
            }
            seq += n;
        }
        println!("done");
        return Ok(());
    }
    for seq in 0..count {
        let item = encode(id, seq);
        let stored = ring
            .put_timeout(&item, STALL)
            .map_err(|e| format!("put {seq}: {e}"))?;
        if !stored {
            return Err(format!(
                "ring {name} stayed full for {STALL:?} at item {seq}"
            ));
        }
    }
    println!("done");
    Ok(())
}

/// `consumer RING PRODUCERS`: takes and checks items until an empty item,
/// then reports its tally.
fn consumer_role(args: &[String]) -> Result<(), String> {
    let [name, producers, batch] = args else {
        return Err("usage: consumer RING PRODUCERS BATCH".into());
    };
    let producers: u32 = parse("producer count", producers)?;
    let batch: usize = parse("batch", batch)?;
    let ring = open(name)?;
    let mut tally = Tally::new(producers);
    let mut buf = [0u8; ITEM];
    ready_then_go()?;
    if batch > 1 {
        // One consumer only: the first empty item ends the stream.
        let mut stopped = false;
        let mut failed = None;
        while !stopped {
            let n = ring
                .get_many(batch, |item| {
                    if item.is_empty() {
                        stopped = true;
                    } else if let Err(e) = tally.take(item) {
                        failed.get_or_insert(e);
                    }
                })
                .map_err(|e| format!("get_many: {e}"))?;
            if let Some(e) = failed.take() {
                return Err(e);
            }
            if n == 0 {
                match ring
                    .get_into_timeout(&mut buf, STALL)
                    .map_err(|e| format!("get: {e}"))?
                {
                    None => return Err(format!("ring {name} stayed empty for {STALL:?}")),
                    Some(0) => stopped = true,
                    Some(n) => tally.take(&buf[..n])?,
                }
            }
        }
        println!("{}", tally.report());
        return Ok(());
    }
    loop {
        match ring
            .get_into_timeout(&mut buf, STALL)
            .map_err(|e| format!("get: {e}"))?
        {
            None => {
                let got: u64 = tally.count.iter().sum();
                return Err(format!(
                    "ring {name} stayed empty for {STALL:?} after {got} items"
                ));
            }
            Some(0) => break,
            Some(n) => tally.take(&buf[..n])?,
        }
    }
    println!("{}", tally.report());
    Ok(())
}

/// `pong PING PONG COUNT`: echoes COUNT items from PING to PONG.
fn pong_role(args: &[String]) -> Result<(), String> {
    let [ping, pong, count] = args else {
        return Err("usage: pong PING PONG COUNT".into());
    };
    let count: u64 = parse("count", count)?;
    let (ping, pong) = (open(ping)?, open(pong)?);
    let mut buf = [0u8; ITEM];
    println!("ready");
    for i in 0..count {
        let n = ping
            .get_into_timeout(&mut buf, STALL)
            .map_err(|e| format!("get: {e}"))?
            .ok_or_else(|| format!("no ping {i} within {STALL:?}"))?;
        let stored = pong
            .put_timeout(&buf[..n], STALL)
            .map_err(|e| format!("put: {e}"))?;
        if !stored {
            return Err(format!("pong ring stayed full at item {i}"));
        }
    }
    Ok(())
}

/// One 64-byte line of shared memory, mapped from a file in `/dev/shm`:
/// the cache-line ping-pong's only shared state. Unmapped on drop.
struct SharedLine {
    ptr: *mut u8,
}

impl SharedLine {
    /// Maps the first 4 KiB of `path` (created that long if `create`).
    fn map(path: &Path, create: bool) -> Result<SharedLine, String> {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(create)
            .open(path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        if create {
            file.set_len(4096).map_err(|e| format!("size: {e}"))?;
        }
        // SAFETY: a fresh shared mapping of 4096 bytes of a file at least
        // that long; it aliases no Rust object, and is only reached through
        // the AtomicU64 that `word` hands out.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        Ok(SharedLine { ptr: ptr.cast() })
    }

    fn word(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: page-aligned, mapped for the life of `self`, and only ever
        // accessed atomically by both processes.
        unsafe { &*self.ptr.cast::<std::sync::atomic::AtomicU64>() }
    }
}

impl Drop for SharedLine {
    fn drop(&mut self) {
        // SAFETY: unmaps what `map` mapped; `word` borrows `self`.
        unsafe { libc::munmap(self.ptr.cast(), 4096) };
    }
}

/// `line-pong PATH COUNT`: for i in 0..COUNT, waits for the word to be
/// 2i+1 and stores 2i+2.
fn line_pong_role(args: &[String]) -> Result<(), String> {
    let [path, count] = args else {
        return Err("usage: line-pong PATH COUNT".into());
    };
    let count: u64 = parse("count", count)?;
    let line = SharedLine::map(Path::new(path), false)?;
    let word = line.word();
    println!("ready");
    let deadline = Instant::now() + STALL;
    for i in 0..count {
        let mut spins = 0u32;
        while word.load(Ordering::Acquire) != 2 * i + 1 {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins == 0 && Instant::now() > deadline {
                return Err(format!("no ping {i} within {STALL:?}"));
            }
        }
        word.store(2 * i + 2, Ordering::Release);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Children as seen from the parent

/// A child running a role. Its stdout is read on a thread so that every
/// wait has a deadline. Dropping it kills and reaps the child, so an error
/// anywhere leaves no process behind, and none writing to a ring whose
/// creating handle is about to remove it.
struct Kid {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Kid {
    fn spawn(what: String, role: &str, args: &[String]) -> Result<Kid, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .env(ROLE_VAR, role)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawning {what}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Kid {
            what,
            child,
            stdin,
            lines,
        })
    }

    fn go(&mut self) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        stdin
            .write_all(b"go\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: sending go: {e}", self.what))
    }

    /// Waits for a clean exit.
    fn finish(mut self) -> Result<(), String> {
        self.stdin = None;
        let deadline = Instant::now() + STALL;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("{}: {status}", self.what)),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(None) => return Err(format!("{}: did not exit", self.what)),
                Err(e) => return Err(format!("{}: wait: {e}", self.what)),
            }
        }
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Waits for the next line of `kids[i]`, which must start with `word`.
/// Meanwhile any child that exits with a failure ends the wait at once: the
/// others would otherwise block on the ring until their own timeouts.
fn expect(kids: &mut [Kid], i: usize, word: &str) -> Result<String, String> {
    let deadline = Instant::now() + STALL;
    loop {
        match kids[i].lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if line.split_whitespace().next() == Some(word) => return Ok(line),
            Ok(line) => return Err(format!("{}: expected {word:?}, got {line:?}", kids[i].what)),
            Err(RecvTimeoutError::Disconnected) => {
                let status = kids[i].child.wait();
                return Err(format!(
                    "{}: ended before {word:?} ({status:?})",
                    kids[i].what
                ));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        for kid in kids.iter_mut() {
            if let Ok(Some(status)) = kid.child.try_wait() {
                if !status.success() {
                    return Err(format!("{} failed ({status})", kid.what));
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("{}: no {word:?} within {STALL:?}", kids[i].what));
        }
    }
}

/// A ring name no other run uses: pid plus a counter.
fn ring_name(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("bench-{tag}-{}-{n}", std::process::id())
}

fn create(name: &str, shape: Shape) -> Result<SharedBuffer, String> {
    let config = Config::new(shape.capacity, ITEM as u32);
    let config = if shape.single {
        config.single_roles()
    } else {
        config
    };
    SharedBuffer::create(name, config).map_err(|e| format!("create {name}: {e}"))
}

// ---------------------------------------------------------------------------
// Scenarios

/// Moves `items` items through a fresh ring between child processes and
/// returns the time from go until every consumer reported.
fn shm_run(shape: Shape, items: u64) -> Result<Duration, String> {
    let name = ring_name("tp");
    // Declared before the children, so dropped after them: on an error the
    // children are dead before the segment is removed.
    let ring = create(&name, shape)?;
    // Consumers first: indices 0..consumers, then the producers.
    let c = shape.consumers as usize;
    let mut kids = Vec::with_capacity(c + shape.producers as usize);
    for i in 0..shape.consumers {
        let args = [
            name.clone(),
            shape.producers.to_string(),
            shape.batch.to_string(),
        ];
        kids.push(Kid::spawn(format!("consumer {i}"), "consumer", &args)?);
    }
    for k in 0..shape.producers {
        let n = share(items, shape.producers, k);
        let args = [
            name.clone(),
            k.to_string(),
            n.to_string(),
            shape.batch.to_string(),
        ];
        kids.push(Kid::spawn(format!("producer {k}"), "producer", &args)?);
    }
    for i in 0..kids.len() {
        expect(&mut kids, i, "ready")?;
    }
    let start = Instant::now();
    for kid in &mut kids {
        kid.go()?;
    }
    for i in c..kids.len() {
        expect(&mut kids, i, "done")?;
    }
    // The ring is FIFO, so empty items put after every producer finished
    // come after every real item; a consumer stops at the first it takes,
    // so with one per consumer each takes exactly one.
    for _ in 0..shape.consumers {
        if !ring.put_timeout(&[], STALL).map_err(|e| e.to_string())? {
            return Err("ring stayed full while stopping the consumers".into());
        }
    }
    let mut tally = Tally::new(shape.producers);
    for i in 0..c {
        let line = expect(&mut kids, i, "done")?;
        tally.add_report(&line)?;
    }
    let elapsed = start.elapsed();
    tally.check(items)?;
    for kid in kids {
        kid.finish()?;
    }
    let left = ring.len().map_err(|e| e.to_string())?;
    if left != 0 {
        return Err(format!("{left} items left in the ring"));
    }
    let mut ring = ring;
    ring.close().map_err(|e| format!("close {name}: {e}"))?;
    Ok(elapsed)
}

/// Consecutive failed attempts a queue thread spins through before it
/// starts yielding its CPU between attempts. 2P2C puts four threads on this
/// 2-core machine, and other work may hold a core: a pure spinner then burns
/// its whole time slice while the thread it waits for cannot run, and the
/// figure measures the scheduler rather than the queue. With a core each,
/// waits end long before the limit, so the anchor stays a spinning one.
const SPINS_BEFORE_YIELD: u32 = 1 << 10;

fn backoff(tries: &mut u32) {
    if *tries < SPINS_BEFORE_YIELD {
        *tries += 1;
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Moves `items` items through an `ArrayQueue` between threads, spinning on
/// full and empty, and returns the time from the common start until the
/// last consumer finished.
fn queue_run(producers: u32, consumers: u32, items: u64) -> Result<Duration, String> {
    let queue = ArrayQueue::<[u8; ITEM]>::new(QUEUE_CAPACITY);
    let running = AtomicU32::new(producers);
    // Set by a failing consumer, so that producers waiting on a full queue
    // give up instead of waiting forever.
    let failed = AtomicBool::new(false);
    let start_line = Barrier::new((producers + consumers) as usize);
    let push = |mut item: [u8; ITEM]| -> Result<(), String> {
        let mut tries = 0;
        while let Err(back) = queue.push(item) {
            if failed.load(Ordering::Relaxed) {
                return Err("a consumer failed".into());
            }
            item = back;
            backoff(&mut tries);
        }
        Ok(())
    };
    // Every thread reads the clock itself as it leaves the barrier: on two
    // cores a coordinating thread may not run again until the work is done,
    // so its own clock reading could start the interval late.
    std::thread::scope(|s| {
        let consumer_threads: Vec<_> = (0..consumers)
            .map(|_| {
                let (queue, failed, start_line) = (&queue, &failed, &start_line);
                s.spawn(move || {
                    let mut tally = Tally::new(producers);
                    start_line.wait();
                    let start = Instant::now();
                    let mut tries = 0;
                    loop {
                        let Some(item) = queue.pop() else {
                            backoff(&mut tries);
                            continue;
                        };
                        tries = 0;
                        if item[..4] == STOP_ID.to_le_bytes() {
                            return Ok((start, Instant::now(), tally));
                        }
                        if let Err(e) = tally.take(&item) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                })
            })
            .collect();
        let producer_threads: Vec<_> = (0..producers)
            .map(|k| {
                let (push, running, start_line) = (&push, &running, &start_line);
                s.spawn(move || {
                    let n = share(items, producers, k);
                    start_line.wait();
                    let start = Instant::now();
                    for seq in 0..n {
                        push(encode(k, seq))?;
                    }
                    // The last producer through stops the consumers, after
                    // every real item is queued (the queue is FIFO).
                    if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                        for _ in 0..consumers {
                            push(encode(STOP_ID, 0))?;
                        }
                    }
                    Ok::<Instant, String>(start)
                })
            })
            .collect();
        let mut tally = Tally::new(producers);
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut result = Ok(());
        for t in consumer_threads {
            match t.join() {
                Ok(Ok((start, end, t))) => {
                    starts.push(start);
                    ends.push(end);
                    tally.add(&t);
                }
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err("a consumer thread panicked".into()),
            }
        }
        for t in producer_threads {
            match t.join() {
                Ok(Ok(start)) => starts.push(start),
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err("a producer thread panicked".into()),
            }
        }
        result?;
        tally.check(items)?;
        match (starts.iter().min(), ends.iter().max()) {
            (Some(&start), Some(&end)) => Ok(end - start),
            _ => Err("no thread ran".into()),
        }
    })
}

/// One-way latencies (half of each round trip), sorted, ns: this process
/// puts an item on one ring and a pong child echoes it on another. Expect
/// two modes: a waiter still in its short spin sees the item within a cache
/// line transfer, one already asleep on the futex needs a kernel wake-up.
fn latency_run(round_trips: usize, shape: Shape) -> Result<Vec<u64>, String> {
    let (ping_name, pong_name) = (ring_name("ping"), ring_name("pong"));
    let ping = create(&ping_name, shape)?;
    let pong = create(&pong_name, shape)?;
    // Untimed round trips first: page faults, caches and CPU frequency
    // settle before the samples count.
    let warm = round_trips / 10;
    let total = warm + round_trips;
    let args = [ping_name, pong_name, total.to_string()];
    let mut kids = [Kid::spawn("pong".into(), "pong", &args)?];
    expect(&mut kids, 0, "ready")?;
    let mut buf = [0u8; ITEM];
    let mut samples = Vec::with_capacity(round_trips);
    for i in 0..total {
        let item = encode(0, i as u64);
        let t = Instant::now();
        if !ping.put_timeout(&item, STALL).map_err(|e| e.to_string())? {
            return Err("ping ring stayed full".into());
        }
        let n = pong
            .get_into_timeout(&mut buf, STALL)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no echo of item {i} within {STALL:?}"))?;
        let rtt = t.elapsed();
        if buf[..n] != item {
            return Err(format!("echo of item {i} differs"));
        }
        if i >= warm {
            samples.push(rtt.as_nanos() as u64 / 2);
        }
    }
    let [kid] = kids;
    kid.finish()?;
    samples.sort_unstable();
    Ok(samples)
}

/// One-way latencies (half of each round trip), sorted, ns, of one cache
/// line moving between two processes that spin on it: the floor under
/// shmring's ping-pong on this machine.
fn line_latency_run(round_trips: usize) -> Result<Vec<u64>, String> {
    /// Removes the line's file, also on an error.
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let path = Path::new("/dev/shm").join(ring_name("line"));
    let line = SharedLine::map(&path, true)?;
    let _remove = Remove(path.clone());
    let warm = round_trips / 10;
    let total = (warm + round_trips) as u64;
    let args = [path.display().to_string(), total.to_string()];
    let mut kids = [Kid::spawn("line pong".into(), "line-pong", &args)?];
    expect(&mut kids, 0, "ready")?;
    let word = line.word();
    let mut samples = Vec::with_capacity(round_trips);
    for i in 0..total {
        let t = Instant::now();
        word.store(2 * i + 1, Ordering::Release);
        let mut spins = 0u32;
        while word.load(Ordering::Acquire) != 2 * i + 2 {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins == 0 && t.elapsed() > STALL {
                return Err(format!("no pong {i} within {STALL:?}"));
            }
        }
        let rtt = t.elapsed();
        if i >= warm as u64 {
            samples.push(rtt.as_nanos() as u64 / 2);
        }
    }
    let [kid] = kids;
    kid.finish()?;
    samples.sort_unstable();
    Ok(samples)
}

/// Moves `items` items through an `rtrb` ring of [`QUEUE_CAPACITY`]
/// between two threads, spinning on full and empty, and returns the time
/// from the common start until the consumer finished.
fn rtrb_run(items: u64) -> Result<Duration, String> {
    let (mut tx, mut rx) = rtrb::RingBuffer::<[u8; ITEM]>::new(QUEUE_CAPACITY);
    let start_line = Barrier::new(2);
    std::thread::scope(|s| {
        let start_line = &start_line;
        let consumer = s.spawn(move || {
            let mut tally = Tally::new(1);
            start_line.wait();
            let start = Instant::now();
            let mut tries = 0;
            let mut got = 0;
            while got < items {
                match rx.pop() {
                    Ok(item) => {
                        tries = 0;
                        got += 1;
                        tally.take(&item)?;
                    }
                    Err(_) => backoff(&mut tries),
                }
            }
            tally.check(items)?;
            Ok::<_, String>((start, Instant::now()))
        });
        let producer = s.spawn(move || {
            start_line.wait();
            let start = Instant::now();
            let mut tries = 0;
            for seq in 0..items {
                let mut item = encode(0, seq);
                while let Err(rtrb::PushError::Full(back)) = tx.push(item) {
                    item = back;
                    backoff(&mut tries);
                }
                tries = 0;
            }
            start
        });
        let p_start = producer.join().map_err(|_| "rtrb producer panicked")?;
        let (c_start, end) = consumer
            .join()
            .map_err(|_| "rtrb consumer panicked".to_string())??;
        Ok(end - p_start.min(c_start))
    })
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs `benches/original_design.py` and returns its items/s, or `None`
/// when there is no python3.
fn python_run(items: u64) -> Result<Option<f64>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/original_design.py");
    let out = match Command::new("python3")
        .arg(&script)
        .arg("--items")
        .arg(items.to_string())
        .stderr(Stdio::inherit())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("running python3: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {stdout}",
            script.display(),
            out.status
        ));
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("items_per_sec="))
        .and_then(|v| v.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| format!("no items_per_sec line in {stdout:?}"))
}

fn must<T>(what: &str, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

// ---------------------------------------------------------------------------
// Criterion groups and the summary

fn criterion_groups(c: &mut Criterion, plan: &Plan) {
    let batch = plan.batch;
    let mut g = c.benchmark_group("shmring_processes");
    g.sample_size(10)
        .warm_up_time(plan.warm_up)
        .measurement_time(plan.measurement)
        .sampling_mode(SamplingMode::Linear)
        .throughput(Throughput::Elements(batch));
    for (id, shape) in [
        ("1p1c_1024x64", SHM_1P1C),
        ("1p1c_1024x64_single_roles", SHM_1P1C_SINGLE),
        ("1p1c_1024x64_batch32", SHM_1P1C_BATCH),
        ("1p1c_10x64", SHM_1P1C_SMALL),
        ("2p2c_1024x64", SHM_2P2C),
    ] {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| must(id, shm_run(shape, iters * batch)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("arrayqueue_threads");
    g.sample_size(10)
        .warm_up_time(plan.warm_up)
        .measurement_time(plan.measurement)
        .sampling_mode(SamplingMode::Linear)
        .throughput(Throughput::Elements(batch));
    for (id, p, c) in [("1p1c_1024", 1, 1), ("2p2c_1024", 2, 2)] {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| must(id, queue_run(p, c, iters * batch)))
        });
    }
    g.finish();
}

fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:>11.2} M", r / 1e6)
    } else {
        format!("{:>11.1} k", r / 1e3)
    }
}

fn summary(plan: &Plan) {
    let (n, runs) = (plan.summary_items, plan.summary_runs);
    // The runs are interleaved, one of each scenario per round, so that
    // each median spans the same stretch of time as its anchors' (on a
    // small shared machine the speed of both drifts from minute to minute).
    type Run = Box<dyn Fn() -> Duration>;
    let shm = |shape: Shape, what: &'static str| -> Run {
        Box::new(move || must(what, shm_run(shape, n)))
    };
    let scenarios: Vec<Run> = vec![
        shm(SHM_1P1C, "shmring 1P1C 1024x64"),
        shm(SHM_1P1C_BATCH, "shmring 1P1C 1024x64 batched"),
        shm(SHM_1P1C_SMALL, "shmring 1P1C 10x64"),
        shm(SHM_1P1C_SMALL_BATCH, "shmring 1P1C 10x64 batched"),
        shm(SHM_2P2C, "shmring 2P2C 1024x64"),
        shm(SHM_1P1C_SINGLE, "shmring 1P1C 1024x64 single roles"),
        Box::new(move || must("ArrayQueue 1P1C", queue_run(1, 1, n))),
        Box::new(move || must("ArrayQueue 2P2C", queue_run(2, 2, n))),
        Box::new(move || must("rtrb 1P1C", rtrb_run(n))),
    ];
    let mut rates = vec![Vec::new(); scenarios.len()];
    for _ in 0..runs {
        for (run, rates) in scenarios.iter().zip(&mut rates) {
            rates.push(n as f64 / run().as_secs_f64());
        }
    }
    let medians: Vec<f64> = rates
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect();
    let (shm_1p1c, shm_batch, shm_small, shm_small_batch, shm_2p2c) =
        (medians[0], medians[1], medians[2], medians[3], medians[4]);
    let shm_single = medians[5];
    let (q_1p1c, q_2p2c, rtrb_1p1c) = (medians[6], medians[7], medians[8]);
    let python = {
        let mut rates = Vec::new();
        let mut note = None;
        for _ in 0..plan.python_runs {
            match python_run(plan.python_items) {
                Ok(Some(r)) => rates.push(r),
                Ok(None) => {
                    note = Some("skipped: python3 not found".to_string());
                    break;
                }
                Err(e) => {
                    note = Some(format!("failed: {e}"));
                    break;
                }
            }
        }
        rates.sort_by(f64::total_cmp);
        match note {
            Some(note) => Err(note),
            None => Ok(rates[rates.len() / 2]),
        }
    };
    let lat = must("latency", latency_run(plan.round_trips, SHM_1P1C));
    let lat_single = must(
        "latency, single roles",
        latency_run(plan.round_trips, SHM_1P1C_SINGLE),
    );
    let floor = must("cache-line ping-pong", line_latency_run(plan.round_trips));

    let mut out = String::new();
    let _ = writeln!(out, "\n== shmring throughput summary ==");
    let _ = writeln!(
        out,
        "64-byte items; median of {runs} timed run(s) of {n} items per scenario \
         (Python: {} items, {} run(s))",
        plan.python_items, plan.python_runs
    );
    let _ = writeln!(out, "{:<48} {:>13}", "scenario", "items/s");
    let rows = [
        ("shmring 1P1C, 1024 x 64 B (processes)", shm_1p1c),
        ("shmring 1P1C, 1024 x 64 B, single roles", shm_single),
        ("shmring 1P1C, 1024 x 64 B, put_many/get_many 32", shm_batch),
        ("shmring 1P1C, 10 x 64 B (processes)", shm_small),
        (
            "shmring 1P1C, 10 x 64 B, put_many/get_many 10",
            shm_small_batch,
        ),
        ("shmring 2P2C, 1024 x 64 B (processes)", shm_2p2c),
        ("rtrb 1P1C, 1024 (threads, spinning)", rtrb_1p1c),
        ("ArrayQueue 1P1C, 1024 (threads, spinning)", q_1p1c),
        ("ArrayQueue 2P2C, 1024 (threads, spinning)", q_2p2c),
    ];
    for (what, r) in rows {
        let _ = writeln!(out, "{what:<48} {}", rate(r));
    }
    match &python {
        Ok(r) => {
            let _ = writeln!(
                out,
                "{:<48} {}",
                "Python original 1P1C, 10 x 64 B",
                rate(*r)
            );
        }
        Err(note) => {
            let _ = writeln!(out, "{:<48} {note}", "Python original 1P1C, 10 x 64 B");
        }
    }
    let _ = writeln!(out, "\n{:<48} {:>13}", "ratio", "x");
    let ratios = [
        ("shmring 1P1C 1024x64 / rtrb 1P1C", shm_1p1c / rtrb_1p1c),
        ("shmring 1P1C 1024x64 / ArrayQueue 1P1C", shm_1p1c / q_1p1c),
        (
            "shmring 1P1C single roles / rtrb 1P1C",
            shm_single / rtrb_1p1c,
        ),
        (
            "shmring 1P1C single roles / ArrayQueue 1P1C",
            shm_single / q_1p1c,
        ),
        (
            "shmring 1P1C batched 32 / ArrayQueue 1P1C",
            shm_batch / q_1p1c,
        ),
        ("shmring 2P2C 1024x64 / ArrayQueue 2P2C", shm_2p2c / q_2p2c),
    ];
    for (what, x) in ratios {
        let _ = writeln!(out, "{what:<48} {x:>13.3}");
    }
    for (what, shm) in [
        ("shmring 1P1C 10x64 / Python original 10x64", shm_small),
        (
            "shmring 10x64 batched 10 / Python original",
            shm_small_batch,
        ),
    ] {
        match &python {
            Ok(r) => {
                let _ = writeln!(out, "{what:<48} {:>13.1}", shm / r);
            }
            Err(_) => {
                let _ = writeln!(out, "{what:<48} {:>13}", "n/a");
            }
        }
    }
    for (lat, what) in [(&lat, ""), (&lat_single, ", single roles")] {
        let _ = writeln!(
            out,
            "\none-way latency, processes (ping-pong round trip / 2, {} round trips, 1024 x 64 B rings{what}):",
            lat.len()
        );
        let _ = writeln!(
            out,
            "  p50 {} ns   p90 {} ns   p99 {} ns   p99.9 {} ns   max {} ns",
            percentile(lat, 0.50),
            percentile(lat, 0.90),
            percentile(lat, 0.99),
            percentile(lat, 0.999),
            percentile(lat, 1.0)
        );
    }
    let _ = writeln!(
        out,
        "one-way latency floor, processes (cache-line ping-pong / 2, {} round trips):",
        floor.len()
    );
    let _ = writeln!(
        out,
        "  p50 {} ns   p90 {} ns   p99 {} ns   p99.9 {} ns   max {} ns",
        percentile(&floor, 0.50),
        percentile(&floor, 0.90),
        percentile(&floor, 0.99),
        percentile(&floor, 0.999),
        percentile(&floor, 1.0)
    );
    for (lat, what) in [(&lat, ""), (&lat_single, ", single roles")] {
        let _ = writeln!(
            out,
            "shmring one-way p50 / ping-pong p50{what}: {:.2}x; p99 / p99: {:.2}x",
            percentile(lat, 0.50) as f64 / percentile(&floor, 0.50).max(1) as f64,
            percentile(lat, 0.99) as f64 / percentile(&floor, 0.99).max(1) as f64
        );
    }
    print!("{out}");
}

fn main() {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        if let Err(e) = run_role(&role) {
            eprintln!("throughput bench, {role} (pid {}): {e}", std::process::id());
            std::process::exit(1);
        }
        return;
    }
    let quick = std::env::var(QUICK_VAR).is_ok_and(|v| v == "1");
    // Without --bench, cargo is running this binary as a test: keep it short.
    let benching = std::env::args().any(|a| a == "--bench");
    let plan = if quick || !benching {
        Plan::quick()
    } else {
        Plan::full()
    };
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(plan.warm_up)
        .measurement_time(plan.measurement)
        .configure_from_args();
    criterion_groups(&mut c, &plan);
    c.final_summary();
    summary(&plan);
}
