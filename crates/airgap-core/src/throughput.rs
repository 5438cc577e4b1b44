//! The workloads behind the parse benchmarks, shared by the criterion bench
//! (`cargo bench -p airgap-core`) and `airgap bench`, so both measure the same code.
//!
//! Each returns how many messages it handled; callers time them.

use std::io::{Cursor, ErrorKind};

use mavlink::error::MessageReadError;

use crate::series::SeriesSet;
use crate::state::VehicleState;
use crate::tlog::{for_each_frame, TlogStats};
use crate::MavMessage;

/// A log repeated in memory to about `target_bytes`, and the same frames without their
/// timestamps (what a bare MAVLink reader takes).
pub struct Corpus {
    pub tlog: Vec<u8>,
    pub frames: Vec<u8>,
    pub messages: u64,
    pub stats: TlogStats,
}

impl Corpus {
    pub fn repeat(log: &[u8], target_bytes: usize) -> Corpus {
        let copies = target_bytes.div_ceil(log.len().max(1)).max(1);
        let tlog = log.repeat(copies);
        let mut frames = Vec::with_capacity(tlog.len());
        let stats = for_each_frame(&tlog, |_, frame| frames.extend_from_slice(frame.raw));
        Corpus {
            messages: stats.records,
            tlog,
            frames,
            stats,
        }
    }
}

/// The `mavlink` crate's own reader over the bare frames: the baseline of the budget.
pub fn mavlink_reader(frames: &[u8]) -> u64 {
    let mut reader = mavlink::MavlinkReader::new(Cursor::new(frames));
    let mut count = 0;
    loop {
        match reader.read_any_message::<MavMessage>() {
            Ok((_, msg)) => {
                count += 1;
                std::hint::black_box(&msg);
            }
            Err(MessageReadError::Io(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
            // Reading memory cannot fail otherwise; a parse error is skipped like any reader does.
            Err(_) => {}
        }
    }
    count
}

/// Our tlog parser alone.
pub fn parse(tlog: &[u8]) -> u64 {
    let mut count = 0;
    for_each_frame(tlog, |_, frame| {
        count += 1;
        std::hint::black_box(&frame.msg);
    });
    count
}

/// Our tlog parser feeding the vehicle-state reducer and plot series, per sender: what a
/// replay costs the engine before any I/O.
pub fn parse_and_update(tlog: &[u8]) -> u64 {
    // A handful of senders per log: a short list beats hashing on every message.
    let mut vehicles: Vec<((u8, u8), VehicleState, SeriesSet)> = Vec::new();
    let mut count = 0;
    for_each_frame(tlog, |time_us, frame| {
        count += 1;
        let key = (frame.sysid(), frame.compid());
        let i = match vehicles.iter().position(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                vehicles.push((key, VehicleState::default(), SeriesSet::default()));
                vehicles.len() - 1
            }
        };
        let (_, state, series) = &mut vehicles[i];
        if let Some(sample) = state.apply(time_us, &frame.msg) {
            series.push(time_us, &sample);
        }
    });
    std::hint::black_box(&vehicles);
    count
}
