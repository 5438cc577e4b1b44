//! One simulated ArduCopter, sans-IO: it owns the vehicle's flight state (arming, mode,
//! a kinematic position/attitude model, GPS, battery), answers MAVLink commands the way
//! ArduCopter does, and decides which telemetry is due. It never reads a clock or touches
//! a socket: callers pass `now_s` (seconds since the vehicle booted) to [`Vehicle::tick`]
//! and [`Vehicle::handle`] and send what comes back.
//!
//! Fidelity is "a GCS cannot tell it from SITL at a glance", not aerodynamics: the
//! physics is a velocity- and acceleration-limited point mass, and attitude is derived
//! from the acceleration it needs.

use std::f64::consts::{PI, TAU};

use airgap_core::dialect::{
    GpsFixType, MavAutopilot, MavBatteryFunction, MavBatteryType, MavCmd, MavFrame, MavMissionType,
    MavModeFlag, MavProtocolCapability, MavResult, MavSeverity, MavState, MavSysStatusSensor,
    MavType, ATTITUDE_DATA, AUTOPILOT_VERSION_DATA, BATTERY_STATUS_DATA, COMMAND_ACK_DATA,
    COMMAND_INT_DATA, COMMAND_LONG_DATA, GLOBAL_POSITION_INT_DATA, GPS_RAW_INT_DATA,
    HEARTBEAT_DATA, HOME_POSITION_DATA, STATUSTEXT_DATA, SYS_STATUS_DATA, VFR_HUD_DATA,
};
use airgap_core::mavlink::{Message, MessageData};
use airgap_core::mission::MissionItem;
use airgap_core::MavMessage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ftp::FtpServer;
use crate::missions::{item_from_legacy, MissionConfig, MissionServer, Peer};
use crate::mode::CopterMode;
use crate::params::{ParamServer, ParamTable, DEFAULT_PARAM_RATE_HZ};
use crate::streams::{Schedule, Stream};

mod auto;
mod transfers;
use auto::Auto;

/// ArduPilot SITL's default home (CMAC, Canberra), so logs look like SITL's.
pub const DEFAULT_HOME_LAT_DEG: f64 = -35.363261;
pub const DEFAULT_HOME_LON_DEG: f64 = 149.165230;
pub const DEFAULT_HOME_ALT_M: f64 = 584.0;

/// MAV_COMP_ID_AUTOPILOT1: every message the vehicle sends comes from this component.
pub const AUTOPILOT_COMPID: u8 = 1;

/// param2 of MAV_CMD_COMPONENT_ARM_DISARM that skips the pre-arm checks (ArduPilot's value).
pub const FORCE_ARM_DISARM_MAGIC: f32 = 21196.0;

/// The banner's first line, as a GCS shows it.
pub const BANNER: &str = "ArduCopter V4.6.0 (airgap-sim)";

const GRAVITY_MPS2: f64 = 9.80665;
pub(crate) const EARTH_RADIUS_M: f64 = 6_378_137.0;

// Kinematic limits, from ArduCopter's defaults (WPNAV_SPEED, WPNAV_SPEED_UP/DN,
// WPNAV_ACCEL, CIRCLE_*), except the circle, which is made larger and faster than the
// default 10 m so it is visible on a map. RTL_ALT, LAND_SPEED and (in AUTO) WPNAV_SPEED
// come from the parameters.
const MAX_HORIZONTAL_MPS: f64 = 10.0;
const MAX_CLIMB_MPS: f64 = 2.5;
const MAX_DESCENT_MPS: f64 = 1.5;
const LAND_FINAL_BELOW_M: f64 = 10.0;
const HORIZONTAL_ACCEL_MPS2: f64 = 2.5;
const VERTICAL_ACCEL_MPS2: f64 = 2.5;
const MAX_YAW_RATE_RAD_S: f64 = PI / 2.0;
const ATTITUDE_TIME_CONSTANT_S: f64 = 0.2;
const CIRCLE_RADIUS_M: f64 = 40.0;
const CIRCLE_SPEED_MPS: f64 = 5.0;
/// Falling with the motors off: drag caps it well below free fall from any height we fly.
const FALL_SPEED_MPS: f64 = 20.0;

/// The model integrates in steps no longer than this, however far apart ticks are.
const PHYSICS_STEP_S: f64 = 0.01;

/// When the simulated GPS gets its 3D fix after boot, by default (plus up to 0.5 s).
pub const DEFAULT_GPS_FIX_AFTER_S: f64 = 3.0;
const AUTO_DISARM_AFTER_S: f64 = 10.0;
const AUTOFLY_ARM_AFTER_FIX_S: f64 = 5.0;
const AUTOFLY_TAKEOFF_ALT_M: f64 = 20.0;

// A 4S 5.2 Ah LiPo.
const BATTERY_CELLS: usize = 4;
const BATTERY_CAPACITY_MAH: f64 = 5200.0;
const BATTERY_RESISTANCE_OHM: f64 = 0.04;
const AVIONICS_CURRENT_A: f64 = 0.4;
const ARMED_IDLE_CURRENT_A: f64 = 2.0;
const HOVER_CURRENT_A: f64 = 15.0;
const HOVER_THROTTLE_PCT: f64 = 40.0;

/// How to build one simulated vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleConfig {
    pub sysid: u8,
    pub home_lat_deg: f64,
    pub home_lon_deg: f64,
    /// Home altitude above mean sea level.
    pub home_alt_m: f64,
    /// Seeds every random choice (sensor noise, GPS fix time), so a run is repeatable.
    pub seed: u64,
    /// Demo mode: after the GPS fix, arm, take off in GUIDED and circle forever.
    pub autofly: bool,
    /// Send only HEARTBEAT (and STATUSTEXT) until a GCS asks for telemetry, as a real
    /// ArduCopter does on a port whose SRn_* rates are zero.
    pub wait_for_stream_request: bool,
    /// Offer MAVFTP (`@PARAM/param.pck`, `@MISSION/*.dat`) and say so in
    /// AUTOPILOT_VERSION; off, the vehicle ignores FILE_TRANSFER_PROTOCOL like one without it.
    pub ftp: bool,
    /// Plan capacities and mission-protocol timing.
    pub mission: MissionConfig,
    /// How fast a PARAM_REQUEST_LIST is answered, in PARAM_VALUEs per second.
    pub param_rate_hz: f64,
    /// Seconds after boot before the GPS has a 3D fix (plus up to 0.5 s of jitter); until
    /// then arming is refused with "PreArm: Need 3D Fix".
    pub gps_fix_after_s: f64,
}

impl VehicleConfig {
    /// A vehicle at SITL's default home, streaming from boot.
    pub fn new(sysid: u8) -> VehicleConfig {
        VehicleConfig {
            sysid,
            home_lat_deg: DEFAULT_HOME_LAT_DEG,
            home_lon_deg: DEFAULT_HOME_LON_DEG,
            home_alt_m: DEFAULT_HOME_ALT_M,
            seed: 0,
            autofly: false,
            wait_for_stream_request: false,
            ftp: true,
            mission: MissionConfig::default(),
            param_rate_hz: DEFAULT_PARAM_RATE_HZ,
            gps_fix_after_s: DEFAULT_GPS_FIX_AFTER_S,
        }
    }
}

impl Default for VehicleConfig {
    fn default() -> VehicleConfig {
        VehicleConfig::new(1)
    }
}

/// Where the vehicle is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
    /// Above home.
    pub relative_alt_m: f64,
}

/// A horizontal vector in metres (or m/s, m/s²) north and east of home.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Ne {
    n: f64,
    e: f64,
}

impl Ne {
    const ZERO: Ne = Ne { n: 0.0, e: 0.0 };

    fn new(n: f64, e: f64) -> Ne {
        Ne { n, e }
    }

    fn from_bearing(bearing_rad: f64, length: f64) -> Ne {
        Ne::new(bearing_rad.cos() * length, bearing_rad.sin() * length)
    }

    fn len(self) -> f64 {
        self.n.hypot(self.e)
    }

    fn scale(self, k: f64) -> Ne {
        Ne::new(self.n * k, self.e * k)
    }

    fn add(self, o: Ne) -> Ne {
        Ne::new(self.n + o.n, self.e + o.e)
    }

    fn sub(self, o: Ne) -> Ne {
        Ne::new(self.n - o.n, self.e - o.e)
    }

    /// This vector shortened to `max` if longer.
    fn limit(self, max: f64) -> Ne {
        let len = self.len();
        if len > max && len > 0.0 {
            self.scale(max / len)
        } else {
            self
        }
    }

    /// Bearing from north, clockwise, in (-π, π].
    fn bearing_rad(self) -> f64 {
        self.e.atan2(self.n)
    }
}

/// What the position controller is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Guidance {
    /// On the ground: nothing to fly to.
    Ground,
    /// Fly to a point at an altitude and stay there: takeoff, goto, and every mode with
    /// nothing else to do (a pilot with centred sticks, GUIDED with no target).
    Hold {
        target: Ne,
        alt_m: f64,
        speed_mps: f64,
    },
    Circle {
        center: Ne,
        alt_m: f64,
    },
    /// Descend where we are, then disarm on touchdown.
    Land {
        at: Ne,
    },
    RtlClimb {
        at: Ne,
        alt_m: f64,
    },
    RtlReturn {
        alt_m: f64,
    },
}

/// The demo script behind `autofly`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Autofly {
    Off,
    WaitingForFix,
    ArmAt { at_s: f64 },
    Climbing,
}

#[derive(Debug, Clone, Copy)]
struct Battery {
    consumed_mah: f64,
    consumed_j: f64,
    current_a: f64,
    voltage_v: f64,
}

impl Battery {
    fn full() -> Battery {
        Battery {
            consumed_mah: 0.0,
            consumed_j: 0.0,
            current_a: AVIONICS_CURRENT_A,
            voltage_v: BATTERY_CELLS as f64 * cell_voltage_v(1.0),
        }
    }

    fn remaining_fraction(&self) -> f64 {
        (1.0 - self.consumed_mah / BATTERY_CAPACITY_MAH).clamp(0.0, 1.0)
    }

    fn drain(&mut self, current_a: f64, dt_s: f64) {
        self.current_a = current_a;
        self.consumed_mah += current_a * dt_s / 3.6;
        let resting_v = BATTERY_CELLS as f64 * cell_voltage_v(self.remaining_fraction());
        self.voltage_v = resting_v - BATTERY_RESISTANCE_OHM * current_a;
        self.consumed_j += self.voltage_v * current_a * dt_s;
    }
}

/// A LiPo cell's resting voltage for its remaining charge: flat in the middle, steep at
/// both ends.
fn cell_voltage_v(remaining: f64) -> f64 {
    const CURVE: [(f64, f64); 6] = [
        (0.0, 3.30),
        (0.05, 3.60),
        (0.2, 3.73),
        (0.5, 3.85),
        (0.8, 4.00),
        (1.0, 4.20),
    ];
    let r = remaining.clamp(0.0, 1.0);
    for pair in CURVE.windows(2) {
        let ((r0, v0), (r1, v1)) = (pair[0], pair[1]);
        if r <= r1 {
            return v0 + (v1 - v0) * (r - r0) / (r1 - r0);
        }
    }
    CURVE[CURVE.len() - 1].1
}

/// A command from COMMAND_LONG or COMMAND_INT, in one shape.
#[derive(Debug, Clone, Copy)]
struct Command {
    command: MavCmd,
    params: [f32; 4],
    lat_deg: f64,
    lon_deg: f64,
    z: f32,
}

impl Command {
    fn from_long(c: &COMMAND_LONG_DATA) -> Command {
        Command {
            command: c.command,
            params: [c.param1, c.param2, c.param3, c.param4],
            lat_deg: f64::from(c.param5),
            lon_deg: f64::from(c.param6),
            z: c.param7,
        }
    }

    fn from_int(c: &COMMAND_INT_DATA) -> Command {
        Command {
            command: c.command,
            params: [c.param1, c.param2, c.param3, c.param4],
            lat_deg: f64::from(c.x) / 1e7,
            lon_deg: f64::from(c.y) / 1e7,
            z: c.z,
        }
    }
}

/// One simulated ArduCopter. See the module docs.
#[derive(Debug, Clone)]
pub struct Vehicle {
    config: VehicleConfig,
    rng: StdRng,
    schedule: Schedule,
    /// Time the physics has been advanced to; `None` before the first call.
    now_s: Option<f64>,
    outbox: Vec<MavMessage>,
    gcs_heard: bool,

    gps_fix_at_s: f64,
    gps_fix: bool,
    satellites: u8,
    next_satellite_change_s: f64,
    hdop: f64,

    armed: bool,
    /// When the vehicle last sat armed on the ground with nothing to do.
    idle_on_ground_since_s: Option<f64>,
    mode: CopterMode,
    on_ground: bool,
    guidance: Guidance,
    autofly: Autofly,

    pos: Ne,
    alt_m: f64,
    vel: Ne,
    climb_mps: f64,
    accel: Ne,
    yaw_rad: f64,
    yaw_rate_rad_s: f64,
    roll_rad: f64,
    pitch_rad: f64,
    roll_rate_rad_s: f64,
    pitch_rate_rad_s: f64,

    battery: Battery,

    params: ParamServer,
    missions: MissionServer,
    auto: Auto,
    ftp: FtpServer,
}

impl Vehicle {
    pub fn new(config: VehicleConfig) -> Vehicle {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let gps_fix_at_s = config.gps_fix_after_s.max(0.0) + rng.random_range(0.0..0.5);
        let yaw_rad = rng.random_range(-PI..PI);
        let autofly = if config.autofly {
            Autofly::WaitingForFix
        } else {
            Autofly::Off
        };
        let params = ParamServer::new(ParamTable::arducopter(config.sysid), config.param_rate_hz);
        let missions = MissionServer::new(config.mission, home_item(&config));
        Vehicle {
            schedule: Schedule::new(!config.wait_for_stream_request),
            params,
            missions,
            auto: Auto::default(),
            ftp: FtpServer::new(),
            config,
            rng,
            now_s: None,
            outbox: Vec::new(),
            gcs_heard: false,
            gps_fix_at_s,
            gps_fix: false,
            satellites: 0,
            next_satellite_change_s: 0.0,
            hdop: 99.99,
            armed: false,
            idle_on_ground_since_s: None,
            mode: CopterMode::Stabilize,
            on_ground: true,
            guidance: Guidance::Ground,
            autofly,
            pos: Ne::ZERO,
            alt_m: 0.0,
            vel: Ne::ZERO,
            climb_mps: 0.0,
            accel: Ne::ZERO,
            yaw_rad,
            yaw_rate_rad_s: 0.0,
            roll_rad: 0.0,
            pitch_rad: 0.0,
            roll_rate_rad_s: 0.0,
            pitch_rate_rad_s: 0.0,
            battery: Battery::full(),
        }
    }

    /// A parameter's current value.
    pub fn param(&self, name: &str) -> Option<f64> {
        self.params.table().value(name)
    }

    pub fn params(&self) -> &ParamTable {
        self.params.table()
    }

    /// The stored plan of one type; the mission's item 0 is home, as on ArduPilot.
    pub fn mission(&self, mission_type: MavMissionType) -> &[MissionItem] {
        self.missions.items(mission_type)
    }

    /// The mission item AUTO flies (or will fly) next: MISSION_CURRENT's `seq`.
    pub fn mission_current(&self) -> u16 {
        self.auto.current
    }

    pub fn sysid(&self) -> u8 {
        self.config.sysid
    }

    pub fn config(&self) -> &VehicleConfig {
        &self.config
    }

    pub fn armed(&self) -> bool {
        self.armed
    }

    pub fn mode(&self) -> CopterMode {
        self.mode
    }

    pub fn on_ground(&self) -> bool {
        self.on_ground
    }

    pub fn has_gps_fix(&self) -> bool {
        self.gps_fix
    }

    /// The true position (GPS_RAW_INT adds noise to it; GLOBAL_POSITION_INT does not).
    pub fn location(&self) -> Location {
        let (lat_deg, lon_deg) = self.lat_lon_of(self.pos);
        Location {
            lat_deg,
            lon_deg,
            alt_msl_m: self.config.home_alt_m + self.alt_m,
            relative_alt_m: self.alt_m,
        }
    }

    pub fn heading_deg(&self) -> f64 {
        self.yaw_rad.to_degrees().rem_euclid(360.0)
    }

    pub fn battery_remaining_pct(&self) -> f64 {
        self.battery.remaining_fraction() * 100.0
    }

    /// Advances the vehicle to `now_s` and returns every message due: telemetry whose
    /// interval has come round and STATUSTEXT for events on the way.
    pub fn tick(&mut self, now_s: f64) -> Vec<MavMessage> {
        self.advance(now_s);
        let missions = self.missions.poll(now_s);
        self.outbox.extend(missions);
        let params = self.params.poll(now_s);
        self.outbox.extend(params);
        for stream in self.schedule.due(now_s) {
            let msg = self.telemetry(stream, now_s);
            self.outbox.push(msg);
        }
        std::mem::take(&mut self.outbox)
    }

    /// Handles one message from component `from_compid` of system `from_sysid` and
    /// returns the replies (after any event text that became due while catching up to
    /// `now_s`). Messages addressed to another system or component are ignored, as
    /// ArduPilot does.
    pub fn handle(
        &mut self,
        now_s: f64,
        from_sysid: u8,
        from_compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        self.advance(now_s);
        if from_sysid != self.config.sysid && self.addressed_to_me(msg) {
            let from = Peer {
                sysid: from_sysid,
                compid: from_compid,
            };
            self.dispatch(now_s, from, msg);
        }
        std::mem::take(&mut self.outbox)
    }

    fn addressed_to_me(&self, msg: &MavMessage) -> bool {
        let system_ok = msg
            .target_system_id()
            .is_none_or(|id| id == 0 || id == self.config.sysid);
        let component_ok = msg
            .target_component_id()
            .is_none_or(|id| id == 0 || id == AUTOPILOT_COMPID);
        system_ok && component_ok
    }

    fn dispatch(&mut self, now_s: f64, from: Peer, msg: &MavMessage) {
        if self.dispatch_transfer(now_s, from, msg) {
            return;
        }
        match msg {
            // A real Copter resends its banner when a GCS asks for parameters; resending
            // it to the first GCS it hears too gives a pilot who connected after boot the
            // same first lines in the message log whatever their GCS does first.
            MavMessage::HEARTBEAT(hb) if hb.mavtype == MavType::MAV_TYPE_GCS && !self.gcs_heard => {
                self.gcs_heard = true;
                self.send_banner();
            }
            MavMessage::COMMAND_LONG(c) => {
                let command = Command::from_long(c);
                self.command(now_s, &command);
            }
            MavMessage::COMMAND_INT(c) => {
                let command = Command::from_int(c);
                self.command(now_s, &command);
            }
            // Superseded in common.xml, but ArduPilot still honours SET_MODE, and MAVProxy
            // and older GCSes still send it.
            #[allow(deprecated)]
            MavMessage::SET_MODE(m) => {
                let result = if m
                    .base_mode
                    .contains(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED)
                {
                    self.set_mode_number(m.custom_mode)
                } else {
                    MavResult::MAV_RESULT_UNSUPPORTED
                };
                self.ack(MavCmd::MAV_CMD_DO_SET_MODE, result);
            }
            // Superseded by MAV_CMD_SET_MESSAGE_INTERVAL, but it is what ArduPilot's SRn_*
            // streams answer to and what most GCSes send first.
            #[allow(deprecated)]
            MavMessage::REQUEST_DATA_STREAM(r) => {
                self.schedule.request_data_stream(
                    r.req_stream_id as u8,
                    r.req_message_rate,
                    r.start_stop != 0,
                    now_s,
                );
            }
            _ => {}
        }
    }

    fn command(&mut self, now_s: f64, c: &Command) {
        let result = match c.command {
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM => {
                let force = c.params[1] == FORCE_ARM_DISARM_MAGIC;
                match c.params[0] {
                    1.0 => self.arm(now_s, force),
                    0.0 => self.disarm(force),
                    _ => MavResult::MAV_RESULT_DENIED,
                }
            }
            MavCmd::MAV_CMD_DO_SET_MODE => {
                let base_mode = c.params[0] as u32;
                if base_mode & u32::from(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED.bits()) == 0
                {
                    MavResult::MAV_RESULT_UNSUPPORTED
                } else {
                    self.set_mode_number(c.params[1] as u32)
                }
            }
            MavCmd::MAV_CMD_NAV_TAKEOFF => self.takeoff(f64::from(c.z)),
            MavCmd::MAV_CMD_DO_SET_MISSION_CURRENT => {
                let seq = c.params[0];
                if seq.is_finite() && (0.0..=f32::from(u16::MAX)).contains(&seq) {
                    self.set_mission_current(seq as u16)
                } else {
                    MavResult::MAV_RESULT_DENIED
                }
            }
            MavCmd::MAV_CMD_NAV_LAND => self.set_mode(CopterMode::Land),
            MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH => self.set_mode(CopterMode::Rtl),
            MavCmd::MAV_CMD_DO_REPOSITION => self.reposition(c),
            MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL => {
                self.set_message_interval(now_s, c.params[0], c.params[1])
            }
            MavCmd::MAV_CMD_REQUEST_MESSAGE => {
                // ArduPilot acknowledges first and queues the message behind the ack.
                match self.requested_message(now_s, c.params[0]) {
                    Some(msg) => {
                        self.ack(c.command, MavResult::MAV_RESULT_ACCEPTED);
                        self.outbox.push(msg);
                        return;
                    }
                    None => MavResult::MAV_RESULT_FAILED,
                }
            }
            // Superseded by MAV_CMD_REQUEST_MESSAGE, but QGroundControl and MAVSDK still
            // send it on connect and ArduPilot answers it.
            #[allow(deprecated)]
            MavCmd::MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES => {
                self.ack(c.command, MavResult::MAV_RESULT_ACCEPTED);
                let version = self.autopilot_version();
                self.outbox.push(version);
                return;
            }
            _ => MavResult::MAV_RESULT_UNSUPPORTED,
        };
        self.ack(c.command, result);
    }

    fn ack(&mut self, command: MavCmd, result: MavResult) {
        self.outbox.push(MavMessage::COMMAND_ACK(COMMAND_ACK_DATA {
            command,
            result,
            ..COMMAND_ACK_DATA::DEFAULT
        }));
    }

    fn text(&mut self, severity: MavSeverity, text: &str) {
        self.outbox.push(MavMessage::STATUSTEXT(STATUSTEXT_DATA {
            severity,
            text: text.into(),
            ..STATUSTEXT_DATA::DEFAULT
        }));
    }

    fn send_banner(&mut self) {
        self.text(MavSeverity::MAV_SEVERITY_INFO, BANNER);
        self.text(MavSeverity::MAV_SEVERITY_INFO, "Frame: QUAD/X");
    }

    fn arm(&mut self, now_s: f64, force: bool) -> MavResult {
        if self.armed {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        if !self.on_ground {
            return MavResult::MAV_RESULT_FAILED;
        }
        if !self.mode.allows_arming() && !self.auto_allows_arming() {
            self.text(MavSeverity::MAV_SEVERITY_CRITICAL, "Arm: Mode not armable");
            return MavResult::MAV_RESULT_FAILED;
        }
        if !self.gps_fix && !force && self.arming_checks_gps() {
            self.text(MavSeverity::MAV_SEVERITY_CRITICAL, "PreArm: Need 3D Fix");
            return MavResult::MAV_RESULT_FAILED;
        }
        self.armed = true;
        self.idle_on_ground_since_s = Some(now_s);
        self.text(MavSeverity::MAV_SEVERITY_INFO, "Arming motors");
        MavResult::MAV_RESULT_ACCEPTED
    }

    fn disarm(&mut self, force: bool) -> MavResult {
        if !self.armed {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        if !self.on_ground && !force {
            self.text(MavSeverity::MAV_SEVERITY_CRITICAL, "Disarm: not landed");
            return MavResult::MAV_RESULT_FAILED;
        }
        self.force_disarm();
        MavResult::MAV_RESULT_ACCEPTED
    }

    fn force_disarm(&mut self) {
        self.armed = false;
        self.idle_on_ground_since_s = None;
        self.guidance = Guidance::Ground;
        self.text(MavSeverity::MAV_SEVERITY_INFO, "Disarming motors");
    }

    fn set_mode_number(&mut self, custom_mode: u32) -> MavResult {
        match CopterMode::from_custom_mode(custom_mode) {
            Some(mode) => self.set_mode(mode),
            None => MavResult::MAV_RESULT_FAILED,
        }
    }

    fn set_mode(&mut self, mode: CopterMode) -> MavResult {
        if mode.requires_position() && !self.gps_fix {
            let text = format!("Mode change to {mode} failed: requires position");
            self.text(MavSeverity::MAV_SEVERITY_WARNING, &text);
            return MavResult::MAV_RESULT_FAILED;
        }
        if mode == self.mode {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        if mode == CopterMode::Auto && !self.auto_can_start() {
            let text = format!("Mode change to {mode} failed: init failed");
            self.text(MavSeverity::MAV_SEVERITY_WARNING, &text);
            return MavResult::MAV_RESULT_FAILED;
        }
        if self.mode == CopterMode::Auto {
            self.auto_leave();
        }
        self.mode = mode;
        if mode == CopterMode::Auto {
            self.auto_enter();
        }
        self.guidance = if self.on_ground {
            Guidance::Ground
        } else {
            self.guidance_on_entering(mode)
        };
        self.text(MavSeverity::MAV_SEVERITY_INFO, &format!("Mode {mode}"));
        MavResult::MAV_RESULT_ACCEPTED
    }

    /// What an airborne vehicle does on entering `mode`.
    fn guidance_on_entering(&self, mode: CopterMode) -> Guidance {
        match mode {
            CopterMode::Rtl | CopterMode::SmartRtl | CopterMode::AutoRtl => Guidance::RtlClimb {
                at: self.pos,
                alt_m: self.alt_m.max(self.rtl_alt_m()),
            },
            CopterMode::Land => Guidance::Land { at: self.pos },
            // Like ArduCopter, put the centre one radius ahead so the vehicle starts on
            // the circle instead of flying out to it.
            CopterMode::Circle => Guidance::Circle {
                center: self
                    .pos
                    .add(Ne::from_bearing(self.yaw_rad, CIRCLE_RADIUS_M)),
                alt_m: self.alt_m,
            },
            _ => Guidance::Hold {
                target: self.stopping_point(),
                alt_m: self.alt_m,
                speed_mps: MAX_HORIZONTAL_MPS,
            },
        }
    }

    /// Where the vehicle would come to rest braking at full deceleration from now.
    fn stopping_point(&self) -> Ne {
        let speed = self.vel.len();
        self.pos
            .add(self.vel.scale(speed / (2.0 * HORIZONTAL_ACCEL_MPS2)))
    }

    fn takeoff(&mut self, alt_m: f64) -> MavResult {
        if self.mode != CopterMode::Guided
            || !self.armed
            || !self.on_ground
            || !alt_m.is_finite()
            || alt_m <= 0.0
        {
            return MavResult::MAV_RESULT_FAILED;
        }
        self.guidance = Guidance::Hold {
            target: self.pos,
            alt_m,
            speed_mps: MAX_HORIZONTAL_MPS,
        };
        MavResult::MAV_RESULT_ACCEPTED
    }

    /// MAV_CMD_DO_REPOSITION: fly to a point in GUIDED (the "goto" of QGC and MAVSDK).
    fn reposition(&mut self, c: &Command) -> MavResult {
        const CHANGE_MODE_FLAG: u32 = 1;
        if !self.armed || self.on_ground {
            return MavResult::MAV_RESULT_FAILED;
        }
        if self.mode != CopterMode::Guided {
            if (c.params[1] as u32) & CHANGE_MODE_FLAG == 0 {
                return MavResult::MAV_RESULT_FAILED;
            }
            let result = self.set_mode(CopterMode::Guided);
            if result != MavResult::MAV_RESULT_ACCEPTED {
                return result;
            }
        }
        let has_position = c.lat_deg.is_finite()
            && c.lon_deg.is_finite()
            && (c.lat_deg != 0.0 || c.lon_deg != 0.0)
            && c.lat_deg.abs() <= 90.0
            && c.lon_deg.abs() <= 180.0;
        let target = if has_position {
            self.local_of(c.lat_deg, c.lon_deg)
        } else {
            self.pos
        };
        let alt_m = if c.z.is_finite() {
            f64::from(c.z)
        } else {
            self.alt_m
        };
        let speed_mps = match f64::from(c.params[0]) {
            s if s.is_finite() && s > 0.0 => s.min(MAX_HORIZONTAL_MPS),
            _ => MAX_HORIZONTAL_MPS,
        };
        self.guidance = Guidance::Hold {
            target,
            alt_m,
            speed_mps,
        };
        MavResult::MAV_RESULT_ACCEPTED
    }

    fn set_message_interval(&mut self, now_s: f64, message_id: f32, interval_us: f32) -> MavResult {
        let Some(stream) = Stream::from_message_id(message_id as u32) else {
            return MavResult::MAV_RESULT_FAILED;
        };
        let interval_s = match interval_us {
            -1.0 => None,
            0.0 => Some(stream.default_interval_s()),
            i if i > 0.0 && i.is_finite() => Some(f64::from(i) / 1e6),
            _ => return MavResult::MAV_RESULT_DENIED,
        };
        self.schedule.set_interval(stream, interval_s, now_s);
        MavResult::MAV_RESULT_ACCEPTED
    }

    fn requested_message(&mut self, now_s: f64, message_id: f32) -> Option<MavMessage> {
        let id = message_id as u32;
        if id == AUTOPILOT_VERSION_DATA::ID {
            return Some(self.autopilot_version());
        }
        if id == HOME_POSITION_DATA::ID {
            return self.gps_fix.then(|| self.home_position());
        }
        Stream::from_message_id(id).map(|stream| self.telemetry(stream, now_s))
    }

    // ---- physics ----

    fn advance(&mut self, now_s: f64) {
        let Some(mut t) = self.now_s else {
            self.now_s = Some(now_s);
            self.send_banner();
            return;
        };
        // A clock that steps back (or a NaN) leaves the model where it is.
        while t < now_s {
            let dt = (now_s - t).min(PHYSICS_STEP_S);
            t += dt;
            self.step(t, dt);
        }
        self.now_s = Some(t);
    }

    fn step(&mut self, t: f64, dt: f64) {
        self.update_gps(t);
        self.run_autofly(t);

        let (vel_target, climb_target) = self.velocity_target();

        let old_vel = self.vel;
        let horizontal_accel = if self.armed {
            HORIZONTAL_ACCEL_MPS2
        } else {
            // Motors off: drag slows what is left of the horizontal speed.
            HORIZONTAL_ACCEL_MPS2 / 4.0
        };
        let dv = vel_target.sub(self.vel).limit(horizontal_accel * dt);
        self.vel = self.vel.add(dv);
        self.accel = self.vel.sub(old_vel).scale(1.0 / dt);
        self.pos = self.pos.add(self.vel.scale(dt));

        let vertical_accel = if self.armed {
            VERTICAL_ACCEL_MPS2
        } else {
            GRAVITY_MPS2
        };
        let dclimb =
            (climb_target - self.climb_mps).clamp(-vertical_accel * dt, vertical_accel * dt);
        self.climb_mps += dclimb;
        self.alt_m += self.climb_mps * dt;

        if self.alt_m <= 0.0 {
            self.alt_m = 0.0;
            self.climb_mps = self.climb_mps.max(0.0);
            if !self.on_ground {
                self.touch_down(t);
            }
        } else if self.on_ground && self.armed {
            self.on_ground = false;
            self.idle_on_ground_since_s = None;
        }

        self.update_attitude(dt);
        self.update_battery(dt);
        self.check_auto_disarm(t);
        // After the physics, so an item that finished in this step (a touchdown) is
        // reported in it.
        self.run_auto(t);
    }

    fn touch_down(&mut self, t: f64) {
        self.on_ground = true;
        self.vel = Ne::ZERO;
        self.climb_mps = 0.0;
        let landing = matches!(self.guidance, Guidance::Land { .. });
        self.guidance = Guidance::Ground;
        if !self.armed {
            return;
        }
        if landing {
            // LAND and the end of RTL disarm as soon as the land detector triggers.
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Land complete");
            self.force_disarm();
        } else {
            self.idle_on_ground_since_s = Some(t);
        }
    }

    /// The horizontal velocity and climb rate the controller wants now; moves RTL
    /// through its phases on the way.
    fn velocity_target(&mut self) -> (Ne, f64) {
        if !self.armed {
            let climb = if self.on_ground { 0.0 } else { -FALL_SPEED_MPS };
            return (Ne::ZERO, climb);
        }
        match self.guidance {
            Guidance::Ground => (Ne::ZERO, 0.0),
            Guidance::Hold {
                target,
                alt_m,
                speed_mps,
            } => (self.approach(target, speed_mps), self.climb_towards(alt_m)),
            Guidance::Circle { center, alt_m } => {
                let offset = self.pos.sub(center);
                let radius = offset.len();
                let radial_bearing = if radius > 0.1 {
                    offset.bearing_rad()
                } else {
                    self.yaw_rad + PI
                };
                // Clockwise seen from above, as ArduCopter's default CIRCLE_RATE.
                let tangent = Ne::from_bearing(radial_bearing + PI / 2.0, CIRCLE_SPEED_MPS);
                let correction = Ne::from_bearing(radial_bearing, (CIRCLE_RADIUS_M - radius) * 0.5);
                let vel = tangent.add(correction).limit(MAX_HORIZONTAL_MPS);
                (vel, self.climb_towards(alt_m))
            }
            Guidance::Land { at } => {
                let descent = if self.alt_m > LAND_FINAL_BELOW_M {
                    MAX_DESCENT_MPS
                } else {
                    self.land_speed_mps()
                };
                (self.approach(at, MAX_HORIZONTAL_MPS), -descent)
            }
            Guidance::RtlClimb { at, alt_m } => {
                if self.alt_m >= alt_m - 0.2 {
                    self.guidance = Guidance::RtlReturn { alt_m };
                }
                (
                    self.approach(at, MAX_HORIZONTAL_MPS),
                    self.climb_towards(alt_m),
                )
            }
            Guidance::RtlReturn { alt_m } => {
                if self.pos.len() < 1.0 && self.vel.len() < 0.5 {
                    self.guidance = Guidance::Land { at: Ne::ZERO };
                }
                (
                    self.approach(Ne::ZERO, MAX_HORIZONTAL_MPS),
                    self.climb_towards(alt_m),
                )
            }
        }
    }

    /// A velocity towards `target` that brakes in time to stop there (a square-root
    /// controller, like ArduPilot's position controller).
    fn approach(&self, target: Ne, max_speed_mps: f64) -> Ne {
        let to_target = target.sub(self.pos);
        let distance = to_target.len();
        if distance < 1e-3 {
            return Ne::ZERO;
        }
        let speed = max_speed_mps
            .min((HORIZONTAL_ACCEL_MPS2 * distance).sqrt())
            .min(distance);
        to_target.scale(speed / distance)
    }

    fn climb_towards(&self, alt_m: f64) -> f64 {
        let error = alt_m - self.alt_m;
        let speed = (VERTICAL_ACCEL_MPS2 * error.abs()).sqrt().min(error.abs());
        (speed * error.signum()).clamp(-MAX_DESCENT_MPS, MAX_CLIMB_MPS)
    }

    fn update_attitude(&mut self, dt: f64) {
        if self.vel.len() > 1.0 {
            let error = wrap_pi(self.vel.bearing_rad() - self.yaw_rad);
            self.yaw_rate_rad_s = (error * 2.0).clamp(-MAX_YAW_RATE_RAD_S, MAX_YAW_RATE_RAD_S);
        } else {
            self.yaw_rate_rad_s = 0.0;
        }
        self.yaw_rad = wrap_pi(self.yaw_rad + self.yaw_rate_rad_s * dt);

        // Tilt the thrust vector to produce the horizontal acceleration: nose down to
        // speed up, right side down to turn right.
        let (target_roll, target_pitch) = if self.on_ground {
            (0.0, 0.0)
        } else {
            let (sin, cos) = self.yaw_rad.sin_cos();
            let forward = self.accel.n * cos + self.accel.e * sin;
            let right = -self.accel.n * sin + self.accel.e * cos;
            (
                (right / GRAVITY_MPS2).atan(),
                -(forward / GRAVITY_MPS2).atan(),
            )
        };
        let k = (dt / ATTITUDE_TIME_CONSTANT_S).min(1.0);
        let new_roll = self.roll_rad + (target_roll - self.roll_rad) * k;
        let new_pitch = self.pitch_rad + (target_pitch - self.pitch_rad) * k;
        self.roll_rate_rad_s = (new_roll - self.roll_rad) / dt;
        self.pitch_rate_rad_s = (new_pitch - self.pitch_rad) / dt;
        self.roll_rad = new_roll;
        self.pitch_rad = new_pitch;
    }

    fn update_battery(&mut self, dt: f64) {
        let current_a = if !self.armed {
            AVIONICS_CURRENT_A
        } else if self.on_ground {
            ARMED_IDLE_CURRENT_A
        } else {
            HOVER_CURRENT_A + 3.0 * self.climb_mps.max(0.0) + 0.3 * self.vel.len()
        };
        self.battery.drain(current_a, dt);
    }

    fn check_auto_disarm(&mut self, t: f64) {
        let idle = self.armed && self.on_ground && self.guidance == Guidance::Ground;
        if !idle {
            if self.armed && self.on_ground {
                // About to take off: the timer restarts if it lands again.
                self.idle_on_ground_since_s = None;
            }
            return;
        }
        let since = *self.idle_on_ground_since_s.get_or_insert(t);
        if t - since >= AUTO_DISARM_AFTER_S {
            self.force_disarm();
        }
    }

    fn update_gps(&mut self, t: f64) {
        if !self.gps_fix {
            if t < self.gps_fix_at_s {
                return;
            }
            self.gps_fix = true;
            self.satellites = self.rng.random_range(10..=14);
            self.next_satellite_change_s = t + self.rng.random_range(10.0..30.0);
            self.hdop = 0.8;
            self.text(MavSeverity::MAV_SEVERITY_INFO, "EKF3 IMU0 origin set");
            self.text(MavSeverity::MAV_SEVERITY_INFO, "EKF3 IMU0 is using GPS");
            let home = self.home_position();
            self.outbox.push(home);
            return;
        }
        if t >= self.next_satellite_change_s {
            let step: i8 = if self.rng.random_bool(0.5) { 1 } else { -1 };
            self.satellites = self.satellites.saturating_add_signed(step).clamp(10, 14);
            self.next_satellite_change_s = t + self.rng.random_range(10.0..30.0);
        }
    }

    fn run_autofly(&mut self, t: f64) {
        match self.autofly {
            Autofly::Off => {}
            Autofly::WaitingForFix => {
                if self.gps_fix {
                    self.autofly = Autofly::ArmAt {
                        at_s: t + AUTOFLY_ARM_AFTER_FIX_S,
                    };
                }
            }
            Autofly::ArmAt { at_s } => {
                if t < at_s {
                    return;
                }
                // The pilot took over before the script started: leave them to it.
                if self.armed || !self.on_ground {
                    self.autofly = Autofly::Off;
                    return;
                }
                let started = self.set_mode(CopterMode::Guided) == MavResult::MAV_RESULT_ACCEPTED
                    && self.arm(t, false) == MavResult::MAV_RESULT_ACCEPTED
                    && self.takeoff(AUTOFLY_TAKEOFF_ALT_M) == MavResult::MAV_RESULT_ACCEPTED;
                self.autofly = if started {
                    Autofly::Climbing
                } else {
                    Autofly::Off
                };
            }
            Autofly::Climbing => {
                if self.mode != CopterMode::Guided || !self.armed {
                    self.autofly = Autofly::Off;
                } else if self.alt_m >= AUTOFLY_TAKEOFF_ALT_M - 0.5 {
                    self.set_mode(CopterMode::Circle);
                    self.autofly = Autofly::Off;
                }
            }
        }
    }

    // ---- geography ----

    fn lat_lon_of(&self, p: Ne) -> (f64, f64) {
        let lat_deg = self.config.home_lat_deg + (p.n / EARTH_RADIUS_M).to_degrees();
        let lon_deg = self.config.home_lon_deg
            + (p.e / (EARTH_RADIUS_M * self.config.home_lat_deg.to_radians().cos())).to_degrees();
        (lat_deg, lon_deg)
    }

    fn local_of(&self, lat_deg: f64, lon_deg: f64) -> Ne {
        let n = (lat_deg - self.config.home_lat_deg).to_radians() * EARTH_RADIUS_M;
        let e = (lon_deg - self.config.home_lon_deg).to_radians()
            * EARTH_RADIUS_M
            * self.config.home_lat_deg.to_radians().cos();
        Ne::new(n, e)
    }

    // ---- messages ----

    fn telemetry(&mut self, stream: Stream, now_s: f64) -> MavMessage {
        match stream {
            Stream::Heartbeat => self.heartbeat(),
            Stream::Attitude => self.attitude(now_s),
            Stream::GlobalPositionInt => self.global_position_int(now_s),
            Stream::VfrHud => self.vfr_hud(),
            Stream::SysStatus => self.sys_status(),
            Stream::GpsRawInt => self.gps_raw_int(now_s),
            Stream::BatteryStatus => self.battery_status(),
            Stream::MissionCurrent => self.mission_current_msg(),
        }
    }

    fn heartbeat(&self) -> MavMessage {
        // ArduCopter's GCS_MAVLINK_Copter::base_mode().
        let mut base_mode = MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
            | MavModeFlag::MAV_MODE_FLAG_STABILIZE_ENABLED
            | MavModeFlag::MAV_MODE_FLAG_MANUAL_INPUT_ENABLED;
        if self.mode.requires_position() && self.mode != CopterMode::Drift {
            base_mode |= MavModeFlag::MAV_MODE_FLAG_GUIDED_ENABLED;
        }
        if self.armed {
            base_mode |= MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
        }
        MavMessage::HEARTBEAT(HEARTBEAT_DATA {
            custom_mode: self.mode.custom_mode(),
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            base_mode,
            system_status: if self.armed {
                MavState::MAV_STATE_ACTIVE
            } else {
                MavState::MAV_STATE_STANDBY
            },
            mavlink_version: 3,
        })
    }

    fn attitude(&mut self, now_s: f64) -> MavMessage {
        // Sensor noise: a parked copter's EKF still wobbles a little; spinning props more.
        let noise_rad = if !self.armed {
            0.002
        } else if self.on_ground {
            0.006
        } else {
            0.004
        };
        let mut noise = || self.rng.random_range(-noise_rad..noise_rad);
        let roll = self.roll_rad + noise();
        let pitch = self.pitch_rad + noise();
        let yaw = wrap_pi(self.yaw_rad + noise() / 2.0);
        let rollspeed = self.roll_rate_rad_s + noise();
        let pitchspeed = self.pitch_rate_rad_s + noise();
        let yawspeed = self.yaw_rate_rad_s + noise();
        MavMessage::ATTITUDE(ATTITUDE_DATA {
            time_boot_ms: time_boot_ms(now_s),
            roll: roll as f32,
            pitch: pitch as f32,
            yaw: yaw as f32,
            rollspeed: rollspeed as f32,
            pitchspeed: pitchspeed as f32,
            yawspeed: yawspeed as f32,
        })
    }

    fn global_position_int(&self, now_s: f64) -> MavMessage {
        let location = self.location();
        // Until the EKF has an origin ArduPilot has no position and reports 0,0.
        let (lat, lon) = if self.gps_fix {
            (deg_e7(location.lat_deg), deg_e7(location.lon_deg))
        } else {
            (0, 0)
        };
        MavMessage::GLOBAL_POSITION_INT(GLOBAL_POSITION_INT_DATA {
            time_boot_ms: time_boot_ms(now_s),
            lat,
            lon,
            alt: (location.alt_msl_m * 1000.0).round() as i32,
            relative_alt: (location.relative_alt_m * 1000.0).round() as i32,
            vx: (self.vel.n * 100.0).round() as i16,
            vy: (self.vel.e * 100.0).round() as i16,
            vz: (-self.climb_mps * 100.0).round() as i16,
            hdg: (self.heading_deg() * 100.0).round() as u16 % 36000,
        })
    }

    fn throttle_pct(&self) -> f64 {
        if !self.armed || self.on_ground {
            return 0.0;
        }
        (HOVER_THROTTLE_PCT + 8.0 * self.climb_mps + 0.5 * self.vel.len()).clamp(0.0, 100.0)
    }

    fn vfr_hud(&self) -> MavMessage {
        let speed = self.vel.len() as f32;
        MavMessage::VFR_HUD(VFR_HUD_DATA {
            airspeed: speed,
            groundspeed: speed,
            alt: (self.config.home_alt_m + self.alt_m) as f32,
            climb: self.climb_mps as f32,
            heading: (self.heading_deg().round() as i16) % 360,
            throttle: self.throttle_pct().round() as u16,
        })
    }

    fn sys_status(&mut self) -> MavMessage {
        let present = MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_3D_GYRO
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_3D_ACCEL
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_3D_MAG
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_GPS
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_YAW_POSITION
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
            | MavSysStatusSensor::MAV_SYS_STATUS_AHRS
            | MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_BATTERY
            | MavSysStatusSensor::MAV_SYS_STATUS_PREARM_CHECK;
        let mut enabled = present;
        if !self.armed {
            enabled.remove(MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS);
        }
        let mut health = present;
        if !self.gps_fix {
            health.remove(
                MavSysStatusSensor::MAV_SYS_STATUS_SENSOR_GPS
                    | MavSysStatusSensor::MAV_SYS_STATUS_PREARM_CHECK,
            );
        }
        let load_permille = self.rng.random_range(150..250);
        MavMessage::SYS_STATUS(SYS_STATUS_DATA {
            onboard_control_sensors_present: present,
            onboard_control_sensors_enabled: enabled,
            onboard_control_sensors_health: health,
            load: load_permille,
            voltage_battery: (self.battery.voltage_v * 1000.0).round() as u16,
            current_battery: (self.battery.current_a * 100.0).round() as i16,
            battery_remaining: self.battery_remaining_pct().round() as i8,
            ..SYS_STATUS_DATA::default()
        })
    }

    fn gps_raw_int(&mut self, now_s: f64) -> MavMessage {
        let time_usec = (now_s.max(0.0) * 1e6) as u64;
        if !self.gps_fix {
            return MavMessage::GPS_RAW_INT(GPS_RAW_INT_DATA {
                time_usec,
                eph: u16::MAX,
                epv: u16::MAX,
                vel: 0,
                cog: u16::MAX,
                fix_type: GpsFixType::GPS_FIX_TYPE_NO_FIX,
                satellites_visible: self.rng.random_range(0..=4),
                ..GPS_RAW_INT_DATA::default()
            });
        }
        self.hdop = (self.hdop + self.rng.random_range(-0.02..0.02)).clamp(0.7, 0.9);
        // A receiver's fix wanders by tens of centimetres around the truth.
        let noisy = self.pos.add(Ne::new(
            self.rng.random_range(-0.3..0.3),
            self.rng.random_range(-0.3..0.3),
        ));
        let (lat_deg, lon_deg) = self.lat_lon_of(noisy);
        let alt_msl_m = self.config.home_alt_m + self.alt_m + self.rng.random_range(-0.5..0.5);
        MavMessage::GPS_RAW_INT(GPS_RAW_INT_DATA {
            time_usec,
            lat: deg_e7(lat_deg),
            lon: deg_e7(lon_deg),
            alt: (alt_msl_m * 1000.0).round() as i32,
            eph: (self.hdop * 100.0).round() as u16,
            epv: (self.hdop * 150.0).round() as u16,
            vel: (self.vel.len() * 100.0).round() as u16,
            cog: (self.vel.bearing_rad().to_degrees().rem_euclid(360.0) * 100.0).round() as u16
                % 36000,
            fix_type: GpsFixType::GPS_FIX_TYPE_3D_FIX,
            satellites_visible: self.satellites,
            ..GPS_RAW_INT_DATA::DEFAULT
        })
    }

    fn battery_status(&self) -> MavMessage {
        let mut voltages = [u16::MAX; 10];
        let cell_mv = (self.battery.voltage_v / BATTERY_CELLS as f64 * 1000.0).round() as u16;
        voltages[..BATTERY_CELLS].fill(cell_mv);
        MavMessage::BATTERY_STATUS(BATTERY_STATUS_DATA {
            current_consumed: self.battery.consumed_mah.round() as i32,
            // In hectojoules, MAVLink's unit for this field.
            energy_consumed: (self.battery.consumed_j / 100.0).round() as i32,
            temperature: i16::MAX,
            voltages,
            current_battery: (self.battery.current_a * 100.0).round() as i16,
            id: 0,
            battery_function: MavBatteryFunction::MAV_BATTERY_FUNCTION_ALL,
            mavtype: MavBatteryType::MAV_BATTERY_TYPE_LIPO,
            battery_remaining: self.battery_remaining_pct().round() as i8,
            ..BATTERY_STATUS_DATA::DEFAULT
        })
    }

    fn home_position(&self) -> MavMessage {
        MavMessage::HOME_POSITION(HOME_POSITION_DATA {
            latitude: deg_e7(self.config.home_lat_deg),
            longitude: deg_e7(self.config.home_lon_deg),
            altitude: (self.config.home_alt_m * 1000.0).round() as i32,
            q: [1.0, 0.0, 0.0, 0.0],
            ..HOME_POSITION_DATA::default()
        })
    }

    fn autopilot_version(&self) -> MavMessage {
        // PARAM_FLOAT is deprecated upstream, but ArduPilot still sets it and older
        // GCSes look for it before they read parameters.
        #[allow(deprecated)]
        let param_float = MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT;
        let capabilities = MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MAVLINK2
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_INT
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
            | param_float
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_COMMAND_INT
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_SET_ATTITUDE_TARGET
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_FLIGHT_TERMINATION
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_COMPASS_CALIBRATION;
        let capabilities = if self.config.ftp {
            capabilities | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_FTP
        } else {
            capabilities
        };
        // 4.6.0, FIRMWARE_VERSION_TYPE_OFFICIAL, packed as major, minor, patch, type bytes.
        const FLIGHT_SW_VERSION: u32 = u32::from_be_bytes([4, 6, 0, 255]);
        MavMessage::AUTOPILOT_VERSION(AUTOPILOT_VERSION_DATA {
            capabilities,
            uid: 0x4149_5247_4150_0000 | u64::from(self.config.sysid),
            flight_sw_version: FLIGHT_SW_VERSION,
            flight_custom_version: *b"a1rgap00",
            ..AUTOPILOT_VERSION_DATA::default()
        })
    }
}

/// Home as the mission's item 0, the way ArduPilot reports it: a waypoint at home in the
/// absolute (MSL) frame.
fn home_item(config: &VehicleConfig) -> MissionItem {
    MissionItem {
        seq: 0,
        frame: MavFrame::MAV_FRAME_GLOBAL,
        command: MavCmd::MAV_CMD_NAV_WAYPOINT,
        current: false,
        autocontinue: true,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: deg_e7(config.home_lat_deg),
        y: deg_e7(config.home_lon_deg),
        z: config.home_alt_m as f32,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    }
}

fn wrap_pi(angle_rad: f64) -> f64 {
    let wrapped = (angle_rad + PI).rem_euclid(TAU) - PI;
    if wrapped <= -PI {
        wrapped + TAU
    } else {
        wrapped
    }
}

fn time_boot_ms(now_s: f64) -> u32 {
    (now_s.max(0.0) * 1000.0) as u32
}

fn deg_e7(deg: f64) -> i32 {
    (deg * 1e7).round() as i32
}

#[cfg(test)]
mod tests;
