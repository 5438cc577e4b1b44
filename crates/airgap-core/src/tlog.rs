//! The `.tlog` telemetry log format (MAVProxy, Mission Planner, QGroundControl): a
//! plain sequence of records, each an 8-byte big-endian UNIX timestamp in
//! microseconds followed by one raw MAVLink frame. There is no header and no index,
//! so a damaged stretch is skipped by looking for the next position where a
//! timestamp is followed by a checksum-valid frame.
//!
//! [`TlogReader`] reads from any [`Read`]; [`records`] and [`for_each_frame`] parse a
//! log already in memory without copying frames. Both share one sans-IO step
//! function, so they skip and count damage identically.

use std::io::{self, Read, Write};

use crate::frame::{decode_valid, examine, is_magic, Candidate, Frame, FrameRef};

/// Size of the timestamp that precedes every frame.
pub const TIMESTAMP_LEN: usize = 8;

/// The reader buffers this much at a time.
const READ_CHUNK: usize = 64 * 1024;
/// While resynchronising a stream, give up the search (reporting what was skipped so
/// far) after this many bytes, so a long damaged stretch is not rescanned on every read.
const MAX_UNREPORTED_SKIP: usize = 64 * 1024;

/// One record of a tlog.
#[derive(Debug, Clone, PartialEq)]
pub struct TlogRecord {
    /// UNIX time in microseconds at which the recorder received the frame.
    pub time_us: u64,
    pub frame: Frame,
}

/// A problem with one stretch of a log. Reading goes on after every variant but `Io`.
#[derive(thiserror::Error, Debug)]
pub enum TlogError {
    #[error("reading the log failed: {0}")]
    Io(#[from] io::Error),
    #[error(
        "corrupt data at byte {offset}: skipped {skipped_bytes} bytes to the next plausible record"
    )]
    Corrupt { offset: u64, skipped_bytes: u64 },
    #[error("record at byte {offset} holds unknown message id {msg_id}; skipped")]
    UnknownMessage { offset: u64, msg_id: u32 },
    #[error("record at byte {offset}: message id {msg_id} does not decode ({reason}); skipped")]
    Malformed {
        offset: u64,
        msg_id: u32,
        reason: String,
    },
    #[error("the log ends inside a record at byte {offset} ({bytes} bytes dropped)")]
    Truncated { offset: u64, bytes: u64 },
}

/// What a pass over a log found.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TlogStats {
    /// Records delivered.
    pub records: u64,
    /// Damaged stretches skipped, a truncated last record included.
    pub bad_records: u64,
    /// Intact records whose message the dialect lacks.
    pub unknown: u64,
    /// Records with a valid checksum whose payload did not decode.
    pub malformed: u64,
    /// Bytes skipped in damaged stretches.
    pub skipped_bytes: u64,
    pub first_time_us: Option<u64>,
    pub last_time_us: Option<u64>,
}

impl TlogStats {
    fn count_record(&mut self, time_us: u64) {
        self.records += 1;
        self.first_time_us.get_or_insert(time_us);
        self.last_time_us = Some(time_us);
    }

    fn count_error(&mut self, error: &TlogError) {
        match error {
            TlogError::Io(_) => {}
            TlogError::Corrupt { skipped_bytes, .. } => {
                self.bad_records += 1;
                self.skipped_bytes += skipped_bytes;
            }
            TlogError::Truncated { bytes, .. } => {
                self.bad_records += 1;
                self.skipped_bytes += bytes;
            }
            TlogError::UnknownMessage { .. } => self.unknown += 1,
            TlogError::Malformed { .. } => self.malformed += 1,
        }
    }
}

/// Append one record.
pub fn write_record<W: Write>(w: &mut W, time_us: u64, raw: &[u8]) -> io::Result<()> {
    // One write per record keeps records whole in unbuffered writers.
    let mut record = [0u8; TIMESTAMP_LEN + crate::frame::MAX_FRAME_LEN];
    let len = TIMESTAMP_LEN + raw.len();
    if len > record.len() {
        w.write_all(&time_us.to_be_bytes())?;
        return w.write_all(raw);
    }
    record[..TIMESTAMP_LEN].copy_from_slice(&time_us.to_be_bytes());
    record[TIMESTAMP_LEN..len].copy_from_slice(raw);
    w.write_all(&record[..len])
}

/// Outcome of one step at a record boundary. Offsets in errors are relative to the
/// buffer passed to [`step`].
// A step lives on the stack for one call; boxing the frame would allocate per record.
#[allow(clippy::large_enum_variant)]
enum Step<'a> {
    Record {
        consumed: usize,
        time_us: u64,
        frame: FrameRef<'a>,
    },
    Skip {
        consumed: usize,
        error: TlogError,
    },
    NeedMore,
    End,
}

/// Decode the record at the start of `buf`. With `at_end`, nothing follows `buf`.
#[inline]
fn step(buf: &[u8], at_end: bool) -> Step<'_> {
    if buf.len() <= TIMESTAMP_LEN {
        return match (buf.is_empty(), at_end) {
            (true, true) => Step::End,
            (false, true) => Step::Skip {
                consumed: buf.len(),
                error: TlogError::Truncated {
                    offset: 0,
                    bytes: buf.len() as u64,
                },
            },
            (_, false) => Step::NeedMore,
        };
    }
    let frame_buf = &buf[TIMESTAMP_LEN..];
    match examine(frame_buf) {
        Candidate::Valid(valid) => {
            let consumed = TIMESTAMP_LEN + valid.len;
            match decode_valid(frame_buf, valid) {
                Ok(frame) => Step::Record {
                    consumed,
                    time_us: read_timestamp(buf),
                    frame,
                },
                Err(e) => Step::Skip {
                    consumed,
                    error: TlogError::Malformed {
                        offset: 0,
                        msg_id: valid.msg_id,
                        reason: e.to_string(),
                    },
                },
            }
        }
        Candidate::Unknown { msg_id, len } => {
            // Unverifiable: believe it if the next record starts right after it.
            let next = TIMESTAMP_LEN + len;
            match buf.get(next + TIMESTAMP_LEN) {
                Some(&magic) if is_magic(magic) => Step::Skip {
                    consumed: next,
                    error: TlogError::UnknownMessage { offset: 0, msg_id },
                },
                None if at_end && buf.len() == next => Step::Skip {
                    consumed: next,
                    error: TlogError::UnknownMessage { offset: 0, msg_id },
                },
                None if !at_end => Step::NeedMore,
                _ => resync(buf, at_end),
            }
        }
        Candidate::Incomplete if !at_end => Step::NeedMore,
        Candidate::Incomplete | Candidate::BadCrc { .. } | Candidate::NotAFrame => {
            resync(buf, at_end)
        }
    }
}

/// Skip from a damaged record to the next offset where a timestamp is followed by a
/// checksum-valid frame of a known message.
fn resync(buf: &[u8], at_end: bool) -> Step<'_> {
    let mut p = 1;
    while p + TIMESTAMP_LEN < buf.len() {
        if is_magic(buf[p + TIMESTAMP_LEN]) {
            match examine(&buf[p + TIMESTAMP_LEN..]) {
                Candidate::Valid(_) => break,
                Candidate::Incomplete if !at_end => {
                    // Cannot judge this position yet.
                    if p < MAX_UNREPORTED_SKIP {
                        return Step::NeedMore;
                    }
                    break;
                }
                _ => {}
            }
        }
        p += 1;
    }
    if p + TIMESTAMP_LEN >= buf.len() {
        if at_end {
            return Step::Skip {
                consumed: buf.len(),
                error: TlogError::Truncated {
                    offset: 0,
                    bytes: buf.len() as u64,
                },
            };
        }
        if p < MAX_UNREPORTED_SKIP {
            return Step::NeedMore;
        }
    }
    Step::Skip {
        consumed: p,
        error: TlogError::Corrupt {
            offset: 0,
            skipped_bytes: p as u64,
        },
    }
}

#[inline]
fn read_timestamp(buf: &[u8]) -> u64 {
    let mut ts = [0u8; TIMESTAMP_LEN];
    ts.copy_from_slice(&buf[..TIMESTAMP_LEN]);
    u64::from_be_bytes(ts)
}

fn with_offset(error: TlogError, base: u64) -> TlogError {
    match error {
        TlogError::Io(e) => TlogError::Io(e),
        TlogError::Corrupt {
            offset,
            skipped_bytes,
        } => TlogError::Corrupt {
            offset: offset + base,
            skipped_bytes,
        },
        TlogError::UnknownMessage { offset, msg_id } => TlogError::UnknownMessage {
            offset: offset + base,
            msg_id,
        },
        TlogError::Malformed {
            offset,
            msg_id,
            reason,
        } => TlogError::Malformed {
            offset: offset + base,
            msg_id,
            reason,
        },
        TlogError::Truncated { offset, bytes } => TlogError::Truncated {
            offset: offset + base,
            bytes,
        },
    }
}

/// Records of a log held in memory, borrowing frame bytes from it.
pub fn records(bytes: &[u8]) -> SliceRecords<'_> {
    SliceRecords {
        bytes,
        pos: 0,
        stats: TlogStats::default(),
    }
}

/// Iterator returned by [`records`]: `(time_us, frame)` or a skipped stretch.
#[derive(Debug, Clone)]
pub struct SliceRecords<'a> {
    bytes: &'a [u8],
    pos: usize,
    stats: TlogStats,
}

impl SliceRecords<'_> {
    /// Counters so far (complete once the iterator has returned `None`).
    pub fn stats(&self) -> TlogStats {
        self.stats
    }
}

impl<'a> Iterator for SliceRecords<'a> {
    type Item = Result<(u64, FrameRef<'a>), TlogError>;

    fn next(&mut self) -> Option<Self::Item> {
        match step(&self.bytes[self.pos..], true) {
            Step::Record {
                consumed,
                time_us,
                frame,
            } => {
                self.pos += consumed;
                self.stats.count_record(time_us);
                Some(Ok((time_us, frame)))
            }
            Step::Skip { consumed, error } => {
                let error = with_offset(error, self.pos as u64);
                self.pos += consumed;
                self.stats.count_error(&error);
                Some(Err(error))
            }
            // NeedMore cannot happen at the end of the input.
            Step::End | Step::NeedMore => None,
        }
    }
}

/// Call `f` with every frame of an in-memory log, skipping and counting damage. The
/// fast path for bulk analysis: frames are decoded in place, nothing is copied.
pub fn for_each_frame(bytes: &[u8], mut f: impl FnMut(u64, &FrameRef<'_>)) -> TlogStats {
    let mut it = records(bytes);
    for (time_us, frame) in it.by_ref().flatten() {
        f(time_us, &frame);
    }
    it.stats()
}

/// Reads records from a byte source, e.g. a file.
///
/// Yields `Err` for each skipped stretch and goes on; after an I/O error it stops.
pub struct TlogReader<R: Read> {
    source: R,
    /// `buf[start..end]` holds bytes read but not consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset in the source of `buf[0]`.
    base: u64,
    eof: bool,
    failed: bool,
    stats: TlogStats,
}

impl<R: Read> TlogReader<R> {
    pub fn new(source: R) -> Self {
        Self {
            source,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            failed: false,
            stats: TlogStats::default(),
        }
    }

    pub fn stats(&self) -> TlogStats {
        self.stats
    }

    /// Read the next chunk; `Ok(false)` at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK / 2 {
            self.buf.resize(self.buf.len() + READ_CHUNK, 0);
        }
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Iterator for TlogReader<R> {
    type Item = Result<TlogRecord, TlogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let offset = self.base + self.start as u64;
            match step(&self.buf[self.start..self.end], self.eof) {
                Step::Record {
                    consumed,
                    time_us,
                    frame,
                } => {
                    let frame = frame.into_frame();
                    self.start += consumed;
                    self.stats.count_record(time_us);
                    return Some(Ok(TlogRecord { time_us, frame }));
                }
                Step::Skip { consumed, error } => {
                    self.start += consumed;
                    let error = with_offset(error, offset);
                    self.stats.count_error(&error);
                    return Some(Err(error));
                }
                Step::End => return None,
                Step::NeedMore => match self.fill() {
                    Ok(more) => self.eof = !more,
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(TlogError::Io(e)));
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{self, MavMessage};
    use std::collections::HashMap;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/arducopter-sitl-flight.tlog"
    );

    fn fixture() -> Vec<u8> {
        std::fs::read(FIXTURE).expect("fixture tlog is in the repository")
    }

    fn sample_log(n: u8) -> (Vec<u8>, Vec<Frame>) {
        let mut log = Vec::new();
        let mut frames = Vec::new();
        for i in 0..n {
            // No trailing zeros, so every record has the same length.
            let msg = MavMessage::SYSTEM_TIME(dialect::SYSTEM_TIME_DATA {
                time_unix_usec: u64::from(i) * 1000,
                time_boot_ms: 0x0101_0100 + u32::from(i),
            });
            let frame = Frame::encode_v2(1, 1, i, &msg);
            write_record(&mut log, 1_000_000 + u64::from(i), &frame.raw).expect("vec write");
            frames.push(frame);
        }
        (log, frames)
    }

    /// A reader that hands out a few bytes at a time, to exercise buffer boundaries.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn fixture_counts_match_the_flight() {
        let bytes = fixture();
        let mut by_name: HashMap<&'static str, u64> = HashMap::new();
        let stats = for_each_frame(&bytes, |_, frame| {
            *by_name
                .entry(mavlink::Message::message_name(&frame.msg))
                .or_default() += 1;
        });
        assert_eq!(stats.records, 16_896);
        assert_eq!(stats.bad_records, 0);
        assert_eq!(stats.unknown, 0);
        assert_eq!(stats.malformed, 0);
        assert_eq!(by_name.len(), 44);
        assert_eq!(by_name["PARAM_VALUE"], 1_372);
        assert_eq!(stats.first_time_us, Some(1_795_492_342_321_555));
        assert_eq!(stats.last_time_us, Some(1_795_492_479_876_996));
    }

    #[test]
    fn reader_and_slice_agree_on_the_fixture() {
        let bytes = fixture();
        // Compare bytes, not messages: some fields are NaN, which is not equal to itself.
        let from_slice: Vec<(u64, Vec<u8>)> = records(&bytes)
            .map(|r| r.map(|(t, f)| (t, f.raw.to_vec())).expect("clean fixture"))
            .collect();
        let mut reader = TlogReader::new(bytes.as_slice());
        let from_reader: Vec<(u64, Vec<u8>)> = reader
            .by_ref()
            .map(|r| {
                r.map(|rec| (rec.time_us, rec.frame.raw))
                    .expect("clean fixture")
            })
            .collect();
        assert_eq!(from_slice.len(), 16_896);
        assert!(from_slice == from_reader);
        assert_eq!(reader.stats().records, 16_896);
    }

    #[test]
    fn written_records_read_back_byte_for_byte() {
        let bytes = fixture();
        let mut rewritten = Vec::new();
        for record in TlogReader::new(bytes.as_slice()) {
            let record = record.expect("clean fixture");
            write_record(&mut rewritten, record.time_us, &record.frame.raw).expect("vec write");
        }
        assert!(rewritten == bytes, "round trip changed the log");
    }

    #[test]
    fn corrupt_record_is_skipped_and_counted() {
        let (mut log, frames) = sample_log(10);
        let record_len = log.len() / 10;
        // Damage the payload of record 3 and the magic byte of record 6.
        log[3 * record_len + TIMESTAMP_LEN + 12] ^= 0xFF;
        log[6 * record_len + TIMESTAMP_LEN] = 0x00;

        let check = |items: Vec<Result<(u64, Frame), TlogError>>, stats: TlogStats| {
            let good: Vec<&Frame> = items
                .iter()
                .filter_map(|r| r.as_ref().ok())
                .map(|(_, f)| f)
                .collect();
            let expected: Vec<&Frame> = frames
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 3 && *i != 6)
                .map(|(_, f)| f)
                .collect();
            assert_eq!(good, expected);
            assert_eq!(stats.records, 8);
            assert_eq!(stats.bad_records, 2);
            assert_eq!(stats.skipped_bytes, 2 * record_len as u64);
            let offsets: Vec<u64> = items
                .iter()
                .filter_map(|r| match r {
                    Err(TlogError::Corrupt { offset, .. }) => Some(*offset),
                    _ => None,
                })
                .collect();
            assert_eq!(offsets, vec![3 * record_len as u64, 6 * record_len as u64]);
        };

        let mut it = records(&log);
        let items = it
            .by_ref()
            .map(|r| r.map(|(t, f)| (t, f.into_frame())))
            .collect();
        check(items, it.stats());

        let mut reader = TlogReader::new(Trickle(&log, 1));
        let items = reader
            .by_ref()
            .map(|r| r.map(|rec| (rec.time_us, rec.frame)))
            .collect();
        check(items, reader.stats());
    }

    #[test]
    fn truncated_last_record_is_reported() {
        let (log, _) = sample_log(3);
        let cut = &log[..log.len() - 4];
        let mut reader = TlogReader::new(Trickle(cut, 1));
        let items: Vec<_> = reader.by_ref().collect();
        assert_eq!(items.iter().filter(|r| r.is_ok()).count(), 2);
        assert!(matches!(
            items.last(),
            Some(Err(TlogError::Truncated { .. }))
        ));
        assert_eq!(reader.stats().bad_records, 1);

        let mut it = records(cut);
        assert_eq!(it.by_ref().filter(|r| r.is_ok()).count(), 2);
        assert_eq!(it.stats().bad_records, 1);
    }

    #[test]
    fn unknown_message_record_is_skipped_without_resync() {
        let (good, frames) = sample_log(2);
        let half = good.len() / 2;
        let mut log = good[..half].to_vec();
        let unknown = [0xFD, 1, 0, 0, 0, 1, 1, 0xFF, 0xFF, 0x7F, 9, 0x12, 0x34];
        write_record(&mut log, 5, &unknown).expect("vec write");
        log.extend_from_slice(&good[half..]);
        write_record(&mut log, 6, &unknown).expect("vec write");

        let mut it = records(&log);
        let good_frames: Vec<Frame> = it
            .by_ref()
            .filter_map(Result::ok)
            .map(|(_, f)| f.into_frame())
            .collect();
        assert_eq!(good_frames, frames);
        assert_eq!(it.stats().unknown, 2);
        assert_eq!(it.stats().bad_records, 0);
    }

    #[test]
    fn io_error_is_reported_then_reading_stops() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let mut reader = TlogReader::new(Broken);
        assert!(matches!(reader.next(), Some(Err(TlogError::Io(_)))));
        assert!(reader.next().is_none());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in prop::collection::vec(any::<u8>(), 0..3000))| {
            let stats = for_each_frame(&bytes, |_, _| {});
            let mut reader = TlogReader::new(Trickle(&bytes, 7));
            for _ in reader.by_ref() {}
            prop_assert_eq!(reader.stats().records, stats.records);
        });
    }
}
