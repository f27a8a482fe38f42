//! How a case ends: its [`Outcome`] when it does not pass, the
//! [`CaseResult`] a case function returns, and the `fail!` macro.

use crate::client::ClientError;
use crate::session::SessionError;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The implementation broke the criterion; the message says how.
    Fail(String),
    /// An operation got no answer within the deadline.
    Hung(String),
    /// The case cannot apply (the reason names what is missing).
    Skip(String),
    /// No geometry the driver offers fits the case (the reason says what it
    /// needs and what was refused): the case could not be checked.
    Unfit(String),
}

/// What a case function returns.
pub type CaseResult = Result<(), Outcome>;

/// A case function.
pub type CaseFn = fn(&mut super::Ctx) -> CaseResult;

impl From<ClientError> for Outcome {
    fn from(e: ClientError) -> Self {
        if e.is_hung() {
            Outcome::Hung(e.to_string())
        } else {
            Outcome::Fail(e.to_string())
        }
    }
}

impl From<SessionError> for Outcome {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Driver(e) => e.into(),
            SessionError::Died { ref error, .. } if error.is_hung() => Outcome::Hung(e.to_string()),
            other => Outcome::Fail(other.to_string()),
        }
    }
}

/// Fails the case with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::case::Outcome::Fail(format!($($arg)*)))
    };
}
pub(crate) use fail;
