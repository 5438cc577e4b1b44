//! Flight-mode names: ArduPilot's per-vehicle tables and PX4's main/sub modes, both ways
//! (number → name for display, name → number for mode changes).
//!
//! Names follow what pilots see in Mission Planner (ArduPilot, upper case) and
//! QGroundControl (PX4, title case), so a pilot reading our screen and theirs sees the same word.

use crate::dialect::{MavAutopilot, MavType};

/// Which mode table a vehicle uses, decided from its HEARTBEAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeTable {
    ArduCopter,
    ArduPlane,
    ArduRover,
    ArduSub,
    AntennaTracker,
    Px4,
    /// Neither ArduPilot nor PX4: modes are shown by number.
    Unknown,
}

impl ModeTable {
    pub fn for_vehicle(autopilot: MavAutopilot, vehicle_type: MavType) -> Self {
        use MavType::*;
        match autopilot {
            MavAutopilot::MAV_AUTOPILOT_PX4 => ModeTable::Px4,
            MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA => match vehicle_type {
                MAV_TYPE_FIXED_WING
                | MAV_TYPE_VTOL_TAILSITTER_DUOROTOR
                | MAV_TYPE_VTOL_TAILSITTER_QUADROTOR
                | MAV_TYPE_VTOL_TILTROTOR
                | MAV_TYPE_VTOL_FIXEDROTOR
                | MAV_TYPE_VTOL_TAILSITTER
                | MAV_TYPE_VTOL_TILTWING
                | MAV_TYPE_FLAPPING_WING => ModeTable::ArduPlane,
                MAV_TYPE_GROUND_ROVER | MAV_TYPE_SURFACE_BOAT => ModeTable::ArduRover,
                MAV_TYPE_SUBMARINE => ModeTable::ArduSub,
                MAV_TYPE_ANTENNA_TRACKER => ModeTable::AntennaTracker,
                _ => ModeTable::ArduCopter,
            },
            _ => ModeTable::Unknown,
        }
    }

    fn ardupilot_table(self) -> &'static [(u32, &'static str)] {
        match self {
            ModeTable::ArduCopter => COPTER,
            ModeTable::ArduPlane => PLANE,
            ModeTable::ArduRover => ROVER,
            ModeTable::ArduSub => SUB,
            ModeTable::AntennaTracker => TRACKER,
            ModeTable::Px4 | ModeTable::Unknown => &[],
        }
    }

    /// The name of `custom_mode`, or `Mode N` when the table does not know it.
    pub fn name(self, custom_mode: u32) -> String {
        let known = match self {
            ModeTable::Px4 => px4_name(custom_mode),
            _ => self
                .ardupilot_table()
                .iter()
                .find(|(n, _)| *n == custom_mode)
                .map(|(_, name)| *name),
        };
        match known {
            Some(name) => name.to_owned(),
            None => format!("Mode {custom_mode}"),
        }
    }

    /// The `custom_mode` for a mode name (case-insensitive; `_`, `-` and spaces are equivalent).
    pub fn number(self, name: &str) -> Option<u32> {
        let wanted = normalise(name);
        match self {
            ModeTable::Px4 => PX4
                .iter()
                .find(|(_, _, n)| normalise(n) == wanted)
                .map(|(main, sub, _)| px4_custom_mode(*main, *sub)),
            _ => self
                .ardupilot_table()
                .iter()
                .find(|(_, n)| normalise(n) == wanted)
                .map(|(number, _)| *number),
        }
    }

    /// Every mode name of the table, in table order (for mode pickers).
    pub fn names(self) -> Vec<&'static str> {
        match self {
            ModeTable::Px4 => PX4.iter().map(|(_, _, n)| *n).collect(),
            _ => self.ardupilot_table().iter().map(|(_, n)| *n).collect(),
        }
    }
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// PX4 packs its mode as `sub_mode << 24 | main_mode << 16` in `custom_mode`.
fn px4_custom_mode(main: u8, sub: u8) -> u32 {
    (u32::from(sub) << 24) | (u32::from(main) << 16)
}

fn px4_name(custom_mode: u32) -> Option<&'static str> {
    let main = ((custom_mode >> 16) & 0xff) as u8;
    let sub = ((custom_mode >> 24) & 0xff) as u8;
    PX4.iter()
        .find(|(m, s, _)| *m == main && *s == sub)
        // A main mode with an unlisted sub mode still has a useful name.
        .or_else(|| PX4.iter().find(|(m, s, _)| *m == main && *s == 0))
        .map(|(_, _, n)| *n)
}

const COPTER: &[(u32, &str)] = &[
    (0, "STABILIZE"),
    (1, "ACRO"),
    (2, "ALT_HOLD"),
    (3, "AUTO"),
    (4, "GUIDED"),
    (5, "LOITER"),
    (6, "RTL"),
    (7, "CIRCLE"),
    (9, "LAND"),
    (11, "DRIFT"),
    (13, "SPORT"),
    (14, "FLIP"),
    (15, "AUTOTUNE"),
    (16, "POSHOLD"),
    (17, "BRAKE"),
    (18, "THROW"),
    (19, "AVOID_ADSB"),
    (20, "GUIDED_NOGPS"),
    (21, "SMART_RTL"),
    (22, "FLOWHOLD"),
    (23, "FOLLOW"),
    (24, "ZIGZAG"),
    (25, "SYSTEMID"),
    (26, "AUTOROTATE"),
    (27, "AUTO_RTL"),
    (28, "TURTLE"),
];

const PLANE: &[(u32, &str)] = &[
    (0, "MANUAL"),
    (1, "CIRCLE"),
    (2, "STABILIZE"),
    (3, "TRAINING"),
    (4, "ACRO"),
    (5, "FBWA"),
    (6, "FBWB"),
    (7, "CRUISE"),
    (8, "AUTOTUNE"),
    (10, "AUTO"),
    (11, "RTL"),
    (12, "LOITER"),
    (13, "TAKEOFF"),
    (14, "AVOID_ADSB"),
    (15, "GUIDED"),
    (17, "QSTABILIZE"),
    (18, "QHOVER"),
    (19, "QLOITER"),
    (20, "QLAND"),
    (21, "QRTL"),
    (22, "QAUTOTUNE"),
    (23, "QACRO"),
    (24, "THERMAL"),
    (25, "LOITER_ALT_QLAND"),
    (26, "AUTOLAND"),
];

const ROVER: &[(u32, &str)] = &[
    (0, "MANUAL"),
    (1, "ACRO"),
    (3, "STEERING"),
    (4, "HOLD"),
    (5, "LOITER"),
    (6, "FOLLOW"),
    (7, "SIMPLE"),
    (8, "DOCK"),
    (9, "CIRCLE"),
    (10, "AUTO"),
    (11, "RTL"),
    (12, "SMART_RTL"),
    (15, "GUIDED"),
    (16, "INITIALISING"),
];

const SUB: &[(u32, &str)] = &[
    (0, "STABILIZE"),
    (1, "ACRO"),
    (2, "ALT_HOLD"),
    (3, "AUTO"),
    (4, "GUIDED"),
    (7, "CIRCLE"),
    (9, "SURFACE"),
    (16, "POSHOLD"),
    (19, "MANUAL"),
    (20, "MOTOR_DETECT"),
    (21, "SURFTRAK"),
];

const TRACKER: &[(u32, &str)] = &[
    (0, "MANUAL"),
    (1, "STOP"),
    (2, "SCAN"),
    (3, "SERVO_TEST"),
    (4, "GUIDED"),
    (10, "AUTO"),
    (16, "INITIALISING"),
];

/// (main mode, sub mode, name) as QGroundControl names them.
const PX4: &[(u8, u8, &str)] = &[
    (1, 0, "Manual"),
    (2, 0, "Altitude"),
    (3, 0, "Position"),
    (3, 1, "Orbit"),
    (3, 2, "Position Slow"),
    (4, 1, "Ready"),
    (4, 2, "Takeoff"),
    (4, 3, "Hold"),
    (4, 4, "Mission"),
    (4, 5, "Return"),
    (4, 6, "Land"),
    (4, 8, "Follow Me"),
    (4, 9, "Precision Land"),
    (4, 10, "VTOL Takeoff"),
    (5, 0, "Acro"),
    (6, 0, "Offboard"),
    (7, 0, "Stabilized"),
    (8, 0, "Rattitude"),
    (10, 0, "Termination"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copter_names_both_ways() {
        let t = ModeTable::for_vehicle(
            MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            MavType::MAV_TYPE_QUADROTOR,
        );
        assert_eq!(t, ModeTable::ArduCopter);
        assert_eq!(t.name(4), "GUIDED");
        assert_eq!(t.name(7), "CIRCLE");
        assert_eq!(t.name(99), "Mode 99");
        assert_eq!(t.number("guided"), Some(4));
        assert_eq!(t.number("alt hold"), Some(2));
        assert_eq!(t.number("nonsense"), None);
    }

    #[test]
    fn plane_and_rover_use_their_own_tables() {
        let plane = ModeTable::for_vehicle(
            MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            MavType::MAV_TYPE_FIXED_WING,
        );
        assert_eq!(plane.name(10), "AUTO");
        assert_eq!(plane.name(1), "CIRCLE");
        let rover = ModeTable::for_vehicle(
            MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            MavType::MAV_TYPE_GROUND_ROVER,
        );
        assert_eq!(rover.name(4), "HOLD");
    }

    #[test]
    fn px4_main_and_sub_modes() {
        let t =
            ModeTable::for_vehicle(MavAutopilot::MAV_AUTOPILOT_PX4, MavType::MAV_TYPE_QUADROTOR);
        assert_eq!(t.name(px4_custom_mode(4, 4)), "Mission");
        assert_eq!(t.name(px4_custom_mode(3, 0)), "Position");
        assert_eq!(t.name(px4_custom_mode(3, 7)), "Position");
        assert_eq!(t.number("return"), Some(px4_custom_mode(4, 5)));
        assert_eq!(t.name(px4_custom_mode(42, 0)), format!("Mode {}", 42 << 16));
    }

    #[test]
    fn every_name_maps_back_to_its_number() {
        for t in [
            ModeTable::ArduCopter,
            ModeTable::ArduPlane,
            ModeTable::ArduRover,
            ModeTable::ArduSub,
            ModeTable::AntennaTracker,
            ModeTable::Px4,
        ] {
            for name in t.names() {
                let n = t.number(name).expect("listed name has a number");
                assert_eq!(t.name(n), name, "{t:?}");
            }
        }
    }
}
