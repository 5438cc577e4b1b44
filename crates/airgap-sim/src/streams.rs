//! Which telemetry messages the vehicle streams and when each is next due: the
//! per-message intervals that REQUEST_DATA_STREAM and MAV_CMD_SET_MESSAGE_INTERVAL change.
//!
//! The grouping of messages into `MAV_DATA_STREAM_*` ids follows ArduPilot's
//! `GCS_Common.cpp` stream tables, so a GCS that asks the way it asks a real Copter gets
//! the same messages back.

use airgap_core::dialect::{
    ATTITUDE_DATA, BATTERY_STATUS_DATA, GLOBAL_POSITION_INT_DATA, GPS_RAW_INT_DATA, HEARTBEAT_DATA,
    MISSION_CURRENT_DATA, SYS_STATUS_DATA, VFR_HUD_DATA,
};
use airgap_core::mavlink::MessageData;

/// A message the vehicle can send periodically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Heartbeat,
    Attitude,
    GlobalPositionInt,
    VfrHud,
    SysStatus,
    GpsRawInt,
    BatteryStatus,
    MissionCurrent,
}

/// A `MAV_DATA_STREAM_*` group, by its number: the generated `MavDataStream` enum is
/// deprecated upstream, and REQUEST_DATA_STREAM is all we need it for.
pub type DataStreamId = u8;

pub const DATA_STREAM_ALL: DataStreamId = 0;
const DATA_STREAM_EXTENDED_STATUS: DataStreamId = 2;
const DATA_STREAM_POSITION: DataStreamId = 6;
const DATA_STREAM_EXTRA1: DataStreamId = 10;
const DATA_STREAM_EXTRA2: DataStreamId = 11;
const DATA_STREAM_EXTRA3: DataStreamId = 12;

impl Stream {
    pub const ALL: [Stream; 8] = [
        Stream::Heartbeat,
        Stream::Attitude,
        Stream::GlobalPositionInt,
        Stream::VfrHud,
        Stream::SysStatus,
        Stream::GpsRawInt,
        Stream::BatteryStatus,
        Stream::MissionCurrent,
    ];

    /// The MAVLink message id this stream carries.
    pub fn message_id(self) -> u32 {
        match self {
            Stream::Heartbeat => HEARTBEAT_DATA::ID,
            Stream::Attitude => ATTITUDE_DATA::ID,
            Stream::GlobalPositionInt => GLOBAL_POSITION_INT_DATA::ID,
            Stream::VfrHud => VFR_HUD_DATA::ID,
            Stream::SysStatus => SYS_STATUS_DATA::ID,
            Stream::GpsRawInt => GPS_RAW_INT_DATA::ID,
            Stream::BatteryStatus => BATTERY_STATUS_DATA::ID,
            Stream::MissionCurrent => MISSION_CURRENT_DATA::ID,
        }
    }

    pub fn from_message_id(message_id: u32) -> Option<Stream> {
        Stream::ALL
            .into_iter()
            .find(|s| s.message_id() == message_id)
    }

    /// The rate ArduPilot SITL streams at once a GCS has asked (its SRn_* defaults
    /// as MAVProxy sets them), which is also what "interval 0 = default" restores.
    pub fn default_interval_s(self) -> f64 {
        match self {
            Stream::Heartbeat | Stream::BatteryStatus => 1.0,
            Stream::Attitude => 0.1,
            Stream::GlobalPositionInt | Stream::VfrHud => 0.2,
            Stream::SysStatus | Stream::GpsRawInt | Stream::MissionCurrent => 0.5,
        }
    }

    /// The `MAV_DATA_STREAM_*` group ArduPilot puts this message in; HEARTBEAT is in
    /// none, so no REQUEST_DATA_STREAM can silence it.
    fn data_stream(self) -> Option<DataStreamId> {
        match self {
            Stream::Heartbeat => None,
            Stream::SysStatus | Stream::GpsRawInt | Stream::MissionCurrent => {
                Some(DATA_STREAM_EXTENDED_STATUS)
            }
            Stream::GlobalPositionInt => Some(DATA_STREAM_POSITION),
            Stream::Attitude => Some(DATA_STREAM_EXTRA1),
            Stream::VfrHud => Some(DATA_STREAM_EXTRA2),
            Stream::BatteryStatus => Some(DATA_STREAM_EXTRA3),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    stream: Stream,
    interval_s: Option<f64>,
    next_due_s: f64,
}

/// The send schedule of every stream, driven by the caller's clock.
#[derive(Debug, Clone)]
pub struct Schedule {
    entries: Vec<Entry>,
}

impl Schedule {
    /// Heartbeat on; the telemetry streams at their defaults, or off until a GCS asks.
    pub fn new(telemetry_on: bool) -> Schedule {
        let entries = Stream::ALL
            .into_iter()
            .map(|stream| Entry {
                stream,
                interval_s: (telemetry_on || stream == Stream::Heartbeat)
                    .then(|| stream.default_interval_s()),
                next_due_s: 0.0,
            })
            .collect();
        Schedule { entries }
    }

    pub fn interval_s(&self, stream: Stream) -> Option<f64> {
        self.entries
            .iter()
            .find(|e| e.stream == stream)
            .and_then(|e| e.interval_s)
    }

    /// Sets one stream's interval (`None` = off). A newly enabled stream is due at once,
    /// so a GCS sees the first message without waiting a whole interval.
    pub fn set_interval(&mut self, stream: Stream, interval_s: Option<f64>, now_s: f64) {
        for entry in self.entries.iter_mut().filter(|e| e.stream == stream) {
            if entry.interval_s.is_none() {
                entry.next_due_s = now_s;
            }
            entry.interval_s = interval_s;
        }
    }

    /// Applies REQUEST_DATA_STREAM: `rate_hz` 0 or `start` false stops the group.
    /// Returns whether the id named any stream this vehicle has.
    pub fn request_data_stream(
        &mut self,
        id: DataStreamId,
        rate_hz: u16,
        start: bool,
        now_s: f64,
    ) -> bool {
        let interval_s = (start && rate_hz > 0).then(|| 1.0 / f64::from(rate_hz));
        let mut matched = false;
        for stream in Stream::ALL {
            let Some(group) = stream.data_stream() else {
                continue;
            };
            if id == DATA_STREAM_ALL || id == group {
                self.set_interval(stream, interval_s, now_s);
                matched = true;
            }
        }
        matched
    }

    /// The streams due at `now_s`, in a fixed order. A stream that fell more than one
    /// interval behind (a stalled caller) skips ahead rather than bursting.
    pub fn due(&mut self, now_s: f64) -> Vec<Stream> {
        let mut due = Vec::new();
        for entry in &mut self.entries {
            let Some(interval_s) = entry.interval_s else {
                continue;
            };
            if now_s >= entry.next_due_s {
                due.push(entry.stream);
                entry.next_due_s += interval_s;
                if entry.next_due_s <= now_s {
                    entry.next_due_s = now_s + interval_s;
                }
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(schedule: &mut Schedule, stream: Stream, until_s: f64, step_s: f64) -> usize {
        let steps = (until_s / step_s).round() as u32;
        (0..steps)
            .map(|i| {
                let t = f64::from(i) * step_s;
                schedule.due(t).into_iter().filter(|s| *s == stream).count()
            })
            .sum()
    }

    #[test]
    fn defaults_give_the_documented_rates() {
        let mut s = Schedule::new(true);
        assert_eq!(count(&mut s.clone(), Stream::Attitude, 10.0, 0.01), 100);
        assert_eq!(
            count(&mut s.clone(), Stream::GlobalPositionInt, 10.0, 0.01),
            50
        );
        assert_eq!(count(&mut s, Stream::Heartbeat, 10.0, 0.01), 10);
    }

    #[test]
    fn a_stalled_caller_gets_one_message_not_a_burst() {
        let mut s = Schedule::new(true);
        assert!(s.due(0.0).contains(&Stream::Attitude));
        let late = s.due(5.0);
        assert_eq!(late.iter().filter(|x| **x == Stream::Attitude).count(), 1);
        assert!(!s.due(5.05).contains(&Stream::Attitude));
        assert!(s.due(5.1).contains(&Stream::Attitude));
    }

    #[test]
    fn request_data_stream_groups_follow_ardupilot() {
        let mut s = Schedule::new(false);
        assert!(s.request_data_stream(DATA_STREAM_EXTRA1, 4, true, 0.0));
        assert_eq!(s.interval_s(Stream::Attitude), Some(0.25));
        assert_eq!(s.interval_s(Stream::VfrHud), None);
        assert!(s.request_data_stream(DATA_STREAM_ALL, 0, true, 0.0));
        assert_eq!(s.interval_s(Stream::Attitude), None);
        assert_eq!(
            s.interval_s(Stream::Heartbeat),
            Some(1.0),
            "heartbeat never stops"
        );
        assert!(
            !s.request_data_stream(3, 4, true, 0.0),
            "RC_CHANNELS: nothing here"
        );
    }
}
