//! What a case needs of a ring's geometry, and the concrete geometries
//! that meet it within what the driver offers.
//!
//! A case states a [`Need`] ("capacity 1", "capacity >= 2 and not a power
//! of two", "the largest capacity offered, up to 1024", "item_size >= 64"),
//! never literal numbers alone. [`Need::candidates`] turns it into concrete
//! geometries, best first, that the driver's declared
//! [`GeometryOffer`] allows; the context
//! tries them in order ([`super::Ctx::fresh_ring`]): a driver that declared
//! nothing may refuse one at `create` (`invalid`) and the next is tried; a
//! refusal of a declared geometry is a failure; no candidate left is
//! [`super::Outcome::Unfit`], reported as a skip that says why.

use crate::protocol::GeometryOffer;
use std::fmt;

/// Most geometries tried for one ring before the case is unfit: enough to
/// find one in a driver that declares nothing, few enough that a driver
/// refusing everything costs little.
const MAX_TRIES: usize = 10;

/// The largest capacity any case asks for.
pub const LARGEST_CAPACITY: u64 = 1024;

/// A concrete geometry: `capacity` items of up to `item_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Slots, items.
    pub capacity: u64,
    /// Largest item, bytes.
    pub item_size: u64,
}

impl fmt::Display for Geometry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} x {} B", self.capacity, self.item_size)
    }
}

/// Which capacities a case can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Any, within the bounds.
    Any,
    /// Only powers of two.
    PowerOfTwo,
    /// Only non-powers of two.
    NotPowerOfTwo,
    /// The largest offered within the bounds.
    Largest,
}

/// What a case needs of its ring's geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    shape: Shape,
    /// Capacities the case would like best, in order.
    prefer: Vec<u64>,
    min_capacity: u64,
    max_capacity: u64,
    /// The item size the case would like.
    item_size: u64,
    /// The smallest item size it can work with.
    min_item_size: u64,
}

impl Need {
    /// Any capacity of at least `min` items, the ones in `prefer` first,
    /// with items of `item_size` bytes (fewer only if
    /// [`min_item_size`](Self::min_item_size) allows).
    pub fn capacity(min: u64, prefer: &[u64], item_size: u64) -> Need {
        Need {
            shape: Shape::Any,
            prefer: prefer.to_vec(),
            min_capacity: min.max(1),
            max_capacity: u64::MAX,
            item_size,
            min_item_size: item_size,
        }
    }

    /// Exactly `capacity` items.
    pub fn exactly(capacity: u64, item_size: u64) -> Need {
        Need::capacity(capacity, &[capacity], item_size).at_most(capacity)
    }

    /// The largest capacity offered, up to `up_to`, and at least `min`.
    pub fn largest(min: u64, up_to: u64, item_size: u64) -> Need {
        Need {
            shape: Shape::Largest,
            ..Need::capacity(min, &[up_to], item_size).at_most(up_to)
        }
    }

    /// At most `max` items.
    pub fn at_most(mut self, max: u64) -> Need {
        self.max_capacity = max;
        self
    }

    /// Only capacities that are powers of two.
    pub fn power_of_two(mut self) -> Need {
        self.shape = Shape::PowerOfTwo;
        self
    }

    /// Only capacities that are not powers of two.
    pub fn not_power_of_two(mut self) -> Need {
        self.shape = Shape::NotPowerOfTwo;
        self
    }

    /// Items of fewer bytes than asked, down to `min`, are good enough.
    pub fn min_item_size(mut self, min: u64) -> Need {
        self.min_item_size = min.max(1);
        self
    }

    /// Whether `capacity` fits the need (whatever the driver offers).
    fn fits(&self, capacity: u64) -> bool {
        capacity >= self.min_capacity
            && capacity <= self.max_capacity
            && match self.shape {
                Shape::PowerOfTwo => capacity.is_power_of_two(),
                Shape::NotPowerOfTwo => !capacity.is_power_of_two(),
                Shape::Any | Shape::Largest => true,
            }
    }

    /// The item size to use with `capacity` under `offer`: the one asked
    /// for, or the largest offered down to the minimum.
    fn item_size_for(&self, capacity: u64, offer: Option<&GeometryOffer>) -> Option<u64> {
        let Some(offer) = offer else {
            return Some(self.item_size);
        };
        if offer.allows(capacity, self.item_size) {
            return Some(self.item_size);
        }
        let mut max = offer
            .item_size
            .as_ref()
            .and_then(|s| s.max)
            .unwrap_or(self.item_size)
            .min(self.item_size);
        if let Some(bytes) = offer.max_bytes {
            max = max.min(bytes / capacity.max(1));
        }
        (max >= self.min_item_size && offer.allows(capacity, max)).then_some(max)
    }

    /// Concrete geometries for this need, best first, that `offer` (the
    /// driver's declaration, if any) allows; at most a few.
    pub fn candidates(&self, offer: Option<&GeometryOffer>) -> Vec<Geometry> {
        let mut caps: Vec<u64> = Vec::new();
        let declared_values = offer
            .and_then(|o| o.capacity.as_ref())
            .and_then(|c| c.values.clone())
            .unwrap_or_default();
        let declared_max = offer
            .and_then(|o| o.capacity.as_ref())
            .and_then(|c| c.max)
            .unwrap_or(u64::MAX);
        if self.shape == Shape::Largest {
            // From the top down: the declared values, then halving through
            // the powers of two (a driver that declared nothing and refuses
            // large rings is met in a few tries), then just below the top.
            let top = self.max_capacity.min(declared_max);
            let mut values = declared_values.clone();
            values.sort_unstable_by(|a, b| b.cmp(a));
            caps.extend(values.into_iter().filter(|&c| c <= top));
            caps.push(top);
            caps.extend((0..=20).rev().map(|k| 1u64 << k).filter(|&c| c < top));
            caps.extend((self.min_capacity..top).rev().take(4));
        } else {
            caps.extend(self.prefer.iter().copied());
            let lo = self.min_capacity;
            caps.extend(lo..lo.saturating_add(16));
            caps.extend((0..=20).map(|k| 1u64 << k).filter(|&c| c >= lo));
            caps.extend(declared_values);
        }
        let mut out: Vec<Geometry> = Vec::new();
        for capacity in caps {
            if out.len() == MAX_TRIES {
                break;
            }
            if !self.fits(capacity) || out.iter().any(|g| g.capacity == capacity) {
                continue;
            }
            if let Some(item_size) = self.item_size_for(capacity, offer) {
                out.push(Geometry {
                    capacity,
                    item_size,
                });
            }
        }
        out
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = match self.shape {
            Shape::Any => "",
            Shape::PowerOfTwo => ", a power of two",
            Shape::NotPowerOfTwo => ", not a power of two",
            Shape::Largest => ", the largest offered",
        };
        match (self.min_capacity, self.max_capacity) {
            (a, b) if a == b => write!(f, "capacity {a}")?,
            (a, u64::MAX) => write!(f, "capacity >= {a}")?,
            (a, b) => write!(f, "capacity {a} to {b}")?,
        }
        write!(f, "{shape}, item_size >= {}", self.min_item_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(json: &str) -> GeometryOffer {
        serde_json::from_str(json).unwrap()
    }

    fn caps(need: &Need, o: Option<&GeometryOffer>) -> Vec<u64> {
        need.candidates(o).iter().map(|g| g.capacity).collect()
    }

    #[test]
    fn preferred_capacities_come_first_and_shapes_are_kept() {
        let need = Need::capacity(2, &[3, 5], 8);
        assert_eq!(caps(&need, None)[..3], [3, 5, 2]);
        let non_pow2 = Need::capacity(2, &[3], 8).not_power_of_two();
        assert!(caps(&non_pow2, None).iter().all(|c| !c.is_power_of_two()));
        let pow2 = Need::capacity(2, &[4], 8).power_of_two();
        assert_eq!(caps(&pow2, None)[..3], [4, 2, 8]);
        assert_eq!(caps(&Need::exactly(1, 8), None), [1]);
    }

    #[test]
    fn the_offer_narrows_the_candidates() {
        let pow2_only = offer(r#"{"capacity": {"power_of_two": true, "max": 4096}}"#);
        assert_eq!(caps(&Need::capacity(2, &[3, 5], 8), Some(&pow2_only))[0], 2);
        assert!(caps(
            &Need::capacity(2, &[3], 8).not_power_of_two(),
            Some(&pow2_only)
        )
        .is_empty());
        let mq = offer(r#"{"capacity": {"max": 10}, "item_size": {"max": 16}}"#);
        assert_eq!(
            caps(&Need::largest(1, LARGEST_CAPACITY, 8), Some(&mq))[0],
            10
        );
        let big = Need::capacity(1, &[4], 64).min_item_size(8);
        assert_eq!(big.candidates(Some(&mq))[0].item_size, 16);
        assert!(Need::capacity(1, &[4], 64).candidates(Some(&mq)).is_empty());
        assert!(caps(&Need::capacity(11, &[], 8), Some(&mq)).is_empty());
    }

    #[test]
    fn the_largest_goes_down_from_the_top() {
        let c = caps(&Need::largest(256, LARGEST_CAPACITY, 8), None);
        assert_eq!(c[..3], [1024, 512, 256]);
        let c = caps(&Need::largest(1, LARGEST_CAPACITY, 8), None);
        assert_eq!(c[..7], [1024, 512, 256, 128, 64, 32, 16]);
        let fixed = offer(r#"{"capacity": {"values": [4, 16, 300]}}"#);
        assert_eq!(
            caps(&Need::largest(1, LARGEST_CAPACITY, 8), Some(&fixed)),
            [300, 16, 4]
        );
    }

    #[test]
    fn a_need_says_what_it_is() {
        assert_eq!(
            Need::capacity(2, &[3], 8).not_power_of_two().to_string(),
            "capacity >= 2, not a power of two, item_size >= 8"
        );
        assert_eq!(
            Need::exactly(1, 4).to_string(),
            "capacity 1, item_size >= 4"
        );
    }
}
