//! The text report, for people: a table of criteria, the verdict, each
//! failure with the command that reproduces it, its transcript and the
//! drivers' stderr, and what was not checked.

use crate::run::{RunReport, RunVerdict, Verdict};
use crate::spec::{Kind, Spec};
use std::fmt::Write as _;

/// The text report: a table of criteria, the verdict, each failure with its
/// reproduction, and what was not checked.
pub fn text(r: &RunReport, spec: &Spec) -> String {
    let mut out = String::new();
    let features: Vec<&str> = r.features.iter().map(|f| f.as_str()).collect();
    let _ = writeln!(out, "ringcheck: {} via `{}`", r.implementation, r.driver);
    let _ = writeln!(
        out,
        "features: {}; roles: {}; seed: {}{}",
        if features.is_empty() {
            "none".into()
        } else {
            features.join(", ")
        },
        r.roles,
        r.seed,
        r.partition
            .as_deref()
            .map_or(String::new(), |p| format!("; partition {p}"))
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<18} {:>5} {:>5} {:>5} {:>5} {:>5}",
        "criterion", "cases", "pass", "fail", "hung", "skip"
    );
    for c in &spec.criteria {
        let mine: Vec<_> = r.cases.iter().filter(|k| k.criterion == c.id).collect();
        if mine.is_empty() {
            continue;
        }
        let n = |v: Verdict| mine.iter().filter(|k| k.verdict == v).count();
        let flag = if n(Verdict::Fail) + n(Verdict::Hung) > 0 {
            "  <- FAILED"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:<18} {:>5} {:>5} {:>5} {:>5} {:>5}{flag}",
            c.id,
            mine.len(),
            n(Verdict::Pass),
            n(Verdict::Fail),
            n(Verdict::Hung),
            n(Verdict::Skip)
        );
    }
    let count = |v: Verdict| r.cases.iter().filter(|k| k.verdict == v).count();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "verdict: {}{} ({} cases: {} passed, {} failed, {} hung, {} skipped) in {:.1} s",
        verdict_word(r.verdict),
        if r.roles.is_any() {
            String::new()
        } else {
            format!(" as {}", r.roles)
        },
        r.cases.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Hung),
        count(Verdict::Skip),
        r.millis as f64 / 1000.0
    );
    for why in &r.unmet {
        let _ = writeln!(out, "  not conforming: {why}");
    }
    let bad: Vec<_> = r
        .cases
        .iter()
        .filter(|k| matches!(k.verdict, Verdict::Fail | Verdict::Hung))
        .collect();
    if !bad.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for k in bad {
            let verdict = if k.verdict == Verdict::Hung {
                "HUNG"
            } else {
                "FAIL"
            };
            let kind = match k.kind {
                Kind::Positive => "positive",
                Kind::Negative => "negative",
            };
            let _ = writeln!(out, "\n--- {} [{kind}] {verdict}", k.id);
            for line in k.message.as_deref().unwrap_or("").lines() {
                let _ = writeln!(out, "    {line}");
            }
            let _ = writeln!(out, "    reproduce: {}", r.reproduce(&k.id));
            if !k.transcript.is_empty() {
                let _ = writeln!(
                    out,
                    "    transcript (last {} lines):",
                    k.transcript.len().min(40)
                );
                for line in k
                    .transcript
                    .iter()
                    .skip(k.transcript.len().saturating_sub(40))
                {
                    let _ = writeln!(out, "      {line}");
                }
            }
            for (d, tail) in &k.stderr {
                let _ = writeln!(out, "    stderr of d{d} (tail):");
                for line in tail {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    let skipped: Vec<_> = r
        .cases
        .iter()
        .filter(|k| k.verdict == Verdict::Skip)
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "\nnot checked:");
        for k in skipped {
            let _ = writeln!(out, "  {}: {}", k.id, k.message.as_deref().unwrap_or(""));
        }
    }
    if !r.leaked.is_empty() {
        let _ = writeln!(
            out,
            "\nleaked segments (removed by ringcheck): {}",
            r.leaked.join(", ")
        );
    }
    out
}

/// The run's verdict in capitals.
pub fn verdict_word(v: RunVerdict) -> &'static str {
    match v {
        RunVerdict::Conforming => "CONFORMING",
        RunVerdict::NotConforming => "NOT CONFORMING",
        RunVerdict::Unchecked => {
            "UNCHECKED (not conforming: a criterion for every driver was checked at no geometry)"
        }
    }
}
