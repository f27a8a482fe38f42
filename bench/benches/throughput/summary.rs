//! The closing summary: timed runs of every throughput scenario, made with
//! the same code as criterion's samples, interleaved (one run of each
//! scenario per round, so that each median spans the same minutes as its
//! anchors': on a small shared machine the speed of both drifts from minute
//! to minute), the median of each; then the Python designs, the one-way
//! latencies and the cache-line floor. Prints items/s, each rate's ratio to
//! shmring 1P1C (1024 x 64 B, one call per item), the ratios the README
//! quotes, and latency percentiles.

use crate::{array_queue, must, pingpong, pipe, posix_mq, python, rtrb, shmring, socketpair, Plan};
use std::fmt::Write as _;
use std::time::Duration;

fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:>11.2} M", r / 1e6)
    } else {
        format!("{:>11.1} k", r / 1e3)
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Median items/s of each Python design, or why there is none.
fn python_rates(plan: &Plan) -> [Result<f64, String>; 2] {
    let designs = [python::REFERENCE_DESIGN, python::ORIGINAL_DESIGN];
    let mut rates = [Vec::new(), Vec::new()];
    let mut notes: [Option<String>; 2] = [None, None];
    // Interleaved too: reference, original, reference, ...
    for _ in 0..plan.python_runs {
        for (i, design) in designs.iter().enumerate() {
            if notes[i].is_some() {
                continue;
            }
            match python::run(design, plan.python_items) {
                Ok(Some(r)) => rates[i].push(r),
                Ok(None) => notes[i] = Some("skipped: python3 not found".into()),
                Err(e) => notes[i] = Some(format!("failed: {e}")),
            }
        }
    }
    let [r0, r1] = rates;
    let [n0, n1] = notes;
    [(r0, n0), (r1, n1)].map(|(r, note)| match note {
        Some(note) => Err(note),
        None => Ok(median(r)),
    })
}

pub fn run(plan: &Plan) {
    let (n, runs) = (plan.summary_items, plan.summary_runs);
    type Run = Box<dyn Fn() -> Duration>;
    let shm = |shape: shmring::Shape, what: &'static str| -> Run {
        Box::new(move || must(what, shmring::run(shape, n)))
    };
    let scenarios: Vec<Run> = vec![
        shm(shmring::SHM_1P1C, "shmring 1P1C 1024x64"),
        shm(shmring::SHM_1P1C_BATCH, "shmring 1P1C 1024x64 batched"),
        shm(shmring::SHM_1P1C_SMALL, "shmring 1P1C 10x64"),
        shm(shmring::SHM_1P1C_SMALL_BATCH, "shmring 1P1C 10x64 batched"),
        shm(shmring::SHM_2P2C, "shmring 2P2C 1024x64"),
        shm(
            shmring::SHM_1P1C_SINGLE,
            "shmring 1P1C 1024x64 single roles",
        ),
        Box::new(move || must("ArrayQueue 1P1C", array_queue::run(1, 1, n))),
        Box::new(move || must("ArrayQueue 2P2C", array_queue::run(2, 2, n))),
        Box::new(move || must("rtrb 1P1C", rtrb::run(n))),
        Box::new(move || must("POSIX mq 1P1C", posix_mq::run(n))),
        Box::new(move || must("socketpair 1P1C", socketpair::run(n))),
        Box::new(move || must("pipe 1P1C", pipe::run(n))),
    ];
    let mut rates = vec![Vec::new(); scenarios.len()];
    for _ in 0..runs {
        for (run, rates) in scenarios.iter().zip(&mut rates) {
            rates.push(n as f64 / run().as_secs_f64());
        }
    }
    let m: Vec<f64> = rates.into_iter().map(median).collect();
    let (shm_1p1c, shm_batch, shm_small, shm_small_batch, shm_2p2c, shm_single) =
        (m[0], m[1], m[2], m[3], m[4], m[5]);
    let (q_1p1c, q_2p2c, rtrb_1p1c) = (m[6], m[7], m[8]);
    let (mq, sock, pipe) = (m[9], m[10], m[11]);
    let [py_reference, py_original] = python_rates(plan);
    let lat = must(
        "latency",
        shmring::latency_run(plan.round_trips, shmring::SHM_1P1C),
    );
    let lat_single = must(
        "latency, single roles",
        shmring::latency_run(plan.round_trips, shmring::SHM_1P1C_SINGLE),
    );
    let floor = must("cache-line ping-pong", pingpong::run(plan.round_trips));

    let mut out = String::new();
    let _ = writeln!(out, "\n== shmring throughput summary ==");
    let _ = writeln!(
        out,
        "64-byte items; median of {runs} timed run(s) of {n} items per scenario \
         (Python: {} items, {} run(s))",
        plan.python_items, plan.python_runs
    );
    let _ = writeln!(
        out,
        "{:<52} {:>13} {:>12}",
        "scenario", "items/s", "x shmring"
    );
    let _ = writeln!(out, "{:<52} {:>13} {:>12}", "", "", "1P1C 1024");
    let rows = [
        ("shmring 1P1C, 1024 x 64 B (processes)", shm_1p1c),
        ("shmring 1P1C, 1024 x 64 B, single roles", shm_single),
        ("shmring 1P1C, 1024 x 64 B, put_many/get_many 32", shm_batch),
        ("shmring 1P1C, 10 x 64 B (processes)", shm_small),
        (
            "shmring 1P1C, 10 x 64 B, put_many/get_many 10",
            shm_small_batch,
        ),
        ("shmring 2P2C, 1024 x 64 B (processes)", shm_2p2c),
        ("rtrb 1P1C, 1024 (threads, spinning)", rtrb_1p1c),
        ("ArrayQueue 1P1C, 1024 (threads, spinning)", q_1p1c),
        ("ArrayQueue 2P2C, 1024 (threads, spinning)", q_2p2c),
        ("POSIX mq 1P1C, 10 x 64 B (processes)", mq),
        ("socketpair SEQPACKET 1P1C, 64 B msgs (processes)", sock),
        ("pipe 1P1C, 64 B records (processes)", pipe),
    ];
    for (what, r) in rows {
        let _ = writeln!(out, "{what:<52} {} {:>12.3}", rate(r), r / shm_1p1c);
    }
    for (what, py) in [
        ("Python reference design 1P1C, 10 x 64 B", &py_reference),
        ("Python original design 1P1C, 10 x 64 B", &py_original),
    ] {
        match py {
            Ok(r) => {
                let _ = writeln!(out, "{what:<52} {} {:>12.4}", rate(*r), r / shm_1p1c);
            }
            Err(note) => {
                let _ = writeln!(out, "{what:<52} {note}");
            }
        }
    }
    let _ = writeln!(out, "\n{:<52} {:>13}", "ratio", "x");
    let ratios = [
        ("shmring 1P1C 1024x64 / rtrb 1P1C", shm_1p1c / rtrb_1p1c),
        ("shmring 1P1C 1024x64 / ArrayQueue 1P1C", shm_1p1c / q_1p1c),
        (
            "shmring 1P1C single roles / rtrb 1P1C",
            shm_single / rtrb_1p1c,
        ),
        (
            "shmring 1P1C single roles / ArrayQueue 1P1C",
            shm_single / q_1p1c,
        ),
        (
            "shmring 1P1C batched 32 / ArrayQueue 1P1C",
            shm_batch / q_1p1c,
        ),
        ("shmring 2P2C 1024x64 / ArrayQueue 2P2C", shm_2p2c / q_2p2c),
        ("shmring 1P1C 1024x64 / POSIX mq 10x64", shm_1p1c / mq),
        ("shmring 1P1C 10x64 / POSIX mq 10x64", shm_small / mq),
        (
            "shmring 1P1C single roles / POSIX mq 10x64",
            shm_single / mq,
        ),
        (
            "shmring 1P1C 1024x64 / socketpair SEQPACKET",
            shm_1p1c / sock,
        ),
        ("shmring 1P1C single roles / socketpair", shm_single / sock),
        ("shmring 1P1C 1024x64 / pipe 64 B records", shm_1p1c / pipe),
        ("shmring 1P1C single roles / pipe", shm_single / pipe),
    ];
    for (what, x) in ratios {
        let _ = writeln!(out, "{what:<52} {x:>13.3}");
    }
    for (what, shm, py) in [
        (
            "shmring 1P1C 10x64 / Python reference 10x64",
            shm_small,
            &py_reference,
        ),
        (
            "shmring 10x64 batched 10 / Python reference",
            shm_small_batch,
            &py_reference,
        ),
        (
            "shmring 1P1C 10x64 / Python original 10x64",
            shm_small,
            &py_original,
        ),
        (
            "shmring 10x64 batched 10 / Python original",
            shm_small_batch,
            &py_original,
        ),
    ] {
        match py {
            Ok(r) => {
                let _ = writeln!(out, "{what:<52} {:>13.1}", shm / r);
            }
            Err(_) => {
                let _ = writeln!(out, "{what:<52} {:>13}", "n/a");
            }
        }
    }
    for (lat, what) in [(&lat, ""), (&lat_single, ", single roles")] {
        let _ = writeln!(
            out,
            "\none-way latency, processes (ping-pong round trip / 2, {} round trips, 1024 x 64 B rings{what}):",
            lat.len()
        );
        let _ = writeln!(
            out,
            "  p50 {} ns   p90 {} ns   p99 {} ns   p99.9 {} ns   max {} ns",
            percentile(lat, 0.50),
            percentile(lat, 0.90),
            percentile(lat, 0.99),
            percentile(lat, 0.999),
            percentile(lat, 1.0)
        );
    }
    let _ = writeln!(
        out,
        "one-way latency floor, processes (cache-line ping-pong / 2, {} round trips):",
        floor.len()
    );
    let _ = writeln!(
        out,
        "  p50 {} ns   p90 {} ns   p99 {} ns   p99.9 {} ns   max {} ns",
        percentile(&floor, 0.50),
        percentile(&floor, 0.90),
        percentile(&floor, 0.99),
        percentile(&floor, 0.999),
        percentile(&floor, 1.0)
    );
    for (lat, what) in [(&lat, ""), (&lat_single, ", single roles")] {
        let _ = writeln!(
            out,
            "shmring one-way p50 / ping-pong p50{what}: {:.2}x; p99 / p99: {:.2}x",
            percentile(lat, 0.50) as f64 / percentile(&floor, 0.50).max(1) as f64,
            percentile(lat, 0.99) as f64 / percentile(&floor, 0.99).max(1) as f64
        );
    }
    print!("{out}");
}
