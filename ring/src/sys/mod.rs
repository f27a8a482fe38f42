//! The system interfaces: the mapped segment, the record locks, the futex
//! waits (the only modules with `unsafe`; everything above them is safe
//! code) and the asymmetric fences of membarrier(2).

pub(crate) mod futex;
pub(crate) mod membarrier;
pub(crate) mod ofd;
pub(crate) mod segment;
