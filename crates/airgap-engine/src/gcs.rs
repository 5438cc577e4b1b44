//! The ground station's own messages: its heartbeat and the telemetry requests it sends on
//! meeting a vehicle.

// The MAVLink spec marks REQUEST_DATA_STREAM superseded, yet it is what every ArduPilot
// release honours on every port, and what Mission Planner and MAVProxy send.
#![allow(deprecated)]

use airgap_core::dialect::{
    MavAutopilot, MavCmd, MavDataStream, MavModeFlag, MavState, MavType, COMMAND_LONG_DATA,
    HEARTBEAT_DATA, REQUEST_DATA_STREAM_DATA,
};
use airgap_core::MavMessage;

pub fn heartbeat() -> MavMessage {
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode: 0,
        mavtype: MavType::MAV_TYPE_GCS,
        autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
        base_mode: MavModeFlag::empty(),
        system_status: MavState::MAV_STATE_ACTIVE,
        mavlink_version: 3,
    })
}

/// ArduPilot's stream groups and the rate each gets, relative to the requested base rate.
/// EXTRA1 carries ATTITUDE, which the HUD wants fastest.
const ARDUPILOT_STREAMS: &[(MavDataStream, u16)] = &[
    (MavDataStream::MAV_DATA_STREAM_RAW_SENSORS, 1),
    (MavDataStream::MAV_DATA_STREAM_EXTENDED_STATUS, 1),
    (MavDataStream::MAV_DATA_STREAM_RC_CHANNELS, 1),
    (MavDataStream::MAV_DATA_STREAM_POSITION, 1),
    (MavDataStream::MAV_DATA_STREAM_EXTRA1, 2),
    (MavDataStream::MAV_DATA_STREAM_EXTRA2, 1),
    (MavDataStream::MAV_DATA_STREAM_EXTRA3, 1),
];

/// REQUEST_DATA_STREAM for every ArduPilot stream group (what Mission Planner and MAVProxy
/// send; a real ArduCopter on a TCP or USB port streams nothing but HEARTBEAT until asked).
pub fn ardupilot_stream_requests(
    target_sysid: u8,
    target_compid: u8,
    rate_hz: u16,
) -> Vec<MavMessage> {
    ARDUPILOT_STREAMS
        .iter()
        .map(|&(stream, factor)| {
            MavMessage::REQUEST_DATA_STREAM(REQUEST_DATA_STREAM_DATA {
                req_message_rate: rate_hz.saturating_mul(factor),
                target_system: target_sysid,
                target_component: target_compid,
                req_stream_id: stream,
                start_stop: 1,
            })
        })
        .collect()
}

/// Messages the instruments need, with the interval asked of autopilots that take
/// MAV_CMD_SET_MESSAGE_INTERVAL (PX4; ArduPilot also honours it).
const INTERVALS: &[(u32, f32)] = &[
    (1, 2.0),   // SYS_STATUS
    (24, 2.0),  // GPS_RAW_INT
    (30, 10.0), // ATTITUDE
    (33, 5.0),  // GLOBAL_POSITION_INT
    (74, 5.0),  // VFR_HUD
    (147, 1.0), // BATTERY_STATUS
];

pub fn message_interval_requests(target_sysid: u8, target_compid: u8) -> Vec<MavMessage> {
    INTERVALS
        .iter()
        .map(|&(id, hz)| {
            MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
                param1: id as f32,
                param2: 1e6 / hz,
                param3: 0.0,
                param4: 0.0,
                param5: 0.0,
                param6: 0.0,
                param7: 0.0,
                command: MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL,
                target_system: target_sysid,
                target_component: target_compid,
                confirmation: 0,
            })
        })
        .collect()
}

/// MAV_CMD_REQUEST_MESSAGE for AUTOPILOT_VERSION, whose capability bits say whether the
/// vehicle speaks MAVFTP and how it encodes parameter values (QGroundControl asks the same).
pub fn request_autopilot_version(target_sysid: u8, target_compid: u8) -> MavMessage {
    MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
        param1: AUTOPILOT_VERSION_ID as f32,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        param5: 0.0,
        param6: 0.0,
        param7: 0.0,
        command: MavCmd::MAV_CMD_REQUEST_MESSAGE,
        target_system: target_sysid,
        target_component: target_compid,
        confirmation: 0,
    })
}

const AUTOPILOT_VERSION_ID: u32 = 148;
