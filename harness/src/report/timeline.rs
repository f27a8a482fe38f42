//! The SVG timeline of a history: one lane per process, each op a bar from
//! `t0` to `t1`, the offending ops in red, requests that never got an
//! answer as open-ended bars, and kills as red marks.

use crate::history::{show, Action, Event};

/// A request that got no answer: sent by `process` at `t0` (CLOCK_MONOTONIC
/// ns), given up at `gave_up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    /// The lane.
    pub process: usize,
    /// What was asked (`batch of 12 ops`).
    pub what: String,
    /// Sent, ns.
    pub t0: u64,
    /// Given up, ns.
    pub gave_up: u64,
}

/// A SIGKILL of `process` at `at` (CLOCK_MONOTONIC ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kill {
    /// The lane.
    pub process: usize,
    /// When, ns.
    pub at: u64,
}

/// An SVG timeline of a history: one lane per process (and one for the
/// drain), each op a bar from `t0` to `t1`, the offending ops in red; each
/// unanswered request a dashed bar open to the right; each kill a red mark.
pub fn timeline_svg(
    history: &[Event],
    offending: &[usize],
    lanes: usize,
    unanswered: &[Unanswered],
    kills: &[Kill],
) -> String {
    let starts = history
        .iter()
        .map(|e| e.t0)
        .chain(unanswered.iter().map(|u| u.t0))
        .chain(kills.iter().map(|k| k.at));
    let t_min = starts.clone().min().unwrap_or(0);
    let t_max = history
        .iter()
        .map(|e| e.t1)
        .chain(unanswered.iter().map(|u| u.gave_up))
        .chain(starts)
        .max()
        .unwrap_or(1)
        .max(t_min + 1);
    let (width, lane_h, left) = (1400.0, 34.0, 90.0);
    let scale = (width - left - 10.0) / (t_max - t_min) as f64;
    let height = lane_h * (lanes as f64 + 1.0) + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"monospace\" font-size=\"10\">\n\
         <text x=\"4\" y=\"14\">ops from t0 to t1 ({:.3} ms in all); red: ops named by a violation</text>\n",
        (t_max - t_min) as f64 / 1e6
    );
    for lane in 0..=lanes {
        let y = 24.0 + lane as f64 * lane_h;
        let name = if lane == lanes {
            "drain".to_owned()
        } else {
            format!("p{lane}")
        };
        svg.push_str(&format!("<text x=\"4\" y=\"{}\">{name}</text>\n", y + 16.0));
    }
    for (i, e) in history.iter().enumerate() {
        let lane = e.process.min(lanes);
        let x = left + (e.t0 - t_min) as f64 * scale;
        let w = ((e.t1 - e.t0) as f64 * scale).max(1.5);
        let y = 24.0 + lane as f64 * lane_h;
        let bad = offending.contains(&i);
        let (fill, label) = match &e.action {
            Action::Put { value, stored } => (
                "#9ecae1",
                format!(
                    "put {} {}",
                    show(value),
                    if *stored { "" } else { "(full)" }
                ),
            ),
            Action::Get { value: Some(v) } => ("#a1d99b", format!("get {}", show(v))),
            Action::Get { value: None } => ("#dddddd", "get null".to_owned()),
            Action::Len { value } => ("#fdd0a2", format!("len {value}")),
        };
        let fill = if bad { "#e6550d" } else { fill };
        let label = label
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;");
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"22\" fill=\"{fill}\" stroke=\"#555\"><title>{label}</title></rect>\n"
        ));
        if bad {
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" fill=\"#b00\">{label}</text>\n",
                y + 32.0
            ));
        }
    }
    for u in unanswered {
        let x = left + (u.t0.saturating_sub(t_min)) as f64 * scale;
        let w = (width - 10.0 - x).max(1.5);
        let y = 24.0 + u.process.min(lanes) as f64 * lane_h;
        let label = format!("{}: no answer", u.what)
            .replace('&', "&amp;")
            .replace('<', "&lt;");
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"22\" fill=\"#fdd0a2\" stroke=\"#b00\" stroke-dasharray=\"4 3\"><title>{label}</title></rect>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#b00\">{label} (open-ended)</text>\n",
            x + 3.0,
            y + 15.0
        ));
    }
    for k in kills {
        let x = left + (k.at.saturating_sub(t_min)) as f64 * scale;
        let y = 24.0 + k.process.min(lanes) as f64 * lane_h;
        svg.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#b00\" stroke-width=\"3\"><title>SIGKILL of p{}</title></line>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#b00\">killed</text>\n",
            y - 2.0,
            y + 24.0,
            k.process,
            x + 2.0,
            y - 3.0
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_has_a_picture_with_open_ended_bars_and_kills() {
        let history = vec![Event {
            process: 0,
            action: Action::Put {
                value: b"a".to_vec(),
                stored: true,
            },
            t0: 1_000_000,
            t1: 2_000_000,
        }];
        let unanswered = [Unanswered {
            process: 1,
            what: "batch of 3 ops".into(),
            t0: 1_500_000,
            gave_up: 9_000_000,
        }];
        let kills = [Kill {
            process: 2,
            at: 3_000_000,
        }];
        let svg = timeline_svg(&history, &[], 3, &unanswered, &kills);
        assert!(
            svg.contains("batch of 3 ops: no answer (open-ended)"),
            "{svg}"
        );
        assert!(svg.contains("stroke-dasharray"), "{svg}");
        assert!(svg.contains("SIGKILL of p2"), "{svg}");
        assert!(svg.contains("(8.000 ms in all)"), "{svg}");
        // With nothing answered at all, the picture still spans the hang.
        let empty = timeline_svg(&[], &[], 2, &unanswered, &[]);
        assert!(empty.contains("(7.500 ms in all)"), "{empty}");
    }
}
