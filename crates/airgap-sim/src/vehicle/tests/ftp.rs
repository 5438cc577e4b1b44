//! MAVFTP through the whole vehicle, driven by the core's own FTP clients.

use std::time::Duration;

use airgap_core::dialect::{MavFrame, MavMissionType, FILE_TRANSFER_PROTOCOL_DATA};
use airgap_core::ftp::{
    FtpConfig, FtpTransfer, MissionFetch, MissionStore, Opcode, ParamFetch, Payload, Target,
};
use airgap_core::mission::MissionItem;

use super::*;

const VEHICLE: Target = Target {
    system_id: 1,
    component_id: 1,
};

/// Runs `t` against the bench's vehicle over a perfect link; returns the next FTP seq.
fn run<T: FtpTransfer>(bench: &mut Bench, t: &mut T) {
    let mut now = Duration::ZERO;
    let mut to_vehicle = t.start(now);
    for _ in 0..100_000 {
        if t.outcome().is_some() && to_vehicle.is_empty() {
            return;
        }
        now += Duration::from_millis(10);
        if to_vehicle.is_empty() {
            to_vehicle = t.poll(t.next_deadline().unwrap_or(now).max(now));
            continue;
        }
        let mut replies = Vec::new();
        for msg in to_vehicle.drain(..) {
            replies.extend(bench.send(&msg));
        }
        for reply in replies {
            if let MavMessage::FILE_TRANSFER_PROTOCOL(f) = &reply {
                assert_eq!(
                    (f.target_system, f.target_component),
                    (GCS_SYSID, GCS_COMPID)
                );
                to_vehicle.extend(t.handle(now, 1, 1, &reply));
            }
        }
    }
    panic!("the transfer did not finish");
}

fn waypoints(mission_type: MavMissionType, command: MavCmd, n: u16) -> Vec<MissionItem> {
    (0..n)
        .map(|seq| MissionItem {
            seq,
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            command,
            current: false,
            autocontinue: true,
            param1: 0.0,
            param2: 0.0,
            param3: 0.0,
            param4: 0.0,
            x: -353_632_610 + 100 * i32::from(seq),
            y: 1_491_652_300,
            z: 30.0,
            mission_type,
        })
        .collect()
}

#[test]
fn param_pck_holds_every_current_parameter() {
    let mut bench = Bench::default();
    bench.send(&MavMessage::PARAM_SET(
        airgap_core::dialect::PARAM_SET_DATA {
            param_value: 1234.0,
            target_system: 1,
            target_component: 1,
            param_id: airgap_core::params::protocol::encoding::encode_name("RTL_ALT")
                .expect("fits"),
            param_type: airgap_core::dialect::MavParamType::MAV_PARAM_TYPE_INT32,
        },
    ));
    let mut fetch = ParamFetch::new(VEHICLE, FtpConfig::default());
    run(&mut bench, &mut fetch);
    let mut got = fetch.outcome().expect("finished").expect("fetched");
    let mut want = bench.vehicle.params().params().to_vec();
    got.sort_by(|a, b| a.name.cmp(&b.name));
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(got, want);
    assert!(got.iter().any(|p| p.name == "RTL_ALT" && p.value == 1234.0));
}

#[test]
fn mission_and_fence_written_by_ftp_replace_the_plans_and_read_back() {
    let mut bench = Bench::default();
    let mission = waypoints(
        MavMissionType::MAV_MISSION_TYPE_MISSION,
        MavCmd::MAV_CMD_NAV_WAYPOINT,
        650,
    );
    let mut store = MissionStore::new(
        VEHICLE,
        MavMissionType::MAV_MISSION_TYPE_MISSION,
        &mission,
        FtpConfig::default(),
    )
    .expect("fits the format");
    run(&mut bench, &mut store);
    assert_eq!(store.outcome(), Some(Ok(())));
    let stored = bench
        .vehicle
        .mission(MavMissionType::MAV_MISSION_TYPE_MISSION)
        .to_vec();
    assert_eq!(stored.len(), 650);
    assert_eq!(&stored[1..], &mission[1..]);
    assert_eq!(bench.vehicle.param("MIS_TOTAL"), Some(650.0));

    let config = FtpConfig {
        first_seq: store.next_seq(),
        ..FtpConfig::default()
    };
    let mut fetch = MissionFetch::new(VEHICLE, MavMissionType::MAV_MISSION_TYPE_MISSION, config);
    run(&mut bench, &mut fetch);
    let fetched = fetch.outcome().expect("finished").expect("fetched");
    assert_eq!(fetched, stored);

    let fence = waypoints(
        MavMissionType::MAV_MISSION_TYPE_FENCE,
        MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        4,
    );
    let config = FtpConfig {
        first_seq: fetch.next_seq(),
        ..FtpConfig::default()
    };
    let mut store = MissionStore::new(
        VEHICLE,
        MavMissionType::MAV_MISSION_TYPE_FENCE,
        &fence,
        config,
    )
    .expect("fits");
    run(&mut bench, &mut store);
    assert_eq!(store.outcome(), Some(Ok(())));
    assert_eq!(
        bench
            .vehicle
            .mission(MavMissionType::MAV_MISSION_TYPE_FENCE),
        &fence[..]
    );
}

#[test]
fn a_plan_beyond_capacity_is_refused_over_ftp_too() {
    let mut bench = Bench::default();
    let rally = waypoints(
        MavMissionType::MAV_MISSION_TYPE_RALLY,
        MavCmd::MAV_CMD_NAV_RALLY_POINT,
        21,
    );
    let mut store = MissionStore::new(
        VEHICLE,
        MavMissionType::MAV_MISSION_TYPE_RALLY,
        &rally,
        FtpConfig::default(),
    )
    .expect("fits the format");
    run(&mut bench, &mut store);
    assert!(
        matches!(store.outcome(), Some(Err(_))),
        "{:?}",
        store.outcome()
    );
    assert!(bench
        .vehicle
        .mission(MavMissionType::MAV_MISSION_TYPE_RALLY)
        .is_empty());
}

#[test]
fn without_ftp_the_vehicle_does_not_answer() {
    let mut bench = Bench::new(VehicleConfig {
        ftp: false,
        ..VehicleConfig::new(1)
    });
    let request = Payload::request(0, 0, Opcode::ResetSessions, 0);
    let msg = MavMessage::FILE_TRANSFER_PROTOCOL(FILE_TRANSFER_PROTOCOL_DATA {
        target_system: 1,
        target_component: 1,
        ..request.to_data(1, 1)
    });
    let replies = bench.send(&msg);
    assert!(
        !replies
            .iter()
            .any(|m| matches!(m, MavMessage::FILE_TRANSFER_PROTOCOL(_))),
        "{replies:?}"
    );
    let mut bench = Bench::default();
    let replies = bench.send(&msg);
    assert!(replies
        .iter()
        .any(|m| matches!(m, MavMessage::FILE_TRANSFER_PROTOCOL(_))));
}
