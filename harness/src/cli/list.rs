//! `ringcheck list` and `ringcheck explain`: the spec for people.

use super::{emit, usage, Exit};
use ringcheck::protocol::Feature;
use ringcheck::spec::{Kind, Spec};

/// `ringcheck list --format`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ListFormat {
    /// A table for people.
    Text,
    /// The spec as JSON.
    Json,
}

/// Prints the criteria and their cases.
pub fn main(format: ListFormat) -> Exit {
    let spec = Spec::load();
    match format {
        ListFormat::Text => emit(&list(&spec)),
        ListFormat::Json => match serde_json::to_string_pretty(&spec) {
            Ok(json) => out!("{json}"),
            Err(e) => return usage(&format!("cannot write the spec as JSON: {e}")),
        },
    }
    Exit::Conforming
}

/// Prints one criterion (or the criterion of one case) in full.
pub fn explain(id: &str) -> Exit {
    match describe(&Spec::load(), id) {
        Some(text) => {
            emit(&text);
            Exit::Conforming
        }
        None => usage(&format!(
            "no criterion or case {id:?} (see `ringcheck list`)"
        )),
    }
}

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Positive => "positive",
        Kind::Negative => "negative",
    }
}

fn features(list: &[Feature]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = list.iter().map(|f| f.as_str()).collect();
        format!(" [needs {}]", names.join(", "))
    }
}

fn list(spec: &Spec) -> String {
    let mut out = String::new();
    for c in &spec.criteria {
        out.push_str(&format!(
            "{:<18} {}{}\n",
            c.id,
            c.title,
            features(&c.features)
        ));
        for k in &c.cases {
            out.push_str(&format!(
                "  {:<36} {}{}\n",
                k.id,
                kind(k.kind),
                features(&k.features)
            ));
        }
    }
    out
}

fn describe(spec: &Spec, id: &str) -> Option<String> {
    let c = spec
        .criteria
        .iter()
        .find(|c| c.id == id || c.cases.iter().any(|k| k.id == id))?;
    let mut out = format!(
        "{} — {}\n\n{}\n\nsource: {}\nrequired: {}{}\n\ncases:\n",
        c.id,
        c.title,
        c.statement,
        c.source,
        if c.required { "yes" } else { "no" },
        features(&c.features)
    );
    for k in &c.cases {
        if k.id == id || c.id == id {
            out.push_str(&format!(
                "  {} ({}){}\n    {}\n",
                k.id,
                kind(k.kind),
                features(&k.features),
                k.checks
            ));
        }
    }
    Some(out)
}
