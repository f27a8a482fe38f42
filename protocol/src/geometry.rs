//! The geometries a driver can build, as it may declare them in `hello`:
//!
//! ```json
//! {"capacity": {"min": 1, "max": 10, "power_of_two": false, "values": [1, 2, 4]},
//!  "item_size": {"min": 1, "max": 8192}, "max_bytes": 819200}
//! ```
//!
//! Every field is optional; what is not declared is not limited (the
//! driver may still refuse a geometry at `create`, with `invalid`).

use serde::{Deserialize, Serialize};

/// What `create` can build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeometryOffer {
    /// The capacities offered, items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityOffer>,
    /// The item sizes offered, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_size: Option<SizeRange>,
    /// The largest `capacity` x `item_size`, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

/// The capacities a driver offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityOffer {
    /// Smallest, items (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// Largest, items (default unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Only powers of two (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub power_of_two: bool,
    /// When present, the only capacities offered (the other fields still
    /// apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<u64>>,
}

/// An inclusive range of sizes, bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeRange {
    /// Smallest (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// Largest (default unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

impl CapacityOffer {
    /// Whether `capacity` items are offered.
    pub fn allows(&self, capacity: u64) -> bool {
        capacity >= self.min.unwrap_or(1).max(1)
            && self.max.is_none_or(|m| capacity <= m)
            && (!self.power_of_two || capacity.is_power_of_two())
            && self.values.as_ref().is_none_or(|v| v.contains(&capacity))
    }
}

impl SizeRange {
    /// Whether `n` is inside the range.
    pub fn allows(&self, n: u64) -> bool {
        n >= self.min.unwrap_or(1).max(1) && self.max.is_none_or(|m| n <= m)
    }
}

impl GeometryOffer {
    /// Whether a ring of `capacity` items of `item_size` bytes is offered
    /// (never a 0 capacity or a 0 item size).
    pub fn allows(&self, capacity: u64, item_size: u64) -> bool {
        capacity >= 1
            && item_size >= 1
            && self.capacity.as_ref().is_none_or(|c| c.allows(capacity))
            && self.item_size.as_ref().is_none_or(|s| s.allows(item_size))
            && self
                .max_bytes
                .is_none_or(|m| capacity.checked_mul(item_size).is_some_and(|b| b <= m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_limits_are_applied_and_undeclared_ones_are_not() {
        let any = GeometryOffer::default();
        assert!(any.allows(1, 1) && any.allows(1 << 40, 1 << 20));
        let mq: GeometryOffer = serde_json::from_str(
            r#"{"capacity": {"max": 10}, "item_size": {"max": 8192}, "max_bytes": 40000}"#,
        )
        .unwrap();
        assert!(mq.allows(10, 4000) && !mq.allows(11, 1) && !mq.allows(10, 8192));
        let pow2: GeometryOffer =
            serde_json::from_str(r#"{"capacity": {"power_of_two": true, "min": 2}}"#).unwrap();
        assert!(pow2.allows(2, 1) && pow2.allows(1024, 1));
        assert!(!pow2.allows(1, 1) && !pow2.allows(3, 1) && !pow2.allows(0, 1));
        let fixed: GeometryOffer =
            serde_json::from_str(r#"{"capacity": {"values": [4, 16]}}"#).unwrap();
        assert!(fixed.allows(16, 64) && !fixed.allows(8, 64));
        assert!(!any.allows(1, 0) && !any.allows(0, 1));
        assert!(!GeometryOffer {
            max_bytes: Some(10),
            ..GeometryOffer::default()
        }
        .allows(u64::MAX, 2));
    }

    #[test]
    fn it_round_trips_without_the_fields_left_out() {
        let offer = GeometryOffer {
            capacity: Some(CapacityOffer {
                max: Some(10),
                ..CapacityOffer::default()
            }),
            ..GeometryOffer::default()
        };
        let json = serde_json::to_string(&offer).unwrap();
        assert_eq!(json, r#"{"capacity":{"max":10}}"#);
        assert_eq!(serde_json::from_str::<GeometryOffer>(&json).unwrap(), offer);
    }
}
