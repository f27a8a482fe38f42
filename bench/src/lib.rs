//! Benchmarks of shmring beside its anchors. Everything lives in the
//! `throughput` bench (`benches/throughput/`, one module per competitor or
//! scenario): `cargo bench -p ringspec-bench`, or
//! `SHMRING_BENCH_QUICK=1 cargo bench -p ringspec-bench` for a smoke run of
//! seconds. This library is empty; it exists because a package needs a
//! library or binary target.
