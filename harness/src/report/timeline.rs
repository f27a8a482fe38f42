//! The SVG timeline of a history: one lane per process, each op a bar from
//! `t0` to `t1`, the offending ops in red.

use crate::history::{show, Action, Event};

/// An SVG timeline of a history: one lane per process, each op a bar from
/// `t0` to `t1`, the offending ops in red.
pub fn timeline_svg(history: &[Event], offending: &[usize], lanes: usize) -> String {
    let t_min = history.iter().map(|e| e.t0).min().unwrap_or(0);
    let t_max = history
        .iter()
        .map(|e| e.t1)
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
    svg.push_str("</svg>\n");
    svg
}
