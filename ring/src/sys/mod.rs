//! The only modules with `unsafe`: the mapped segment, the robust mutex and
//! the futex waits. Everything above them is safe code.

pub(crate) mod futex;
pub(crate) mod mutex;
pub(crate) mod segment;
