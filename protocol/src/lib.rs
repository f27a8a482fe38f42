//! `ringcheck-protocol`: the ring driver protocol, version 1, for the two
//! sides of it.
//!
//! - A **driver author** (a Rust ring to be checked by `ringcheck` or any
//!   other harness) implements [`Ring`] and [`Implementation`] and calls
//!   [`serve_stdio`]: framing, ids, `hello`, `batch`, `parallel`, `close`
//!   and `exit` are handled here.
//! - A **harness** uses the message types ([`Op`], [`Feature`],
//!   [`ErrorCode`], [`Payload`], [`Request`]) to speak to drivers.
//!
//! The contract is `specs/driver-protocol.md` in the ringspec repository:
//! one JSON object per line on the driver's stdin and stdout. This crate
//! depends on serde, serde_json, base64 and rustix (the monotonic clock)
//! only, so a driver does not pull in the harness.

#![deny(missing_docs)]

mod geometry;
mod message;
mod roles;
mod serve;
pub mod split;

pub use geometry::{CapacityOffer, GeometryOffer, SizeRange};
pub use message::{
    failure, monotonic_ns, success, ErrorCode, Feature, Op, Payload, Request, PROTOCOL_VERSION,
};
pub use roles::Roles;
pub use serve::{serve, serve_stdio, DriverError, Implementation, Ring};
pub use split::{ConsumerHalf, ProducerHalf, Split};
