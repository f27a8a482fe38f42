//! The spec file and the implemented cases agree both ways, and the
//! listing is pinned.

use ringcheck::criteria::registry;
use ringcheck::spec::Spec;
use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn every_case_in_the_spec_is_implemented_and_every_implemented_case_is_in_the_spec() {
    let spec = Spec::load();
    let in_spec: BTreeSet<&str> = spec.cases().map(|(_, k)| k.id.as_str()).collect();
    let implemented: BTreeSet<&str> = registry().iter().map(|(id, _)| *id).collect();
    let missing: Vec<_> = in_spec.difference(&implemented).collect();
    let extra: Vec<_> = implemented.difference(&in_spec).collect();
    assert!(
        missing.is_empty(),
        "cases in specs/ring.toml without an implementation: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "implemented cases missing from specs/ring.toml: {extra:?}"
    );
    assert_eq!(
        registry().len(),
        implemented.len(),
        "a case is registered twice"
    );
}

#[test]
fn ids_are_unique_and_cases_belong_to_their_criterion() {
    let spec = Spec::load();
    let mut seen = BTreeSet::new();
    for c in &spec.criteria {
        assert!(seen.insert(c.id.clone()), "duplicate criterion {}", c.id);
        assert!(!c.cases.is_empty(), "criterion {} has no case", c.id);
        assert!(
            c.statement.contains("MUST"),
            "criterion {} has no normative statement",
            c.id
        );
        for k in &c.cases {
            assert!(seen.insert(k.id.clone()), "duplicate case {}", k.id);
            assert!(
                k.id.starts_with(&format!("{}.", c.id)),
                "case {} is not under {}",
                k.id,
                c.id
            );
        }
    }
}

#[test]
fn the_spec_has_positive_and_negative_cases() {
    use ringcheck::spec::Kind;
    let spec = Spec::load();
    assert!(spec.cases().any(|(_, k)| k.kind == Kind::Positive));
    assert!(spec.cases().any(|(_, k)| k.kind == Kind::Negative));
}

#[test]
fn the_criteria_listing_is_pinned() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringcheck"))
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn explain_prints_the_statement_and_unknown_ids_are_usage_errors() {
    let bin = env!("CARGO_BIN_EXE_ringcheck");
    let out = Command::new(bin)
        .args(["explain", "full"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("MUST hold exactly capacity items") && text.contains("full.refuse"),
        "{text}"
    );
    let out = Command::new(bin)
        .args(["explain", "no-such-criterion"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin)
        .args(["run", "--only", "no-such-case"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_as_json_is_the_spec() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringcheck"))
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spec = Spec::load();
    let criteria = json["criterion"].as_array().expect("criterion list");
    assert_eq!(criteria.len(), spec.criteria.len());
    let cases: usize = criteria
        .iter()
        .map(|c| c["case"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(cases, spec.cases().count());
    assert_eq!(criteria[0]["id"], "lifecycle");
}
