//! Missions, geofences and rally points: the item type every mission-related module shares
//! (file formats, the transfer protocol, the simulator), independent of any wire message.

use crate::dialect::{MavCmd, MavFrame, MavMissionType, MISSION_ITEM_INT_DATA};

pub mod plan_file;
pub mod transfer;
pub mod waypoints_file;

/// One mission item as MISSION_ITEM_INT carries it: positions as degrees × 1e7 so a round
/// trip through a vehicle and back is exact.
#[derive(Debug, Clone, PartialEq)]
pub struct MissionItem {
    pub seq: u16,
    pub frame: MavFrame,
    pub command: MavCmd,
    pub current: bool,
    pub autocontinue: bool,
    pub param1: f32,
    pub param2: f32,
    pub param3: f32,
    pub param4: f32,
    /// Latitude in degrees × 1e7 for global frames, else the raw `x`.
    pub x: i32,
    /// Longitude in degrees × 1e7 for global frames, else the raw `y`.
    pub y: i32,
    /// Altitude in metres (relative or MSL per `frame`), else the raw `z`.
    pub z: f32,
    pub mission_type: MavMissionType,
}

impl MissionItem {
    /// The MISSION_ITEM_INT that carries this item to `target`.
    pub fn to_wire(&self, target_system: u8, target_component: u8) -> MISSION_ITEM_INT_DATA {
        MISSION_ITEM_INT_DATA {
            param1: self.param1,
            param2: self.param2,
            param3: self.param3,
            param4: self.param4,
            x: self.x,
            y: self.y,
            z: self.z,
            seq: self.seq,
            command: self.command,
            target_system,
            target_component,
            frame: self.frame,
            current: u8::from(self.current),
            autocontinue: u8::from(self.autocontinue),
            mission_type: self.mission_type,
        }
    }

    pub fn from_wire(m: &MISSION_ITEM_INT_DATA) -> MissionItem {
        MissionItem {
            seq: m.seq,
            frame: m.frame,
            command: m.command,
            current: m.current != 0,
            autocontinue: m.autocontinue != 0,
            param1: m.param1,
            param2: m.param2,
            param3: m.param3,
            param4: m.param4,
            x: m.x,
            y: m.y,
            z: m.z,
            mission_type: m.mission_type,
        }
    }
}

/// A plan as a pilot edits it: the mission proper, its geofence and its rally points,
/// each numbered from 0 in its own list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub mission: Vec<MissionItem>,
    pub fence: Vec<MissionItem>,
    pub rally: Vec<MissionItem>,
}
