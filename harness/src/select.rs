//! Which cases a run takes: `--only` and `--exclude` patterns, and a
//! `--partition` that splits the suite across machines the way nextest
//! does.
//!
//! A pattern is a comma-separated list of globs (`*`, `?`, `[..]`, from
//! the `globset` crate), each matched against a case's id
//! (`wrap-around.straddle`) and against its criterion's id
//! (`wrap-around`): `--only 'crash,fifo.*'`, `--exclude '*-killed'`.
//!
//! A partition `count:K/N` gives shard K (1-based) of N every N-th case of
//! the selection in spec order, starting at the K-th; `hash:K/N` gives it
//! the cases whose id hashes (xxHash64, seed 0) to K - 1 modulo N, so a
//! case keeps its shard when others are added. Either way the N shards are
//! disjoint and together cover the selection exactly once.

use crate::spec::{CaseSpec, Criterion, Spec};
use globset::{Glob, GlobMatcher};
use std::fmt;
use std::str::FromStr;

/// A case selector: globs over case and criterion ids.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    globs: Vec<GlobMatcher>,
}

/// A malformed selector or partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A glob that does not parse.
    #[error("bad pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A pattern of `--only` that matches no case of the spec.
    #[error("no criterion or case matches {0:?} (see `ringcheck list`)")]
    NoMatch(String),
    /// A partition that is not `count:K/N` or `hash:K/N` with 1 <= K <= N.
    #[error("bad partition {0:?}: expected count:K/N or hash:K/N with 1 <= K <= N")]
    Partition(String),
}

impl FromStr for Pattern {
    type Err = SelectError;

    fn from_str(text: &str) -> Result<Self, SelectError> {
        let globs = text
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(|g| Glob::new(g).map(|g| g.compile_matcher()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SelectError::Pattern {
                pattern: text.to_owned(),
                reason: e.kind().to_string(),
            })?;
        if globs.is_empty() {
            return Err(SelectError::Pattern {
                pattern: text.to_owned(),
                reason: "empty".into(),
            });
        }
        Ok(Pattern {
            text: text.to_owned(),
            globs,
        })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Pattern {
    /// Whether the case (or its criterion) matches.
    pub fn matches(&self, criterion: &Criterion, case: &CaseSpec) -> bool {
        self.globs
            .iter()
            .any(|g| g.is_match(&case.id) || g.is_match(&criterion.id))
    }
}

/// How shards are assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKind {
    /// Round robin over the selection in spec order.
    Count,
    /// By the hash of the case id.
    Hash,
}

/// Shard `shard` (1-based) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// `count` or `hash`.
    pub kind: PartitionKind,
    /// This shard, 1 to `total`.
    pub shard: u64,
    /// Number of shards, at least 1.
    pub total: u64,
}

impl FromStr for Partition {
    type Err = SelectError;

    fn from_str(text: &str) -> Result<Self, SelectError> {
        let bad = || SelectError::Partition(text.to_owned());
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        let kind = match kind {
            "count" => PartitionKind::Count,
            "hash" => PartitionKind::Hash,
            _ => return Err(bad()),
        };
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let shard: u64 = k.parse().map_err(|_| bad())?;
        let total: u64 = n.parse().map_err(|_| bad())?;
        if shard == 0 || total == 0 || shard > total {
            return Err(bad());
        }
        Ok(Partition { kind, shard, total })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PartitionKind::Count => "count",
            PartitionKind::Hash => "hash",
        };
        write!(f, "{kind}:{}/{}", self.shard, self.total)
    }
}

impl Partition {
    /// Whether the `index`-th selected case (0-based, spec order), with id
    /// `id`, is in this shard.
    pub fn contains(&self, index: usize, id: &str) -> bool {
        let bucket = match self.kind {
            PartitionKind::Count => index as u64 % self.total,
            PartitionKind::Hash => xxhash_rust::xxh64::xxh64(id.as_bytes(), 0) % self.total,
        };
        bucket == self.shard - 1
    }
}

/// The cases a run takes.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Cases matching any of these (all cases when empty).
    pub only: Vec<Pattern>,
    /// Minus the cases matching any of these.
    pub exclude: Vec<Pattern>,
    /// Then only this shard.
    pub partition: Option<Partition>,
}

impl Selection {
    /// The selected cases of `spec`, in spec order.
    ///
    /// # Errors
    /// [`SelectError::NoMatch`] for an `--only` pattern that matches no case
    /// of the spec (a typo must not silently select nothing).
    pub fn cases<'s>(
        &self,
        spec: &'s Spec,
    ) -> Result<Vec<(&'s Criterion, &'s CaseSpec)>, SelectError> {
        for p in &self.only {
            if !spec.cases().any(|(c, k)| p.matches(c, k)) {
                return Err(SelectError::NoMatch(p.to_string()));
            }
        }
        let chosen = spec.cases().filter(|(c, k)| {
            (self.only.is_empty() || self.only.iter().any(|p| p.matches(c, k)))
                && !self.exclude.iter().any(|p| p.matches(c, k))
        });
        Ok(chosen
            .enumerate()
            .filter(|(i, (_, k))| self.partition.is_none_or(|p| p.contains(*i, &k.id)))
            .map(|(_, ck)| ck)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(sel: &Selection) -> Vec<String> {
        let spec = Spec::load();
        sel.cases(&spec)
            .unwrap()
            .into_iter()
            .map(|(_, k)| k.id.clone())
            .collect()
    }

    fn pat(s: &str) -> Pattern {
        s.parse().unwrap()
    }

    #[test]
    fn globs_and_lists_select_by_case_or_criterion() {
        let sel = Selection {
            only: vec![pat("full,wrap-around.s*")],
            ..Selection::default()
        };
        assert_eq!(
            ids(&sel),
            [
                "full.exactly-capacity",
                "full.refuse",
                "wrap-around.straddle"
            ]
        );
        let sel = Selection {
            only: vec![pat("crash")],
            exclude: vec![pat("*consumer*")],
            ..Selection::default()
        };
        assert_eq!(ids(&sel), ["crash.producer-killed"]);
    }

    #[test]
    fn an_only_pattern_that_matches_nothing_is_an_error() {
        let sel = Selection {
            only: vec![pat("no-such-*")],
            ..Selection::default()
        };
        assert!(matches!(
            sel.cases(&Spec::load()),
            Err(SelectError::NoMatch(_))
        ));
        assert!("[".parse::<Pattern>().is_err());
        assert!(",".parse::<Pattern>().is_err());
    }

    #[test]
    fn partitions_are_disjoint_and_cover_every_case_once() {
        let all = ids(&Selection::default());
        for kind in ["count", "hash"] {
            for total in 1..=5u64 {
                let mut seen = Vec::new();
                for shard in 1..=total {
                    let sel = Selection {
                        partition: Some(format!("{kind}:{shard}/{total}").parse().unwrap()),
                        ..Selection::default()
                    };
                    seen.extend(ids(&sel));
                }
                let unique: BTreeSet<_> = seen.iter().cloned().collect();
                assert_eq!(seen.len(), all.len(), "{kind} {total}: a case twice");
                assert_eq!(unique, all.iter().cloned().collect(), "{kind} {total}");
            }
        }
        let sel = Selection {
            partition: Some("count:1/2".parse().unwrap()),
            ..Selection::default()
        };
        assert_eq!(ids(&sel)[..2], [all[0].clone(), all[2].clone()]);
    }

    #[test]
    fn bad_partitions_are_refused() {
        for bad in [
            "count:0/2",
            "count:3/2",
            "hash:1/0",
            "slice:1/2",
            "count:1",
            "count:a/b",
        ] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
        assert_eq!(
            "hash:2/3".parse::<Partition>().unwrap().to_string(),
            "hash:2/3"
        );
    }
}
