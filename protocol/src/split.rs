//! A driver handle for a ring that splits into a producer half and a
//! consumer half (rtrb's `Producer` and `Consumer`, `ringbuf`'s `split`,
//! `heapless::spsc`), without a lock around the pair.
//!
//! The halves take `&mut self`, the protocol's [`Ring`] takes `&self` (the
//! threads of `parallel` share one handle). [`Split`] holds each half
//! behind a try-lock of its own that never waits: with the roles declared
//! as [`Roles::SPSC`](crate::Roles::SPSC), the harness never runs two
//! producers (or two consumers) at once, so the producer's and the
//! consumer's calls run at the same instant on their own halves, racing
//! exactly as they do in the user's program. Should two actors ever use
//! one half at once, the second gets an `internal` failure saying so,
//! instead of waiting: a harness that broke the roles is reported, not
//! hidden.
//!
//! ```
//! use ringcheck_protocol::{ConsumerHalf, DriverError, ProducerHalf, Ring, Split};
//! use std::collections::VecDeque;
//! use std::sync::{Arc, Mutex};
//! # struct P(Arc<Mutex<VecDeque<Vec<u8>>>>);
//! # struct C(Arc<Mutex<VecDeque<Vec<u8>>>>);
//! # impl ProducerHalf for P {
//! #     fn put(&mut self, d: &[u8]) -> Result<bool, DriverError> { self.0.lock().unwrap().push_back(d.to_vec()); Ok(true) }
//! # }
//! # impl ConsumerHalf for C {
//! #     fn get(&mut self) -> Result<Option<Vec<u8>>, DriverError> { Ok(self.0.lock().unwrap().pop_front()) }
//! # }
//! let q = Arc::new(Mutex::new(VecDeque::new()));
//! let len_of = Arc::clone(&q);
//! let ring = Split::new(P(Arc::clone(&q)), C(q), move || len_of.lock().unwrap().len() as u64);
//! assert!(ring.put(b"a")?);
//! assert_eq!(ring.len()?, 1);
//! assert_eq!(ring.get()?, Some(b"a".to_vec()));
//! # Ok::<(), DriverError>(())
//! ```

use crate::serve::{DriverError, Ring};
use crate::ErrorCode;
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

/// The producer half of a split ring.
pub trait ProducerHalf: Send {
    /// Stores `data` unless full; `Ok(false)` iff full.
    fn put(&mut self, data: &[u8]) -> Result<bool, DriverError>;
    /// [`put`](Self::put), waiting up to `timeout` for space (feature
    /// `blocking`); `unsupported` by default.
    fn put_wait(&mut self, data: &[u8], timeout: Duration) -> Result<bool, DriverError> {
        let _ = (data, timeout);
        Err(DriverError::unsupported("put_wait"))
    }
}

/// The consumer half of a split ring.
pub trait ConsumerHalf: Send {
    /// Takes the oldest item; `Ok(None)` iff empty.
    fn get(&mut self) -> Result<Option<Vec<u8>>, DriverError>;
    /// [`get`](Self::get), waiting up to `timeout` for an item (feature
    /// `blocking`); `unsupported` by default.
    fn get_wait(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DriverError> {
        let _ = timeout;
        Err(DriverError::unsupported("get_wait"))
    }
}

/// What a [`Split`] runs on `close` ([`Split::on_close`]).
type OnClose = Box<dyn FnOnce() + Send + Sync>;

/// A [`Ring`] over the two halves of a split ring and a count of its
/// items; see the [module docs](self). `close` runs the
/// [`on_close`](Self::on_close) action once; the halves go when the handle
/// does.
pub struct Split<P, C> {
    producer: Mutex<P>,
    consumer: Mutex<C>,
    len: Box<dyn Fn() -> u64 + Send + Sync>,
    on_close: Mutex<Option<OnClose>>,
}

impl<P: ProducerHalf, C: ConsumerHalf> Split<P, C> {
    /// The handle of `producer` and `consumer`; `len` counts the items
    /// stored (from any thread, while either half is in use).
    pub fn new(producer: P, consumer: C, len: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Split {
            producer: Mutex::new(producer),
            consumer: Mutex::new(consumer),
            len: Box::new(len),
            on_close: Mutex::new(None),
        }
    }

    /// Runs `f` at the handle's `close` (the creator's handle removes the
    /// ring's name there).
    pub fn on_close(self, f: impl FnOnce() + Send + Sync + 'static) -> Self {
        if let Ok(mut slot) = self.on_close.lock() {
            *slot = Some(Box::new(f));
        }
        self
    }
}

/// Runs `f` on the half behind `half` if no other actor is using it.
fn with_half<T, R>(
    half: &Mutex<T>,
    role: &str,
    f: impl FnOnce(&mut T) -> Result<R, DriverError>,
) -> Result<R, DriverError> {
    match half.try_lock() {
        Ok(mut h) => f(&mut h),
        // A panic inside the half's call: the half may be torn.
        Err(TryLockError::Poisoned(_)) => Err(DriverError::new(
            ErrorCode::Internal,
            format!("the {role} half panicked in an earlier call"),
        )),
        Err(TryLockError::WouldBlock) => Err(DriverError::new(
            ErrorCode::Internal,
            format!("two actors used the {role} half at once, beyond the declared roles"),
        )),
    }
}

impl<P: ProducerHalf, C: ConsumerHalf> Ring for Split<P, C> {
    fn put(&self, data: &[u8]) -> Result<bool, DriverError> {
        with_half(&self.producer, "producer", |p| p.put(data))
    }
    fn get(&self) -> Result<Option<Vec<u8>>, DriverError> {
        with_half(&self.consumer, "consumer", |c| c.get())
    }
    fn len(&self) -> Result<u64, DriverError> {
        Ok((self.len)())
    }
    fn close(&mut self) -> Result<(), DriverError> {
        let f = self
            .on_close
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(f) = f {
            f();
        }
        Ok(())
    }
    fn put_wait(&self, data: &[u8], timeout: Duration) -> Result<bool, DriverError> {
        with_half(&self.producer, "producer", |p| p.put_wait(data, timeout))
    }
    fn get_wait(&self, timeout: Duration) -> Result<Option<Vec<u8>>, DriverError> {
        with_half(&self.consumer, "consumer", |c| c.get_wait(timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Says it has entered `put`, then holds the producer half until told.
    struct Blocking(mpsc::Sender<()>, mpsc::Receiver<()>);
    impl ProducerHalf for Blocking {
        fn put(&mut self, _: &[u8]) -> Result<bool, DriverError> {
            self.0.send(()).ok();
            self.1.recv().ok();
            Ok(true)
        }
    }
    struct Empty;
    impl ConsumerHalf for Empty {
        fn get(&mut self) -> Result<Option<Vec<u8>>, DriverError> {
            Ok(None)
        }
    }

    #[test]
    fn a_second_producer_at_once_is_refused_and_the_consumer_is_not_held() {
        let (go, wait) = mpsc::channel();
        let (entered, inside) = mpsc::channel();
        let ring = Split::new(Blocking(entered, wait), Empty, || 0);
        std::thread::scope(|s| {
            let first = s.spawn(|| ring.put(b"a"));
            inside.recv().unwrap();
            let second = ring.put(b"b").unwrap_err();
            assert_eq!(second.code, ErrorCode::Internal);
            assert!(second.message.contains("two actors used the producer half"));
            assert_eq!(ring.get().unwrap(), None, "the consumer half is free");
            assert_eq!(ring.len().unwrap(), 0);
            go.send(()).unwrap();
            assert!(first.join().unwrap().unwrap());
        });
        assert_eq!(
            ring.put_wait(b"c", Duration::ZERO).unwrap_err().code,
            ErrorCode::Unsupported
        );
    }
}
