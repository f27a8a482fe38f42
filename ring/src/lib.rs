//! `shmring`: a robust ring buffer in named shared memory, for producer and
//! consumer processes on one Linux host.
//!
//! A ring is a named POSIX shared-memory segment (`/dev/shm/shmring-NAME`)
//! holding a header and `capacity` fixed-size slots. Any number of producer
//! and consumer processes attach to it by name:
//!
//! ```
//! use shmring::{Config, SharedBuffer};
//! # let name = format!("doc-lib-{}", std::process::id());
//! let ring = SharedBuffer::create(&name, Config::default())?; // 10 x 64 B
//! let other = SharedBuffer::open(&name)?; // e.g. in another process
//! assert!(ring.put(b"hello")?);
//! assert_eq!(other.get()?.as_deref(), Some(&b"hello"[..]));
//! assert_eq!(other.get()?, None); // empty
//! # Ok::<(), shmring::Error>(())
//! ```
//!
//! # Guarantees
//! - FIFO, every stored item is returned exactly once, whichever process
//!   takes it; operations are linearizable (each takes effect at one store
//!   of `tail` or `head`, made inside its side's critical section).
//! - Producers and consumers do not share a lock: puts take the producers'
//!   lock, gets the consumers' (the two-lock queue of Michael and Scott,
//!   PODC 1996), and on a ring with single roles
//!   ([`Config::single_roles`]) each side's one handle holds its lock for
//!   its life, so the data path takes no lock at all.
//! - `put` on a full ring stores nothing and returns `false`; `get` on an
//!   empty ring returns `None`. An item is 0 to `item_size` bytes; a 0-byte
//!   item is an item. Oversize items are refused with [`Error::TooLarge`].
//! - Each item carries a CRC-32C (Castagnoli, computed by the CPU's `crc32`
//!   instruction where there is one, via the `crc32c` crate) over its
//!   length (u32 little-endian) and payload; `get` verifies it and reports
//!   [`Error::Corrupt`] for a damaged item, which is consumed so that later
//!   items stay reachable.
//! - A process may be killed at any instant, inside the critical section
//!   too: each lock is a word in the segment naming its owner's session,
//!   and the kernel witnesses a session's death (an open-file-description
//!   record lock that dies with its process), so the next process to want
//!   the lock takes it over. Each put and get commits with one 8-byte store
//!   (of `tail` or `head`) made last in the critical section, so a dead
//!   owner left either its whole operation or none of it; a half-written
//!   slot is beyond `tail` and is never delivered.
//! - No call blocks forever: every wait, for a lock too, ends at the
//!   caller's CLOCK_MONOTONIC deadline (the `*_timeout` calls; a live lock
//!   holder is waited for at least 100 ms, so that an owner preempted for a
//!   few ms does not fail a short call) or at [`Config::lock_timeout`] (the
//!   others). Waiting is a spin of up to
//!   20 us, then futex sleeps of at most 100 ms; every put and get wakes the
//!   sleepers of the other side, with no lost wake-ups (see
//!   [`SharedBuffer::put_timeout`]).
//! - In place: [`SharedBuffer::put_with`] and [`SharedBuffer::get_with`]
//!   (and their batch forms) write and read items in their slots, without
//!   a copy, with the same guarantees.
//! - The segment is untrusted input: `open` follows no symbolic link and
//!   refuses objects of other users; magic, layout version and geometry are
//!   checked on open, the lock word on every read, head and tail on every
//!   operation, and every stored length before use. Creation reserves the
//!   segment's memory, so a ring that was created never faults for lack of
//!   it. Slot indices are reduced modulo the validated
//!   capacity, so no value in the segment can cause an access outside it.
//!
//! The byte layout is in `specs/layout.md` and [`layout::describe`].
//!
//! # Features and model checking
//! The algorithm lives once in a crate-private `Ring`, generic over where
//! the header and slots live: [`SharedBuffer`] runs it on a mapped segment;
//! the models run it on the heap, with atomics, locks and cells from a
//! crate-private facade that is `std`, loom (`RUSTFLAGS="--cfg loom"`) or
//! shuttle (`RUSTFLAGS="--cfg shuttle"`), in the manner of tokio's
//! `src/loom/`. Nothing of this is public unless asked for:
//!
//! - feature `model`: `shmring::model` (depends on `ringcheck-models`),
//!   the heap ring `HeapRing` with its `HeapMemory` and `heap_ring`,
//!   implementing `ringcheck_models::ModelRing` and `CrashModelRing`;
//! - feature `test-hooks`: `shmring::hooks` (pause a process at a kill
//!   point inside the lock, for crash tests), with `corrupt`;
//! - feature `corrupt`: `SharedBuffer::corrupt_oldest` alone (damage the
//!   oldest item, to test integrity checks; a method, nothing on the data
//!   path: the conformance driver uses it);
//! - `shmring::layout`, the segment's offsets and flags, is public for the
//!   workspace's hostile-segment tests but hidden from the docs unless
//!   `test-hooks` or `model` is on: it is the ring's, not a promise;
//! - `--cfg loom` or `--cfg shuttle`: the model primitives,
//!   `shmring::hooks`, and the seeded faults of the algorithm
//!   (`shmring::model::Fault`, with `model`), which race by design and
//!   exist in no other build.
//!
//! `ringcheck_models` explores the heap ring under loom and shuttle; see
//! the README's "Schedule exploration".
//!
//! # Dependencies
//! The segment is made with `rustix` (`shm_open`, `fchmod`, `ftruncate`,
//! `mmap`) rather than the `shared_memory` crate: that crate fixes the mode
//! at `0600` with no way to set another (`Config::mode`), hides the file
//! descriptor, and still leaves the open/size race to the caller; what it
//! would save is about forty lines. The race is handled in `open`: an object
//! shorter than the header is polled until its creator sizes it, and a
//! header whose `init_state` is not yet ready is waited for on a futex.
//! Locking is the crate's own (`specs/layout.md`, "Locks"): a glibc robust
//! mutex keeps list pointers in the segment that glibc writes through, so
//! any process able to write the segment could crash its peers. Waits are
//! raw futexes, not `raw_sync` (no robust mutex; timed waits fail with
//! `EINVAL`).

#![deny(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn)]

mod algorithm;
mod buffer;
mod config;
mod error;
#[cfg(any(loom, shuttle, feature = "test-hooks"))]
pub mod hooks;
// The segment's layout is the ring's, not the API: public for the
// workspace's hostile-segment tests and drivers, hidden from the docs
// unless a test feature is on.
#[cfg_attr(not(any(feature = "test-hooks", feature = "model")), doc(hidden))]
pub mod layout;
mod lock;
mod memory;
#[cfg(feature = "model")]
pub mod model;
mod name;
mod sync;
mod sys;
mod waiters;

pub use buffer::{SharedBuffer, Stats};
pub use config::Config;
pub use error::{Error, Result};
pub use layout::{Geometry, MAX_CAPACITY, MAX_ITEM_SIZE, MAX_SEGMENT_SIZE};
pub use name::{RingName, MAX_NAME_LEN, OS_PREFIX};
