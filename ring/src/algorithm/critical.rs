//! The critical section of each operation: what runs under one side's
//! lock, from the index check to the commit and the wake.

#[cfg(any(loom, shuttle))]
use super::Fault;
use super::{item_crc, Blocked, Copied, Counter, KillPoint, LockWait, Ring, RingMemory, Side};
use crate::error::{Error, Result};
#[cfg(feature = "corrupt")]
use crate::layout;
use crate::sync::AtomicWord;
use std::sync::atomic::Ordering::{Relaxed, Release};

impl<M: RingMemory> Ring<M> {
    /// One put attempt, the whole critical section: `fill` writes the
    /// payload of the free slot (given its sequence number) and returns its
    /// length and CRC; it is called only if a slot is free.
    pub(super) fn try_put(
        &self,
        wait: LockWait<M::Deadline>,
        fill: impl FnOnce(&Self, u64) -> Result<(u32, u32), M::Error>,
    ) -> Result<std::result::Result<(), Blocked>, M::Error> {
        let guard = self.lock(Side::Producer, wait)?;
        let m = &self.mem;
        let tail = m.tail().load(Relaxed);
        if let Err(blocked) = self.free_slots(tail, 1)? {
            m.count(Counter::FullRefusal);
            return Ok(Err(blocked));
        }
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::PublishBeforeWrite) {
            m.tail().store(tail + 1, Release);
            drop(guard);
            self.signal_consumers();
            // Not owned any more: this seeded fault races on purpose, and
            // `RingMemory::fault` returns it only where that is no data
            // race in the program (loom, shuttle).
            let (len, crc) = fill(self, tail)?;
            // SAFETY: as just said, a deliberate race of a model only.
            unsafe { m.write_prefix(tail, len, crc) };
            return Ok(Ok(()));
        }
        let (len, crc) = fill(self, tail)?;
        // SAFETY: the producers' lock is held and `tail` is free
        // (`free_slots` read `head` with Acquire).
        unsafe { m.write_prefix(tail, len, crc) };
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::WakeBeforeCommit) {
            self.signal_consumers();
            m.tail().store(tail + 1, Release);
            return Ok(Ok(()));
        }
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::CommitOutsideLock) {
            drop(guard);
            m.tail().store(tail + 1, Release);
            self.signal_consumers();
            return Ok(Ok(()));
        }
        // Commit. Release: a consumer that reads this tail with Acquire
        // sees the slot complete.
        m.tail().store(tail + 1, Release);
        m.at(KillPoint::PutCommitted)?;
        drop(guard);
        self.signal_consumers();
        // The next put writes slot `tail + 1`; if the cached head shows it
        // free (and not the last free one, which a consumer may be reading
        // its way towards), start taking its lines now. A hint only: the
        // cached head, read here after the unlock, may be stale (it only
        // grows, so it errs towards no prefetch).
        let cached = self.cached_head.load(Relaxed);
        // `tail - cached <= capacity <= 2^24` whenever `cached <= tail`, so
        // the sum cannot overflow, whatever a hostile segment held.
        if tail.checked_sub(cached).is_some_and(|d| d + 2 < self.cap()) {
            m.prefetch_for_write(tail + 1);
        }
        Ok(Ok(()))
    }

    /// Writes `item` into slot `seq` (owned by the caller, which holds the
    /// producers' lock), with the kill point half-way.
    pub(super) fn copy_in(&self, seq: u64, item: &[u8]) -> Result<(), M::Error> {
        let half = item.len() / 2;
        // SAFETY: the caller (`try_put`'s fill) holds the producers' lock
        // and owns slot `seq`.
        unsafe {
            self.mem
                .with_payload_mut(seq, 0, half, |dst| dst.copy_from_slice(&item[..dst.len()]));
        }
        self.mem.at(KillPoint::PutHalfWritten)?;
        // SAFETY: as above.
        unsafe {
            self.mem
                .with_payload_mut(seq, half, item.len() - half, |dst| {
                    dst.copy_from_slice(&item[half..half + dst.len()])
                });
        }
        Ok(())
    }

    /// One get attempt, the whole critical section: copies the oldest item
    /// into `buf` and consumes it. `Blocked(tail)` if empty.
    pub(super) fn try_get(
        &self,
        buf: &mut [u8],
        wait: LockWait<M::Deadline>,
    ) -> Result<std::result::Result<Copied, Blocked>, M::Error> {
        let guard = self.lock(Side::Consumer, wait)?;
        let m = &self.mem;
        let head = m.head().load(Relaxed);
        if let Err(blocked) = self.stored_items(head, 1)? {
            m.count(Counter::EmptyGet);
            return Ok(Err(blocked));
        }
        // SAFETY: the consumers' lock is held and `head` is below `tail`
        // as read with Acquire (`stored_items`).
        let (len, crc) = unsafe { m.read_prefix(head) };
        let len = len as usize;
        if len > self.item_size() {
            // An impossible length: the slot is damaged. Consume it so the
            // items behind it stay reachable.
            m.count(Counter::CorruptItem);
            m.head().store(head + 1, Release);
            drop(guard);
            self.signal_producers();
            return Err(self
                .corrupt(head, "stored length exceeds the item size")
                .into());
        }
        if len > buf.len() {
            return Err(Error::BufferTooSmall {
                len: buf.len(),
                needed: len,
            }
            .into());
        }
        #[cfg(any(loom, shuttle))]
        if self.faulty(Fault::CommitBeforeCopy) {
            m.head().store(head + 1, Release);
            drop(guard);
            self.signal_producers();
            // SAFETY: not owned any more: a deliberate race of a model only
            // (see `Fault`).
            unsafe { m.with_payload(head, len, |src| buf[..len].copy_from_slice(src)) };
            return Ok(Ok((len, crc, head)));
        }
        // SAFETY: as for read_prefix.
        unsafe { m.with_payload(head, len, |src| buf[..len].copy_from_slice(src)) };
        m.at(KillPoint::GetCopied)?;
        // Commit. Release: a producer that reads this head with Acquire
        // overwrites the slot only after the copy above.
        m.head().store(head + 1, Release);
        drop(guard);
        self.signal_producers();
        Ok(Ok((len, crc, head)))
    }

    /// Calls the pending `write` (if any) on slot `seq`'s first `len`
    /// payload bytes and returns their item CRC. The caller owns the slot
    /// as a producer.
    pub(super) fn fill_slot(
        &self,
        seq: u64,
        len: usize,
        write: &mut Option<impl FnOnce(&mut [u8])>,
    ) -> u32 {
        // SAFETY: the callers (attempts of `try_put` or `put_many_with`)
        // hold the producers' lock and own slot `seq`.
        unsafe {
            self.mem.with_payload_mut(seq, 0, len, |dst| {
                if let Some(w) = write.take() {
                    w(dst);
                }
                item_crc(dst)
            })
        }
    }

    /// The critical section of the in-place batch put: up to `max` (at
    /// least 1) items. `Blocked(head)` if the ring is full.
    pub(super) fn try_put_many(
        &self,
        max: usize,
        wait: LockWait<M::Deadline>,
        mut write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<std::result::Result<usize, Blocked>, M::Error> {
        let guard = self.lock(Side::Producer, wait)?;
        let m = &self.mem;
        let tail = m.tail().load(Relaxed);
        let free = match self.free_slots(tail, max as u64)? {
            Ok(free) => free,
            Err(blocked) => {
                m.count(Counter::FullRefusal);
                return Ok(Err(blocked));
            }
        };
        let size = self.item_size();
        let mut n = 0u64;
        while n < free.min(max as u64) {
            let seq = tail + n;
            // SAFETY: the producers' lock is held and `seq` is below the
            // free limit `free_slots` computed from an Acquire read.
            let len = unsafe { m.with_payload_mut(seq, 0, size, &mut write) };
            let Some(len) = len else { break };
            self.check_len(len)?;
            // SAFETY: as above.
            let crc = unsafe { m.with_payload_mut(seq, 0, len, |b| item_crc(b)) };
            // SAFETY: as above.
            unsafe { m.write_prefix(seq, len as u32, crc) };
            n += 1;
            if n == 1 {
                // Written but not published: a death here loses the batch.
                m.at(KillPoint::PutHalfWritten)?;
            }
        }
        if n > 0 {
            m.tail().store(tail + n, Release);
            m.at(KillPoint::PutCommitted)?;
        }
        drop(guard);
        if n > 0 {
            self.signal_consumers();
        }
        Ok(Ok(n as usize))
    }

    /// The critical section of the in-place gets: up to `max` (at least 1)
    /// items, each checked and passed to `read` in its slot until `read`
    /// returns false, consumed by one store. `Blocked(tail)` if empty.
    pub(super) fn take_in_place(
        &self,
        max: usize,
        wait: LockWait<M::Deadline>,
        mut read: impl FnMut(&[u8]) -> bool,
    ) -> Result<std::result::Result<usize, Blocked>, M::Error> {
        let guard = self.lock(Side::Consumer, wait)?;
        let m = &self.mem;
        let head = m.head().load(Relaxed);
        let n = match self.stored_items(head, max as u64)? {
            Ok(n) => n.min(max as u64),
            Err(blocked) => {
                m.count(Counter::EmptyGet);
                return Ok(Err(blocked));
            }
        };
        let item_size = self.item_size();
        let mut first_bad = None;
        let mut taken = 0;
        while taken < n {
            let seq = head + taken;
            // SAFETY: the consumers' lock is held and `seq` is below `tail`
            // as read with Acquire (`stored_items`).
            let (len, crc) = unsafe { m.read_prefix(seq) };
            let len = len as usize;
            // None: damaged; Some(false): `read` stopped before this item.
            let verdict = if len <= item_size {
                // SAFETY: as above.
                unsafe {
                    m.with_payload(seq, len, |item| (item_crc(item) == crc).then(|| read(item)))
                }
            } else {
                None
            };
            match verdict {
                Some(false) => break,
                Some(true) => {}
                // A damaged item after good ones ends the batch before it:
                // `read` has not seen it, so it cannot have asked to stop
                // there, and the next call (for which it is the first item)
                // consumes and reports it.
                None if taken > 0 => break,
                // The oldest item is damaged: consume it alone, so that the
                // items behind it stay reachable, and report it.
                None => {
                    m.count(Counter::CorruptItem);
                    first_bad = Some(seq);
                    taken = 1;
                    break;
                }
            }
            taken += 1;
        }
        if taken > 0 {
            m.at(KillPoint::GetCopied)?;
            m.head().store(head + taken, Release);
        }
        drop(guard);
        if taken > 0 {
            self.signal_producers();
        }
        match first_bad {
            Some(seq) => Err(self
                .corrupt(seq, "CRC-32C mismatch or length over the item size")
                .into()),
            None => Ok(Ok(taken as usize)),
        }
    }

    /// Flips one bit of the oldest item as stored (its first payload byte,
    /// or its CRC for a 0-byte item), so that the next get reports
    /// [`Error::Corrupt`]. Returns false if the ring is empty.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    #[cfg(feature = "corrupt")]
    pub fn corrupt_oldest(&self) -> Result<bool> {
        let _guard = self.lock(Side::Consumer, LockWait::Configured)?;
        let head = self.mem.head().load(Relaxed);
        if self.stored_items(head, 1)?.is_err() {
            return Ok(false);
        }
        // SAFETY: the consumers' lock is held and `head` is below `tail`
        // as read with Acquire.
        let (len, _) = unsafe { self.mem.read_prefix(head) };
        let offset = if len == 0 { 4 } else { layout::SLOT_PREFIX };
        // SAFETY: as above.
        unsafe { self.mem.flip_bit(head, offset) };
        Ok(true)
    }
}
