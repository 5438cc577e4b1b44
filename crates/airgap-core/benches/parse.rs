//! Parse throughput on the real fixture log, repeated in memory to about 100 MB
//! (`AIRGAP_BENCH_MB` overrides), in messages per second:
//!
//! - `mavlink_reader`: the `mavlink` crate's own reader over the frames with the tlog
//!   timestamps stripped out: the bare-decode baseline of the performance budget;
//! - `frame_parser_stream`: our [`parse_slice`] over those same bytes;
//! - `tlog_for_each_frame`: our tlog fast path over the log as stored.
//!
//! Run with `cargo bench -p airgap-core --bench parse`.

use std::hint::black_box;
use std::io::{Cursor, ErrorKind};

use airgap_core::frame::{parse_slice, FrameRef};
use airgap_core::tlog::for_each_frame;
use airgap_core::MavMessage;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mavlink::error::MessageReadError;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/arducopter-sitl-flight.tlog"
);

struct Corpus {
    tlog: Vec<u8>,
    /// The same frames without timestamps.
    frames: Vec<u8>,
    messages: u64,
}

fn corpus() -> Corpus {
    let one = std::fs::read(FIXTURE).expect("fixture tlog is in the repository");
    let target_mb: usize = std::env::var("AIRGAP_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let copies = (target_mb * 1024 * 1024).div_ceil(one.len()).max(1);
    let tlog = one.repeat(copies);
    let mut frames = Vec::with_capacity(tlog.len());
    let stats = for_each_frame(&tlog, |_, frame| frames.extend_from_slice(frame.raw));
    assert_eq!(stats.bad_records, 0, "fixture must be clean");
    Corpus {
        tlog,
        frames,
        messages: stats.records,
    }
}

/// What a consumer of each message costs at least: look at it. The lead's state
/// update plugs in here later.
#[inline]
fn consume(count: &mut u64, sysid: u8, msg: &MavMessage) {
    *count += 1;
    black_box((sysid, msg));
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(corpus.messages));
    group.sample_size(10);

    group.bench_function("mavlink_reader", |b| {
        b.iter(|| {
            let mut reader = mavlink::MavlinkReader::new(Cursor::new(corpus.frames.as_slice()));
            let mut count = 0;
            loop {
                match reader.read_any_message::<MavMessage>() {
                    Ok((header, msg)) => consume(&mut count, header.system_id as u8, &msg),
                    Err(MessageReadError::Io(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
                    Err(MessageReadError::Io(e)) => panic!("reading memory failed: {e}"),
                    Err(MessageReadError::Parse(_)) => {}
                }
            }
            assert_eq!(count, corpus.messages);
        })
    });

    group.bench_function("frame_parser_stream", |b| {
        b.iter(|| {
            let mut count = 0;
            for frame in parse_slice(&corpus.frames).flatten() {
                consume(&mut count, frame.sysid(), &frame.msg);
            }
            assert_eq!(count, corpus.messages);
        })
    });

    group.bench_function("tlog_for_each_frame", |b| {
        b.iter(|| {
            let mut count = 0;
            for_each_frame(&corpus.tlog, |time_us, frame: &FrameRef<'_>| {
                black_box(time_us);
                consume(&mut count, frame.sysid(), &frame.msg);
            });
            assert_eq!(count, corpus.messages);
        })
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
