//! The only modules with `unsafe`: the mapped segment, the record locks and
//! the futex waits. Everything above them is safe code.

pub(crate) mod futex;
pub(crate) mod ofd;
pub(crate) mod segment;
