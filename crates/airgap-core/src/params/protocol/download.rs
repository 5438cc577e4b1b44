//! Downloading every parameter with PARAM_REQUEST_LIST, tuned to finish on a lossy link.
//!
//! The vehicle streams all its PARAM_VALUEs once per PARAM_REQUEST_LIST; we keep each one by
//! `param_index` and finish only when every index `0..param_count` is present. When the
//! stream goes quiet with holes left we choose the faster way to fill them: ask for the whole
//! list again (ArduPilot restarts its stream from index 0, and we keep what is new) or read
//! the missing indices one by one with PARAM_REQUEST_READ. The choice compares the measured
//! stream rate with the rate at which single reads are answered (ArduPilot: ~50/s), because
//! measured here at 30 % loss, re-listing while many are missing was ~3× faster than reading
//! every gap.

use std::time::Duration;

use mavlink::types::CharArray;

use crate::dialect::{PARAM_REQUEST_LIST_DATA, PARAM_REQUEST_READ_DATA, PARAM_VALUE_DATA};
use crate::params::Param;
use crate::MavMessage;

use super::encoding::{decode_name, Encoding, NAME_LEN};

/// `param_index` of a PARAM_VALUE that is not part of a list (ArduPilot's answer to a
/// PARAM_SET): not ours to count.
const NO_INDEX: u16 = u16::MAX;

/// A pass spanning fewer indices than this says too little about the stream's rate.
const MIN_SPAN_FOR_RATE: u16 = 16;

/// What one list pass showed of the stream: its first and last arrival (time, index).
#[derive(Debug, Clone, Copy)]
struct Pass {
    first: (Duration, u16),
    last: (Duration, u16),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DownloadConfig {
    pub encoding: Encoding,
    /// The stream counts as finished (or stalled) after this long without any PARAM_VALUE.
    pub stall_timeout: Duration,
    /// How long to wait for the first PARAM_VALUE after a PARAM_REQUEST_LIST before asking
    /// again; longer than `stall_timeout` because it includes a round trip.
    pub first_reply_timeout: Duration,
    /// A PARAM_REQUEST_READ still unanswered after this long is sent again. Once answers
    /// come, the wait shrinks to what their round trips show (TCP's rule), never above this.
    pub read_timeout: Duration,
    /// Single reads outstanding at once. ArduPilot queues about 20 and drops the rest.
    pub max_reads_in_flight: usize,
    /// How many single reads a second the vehicle answers (ArduPilot: ~50). Reads are sent
    /// at this pace, so the vehicle always has one to answer, and it prices reading the
    /// gaps against asking for the list again.
    pub read_rate_per_s: f64,
    /// The whole download fails with [`DownloadError::Timeout`] after this long.
    pub overall_timeout: Duration,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        DownloadConfig {
            encoding: Encoding::CCast,
            stall_timeout: Duration::from_millis(300),
            first_reply_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_millis(500),
            max_reads_in_flight: 20,
            read_rate_per_s: 50.0,
            overall_timeout: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error("parameter download timed out: {}", describe_missing(*received, *total))]
    Timeout {
        received: usize,
        /// `None` when no PARAM_VALUE ever arrived.
        total: Option<usize>,
    },
    #[error("parameter download cancelled")]
    Cancelled,
}

fn describe_missing(received: usize, total: Option<usize>) -> String {
    match total {
        None => "the vehicle never sent a parameter".to_owned(),
        Some(total) => format!("{} of {total} parameters missing", total - received),
    }
}

/// How far a download has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    pub received: usize,
    /// Known once the first PARAM_VALUE arrives.
    pub total: Option<usize>,
}

/// What a download cost, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DownloadStats {
    pub lists_sent: u32,
    pub reads_sent: u32,
    /// PARAM_VALUEs for an index we already had.
    pub duplicates: u32,
    /// Times the vehicle's parameter count changed and the download started over.
    pub restarts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// A PARAM_REQUEST_LIST is out; the vehicle streams.
    Listing { sent_at: Duration },
    /// Filling the last holes with PARAM_REQUEST_READ.
    Reading { since: Duration },
}

/// One parameter download from one vehicle component; see the module documentation.
#[derive(Debug, Clone)]
pub struct ParamDownload {
    target_system: u8,
    /// `0` (all components) locks onto the first component that answers, so that a second
    /// component's parameter set never mixes with the autopilot's.
    target_component: u8,
    config: DownloadConfig,
    started_at: Duration,
    values: Vec<Option<Param>>,
    received: usize,
    phase: Phase,
    /// Any PARAM_VALUE of the set, new or not: the stream is alive while these come.
    last_arrival: Option<Duration>,
    /// The current list pass, to measure the rate at which the vehicle streams.
    pass: Option<Pass>,
    /// Time per index of the vehicle's stream, lost messages included.
    stream_interval: Option<Duration>,
    /// PARAM_REQUEST_LISTs in a row that got no answer at all.
    unanswered_lists: u32,
    in_flight: Vec<(u16, Duration)>,
    read_cursor: usize,
    next_read_at: Duration,
    /// Smoothed round trip of single reads and its variation, once one was answered.
    read_rtt: Option<(Duration, Duration)>,
    stats: DownloadStats,
    outcome: Option<Result<Vec<Param>, DownloadError>>,
}

impl ParamDownload {
    pub fn new(target_system: u8, target_component: u8, config: DownloadConfig) -> Self {
        ParamDownload {
            target_system,
            target_component,
            config,
            started_at: Duration::ZERO,
            values: Vec::new(),
            received: 0,
            phase: Phase::Listing {
                sent_at: Duration::ZERO,
            },
            last_arrival: None,
            pass: None,
            stream_interval: None,
            unanswered_lists: 0,
            in_flight: Vec::new(),
            read_cursor: 0,
            next_read_at: Duration::ZERO,
            read_rtt: None,
            stats: DownloadStats::default(),
            outcome: None,
        }
    }

    pub fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        self.started_at = now;
        vec![self.request_list(now)]
    }

    pub fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        let MavMessage::PARAM_VALUE(value) = msg else {
            return Vec::new();
        };
        if self.outcome.is_some()
            || sysid != self.target_system
            || (self.target_component != 0 && compid != self.target_component)
            || value.param_index == NO_INDEX
            || value.param_count == 0
            || value.param_index >= value.param_count
        {
            return Vec::new();
        }
        self.target_component = compid;
        let mut out = Vec::new();
        let count = usize::from(value.param_count);
        if self.values.is_empty() {
            self.values = vec![None; count];
        } else if self.values.len() != count {
            // The vehicle's parameter set changed under us (a feature was enabled): indices
            // now mean other parameters, so nothing collected so far can be trusted.
            self.stats.restarts += 1;
            self.values = vec![None; count];
            self.received = 0;
            self.in_flight.clear();
            out.push(self.request_list(now));
        }
        self.arrived(now, value);
        if self.received == self.values.len() {
            let params = self.values.iter_mut().filter_map(Option::take).collect();
            self.outcome = Some(Ok(params));
            return out;
        }
        if matches!(self.phase, Phase::Reading { .. }) {
            out.extend(self.send_reads(now));
        }
        out
    }

    pub fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.outcome.is_some() {
            return Vec::new();
        }
        if now.saturating_sub(self.started_at) >= self.config.overall_timeout {
            self.outcome = Some(Err(DownloadError::Timeout {
                received: self.received,
                total: (!self.values.is_empty()).then_some(self.values.len()),
            }));
            return Vec::new();
        }
        match self.phase {
            Phase::Listing { sent_at } => {
                let heard_since = self.last_arrival.filter(|t| *t >= sent_at);
                let stalled = match heard_since {
                    None => now.saturating_sub(sent_at) >= self.config.first_reply_timeout,
                    Some(t) => now.saturating_sub(t) >= self.config.stall_timeout,
                };
                if stalled {
                    self.fill_gaps(now)
                } else {
                    Vec::new()
                }
            }
            Phase::Reading { since } => {
                let read_timeout = self.read_timeout();
                self.in_flight
                    .retain(|(_, sent_at)| now.saturating_sub(*sent_at) < read_timeout);
                let silent_since = self.last_arrival.unwrap_or(since).max(since);
                if now.saturating_sub(silent_since) >= self.config.read_timeout * 4 {
                    // Reads get nowhere (a vehicle that does not answer them, or a link
                    // that is down for now): the list stream may still get through.
                    return vec![self.request_list(now)];
                }
                self.send_reads(now)
            }
        }
    }

    /// Stops the download; the outcome becomes [`DownloadError::Cancelled`].
    pub fn cancel(&mut self) {
        if self.outcome.is_none() {
            self.outcome = Some(Err(DownloadError::Cancelled));
        }
    }

    /// Every parameter in index order once complete, or why not.
    pub fn outcome(&self) -> Option<&Result<Vec<Param>, DownloadError>> {
        self.outcome.as_ref()
    }

    /// Takes the outcome out, leaving `None`.
    pub fn take_outcome(&mut self) -> Option<Result<Vec<Param>, DownloadError>> {
        self.outcome.take()
    }

    pub fn progress(&self) -> DownloadProgress {
        DownloadProgress {
            received: self.received,
            total: (!self.values.is_empty()).then_some(self.values.len()),
        }
    }

    pub fn stats(&self) -> DownloadStats {
        self.stats
    }

    fn arrived(&mut self, now: Duration, value: &PARAM_VALUE_DATA) {
        self.last_arrival = Some(now);
        if let Phase::Listing { .. } = self.phase {
            let here = (now, value.param_index);
            self.pass = Some(match self.pass {
                None => Pass {
                    first: here,
                    last: here,
                },
                Some(p) => Pass { last: here, ..p },
            });
            self.unanswered_lists = 0;
        }
        let index = value.param_index;
        if let Some(at) = self.in_flight.iter().position(|(i, _)| *i == index) {
            let (_, sent_at) = self.in_flight.swap_remove(at);
            self.sample_read_rtt(now.saturating_sub(sent_at));
        }
        let name = decode_name(&value.param_id);
        // A value that does not decode as its declared type (a firmware bug) is kept as the
        // raw float rather than failing a thousand-parameter download over one entry.
        let decoded = self
            .config
            .encoding
            .decode(value.param_value, value.param_type)
            .unwrap_or(f64::from(value.param_value));
        let param = Param {
            name,
            value: decoded,
            param_type: value.param_type,
        };
        let slot = &mut self.values[usize::from(index)];
        if slot.is_some() {
            self.stats.duplicates += 1;
        } else {
            self.received += 1;
        }
        // A later copy is the fresher value.
        *slot = Some(param);
    }

    /// The stream has gone quiet with holes left: re-list or read them, whichever the
    /// measured rates say is faster.
    fn fill_gaps(&mut self, now: Duration) -> Vec<MavMessage> {
        match self.pass.take() {
            // Autopilots stream in index order, so time over index span is the vehicle's
            // pace whatever was lost in between.
            Some(Pass { first, last }) if last.1 >= first.1 + MIN_SPAN_FOR_RATE => {
                self.stream_interval = Some((last.0 - first.0) / u32::from(last.1 - first.1));
            }
            Some(_) => {}
            None => self.unanswered_lists += 1,
        }
        if self.values.is_empty() {
            return vec![self.request_list(now)];
        }
        if self.unanswered_lists >= 2 {
            // The vehicle does not answer lists just now; single reads may still get through
            // (and the reading phase falls back to a list when they do not either).
            self.unanswered_lists = 0;
            return self.start_reading(now);
        }
        let missing = self.values.len() - self.received;
        let relist_s = match self.stream_interval {
            Some(interval) => interval.as_secs_f64() * self.values.len() as f64,
            // Unknown stream rate: the stream never really got going, so ask for it again.
            None => 0.0,
        };
        // Both ways lose as much, so comparing the vehicle's paces is enough: a re-list
        // recovers the same share of what is missing in one pass as reads recover of theirs.
        let reads_s = missing as f64 / self.config.read_rate_per_s.max(f64::MIN_POSITIVE);
        if reads_s > relist_s {
            vec![self.request_list(now)]
        } else {
            self.start_reading(now)
        }
    }

    fn start_reading(&mut self, now: Duration) -> Vec<MavMessage> {
        self.phase = Phase::Reading { since: now };
        self.read_cursor = 0;
        self.next_read_at = now;
        self.send_reads(now)
    }

    /// RFC 6298's estimator: the timeout follows the measured round trip, so the last few
    /// lost reads are asked again after a round trip or two rather than a fixed long wait.
    fn sample_read_rtt(&mut self, sample: Duration) {
        self.read_rtt = Some(match self.read_rtt {
            None => (sample, sample / 2),
            Some((srtt, var)) => {
                let err = sample.abs_diff(srtt);
                (srtt * 7 / 8 + sample / 8, var * 3 / 4 + err / 4)
            }
        });
    }

    fn read_timeout(&self) -> Duration {
        match self.read_rtt {
            // Never below 50 ms: a vehicle answering faster than that is on a cable and a
            // few extra milliseconds cost nothing.
            Some((srtt, var)) => (srtt + var * 4)
                .max(Duration::from_millis(50))
                .min(self.config.read_timeout),
            None => self.config.read_timeout,
        }
    }

    fn request_list(&mut self, now: Duration) -> MavMessage {
        self.phase = Phase::Listing { sent_at: now };
        self.pass = None;
        self.in_flight.clear();
        self.stats.lists_sent += 1;
        MavMessage::PARAM_REQUEST_LIST(PARAM_REQUEST_LIST_DATA {
            target_system: self.target_system,
            target_component: self.target_component,
        })
    }

    /// Sends the reads that are due at the vehicle's pace, within the in-flight limit,
    /// taking missing indices round-robin so a read that keeps getting lost does not hold
    /// the others back.
    fn send_reads(&mut self, now: Duration) -> Vec<MavMessage> {
        let mut out = Vec::new();
        let count = self.values.len();
        // Whole nanoseconds, so 50/s is exactly 20 ms and not a hair under.
        let pace = Duration::try_from_secs_f64((1e9 / self.config.read_rate_per_s).round() / 1e9)
            .unwrap_or(Duration::from_secs(1));
        // Catch up by at most one read (a caller polling coarsely still keeps the pace), not
        // on all the time spent idle: that would be a burst.
        self.next_read_at = self.next_read_at.max(now.saturating_sub(pace));
        let mut scanned = 0;
        while self.in_flight.len() < self.config.max_reads_in_flight
            && scanned < count
            && self.next_read_at <= now
        {
            let index = self.read_cursor % count;
            self.read_cursor = (index + 1) % count;
            scanned += 1;
            if self.values[index].is_some()
                || self.in_flight.iter().any(|(i, _)| usize::from(*i) == index)
            {
                continue;
            }
            // `values` was sized from a u16 count. The wire field is an int16, so an index
            // above 32767 cannot be read singly; no autopilot has that many parameters.
            let index = index as u16;
            self.in_flight.push((index, now));
            self.next_read_at += pace;
            self.stats.reads_sent += 1;
            out.push(MavMessage::PARAM_REQUEST_READ(PARAM_REQUEST_READ_DATA {
                param_index: index as i16,
                target_system: self.target_system,
                target_component: self.target_component,
                param_id: CharArray::new([0; NAME_LEN]),
            }));
        }
        out
    }
}
