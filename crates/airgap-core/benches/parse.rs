//! Parse throughput on the real fixture log, repeated in memory to about 100 MB
//! (`AIRGAP_BENCH_MB` overrides), in messages per second. The workloads live in
//! `airgap_core::throughput` so that `airgap bench` measures exactly the same code:
//!
//! - `mavlink_reader`: the `mavlink` crate's own reader over the frames with the tlog
//!   timestamps stripped out: the bare-decode baseline of the performance budget;
//! - `parse`: our tlog parser over the log as stored;
//! - `parse_and_update`: our parser feeding the vehicle-state reducer and plot series.
//!
//! Run with `cargo bench -p airgap-core --bench parse`.

use airgap_core::throughput::{self, Corpus};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/arducopter-sitl-flight.tlog"
);

fn bench(c: &mut Criterion) {
    let log = std::fs::read(FIXTURE).expect("fixture tlog is in the repository");
    let target_mb: usize = std::env::var("AIRGAP_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let corpus = Corpus::repeat(&log, target_mb * 1024 * 1024);
    assert_eq!(corpus.stats.bad_records, 0, "fixture must be clean");

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(corpus.messages));
    group.sample_size(10);
    group.bench_function("mavlink_reader", |b| {
        b.iter(|| assert_eq!(throughput::mavlink_reader(&corpus.frames), corpus.messages))
    });
    group.bench_function("parse", |b| {
        b.iter(|| assert_eq!(throughput::parse(&corpus.tlog), corpus.messages))
    });
    group.bench_function("parse_and_update", |b| {
        b.iter(|| assert_eq!(throughput::parse_and_update(&corpus.tlog), corpus.messages))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
