//! The roles a driver declares in `hello`, for rings that are correct only
//! with a limited number of producers or consumers at once:
//!
//! ```json
//! {"producers": 1, "consumers": 1}
//! ```
//!
//! An **actor** is one driver process, or one thread list of a `parallel`
//! request. It holds the producer role of a ring from its first `put` or
//! `put_wait` on that ring until it closes the ring, its list ends or its
//! process dies; likewise the consumer role with `get` and `get_wait`. One
//! actor may hold both; `len`, `create`, `open` and `close` take no role.
//! A harness never lets more actors hold a role at once than declared, and
//! hands a role over by closing or killing its holder. A limited role
//! outlives its holder: after a SIGKILL, a new actor that opens the ring
//! takes the role over.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How many actors may hold each role of one ring at once. `None` for a
/// role means any number; [`Roles::default`] limits nothing (an MPMC ring).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// Most actors holding the producer role at once (at least 1), or
    /// `None` for any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producers: Option<u32>,
    /// Most actors holding the consumer role at once (at least 1), or
    /// `None` for any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumers: Option<u32>,
}

impl Roles {
    /// Any number of producers and consumers (an MPMC ring).
    pub const ANY: Roles = Roles {
        producers: None,
        consumers: None,
    };

    /// One producer and one consumer at a time (an SPSC ring).
    pub const SPSC: Roles = Roles {
        producers: Some(1),
        consumers: Some(1),
    };

    /// Any number of producers, one consumer at a time (an MPSC ring).
    pub const MPSC: Roles = Roles {
        producers: None,
        consumers: Some(1),
    };

    /// Whether neither role is limited.
    pub fn is_any(&self) -> bool {
        self.producers.is_none() && self.consumers.is_none()
    }

    /// How many producers may run at once when `wanted` would: `wanted`
    /// capped at the declared limit.
    pub fn producers_up_to(&self, wanted: usize) -> usize {
        cap(self.producers, wanted)
    }

    /// How many consumers may run at once when `wanted` would: `wanted`
    /// capped at the declared limit.
    pub fn consumers_up_to(&self, wanted: usize) -> usize {
        cap(self.consumers, wanted)
    }

    /// Checks the limits a driver declared: each present limit is at least
    /// 1.
    ///
    /// # Errors
    /// A message naming the role declared as 0.
    pub fn validate(&self) -> Result<(), String> {
        for (role, n) in [("producers", self.producers), ("consumers", self.consumers)] {
            if n == Some(0) {
                return Err(format!(
                    "\"{role}\": 0 (a limit is at least 1; leave it out for any number)"
                ));
            }
        }
        Ok(())
    }
}

fn cap(limit: Option<u32>, wanted: usize) -> usize {
    limit.map_or(wanted, |l| wanted.min(l as usize))
}

/// "any number of producers and consumers", "1 producer, 1 consumer",
/// "any number of producers, 1 consumer".
impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one = |n: Option<u32>, word: &str| match n {
            None => format!("any number of {word}s"),
            Some(1) => format!("1 {word}"),
            Some(n) => format!("up to {n} {word}s"),
        };
        if self.is_any() {
            return f.write_str("any number of producers and consumers");
        }
        write!(
            f,
            "{}, {}",
            one(self.producers, "producer"),
            one(self.consumers, "consumer")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_hello_form() {
        let r: Roles = serde_json::from_str(r#"{"producers": 1, "consumers": 1}"#).unwrap();
        assert_eq!(r, Roles::SPSC);
        let r: Roles = serde_json::from_str(r#"{"consumers": 1}"#).unwrap();
        assert_eq!(r, Roles::MPSC);
        assert_eq!(
            serde_json::to_string(&Roles::MPSC).unwrap(),
            r#"{"consumers":1}"#
        );
        assert_eq!(serde_json::to_string(&Roles::ANY).unwrap(), "{}");
    }

    #[test]
    fn refuses_zero_negative_and_unknown_fields() {
        let zero: Roles = serde_json::from_str(r#"{"producers": 0}"#).unwrap();
        assert!(zero.validate().unwrap_err().contains("\"producers\": 0"));
        assert!(serde_json::from_str::<Roles>(r#"{"producers": -1}"#).is_err());
        assert!(serde_json::from_str::<Roles>(r#"{"producers": "one"}"#).is_err());
        assert!(serde_json::from_str::<Roles>(r#"{"writers": 1}"#).is_err());
    }

    #[test]
    fn caps_and_says_what_it_allows() {
        assert_eq!(Roles::SPSC.producers_up_to(3), 1);
        assert_eq!(Roles::MPSC.producers_up_to(3), 3);
        assert_eq!(Roles::MPSC.consumers_up_to(2), 1);
        assert_eq!(Roles::SPSC.to_string(), "1 producer, 1 consumer");
        assert_eq!(
            Roles::MPSC.to_string(),
            "any number of producers, 1 consumer"
        );
        assert_eq!(
            Roles::ANY.to_string(),
            "any number of producers and consumers"
        );
        let two = Roles {
            producers: Some(2),
            consumers: None,
        };
        assert_eq!(
            two.to_string(),
            "up to 2 producers, any number of consumers"
        );
    }
}
