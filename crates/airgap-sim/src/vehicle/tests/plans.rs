//! Parameters, plans and AUTO through the whole vehicle, with a fake clock.

use airgap_core::dialect::{
    MavFrame, MavMissionResult, MavMissionType, MavParamType, MissionState, MISSION_COUNT_DATA,
    MISSION_CURRENT_DATA, MISSION_REQUEST_LIST_DATA, PARAM_REQUEST_LIST_DATA, PARAM_SET_DATA,
    PARAM_VALUE_DATA,
};
use airgap_core::mission::MissionItem;
use airgap_core::params::protocol::encoding::encode_name;

use super::*;

const MISSION: MavMissionType = MavMissionType::MAV_MISSION_TYPE_MISSION;

impl Bench {
    fn set_param(&mut self, name: &str, value: f32) -> Vec<MavMessage> {
        self.send(&MavMessage::PARAM_SET(PARAM_SET_DATA {
            param_value: value,
            target_system: 1,
            target_component: 1,
            param_id: encode_name(name).expect("test names fit"),
            param_type: MavParamType::MAV_PARAM_TYPE_REAL32,
        }))
    }

    /// Uploads `items` with MISSION_ITEM_INT, answering each request, and returns the
    /// final ack's result.
    fn upload(&mut self, items: &[MissionItem]) -> MavMissionResult {
        let mut replies = self.send(&MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
            count: u16::try_from(items.len()).expect("small"),
            target_system: 1,
            target_component: 1,
            mission_type: MISSION,
            opaque_id: 0,
        }));
        loop {
            #[allow(deprecated)]
            let next = replies.iter().find_map(|m| match m {
                MavMessage::MISSION_REQUEST(r) => Some(r.seq),
                MavMessage::MISSION_ACK(a) => {
                    panic!("ack {:?} before the end", a.mavtype)
                }
                _ => None,
            });
            let Some(seq) = next else {
                break;
            };
            replies = self.send(&MavMessage::MISSION_ITEM_INT(
                items[usize::from(seq)].to_wire(1, 1),
            ));
            if let Some(result) = replies.iter().find_map(|m| match m {
                MavMessage::MISSION_ACK(a) => Some(a.mavtype),
                _ => None,
            }) {
                return result;
            }
        }
        panic!("upload ended without an ack: {replies:?}");
    }
}

fn nav(seq: u16, command: MavCmd, north_m: f64, alt_m: f32, param1: f32) -> MissionItem {
    let lat = DEFAULT_HOME_LAT_DEG + (north_m / EARTH_RADIUS_M).to_degrees();
    MissionItem {
        seq,
        frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        command,
        current: false,
        autocontinue: true,
        param1,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: (lat * 1e7).round() as i32,
        y: (DEFAULT_HOME_LON_DEG * 1e7).round() as i32,
        z: alt_m,
        mission_type: MISSION,
    }
}

fn placeholder_home() -> MissionItem {
    nav(0, MavCmd::MAV_CMD_NAV_WAYPOINT, 0.0, 0.0, 0.0)
}

fn mission_currents(log: &[(f64, MavMessage)]) -> Vec<MISSION_CURRENT_DATA> {
    log.iter()
        .filter_map(|(_, m)| match m {
            MavMessage::MISSION_CURRENT(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn reached(log: &[(f64, MavMessage)]) -> Vec<u16> {
    log.iter()
        .filter_map(|(_, m)| match m {
            MavMessage::MISSION_ITEM_REACHED(r) => Some(r.seq),
            _ => None,
        })
        .collect()
}

#[test]
fn a_parameter_list_is_paced_while_telemetry_keeps_flowing() {
    let mut bench = Bench::default();
    bench.run_for(1.0);
    let replies = bench.send(&MavMessage::PARAM_REQUEST_LIST(PARAM_REQUEST_LIST_DATA {
        target_system: 1,
        target_component: 1,
    }));
    assert!(texts(&replies).contains(&BANNER.to_owned()), "banner first");
    let total = bench.vehicle.params().len();
    let first_second = bench.run_for(1.0);
    let values = count(&first_second, PARAM_VALUE_DATA::ID);
    assert!(
        (480..=520).contains(&values),
        "{values} PARAM_VALUEs in 1 s"
    );
    assert!(
        count(&first_second, ATTITUDE_DATA::ID) >= 9,
        "attitude still flows"
    );
    let rest = bench.run_for(2.0);
    assert_eq!(values + count(&rest, PARAM_VALUE_DATA::ID), total);
}

#[test]
fn param_set_stores_the_value_and_rtl_alt_changes_rtl() {
    let mut bench = Bench::airborne(5.0);
    let replies = bench.set_param("RTL_ALT", 2500.0);
    match replies.as_slice() {
        [MavMessage::PARAM_VALUE(v)] => {
            assert_eq!(v.param_value, 2500.0);
            assert_eq!(v.param_type, MavParamType::MAV_PARAM_TYPE_INT32);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(bench.vehicle.param("RTL_ALT"), Some(2500.0));
    assert!(bench.set_param("NO_SUCH_PARAM", 1.0).is_empty(), "ignored");
    bench.command(MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH, [0.0; 7]);
    let start = bench.log.len();
    bench.run_until(120.0, "RTL disarm", |v| !v.armed());
    let top = positions(&bench.log[start..])
        .iter()
        .map(|p| p.relative_alt)
        .max()
        .expect("positions");
    assert!((24_800..25_300).contains(&top), "climbed to {top} mm");
}

#[test]
fn arming_check_zero_skips_the_gps_check() {
    let mut bench = Bench::default();
    bench.run_for(0.5);
    assert_eq!(bench.arm(), MavResult::MAV_RESULT_FAILED);
    bench.set_param("ARMING_CHECK", 0.0);
    assert_eq!(bench.arm(), MavResult::MAV_RESULT_ACCEPTED);
}

#[test]
fn sysid_thismav_is_stored_but_changes_nothing_until_reboot() {
    let mut bench = Bench::default();
    bench.set_param("SYSID_THISMAV", 42.0);
    assert_eq!(bench.vehicle.param("SYSID_THISMAV"), Some(42.0));
    assert_eq!(bench.vehicle.sysid(), 1);
}

#[test]
fn auto_is_refused_without_a_mission() {
    let mut bench = Bench::default();
    bench.run_until(10.0, "GPS fix", Vehicle::has_gps_fix);
    assert_eq!(
        bench.set_mode(CopterMode::Auto),
        MavResult::MAV_RESULT_FAILED
    );
}

#[test]
fn uploads_update_the_totals_and_mission_current() {
    let mut bench = Bench::default();
    let items = [
        placeholder_home(),
        nav(1, MavCmd::MAV_CMD_NAV_TAKEOFF, 0.0, 10.0, 0.0),
        nav(2, MavCmd::MAV_CMD_NAV_WAYPOINT, 30.0, 10.0, 0.0),
    ];
    assert_eq!(bench.upload(&items), MavMissionResult::MAV_MISSION_ACCEPTED);
    assert_eq!(bench.vehicle.param("MIS_TOTAL"), Some(3.0));
    let stored = bench.vehicle.mission(MISSION);
    assert_eq!(&stored[1..], &items[1..]);
    assert_eq!(stored[0].z, DEFAULT_HOME_ALT_M as f32, "item 0 is home");
    let log = bench.run_for(1.0);
    let current = mission_currents(&log)
        .pop()
        .expect("MISSION_CURRENT streamed");
    assert_eq!((current.seq, current.total), (1, 2));
    assert_eq!(
        current.mission_state,
        MissionState::MISSION_STATE_NOT_STARTED
    );
    let replies = bench.send(&MavMessage::MISSION_REQUEST_LIST(
        MISSION_REQUEST_LIST_DATA {
            target_system: 1,
            target_component: 1,
            mission_type: MISSION,
        },
    ));
    assert!(matches!(
        replies.as_slice(),
        [MavMessage::MISSION_COUNT(c)] if c.count == 3 && c.target_component == GCS_COMPID
    ));
}

#[test]
fn auto_flies_a_three_waypoint_mission_to_completion() {
    let mut bench = Bench::airborne(10.0);
    let items = [
        placeholder_home(),
        nav(1, MavCmd::MAV_CMD_NAV_TAKEOFF, 0.0, 10.0, 0.0),
        nav(2, MavCmd::MAV_CMD_NAV_WAYPOINT, 40.0, 15.0, 2.0),
        nav(3, MavCmd::MAV_CMD_DO_CHANGE_SPEED, 0.0, 0.0, 0.0),
        nav(4, MavCmd::MAV_CMD_NAV_WAYPOINT, 80.0, 15.0, 0.0),
        // Not modelled: stepped over.
        nav(5, MavCmd::MAV_CMD_DO_SET_SERVO, 0.0, 0.0, 0.0),
        nav(6, MavCmd::MAV_CMD_NAV_WAYPOINT, 40.0, 20.0, 0.0),
        nav(7, MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH, 0.0, 0.0, 0.0),
    ];
    assert_eq!(bench.upload(&items), MavMissionResult::MAV_MISSION_ACCEPTED);
    let start = bench.log.len();
    assert_eq!(
        bench.set_mode(CopterMode::Auto),
        MavResult::MAV_RESULT_ACCEPTED
    );
    bench.run_until(30.0, "first waypoint", |v| {
        (v.location().relative_alt_m - 15.0).abs() < 0.5 && v.mission_current() == 2
    });
    bench.run_until(300.0, "mission done", |v| !v.armed());
    let log = bench.log[start..].to_vec();
    assert_eq!(reached(&log), [1, 2, 4, 6, 7]);
    let seqs: Vec<u16> = mission_currents(&log).iter().map(|c| c.seq).collect();
    for seq in 2..=7 {
        assert!(seqs.contains(&seq), "MISSION_CURRENT {seq} in {seqs:?}");
    }
    let last = mission_currents(&log).pop().expect("MISSION_CURRENT");
    assert_eq!(last.mission_state, MissionState::MISSION_STATE_COMPLETE);
    // It flew through each waypoint.
    let track = positions(&log);
    for north_m in [40.0, 80.0] {
        let closest = track
            .iter()
            .map(|p| (local_m(p).0 - north_m).abs())
            .fold(f64::INFINITY, f64::min);
        assert!(
            closest < 2.5,
            "{closest} m from the waypoint {north_m} m north"
        );
    }
    let text = texts(&logged(&log));
    assert!(text.contains(&"Mission: 2 WP".to_owned()), "{text:?}");
    assert!(text.contains(&"Reached command #2".to_owned()));
    assert!(bench.vehicle.on_ground());
    let home_error_m = bench.vehicle.location().lat_deg - DEFAULT_HOME_LAT_DEG;
    assert!(home_error_m.abs().to_radians() * EARTH_RADIUS_M < 1.0);
}

#[test]
fn a_waypoint_hold_time_is_held() {
    let mut bench = Bench::airborne(10.0);
    let items = [
        placeholder_home(),
        nav(1, MavCmd::MAV_CMD_NAV_WAYPOINT, 20.0, 10.0, 5.0),
        nav(2, MavCmd::MAV_CMD_NAV_LOITER_TIME, 20.0, 10.0, 3.0),
        nav(3, MavCmd::MAV_CMD_NAV_LAND, 0.0, 0.0, 0.0),
    ];
    bench.upload(&items);
    let start = bench.log.len();
    bench.set_mode(CopterMode::Auto);
    bench.run_until(60.0, "landed", |v| !v.armed());
    let log = &bench.log[start..];
    let time_of = |wanted: &dyn Fn(&MavMessage) -> bool| {
        log.iter()
            .find(|(_, m)| wanted(m))
            .map(|(t, _)| *t)
            .expect("in the log")
    };
    let reached_at =
        |seq: u16| time_of(&|m| matches!(m, MavMessage::MISSION_ITEM_REACHED(r) if r.seq == seq));
    let current_at =
        |seq: u16| time_of(&|m| matches!(m, MavMessage::MISSION_CURRENT(c) if c.seq == seq));
    let held_1 = current_at(2) - reached_at(1);
    let held_2 = current_at(3) - reached_at(2);
    assert!((4.98..5.03).contains(&held_1), "held {held_1} s at item 1");
    assert!((2.98..3.03).contains(&held_2), "held {held_2} s at item 2");
    assert_eq!(reached(log), [1, 2, 3]);
}

#[test]
fn wpnav_speed_sets_the_speed_in_auto() {
    let mut bench = Bench::airborne(10.0);
    bench.set_param("WPNAV_SPEED", 300.0);
    bench.upload(&[
        placeholder_home(),
        nav(1, MavCmd::MAV_CMD_NAV_WAYPOINT, 200.0, 10.0, 0.0),
    ]);
    bench.set_mode(CopterMode::Auto);
    let log = bench.run_for(30.0);
    let fastest = positions(&log)
        .iter()
        .map(|p| f64::from(p.vx).hypot(f64::from(p.vy)) / 100.0)
        .fold(0.0, f64::max);
    assert!((2.8..3.2).contains(&fastest), "flew at {fastest} m/s");
}

#[test]
fn arming_in_auto_needs_auto_options_then_takes_off_by_itself() {
    let mut bench = Bench::default();
    bench.run_until(10.0, "GPS fix", Vehicle::has_gps_fix);
    bench.upload(&[
        placeholder_home(),
        nav(1, MavCmd::MAV_CMD_NAV_TAKEOFF, 0.0, 12.0, 0.0),
        nav(2, MavCmd::MAV_CMD_NAV_LAND, 0.0, 0.0, 0.0),
    ]);
    assert_eq!(
        bench.set_mode(CopterMode::Auto),
        MavResult::MAV_RESULT_ACCEPTED
    );
    assert_eq!(bench.arm(), MavResult::MAV_RESULT_FAILED);
    bench.set_param("AUTO_OPTIONS", 1.0);
    assert_eq!(bench.arm(), MavResult::MAV_RESULT_ACCEPTED);
    bench.run_until(30.0, "takeoff done", |v| v.mission_current() == 2);
    assert!(bench.vehicle.location().relative_alt_m > 11.0);
    bench.run_until(60.0, "landed", |v| !v.armed());
}

#[test]
fn set_mission_current_jumps_and_refuses_past_the_end() {
    let mut bench = Bench::airborne(10.0);
    bench.upload(&[
        placeholder_home(),
        nav(1, MavCmd::MAV_CMD_NAV_WAYPOINT, 100.0, 10.0, 0.0),
        nav(2, MavCmd::MAV_CMD_NAV_WAYPOINT, 0.0, 10.0, 30.0),
    ]);
    bench.set_mode(CopterMode::Auto);
    bench.run_for(2.0);
    let (result, replies) = bench.command(
        MavCmd::MAV_CMD_DO_SET_MISSION_CURRENT,
        [2.0, 0., 0., 0., 0., 0., 0.],
    );
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    assert!(replies
        .iter()
        .any(|m| matches!(m, MavMessage::MISSION_CURRENT(c) if c.seq == 2)));
    let (result, _) = bench.command(
        MavCmd::MAV_CMD_DO_SET_MISSION_CURRENT,
        [3.0, 0., 0., 0., 0., 0., 0.],
    );
    assert_eq!(result, MavResult::MAV_RESULT_FAILED);
    let log = bench.run_for(15.0);
    assert_eq!(reached(&log), [2], "went straight to item 2");
}

#[test]
fn the_mission_cannot_be_cleared_while_auto_flies_it() {
    use airgap_core::dialect::MISSION_CLEAR_ALL_DATA;
    let mut bench = Bench::airborne(10.0);
    bench.upload(&[
        placeholder_home(),
        nav(1, MavCmd::MAV_CMD_NAV_WAYPOINT, 100.0, 10.0, 0.0),
    ]);
    bench.set_mode(CopterMode::Auto);
    let clear = MavMessage::MISSION_CLEAR_ALL(MISSION_CLEAR_ALL_DATA {
        target_system: 1,
        target_component: 1,
        mission_type: MISSION,
    });
    let replies = bench.send(&clear);
    assert!(matches!(
        replies.as_slice(),
        [MavMessage::MISSION_ACK(a)] if a.mavtype == MavMissionResult::MAV_MISSION_ERROR
    ));
    bench.set_mode(CopterMode::Loiter);
    let replies = bench.send(&clear);
    assert!(replies.iter().any(|m| matches!(
        m,
        MavMessage::MISSION_ACK(a) if a.mavtype == MavMissionResult::MAV_MISSION_ACCEPTED
    )));
    assert_eq!(bench.vehicle.mission(MISSION).len(), 1, "home stays");
}

#[test]
fn ftp_is_advertised_only_when_on() {
    use airgap_core::dialect::MavProtocolCapability as Cap;
    let capabilities = |ftp: bool| {
        let mut bench = Bench::new(VehicleConfig {
            ftp,
            ..VehicleConfig::new(1)
        });
        let (_, replies) = bench.command(
            MavCmd::MAV_CMD_REQUEST_MESSAGE,
            [
                f32::from(AUTOPILOT_VERSION_DATA::ID as u16),
                0.,
                0.,
                0.,
                0.,
                0.,
                0.,
            ],
        );
        replies
            .iter()
            .find_map(|m| match m {
                MavMessage::AUTOPILOT_VERSION(v) => Some(v.capabilities),
                _ => None,
            })
            .expect("AUTOPILOT_VERSION")
    };
    let on = capabilities(true);
    assert!(on.contains(Cap::MAV_PROTOCOL_CAPABILITY_FTP));
    for cap in [
        Cap::MAV_PROTOCOL_CAPABILITY_MISSION_INT,
        Cap::MAV_PROTOCOL_CAPABILITY_MISSION_FENCE,
        Cap::MAV_PROTOCOL_CAPABILITY_MISSION_RALLY,
        Cap::MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST,
        Cap::MAV_PROTOCOL_CAPABILITY_COMMAND_INT,
    ] {
        assert!(on.contains(cap), "{cap:?}");
    }
    assert!(!capabilities(false).contains(Cap::MAV_PROTOCOL_CAPABILITY_FTP));
}
