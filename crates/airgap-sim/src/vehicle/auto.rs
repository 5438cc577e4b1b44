//! AUTO: the vehicle flies its stored mission, item by item, the way ArduCopter's
//! `ModeAuto` does for the commands modelled here — NAV_TAKEOFF, NAV_WAYPOINT (holding
//! param1 seconds), NAV_LOITER_TIME, NAV_RETURN_TO_LAUNCH, NAV_LAND and DO_CHANGE_SPEED —
//! and steps over every other command. It reports progress with MISSION_CURRENT,
//! MISSION_ITEM_REACHED and ArduPilot's "Mission: N …" / "Reached command #N" texts.
//!
//! Arming in AUTO is refused unless AUTO_OPTIONS bit 0 ("allow arming") is set; armed in
//! AUTO on the ground with a NAV_TAKEOFF next, the vehicle takes off by itself (a real
//! Copter also wants bit 1, or the throttle raised: this one has no sticks). The usual
//! way is ArduPilot's too: take off in GUIDED, then switch to AUTO.

use airgap_core::dialect::{
    MavCmd, MavFrame, MavMissionType, MavResult, MavSeverity, MissionState, MISSION_CURRENT_DATA,
    MISSION_ITEM_REACHED_DATA,
};
use airgap_core::mission::MissionItem;
use airgap_core::MavMessage;

use super::{Guidance, Ne, Vehicle, MAX_HORIZONTAL_MPS};
use crate::mode::CopterMode;

/// AUTO_OPTIONS bit 0: arming is allowed in AUTO.
const AUTO_OPTION_ALLOW_ARMING: i64 = 1;

/// A takeoff is done this close to its altitude.
const TAKEOFF_DONE_BELOW_M: f64 = 0.5;
/// A waypoint is reached within the radius horizontally and this close vertically.
const WAYPOINT_ALT_TOLERANCE_M: f64 = 1.0;

/// What the nav command in progress is waiting for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Nav {
    Takeoff {
        alt_m: f64,
    },
    Goto {
        target: Ne,
        alt_m: f64,
        hold_s: f64,
    },
    /// NAV_LAND at a position: fly there first.
    LandAt {
        target: Ne,
    },
    /// Descending (NAV_LAND) or returning (NAV_RETURN_TO_LAUNCH) until touchdown.
    Landing,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Not flying an item: outside AUTO, or about to start the current one.
    Idle,
    Nav {
        seq: u16,
        nav: Nav,
    },
    Holding {
        seq: u16,
        until_s: f64,
    },
    Complete,
}

/// Where AUTO is in the mission.
#[derive(Debug, Clone)]
pub(super) struct Auto {
    /// The item flown next (MISSION_CURRENT); 0 (home) is never flown.
    pub(super) current: u16,
    step: Step,
    /// DO_CHANGE_SPEED's speed, until the mission restarts.
    speed_mps: Option<f64>,
}

impl Default for Auto {
    fn default() -> Auto {
        Auto {
            current: 1,
            step: Step::Idle,
            speed_mps: None,
        }
    }
}

impl Vehicle {
    fn mission_items(&self) -> &[MissionItem] {
        self.missions
            .items(MavMissionType::MAV_MISSION_TYPE_MISSION)
    }

    /// AUTO needs something besides home to fly.
    pub(super) fn auto_can_start(&self) -> bool {
        self.mission_items().len() > 1
    }

    pub(super) fn auto_allows_arming(&self) -> bool {
        self.mode == CopterMode::Auto
            && self.param("AUTO_OPTIONS").unwrap_or(0.0) as i64 & AUTO_OPTION_ALLOW_ARMING != 0
    }

    /// Flying the mission: the mission cannot be cleared under it.
    pub(super) fn auto_running(&self) -> bool {
        self.mode == CopterMode::Auto && self.armed
    }

    /// Entering AUTO resumes the mission at its current item, or restarts a finished one.
    pub(super) fn auto_enter(&mut self) {
        if self.auto.step == Step::Complete {
            self.auto = Auto::default();
        }
        self.auto.step = Step::Idle;
    }

    /// Leaving AUTO pauses the mission at its current item.
    pub(super) fn auto_leave(&mut self) {
        if self.auto.step != Step::Complete {
            self.auto.step = Step::Idle;
        }
    }

    /// A new mission was stored: start again from its first item.
    pub(super) fn auto_mission_changed(&mut self) {
        self.auto = Auto::default();
        if self.mode == CopterMode::Auto && !self.auto_can_start() && !self.on_ground {
            // Nothing left to fly: hold where we are, as ArduCopter does at a mission's end.
            self.auto.step = Step::Complete;
            self.hold_here();
        }
        self.send_mission_current();
    }

    /// MISSION_SET_CURRENT / MAV_CMD_DO_SET_MISSION_CURRENT. Item 0 (home) means item 1.
    pub(super) fn set_mission_current(&mut self, seq: u16) -> MavResult {
        let len = self.mission_items().len();
        let seq = seq.max(1);
        if usize::from(seq) >= len {
            self.send_mission_current();
            return MavResult::MAV_RESULT_FAILED;
        }
        self.auto.current = seq;
        // In AUTO the new item starts at once; outside it, on the next entry.
        self.auto.step = Step::Idle;
        self.send_mission_current();
        MavResult::MAV_RESULT_ACCEPTED
    }

    /// One physics step of AUTO.
    pub(super) fn run_auto(&mut self, t: f64) {
        if self.mode != CopterMode::Auto {
            return;
        }
        match self.auto.step {
            Step::Complete => {}
            Step::Idle => {
                if self.armed {
                    self.auto_start();
                }
            }
            Step::Holding { seq, until_s } => {
                if t >= until_s {
                    self.auto_next(seq);
                }
            }
            Step::Nav { seq, nav } => self.auto_check(t, seq, nav),
        }
    }

    /// Starts the current item, stepping over the commands that are not modelled.
    fn auto_start(&mut self) {
        if self.auto.current == 0 {
            self.auto.current = 1;
        }
        loop {
            let seq = self.auto.current;
            let Some(item) = self.mission_items().get(usize::from(seq)).cloned() else {
                self.auto_complete();
                return;
            };
            self.text(
                MavSeverity::MAV_SEVERITY_INFO,
                &format!("Mission: {seq} {}", command_name(item.command)),
            );
            let nav = match item.command {
                MavCmd::MAV_CMD_NAV_TAKEOFF => {
                    let alt_m = self.item_alt_m(&item).max(self.alt_m);
                    self.guidance = Guidance::Hold {
                        target: self.pos,
                        alt_m,
                        speed_mps: MAX_HORIZONTAL_MPS,
                    };
                    Some(Nav::Takeoff { alt_m })
                }
                MavCmd::MAV_CMD_NAV_WAYPOINT | MavCmd::MAV_CMD_NAV_LOITER_TIME => {
                    let target = self.item_position(&item);
                    let alt_m = self.item_alt_m(&item);
                    let hold_s = f64::from(item.param1);
                    self.guidance = Guidance::Hold {
                        target,
                        alt_m,
                        speed_mps: self.auto_speed_mps(),
                    };
                    Some(Nav::Goto {
                        target,
                        alt_m,
                        hold_s: if hold_s.is_finite() {
                            hold_s.max(0.0)
                        } else {
                            0.0
                        },
                    })
                }
                MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH => {
                    self.guidance = Guidance::RtlClimb {
                        at: self.pos,
                        alt_m: self.alt_m.max(self.rtl_alt_m()),
                    };
                    Some(Nav::Landing)
                }
                MavCmd::MAV_CMD_NAV_LAND => {
                    if item.x == 0 && item.y == 0 {
                        self.guidance = Guidance::Land { at: self.pos };
                        Some(Nav::Landing)
                    } else {
                        let target = self.item_position(&item);
                        self.guidance = Guidance::Hold {
                            target,
                            alt_m: self.alt_m,
                            speed_mps: self.auto_speed_mps(),
                        };
                        Some(Nav::LandAt { target })
                    }
                }
                MavCmd::MAV_CMD_DO_CHANGE_SPEED => {
                    let speed = f64::from(item.param2);
                    if speed.is_finite() && speed > 0.0 {
                        self.auto.speed_mps = Some(speed.clamp(0.2, 20.0));
                        self.retarget_speed();
                    }
                    None
                }
                _ => None,
            };
            match nav {
                Some(nav) => {
                    self.auto.step = Step::Nav { seq, nav };
                    return;
                }
                None => {
                    self.auto.current = seq.saturating_add(1);
                    self.send_mission_current();
                }
            }
        }
    }

    fn auto_check(&mut self, t: f64, seq: u16, nav: Nav) {
        let done = match nav {
            Nav::Takeoff { alt_m } => self.alt_m >= alt_m - TAKEOFF_DONE_BELOW_M,
            Nav::Goto { target, alt_m, .. } => {
                self.pos.sub(target).len() <= self.wpnav_radius_m()
                    && (self.alt_m - alt_m).abs() <= WAYPOINT_ALT_TOLERANCE_M
            }
            Nav::LandAt { target } => {
                if self.pos.sub(target).len() <= self.wpnav_radius_m() {
                    self.guidance = Guidance::Land { at: target };
                    self.auto.step = Step::Nav {
                        seq,
                        nav: Nav::Landing,
                    };
                }
                false
            }
            Nav::Landing => self.on_ground && !self.armed,
        };
        if !done {
            return;
        }
        self.outbox.push(MavMessage::MISSION_ITEM_REACHED(
            MISSION_ITEM_REACHED_DATA { seq },
        ));
        self.text(
            MavSeverity::MAV_SEVERITY_INFO,
            &format!("Reached command #{seq}"),
        );
        match nav {
            Nav::Goto { hold_s, .. } if hold_s > 0.0 => {
                self.auto.step = Step::Holding {
                    seq,
                    until_s: t + hold_s,
                };
            }
            _ => self.auto_next(seq),
        }
    }

    fn auto_next(&mut self, seq: u16) {
        self.auto.current = seq.saturating_add(1);
        self.send_mission_current();
        if usize::from(self.auto.current) >= self.mission_items().len() {
            self.auto_complete();
        } else if self.armed {
            self.auto_start();
        } else {
            // Landed and disarmed mid-mission: the rest waits for the next arming.
            self.auto.step = Step::Idle;
        }
    }

    fn auto_complete(&mut self) {
        self.auto.step = Step::Complete;
        if !self.on_ground {
            self.hold_here();
        }
        self.send_mission_current();
    }

    fn hold_here(&mut self) {
        self.guidance = Guidance::Hold {
            target: self.stopping_point(),
            alt_m: self.alt_m,
            speed_mps: MAX_HORIZONTAL_MPS,
        };
    }

    fn auto_speed_mps(&self) -> f64 {
        self.auto
            .speed_mps
            .unwrap_or_else(|| self.wpnav_speed_mps())
    }

    /// DO_CHANGE_SPEED applies to the leg being flown too.
    fn retarget_speed(&mut self) {
        let speed = self.auto_speed_mps();
        if let Guidance::Hold { speed_mps, .. } = &mut self.guidance {
            *speed_mps = speed;
        }
    }

    /// An item's position; 0,0 means "here", as in ArduCopter.
    fn item_position(&self, item: &MissionItem) -> Ne {
        if item.x == 0 && item.y == 0 {
            return self.pos;
        }
        self.local_of(f64::from(item.x) / 1e7, f64::from(item.y) / 1e7)
    }

    /// An item's altitude above home; 0 means "the current altitude", as in ArduCopter.
    fn item_alt_m(&self, item: &MissionItem) -> f64 {
        let z = f64::from(item.z);
        if !z.is_finite() || z == 0.0 {
            return self.alt_m;
        }
        #[allow(deprecated)]
        let msl = matches!(
            item.frame,
            MavFrame::MAV_FRAME_GLOBAL | MavFrame::MAV_FRAME_GLOBAL_INT
        );
        if msl {
            z - self.config.home_alt_m
        } else {
            z
        }
    }

    pub(super) fn send_mission_current(&mut self) {
        let msg = self.mission_current_msg();
        self.outbox.push(msg);
    }

    pub(super) fn mission_current_msg(&self) -> MavMessage {
        let len = self.mission_items().len();
        let mission_state = if len <= 1 {
            MissionState::MISSION_STATE_NO_MISSION
        } else if self.auto.step == Step::Complete {
            MissionState::MISSION_STATE_COMPLETE
        } else if self.auto_running() {
            MissionState::MISSION_STATE_ACTIVE
        } else if self.auto.current <= 1 {
            MissionState::MISSION_STATE_NOT_STARTED
        } else {
            MissionState::MISSION_STATE_PAUSED
        };
        MavMessage::MISSION_CURRENT(MISSION_CURRENT_DATA {
            seq: self.auto.current,
            // Home is not counted; u16::MAX says there is no mission.
            total: if len <= 1 {
                u16::MAX
            } else {
                u16::try_from(len - 1).unwrap_or(u16::MAX)
            },
            mission_state,
            mission_mode: if self.mode == CopterMode::Auto { 1 } else { 2 },
            ..MISSION_CURRENT_DATA::DEFAULT
        })
    }
}

/// ArduPilot's short name for a command in its "Mission: N NAME" text.
fn command_name(command: MavCmd) -> &'static str {
    match command {
        MavCmd::MAV_CMD_NAV_TAKEOFF => "Takeoff",
        MavCmd::MAV_CMD_NAV_WAYPOINT => "WP",
        MavCmd::MAV_CMD_NAV_LOITER_TIME => "LoitTime",
        MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH => "RTL",
        MavCmd::MAV_CMD_NAV_LAND => "Land",
        MavCmd::MAV_CMD_DO_CHANGE_SPEED => "ChangeSpeed",
        _ => "Cmd",
    }
}
