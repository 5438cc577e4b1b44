//! The mission protocol's vehicle side driven by messages and a fake clock.

use airgap_core::dialect::{MavCmd, MavFrame, MavMissionResult, MavMissionType};

use super::*;

const GCS: Peer = Peer {
    sysid: 255,
    compid: 190,
};
const OTHER_GCS: Peer = Peer {
    sysid: 254,
    compid: 190,
};
const MISSION: MavMissionType = MavMissionType::MAV_MISSION_TYPE_MISSION;
const FENCE: MavMissionType = MavMissionType::MAV_MISSION_TYPE_FENCE;
const RALLY: MavMissionType = MavMissionType::MAV_MISSION_TYPE_RALLY;

fn item(mission_type: MavMissionType, seq: u16, command: MavCmd) -> MissionItem {
    MissionItem {
        seq,
        frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        command,
        current: false,
        autocontinue: true,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: -353_632_610 + i32::from(seq) * 1000,
        y: 1_491_652_300,
        z: 20.0 + f32::from(seq),
        mission_type,
    }
}

fn waypoint(seq: u16) -> MissionItem {
    item(MISSION, seq, MavCmd::MAV_CMD_NAV_WAYPOINT)
}

fn home() -> MissionItem {
    MissionItem {
        frame: MavFrame::MAV_FRAME_GLOBAL,
        z: 584.0,
        ..waypoint(0)
    }
}

fn server(config: MissionConfig) -> MissionServer {
    MissionServer::new(config, home())
}

fn count(mission_type: MavMissionType, count: u16) -> MISSION_COUNT_DATA {
    MISSION_COUNT_DATA {
        count,
        target_system: 1,
        target_component: 1,
        mission_type,
        opaque_id: 0,
    }
}

fn ack_result(msgs: &[MavMessage]) -> Option<MavMissionResult> {
    match msgs {
        [MavMessage::MISSION_ACK(a)] => Some(a.mavtype),
        _ => None,
    }
}

/// The seq of a single MISSION_REQUEST (or _INT, with `int`).
#[allow(deprecated)]
fn requested(msgs: &[MavMessage], int: bool) -> Option<u16> {
    match (msgs, int) {
        ([MavMessage::MISSION_REQUEST(r)], false) => Some(r.seq),
        ([MavMessage::MISSION_REQUEST_INT(r)], true) => Some(r.seq),
        _ => None,
    }
}

/// Uploads `items` without loss and returns the final reply.
fn upload(s: &mut MissionServer, items: &[MissionItem]) -> Vec<MavMessage> {
    let mission_type = items.first().map_or(MISSION, |i| i.mission_type);
    let n = u16::try_from(items.len()).expect("small");
    let mut replies = s.count(0.0, GCS, &count(mission_type, n));
    for item in items {
        assert_eq!(requested(&replies, false), Some(item.seq), "{replies:?}");
        replies = s.item(0.0, GCS, item.clone());
    }
    replies
}

#[test]
fn upload_asks_for_each_item_with_the_legacy_request_and_acks_the_end() {
    let mut s = server(MissionConfig::default());
    let items: Vec<_> = (0..4).map(waypoint).collect();
    let last = upload(&mut s, &items);
    assert_eq!(
        ack_result(&last),
        Some(MavMissionResult::MAV_MISSION_ACCEPTED)
    );
    let stored = s.items(MISSION);
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0], home(), "item 0 reads back as home");
    assert_eq!(&stored[1..], &items[1..]);
    assert_eq!(s.take_changed(), vec![MISSION]);
}

#[test]
fn request_int_can_be_configured() {
    let mut s = server(MissionConfig {
        request_int: true,
        ..MissionConfig::default()
    });
    let replies = s.count(0.0, GCS, &count(MISSION, 2));
    assert_eq!(requested(&replies, true), Some(0));
    let replies = s.item(0.0, GCS, waypoint(0));
    assert_eq!(requested(&replies, true), Some(1));
}

#[test]
fn a_lost_item_is_asked_for_again_after_a_second() {
    let mut s = server(MissionConfig::default());
    s.count(0.0, GCS, &count(MISSION, 3));
    s.item(0.1, GCS, waypoint(0));
    // Item 1 never comes.
    assert!(s.poll(1.0).is_empty());
    assert_eq!(requested(&s.poll(1.2), false), Some(1));
    assert!(s.poll(1.3).is_empty(), "not again straight away");
    assert_eq!(requested(&s.poll(2.3), false), Some(1));
    s.item(2.4, GCS, waypoint(1));
    let last = s.item(2.5, GCS, waypoint(2));
    assert_eq!(
        ack_result(&last),
        Some(MavMissionResult::MAV_MISSION_ACCEPTED)
    );
}

#[test]
fn a_duplicate_or_early_item_gets_invalid_sequence_and_the_upload_goes_on() {
    let mut s = server(MissionConfig::default());
    s.count(0.0, GCS, &count(MISSION, 3));
    s.item(0.0, GCS, waypoint(0));
    s.item(0.0, GCS, waypoint(1));
    let dup = s.item(0.0, GCS, waypoint(1));
    assert_eq!(
        ack_result(&dup),
        Some(MavMissionResult::MAV_MISSION_INVALID_SEQUENCE)
    );
    assert!(s.receiving(MISSION));
    let last = s.item(0.0, GCS, waypoint(2));
    assert_eq!(
        ack_result(&last),
        Some(MavMissionResult::MAV_MISSION_ACCEPTED)
    );
    assert_eq!(s.items(MISSION).len(), 3);
}

#[test]
fn the_final_item_sent_again_is_acked_again() {
    let mut s = server(MissionConfig::default());
    let items: Vec<_> = (0..2).map(waypoint).collect();
    upload(&mut s, &items);
    let again = s.item(0.5, GCS, waypoint(1));
    assert_eq!(
        ack_result(&again),
        Some(MavMissionResult::MAV_MISSION_ACCEPTED)
    );
    assert!(s.item(0.5, GCS, waypoint(0)).is_empty());
}

#[test]
fn more_items_than_capacity_is_no_space_for_each_type() {
    let mut s = server(MissionConfig {
        capacity: MissionCapacity {
            mission: 10,
            fence: 4,
            rally: 2,
        },
        ..MissionConfig::default()
    });
    for (mission_type, fits) in [(MISSION, 10), (FENCE, 4), (RALLY, 2)] {
        let too_many = s.count(0.0, GCS, &count(mission_type, fits + 1));
        assert_eq!(
            ack_result(&too_many),
            Some(MavMissionResult::MAV_MISSION_NO_SPACE),
            "{mission_type:?}"
        );
        assert!(!s.receiving(mission_type));
        let ok = s.count(0.0, GCS, &count(mission_type, fits));
        assert_eq!(requested(&ok, false), Some(0), "{mission_type:?}");
    }
}

#[test]
fn an_upload_nobody_feeds_is_cancelled_and_the_old_plan_kept() {
    let mut s = server(MissionConfig::default());
    let old: Vec<_> = (0..3).map(waypoint).collect();
    upload(&mut s, &old);
    let before = s.items(MISSION).to_vec();
    s.count(10.0, GCS, &count(MISSION, 5));
    s.item(10.5, GCS, waypoint(0));
    let mut cancelled = None;
    let mut t = 10.5;
    while t < 30.0 && cancelled.is_none() {
        t += 0.01;
        let out = s.poll(t);
        if ack_result(&out) == Some(MavMissionResult::MAV_MISSION_OPERATION_CANCELLED) {
            cancelled = Some(t);
        }
    }
    let cancelled = cancelled.expect("cancelled");
    assert!((18.4..18.6).contains(&cancelled), "at {cancelled}");
    assert!(!s.receiving(MISSION));
    assert_eq!(s.items(MISSION), &before[..]);
}

#[test]
fn a_second_gcs_is_denied_while_the_first_uploads_and_the_first_may_restart() {
    let mut s = server(MissionConfig::default());
    s.count(0.0, GCS, &count(MISSION, 3));
    let other = s.count(0.0, OTHER_GCS, &count(MISSION, 2));
    assert_eq!(
        ack_result(&other),
        Some(MavMissionResult::MAV_MISSION_DENIED)
    );
    s.item(0.0, GCS, waypoint(0));
    let restart = s.count(0.0, GCS, &count(MISSION, 2));
    assert_eq!(requested(&restart, false), Some(0));
}

#[test]
fn downloads_answer_count_item_int_and_legacy_item() {
    let mut s = server(MissionConfig::default());
    let items: Vec<_> = (0..3).map(waypoint).collect();
    upload(&mut s, &items);
    match s.request_list(GCS, MISSION).as_slice() {
        [MavMessage::MISSION_COUNT(c)] => {
            assert_eq!(
                (c.count, c.target_system, c.target_component),
                (3, 255, 190)
            );
        }
        other => panic!("{other:?}"),
    }
    match s.request_item(GCS, MISSION, 2, false).as_slice() {
        [MavMessage::MISSION_ITEM_INT(i)] => assert_eq!(MissionItem::from_wire(i), items[2]),
        other => panic!("{other:?}"),
    }
    #[allow(deprecated)]
    match s.request_item(GCS, MISSION, 2, true).as_slice() {
        [MavMessage::MISSION_ITEM(i)] => {
            assert!((f64::from(i.x) - f64::from(items[2].x) / 1e7).abs() < 1e-5);
            assert_eq!(item_from_legacy(i).z, items[2].z);
        }
        other => panic!("{other:?}"),
    }
    let past_end = s.request_item(GCS, MISSION, 3, false);
    assert_eq!(
        ack_result(&past_end),
        Some(MavMissionResult::MAV_MISSION_INVALID_SEQUENCE)
    );
}

#[test]
fn downloads_are_denied_during_an_upload_of_that_type_only() {
    let mut s = server(MissionConfig::default());
    s.count(0.0, GCS, &count(MISSION, 3));
    assert_eq!(
        ack_result(&s.request_list(GCS, MISSION)),
        Some(MavMissionResult::MAV_MISSION_DENIED)
    );
    assert!(matches!(
        s.request_list(GCS, FENCE).as_slice(),
        [MavMessage::MISSION_COUNT(c)] if c.count == 0
    ));
}

#[test]
fn a_fence_takes_only_fence_items_and_rally_only_rally_points() {
    let mut s = server(MissionConfig::default());
    let fence = [
        item(FENCE, 0, MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION),
        item(FENCE, 1, MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION),
        item(FENCE, 2, MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION),
    ];
    assert_eq!(
        ack_result(&upload(&mut s, &fence)),
        Some(MavMissionResult::MAV_MISSION_ACCEPTED)
    );
    assert_eq!(s.items(FENCE), &fence[..], "no home in a fence");
    s.count(0.0, GCS, &count(RALLY, 2));
    let wrong = s.item(0.0, GCS, item(RALLY, 0, MavCmd::MAV_CMD_NAV_WAYPOINT));
    assert_eq!(
        ack_result(&wrong),
        Some(MavMissionResult::MAV_MISSION_UNSUPPORTED)
    );
    assert!(!s.receiving(RALLY));
    assert!(s.items(RALLY).is_empty());
}

#[test]
fn clear_all_empties_one_type_or_all_and_the_mission_keeps_home() {
    let mut s = server(MissionConfig::default());
    upload(&mut s, &(0..3).map(waypoint).collect::<Vec<_>>());
    upload(&mut s, &[item(RALLY, 0, MavCmd::MAV_CMD_NAV_RALLY_POINT)]);
    let locked = s.clear_all(GCS, MISSION, true);
    assert_eq!(
        ack_result(&locked),
        Some(MavMissionResult::MAV_MISSION_ERROR)
    );
    assert_eq!(s.items(MISSION).len(), 3);
    let cleared = s.clear_all(GCS, MavMissionType::MAV_MISSION_TYPE_ALL, false);
    assert_eq!(
        ack_result(&cleared),
        Some(MavMissionResult::MAV_MISSION_ACCEPTED)
    );
    assert_eq!(s.items(MISSION), &[home()]);
    assert!(s.items(RALLY).is_empty());
}

#[test]
fn count_zero_clears_at_once() {
    let mut s = server(MissionConfig::default());
    upload(&mut s, &[item(RALLY, 0, MavCmd::MAV_CMD_NAV_RALLY_POINT)]);
    let ack = s.count(0.0, GCS, &count(RALLY, 0));
    assert_eq!(
        ack_result(&ack),
        Some(MavMissionResult::MAV_MISSION_ACCEPTED)
    );
    assert!(s.items(RALLY).is_empty());
}

#[test]
fn replace_checks_capacity_and_commands() {
    let mut s = server(MissionConfig {
        capacity: MissionCapacity {
            rally: 1,
            ..MissionCapacity::default()
        },
        ..MissionConfig::default()
    });
    let two = vec![
        item(RALLY, 0, MavCmd::MAV_CMD_NAV_RALLY_POINT),
        item(RALLY, 1, MavCmd::MAV_CMD_NAV_RALLY_POINT),
    ];
    assert!(matches!(
        s.replace(RALLY, two),
        Err(StoreError::NoSpace {
            count: 2,
            capacity: 1
        })
    ));
    assert!(matches!(
        s.replace(FENCE, vec![waypoint(0)]),
        Err(StoreError::Unsupported { .. })
    ));
    s.replace(MISSION, (0..5).map(waypoint).collect())
        .expect("fits");
    assert_eq!(s.items(MISSION).len(), 5);
    assert_eq!(s.items(MISSION)[0], home());
}
