//! Geometry and options of a ring to create.

use std::time::Duration;

/// What [`SharedBuffer::create`](crate::SharedBuffer::create) makes.
///
/// `Config::default()` is the original design's geometry: 10 items of at
/// most 64 bytes, mode `0o600`, removed when its creator closes, a 5 s lock
/// timeout.
///
/// ```
/// use shmring::Config;
/// let c = Config::new(256, 65536).mode(0o640).persist(true);
/// assert_eq!((c.capacity, c.item_size), (256, 65536));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of slots, items, `1..=`[`MAX_CAPACITY`](crate::MAX_CAPACITY).
    pub capacity: u32,
    /// Largest item, bytes, `1..=`[`MAX_ITEM_SIZE`](crate::MAX_ITEM_SIZE).
    pub item_size: u32,
    /// Permission bits of the segment (`0o600` by default); applied exactly,
    /// whatever the umask.
    pub mode: u32,
    /// Keep the segment after the creator closes or exits (removed by
    /// [`SharedBuffer::remove`](crate::SharedBuffer::remove) or `shmring rm`).
    pub persist: bool,
    /// Longest wait for a side's lock in the calls without a timeout of
    /// their own (`put`, `get`, the batches, `len`'s rare locked path); the
    /// `*_timeout` calls wait for a lock until their own deadline, but at
    /// least 100 ms. A live process that holds the lock longer (it was
    /// stopped, say) makes the call fail with
    /// [`Error::LockTimeout`](crate::Error::LockTimeout); a dead one is
    /// taken over within one 50 ms nap.
    pub lock_timeout: Duration,
    /// A user, besides this process's effective uid, whose segments
    /// [`SharedBuffer::open_with_config`](crate::SharedBuffer::open_with_config)
    /// accepts (`None` by default: a segment owned by anyone else is
    /// refused with [`Error::Untrusted`](crate::Error::Untrusted)).
    pub trusted_uid: Option<u32>,
    /// One producer at a time (`false` by default): the first thread to put
    /// through a handle takes the producers' lock for that handle and keeps
    /// it until the handle closes or its process dies, so its puts take no
    /// lock at all; a put by any other handle, or by another thread of the
    /// same handle, fails with [`Error::RoleTaken`](crate::Error::RoleTaken)
    /// while it holds the role. When the holding thread exits without
    /// closing the handle, the next thread of that handle to put takes the
    /// role over. Stored in the segment: every handle of the ring follows
    /// it.
    pub single_producer: bool,
    /// One consumer at a time, as [`single_producer`](Self::single_producer)
    /// for gets.
    pub single_consumer: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            capacity: 10,
            item_size: 64,
            mode: 0o600,
            persist: false,
            lock_timeout: Duration::from_secs(5),
            trusted_uid: None,
            single_producer: false,
            single_consumer: false,
        }
    }
}

impl Config {
    /// `capacity` items of at most `item_size` bytes; other fields default.
    pub fn new(capacity: u32, item_size: u32) -> Self {
        Config {
            capacity,
            item_size,
            ..Config::default()
        }
    }

    /// Sets the permission bits of the segment.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Keeps the segment after its creator closes.
    pub fn persist(mut self, persist: bool) -> Self {
        self.persist = persist;
        self
    }

    /// Sets the lock timeout.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Makes the ring single-producer and single-consumer: each role is
    /// held by one thread of one handle for as long as the handle is open (see
    /// [`single_producer`](Self::single_producer)), which takes the locks
    /// off the data path. For one producer process and one consumer
    /// process, the case of streams.
    ///
    /// ```
    /// # use shmring::{Config, SharedBuffer, Error};
    /// # let name = format!("doc-spsc-{}", std::process::id());
    /// let ring = SharedBuffer::create(&name, Config::new(8, 64).single_roles())?;
    /// assert!(ring.put(b"mine")?);
    /// let other = SharedBuffer::open(&name)?;
    /// assert!(matches!(other.put(b"too"), Err(Error::RoleTaken { .. })));
    /// assert_eq!(other.get()?.as_deref(), Some(&b"mine"[..]));
    /// # Ok::<(), shmring::Error>(())
    /// ```
    pub fn single_roles(mut self) -> Self {
        self.single_producer = true;
        self.single_consumer = true;
        self
    }

    /// Trusts segments owned by `uid` as well as by this process's own
    /// effective uid when opening.
    pub fn trust_uid(mut self, uid: u32) -> Self {
        self.trusted_uid = Some(uid);
        self
    }
}
