//! [`SharedBuffer`]: the ring algorithm over a mapped segment.
//!
//! # Algorithm
//! `head` and `tail` are 64-bit counts of items ever consumed and stored;
//! item `n` lives in slot `n % capacity`, the ring holds `tail - head` items,
//! and it is full when that equals `capacity`. Both counters, the slots and
//! the statistics change only under the ring's robust mutex, which orders
//! all of them between processes (its lock is an Acquire, its unlock a
//! Release); the atomics are there because another process may touch these
//! words at any time, not to order them among themselves.
//!
//! A put writes the slot (length, CRC, payload), signals consumers, then
//! stores `tail + 1`; a get copies the slot out, signals producers, then
//! stores `head + 1`. That last store is the commit point: a process killed
//! before it changed nothing visible, one killed after it completed the
//! operation. Recovery after a dead lock owner therefore has nothing to
//! roll back; the next owner re-checks the indices and marks the mutex
//! consistent.
//!
//! # Waiting
//! Each side has a futex word, bumped (SeqCst) by every operation of the
//! other side, and a waiter count. A waiter registers (`waiters += 1`,
//! SeqCst), re-reads the word (SeqCst) and sleeps only if it is unchanged;
//! a signaller bumps the word, then reads the count and wakes all sleepers
//! if it is non-zero. In the single order of these SeqCst operations either
//! the signaller sees the registration or the waiter sees the bump (the
//! store-buffering pattern; Drepper, "Futexes Are Tricky", 2011), and
//! `FUTEX_WAIT` re-checks the word atomically in the kernel, so no wake-up
//! is lost. The signal comes before the commit, inside the lock: a woken
//! waiter then blocks on the mutex, and if the signaller dies before it
//! commits or unlocks, the kernel hands the mutex over with `EOWNERDEAD`,
//! so a waiter can never sleep through a committed operation.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hooks::{self, Point};
use crate::layout::{self, Geometry, Header, FLAG_PERSIST, INIT_PENDING, INIT_READY};
use crate::name::RingName;
use crate::sys::futex::{self, Deadline};
use crate::sys::mutex::{Acquired, LockError, RawMutex};
use crate::sys::segment::{self, Created, Segment};
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::time::Duration;

/// How long `open` waits for a creator to size and initialise a segment.
const OPEN_WAIT: Duration = Duration::from_secs(1);
/// Polls of the futex word before a waiter goes to sleep.
const SPIN_LIMIT: u32 = 128;

/// A handle on a ring, created or opened by name.
///
/// Handles are `Send + Sync`: threads of one process may share one handle,
/// and processes share the ring through their own handles. Dropping the
/// handle closes it.
#[derive(Debug)]
pub struct SharedBuffer {
    name: RingName,
    /// `None` after [`close`](Self::close).
    mapped: Option<Mapped>,
    geometry: Geometry,
    /// This handle created the segment.
    creator: bool,
    /// The segment outlives its creator.
    persist: bool,
    lock_timeout: Duration,
}

#[derive(Debug)]
struct Mapped {
    seg: Segment,
}

/// A snapshot of a ring's state, taken under its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Slots, items.
    pub capacity: u32,
    /// Largest item, bytes.
    pub item_size: u32,
    /// Size of the segment, bytes.
    pub segment_size: usize,
    /// Items stored now.
    pub len: u64,
    /// Items ever stored (the `tail` counter).
    pub puts: u64,
    /// Items ever consumed, corrupt ones included (the `head` counter).
    pub gets: u64,
    /// `put` calls refused because the ring was full.
    pub full_refusals: u64,
    /// `get` calls that found the ring empty.
    pub empty_gets: u64,
    /// Items that failed their integrity check.
    pub corrupt_items: u64,
    /// Times a process took over the lock from a dead owner.
    pub lock_recoveries: u64,
    /// Pid of the last process that recovered the lock (0: none).
    pub last_recovery_pid: u32,
    /// Consumers registered as sleeping for an item (advisory: a waiter
    /// killed while asleep stays counted).
    pub waiting_consumers: u32,
    /// Producers registered as sleeping for space (advisory, as above).
    pub waiting_producers: u32,
    /// Pid of the creating process.
    pub creator_pid: u32,
    /// The segment outlives its creator.
    pub persist: bool,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
}

/// Unlocks the ring's mutex when dropped, on every path.
struct Guard<'a>(&'a RawMutex);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

/// CRC32 over the length (u32 little-endian) and the payload.
fn item_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&(data.len() as u32).to_le_bytes());
    h.update(data);
    h.finalize()
}

/// Tells sleepers on `word` that something changed; see the module docs.
fn signal(word: &AtomicU32, waiters: &AtomicU32) {
    word.fetch_add(1, SeqCst);
    if waiters.load(SeqCst) != 0 {
        futex::wake_all(word);
    }
}

/// Waits until `word` differs from `seen` or `deadline` passes; returns
/// false iff the deadline had passed before sleeping. Spurious returns are
/// fine: the caller retries its operation.
fn wait_change(word: &AtomicU32, waiters: &AtomicU32, seen: u32, deadline: Deadline) -> bool {
    for _ in 0..SPIN_LIMIT {
        if word.load(Relaxed) != seen {
            return true;
        }
        std::hint::spin_loop();
    }
    if deadline.passed() {
        return false;
    }
    waiters.fetch_add(1, SeqCst);
    if word.load(SeqCst) == seen {
        futex::wait(word, seen, deadline);
    }
    waiters.fetch_sub(1, SeqCst);
    true
}

/// Whether process `pid` exists (signal 0 delivers nothing). A pid from
/// another pid namespace, or one reused by a new process, reads as alive.
pub fn pid_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

impl SharedBuffer {
    /// Creates the ring `name` with `config` and owns it: when this handle
    /// closes (or drops) the name is removed, unless `config.persist`.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::InvalidConfig`] (capacity or item size
    /// 0 or too large, mode outside `0o777`), [`Error::AlreadyExists`] (the
    /// existing ring is left untouched), [`Error::Io`].
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer, Error};
    /// # let name = format!("doc-create-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(4, 16))?;
    /// assert_eq!((ring.capacity(), ring.item_size()), (4, 16));
    /// assert!(matches!(SharedBuffer::create(&name, Config::default()), Err(Error::AlreadyExists { .. })));
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn create(name: &str, config: Config) -> Result<Self> {
        let name = RingName::new(name)?;
        let geometry = Geometry::new(config.capacity, config.item_size)?;
        if config.mode & !0o777 != 0 {
            return Err(Error::InvalidConfig {
                reason: format!("mode {:#o} has bits outside 0o777", config.mode),
            });
        }
        let os_name = name.os_name();
        let seg = match Segment::create(&os_name, geometry.segment_size, config.mode)? {
            Created::New(seg) => seg,
            Created::Exists => {
                return Err(Error::AlreadyExists {
                    name: name.to_string(),
                })
            }
        };
        // SAFETY: the segment was just created exclusively (O_EXCL) and its
        // header is not published yet, so no process uses the mutex.
        if let Err(rc) = unsafe { RawMutex::init(seg.mutex_ptr()) } {
            let _ = segment::unlink(&os_name, name.as_str());
            return Err(Error::io(
                "pthread_mutex_init",
                std::io::Error::from_raw_os_error(rc),
            ));
        }
        let id = &seg.header().id.0;
        // The magic goes first so that an opener that sees a pending header
        // can tell a ring being made from a foreign segment.
        id.magic.store(layout::MAGIC, Relaxed);
        id.layout_version.store(layout::LAYOUT_VERSION, Relaxed);
        id.capacity.store(geometry.capacity, Relaxed);
        id.item_size.store(geometry.item_size, Relaxed);
        id.slot_stride.store(geometry.slot_stride as u32, Relaxed);
        id.flags
            .store(if config.persist { FLAG_PERSIST } else { 0 }, Relaxed);
        id.creator_pid.store(std::process::id(), Relaxed);
        id.slots_offset.store(layout::HEADER_SIZE as u32, Relaxed);
        id.segment_size.store(geometry.segment_size as u64, Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        id.created_unix_ns.store(now, Relaxed);
        // Release: an opener that reads READY with Acquire sees every field
        // above and the initialised mutex.
        id.init_state.store(INIT_READY, Release);
        futex::wake_all(&id.init_state);
        Ok(SharedBuffer {
            name,
            mapped: Some(Mapped { seg }),
            geometry,
            creator: true,
            persist: config.persist,
            lock_timeout: config.lock_timeout,
        })
    }

    /// Attaches to the existing ring `name` and reads its geometry from the
    /// header. Closing an opened handle never removes the ring. Uses a 5 s
    /// lock timeout; see [`open_with_lock_timeout`](Self::open_with_lock_timeout).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], [`Error::NotInitialized`]
    /// (the creator did not finish within 1 s), [`Error::IncompatibleLayout`]
    /// (not a shmring segment, or another layout version),
    /// [`Error::CorruptHeader`], [`Error::Io`] (for example no permission).
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with_lock_timeout(name, Config::default().lock_timeout)
    }

    /// [`open`](Self::open) with the given lock timeout.
    pub fn open_with_lock_timeout(name: &str, lock_timeout: Duration) -> Result<Self> {
        let name = RingName::new(name)?;
        let seg = Segment::open(&name.os_name(), name.as_str(), OPEN_WAIT)?;
        let id = &seg.header().id.0;
        let deadline = Deadline::after(OPEN_WAIT);
        loop {
            // Acquire pairs with the creator's Release store of READY.
            let state = id.init_state.load(Acquire);
            let magic = id.magic.load(Relaxed);
            if magic != layout::MAGIC && magic != 0 {
                return Err(Error::IncompatibleLayout {
                    found: magic,
                    expected: layout::MAGIC,
                });
            }
            match state {
                INIT_READY => break,
                INIT_PENDING if !deadline.passed() => futex::wait(&id.init_state, state, deadline),
                INIT_PENDING => {
                    return Err(Error::NotInitialized {
                        name: name.to_string(),
                    })
                }
                other => {
                    return Err(Error::CorruptHeader {
                        reason: format!("init_state {other} is neither 0 nor 1"),
                    })
                }
            }
        }
        let geometry = layout::validate(id, seg.len() as u64)?;
        let persist = id.flags.load(Relaxed) & FLAG_PERSIST != 0;
        Ok(SharedBuffer {
            name,
            mapped: Some(Mapped { seg }),
            geometry,
            creator: false,
            persist,
            lock_timeout,
        })
    }

    /// Removes the ring `name` from the namespace. Processes attached to it
    /// keep working on their mapping; the memory is freed when the last one
    /// detaches.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], [`Error::Io`].
    pub fn remove(name: &str) -> Result<()> {
        let name = RingName::new(name)?;
        segment::unlink(&name.os_name(), name.as_str())
    }

    /// The ring's name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Slots, items.
    pub fn capacity(&self) -> usize {
        self.geometry.capacity as usize
    }

    /// Largest item, bytes.
    pub fn item_size(&self) -> usize {
        self.geometry.item_size as usize
    }

    /// Whether this handle created the ring.
    pub fn is_creator(&self) -> bool {
        self.creator
    }

    fn seg(&self) -> Result<&Segment> {
        self.mapped.as_ref().map(|m| &m.seg).ok_or(Error::Closed)
    }

    fn lock<'a>(&self, seg: &'a Segment) -> Result<Guard<'a>> {
        let mutex = &seg.header().lock.0.mutex;
        match mutex.lock(self.lock_timeout) {
            Ok(Acquired::Clean) => Ok(Guard(mutex)),
            Ok(Acquired::OwnerDied) => {
                // The dead owner either committed its operation or left no
                // visible trace (see the module docs), so the state is
                // consistent as it stands; the indices are re-checked by the
                // operation that follows.
                let guard = Guard(mutex);
                let k = &seg.header().counters.0;
                k.lock_recoveries.fetch_add(1, Relaxed);
                k.last_recovery_pid.store(std::process::id(), Relaxed);
                mutex.mark_consistent();
                Ok(guard)
            }
            Err(LockError::Timeout) => Err(Error::LockTimeout {
                waited_ms: self.lock_timeout.as_millis() as u64,
            }),
            Err(LockError::NotRecoverable) => Err(Error::CorruptHeader {
                reason: "the lock is not recoverable (a process abandoned an owner-died recovery)"
                    .into(),
            }),
            Err(LockError::Os(e)) => Err(Error::io(
                "pthread_mutex_clocklock",
                std::io::Error::from_raw_os_error(e),
            )),
        }
    }

    /// Reads and checks `(head, tail)`. Call under the lock.
    fn indices(&self, h: &Header) -> Result<(u64, u64)> {
        let head = h.consumer.0.head.load(Relaxed);
        let tail = h.producer.0.tail.load(Relaxed);
        layout::check_indices(head, tail, self.geometry.capacity)?;
        Ok((head, tail))
    }

    fn check_len(&self, item: &[u8]) -> Result<()> {
        if item.len() > self.item_size() {
            return Err(Error::TooLarge {
                len: item.len(),
                max: self.item_size(),
            });
        }
        Ok(())
    }

    /// The put critical section: stores `item` unless full.
    fn put_locked(&self, seg: &Segment, item: &[u8], crc: u32) -> Result<bool> {
        let h = seg.header();
        let (head, tail) = self.indices(h)?;
        if tail - head == u64::from(self.geometry.capacity) {
            h.counters.0.full_refusals.fetch_add(1, Relaxed);
            return Ok(false);
        }
        let g = &self.geometry;
        seg.write_prefix(g, tail, item.len() as u32, crc);
        let half = item.len() / 2;
        seg.write_payload(g, tail, 0, &item[..half]);
        hooks::at(Point::PutHalfWritten);
        seg.write_payload(g, tail, half, &item[half..]);
        signal(&h.producer.0.put_seq, &h.producer.0.get_waiters);
        // Commit. Release is for lock-free readers of `tail` (none on the
        // data path); lockers are ordered by the mutex.
        h.producer.0.tail.store(tail + 1, Release);
        hooks::at(Point::PutCommitted);
        Ok(true)
    }

    /// The get critical section: copies the oldest item into `buf` and
    /// consumes it. Returns `(len, stored crc, seq)`, or `None` if empty.
    fn get_locked(&self, seg: &Segment, buf: &mut [u8]) -> Result<Option<(usize, u32, u64)>> {
        let h = seg.header();
        let (head, tail) = self.indices(h)?;
        if head == tail {
            h.counters.0.empty_gets.fetch_add(1, Relaxed);
            return Ok(None);
        }
        let g = &self.geometry;
        let (len, crc) = seg.read_prefix(g, head);
        let len = len as usize;
        if len > self.item_size() {
            // An impossible length: the slot is damaged. Consume it so the
            // items behind it stay reachable.
            h.counters.0.corrupt_items.fetch_add(1, Relaxed);
            signal(&h.consumer.0.get_seq, &h.consumer.0.put_waiters);
            h.consumer.0.head.store(head + 1, Release);
            return Err(self.corrupt(head, "stored length exceeds the item size"));
        }
        if len > buf.len() {
            return Err(Error::BufferTooSmall {
                len: buf.len(),
                needed: len,
            });
        }
        seg.read_payload(g, head, &mut buf[..len]);
        hooks::at(Point::GetCopied);
        signal(&h.consumer.0.get_seq, &h.consumer.0.put_waiters);
        h.consumer.0.head.store(head + 1, Release);
        Ok(Some((len, crc, head)))
    }

    fn corrupt(&self, seq: u64, reason: &'static str) -> Error {
        Error::Corrupt {
            slot: (seq % u64::from(self.geometry.capacity)) as u32,
            seq,
            reason,
        }
    }

    /// Checks a copied-out item against its stored CRC (outside the lock).
    fn verify(&self, seg: &Segment, data: &[u8], crc: u32, seq: u64) -> Result<()> {
        if item_crc(data) != crc {
            seg.header().counters.0.corrupt_items.fetch_add(1, Relaxed);
            return Err(self.corrupt(seq, "CRC32 mismatch"));
        }
        Ok(())
    }

    /// Stores `item` unless the ring is full.
    ///
    /// Returns `Ok(true)` if stored, `Ok(false)` if the ring was full (nothing
    /// stored, nothing overwritten).
    ///
    /// # Errors
    /// [`Error::TooLarge`] (ring unchanged), [`Error::Closed`],
    /// [`Error::LockTimeout`], [`Error::CorruptHeader`].
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-put-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(1, 8))?;
    /// assert!(ring.put(b"one")?);
    /// assert!(!ring.put(b"two")?); // full
    /// assert!(ring.put(b"too long!").is_err());
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn put(&self, item: &[u8]) -> Result<bool> {
        let seg = self.seg()?;
        self.check_len(item)?;
        let crc = item_crc(item);
        let _guard = self.lock(seg)?;
        self.put_locked(seg, item, crc)
    }

    /// Stores `item`, waiting up to `timeout` for space.
    ///
    /// Returns `Ok(true)` once stored, `Ok(false)` if the ring was still full
    /// at the deadline (CLOCK_MONOTONIC). Waits by a short spin, then a futex
    /// sleep that any get wakes.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_timeout(&self, item: &[u8], timeout: Duration) -> Result<bool> {
        let seg = self.seg()?;
        self.check_len(item)?;
        let crc = item_crc(item);
        // The deadline is computed once the first attempt found the ring
        // full: a clock read per operation is measurable on the fast path.
        let mut deadline = None;
        let c = &seg.header().consumer.0;
        loop {
            let seen = {
                let _guard = self.lock(seg)?;
                if self.put_locked(seg, item, crc)? {
                    return Ok(true);
                }
                c.get_seq.load(Relaxed)
            };
            let deadline = *deadline.get_or_insert_with(|| Deadline::after(timeout));
            if !wait_change(&c.get_seq, &c.put_waiters, seen, deadline) {
                return Ok(false);
            }
        }
    }

    /// Takes the oldest item, or `None` if the ring is empty.
    ///
    /// # Errors
    /// [`Error::Corrupt`] (the item failed its check and is consumed),
    /// [`Error::Closed`], [`Error::LockTimeout`], [`Error::CorruptHeader`].
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-get-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::default())?;
    /// ring.put(b"")?; // a 0-byte item is an item
    /// assert_eq!(ring.get()?, Some(vec![]));
    /// assert_eq!(ring.get()?, None);
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn get(&self) -> Result<Option<Vec<u8>>> {
        self.get_timeout(Duration::ZERO)
    }

    /// Takes the oldest item, waiting up to `timeout` for one; `None` if the
    /// ring is still empty at the deadline.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn get_timeout(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; self.item_size()];
        Ok(self.get_into_timeout(&mut buf, timeout)?.map(|n| {
            buf.truncate(n);
            buf
        }))
    }

    /// Takes the oldest item into `buf` without allocating; returns its
    /// length in bytes, or `None` if the ring is empty.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if the item is longer than `buf` (the item
    /// stays in the ring; a buffer of [`item_size`](Self::item_size) bytes
    /// always fits), and as [`get`](Self::get).
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-get-into-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::default())?;
    /// ring.put(b"abc")?;
    /// let mut buf = [0u8; 64];
    /// assert_eq!(ring.get_into(&mut buf)?, Some(3));
    /// assert_eq!(&buf[..3], b"abc");
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn get_into(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.get_into_timeout(buf, Duration::ZERO)
    }

    /// [`get_into`](Self::get_into), waiting up to `timeout` for an item.
    ///
    /// # Errors
    /// As [`get_into`](Self::get_into).
    pub fn get_into_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>> {
        let seg = self.seg()?;
        let mut deadline = None;
        let p = &seg.header().producer.0;
        loop {
            let seen = {
                let _guard = self.lock(seg)?;
                if let Some((len, crc, seq)) = self.get_locked(seg, buf)? {
                    drop(_guard);
                    self.verify(seg, &buf[..len], crc, seq)?;
                    return Ok(Some(len));
                }
                p.put_seq.load(Relaxed)
            };
            if timeout.is_zero() {
                return Ok(None);
            }
            let deadline = *deadline.get_or_insert_with(|| Deadline::after(timeout));
            if !wait_change(&p.put_seq, &p.get_waiters, seen, deadline) {
                return Ok(None);
            }
        }
    }

    /// Stores items from the front of `items` until the ring is full, all
    /// under one acquisition of the lock and committed by one store of
    /// `tail` (so a process killed meanwhile stored all of them or none).
    /// Returns how many were stored, 0 if the ring was full. Batching is
    /// how a producer amortises the lock handoff, in the manner of the
    /// LMAX Disruptor's batch publishing.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if any item is over `item_size` (nothing is
    /// stored), and as [`put`](Self::put).
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-put-many-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(2, 8))?;
    /// assert_eq!(ring.put_many(&[b"a", b"b", b"c"])?, 2); // room for two
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn put_many(&self, items: &[&[u8]]) -> Result<usize> {
        let seg = self.seg()?;
        for item in items {
            self.check_len(item)?;
        }
        let crcs: Vec<u32> = items.iter().map(|i| item_crc(i)).collect();
        let h = seg.header();
        let g = &self.geometry;
        let _guard = self.lock(seg)?;
        let (head, tail) = self.indices(h)?;
        let free = u64::from(g.capacity) - (tail - head);
        let n = (items.len() as u64).min(free);
        if n == 0 {
            if !items.is_empty() {
                h.counters.0.full_refusals.fetch_add(1, Relaxed);
            }
            return Ok(0);
        }
        for (k, (item, crc)) in items.iter().zip(&crcs).take(n as usize).enumerate() {
            let seq = tail + k as u64;
            seg.write_prefix(g, seq, item.len() as u32, *crc);
            seg.write_payload(g, seq, 0, item);
        }
        signal(&h.producer.0.put_seq, &h.producer.0.get_waiters);
        h.producer.0.tail.store(tail + n, Release);
        Ok(n as usize)
    }

    /// Takes up to `max` items, oldest first, under one acquisition of the
    /// lock (one store of `head` commits them all), and passes each to `f`
    /// after the lock is released and its CRC checked. Returns how many were
    /// taken, 0 if the ring was empty.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for the first item that failed its check; every
    /// taken item that passed has been passed to `f` first, and all taken
    /// items are consumed. Otherwise as [`get`](Self::get).
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-get-many-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(4, 8))?;
    /// ring.put_many(&[b"a", b"bc"])?;
    /// let mut got = Vec::new();
    /// assert_eq!(ring.get_many(10, |item| got.push(item.to_vec()))?, 2);
    /// assert_eq!(got, [b"a".to_vec(), b"bc".to_vec()]);
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn get_many(&self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize> {
        let seg = self.seg()?;
        let h = seg.header();
        let g = &self.geometry;
        let mut scratch: Vec<u8> = Vec::new();
        // (offset in scratch, len, stored crc, seq); len over item_size = damaged.
        let mut taken: Vec<(usize, usize, u32, u64)> = Vec::new();
        {
            let _guard = self.lock(seg)?;
            let (head, tail) = self.indices(h)?;
            let n = (tail - head).min(max as u64);
            if n == 0 {
                h.counters.0.empty_gets.fetch_add(1, Relaxed);
                return Ok(0);
            }
            for seq in head..head + n {
                let (len, crc) = seg.read_prefix(g, seq);
                let len = len as usize;
                let at = scratch.len();
                if len <= self.item_size() {
                    scratch.resize(at + len, 0);
                    seg.read_payload(g, seq, &mut scratch[at..]);
                }
                taken.push((at, len, crc, seq));
            }
            signal(&h.consumer.0.get_seq, &h.consumer.0.put_waiters);
            h.consumer.0.head.store(head + n, Release);
        }
        let mut first_bad = None;
        for &(at, len, crc, seq) in &taken {
            let ok = len <= self.item_size() && item_crc(&scratch[at..at + len]) == crc;
            if ok {
                f(&scratch[at..at + len]);
            } else {
                h.counters.0.corrupt_items.fetch_add(1, Relaxed);
                first_bad.get_or_insert(seq);
            }
        }
        match first_bad {
            Some(seq) => Err(self.corrupt(seq, "CRC32 mismatch or length over the item size")),
            None => Ok(taken.len()),
        }
    }

    /// Items stored now.
    ///
    /// # Errors
    /// [`Error::Closed`], [`Error::LockTimeout`], [`Error::CorruptHeader`].
    pub fn len(&self) -> Result<usize> {
        let seg = self.seg()?;
        let _guard = self.lock(seg)?;
        let (head, tail) = self.indices(seg.header())?;
        Ok((tail - head) as usize)
    }

    /// Whether the ring holds no item.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A consistent snapshot of the ring's counters, taken under its lock.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn stats(&self) -> Result<Stats> {
        let seg = self.seg()?;
        let h = seg.header();
        let _guard = self.lock(seg)?;
        let (head, tail) = self.indices(h)?;
        let k = &h.counters.0;
        Ok(Stats {
            capacity: self.geometry.capacity,
            item_size: self.geometry.item_size,
            segment_size: self.geometry.segment_size,
            len: tail - head,
            puts: tail,
            gets: head,
            full_refusals: k.full_refusals.load(Relaxed),
            empty_gets: k.empty_gets.load(Relaxed),
            corrupt_items: k.corrupt_items.load(Relaxed),
            lock_recoveries: k.lock_recoveries.load(Relaxed),
            last_recovery_pid: k.last_recovery_pid.load(Relaxed),
            waiting_consumers: h.producer.0.get_waiters.load(Relaxed),
            waiting_producers: h.consumer.0.put_waiters.load(Relaxed),
            creator_pid: h.id.0.creator_pid.load(Relaxed),
            persist: self.persist,
            created_unix_ns: h.id.0.created_unix_ns.load(Relaxed),
        })
    }

    /// Test hook: flips one bit of the oldest item as stored (its first
    /// payload byte, or its CRC for a 0-byte item), so that the next get
    /// reports [`Error::Corrupt`]. Returns false if the ring is empty.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn corrupt_oldest(&self) -> Result<bool> {
        let seg = self.seg()?;
        let _guard = self.lock(seg)?;
        let (head, tail) = self.indices(seg.header())?;
        if head == tail {
            return Ok(false);
        }
        let (len, _) = seg.read_prefix(&self.geometry, head);
        let offset = if len == 0 { 4 } else { layout::SLOT_PREFIX };
        seg.flip_bit(&self.geometry, head, offset);
        Ok(true)
    }

    /// Detaches from the ring. If this handle created it and it does not
    /// persist, the name is removed (a ring already removed by someone else
    /// is not an error). Later operations fail with [`Error::Closed`].
    ///
    /// # Errors
    /// [`Error::Closed`] if already closed; [`Error::Io`] if the name could
    /// not be removed.
    pub fn close(&mut self) -> Result<()> {
        let mapped = self.mapped.take().ok_or(Error::Closed)?;
        drop(mapped);
        if self.creator && !self.persist {
            match segment::unlink(&self.name.os_name(), self.name.as_str()) {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Drop for SharedBuffer {
    fn drop(&mut self) {
        if self.mapped.is_some() {
            let _ = self.close();
        }
    }
}
