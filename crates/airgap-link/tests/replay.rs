//! Replays of the real fixture log and of small synthetic logs.

mod common;

use std::time::{Duration, Instant};

use airgap_core::frame::Frame;
use airgap_core::tlog::write_record;
use airgap_link::{Address, CancellationToken, Link, LinkError, LinkEvent, LinkOptions};
use common::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/arducopter-sitl-flight.tlog"
);

#[tokio::test]
async fn fixture_at_max_speed_yields_every_frame_then_ends() {
    let mut link = open(&format!("replay:{FIXTURE}@max")).await;
    assert!(matches!(next_event(&mut link).await, LinkEvent::Up { .. }));
    let mut frames = 0u64;
    let mut last_time_us = 0;
    let reason = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match link.recv().await {
                Some(LinkEvent::Frame { time_us, .. }) => {
                    frames += 1;
                    last_time_us = time_us;
                }
                Some(LinkEvent::Ended { reason }) => return reason,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("replay finishes");
    assert_eq!(frames, 16_896);
    assert_eq!(
        last_time_us, 1_795_492_479_876_996,
        "frames carry the log's time"
    );
    assert!(reason.contains("16896 frames"), "{reason}");
    assert!(link.recv().await.is_none());
    let stats = link.stats();
    assert_eq!(stats.rx_frames, 16_896);
    assert_eq!(stats.bad_records, 0);
    assert_eq!(stats.crc_errors, 0);
}

fn write_log(frames: &[(u64, Frame)]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    for (time_us, frame) in frames {
        write_record(file.as_file_mut(), *time_us, &frame.raw).expect("write");
    }
    file
}

#[tokio::test]
async fn replay_is_paced_by_the_log_and_the_speed_factor() {
    // Five frames 200 ms apart in log time: 800 ms at 1x, 200 ms at 4x.
    let frames: Vec<(u64, Frame)> = (0..5u8)
        .map(|i| {
            let time_us = 1_700_000_000_000_000 + u64::from(i) * 200_000;
            (time_us, Frame::encode_v2(1, 1, i, &heartbeat(i.into())))
        })
        .collect();
    let log = write_log(&frames);
    let mut link = open(&format!("replay:{}@4", log.path().display())).await;
    assert!(matches!(next_event(&mut link).await, LinkEvent::Up { .. }));
    let started = Instant::now();
    for (time_us, frame) in &frames {
        match next_event(&mut link).await {
            LinkEvent::Frame {
                frame: got,
                time_us: got_time,
            } => {
                assert_eq!(got.raw, frame.raw);
                assert_eq!(got_time, *time_us);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(190),
        "too fast: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(790),
        "not sped up: {elapsed:?}"
    );
    assert!(matches!(
        next_event(&mut link).await,
        LinkEvent::Ended { .. }
    ));
}

#[tokio::test]
async fn corrupt_records_are_skipped_and_counted_and_sends_are_discarded() {
    let frames: Vec<(u64, Frame)> = (0..10u8)
        .map(|i| {
            (
                u64::from(i),
                Frame::encode_v2(1, 1, i, &heartbeat(0x0101_0100 + u32::from(i))),
            )
        })
        .collect();
    let log = write_log(&frames);
    let mut bytes = std::fs::read(log.path()).expect("read back");
    let record_len = bytes.len() / 10;
    bytes[4 * record_len + 8 + 12] ^= 0x55; // inside the payload of record 4
    std::fs::write(log.path(), &bytes).expect("rewrite");

    let mut link = open(&format!("replay:{}@max", log.path().display())).await;
    link.sender()
        .send(255, 190, &heartbeat(0))
        .expect("a replay accepts sends");
    let mut got = Vec::new();
    loop {
        match next_event(&mut link).await {
            LinkEvent::Frame { frame, .. } => got.push(frame.seq()),
            LinkEvent::Ended { .. } => break,
            LinkEvent::Up { .. } | LinkEvent::Down { .. } => {}
        }
    }
    assert_eq!(got, vec![0, 1, 2, 3, 5, 6, 7, 8, 9]);
    let stats = link.stats();
    assert_eq!(stats.bad_records, 1);
    assert_eq!(stats.seq_gaps, 1);
    assert_eq!(stats.tx_frames, 1, "the send was counted");
}

#[tokio::test]
async fn missing_log_fails_open() {
    let address: Address = "replay:/nonexistent/flight.tlog".parse().expect("valid");
    let result = Link::open(&address, LinkOptions::default(), CancellationToken::new()).await;
    assert!(
        matches!(result, Err(LinkError::ReplayOpen { .. })),
        "{result:?}"
    );
}
