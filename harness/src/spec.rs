//! The ring spec: criteria and cases from `ring.toml` (in this crate;
//! `specs/ring.toml` in the repository links to it), compiled in.

use crate::protocol::Feature;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The text of `ring.toml`.
pub const RING_TOML: &str = include_str!("../ring.toml");

/// The whole spec.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Spec {
    /// Spec version.
    pub version: u32,
    /// The criteria, in order.
    #[serde(rename = "criterion")]
    pub criteria: Vec<Criterion>,
}

/// One criterion of the spec.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Criterion {
    /// Stable id, e.g. `full`.
    pub id: String,
    /// Short title.
    pub title: String,
    /// The normative statement (MUST / MUST NOT).
    pub statement: String,
    /// Where it comes from.
    pub source: String,
    /// Whether conformance needs it.
    pub required: bool,
    /// Its cases measure time or depend on scheduling (waits, concurrent
    /// processes, kills): a run takes them one at a time, and a nextest
    /// suite puts them in a serial test group.
    #[serde(default)]
    pub timing: bool,
    /// Driver features it needs.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// Its cases.
    #[serde(rename = "case")]
    pub cases: Vec<CaseSpec>,
}

/// Whether a case shows the right thing happening or a wrong input being
/// refused or survived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The right thing happens.
    Positive,
    /// A wrong input or situation is refused or survived.
    Negative,
}

/// One case of a criterion.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CaseSpec {
    /// Stable id, `<criterion>.<name>`.
    pub id: String,
    /// Positive or negative.
    pub kind: Kind,
    /// What it checks.
    pub checks: String,
    /// Features needed beyond the criterion's.
    #[serde(default)]
    pub features: Vec<Feature>,
}

impl Spec {
    /// The compiled-in spec.
    ///
    /// # Panics
    /// Never in a released binary: a test parses the file.
    pub fn load() -> Spec {
        toml::from_str(RING_TOML).expect("specs/ring.toml parses (checked by a test)")
    }

    /// Every case with its criterion.
    pub fn cases(&self) -> impl Iterator<Item = (&Criterion, &CaseSpec)> {
        self.criteria
            .iter()
            .flat_map(|c| c.cases.iter().map(move |k| (c, k)))
    }

    /// The criterion with `id`.
    pub fn criterion(&self, id: &str) -> Option<&Criterion> {
        self.criteria.iter().find(|c| c.id == id)
    }
}

impl CaseSpec {
    /// Features this case needs: its criterion's and its own.
    pub fn needs(&self, criterion: &Criterion) -> BTreeSet<Feature> {
        criterion
            .features
            .iter()
            .chain(&self.features)
            .copied()
            .collect()
    }
}
