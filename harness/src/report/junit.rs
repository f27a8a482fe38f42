//! The JUnit XML report, for CI dashboards: one test suite per criterion,
//! one test case per case; `fail` and `hung` are failures (with the
//! reproduce command and the transcript), `skip` is skipped.

use crate::run::{RunReport, Verdict};
use crate::spec::Spec;

/// The report as JUnit XML: one test suite per criterion, one test case per
/// case; fail and hung are failures, skip is skipped.
pub fn junit(r: &RunReport, spec: &Spec) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("ringcheck");
    let roles = r.roles.to_string();
    for c in &spec.criteria {
        let mine: Vec<_> = r.cases.iter().filter(|k| k.criterion == c.id).collect();
        if mine.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(c.id.as_str());
        // Every verdict holds within the driver's declared roles.
        suite.add_property(quick_junit::Property::new("roles", roles.as_str()));
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
                    let mut description = format!("reproduce: {}\n", r.reproduce(&k.id));
                    description.push_str(&k.transcript.join("\n"));
                    s.set_description(description);
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
