//! Throughput and latency of shmring between processes, beside its
//! anchors, all measured in the same run at 64-byte items:
//!
//! - [`shmring`]: the scenarios (1P1C, batched, the original 10 x 64 B
//!   geometry, single roles, 2P2C; a ping-pong for one-way latency);
//! - [`rtrb`] and [`array_queue`]: in-process queues between two threads
//!   (what a queue can do on this machine without crossing processes);
//! - [`posix_mq`], [`socketpair`] and [`pipe`]: the kernel's IPC between
//!   two processes, one 64-byte item per call;
//! - [`pingpong`]: one cache line moving between two processes (the floor
//!   of one-way latency);
//! - [`python`]: the `shmring` Python package next to the Python designs
//!   it replaces (its extension built in release first);
//! - [`summary`]: the interleaved timed runs and the table of rates and
//!   ratios.
//!
//! Cross-process scenarios need real processes, so this binary re-executes
//! itself ([`procs`]): with `SHMRING_BENCH_ROLE` set, `main` runs that role
//! and exits before criterion starts. Every child is killed and reaped when
//! its handle drops and every shared object is removed by its creator's
//! guard, so a failed run leaves neither processes nor segments behind.
//!
//! Criterion measures the shmring and `ArrayQueue` scenarios with
//! `iter_custom` under linear sampling: sample `i` moves `i * d` batches
//! through one set of fresh processes, and the slope of time over batches
//! discounts the fixed cost of starting them. Criterion reports no
//! percentiles, and its figures sit in JSON files, so the closing summary
//! comes from separate timed runs (median of a few) made with the same code.
//!
//! `SHMRING_BENCH_QUICK=1` shrinks every count so the whole run takes
//! seconds (after the release build of the Python extension); the same
//! small counts apply when the binary runs without `--bench` (as
//! `cargo test --benches` does), which makes that a smoke test.
//! `SHMRING_BENCH_ONLY=python` runs the Python rows alone: no criterion
//! group, no other scenario of the summary.

mod array_queue;
mod items;
mod pingpong;
mod pipe;
mod posix_mq;
mod procs;
mod python;
mod rtrb;
mod shmring;
mod socketpair;
mod summary;
mod sys;

use criterion::{Criterion, SamplingMode, Throughput};
use std::time::Duration;

const QUICK_VAR: &str = "SHMRING_BENCH_QUICK";
const ONLY_VAR: &str = "SHMRING_BENCH_ONLY";
/// Item size of every scenario, bytes.
const ITEM: usize = 64;
/// Longest wait on a ring or a child before a run is called failed: far
/// beyond any healthy wait, short enough that a hung run ends by itself.
const STALL: Duration = Duration::from_secs(20);

/// Counts for one run of the bench.
pub struct Plan {
    /// Items per criterion iteration.
    batch: u64,
    warm_up: Duration,
    measurement: Duration,
    /// Items per timed summary run, and runs per scenario (median taken).
    summary_items: u64,
    summary_runs: usize,
    /// Items per run of a Python row that polls (the designs), and of
    /// one that blocks (the package, hundreds of thousands of items a
    /// second); runs per Python row (median taken).
    python_items: u64,
    package_items: u64,
    python_runs: usize,
    round_trips: usize,
}

impl Plan {
    fn full() -> Self {
        Plan {
            batch: 10_000,
            warm_up: Duration::from_secs(1),
            measurement: Duration::from_secs(5),
            summary_items: 1_000_000,
            summary_runs: 5,
            python_items: 100_000,
            package_items: 500_000,
            python_runs: 5,
            round_trips: 20_000,
        }
    }

    fn quick() -> Self {
        Plan {
            batch: 2_000,
            warm_up: Duration::from_millis(200),
            measurement: Duration::from_millis(500),
            summary_items: 100_000,
            summary_runs: 1,
            python_items: 10_000,
            package_items: 10_000,
            python_runs: 1,
            round_trips: 2_000,
        }
    }
}

/// The value of a run that must succeed: a failed run fails the bench.
fn must<T>(what: &str, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Runs child role `role` (this binary re-executed by [`procs`]).
fn run_role(role: &str, args: &[String]) -> Result<(), String> {
    match role {
        "producer" => shmring::producer_role(args),
        "consumer" => shmring::consumer_role(args),
        "pong" => shmring::pong_role(args),
        "line-pong" => pingpong::line_pong_role(args),
        "mq-producer" => posix_mq::producer_role(args),
        "mq-consumer" => posix_mq::consumer_role(args),
        "sock-producer" => socketpair::producer_role(args),
        "sock-consumer" => socketpair::consumer_role(args),
        "pipe-producer" => pipe::producer_role(args),
        "pipe-consumer" => pipe::consumer_role(args),
        other => Err(format!("unknown role {other:?}")),
    }
}

fn criterion_groups(c: &mut Criterion, plan: &Plan) {
    let batch = plan.batch;
    let mut g = c.benchmark_group("shmring_processes");
    g.sample_size(10)
        .warm_up_time(plan.warm_up)
        .measurement_time(plan.measurement)
        .sampling_mode(SamplingMode::Linear)
        .throughput(Throughput::Elements(batch));
    for (id, shape) in [
        ("1p1c_1024x64", shmring::SHM_1P1C),
        ("1p1c_1024x64_single_roles", shmring::SHM_1P1C_SINGLE),
        ("1p1c_1024x64_batch32", shmring::SHM_1P1C_BATCH),
        ("1p1c_10x64", shmring::SHM_1P1C_SMALL),
        ("2p2c_1024x64", shmring::SHM_2P2C),
    ] {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| must(id, shmring::run(shape, iters * batch)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("arrayqueue_threads");
    g.sample_size(10)
        .warm_up_time(plan.warm_up)
        .measurement_time(plan.measurement)
        .sampling_mode(SamplingMode::Linear)
        .throughput(Throughput::Elements(batch));
    for (id, p, c) in [("1p1c_1024", 1, 1), ("2p2c_1024", 2, 2)] {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| must(id, array_queue::run(p, c, iters * batch)))
        });
    }
    g.finish();
}

fn main() {
    if let Some(role) = procs::role() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let Err(e) = run_role(&role, &args) {
            eprintln!("throughput bench, {role} (pid {}): {e}", std::process::id());
            std::process::exit(1);
        }
        return;
    }
    let quick = std::env::var(QUICK_VAR).is_ok_and(|v| v == "1");
    let python_only = match std::env::var(ONLY_VAR) {
        Err(_) => false,
        Ok(v) if v == "python" => true,
        Ok(v) => panic!("{ONLY_VAR}={v:?}: the one section that runs alone is \"python\""),
    };
    // Without --bench, cargo is running this binary as a test: keep it short.
    let benching = std::env::args().any(|a| a == "--bench");
    let plan = if quick || !benching {
        Plan::quick()
    } else {
        Plan::full()
    };
    // Before any measurement: a failed build fails the bench at once, and
    // the compiler does not share the CPUs with a timed run.
    let package = must("the shmring Python package", python::Package::build());
    if !python_only {
        let mut c = Criterion::default()
            .sample_size(10)
            .warm_up_time(plan.warm_up)
            .measurement_time(plan.measurement)
            .configure_from_args();
        criterion_groups(&mut c, &plan);
        c.final_summary();
    }
    summary::run(&plan, &package, python_only);
}
