//! `ringcheck`: the ring spec as executable criteria, checked against any
//! ring implementation over a language-agnostic driver protocol.

#![deny(missing_docs)]

pub mod driver;
pub mod faulty;
pub mod protocol;
pub mod shmring_driver;
