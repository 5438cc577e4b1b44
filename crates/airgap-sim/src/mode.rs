//! ArduCopter's flight modes as the simulated vehicle knows them: the `custom_mode`
//! numbers it reports in HEARTBEAT and accepts in DO_SET_MODE / SET_MODE, and the two
//! facts about each mode that change what the model does (can it arm in it, does it
//! need a position estimate).
//!
//! The numbers follow ArduCopter's `mode.h` (`Mode::Number`); gaps (8, 10, 12) are modes
//! that were removed upstream and are refused here as they are on a real Copter.

use std::fmt;

/// An ArduCopter flight mode (`custom_mode` in HEARTBEAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CopterMode {
    Stabilize,
    Acro,
    AltHold,
    Auto,
    Guided,
    Loiter,
    Rtl,
    Circle,
    Land,
    Drift,
    Sport,
    Flip,
    AutoTune,
    PosHold,
    Brake,
    Throw,
    AvoidAdsb,
    GuidedNoGps,
    SmartRtl,
    FlowHold,
    Follow,
    ZigZag,
    SystemId,
    AutoRotate,
    AutoRtl,
    Turtle,
}

impl CopterMode {
    const TABLE: [(CopterMode, u32, &'static str); 26] = [
        (CopterMode::Stabilize, 0, "STABILIZE"),
        (CopterMode::Acro, 1, "ACRO"),
        (CopterMode::AltHold, 2, "ALT_HOLD"),
        (CopterMode::Auto, 3, "AUTO"),
        (CopterMode::Guided, 4, "GUIDED"),
        (CopterMode::Loiter, 5, "LOITER"),
        (CopterMode::Rtl, 6, "RTL"),
        (CopterMode::Circle, 7, "CIRCLE"),
        (CopterMode::Land, 9, "LAND"),
        (CopterMode::Drift, 11, "DRIFT"),
        (CopterMode::Sport, 13, "SPORT"),
        (CopterMode::Flip, 14, "FLIP"),
        (CopterMode::AutoTune, 15, "AUTOTUNE"),
        (CopterMode::PosHold, 16, "POSHOLD"),
        (CopterMode::Brake, 17, "BRAKE"),
        (CopterMode::Throw, 18, "THROW"),
        (CopterMode::AvoidAdsb, 19, "AVOID_ADSB"),
        (CopterMode::GuidedNoGps, 20, "GUIDED_NOGPS"),
        (CopterMode::SmartRtl, 21, "SMART_RTL"),
        (CopterMode::FlowHold, 22, "FLOWHOLD"),
        (CopterMode::Follow, 23, "FOLLOW"),
        (CopterMode::ZigZag, 24, "ZIGZAG"),
        (CopterMode::SystemId, 25, "SYSTEMID"),
        (CopterMode::AutoRotate, 26, "AUTOROTATE"),
        (CopterMode::AutoRtl, 27, "AUTO_RTL"),
        (CopterMode::Turtle, 28, "TURTLE"),
    ];

    /// The mode with this `custom_mode` number, if ArduCopter has one.
    pub fn from_custom_mode(custom_mode: u32) -> Option<CopterMode> {
        Self::TABLE
            .iter()
            .find(|(_, number, _)| *number == custom_mode)
            .map(|(mode, _, _)| *mode)
    }

    /// The `custom_mode` number ArduCopter uses for this mode.
    pub fn custom_mode(self) -> u32 {
        self.entry().1
    }

    /// The name ArduCopter prints for this mode (`GUIDED`, `ALT_HOLD`, …).
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    fn entry(self) -> (CopterMode, u32, &'static str) {
        *Self::TABLE
            .iter()
            .find(|(mode, _, _)| *mode == self)
            .expect("every CopterMode variant has a row in TABLE")
    }

    /// Whether ArduCopter lets the motors arm in this mode (its `allows_arming`): the
    /// modes that would immediately fly somewhere on their own refuse.
    pub fn allows_arming(self) -> bool {
        !matches!(
            self,
            CopterMode::Auto
                | CopterMode::Rtl
                | CopterMode::Circle
                | CopterMode::Land
                | CopterMode::SmartRtl
                | CopterMode::AutoRtl
                | CopterMode::Brake
                | CopterMode::Follow
                | CopterMode::AutoRotate
        )
    }

    /// Whether the mode needs a position estimate (a GPS fix here) to be entered.
    pub fn requires_position(self) -> bool {
        matches!(
            self,
            CopterMode::Auto
                | CopterMode::Guided
                | CopterMode::Loiter
                | CopterMode::Rtl
                | CopterMode::Circle
                | CopterMode::Drift
                | CopterMode::PosHold
                | CopterMode::Brake
                | CopterMode::Throw
                | CopterMode::AvoidAdsb
                | CopterMode::SmartRtl
                | CopterMode::Follow
                | CopterMode::ZigZag
                | CopterMode::AutoRtl
        )
    }
}

impl fmt::Display for CopterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_arducopter() {
        let expected = [
            (0, "STABILIZE"),
            (1, "ACRO"),
            (2, "ALT_HOLD"),
            (3, "AUTO"),
            (4, "GUIDED"),
            (5, "LOITER"),
            (6, "RTL"),
            (7, "CIRCLE"),
            (9, "LAND"),
            (16, "POSHOLD"),
            (21, "SMART_RTL"),
        ];
        for (number, name) in expected {
            let mode = CopterMode::from_custom_mode(number).expect("known mode");
            assert_eq!(mode.name(), name);
            assert_eq!(mode.custom_mode(), number);
        }
    }

    #[test]
    fn removed_and_unknown_numbers_are_refused() {
        for number in [8, 10, 12, 29, u32::MAX] {
            assert_eq!(CopterMode::from_custom_mode(number), None, "{number}");
        }
    }

    /// The ground station reads modes through the core's table: both must agree, or a
    /// pilot would see one mode while the simulator flies another.
    #[test]
    fn agrees_with_the_ground_stations_table() {
        use airgap_core::modes::ModeTable;
        for (mode, number, name) in CopterMode::TABLE {
            assert_eq!(ModeTable::ArduCopter.name(number), name, "{mode:?}");
            assert_eq!(ModeTable::ArduCopter.number(name), Some(number), "{mode:?}");
        }
        assert_eq!(ModeTable::ArduCopter.names().len(), CopterMode::TABLE.len());
    }

    #[test]
    fn every_row_round_trips() {
        for (mode, number, _) in CopterMode::TABLE {
            assert_eq!(CopterMode::from_custom_mode(number), Some(mode));
            assert_eq!(mode.custom_mode(), number);
        }
    }
}
