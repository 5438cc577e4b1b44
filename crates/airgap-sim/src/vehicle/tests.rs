//! The vehicle model driven by messages and a fake clock: no sockets, no sleeps.

use airgap_core::dialect::{
    MavCmd, MavModeFlag, MavProtocolCapability, MavResult, MavState, COMMAND_INT_DATA,
    COMMAND_LONG_DATA, HEARTBEAT_DATA,
};
use airgap_core::mavlink::{Message, MessageData};
use airgap_core::MavMessage;

use super::*;

const GCS_SYSID: u8 = 255;
const GCS_COMPID: u8 = 190;
const TICK_S: f64 = 0.01;

/// A vehicle and a fake clock that ticks it every 10 ms, as the serving task does.
struct Bench {
    vehicle: Vehicle,
    ticks: u64,
    log: Vec<(f64, MavMessage)>,
}

impl Bench {
    fn new(config: VehicleConfig) -> Bench {
        Bench {
            vehicle: Vehicle::new(config),
            ticks: 0,
            log: Vec::new(),
        }
    }

    fn default() -> Bench {
        Bench::new(VehicleConfig::new(1))
    }

    fn now_s(&self) -> f64 {
        self.ticks as f64 * TICK_S
    }

    /// Ticks for `duration_s` and returns what was sent in that time.
    fn run_for(&mut self, duration_s: f64) -> Vec<(f64, MavMessage)> {
        let end = self.ticks + (duration_s / TICK_S).round() as u64;
        let start = self.log.len();
        while self.ticks < end {
            self.tick();
        }
        self.log[start..].to_vec()
    }

    fn tick(&mut self) {
        let now_s = self.now_s();
        for msg in self.vehicle.tick(now_s) {
            self.log.push((now_s, msg));
        }
        self.ticks += 1;
    }

    /// Ticks until `done` holds, failing the test after `limit_s` of sim time.
    fn run_until(&mut self, limit_s: f64, what: &str, done: impl Fn(&Vehicle) -> bool) {
        let end = self.ticks + (limit_s / TICK_S).round() as u64;
        while !done(&self.vehicle) {
            assert!(
                self.ticks < end,
                "{what}: not after {limit_s} s of sim time"
            );
            self.tick();
        }
    }

    fn send(&mut self, msg: &MavMessage) -> Vec<MavMessage> {
        let now_s = self.now_s();
        let replies = self.vehicle.handle(now_s, GCS_SYSID, GCS_COMPID, msg);
        self.log
            .extend(replies.iter().cloned().map(|reply| (now_s, reply)));
        replies
    }

    /// Sends a COMMAND_LONG and returns its ack's result and everything sent with it.
    fn command(&mut self, command: MavCmd, params: [f32; 7]) -> (MavResult, Vec<MavMessage>) {
        let replies = self.send(&command_long(1, command, params));
        (ack_for(&replies, command), replies)
    }

    fn arm(&mut self) -> MavResult {
        self.command(
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0., 0., 0., 0., 0., 0.],
        )
        .0
    }

    fn set_mode(&mut self, mode: CopterMode) -> MavResult {
        let params = [1.0, mode.custom_mode() as f32, 0., 0., 0., 0., 0.];
        self.command(MavCmd::MAV_CMD_DO_SET_MODE, params).0
    }

    /// Boot, wait for the fix, and take off in GUIDED to `alt_m`.
    fn airborne(alt_m: f32) -> Bench {
        let mut bench = Bench::default();
        bench.run_until(10.0, "GPS fix", Vehicle::has_gps_fix);
        assert_eq!(
            bench.set_mode(CopterMode::Guided),
            MavResult::MAV_RESULT_ACCEPTED
        );
        assert_eq!(bench.arm(), MavResult::MAV_RESULT_ACCEPTED);
        let (result, _) =
            bench.command(MavCmd::MAV_CMD_NAV_TAKEOFF, [0., 0., 0., 0., 0., 0., alt_m]);
        assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
        let target = f64::from(alt_m);
        bench.run_until(60.0, "takeoff", |v| {
            (v.location().relative_alt_m - target).abs() < 0.1
        });
        bench
    }
}

fn command_long(target_system: u8, command: MavCmd, p: [f32; 7]) -> MavMessage {
    MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
        param1: p[0],
        param2: p[1],
        param3: p[2],
        param4: p[3],
        param5: p[4],
        param6: p[5],
        param7: p[6],
        command,
        target_system,
        target_component: 1,
        confirmation: 0,
    })
}

fn gcs_heartbeat() -> MavMessage {
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        mavtype: MavType::MAV_TYPE_GCS,
        autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
        mavlink_version: 3,
        ..HEARTBEAT_DATA::default()
    })
}

#[allow(deprecated)] // REQUEST_DATA_STREAM is what GCSes still send first; see vehicle.rs.
fn request_data_stream(stream_id: u8, rate_hz: u16, start: bool) -> MavMessage {
    use airgap_core::dialect::{MavDataStream, REQUEST_DATA_STREAM_DATA};
    let req_stream_id = match stream_id {
        0 => MavDataStream::MAV_DATA_STREAM_ALL,
        2 => MavDataStream::MAV_DATA_STREAM_EXTENDED_STATUS,
        6 => MavDataStream::MAV_DATA_STREAM_POSITION,
        10 => MavDataStream::MAV_DATA_STREAM_EXTRA1,
        11 => MavDataStream::MAV_DATA_STREAM_EXTRA2,
        12 => MavDataStream::MAV_DATA_STREAM_EXTRA3,
        other => panic!("test uses an unlisted stream id {other}"),
    };
    MavMessage::REQUEST_DATA_STREAM(REQUEST_DATA_STREAM_DATA {
        req_message_rate: rate_hz,
        target_system: 1,
        target_component: 1,
        req_stream_id,
        start_stop: u8::from(start),
    })
}

fn ack_for(replies: &[MavMessage], command: MavCmd) -> MavResult {
    let acks: Vec<_> = replies
        .iter()
        .filter_map(|m| match m {
            MavMessage::COMMAND_ACK(ack) if ack.command == command => Some(ack.result),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1, "one ack for {command:?} in {replies:?}");
    acks[0]
}

fn texts(msgs: &[MavMessage]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match m {
            MavMessage::STATUSTEXT(t) => Some(t.text.to_str().unwrap_or("<bad utf8>").to_owned()),
            _ => None,
        })
        .collect()
}

fn logged(log: &[(f64, MavMessage)]) -> Vec<MavMessage> {
    log.iter().map(|(_, m)| m.clone()).collect()
}

fn count(log: &[(f64, MavMessage)], message_id: u32) -> usize {
    log.iter()
        .filter(|(_, m)| m.message_id() == message_id)
        .count()
}

fn last_heartbeat(log: &[(f64, MavMessage)]) -> HEARTBEAT_DATA {
    log.iter()
        .rev()
        .find_map(|(_, m)| match m {
            MavMessage::HEARTBEAT(hb) => Some(hb.clone()),
            _ => None,
        })
        .expect("a heartbeat in the log")
}

fn positions(log: &[(f64, MavMessage)]) -> Vec<GLOBAL_POSITION_INT_DATA> {
    log.iter()
        .filter_map(|(_, m)| match m {
            MavMessage::GLOBAL_POSITION_INT(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// Metres north and east of the default home.
fn local_m(p: &GLOBAL_POSITION_INT_DATA) -> (f64, f64) {
    let lat = f64::from(p.lat) / 1e7;
    let lon = f64::from(p.lon) / 1e7;
    let n = (lat - DEFAULT_HOME_LAT_DEG).to_radians() * EARTH_RADIUS_M;
    let e = (lon - DEFAULT_HOME_LON_DEG).to_radians()
        * EARTH_RADIUS_M
        * DEFAULT_HOME_LAT_DEG.to_radians().cos();
    (n, e)
}

#[test]
fn streams_run_at_sitl_rates() {
    let mut bench = Bench::default();
    let log = bench.run_for(10.0);
    let expected = [
        (HEARTBEAT_DATA::ID, 10),
        (ATTITUDE_DATA::ID, 100),
        (GLOBAL_POSITION_INT_DATA::ID, 50),
        (VFR_HUD_DATA::ID, 50),
        (SYS_STATUS_DATA::ID, 20),
        (GPS_RAW_INT_DATA::ID, 20),
        (BATTERY_STATUS_DATA::ID, 10),
    ];
    for (id, n) in expected {
        let got = count(&log, id);
        assert!(
            got.abs_diff(n) <= 1,
            "message {id}: {got} in 10 s, want ~{n}"
        );
    }
}

#[test]
fn boot_sends_banner_then_ekf_text_at_fix() {
    let mut bench = Bench::default();
    let log = logged(&bench.run_for(10.0));
    let texts = texts(&log);
    assert_eq!(texts[0], BANNER);
    assert!(
        texts.iter().any(|t| t == "EKF3 IMU0 is using GPS"),
        "{texts:?}"
    );
    assert!(log
        .iter()
        .any(|m| matches!(m, MavMessage::HOME_POSITION(_))));
}

#[test]
fn first_gcs_heartbeat_gets_the_banner_again() {
    let mut bench = Bench::default();
    bench.run_for(1.0);
    assert_eq!(texts(&bench.send(&gcs_heartbeat()))[0], BANNER);
    assert!(texts(&bench.send(&gcs_heartbeat())).is_empty());
}

#[test]
fn heartbeat_says_quadrotor_ardupilot_stabilize_disarmed() {
    let mut bench = Bench::default();
    let hb = last_heartbeat(&bench.run_for(1.0));
    assert_eq!(hb.mavtype, MavType::MAV_TYPE_QUADROTOR);
    assert_eq!(hb.autopilot, MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA);
    assert_eq!(hb.custom_mode, 0);
    assert!(hb
        .base_mode
        .contains(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED));
    assert!(!hb
        .base_mode
        .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED));
    assert_eq!(hb.system_status, MavState::MAV_STATE_STANDBY);
}

#[test]
fn gps_has_no_fix_for_three_seconds_then_a_3d_fix() {
    let mut bench = Bench::default();
    let log = bench.run_for(20.0);
    for (t, msg) in &log {
        let MavMessage::GPS_RAW_INT(gps) = msg else {
            continue;
        };
        if *t < 3.0 {
            assert_eq!(gps.fix_type, GpsFixType::GPS_FIX_TYPE_NO_FIX, "at {t}");
        } else if *t > 4.0 {
            assert_eq!(gps.fix_type, GpsFixType::GPS_FIX_TYPE_3D_FIX, "at {t}");
            assert!((10..=14).contains(&gps.satellites_visible), "{gps:?}");
            assert!((70..=90).contains(&gps.eph), "hdop ~0.8: {gps:?}");
            let lat = f64::from(gps.lat) / 1e7;
            assert!((lat - DEFAULT_HOME_LAT_DEG).abs() < 1e-5, "{gps:?}");
        }
    }
}

#[test]
fn arming_is_refused_before_the_fix_and_accepted_after() {
    let mut bench = Bench::default();
    bench.run_for(1.0);
    let (result, replies) = bench.command(
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        [1.0, 0., 0., 0., 0., 0., 0.],
    );
    assert_eq!(result, MavResult::MAV_RESULT_FAILED);
    assert_eq!(texts(&replies), ["PreArm: Need 3D Fix"]);
    assert!(!bench.vehicle.armed());

    bench.run_for(4.0);
    let (result, replies) = bench.command(
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        [1.0, 0., 0., 0., 0., 0., 0.],
    );
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    assert_eq!(texts(&replies), ["Arming motors"]);
    let hb = last_heartbeat(&bench.run_for(1.1));
    assert!(hb
        .base_mode
        .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED));
    assert_eq!(hb.system_status, MavState::MAV_STATE_ACTIVE);
}

#[test]
fn force_arming_skips_the_gps_check() {
    let mut bench = Bench::default();
    bench.run_for(1.0);
    let params = [1.0, FORCE_ARM_DISARM_MAGIC, 0., 0., 0., 0., 0.];
    let (result, _) = bench.command(MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, params);
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    assert!(bench.vehicle.armed());
}

#[test]
fn arming_is_refused_in_a_mode_that_would_fly_away() {
    let mut bench = Bench::default();
    bench.run_for(5.0);
    assert_eq!(
        bench.set_mode(CopterMode::Rtl),
        MavResult::MAV_RESULT_ACCEPTED
    );
    let (result, replies) = bench.command(
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        [1.0, 0., 0., 0., 0., 0., 0.],
    );
    assert_eq!(result, MavResult::MAV_RESULT_FAILED);
    assert_eq!(texts(&replies), ["Arm: Mode not armable"]);
}

#[test]
fn armed_on_the_ground_disarms_itself_after_ten_seconds() {
    let mut bench = Bench::default();
    bench.run_for(5.0);
    assert_eq!(bench.arm(), MavResult::MAV_RESULT_ACCEPTED);
    bench.run_for(9.5);
    assert!(bench.vehicle.armed());
    let log = logged(&bench.run_for(1.0));
    assert!(!bench.vehicle.armed());
    assert!(texts(&log).contains(&"Disarming motors".to_owned()));
}

#[test]
fn mode_changes_by_command_and_by_set_mode() {
    let mut bench = Bench::default();
    bench.run_for(1.0);
    // Needs a position, which it does not have yet.
    let (result, replies) = bench.command(
        MavCmd::MAV_CMD_DO_SET_MODE,
        [
            1.0,
            CopterMode::Guided.custom_mode() as f32,
            0.,
            0.,
            0.,
            0.,
            0.,
        ],
    );
    assert_eq!(result, MavResult::MAV_RESULT_FAILED);
    assert_eq!(
        texts(&replies),
        ["Mode change to GUIDED failed: requires position"]
    );

    assert_eq!(
        bench.set_mode(CopterMode::AltHold),
        MavResult::MAV_RESULT_ACCEPTED
    );
    assert_eq!(last_heartbeat(&bench.run_for(1.1)).custom_mode, 2);

    #[allow(deprecated)]
    let set_mode = MavMessage::SET_MODE(airgap_core::dialect::SET_MODE_DATA {
        custom_mode: CopterMode::Land.custom_mode(),
        target_system: 1,
        base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
    });
    let replies = bench.send(&set_mode);
    assert_eq!(
        ack_for(&replies, MavCmd::MAV_CMD_DO_SET_MODE),
        MavResult::MAV_RESULT_ACCEPTED
    );
    assert_eq!(last_heartbeat(&bench.run_for(1.1)).custom_mode, 9);

    assert_eq!(
        bench
            .command(MavCmd::MAV_CMD_DO_SET_MODE, [1.0, 8.0, 0., 0., 0., 0., 0.])
            .0,
        MavResult::MAV_RESULT_FAILED,
        "8 is not an ArduCopter mode"
    );
}

#[test]
fn takeoff_needs_guided_and_armed() {
    let mut bench = Bench::default();
    bench.run_for(5.0);
    let takeoff = [0., 0., 0., 0., 0., 0., 10.0];
    assert_eq!(
        bench.command(MavCmd::MAV_CMD_NAV_TAKEOFF, takeoff).0,
        MavResult::MAV_RESULT_FAILED,
        "disarmed"
    );
    assert_eq!(bench.arm(), MavResult::MAV_RESULT_ACCEPTED);
    assert_eq!(
        bench.command(MavCmd::MAV_CMD_NAV_TAKEOFF, takeoff).0,
        MavResult::MAV_RESULT_FAILED,
        "STABILIZE"
    );
}

#[test]
fn takeoff_climbs_to_the_target_at_most_2_5_m_per_s() {
    let mut bench = Bench::airborne(10.0);
    let log = bench.run_for(5.0);
    let last = positions(&log).pop().expect("positions");
    assert!(
        (f64::from(last.relative_alt) / 1000.0 - 10.0).abs() < 0.2,
        "{last:?}"
    );
    assert!(!bench.vehicle.on_ground());
    let climbs = bench.log.iter().filter_map(|(_, m)| match m {
        MavMessage::VFR_HUD(hud) => Some(hud.climb),
        _ => None,
    });
    let max_climb = climbs.fold(0.0_f32, f32::max);
    assert!(
        max_climb > 2.0 && max_climb <= 2.5 + 1e-3,
        "max climb {max_climb}"
    );
    // 10 m at 2.5 m/s, plus speeding up and slowing down: 4 s at the very least.
    let time_at = |above_mm: i32| {
        bench
            .log
            .iter()
            .find_map(|(t, m)| match m {
                MavMessage::GLOBAL_POSITION_INT(p) if p.relative_alt > above_mm => Some(*t),
                _ => None,
            })
            .expect("reached that height")
    };
    let climb_s = time_at(9_900) - time_at(0);
    assert!((4.0..8.0).contains(&climb_s), "climbed 10 m in {climb_s} s");
}

#[test]
fn circle_flies_round_a_circle_turning_all_the_way() {
    let mut bench = Bench::airborne(20.0);
    assert_eq!(
        bench.set_mode(CopterMode::Circle),
        MavResult::MAV_RESULT_ACCEPTED
    );
    bench.run_for(10.0);
    // Exactly one lap, so the centroid of the track is the centre.
    let lap_s = TAU * CIRCLE_RADIUS_M / CIRCLE_SPEED_MPS;
    let log = bench.run_for(lap_s);
    let points: Vec<(f64, f64)> = positions(&log).iter().map(local_m).collect();
    let (cn, ce) = points
        .iter()
        .fold((0.0, 0.0), |(n, e), p| (n + p.0, e + p.1));
    let center = (cn / points.len() as f64, ce / points.len() as f64);
    for (n, e) in &points {
        let r = (n - center.0).hypot(e - center.1);
        assert!((r - CIRCLE_RADIUS_M).abs() < 3.0, "radius {r} m");
    }
    let mut quadrants = [false; 4];
    for p in positions(&log) {
        quadrants[usize::from(p.hdg / 9000).min(3)] = true;
        assert!((f64::from(p.relative_alt) / 1000.0 - 20.0).abs() < 0.5);
    }
    assert_eq!(
        quadrants, [true; 4],
        "heading turned through every quadrant"
    );
    let speed = log.iter().filter_map(|(_, m)| match m {
        MavMessage::VFR_HUD(hud) => Some(hud.groundspeed),
        _ => None,
    });
    for s in speed {
        assert!((s - 5.0).abs() < 0.5, "ground speed {s}");
    }
    // Banked into the turn (clockwise: centre on the right, right side down).
    let rolls: Vec<f32> = log
        .iter()
        .filter_map(|(_, m)| match m {
            MavMessage::ATTITUDE(a) => Some(a.roll),
            _ => None,
        })
        .collect();
    let mean_roll_deg = (rolls.iter().sum::<f32>() / rolls.len() as f32).to_degrees();
    assert!(
        (2.0..6.0).contains(&mean_roll_deg),
        "mean roll {mean_roll_deg}°"
    );
}

#[test]
fn reposition_flies_to_the_point_in_guided() {
    let mut bench = Bench::airborne(10.0);
    // 100 m north of home, 30 m up, as COMMAND_INT the way QGC sends it.
    let lat = DEFAULT_HOME_LAT_DEG + (100.0 / EARTH_RADIUS_M).to_degrees();
    let replies = bench.send(&MavMessage::COMMAND_INT(COMMAND_INT_DATA {
        param1: -1.0,
        param2: 1.0,
        x: (lat * 1e7).round() as i32,
        y: (DEFAULT_HOME_LON_DEG * 1e7).round() as i32,
        z: 30.0,
        command: MavCmd::MAV_CMD_DO_REPOSITION,
        target_system: 1,
        target_component: 1,
        ..COMMAND_INT_DATA::default()
    }));
    assert_eq!(
        ack_for(&replies, MavCmd::MAV_CMD_DO_REPOSITION),
        MavResult::MAV_RESULT_ACCEPTED
    );
    let log = bench.run_for(40.0);
    let last = positions(&log).pop().expect("positions");
    let (n, e) = local_m(&last);
    assert!((n - 100.0).abs() < 1.0 && e.abs() < 1.0, "at {n} N {e} E");
    assert!((f64::from(last.relative_alt) / 1000.0 - 30.0).abs() < 0.3);
    let max_speed = log
        .iter()
        .filter_map(|(_, m)| match m {
            MavMessage::VFR_HUD(hud) => Some(hud.groundspeed),
            _ => None,
        })
        .fold(0.0_f32, f32::max);
    assert!(
        max_speed > 8.0 && max_speed <= 10.0 + 1e-3,
        "max speed {max_speed}"
    );
}

#[test]
fn rtl_climbs_flies_home_lands_and_disarms() {
    let mut bench = Bench::airborne(8.0);
    let lat = DEFAULT_HOME_LAT_DEG + (60.0 / EARTH_RADIUS_M).to_degrees();
    let (result, _) = bench.command(
        MavCmd::MAV_CMD_DO_REPOSITION,
        [
            -1.0,
            0.,
            0.,
            0.,
            lat as f32,
            DEFAULT_HOME_LON_DEG as f32,
            8.0,
        ],
    );
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    bench.run_for(20.0);

    let (result, _) = bench.command(MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH, [0.0; 7]);
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    assert_eq!(bench.vehicle.mode(), CopterMode::Rtl);
    let start = bench.log.len();
    bench.run_until(120.0, "RTL disarm", |v| !v.armed());
    let log = bench.log[start..].to_vec();

    let track = positions(&log);
    let top = track
        .iter()
        .map(|p| p.relative_alt)
        .max()
        .expect("positions");
    assert!(
        (14_800..15_300).contains(&top),
        "climbed to RTL_ALT: {top} mm"
    );
    // It climbs before it leaves.
    let (n_at_top, _) = local_m(track.iter().find(|p| p.relative_alt > 14_700).expect("top"));
    assert!(
        n_at_top > 55.0,
        "still near the start when at RTL_ALT: {n_at_top}"
    );
    let location = bench.vehicle.location();
    assert!(location.relative_alt_m.abs() < 1e-9);
    let home_error_m =
        (location.lat_deg - DEFAULT_HOME_LAT_DEG).abs().to_radians() * EARTH_RADIUS_M;
    assert!(home_error_m < 1.0, "landed {home_error_m} m from home");
    assert!(bench.vehicle.on_ground());
    assert!(texts(&logged(&log)).contains(&"Disarming motors".to_owned()));
}

#[test]
fn land_descends_and_disarms() {
    let mut bench = Bench::airborne(12.0);
    let (result, _) = bench.command(MavCmd::MAV_CMD_NAV_LAND, [0.0; 7]);
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    bench.run_until(60.0, "landed", |v| !v.armed());
    assert!(bench.vehicle.on_ground());
    assert_eq!(bench.vehicle.mode(), CopterMode::Land);
}

#[test]
fn disarm_in_flight_needs_force() {
    let mut bench = Bench::airborne(10.0);
    let (result, replies) = bench.command(MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, [0.0; 7]);
    assert_eq!(result, MavResult::MAV_RESULT_FAILED);
    assert_eq!(texts(&replies), ["Disarm: not landed"]);
    let (result, _) = bench.command(
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        [0.0, FORCE_ARM_DISARM_MAGIC, 0., 0., 0., 0., 0.],
    );
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    bench.run_until(10.0, "fell", Vehicle::on_ground);
}

#[test]
fn request_data_stream_rate_zero_stops_that_stream_only() {
    let mut bench = Bench::default();
    bench.run_for(2.0);
    bench.send(&request_data_stream(10, 0, true)); // EXTRA1: ATTITUDE
    let log = bench.run_for(3.0);
    assert_eq!(count(&log, ATTITUDE_DATA::ID), 0);
    assert!(count(&log, GLOBAL_POSITION_INT_DATA::ID) >= 14);

    bench.send(&request_data_stream(10, 4, true));
    let log = bench.run_for(5.0);
    assert!(count(&log, ATTITUDE_DATA::ID).abs_diff(20) <= 1);

    bench.send(&request_data_stream(0, 0, false));
    let log = bench.run_for(3.0);
    assert_eq!(count(&log, ATTITUDE_DATA::ID), 0);
    assert_eq!(count(&log, SYS_STATUS_DATA::ID), 0);
    assert_eq!(count(&log, HEARTBEAT_DATA::ID), 3, "heartbeats never stop");
}

#[test]
fn waiting_for_a_request_sends_only_heartbeats_and_text() {
    let mut config = VehicleConfig::new(1);
    config.wait_for_stream_request = true;
    let mut bench = Bench::new(config);
    let log = bench.run_for(10.0);
    for (t, msg) in &log {
        assert!(
            matches!(
                msg,
                MavMessage::HEARTBEAT(_) | MavMessage::STATUSTEXT(_) | MavMessage::HOME_POSITION(_)
            ),
            "{} at {t} before any request",
            msg.message_name()
        );
    }
    assert_eq!(count(&log, HEARTBEAT_DATA::ID), 10);

    bench.send(&request_data_stream(0, 10, true));
    let log = bench.run_for(2.0);
    assert!(count(&log, ATTITUDE_DATA::ID).abs_diff(20) <= 1);
    assert!(count(&log, SYS_STATUS_DATA::ID).abs_diff(20) <= 1);
}

#[test]
fn set_message_interval_sets_stops_and_restores() {
    let mut config = VehicleConfig::new(1);
    config.wait_for_stream_request = true;
    let mut bench = Bench::new(config);
    let interval = |bench: &mut Bench, id: u32, us: f32| {
        bench
            .command(
                MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL,
                [id as f32, us, 0., 0., 0., 0., 0.],
            )
            .0
    };
    assert_eq!(
        interval(&mut bench, ATTITUDE_DATA::ID, 50_000.0),
        MavResult::MAV_RESULT_ACCEPTED
    );
    assert!(count(&bench.run_for(5.0), ATTITUDE_DATA::ID).abs_diff(100) <= 1);

    assert_eq!(
        interval(&mut bench, ATTITUDE_DATA::ID, -1.0),
        MavResult::MAV_RESULT_ACCEPTED
    );
    assert_eq!(count(&bench.run_for(2.0), ATTITUDE_DATA::ID), 0);

    assert_eq!(
        interval(&mut bench, ATTITUDE_DATA::ID, 0.0),
        MavResult::MAV_RESULT_ACCEPTED
    );
    assert!(count(&bench.run_for(2.0), ATTITUDE_DATA::ID).abs_diff(20) <= 1);

    // RAW_IMU: not something this vehicle has.
    assert_eq!(
        interval(&mut bench, 27, 100_000.0),
        MavResult::MAV_RESULT_FAILED
    );
}

#[test]
fn request_message_answers_autopilot_version_after_the_ack() {
    let mut bench = Bench::default();
    bench.run_for(0.5);
    let params = [AUTOPILOT_VERSION_DATA::ID as f32, 0., 0., 0., 0., 0., 0.];
    let (result, replies) = bench.command(MavCmd::MAV_CMD_REQUEST_MESSAGE, params);
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    assert!(matches!(replies[0], MavMessage::COMMAND_ACK(_)));
    let MavMessage::AUTOPILOT_VERSION(version) = &replies[1] else {
        panic!("AUTOPILOT_VERSION after the ack: {replies:?}");
    };
    for capability in [
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MAVLINK2,
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_INT,
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_COMMAND_INT,
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_FTP,
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_SET_ATTITUDE_TARGET,
    ] {
        assert!(version.capabilities.contains(capability), "{capability:?}");
    }
    assert_eq!(version.flight_sw_version >> 16, 0x0406);

    // HOME_POSITION exists only once there is a fix.
    let home = [HOME_POSITION_DATA::ID as f32, 0., 0., 0., 0., 0., 0.];
    assert_eq!(
        bench.command(MavCmd::MAV_CMD_REQUEST_MESSAGE, home).0,
        MavResult::MAV_RESULT_FAILED
    );
    bench.run_for(5.0);
    let (result, replies) = bench.command(MavCmd::MAV_CMD_REQUEST_MESSAGE, home);
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    assert!(matches!(replies[1], MavMessage::HOME_POSITION(_)));
}

#[test]
fn unknown_commands_are_unsupported() {
    let mut bench = Bench::default();
    let (result, _) = bench.command(MavCmd::MAV_CMD_DO_SET_SERVO, [0.0; 7]);
    assert_eq!(result, MavResult::MAV_RESULT_UNSUPPORTED);
}

#[test]
fn messages_for_other_systems_or_components_are_ignored() {
    let mut bench = Bench::default();
    bench.run_for(5.0);
    let arm = [1.0, 0., 0., 0., 0., 0., 0.];
    let other_system = command_long(2, MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, arm);
    assert!(bench.send(&other_system).is_empty());
    let MavMessage::COMMAND_LONG(mut camera) =
        command_long(1, MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, arm)
    else {
        unreachable!("command_long builds a COMMAND_LONG");
    };
    camera.target_component = 100;
    assert!(bench.send(&MavMessage::COMMAND_LONG(camera)).is_empty());
    assert!(!bench.vehicle.armed());

    let broadcast = command_long(0, MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, arm);
    assert_eq!(
        ack_for(
            &bench.send(&broadcast),
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM
        ),
        MavResult::MAV_RESULT_ACCEPTED
    );
}

#[test]
fn battery_drains_faster_in_flight() {
    let mut bench = Bench::default();
    bench.run_for(60.0);
    let ground_used = 100.0 - bench.vehicle.battery_remaining_pct();
    let mut bench = Bench::airborne(10.0);
    let before = bench.vehicle.battery_remaining_pct();
    let log = bench.run_for(60.0);
    let flight_used = before - bench.vehicle.battery_remaining_pct();
    assert!(
        ground_used > 0.0 && ground_used < 0.2,
        "ground: {ground_used}%"
    );
    // 15 A for a minute out of 5.2 Ah is ~4.8 %.
    assert!((4.0..6.0).contains(&flight_used), "flight: {flight_used}%");
    let status = log
        .iter()
        .rev()
        .find_map(|(_, m)| match m {
            MavMessage::BATTERY_STATUS(b) => Some(b.clone()),
            _ => None,
        })
        .expect("BATTERY_STATUS");
    assert!((1400..1700).contains(&status.current_battery), "{status:?}");
    let pack_mv: u32 = status.voltages[..4].iter().map(|&mv| u32::from(mv)).sum();
    assert!((15_000..16_800).contains(&pack_mv), "{status:?}");
    assert_eq!(status.voltages[4], u16::MAX);
}

#[test]
fn autofly_takes_off_and_circles() {
    let mut config = VehicleConfig::new(1);
    config.autofly = true;
    let mut bench = Bench::new(config);
    bench.run_until(60.0, "autofly circling", |v| v.mode() == CopterMode::Circle);
    assert!(bench.vehicle.armed());
    let alt = bench.vehicle.location().relative_alt_m;
    assert!(
        (alt - AUTOFLY_TAKEOFF_ALT_M).abs() < 1.0,
        "circling at {alt} m"
    );
    let heading = bench.vehicle.heading_deg();
    bench.run_for(120.0);
    assert!(bench.vehicle.armed(), "still flying after two minutes");
    assert!((bench.vehicle.heading_deg() - heading).abs() > 1.0);
}

#[test]
fn same_seed_same_flight_different_seed_different_noise() {
    let flight = |seed: u64| {
        let mut config = VehicleConfig::new(1);
        config.seed = seed;
        config.autofly = true;
        let mut bench = Bench::new(config);
        bench.run_for(30.0);
        logged(&bench.log)
    };
    let a = flight(7);
    assert_eq!(a, flight(7));
    assert_ne!(a, flight(8));
}

mod ftp;
mod plans;
