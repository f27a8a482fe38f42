//! `ringcheck`: the ring spec as executable criteria, checked against any
//! ring implementation over a language-agnostic driver protocol.

#![deny(missing_docs)]

pub mod cases;
pub mod client;
pub mod driver;
pub mod explore;
pub mod faulty;
pub mod history;
pub mod model;
pub mod models;
pub mod protocol;
pub mod report;
pub mod run;
pub mod shmring_driver;
pub mod spec;
