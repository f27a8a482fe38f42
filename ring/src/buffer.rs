//! [`SharedBuffer`]: a named ring in a mapped segment. Creating and
//! opening it (the segment, its header, the checks of `specs/layout.md`)
//! are here; the ring algorithm runs over the segment through
//! [`crate::memory::SegmentMemory`]. Most of the file is the public
//! calls' documentation and runnable examples.

use crate::algorithm::Ring;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::layout::{self, Geometry, FLAG_PERSIST, INIT_PENDING, INIT_READY};
use crate::lock;
use crate::memory::SegmentMemory;
use crate::name::RingName;
use crate::sys::futex::{self, Deadline};
use crate::sys::segment::{self, Created, Segment, Trust};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

/// How long `open` waits for a creator to size and initialise a segment.
const OPEN_WAIT: Duration = Duration::from_secs(1);

/// A handle on a ring, created or opened by name.
///
/// Handles are `Send + Sync`: threads of one process may share one handle,
/// and processes share the ring through their own handles. Dropping the
/// handle closes it.
#[derive(Debug)]
pub struct SharedBuffer {
    name: RingName,
    /// `None` after [`close`](Self::close).
    ring: Option<Ring<SegmentMemory>>,
    geometry: Geometry,
    /// This handle created the segment.
    creator: bool,
    /// The segment outlives its creator.
    persist: bool,
}

/// A snapshot of a ring's state: the indices read consistently without a
/// lock (`head` and `tail` as they were at one instant), the counters
/// (advisory) just after.
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
    /// Times a process took over a lock (either side's) from a dead owner.
    pub lock_recoveries: u64,
    /// Pid of the last process that recovered a lock (0: none).
    pub last_recovery_pid: u32,
    /// Waits for an item or space that ended by their nap (at most 100 ms)
    /// unwoken although what they waited for had happened: wake-ups that
    /// did not come, from a waker killed between its commit and its wake
    /// (or a lost wake-up, which the models exist to rule out).
    pub late_wakeups: u64,
    /// Waits for an item or space that went to sleep (after their spin).
    pub sleeps: u64,
    /// Consumers registered as sleeping for an item (advisory: a waiter
    /// killed while asleep stays counted until the next put wakes the
    /// sleepers).
    pub waiting_consumers: u32,
    /// Producers registered as sleeping for space (advisory: a waiter
    /// killed while asleep stays counted until the next get wakes them).
    pub waiting_producers: u32,
    /// Pid of the creating process.
    pub creator_pid: u32,
    /// The segment outlives its creator.
    pub persist: bool,
    /// One producer at a time holds its role (`Config::single_producer`).
    pub single_producer: bool,
    /// One consumer at a time holds its role (`Config::single_consumer`).
    pub single_consumer: bool,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
}

impl Stats {
    /// Whether the creating process ([`creator_pid`](Self::creator_pid))
    /// still exists. A pid from another pid namespace, or one reused by a
    /// new process, reads as alive.
    pub fn creator_alive(&self) -> bool {
        pid_alive(self.creator_pid)
    }
}

/// Whether process `pid` exists (signal 0 delivers nothing).
fn pid_alive(pid: u32) -> bool {
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
    /// existing ring is left untouched), [`Error::NoSpace`] (the segment's
    /// memory could not be reserved in `/dev/shm`; nothing is left behind),
    /// [`Error::Io`].
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
        let id = &seg.header().id.0;
        // The magic goes first so that an opener that sees a pending header
        // can tell a ring being made from a foreign segment.
        id.magic.store(layout::MAGIC, Relaxed);
        id.layout_version.store(layout::LAYOUT_VERSION, Relaxed);
        id.capacity.store(geometry.capacity, Relaxed);
        id.item_size.store(geometry.item_size, Relaxed);
        id.slot_stride.store(geometry.slot_stride as u32, Relaxed);
        let flags = [
            (config.persist, FLAG_PERSIST),
            (config.single_producer, layout::FLAG_SINGLE_PRODUCER),
            (config.single_consumer, layout::FLAG_SINGLE_CONSUMER),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |f, (_, bit)| f | bit);
        id.flags.store(flags, Relaxed);
        id.creator_pid.store(std::process::id(), Relaxed);
        id.slots_offset.store(layout::HEADER_SIZE as u32, Relaxed);
        id.segment_size.store(geometry.segment_size as u64, Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        id.created_unix_ns.store(now, Relaxed);
        // Release: an opener that reads READY with Acquire sees every field
        // above.
        id.init_state.store(INIT_READY, Release);
        futex::wake_all(&id.init_state);
        let mem = match SegmentMemory::attach(seg, geometry, config.lock_timeout) {
            Ok(mem) => mem,
            Err(e) => {
                let _ = segment::unlink(&os_name, name.as_str());
                return Err(e);
            }
        };
        Ok(SharedBuffer {
            name,
            ring: Some(Ring::new(mem)),
            geometry,
            creator: true,
            persist: config.persist,
        })
    }

    /// Attaches to the existing ring `name` and reads its geometry from the
    /// header. Closing an opened handle never removes the ring. Uses a 5 s
    /// lock timeout; see [`open_with_lock_timeout`](Self::open_with_lock_timeout).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], [`Error::NotInitialized`]
    /// (the creator did not finish within 1 s), [`Error::IncompatibleLayout`]
    /// (not a shmring segment, or another layout version, such as a
    /// version-1 segment), [`Error::Untrusted`] (a symbolic link, not a
    /// regular object, or owned by another user), [`Error::CorruptHeader`],
    /// [`Error::Io`] (for example no permission).
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with_lock_timeout(name, Config::default().lock_timeout)
    }

    /// [`open`](Self::open) with the given lock timeout.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with_lock_timeout(name: &str, lock_timeout: Duration) -> Result<Self> {
        Self::open_with_config(name, &Config::default().lock_timeout(lock_timeout))
    }

    /// [`open`](Self::open) with the lock timeout and the trusted owner of
    /// `config` (its geometry, mode and persistence are the creator's
    /// business and ignored here).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with_config(name: &str, config: &Config) -> Result<Self> {
        let lock_timeout = config.lock_timeout;
        let name = RingName::new(name)?;
        let trust = Trust {
            uid: config.trusted_uid,
        };
        let seg = Segment::open(&name.os_name(), name.as_str(), OPEN_WAIT, trust)?;
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
                INIT_PENDING if !deadline.passed() => {
                    let _ = futex::wait(&id.init_state, state, deadline);
                }
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
        let mem = SegmentMemory::attach(seg, geometry, lock_timeout)?;
        Ok(SharedBuffer {
            name,
            ring: Some(Ring::new(mem)),
            geometry,
            creator: false,
            persist,
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

    fn ring(&self) -> Result<&Ring<SegmentMemory>> {
        self.ring.as_ref().ok_or(Error::Closed)
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
        self.ring()?.put(item)
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
        self.ring()?.put_timeout(item, timeout)
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
        self.ring()?.get_timeout(timeout)
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
        self.ring()?.get_into_timeout(buf, timeout)
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
        self.ring()?.put_many(items)
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
    pub fn get_many(&self, max: usize, f: impl FnMut(&[u8])) -> Result<usize> {
        self.ring()?.get_many(max, f)
    }

    /// Writes an item of `len` bytes in place, without a copy: if a slot is
    /// free, calls `write` once with that slot's payload (`len` bytes,
    /// holding whatever the slot held before: write all of it), computes
    /// the item's CRC while the bytes are in cache, and commits. Returns
    /// `Ok(false)` if the ring was full (`write` is not called).
    ///
    /// `write` runs under the producers' lock: other producers wait for it,
    /// consumers do not. If it panics, or the process dies inside it,
    /// nothing is published: only that item is lost.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `len` is over the item size (`write` is not
    /// called). Otherwise as [`put`](Self::put).
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-put-with-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(2, 64))?;
    /// assert!(ring.put_with(5, |slot| slot.copy_from_slice(b"hello"))?);
    /// assert_eq!(ring.get()?.as_deref(), Some(&b"hello"[..]));
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn put_with(&self, len: usize, write: impl FnOnce(&mut [u8])) -> Result<bool> {
        self.ring()?.put_with(len, Duration::ZERO, write)
    }

    /// [`put_with`](Self::put_with), waiting up to `timeout` for a free
    /// slot; `Ok(false)` if the ring was still full at the deadline.
    ///
    /// # Errors
    /// As [`put_with`](Self::put_with).
    pub fn put_with_timeout(
        &self,
        len: usize,
        timeout: Duration,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<bool> {
        self.ring()?.put_with(len, timeout, write)
    }

    /// Writes up to `max` items in place under one acquisition of the
    /// producers' lock, committed together by one store: for each free slot
    /// `write` gets the slot's whole payload (`item_size` bytes) and returns
    /// the length of the item it wrote there, or `None` to stop (that slot
    /// stays free). Returns how many items were stored: 0 if the ring was
    /// full. If `write` panics, or the process dies inside it, nothing of
    /// the batch is published.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `write` returns a length over the item size
    /// (nothing of the batch is published). Otherwise as [`put`](Self::put).
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-put-many-with-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(8, 4))?;
    /// let mut input: &[u8] = b"abcdefghij"; // 10 bytes as items of <= 4
    /// let n = ring.put_many_with(usize::MAX, |slot| {
    ///     let k = input.len().min(slot.len());
    ///     slot[..k].copy_from_slice(&input[..k]);
    ///     input = &input[k..];
    ///     (k > 0).then_some(k)
    /// })?;
    /// assert_eq!((n, ring.len()?), (3, 3));
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn put_many_with(
        &self,
        max: usize,
        write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<usize> {
        self.ring()?.put_many_with(max, write)
    }

    /// [`put_many_with`](Self::put_many_with), waiting up to `timeout` for
    /// a free slot; 0 if the ring was still full at the deadline (`write`
    /// not called).
    ///
    /// # Errors
    /// As [`put_many_with`](Self::put_many_with).
    pub fn put_many_with_timeout(
        &self,
        max: usize,
        timeout: Duration,
        write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<usize> {
        self.ring()?.put_many_with_timeout(max, timeout, write)
    }

    /// Reads the oldest item in place, without a copy: checks its CRC in
    /// the slot, calls `read` with it, then consumes it, and returns what
    /// `read` returned; `None` if the ring is empty.
    ///
    /// `read` runs under the consumers' lock: other consumers wait for it,
    /// producers do not. If it panics, or the process dies inside it, the
    /// item stays in the ring for the next get. The bytes are checked once,
    /// in shared memory: a process that writes the slot outside the ring's
    /// protocol could change them after the check, which a copying
    /// [`get_into`](Self::get_into) rules out.
    ///
    /// # Errors
    /// [`Error::Corrupt`] (the item failed its check and is consumed;
    /// `read` is not called). Otherwise as [`get`](Self::get).
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-get-with-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(2, 64))?;
    /// ring.put(b"hello")?;
    /// assert_eq!(ring.get_with(|item| item.len())?, Some(5));
    /// assert_eq!(ring.get_with(|item| item.len())?, None);
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn get_with<R>(&self, read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.ring()?.get_with(Duration::ZERO, read)
    }

    /// [`get_with`](Self::get_with), waiting up to `timeout` for an item.
    ///
    /// # Errors
    /// As [`get_with`](Self::get_with).
    pub fn get_with_timeout<R>(
        &self,
        timeout: Duration,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        self.ring()?.get_with(timeout, read)
    }

    /// Reads up to `max` items in place, oldest first, under one
    /// acquisition of the consumers' lock, and consumes them with one
    /// store: each item whose CRC checks goes to `read` in its slot, and
    /// `read` returns true to take it or false to stop before it (that
    /// item and the ones after it stay in the ring). Returns how many were
    /// taken (0 if the ring is empty or `read` stopped at once). If `read`
    /// panics, or the process dies inside it, none of the batch is consumed.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the oldest item failed its check: it alone
    /// is consumed (`read` never sees it). A damaged item after good ones
    /// ends the batch before it, and the next call reports it. Otherwise as
    /// [`get`](Self::get).
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-get-many-with-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(4, 8))?;
    /// ring.put_many(&[b"a", b"bc"])?;
    /// let mut out = Vec::new();
    /// let took = ring.get_many_with(10, |item| {
    ///     out.extend_from_slice(item);
    ///     true
    /// })?;
    /// assert_eq!((took, out.as_slice()), (2, &b"abc"[..]));
    /// ring.put_many(&[b"d", b"", b"e"])?;
    /// // Stop before an empty item: it stays, with what follows it.
    /// assert_eq!(ring.get_many_with(10, |item| !item.is_empty())?, 1);
    /// assert_eq!(ring.len()?, 2);
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn get_many_with(&self, max: usize, read: impl FnMut(&[u8]) -> bool) -> Result<usize> {
        self.ring()?.get_many_with(max, read)
    }

    /// [`get_many_with`](Self::get_many_with), waiting up to `timeout` for
    /// an item; 0 if the ring was still empty at the deadline.
    ///
    /// # Errors
    /// As [`get_many_with`](Self::get_many_with).
    pub fn get_many_with_timeout(
        &self,
        max: usize,
        timeout: Duration,
        read: impl FnMut(&[u8]) -> bool,
    ) -> Result<usize> {
        self.ring()?.get_many_with_timeout(max, timeout, read)
    }

    /// This handle's session token, `1..=2^31-1`: unique among the live
    /// handles of this ring (in every process), for as long as this handle
    /// is open. Another process can ask whether it is still open with
    /// [`session_alive`](Self::session_alive), for example to learn that
    /// the producer of a stream died (a stream's header can carry it).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn session(&self) -> Result<u32> {
        Ok(self.ring()?.memory().token)
    }

    /// Whether the handle whose [`session`](Self::session) is `token` is
    /// still open, as the kernel sees it: false once it was closed or its
    /// process died, however it died (its open-file-description lock is
    /// gone; see `specs/layout.md`, "Sessions"). Pids play no part, so pid
    /// reuse and pid namespaces cannot fool it. A token no handle ever
    /// drew, or 0, is not alive.
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer};
    /// # let name = format!("doc-session-{}", std::process::id());
    /// let a = SharedBuffer::create(&name, Config::new(4, 16))?;
    /// let b = SharedBuffer::open(&name)?;
    /// let token = b.session()?;
    /// assert!(a.session_alive(token)?);
    /// drop(b);
    /// assert!(!a.session_alive(token)?);
    /// # Ok::<(), shmring::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`], [`Error::Io`] (the kernel refused the query).
    pub fn session_alive(&self, token: u32) -> Result<bool> {
        let mem = self.ring()?.memory();
        if token == 0 || token > layout::MAX_TOKEN {
            return Ok(false);
        }
        lock::alive(mem.seg.fd(), mem.token, token)
    }

    /// Items stored now. Takes no lock (a consistent reading of `head` and
    /// `tail`), unless the indices keep moving under it, which is rare.
    ///
    /// # Errors
    /// [`Error::Closed`], [`Error::CorruptHeader`] (the indices break the
    /// ring's invariant), [`Error::LockTimeout`] (only on the rare locked
    /// path).
    pub fn len(&self) -> Result<usize> {
        self.ring()?.len()
    }

    /// Whether the ring holds no item.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A snapshot of the ring's indices and counters. It takes no lock, so
    /// it never waits for a producer or consumer that holds one (see
    /// [`Stats`]).
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn stats(&self) -> Result<Stats> {
        let ring = self.ring()?;
        let h = ring.memory().header();
        let k = &h.counters.0;
        ring.snapshot(|head, tail| Stats {
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
            late_wakeups: k.late_wakeups.load(Relaxed),
            sleeps: k.sleeps.load(Relaxed),
            last_recovery_pid: k.last_recovery_pid.load(Relaxed),
            waiting_consumers: crate::waiters::count(h.producer.0.get_waiters.load(Relaxed)),
            waiting_producers: crate::waiters::count(h.consumer.0.put_waiters.load(Relaxed)),
            creator_pid: h.id.0.creator_pid.load(Relaxed),
            persist: self.persist,
            single_producer: ring.memory().single[0],
            single_consumer: ring.memory().single[1],
            created_unix_ns: h.id.0.created_unix_ns.load(Relaxed),
        })
    }

    /// Test hook (`corrupt` feature): flips one bit of the oldest item
    /// as stored (its first payload byte, or its CRC for a 0-byte item), so
    /// that the next get reports [`Error::Corrupt`]. Returns false if the
    /// ring is empty. For checking integrity checks, such as a conformance
    /// suite's `corrupt` operation.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    #[cfg(feature = "corrupt")]
    pub fn corrupt_oldest(&self) -> Result<bool> {
        self.ring()?.corrupt_oldest()
    }

    /// Detaches from the ring. If this handle created it and it does not
    /// persist, the name is removed (a ring already removed by someone else
    /// is not an error). Later operations fail with [`Error::Closed`].
    ///
    /// # Errors
    /// [`Error::Closed`] if already closed; [`Error::Io`] if the name could
    /// not be removed.
    pub fn close(&mut self) -> Result<()> {
        let ring = self.ring.take().ok_or(Error::Closed)?;
        drop(ring);
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
        if self.ring.is_some() {
            let _ = self.close();
        }
    }
}
