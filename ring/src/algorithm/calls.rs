//! The calls a handle exposes, each a loop of critical sections
//! (`critical.rs`) and waits (`ring.rs`).

use super::{item_crc, Counter, KillPoint, LockWait, Ring, RingMemory, Side};
use crate::sync::AtomicWord;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::time::Duration;

impl<M: RingMemory> Ring<M> {
    /// Stores `item` unless the ring is full: `Ok(true)` if stored,
    /// `Ok(false)` if full (nothing stored, nothing overwritten).
    ///
    /// # Errors
    /// [`Error::TooLarge`] (ring unchanged), and the lock's errors.
    pub fn put(&self, item: &[u8]) -> Result<bool, M::Error> {
        self.put_timeout(item, Duration::ZERO)
    }

    /// Stores `item`, waiting up to `timeout` for space: `Ok(false)` if the
    /// ring was still full at the deadline.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_timeout(&self, item: &[u8], timeout: Duration) -> Result<bool, M::Error> {
        self.check_len(item.len())?;
        let crc = item_crc(item);
        let fill = |ring: &Self, seq: u64| {
            ring.copy_in(seq, item)?;
            Ok((item.len() as u32, crc))
        };
        let stored = self.blocking(timeout, self.mem.head(), self.mem.put_waiters(), |wait| {
            self.try_put(wait, fill)
        })?;
        Ok(stored.is_some())
    }

    /// Writes an item of `len` bytes in place: waits up to `timeout` for a
    /// free slot, then calls `write` once with the slot's payload (`len`
    /// bytes, holding what the slot held before) under the producers'
    /// lock, computes the CRC over the written bytes while they are in
    /// cache, and commits. `Ok(false)` if the ring stayed full (`write` not
    /// called). If `write` panics nothing is published.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `len` is over the item size, and the lock's
    /// errors.
    pub fn put_with(
        &self,
        len: usize,
        timeout: Duration,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<bool, M::Error> {
        self.check_len(len)?;
        let mut write = Some(write);
        let stored = self.blocking(timeout, self.mem.head(), self.mem.put_waiters(), |wait| {
            self.try_put(wait, |ring, seq| {
                let crc = ring.fill_slot(seq, len, &mut write);
                // Written but not published: a death here loses this item
                // only.
                ring.mem.at(KillPoint::PutHalfWritten)?;
                Ok((len as u32, crc))
            })
        })?;
        Ok(stored.is_some())
    }

    /// Takes the oldest item into `buf`, waiting up to `timeout` for one;
    /// returns its length in bytes, or `None` if the ring is still empty at
    /// the deadline (at once for a zero timeout).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] (the item stays), [`Error::Corrupt`] (the
    /// item failed its check and is consumed), and the lock's errors.
    pub fn get_into_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, M::Error> {
        let got = self.blocking(timeout, self.mem.tail(), self.mem.get_waiters(), |wait| {
            self.try_get(buf, wait)
        })?;
        match got {
            Some((len, crc, seq)) => {
                self.verify(&buf[..len], crc, seq)?;
                Ok(Some(len))
            }
            None => Ok(None),
        }
    }

    /// Takes the oldest item, waiting up to `timeout`; `None` if still empty.
    ///
    /// # Errors
    /// As [`get_into_timeout`](Self::get_into_timeout).
    pub fn get_timeout(&self, timeout: Duration) -> Result<Option<Vec<u8>>, M::Error> {
        let mut buf = vec![0u8; self.item_size()];
        Ok(self.get_into_timeout(&mut buf, timeout)?.map(|n| {
            buf.truncate(n);
            buf
        }))
    }

    /// Reads the oldest item in place: waits up to `timeout` for one, checks
    /// its CRC in place, calls `read` with it under the consumers' lock and
    /// then consumes it. `None` if the ring stayed empty. If `read` panics
    /// the item stays in the ring.
    ///
    /// # Errors
    /// [`Error::Corrupt`] (the item failed its check and is consumed;
    /// `read` is not called), and the lock's errors.
    pub fn get_with<R>(
        &self,
        timeout: Duration,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, M::Error> {
        let mut read = Some(read);
        let got = self.blocking(timeout, self.mem.tail(), self.mem.get_waiters(), |wait| {
            let mut out = None;
            let taken = self.take_in_place(1, wait, |item| {
                if let Some(r) = read.take() {
                    out = Some(r(item));
                }
                true
            })?;
            Ok(taken.map(|_| out))
        })?;
        Ok(got.flatten())
    }

    /// Stores items from the front of `items` until the ring is full, under
    /// one acquisition of the producers' lock, committed by one store of
    /// `tail`. Returns how many were stored.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if any item is over `item_size` (nothing is
    /// stored), and the lock's errors.
    pub fn put_many(&self, items: &[&[u8]]) -> Result<usize, M::Error> {
        for item in items {
            self.check_len(item.len())?;
        }
        let mut next = items.iter();
        self.put_many_with(items.len(), |dst| {
            let item = next.next()?;
            dst[..item.len()].copy_from_slice(item);
            Some(item.len())
        })
    }

    /// Writes up to `max` items in place under one acquisition of the
    /// producers' lock and commits them with one store of `tail`: for each
    /// free slot, `write` gets the slot's whole payload (`item_size` bytes)
    /// and returns the item's length, or `None` to stop (that slot stays
    /// free). Returns how many items were stored; 0 if the ring was full.
    /// If `write` panics, nothing of this batch is published.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `write` returns a length over `item_size`
    /// (nothing of this batch is published), and the lock's errors.
    pub fn put_many_with(
        &self,
        max: usize,
        write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<usize, M::Error> {
        self.put_many_with_timeout(max, Duration::ZERO, write)
    }

    /// [`put_many_with`](Self::put_many_with), waiting up to `timeout` for
    /// a free slot; 0 if the ring stayed full (`write` not called).
    ///
    /// # Errors
    /// As [`put_many_with`](Self::put_many_with).
    pub fn put_many_with_timeout(
        &self,
        max: usize,
        timeout: Duration,
        mut write: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> Result<usize, M::Error> {
        if max == 0 {
            return Ok(0);
        }
        let stored = self.blocking(timeout, self.mem.head(), self.mem.put_waiters(), |wait| {
            self.try_put_many(max, wait, &mut write)
        })?;
        Ok(stored.unwrap_or(0))
    }

    /// Takes up to `max` items, oldest first, under one acquisition of the
    /// consumers' lock (one store of `head` commits them all), and passes
    /// each to `f` after the lock is released and its CRC checked. Returns
    /// how many were taken.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for the first item that failed its check (every
    /// taken item that passed went to `f` first; all taken items are
    /// consumed), and the lock's errors.
    pub fn get_many(&self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize, M::Error> {
        let item_size = self.item_size();
        let mut scratch: Vec<u8> = Vec::new();
        // (offset in scratch, len, stored crc, seq); len over item_size = damaged.
        let mut taken: Vec<(usize, usize, u32, u64)> = Vec::new();
        {
            let guard = self.lock(Side::Consumer, LockWait::Configured)?;
            let m = &self.mem;
            let head = m.head().load(Relaxed);
            let n = match self.stored_items(head, max as u64)? {
                Ok(n) => n.min(max as u64),
                Err(_) => 0,
            };
            if n == 0 {
                m.count(Counter::EmptyGet);
                return Ok(0);
            }
            for seq in head..head + n {
                // SAFETY: the consumers' lock is held and `seq` is below
                // `tail` as read with Acquire.
                let (len, crc) = unsafe { m.read_prefix(seq) };
                let len = len as usize;
                let at = scratch.len();
                if len <= item_size {
                    scratch.resize(at + len, 0);
                    // SAFETY: as above.
                    unsafe { m.with_payload(seq, len, |src| scratch[at..].copy_from_slice(src)) };
                }
                taken.push((at, len, crc, seq));
            }
            m.at(KillPoint::GetCopied)?;
            m.head().store(head + n, Release);
            drop(guard);
            self.signal_producers();
        }
        let mut first_bad = None;
        for &(at, len, crc, seq) in &taken {
            if len <= item_size && item_crc(&scratch[at..at + len]) == crc {
                f(&scratch[at..at + len]);
            } else {
                self.mem.count(Counter::CorruptItem);
                first_bad.get_or_insert(seq);
            }
        }
        match first_bad {
            Some(seq) => Err(self
                .corrupt(seq, "CRC-32C mismatch or length over the item size")
                .into()),
            None => Ok(taken.len()),
        }
    }

    /// Reads up to `max` items in place, oldest first, under one
    /// acquisition of the consumers' lock, and consumes them with one store
    /// of `head`: each item whose CRC checks is passed to `read` in the
    /// slot, under the lock; `read` returns false to stop before that item
    /// (it and the ones after it stay). Returns how many were taken (0 if
    /// empty). If `read` panics, none of this batch is consumed.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the oldest item failed its check (it alone is
    /// consumed; a damaged item after good ones ends the batch before it),
    /// and the lock's errors.
    pub fn get_many_with(
        &self,
        max: usize,
        read: impl FnMut(&[u8]) -> bool,
    ) -> Result<usize, M::Error> {
        self.get_many_with_timeout(max, Duration::ZERO, read)
    }

    /// [`get_many_with`](Self::get_many_with), waiting up to `timeout` for
    /// an item; 0 if the ring stayed empty.
    ///
    /// # Errors
    /// As [`get_many_with`](Self::get_many_with).
    pub fn get_many_with_timeout(
        &self,
        max: usize,
        timeout: Duration,
        mut read: impl FnMut(&[u8]) -> bool,
    ) -> Result<usize, M::Error> {
        if max == 0 {
            return Ok(0);
        }
        let taken = self.blocking(timeout, self.mem.tail(), self.mem.get_waiters(), |wait| {
            self.take_in_place(max, wait, &mut read)
        })?;
        Ok(taken.unwrap_or(0))
    }
}
