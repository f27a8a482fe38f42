//! The sequential reference model: a bounded FIFO of byte strings.

use crate::protocol::ErrorCode;
use std::collections::VecDeque;

/// What the model answers to one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `put`: `stored`.
    Stored(bool),
    /// `get`: `data` (None = null).
    Data(Option<Vec<u8>>),
    /// `len`.
    Len(u64),
    /// A failure with this code.
    Error(ErrorCode),
}

/// A ring of `capacity` items of at most `item_size` bytes.
#[derive(Debug, Clone)]
pub struct ReferenceFifo {
    capacity: usize,
    item_size: usize,
    items: VecDeque<Vec<u8>>,
}

impl ReferenceFifo {
    /// An empty ring.
    pub fn new(capacity: usize, item_size: usize) -> Self {
        ReferenceFifo {
            capacity,
            item_size,
            items: VecDeque::new(),
        }
    }

    /// `put`: too_large over item_size, false when full, else stored.
    pub fn put(&mut self, data: &[u8]) -> Expect {
        if data.len() > self.item_size {
            Expect::Error(ErrorCode::TooLarge)
        } else if self.items.len() == self.capacity {
            Expect::Stored(false)
        } else {
            self.items.push_back(data.to_vec());
            Expect::Stored(true)
        }
    }

    /// `get`: the oldest item or null.
    pub fn get(&mut self) -> Expect {
        Expect::Data(self.items.pop_front())
    }

    /// `len`.
    pub fn len(&self) -> Expect {
        Expect::Len(self.items.len() as u64)
    }
}
