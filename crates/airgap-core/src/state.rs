//! The vehicle-state reducer: fold one vehicle's messages into a snapshot of what a pilot
//! needs to see, plus bounded plot series. Pure: time comes in with each message.
//!
//! Every field is `None` until a message has said something about it; sentinel values the
//! protocol uses for "unknown" (UINT16_MAX voltages, -1 remaining, lat/lon 0/0 before a
//! position) stay `None` rather than being shown as numbers.

use std::collections::{HashMap, VecDeque};

use crate::dialect::{
    GpsFixType, MavAutopilot, MavModeFlag, MavProtocolCapability, MavSeverity, MavState, MavType,
};
use crate::modes::ModeTable;
use crate::series::Group;
use crate::MavMessage;

/// STATUSTEXT lines kept per vehicle.
pub const STATUSTEXT_KEPT: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct StatusText {
    pub time_us: u64,
    /// MAV_SEVERITY: 0 emergency … 7 debug.
    pub severity: u8,
    pub text: String,
    /// MAVLink 2 chunking: (id, last chunk_seq) of a line sent in pieces, so that the next
    /// piece is appended rather than shown as a line of its own.
    chunk: Option<(u16, u8)>,
}

/// How many of each message a vehicle sent, indexed by message id.
#[derive(Debug, Clone, Default)]
pub struct MessageCounts {
    // Ids below 512 cover the common and ArduPilot telemetry; a flat array keeps the hot
    // path to one add.
    low: Vec<u64>,
    high: HashMap<u32, u64>,
}

impl MessageCounts {
    const LOW: usize = 512;

    fn add(&mut self, id: u32) {
        if (id as usize) < Self::LOW {
            if self.low.is_empty() {
                self.low = vec![0; Self::LOW];
            }
            self.low[id as usize] += 1;
        } else {
            *self.high.entry(id).or_default() += 1;
        }
    }

    pub fn get(&self, id: u32) -> u64 {
        if (id as usize) < Self::LOW {
            self.low.get(id as usize).copied().unwrap_or(0)
        } else {
            self.high.get(&id).copied().unwrap_or(0)
        }
    }

    /// (message id, count) for every message seen, by id.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let low = self
            .low
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(id, n)| (id as u32, *n));
        let mut high: Vec<(u32, u64)> = self.high.iter().map(|(k, v)| (*k, *v)).collect();
        high.sort_unstable();
        low.chain(high)
    }

    pub fn total(&self) -> u64 {
        self.low.iter().sum::<u64>() + self.high.values().sum::<u64>()
    }
}

#[derive(Debug, Clone, Default)]
pub struct VehicleState {
    pub autopilot: Option<MavAutopilot>,
    pub vehicle_type: Option<MavType>,
    pub system_status: Option<MavState>,
    pub armed: Option<bool>,
    pub custom_mode: Option<u32>,
    pub last_heartbeat_us: Option<u64>,
    pub last_message_us: Option<u64>,

    pub roll_deg: Option<f64>,
    pub pitch_deg: Option<f64>,
    pub yaw_deg: Option<f64>,
    pub heading_deg: Option<f64>,

    pub lat_deg: Option<f64>,
    pub lon_deg: Option<f64>,
    pub alt_msl_m: Option<f64>,
    pub alt_rel_m: Option<f64>,

    pub groundspeed_m_s: Option<f64>,
    pub airspeed_m_s: Option<f64>,
    pub climb_m_s: Option<f64>,
    pub throttle_pct: Option<f64>,

    pub battery_v: Option<f64>,
    pub battery_a: Option<f64>,
    pub battery_pct: Option<f64>,

    pub gps_fix: Option<GpsFixType>,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,

    pub statustext: VecDeque<StatusText>,
    /// MAV_PROTOCOL_CAPABILITY bits from AUTOPILOT_VERSION, once it has been heard.
    pub capabilities: Option<MavProtocolCapability>,
    /// MISSION_CURRENT: the item being flown and how many the mission holds.
    pub mission_current: Option<u16>,
    pub mission_total: Option<u16>,
    pub counts: MessageCounts,
}

/// One plot row produced by a message: the group it belongs to and its column values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub group: Group,
    values: [f32; 3],
}

impl Sample {
    fn new(group: Group, row: &[f32]) -> Self {
        let mut values = [f32::NAN; 3];
        values[..row.len()].copy_from_slice(row);
        Sample { group, values }
    }

    /// One value per column of the group.
    pub fn row(&self) -> &[f32] {
        &self.values[..self.group.columns().len()]
    }
}

impl VehicleState {
    /// Folds one message from this vehicle, received at `time_us` (UNIX µs). Returns the plot
    /// row the message carries, if any; history is the caller's to keep (see [`crate::series`]),
    /// so that the snapshot stays small and cheap to copy.
    pub fn apply(&mut self, time_us: u64, msg: &MavMessage) -> Option<Sample> {
        self.last_message_us = Some(time_us);
        self.counts.add(msg_id(msg));
        match msg {
            MavMessage::HEARTBEAT(hb) => {
                self.last_heartbeat_us = Some(time_us);
                self.autopilot = Some(hb.autopilot);
                self.vehicle_type = Some(hb.mavtype);
                self.system_status = Some(hb.system_status);
                self.armed = Some(
                    hb.base_mode
                        .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED),
                );
                self.custom_mode = hb
                    .base_mode
                    .contains(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED)
                    .then_some(hb.custom_mode);
            }
            MavMessage::ATTITUDE(a) => {
                let (r, p, y) = (
                    f64::from(a.roll).to_degrees(),
                    f64::from(a.pitch).to_degrees(),
                    f64::from(a.yaw).to_degrees(),
                );
                self.roll_deg = Some(r);
                self.pitch_deg = Some(p);
                self.yaw_deg = Some(y);
                return Some(Sample::new(
                    Group::Attitude,
                    &[r as f32, p as f32, y as f32],
                ));
            }
            MavMessage::GLOBAL_POSITION_INT(g) => {
                // ArduPilot reports 0/0 until it has a position; that is "unknown", not the Gulf of Guinea.
                if g.lat != 0 || g.lon != 0 {
                    self.lat_deg = Some(f64::from(g.lat) * 1e-7);
                    self.lon_deg = Some(f64::from(g.lon) * 1e-7);
                }
                let msl = f64::from(g.alt) / 1000.0;
                let rel = f64::from(g.relative_alt) / 1000.0;
                self.alt_msl_m = Some(msl);
                self.alt_rel_m = Some(rel);
                if g.hdg != u16::MAX {
                    self.heading_deg = Some(f64::from(g.hdg) / 100.0);
                }
                return Some(Sample::new(Group::Altitude, &[rel as f32, msl as f32]));
            }
            MavMessage::VFR_HUD(v) => {
                self.groundspeed_m_s = Some(f64::from(v.groundspeed));
                self.airspeed_m_s = Some(f64::from(v.airspeed));
                self.climb_m_s = Some(f64::from(v.climb));
                self.heading_deg = Some(f64::from(v.heading).rem_euclid(360.0));
                self.throttle_pct = Some(f64::from(v.throttle));
                return Some(Sample::new(
                    Group::Speed,
                    &[v.groundspeed, v.airspeed, v.climb],
                ));
            }
            MavMessage::SYS_STATUS(s) => {
                if s.voltage_battery != u16::MAX {
                    self.battery_v = Some(f64::from(s.voltage_battery) / 1000.0);
                }
                if s.current_battery >= 0 {
                    self.battery_a = Some(f64::from(s.current_battery) / 100.0);
                }
                if s.battery_remaining >= 0 {
                    self.battery_pct = Some(f64::from(s.battery_remaining));
                }
                if s.voltage_battery != u16::MAX {
                    let amps = self.battery_a.unwrap_or(f64::NAN);
                    return Some(Sample::new(
                        Group::Battery,
                        &[f32::from(s.voltage_battery) / 1000.0, amps as f32],
                    ));
                }
            }
            MavMessage::BATTERY_STATUS(b) if b.id == 0 => {
                // Only fills what SYS_STATUS did not say: SYS_STATUS is the primary battery on
                // both autopilots, BATTERY_STATUS may describe cells or a second pack.
                let cells: Vec<u16> = b
                    .voltages
                    .iter()
                    .copied()
                    .filter(|&v| v != u16::MAX)
                    .collect();
                if self.battery_v.is_none() && !cells.is_empty() {
                    self.battery_v =
                        Some(cells.iter().map(|&v| f64::from(v)).sum::<f64>() / 1000.0);
                }
                if self.battery_a.is_none() && b.current_battery >= 0 {
                    self.battery_a = Some(f64::from(b.current_battery) / 100.0);
                }
                if self.battery_pct.is_none() && b.battery_remaining >= 0 {
                    self.battery_pct = Some(f64::from(b.battery_remaining));
                }
            }
            MavMessage::AUTOPILOT_VERSION(v) => {
                self.capabilities = Some(v.capabilities);
            }
            MavMessage::MISSION_CURRENT(m) => {
                self.mission_current = Some(m.seq);
                // 0 and u16::MAX both mean "not reported" (the field is an extension).
                self.mission_total = (m.total != 0 && m.total != u16::MAX).then_some(m.total);
            }
            MavMessage::GPS_RAW_INT(g) => {
                self.gps_fix = Some(g.fix_type);
                self.satellites = (g.satellites_visible != u8::MAX).then_some(g.satellites_visible);
                self.hdop = (g.eph != u16::MAX).then(|| f64::from(g.eph) / 100.0);
            }
            MavMessage::STATUSTEXT(s) => {
                let text = match s.text.to_str() {
                    Ok(t) => t.trim_end_matches('\0').to_owned(),
                    Err(_) => String::from_utf8_lossy(&s.text[..])
                        .trim_end_matches('\0')
                        .to_owned(),
                };
                if s.id != 0 {
                    if let Some(last) = self.statustext.back_mut() {
                        if last.chunk == Some((s.id, s.chunk_seq.wrapping_sub(1))) {
                            last.text.push_str(&text);
                            last.chunk = Some((s.id, s.chunk_seq));
                            return None;
                        }
                    }
                }
                if self.statustext.len() == STATUSTEXT_KEPT {
                    self.statustext.pop_front();
                }
                self.statustext.push_back(StatusText {
                    time_us,
                    severity: severity_number(s.severity),
                    text,
                    chunk: (s.id != 0).then_some((s.id, s.chunk_seq)),
                });
            }
            _ => {}
        }
        None
    }

    pub fn mode_table(&self) -> ModeTable {
        match (self.autopilot, self.vehicle_type) {
            (Some(a), Some(t)) => ModeTable::for_vehicle(a, t),
            _ => ModeTable::Unknown,
        }
    }

    /// The mode's name from the autopilot's table, `None` before a heartbeat.
    pub fn mode_name(&self) -> Option<String> {
        self.custom_mode.map(|m| self.mode_table().name(m))
    }

    pub fn autopilot_name(&self) -> Option<&'static str> {
        self.autopilot.map(autopilot_name)
    }

    pub fn vehicle_type_name(&self) -> Option<&'static str> {
        self.vehicle_type.map(vehicle_type_name)
    }

    pub fn gps_fix_name(&self) -> Option<&'static str> {
        self.gps_fix.map(gps_fix_name)
    }

    pub fn newest_statustext(&self) -> Option<&StatusText> {
        self.statustext.back()
    }
}

fn msg_id(msg: &MavMessage) -> u32 {
    use mavlink::Message;
    msg.message_id()
}

fn severity_number(s: MavSeverity) -> u8 {
    s as u8
}

pub fn autopilot_name(a: MavAutopilot) -> &'static str {
    match a {
        MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA => "ArduPilot",
        MavAutopilot::MAV_AUTOPILOT_PX4 => "PX4",
        MavAutopilot::MAV_AUTOPILOT_GENERIC => "Generic",
        MavAutopilot::MAV_AUTOPILOT_INVALID => "None",
        _ => "Other",
    }
}

pub fn vehicle_type_name(t: MavType) -> &'static str {
    use MavType::*;
    match t {
        MAV_TYPE_QUADROTOR => "Quadrotor",
        MAV_TYPE_HEXAROTOR => "Hexarotor",
        MAV_TYPE_OCTOROTOR => "Octorotor",
        MAV_TYPE_TRICOPTER => "Tricopter",
        MAV_TYPE_COAXIAL => "Coaxial",
        MAV_TYPE_HELICOPTER => "Helicopter",
        MAV_TYPE_DODECAROTOR => "Dodecarotor",
        MAV_TYPE_DECAROTOR => "Decarotor",
        MAV_TYPE_GENERIC_MULTIROTOR => "Multirotor",
        MAV_TYPE_FIXED_WING => "Fixed wing",
        MAV_TYPE_VTOL_TAILSITTER_DUOROTOR
        | MAV_TYPE_VTOL_TAILSITTER_QUADROTOR
        | MAV_TYPE_VTOL_TILTROTOR
        | MAV_TYPE_VTOL_FIXEDROTOR
        | MAV_TYPE_VTOL_TAILSITTER
        | MAV_TYPE_VTOL_TILTWING => "VTOL",
        MAV_TYPE_GROUND_ROVER => "Rover",
        MAV_TYPE_SURFACE_BOAT => "Boat",
        MAV_TYPE_SUBMARINE => "Submarine",
        MAV_TYPE_AIRSHIP => "Airship",
        MAV_TYPE_ANTENNA_TRACKER => "Antenna tracker",
        MAV_TYPE_GCS => "Ground station",
        _ => "Other",
    }
}

pub fn gps_fix_name(f: GpsFixType) -> &'static str {
    use GpsFixType::*;
    match f {
        GPS_FIX_TYPE_NO_GPS => "No GPS",
        GPS_FIX_TYPE_NO_FIX => "No fix",
        GPS_FIX_TYPE_2D_FIX => "2D",
        GPS_FIX_TYPE_3D_FIX => "3D",
        GPS_FIX_TYPE_DGPS => "DGPS",
        GPS_FIX_TYPE_RTK_FLOAT => "RTK float",
        GPS_FIX_TYPE_RTK_FIXED => "RTK fixed",
        GPS_FIX_TYPE_STATIC => "Static",
        GPS_FIX_TYPE_PPP => "PPP",
    }
}

/// Whether a HEARTBEAT describes a vehicle (a flight controller), as opposed to a ground
/// station, a camera, a gimbal or another companion component.
pub fn is_vehicle_heartbeat(autopilot: MavAutopilot, vehicle_type: MavType) -> bool {
    use MavType::*;
    autopilot != MavAutopilot::MAV_AUTOPILOT_INVALID
        && !matches!(
            vehicle_type,
            MAV_TYPE_GCS
                | MAV_TYPE_ONBOARD_CONTROLLER
                | MAV_TYPE_GIMBAL
                | MAV_TYPE_CAMERA
                | MAV_TYPE_ADSB
                | MAV_TYPE_ODID
                | MAV_TYPE_SERVO
                | MAV_TYPE_BATTERY
                | MAV_TYPE_LOG
                | MAV_TYPE_OSD
                | MAV_TYPE_IMU
                | MAV_TYPE_GPS
                | MAV_TYPE_WINCH
                | MAV_TYPE_RADIO
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{
        ATTITUDE_DATA, GLOBAL_POSITION_INT_DATA, GPS_RAW_INT_DATA, STATUSTEXT_DATA, SYS_STATUS_DATA,
    };

    fn heartbeat(base_mode: MavModeFlag, custom_mode: u32) -> MavMessage {
        MavMessage::HEARTBEAT(crate::dialect::HEARTBEAT_DATA {
            custom_mode,
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            base_mode,
            system_status: MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        })
    }

    #[test]
    fn nothing_is_known_before_it_is_heard() {
        let s = VehicleState::default();
        assert_eq!(
            (s.armed, s.mode_name(), s.alt_rel_m, s.battery_v),
            (None, None, None, None)
        );
    }

    #[test]
    fn heartbeat_gives_armed_state_and_mode_name() {
        let mut s = VehicleState::default();
        let flags = MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
            | MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
        assert_eq!(s.apply(10, &heartbeat(flags, 7)), None);
        assert_eq!(s.armed, Some(true));
        assert_eq!(s.mode_name().as_deref(), Some("CIRCLE"));
        assert_eq!(s.autopilot_name(), Some("ArduPilot"));
        assert_eq!(s.last_heartbeat_us, Some(10));
        s.apply(
            20,
            &heartbeat(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, 6),
        );
        assert_eq!(
            (s.armed, s.mode_name().as_deref()),
            (Some(false), Some("RTL"))
        );
    }

    #[test]
    fn protocol_sentinels_stay_unknown() {
        let mut s = VehicleState::default();
        s.apply(
            1,
            &MavMessage::SYS_STATUS(SYS_STATUS_DATA {
                voltage_battery: u16::MAX,
                current_battery: -1,
                battery_remaining: -1,
                ..SYS_STATUS_DATA::DEFAULT
            }),
        );
        assert_eq!(
            (s.battery_v, s.battery_a, s.battery_pct),
            (None, None, None)
        );
        s.apply(
            2,
            &MavMessage::GLOBAL_POSITION_INT(GLOBAL_POSITION_INT_DATA {
                lat: 0,
                lon: 0,
                alt: 584_000,
                relative_alt: 0,
                hdg: u16::MAX,
                ..GLOBAL_POSITION_INT_DATA::DEFAULT
            }),
        );
        assert_eq!((s.lat_deg, s.lon_deg, s.heading_deg), (None, None, None));
        assert_eq!(s.alt_msl_m, Some(584.0));
        s.apply(
            3,
            &MavMessage::GPS_RAW_INT(GPS_RAW_INT_DATA {
                fix_type: GpsFixType::GPS_FIX_TYPE_3D_FIX,
                satellites_visible: u8::MAX,
                eph: u16::MAX,
                ..GPS_RAW_INT_DATA::DEFAULT
            }),
        );
        assert_eq!(
            (s.gps_fix_name(), s.satellites, s.hdop),
            (Some("3D"), None, None)
        );
    }

    #[test]
    fn units_are_converted() {
        let mut s = VehicleState::default();
        let sample = s.apply(
            5,
            &MavMessage::ATTITUDE(ATTITUDE_DATA {
                roll: std::f32::consts::FRAC_PI_6,
                pitch: -0.1,
                yaw: std::f32::consts::PI,
                ..ATTITUDE_DATA::DEFAULT
            }),
        );
        assert!((s.roll_deg.unwrap_or(0.0) - 30.0).abs() < 1e-4);
        assert!((s.yaw_deg.unwrap_or(0.0) - 180.0).abs() < 1e-4);
        let sample = sample.expect("attitude is plotted");
        assert_eq!(sample.group, Group::Attitude);
        assert_eq!(sample.row().len(), 3);
        s.apply(
            6,
            &MavMessage::GLOBAL_POSITION_INT(GLOBAL_POSITION_INT_DATA {
                lat: -353_632_610,
                lon: 1_491_652_300,
                alt: 604_500,
                relative_alt: 20_500,
                hdg: 9_050,
                ..GLOBAL_POSITION_INT_DATA::DEFAULT
            }),
        );
        assert!((s.lat_deg.unwrap_or(0.0) + 35.363_261).abs() < 1e-9);
        assert_eq!(
            (s.alt_rel_m, s.alt_msl_m, s.heading_deg),
            (Some(20.5), Some(604.5), Some(90.5))
        );
        s.apply(
            7,
            &MavMessage::SYS_STATUS(SYS_STATUS_DATA {
                voltage_battery: 16_200,
                current_battery: 1_530,
                battery_remaining: 87,
                ..SYS_STATUS_DATA::DEFAULT
            }),
        );
        assert_eq!(
            (s.battery_v, s.battery_a, s.battery_pct),
            (Some(16.2), Some(15.3), Some(87.0))
        );
    }

    #[test]
    fn chunked_statustext_is_joined_into_one_line() {
        let mut s = VehicleState::default();
        let piece = |id: u16, chunk_seq: u8, text: &str| {
            let mut bytes = [0u8; 50];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            MavMessage::STATUSTEXT(STATUSTEXT_DATA {
                severity: MavSeverity::MAV_SEVERITY_CRITICAL,
                text: bytes.into(),
                id,
                chunk_seq,
            })
        };
        s.apply(1, &piece(9, 0, &"a".repeat(50)));
        s.apply(2, &piece(9, 1, "bc"));
        s.apply(3, &piece(0, 0, "plain"));
        let lines: Vec<&str> = s.statustext.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            lines,
            vec![format!("{}bc", "a".repeat(50)).as_str(), "plain"]
        );
    }

    #[test]
    fn statustext_keeps_the_newest_lines() {
        let mut s = VehicleState::default();
        for i in 0..(STATUSTEXT_KEPT + 5) {
            let mut text = [0u8; 50];
            let line = format!("line {i}");
            text[..line.len()].copy_from_slice(line.as_bytes());
            s.apply(
                i as u64,
                &MavMessage::STATUSTEXT(STATUSTEXT_DATA {
                    severity: MavSeverity::MAV_SEVERITY_WARNING,
                    text: text.into(),
                    ..STATUSTEXT_DATA::DEFAULT
                }),
            );
        }
        assert_eq!(s.statustext.len(), STATUSTEXT_KEPT);
        let newest = s.newest_statustext().expect("a line");
        assert_eq!((newest.text.as_str(), newest.severity), ("line 24", 4));
        assert_eq!(s.counts.get(253), (STATUSTEXT_KEPT + 5) as u64);
    }
}
