//! Reports of a run: text for people, JSON for machines, JUnit XML for CI
//! dashboards.

use crate::run::{RunReport, Verdict};
use crate::spec::Spec;
use std::fmt::Write as _;

/// The text report: a table of criteria, the verdict, each failure with its
/// reproduction, and what was not checked.
pub fn text(r: &RunReport) -> String {
    let spec = Spec::load();
    let mut out = String::new();
    let features: Vec<&str> = r.features.iter().map(|f| f.as_str()).collect();
    let _ = writeln!(out, "ringcheck: {} via `{}`", r.implementation, r.driver);
    let _ = writeln!(
        out,
        "features: {}; seed: {}",
        if features.is_empty() {
            "none".into()
        } else {
            features.join(", ")
        },
        r.seed
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
        "verdict: {} ({} cases: {} passed, {} failed, {} hung, {} skipped) in {:.1} s",
        if r.conforming {
            "CONFORMING"
        } else {
            "NOT CONFORMING"
        },
        r.cases.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Hung),
        count(Verdict::Skip),
        r.millis as f64 / 1000.0
    );
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
                crate::spec::Kind::Positive => "positive",
                crate::spec::Kind::Negative => "negative",
            };
            let _ = writeln!(out, "\n--- {} [{kind}] {verdict}", k.id);
            for line in k.message.as_deref().unwrap_or("").lines() {
                let _ = writeln!(out, "    {line}");
            }
            let _ = writeln!(
                out,
                "    reproduce: ringcheck run --driver {} --only {} --seed {}",
                shell_words::quote(&r.driver),
                k.id,
                r.seed
            );
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

/// The report as JSON.
pub fn json(r: &RunReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The report as JUnit XML: one test suite per criterion, one test case per
/// case; fail and hung are failures, skip is skipped.
pub fn junit(r: &RunReport) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let spec = Spec::load();
    let mut report = Report::new("ringcheck");
    for c in &spec.criteria {
        let mine: Vec<_> = r.cases.iter().filter(|k| k.criterion == c.id).collect();
        if mine.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(c.id.as_str());
        for k in mine {
            let status = match k.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Skip => {
                    let mut s = TestCaseStatus::skipped();
                    if let Some(m) = &k.message {
                        s.set_message(m.as_str());
                    }
                    s
                }
                Verdict::Fail | Verdict::Hung => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_type(if k.verdict == Verdict::Hung {
                        "hung"
                    } else {
                        "fail"
                    });
                    if let Some(m) = &k.message {
                        s.set_message(m.as_str());
                    }
                    s.set_description(k.transcript.join("\n"));
                    s
                }
            };
            let mut case = TestCase::new(k.id.as_str(), status);
            case.set_time(std::time::Duration::from_millis(k.millis));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}
