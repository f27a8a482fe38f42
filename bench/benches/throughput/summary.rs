//! The closing summary: timed runs of every throughput scenario, made with
//! the same code as criterion's samples, interleaved (one run of each
//! scenario per round, so that each median spans the same minutes as its
//! anchors': on a small shared machine the speed of both drifts from minute
//! to minute), the median of each; then the Python rows (interleaved in the
//! same way), the one-way latencies and the cache-line floor. Prints
//! items/s, each rate's ratio to shmring 1P1C (1024 x 64 B, one call per
//! item), the ratios the README quotes, latency percentiles, and the
//! Python table: each row's ratio to the original Python design at the
//! same geometry, and whether the package reaches 20x it at 10 x 64 B,
//! one item per call.

use crate::python::{self, Row, Subject, Wait};
use crate::{array_queue, must, pingpong, pipe, posix_mq, rtrb, shmring, socketpair, Plan};
use std::fmt::Write as _;
use std::time::Duration;

/// What the package must reach at 10 x 64 B, one item per call, as a
/// multiple of the original design's items/s.
const PACKAGE_TARGET: f64 = 20.0;

/// The Python rows, in the order they run and print.
const PYTHON_ROWS: [(Row, &str); 8] = [
    (
        python::ORIGINAL_10,
        "Python original design, 10 x 64 B, put/get, polling",
    ),
    (
        python::REFERENCE_10,
        "Python reference design, 10 x 64 B, put/get, polling",
    ),
    (
        python::PACKAGE_10_POLL,
        "shmring package, 10 x 64 B, put/get, polling",
    ),
    (
        python::PACKAGE_10,
        "shmring package, 10 x 64 B, put/get, blocking",
    ),
    (
        python::PACKAGE_10_BATCH,
        "shmring package, 10 x 64 B, put_many/get_many 10, blocking",
    ),
    (
        python::ORIGINAL_1024,
        "Python original design, 1024 x 64 B, put/get, polling",
    ),
    (
        python::PACKAGE_1024,
        "shmring package, 1024 x 64 B, put/get, blocking",
    ),
    (
        python::PACKAGE_1024_BATCH,
        "shmring package, 1024 x 64 B, put_many/get_many 64, blocking",
    ),
];
/// Width of the Python table's first column.
const PYTHON_LABEL: usize = 62;

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

/// Items per run of a Python row: the polling rows move tens of thousands
/// of items a second, the blocking ones hundreds of thousands.
fn python_items(plan: &Plan, row: Row) -> u64 {
    match row.wait {
        Wait::Poll => plan.python_items,
        Wait::Block => plan.package_items,
    }
}

/// Median items/s of each Python row (in [`PYTHON_ROWS`] order).
struct PythonRates([f64; PYTHON_ROWS.len()]);

impl PythonRates {
    fn measure(plan: &Plan, package: &python::Package) -> Self {
        let mut rates = vec![Vec::new(); PYTHON_ROWS.len()];
        // Interleaved too: one run of every row per round.
        for _ in 0..plan.python_runs {
            for ((row, what), rates) in PYTHON_ROWS.iter().zip(&mut rates) {
                let r = must(what, python::run(*row, package, python_items(plan, *row)));
                rates.push(r);
            }
        }
        let mut medians = [0.0; PYTHON_ROWS.len()];
        for (m, r) in medians.iter_mut().zip(rates) {
            *m = median(r);
        }
        PythonRates(medians)
    }

    fn of(&self, row: Row) -> f64 {
        let i = PYTHON_ROWS
            .iter()
            .position(|(r, _)| *r == row)
            .expect("a row of PYTHON_ROWS");
        self.0[i]
    }

    /// The original design's items/s at `row`'s geometry, one item per
    /// call (it has no batch calls).
    fn original(&self, row: Row) -> f64 {
        let original = PYTHON_ROWS
            .iter()
            .find(|(r, _)| r.subject == Subject::Original && r.capacity == row.capacity)
            .expect("an original-design row at every geometry");
        self.of(original.0)
    }
}

/// Medians of the Rust and kernel scenarios, items/s.
struct Throughput {
    shm_1p1c: f64,
    shm_batch: f64,
    shm_small: f64,
    shm_small_batch: f64,
    shm_2p2c: f64,
    shm_single: f64,
    q_1p1c: f64,
    q_2p2c: f64,
    rtrb_1p1c: f64,
    mq: f64,
    sock: f64,
    pipe: f64,
}

impl Throughput {
    fn measure(plan: &Plan) -> Self {
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
        Throughput {
            shm_1p1c: m[0],
            shm_batch: m[1],
            shm_small: m[2],
            shm_small_batch: m[3],
            shm_2p2c: m[4],
            shm_single: m[5],
            q_1p1c: m[6],
            q_2p2c: m[7],
            rtrb_1p1c: m[8],
            mq: m[9],
            sock: m[10],
            pipe: m[11],
        }
    }

    fn print(&self, plan: &Plan, py: &PythonRates, out: &mut String) {
        let t = self;
        let _ = writeln!(out, "\n== shmring throughput summary ==");
        let _ = writeln!(
            out,
            "64-byte items; median of {} timed run(s) of {} items per scenario",
            plan.summary_runs, plan.summary_items
        );
        let _ = writeln!(
            out,
            "{:<52} {:>13} {:>12}",
            "scenario", "items/s", "x shmring"
        );
        let _ = writeln!(out, "{:<52} {:>13} {:>12}", "", "", "1P1C 1024");
        let rows = [
            ("shmring 1P1C, 1024 x 64 B (processes)", t.shm_1p1c),
            ("shmring 1P1C, 1024 x 64 B, single roles", t.shm_single),
            (
                "shmring 1P1C, 1024 x 64 B, put_many/get_many 32",
                t.shm_batch,
            ),
            ("shmring 1P1C, 10 x 64 B (processes)", t.shm_small),
            (
                "shmring 1P1C, 10 x 64 B, put_many/get_many 10",
                t.shm_small_batch,
            ),
            ("shmring 2P2C, 1024 x 64 B (processes)", t.shm_2p2c),
            ("rtrb 1P1C, 1024 (threads, spinning)", t.rtrb_1p1c),
            ("ArrayQueue 1P1C, 1024 (threads, spinning)", t.q_1p1c),
            ("ArrayQueue 2P2C, 1024 (threads, spinning)", t.q_2p2c),
            ("POSIX mq 1P1C, 10 x 64 B (processes)", t.mq),
            ("socketpair SEQPACKET 1P1C, 64 B msgs (processes)", t.sock),
            ("pipe 1P1C, 64 B records (processes)", t.pipe),
        ];
        for (what, r) in rows {
            let _ = writeln!(out, "{what:<52} {} {:>12.3}", rate(r), r / t.shm_1p1c);
        }
        let _ = writeln!(out, "\n{:<52} {:>13}", "ratio", "x");
        let (py_original, py_reference) = (py.of(python::ORIGINAL_10), py.of(python::REFERENCE_10));
        let ratios = [
            ("shmring 1P1C 1024x64 / rtrb 1P1C", t.shm_1p1c / t.rtrb_1p1c),
            (
                "shmring 1P1C 1024x64 / ArrayQueue 1P1C",
                t.shm_1p1c / t.q_1p1c,
            ),
            (
                "shmring 1P1C single roles / rtrb 1P1C",
                t.shm_single / t.rtrb_1p1c,
            ),
            (
                "shmring 1P1C single roles / ArrayQueue 1P1C",
                t.shm_single / t.q_1p1c,
            ),
            (
                "shmring 1P1C batched 32 / ArrayQueue 1P1C",
                t.shm_batch / t.q_1p1c,
            ),
            (
                "shmring 2P2C 1024x64 / ArrayQueue 2P2C",
                t.shm_2p2c / t.q_2p2c,
            ),
            ("shmring 1P1C 1024x64 / POSIX mq 10x64", t.shm_1p1c / t.mq),
            ("shmring 1P1C 10x64 / POSIX mq 10x64", t.shm_small / t.mq),
            (
                "shmring 1P1C single roles / POSIX mq 10x64",
                t.shm_single / t.mq,
            ),
            (
                "shmring 1P1C 1024x64 / socketpair SEQPACKET",
                t.shm_1p1c / t.sock,
            ),
            (
                "shmring 1P1C single roles / socketpair",
                t.shm_single / t.sock,
            ),
            (
                "shmring 1P1C 1024x64 / pipe 64 B records",
                t.shm_1p1c / t.pipe,
            ),
            ("shmring 1P1C single roles / pipe", t.shm_single / t.pipe),
            (
                "shmring 1P1C 10x64 / Python reference 10x64",
                t.shm_small / py_reference,
            ),
            (
                "shmring 10x64 batched 10 / Python reference",
                t.shm_small_batch / py_reference,
            ),
            (
                "shmring 1P1C 10x64 / Python original 10x64",
                t.shm_small / py_original,
            ),
            (
                "shmring 10x64 batched 10 / Python original",
                t.shm_small_batch / py_original,
            ),
            (
                "shmring 1P1C 10x64 / Python package 10x64 blocking",
                t.shm_small / py.of(python::PACKAGE_10),
            ),
        ];
        for (what, x) in ratios {
            let _ = writeln!(out, "{what:<52} {x:>13.3}");
        }
    }
}

fn print_python(plan: &Plan, py: &PythonRates, out: &mut String) {
    let _ = writeln!(
        out,
        "\n== Python: the shmring package and the Python designs =="
    );
    let _ = writeln!(
        out,
        "one producer and one consumer process, 64-byte items; median of {} run(s) \
         of {} items (polling rows) or {} items (blocking rows)",
        plan.python_runs, plan.python_items, plan.package_items
    );
    let _ = writeln!(
        out,
        "put/get: one item per call; polling: non-blocking calls retried after \
         time.sleep(0) (the designs have no other); blocking: timeout=None"
    );
    let _ = writeln!(
        out,
        "{:<PYTHON_LABEL$} {:>13} {:>12}",
        "scenario", "items/s", "x original"
    );
    let _ = writeln!(
        out,
        "{:<PYTHON_LABEL$} {:>13} {:>12}",
        "", "", "same geometry"
    );
    for (row, what) in PYTHON_ROWS {
        let r = py.of(row);
        let _ = writeln!(
            out,
            "{what:<PYTHON_LABEL$} {} {:>12.2}",
            rate(r),
            r / py.original(row)
        );
    }
    let _ = writeln!(
        out,
        "(the original design has no batch calls: the batched rows are against its \
         one item per call)"
    );
    let x = py.of(python::PACKAGE_10) / py.original(python::PACKAGE_10);
    let verdict = if x >= PACKAGE_TARGET {
        "reaches"
    } else {
        "does NOT reach"
    };
    let _ = writeln!(
        out,
        "shmring package / original design, 10 x 64 B, one item per call (blocking): {x:.1}x, \
         which {verdict} {PACKAGE_TARGET}x"
    );
}

fn print_latency(lat: &[u64], lat_single: &[u64], floor: &[u64], out: &mut String) {
    for (lat, what) in [(lat, ""), (lat_single, ", single roles")] {
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
        percentile(floor, 0.50),
        percentile(floor, 0.90),
        percentile(floor, 0.99),
        percentile(floor, 0.999),
        percentile(floor, 1.0)
    );
    for (lat, what) in [(lat, ""), (lat_single, ", single roles")] {
        let _ = writeln!(
            out,
            "shmring one-way p50 / ping-pong p50{what}: {:.2}x; p99 / p99: {:.2}x",
            percentile(lat, 0.50) as f64 / percentile(floor, 0.50).max(1) as f64,
            percentile(lat, 0.99) as f64 / percentile(floor, 0.99).max(1) as f64
        );
    }
}

/// Runs and prints the summary: every section, or with `python_only` the
/// Python rows alone.
pub fn run(plan: &Plan, package: &python::Package, python_only: bool) {
    let throughput = (!python_only).then(|| Throughput::measure(plan));
    let py = PythonRates::measure(plan, package);
    let mut out = String::new();
    if let Some(t) = &throughput {
        t.print(plan, &py, &mut out);
    }
    print_python(plan, &py, &mut out);
    if !python_only {
        let lat = must(
            "latency",
            shmring::latency_run(plan.round_trips, shmring::SHM_1P1C),
        );
        let lat_single = must(
            "latency, single roles",
            shmring::latency_run(plan.round_trips, shmring::SHM_1P1C_SINGLE),
        );
        let floor = must("cache-line ping-pong", pingpong::run(plan.round_trips));
        print_latency(&lat, &lat_single, &floor, &mut out);
    }
    print!("{out}");
}
