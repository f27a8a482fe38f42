//! The simple ring: a handle on a [`Segment`] and the ring operations.
//! Every deviation from the correct ring is a branch on [`Fault`], marked
//! with a `// FAULT <name>:` comment.

use super::crc32::crc32;
use super::segment::{self, Created, Geometry, Segment, Word, SLOT_PREFIX};
use super::Fault;
use crate::driver::{DriverError, Ring};
use crate::protocol::{monotonic_ns, ErrorCode};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::thread::{sleep, yield_now};
use std::time::{Duration, Instant};

/// How long an op waits for the ring lock before it gives up (`internal`).
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// Sleep between two failed lock attempts.
const LOCK_POLL: Duration = Duration::from_micros(50);
/// Sleep between two looks at the ring in `put_wait` / `get_wait`.
const WAIT_POLL: Duration = Duration::from_micros(100);
/// A lock attempt failed less than this long ago: someone is waiting.
const CONTENDED_WINDOW_NS: u64 = 1_000_000;
/// How long a newcomer steps back when someone is waiting (longer than
/// [`LOCK_POLL`] plus timer slack), so that a process (or thread) that
/// releases and at once re-takes the lock cannot starve the others.
const COURTESY: Duration = Duration::from_micros(150);
/// The widened critical section of `publish-before-write` and
/// `non-robust-lock`: long enough that a SIGKILL at a random instant of a
/// batch of ops lands inside the lock most of the time.
const CRITICAL_WORK: Duration = Duration::from_micros(200);
/// What `slow` sleeps inside the lock on every op.
pub(super) const SLOW_OP: Duration = Duration::from_micros(200);
/// `no-wakeup`: how long its waits watch the ring before they park
/// unwatched. Short enough that a put or get 50 ms into a wait does not
/// wake it; long enough that the busy handoffs of the concurrency cases
/// (a slot or item freed within milliseconds) do not each cost a whole
/// timeout.
const NO_WAKEUP_WATCH: Duration = Duration::from_millis(10);
/// `ignores-timeout`: the floor of its (wrong) wait.
const IGNORED_TIMEOUT_FLOOR: Duration = Duration::from_secs(30);
/// The geometry `open-creates` gives a ring it should not have created.
pub(super) const OPEN_CREATES_GEOMETRY: (u64, u64) = (10, 64);

/// A handle on a faulty ring (one `create` or `open`).
pub struct FaultyRing {
    fault: Fault,
    /// `None` once closed.
    inner: Option<Inner>,
    /// The name in `/dev/shm`.
    os_name: String,
    /// This handle made the segment and has not removed the name yet.
    owner: bool,
}

impl std::fmt::Debug for FaultyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyRing")
            .field("fault", &self.fault)
            .field("os_name", &self.os_name)
            .field("owner", &self.owner)
            .field("attached", &self.inner.is_some())
            .finish()
    }
}

struct Inner {
    seg: Segment,
    /// Excludes the threads of this process that share `seg`'s descriptor
    /// (`flock` does not: the lock belongs to the open file description).
    local: Mutex<LocalLock>,
}

#[derive(Default)]
struct LocalLock {
    /// FAULT lock-leak-on-error: set by the error path that forgot to
    /// unlock; from then on this handle never releases the `flock`, which
    /// stays held until the descriptor closes (close or process exit).
    flock_leaked: bool,
}

/// What a [`Guard`] holds besides the in-process mutex.
enum Held {
    Flock,
    Spin,
    Nothing,
}

/// The ring lock, released on drop: first the process-wide lock (`flock`
/// or, for `non-robust-lock`, the spin word), then the in-process mutex.
struct Guard<'a> {
    seg: &'a Segment,
    held: Held,
    local: Option<MutexGuard<'a, LocalLock>>,
}

impl Guard<'_> {
    /// FAULT lock-leak-on-error: the early return forgets the unlock.
    fn leak_flock(&mut self) {
        if let Some(local) = self.local.as_mut() {
            local.flock_leaked = true;
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        match self.held {
            Held::Flock => {
                if !self.local.as_ref().is_some_and(|l| l.flock_leaked) {
                    self.seg.unflock();
                }
            }
            Held::Spin => self.seg.word(Word::SpinLock).store(0, Ordering::Release),
            Held::Nothing => {}
        }
        // `local` (the mutex guard) is dropped after this body.
    }
}

fn err(code: ErrorCode, message: impl Into<String>) -> DriverError {
    DriverError::new(code, message)
}

fn closed() -> DriverError {
    err(ErrorCode::Closed, "the ring was closed")
}

fn too_large(len: usize, item_size: usize) -> DriverError {
    err(
        ErrorCode::TooLarge,
        format!("{len} bytes do not fit an item of {item_size} bytes"),
    )
}

/// Spins (burning CPU, as real work inside a lock does) for `d`.
fn busy_wait(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// `timeout` from now, saturating (at tens of thousands of years).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(1 << 40))
}

/// One failed lock attempt: announce the contention, give up past
/// `deadline`, else sleep a little.
fn lock_backoff(seg: &Segment, deadline: Instant) -> Result<(), DriverError> {
    seg.word(Word::ContendedAt)
        .store(monotonic_ns(), Ordering::Relaxed);
    if Instant::now() >= deadline {
        return Err(err(
            ErrorCode::Internal,
            format!(
                "ring lock not acquired within {LOCK_TIMEOUT:?} \
                 (held by someone who does not release it?)"
            ),
        ));
    }
    sleep(LOCK_POLL);
    Ok(())
}

impl Inner {
    /// Takes the ring lock, giving up after [`LOCK_TIMEOUT`] (`internal`).
    fn lock(&self, fault: Fault) -> Result<Guard<'_>, DriverError> {
        let seg = &self.seg;
        if fault == Fault::Unlocked {
            // FAULT unlocked: no lock at all around the index updates.
            return Ok(Guard {
                seg,
                held: Held::Nothing,
                local: None,
            });
        }
        let deadline = Instant::now() + LOCK_TIMEOUT;
        let last_contended = seg.word(Word::ContendedAt).load(Ordering::Relaxed);
        if monotonic_ns().saturating_sub(last_contended) < CONTENDED_WINDOW_NS {
            sleep(COURTESY);
        }
        let local = loop {
            match self.local.try_lock() {
                Ok(g) => break g,
                Err(TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(TryLockError::WouldBlock) => lock_backoff(seg, deadline)?,
            }
        };
        let held = if fault == Fault::NonRobustLock {
            // FAULT non-robust-lock: a spin-lock word in the segment (CAS
            // 0 -> pid, release stores 0) instead of the flock. Nobody
            // checks whether the holder still lives: a process killed
            // inside the lock wedges every other process until their
            // lock timeout.
            let pid = u64::from(std::process::id());
            let word = seg.word(Word::SpinLock);
            while word
                .compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                lock_backoff(seg, deadline)?;
            }
            Held::Spin
        } else {
            while !seg.try_flock()? {
                lock_backoff(seg, deadline)?;
            }
            Held::Flock
        };
        Ok(Guard {
            seg,
            held,
            local: Some(local),
        })
    }
}

impl FaultyRing {
    /// Creates and owns the ring `name`.
    pub(super) fn create(
        fault: Fault,
        name: &str,
        capacity: u64,
        item_size: u64,
    ) -> Result<FaultyRing, DriverError> {
        let os_name = segment::os_name(name)?;
        let geo = Geometry::new(capacity, item_size).map_err(|m| err(ErrorCode::Invalid, m))?;
        match Segment::create(&os_name, geo)? {
            Created::New(seg) => Ok(FaultyRing {
                fault,
                inner: Some(Inner {
                    seg,
                    local: Mutex::default(),
                }),
                os_name,
                owner: true,
            }),
            Created::Exists => Err(err(
                ErrorCode::Exists,
                format!("ring {name:?} exists (/dev/shm/{os_name})"),
            )),
        }
    }

    /// Attaches to the ring `name`: the handle, capacity and item size.
    pub(super) fn open(fault: Fault, name: &str) -> Result<(FaultyRing, u64, u64), DriverError> {
        let os_name = segment::os_name(name)?;
        let seg = match Segment::open(&os_name) {
            Ok(seg) => seg,
            Err(e) if e.code == ErrorCode::NotFound && fault == Fault::OpenCreates => {
                // FAULT open-creates: open falls back to creating the ring
                // (O_CREAT without O_EXCL, in effect) with a default
                // geometry instead of reporting not_found.
                let (capacity, item_size) = OPEN_CREATES_GEOMETRY;
                match FaultyRing::create(fault, name, capacity, item_size) {
                    Ok(ring) => return Ok((ring, capacity, item_size)),
                    Err(e) if e.code == ErrorCode::Exists => Segment::open(&os_name)?,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let geo = seg.geometry();
        let ring = FaultyRing {
            fault,
            inner: Some(Inner {
                seg,
                local: Mutex::default(),
            }),
            os_name,
            owner: false,
        };
        Ok((ring, geo.capacity, geo.item_size as u64))
    }

    /// Whether another descriptor could take the flock right now (taken
    /// and released again to find out).
    #[cfg(test)]
    pub(super) fn lock_is_free(&self) -> bool {
        let seg = &self.inner.as_ref().expect("attached").seg;
        let free = seg.try_flock().expect("flock");
        if free {
            seg.unflock();
        }
        free
    }

    fn attached(&self) -> Result<&Inner, DriverError> {
        self.inner.as_ref().ok_or_else(closed)
    }

    /// The largest fill the ring admits.
    fn fill_limit(&self, geo: Geometry) -> u64 {
        if self.fault == Fault::CapacityPlusOne {
            // FAULT capacity-plus-one: the full test is `len > capacity`
            // where it should be `len >= capacity`.
            geo.capacity + 1
        } else {
            geo.capacity
        }
    }

    /// `(head, tail)`, checked: `tail - head` must be a possible fill.
    fn indices(&self, seg: &Segment) -> Result<(u64, u64), DriverError> {
        let head = seg.word(Word::Head).load(Ordering::Acquire);
        let tail = seg.word(Word::Tail).load(Ordering::Acquire);
        let limit = self.fill_limit(seg.geometry());
        if tail.wrapping_sub(head) > limit {
            return Err(err(
                ErrorCode::Internal,
                format!("ring indices corrupt: head {head}, tail {tail}, limit {limit}"),
            ));
        }
        Ok((head, tail))
    }

    /// A hint, read without the lock: could a get succeed now?
    fn may_get(seg: &Segment) -> bool {
        let head = seg.word(Word::Head).load(Ordering::Relaxed);
        seg.word(Word::Tail).load(Ordering::Relaxed) != head
    }

    /// A hint, read without the lock: could a put succeed now?
    fn may_put(&self, seg: &Segment) -> bool {
        let head = seg.word(Word::Head).load(Ordering::Relaxed);
        let tail = seg.word(Word::Tail).load(Ordering::Relaxed);
        tail.wrapping_sub(head) < self.fill_limit(seg.geometry())
    }

    /// How a wait of `timeout` is spent: `(watched, None)` for a correct
    /// ring (the whole wait watches the ring).
    ///
    /// FAULT no-wakeup: a two-phase wait whose second phase is never
    /// woken: the ring is watched for the first [`NO_WAKEUP_WATCH`], then
    /// the waiter parks for the rest of the timeout (the waker never learns
    /// that someone is parked) and tries once more at the deadline. A
    /// put or get more than 10 ms into the wait does not wake it.
    fn no_wakeup_split(&self, timeout: Duration) -> (Duration, Option<Duration>) {
        if self.fault == Fault::NoWakeup && timeout > NO_WAKEUP_WATCH {
            (NO_WAKEUP_WATCH, Some(timeout - NO_WAKEUP_WATCH))
        } else {
            (timeout, None)
        }
    }

    /// Work that every op does inside the lock (none, for most faults).
    fn locked_work(&self) {
        match self.fault {
            // `slow` (correct): sleeps SLOW_OP inside the lock on every op.
            Fault::Slow => sleep(SLOW_OP),
            // FAULT non-robust-lock: a long critical section, so that a
            // random kill lands inside it.
            Fault::NonRobustLock => busy_wait(CRITICAL_WORK),
            _ => {}
        }
    }
}

impl Ring for FaultyRing {
    fn put(&self, data: &[u8]) -> Result<bool, DriverError> {
        let inner = self.attached()?;
        let seg = &inner.seg;
        let geo = seg.geometry();
        let mut data = data;
        if data.len() > geo.item_size {
            match self.fault {
                // FAULT oversize-truncates: keeps the first item_size bytes
                // and reports success.
                Fault::OversizeTruncates => data = &data[..geo.item_size],
                // FAULT lock-leak-on-error: the size is checked inside the
                // lock, below.
                Fault::LockLeakOnError => {}
                _ => return Err(too_large(data.len(), geo.item_size)),
            }
        }
        let mut guard = inner.lock(self.fault)?;
        if data.len() > geo.item_size {
            // FAULT lock-leak-on-error: this error return skips the unlock;
            // the flock stays held by this process (its own later ops still
            // get through, every other process times out on the lock).
            guard.leak_flock();
            return Err(too_large(data.len(), geo.item_size));
        }
        self.locked_work();
        let (head, tail) = self.indices(seg)?;
        if self.fault == Fault::Unlocked {
            // FAULT unlocked: read-modify-write of the indices with nothing
            // held; the yield widens the window, as a preemption would.
            yield_now();
        }
        if tail.wrapping_sub(head) >= self.fill_limit(geo) {
            if self.fault != Fault::OverwriteWhenFull {
                return Ok(false);
            }
            // FAULT overwrite-when-full: drops the oldest item to make room
            // and reports stored: true.
            seg.word(Word::Head).store(head + 1, Ordering::Release);
        }
        let slot = if self.fault == Fault::WrapLosesSlot && tail >= geo.capacity {
            // FAULT wrap-loses-slot: once the indices have wrapped, put
            // computes the slot one too far (get still uses tail %
            // capacity correctly), so items written after the first full
            // cycle land in the wrong slot.
            tail + 1
        } else {
            tail
        };
        // data.len() <= item_size <= u32::MAX (Geometry::new).
        let len = data.len() as u32;
        let crc = crc32(data);
        if self.fault == Fault::PublishBeforeWrite {
            // FAULT publish-before-write: the tail is advanced first and the
            // payload copied after it, in two halves with a long stretch of
            // work between them: a process killed in between leaves a
            // published, torn item that the others then read.
            seg.word(Word::Tail).store(tail + 1, Ordering::Release);
            seg.write_prefix(slot, len, crc);
            let half = data.len() / 2;
            seg.write_payload(slot, 0, &data[..half]);
            yield_now();
            busy_wait(CRITICAL_WORK);
            seg.write_payload(slot, half, &data[half..]);
        } else {
            // Correct commit: slot first, then the index that publishes it.
            seg.write_prefix(slot, len, crc);
            seg.write_payload(slot, 0, data);
            seg.word(Word::Tail).store(tail + 1, Ordering::Release);
        }
        drop(guard);
        Ok(true)
    }

    fn get(&self) -> Result<Option<Vec<u8>>, DriverError> {
        let inner = self.attached()?;
        let seg = &inner.seg;
        let geo = seg.geometry();
        let guard = inner.lock(self.fault)?;
        self.locked_work();
        let (head, tail) = self.indices(seg)?;
        if head == tail {
            return Ok(None);
        }
        if self.fault == Fault::Unlocked {
            // FAULT unlocked: as in put, nothing keeps another consumer
            // from taking the same item meanwhile.
            yield_now();
        }
        let (index, word, next) = if self.fault == Fault::Lifo {
            // FAULT lifo: takes the newest item (tail - 1), a stack.
            (tail - 1, Word::Tail, tail - 1)
        } else {
            (head, Word::Head, head + 1)
        };
        let consume = || seg.word(word).store(next, Ordering::Release);
        let (len, crc) = seg.read_prefix(index);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > geo.item_size {
            consume();
            return Err(err(
                ErrorCode::Corrupt,
                format!(
                    "item {index}: stored length {len} exceeds item_size {}",
                    geo.item_size
                ),
            ));
        }
        let data = seg.read_payload(index, len);
        // FAULT no-checksum: checksum and corrupt are declared, the CRC is
        // written by put, but get never verifies it.
        if self.fault != Fault::NoChecksum && crc32(&data) != crc {
            if self.fault != Fault::CorruptStalls {
                consume();
            }
            // FAULT corrupt-stalls: detects the bad item but does not
            // consume it, so every later get reports corrupt again.
            return Err(err(
                ErrorCode::Corrupt,
                format!("item {index} failed its CRC32 check"),
            ));
        }
        consume();
        drop(guard);
        if self.fault == Fault::ZeroByteIsNull && data.is_empty() {
            // FAULT zero-byte-is-null: a stored 0-byte item (consumed
            // above) comes back as "no item".
            return Ok(None);
        }
        Ok(Some(data))
    }

    fn len(&self) -> Result<u64, DriverError> {
        let inner = self.attached()?;
        let _guard = inner.lock(self.fault)?;
        self.locked_work();
        let (head, tail) = self.indices(&inner.seg)?;
        Ok(tail.wrapping_sub(head))
    }

    fn close(&mut self) -> Result<(), DriverError> {
        let inner = self.inner.take().ok_or_else(closed)?;
        if self.owner {
            if self.fault == Fault::CloseKeepsName {
                // FAULT close-keeps-name: close only detaches and the name
                // is never removed: the segment leaks.
                self.owner = false;
            } else {
                segment::unlink(&self.os_name);
                self.owner = false;
            }
        }
        drop(inner);
        Ok(())
    }

    fn put_wait(&self, data: &[u8], timeout: Duration) -> Result<bool, DriverError> {
        let inner = self.attached()?;
        let (timeout, rest) = self.no_wakeup_split(timeout);
        let deadline = deadline_after(timeout);
        loop {
            if self.put(data)? {
                return Ok(true);
            }
            loop {
                let now = Instant::now();
                if now >= deadline {
                    if let Some(rest) = rest {
                        // FAULT no-wakeup: park unwatched until the deadline.
                        sleep(rest);
                        return self.put(data);
                    }
                    return Ok(false);
                }
                sleep(WAIT_POLL.min(deadline - now));
                if self.may_put(&inner.seg) {
                    break;
                }
            }
        }
    }

    fn get_wait(&self, timeout: Duration) -> Result<Option<Vec<u8>>, DriverError> {
        let inner = self.attached()?;
        let (timeout, rest) = self.no_wakeup_split(timeout);
        let timeout = if self.fault == Fault::IgnoresTimeout {
            // FAULT ignores-timeout: the timeout is scaled with the wrong
            // unit (x10) and floored at 30 s, so a get_wait on an empty ring
            // overstays its deadline.
            timeout
                .checked_mul(10)
                .unwrap_or(Duration::MAX)
                .max(IGNORED_TIMEOUT_FLOOR)
        } else {
            timeout
        };
        let deadline = deadline_after(timeout);
        loop {
            if let Some(item) = self.get()? {
                return Ok(Some(item));
            }
            loop {
                let now = Instant::now();
                if now >= deadline {
                    if let Some(rest) = rest {
                        // FAULT no-wakeup: park unwatched until the deadline.
                        sleep(rest);
                        return self.get();
                    }
                    return Ok(None);
                }
                sleep(WAIT_POLL.min(deadline - now));
                if FaultyRing::may_get(&inner.seg) {
                    break;
                }
            }
        }
    }

    fn corrupt(&self) -> Result<(), DriverError> {
        let inner = self.attached()?;
        let seg = &inner.seg;
        let _guard = inner.lock(self.fault)?;
        self.locked_work();
        let (head, tail) = self.indices(seg)?;
        if head == tail {
            return Err(err(ErrorCode::Invalid, "corrupt on an empty ring"));
        }
        let (len, _) = seg.read_prefix(head);
        // The first payload byte; a 0-byte item has none, so its CRC.
        let offset = if len > 0 { SLOT_PREFIX } else { 4 };
        seg.flip_bit(head, offset);
        Ok(())
    }
}

impl Drop for FaultyRing {
    fn drop(&mut self) {
        if self.owner {
            segment::unlink(&self.os_name);
        }
    }
}
