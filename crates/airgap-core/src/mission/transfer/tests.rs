//! Scripted exchanges with a fake clock, one protocol situation each; the seeded lossy-link
//! simulations are in `sim`.

mod sim;

use std::time::Duration;

use super::*;
use crate::dialect::{
    MavCmd, MavFrame, MavMissionResult, MavMissionType, MavResult, COMMAND_ACK_DATA,
    MISSION_ACK_DATA, MISSION_COUNT_DATA, MISSION_CURRENT_DATA, MISSION_ITEM_DATA,
    MISSION_REQUEST_DATA, MISSION_REQUEST_INT_DATA,
};
use crate::mission::MissionItem;
use crate::MavMessage;

const VEHICLE: Target = Target {
    system_id: 1,
    component_id: 1,
};
const MISSION: MavMissionType = MavMissionType::MAV_MISSION_TYPE_MISSION;
const FENCE: MavMissionType = MavMissionType::MAV_MISSION_TYPE_FENCE;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn item(seq: u16, mission_type: MavMissionType) -> MissionItem {
    MissionItem {
        seq,
        frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        command: MavCmd::MAV_CMD_NAV_WAYPOINT,
        current: false,
        autocontinue: true,
        param1: f32::from(seq % 7),
        param2: 0.5,
        param3: 0.0,
        param4: 0.0,
        x: 473_977_419 + i32::from(seq) * 1_013,
        y: 85_455_938 - i32::from(seq) * 977,
        z: 10.0 + f32::from(seq % 50),
        mission_type,
    }
}

fn items(n: u16, mission_type: MavMissionType) -> Vec<MissionItem> {
    (0..n).map(|seq| item(seq, mission_type)).collect()
}

fn request_int(seq: u16) -> MavMessage {
    MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
        seq,
        target_system: 255,
        target_component: 190,
        mission_type: MISSION,
    })
}

fn request_legacy(seq: u16) -> MavMessage {
    MavMessage::MISSION_REQUEST(MISSION_REQUEST_DATA {
        seq,
        target_system: 255,
        target_component: 190,
        mission_type: MISSION,
    })
}

fn ack(result: MavMissionResult, mission_type: MavMissionType) -> MavMessage {
    MavMessage::MISSION_ACK(MISSION_ACK_DATA {
        target_system: 255,
        target_component: 190,
        mavtype: result,
        mission_type,
        ..MISSION_ACK_DATA::DEFAULT
    })
}

fn count(n: u16, mission_type: MavMissionType) -> MavMessage {
    MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
        count: n,
        target_system: 255,
        target_component: 190,
        mission_type,
        ..MISSION_COUNT_DATA::DEFAULT
    })
}

fn item_msg(it: &MissionItem) -> MavMessage {
    MavMessage::MISSION_ITEM_INT(it.to_wire(255, 190))
}

/// What a batch of outgoing messages says, compactly: "COUNT 3", "ITEM 0", "REQ 2", ...
fn said(msgs: &[MavMessage]) -> Vec<String> {
    msgs.iter()
        .map(|m| match m {
            MavMessage::MISSION_COUNT(c) => format!("COUNT {}", c.count),
            MavMessage::MISSION_ITEM_INT(i) => format!("ITEM {}", i.seq),
            MavMessage::MISSION_REQUEST_INT(r) => format!("REQ {}", r.seq),
            MavMessage::MISSION_REQUEST_LIST(_) => "LIST".to_string(),
            MavMessage::MISSION_ACK(a) => format!("ACK {:?}", a.mavtype),
            MavMessage::MISSION_CLEAR_ALL(_) => "CLEAR".to_string(),
            MavMessage::MISSION_SET_CURRENT(s) => format!("SET_CURRENT {}", s.seq),
            MavMessage::COMMAND_LONG(c) => {
                format!("CMD {:?} {} conf {}", c.command, c.param1, c.confirmation)
            }
            other => format!("{other:?}"),
        })
        .collect()
}

fn from_vehicle<T: MissionTransfer>(t: &mut T, now: Duration, msg: &MavMessage) -> Vec<String> {
    said(&t.handle(now, 1, 1, msg))
}

fn upload(n: u16) -> Upload {
    Upload::new(
        VEHICLE,
        MISSION,
        items(n, MISSION),
        TransferConfig::default(),
    )
    .expect("n fits in u16")
}

// ---- upload ----------------------------------------------------------------------------

#[test]
fn upload_happy_path_answers_both_request_kinds() {
    let mut up = upload(3);
    assert_eq!(said(&up.start(ms(0))), ["COUNT 3"]);
    assert_eq!(
        from_vehicle(&mut up, ms(40), &request_legacy(0)),
        ["ITEM 0"]
    );
    assert_eq!(from_vehicle(&mut up, ms(80), &request_int(1)), ["ITEM 1"]);
    assert_eq!(up.progress(), Progress { done: 1, total: 3 });
    assert_eq!(
        from_vehicle(&mut up, ms(120), &request_legacy(2)),
        ["ITEM 2"]
    );
    assert_eq!(up.outcome(), None);
    assert!(from_vehicle(
        &mut up,
        ms(160),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION)
    )
    .is_empty());
    assert_eq!(up.outcome(), Some(Ok(())));
    assert_eq!(up.progress(), Progress { done: 3, total: 3 });
    assert_eq!(up.next_deadline(), None);
}

#[test]
fn upload_sends_the_items_it_was_given_renumbered() {
    let mut given = items(3, FENCE);
    given.reverse();
    let mut up = Upload::new(VEHICLE, MISSION, given.clone(), TransferConfig::default())
        .expect("3 items fit");
    up.start(ms(0));
    let out = up.handle(ms(10), 1, 1, &request_int(0));
    let MavMessage::MISSION_ITEM_INT(sent) = &out[0] else {
        panic!("expected an item, got {out:?}");
    };
    assert_eq!(sent.seq, 0);
    assert_eq!(sent.x, given[0].x);
    assert_eq!(sent.mission_type, MISSION);
    assert_eq!((sent.target_system, sent.target_component), (1, 1));
}

#[test]
fn upload_resends_count_until_the_first_request_then_never() {
    let mut up = upload(2);
    up.start(ms(0));
    assert!(up.poll(ms(249)).is_empty());
    assert_eq!(up.next_deadline(), Some(ms(250)));
    assert_eq!(said(&up.poll(ms(250))), ["COUNT 2"]);
    assert_eq!(from_vehicle(&mut up, ms(300), &request_int(0)), ["ITEM 0"]);
    // From now on a timeout re-sends the item, not the count.
    let later = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(later)), ["ITEM 0"]);
}

#[test]
fn upload_resends_a_lost_item_without_waiting_for_the_vehicle() {
    let mut up = upload(3);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    // Our item 0 is lost: the vehicle would re-ask only after a second.
    let deadline = up.next_deadline().expect("running");
    assert!(deadline < ms(1000));
    assert_eq!(said(&up.poll(deadline)), ["ITEM 0"]);
    assert_eq!(
        from_vehicle(&mut up, deadline + ms(40), &request_int(1)),
        ["ITEM 1"]
    );
}

#[test]
fn upload_sends_the_next_item_when_the_vehicle_says_it_holds_the_repeat() {
    // The request for item 1 was lost; our repeat of item 0 draws INVALID_SEQUENCE.
    let mut up = upload(3);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    let deadline = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(deadline)), ["ITEM 0"]);
    let invalid = ack(MavMissionResult::MAV_MISSION_INVALID_SEQUENCE, MISSION);
    assert_eq!(
        from_vehicle(&mut up, deadline + ms(40), &invalid),
        ["ITEM 1"]
    );
    // A second INVALID_SEQUENCE may be a late answer to another copy of item 0: no skipping
    // further ahead on it...
    assert!(from_vehicle(&mut up, deadline + ms(50), &invalid).is_empty());
    // ...but once item 1 has been sent twice, the vehicle holds it too.
    let deadline = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(deadline)), ["ITEM 1"]);
    assert_eq!(
        from_vehicle(&mut up, deadline + ms(40), &invalid),
        ["ITEM 2"]
    );
    from_vehicle(
        &mut up,
        deadline + ms(80),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_answers_duplicate_and_reordered_requests() {
    let mut up = upload(3);
    up.start(ms(0));
    assert_eq!(from_vehicle(&mut up, ms(40), &request_int(0)), ["ITEM 0"]);
    assert_eq!(from_vehicle(&mut up, ms(41), &request_int(0)), ["ITEM 0"]);
    assert_eq!(from_vehicle(&mut up, ms(80), &request_int(1)), ["ITEM 1"]);
    // A late duplicate of an old request, overtaken by the newer one.
    assert_eq!(
        from_vehicle(&mut up, ms(81), &request_legacy(0)),
        ["ITEM 0"]
    );
    assert_eq!(from_vehicle(&mut up, ms(120), &request_int(2)), ["ITEM 2"]);
    from_vehicle(
        &mut up,
        ms(160),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_accepts_the_ack_after_a_delayed_request_for_an_earlier_item() {
    let mut up = upload(3);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    // The re-ask for item 1 was overtaken by the request for item 2.
    assert_eq!(from_vehicle(&mut up, ms(120), &request_int(2)), ["ITEM 2"]);
    assert_eq!(from_vehicle(&mut up, ms(121), &request_int(1)), ["ITEM 1"]);
    // Retransmission goes for the last item, which is what the ACK waits on.
    let deadline = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(deadline)), ["ITEM 2"]);
    from_vehicle(
        &mut up,
        deadline + ms(1),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_goes_back_to_the_requested_item_when_the_vehicle_refuses_the_last() {
    let mut up = upload(3);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    let deadline = up.next_deadline().expect("running");
    up.poll(deadline);
    let invalid = ack(MavMissionResult::MAV_MISSION_INVALID_SEQUENCE, MISSION);
    // Vehicle holds 1: we send 2 unasked; its answer to that says it still wants 1.
    assert_eq!(
        from_vehicle(&mut up, deadline + ms(40), &invalid),
        ["ITEM 2"]
    );
    assert_eq!(
        from_vehicle(&mut up, deadline + ms(80), &invalid),
        ["ITEM 1"]
    );
    // The refusal of that repeat (the vehicle did hold 1 after all) is not answered again.
    assert!(from_vehicle(&mut up, deadline + ms(120), &invalid).is_empty());
    let deadline = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(deadline)), ["ITEM 2"]);
}

#[test]
fn upload_ignores_requests_beyond_the_count() {
    let mut up = upload(2);
    up.start(ms(0));
    assert!(from_vehicle(&mut up, ms(40), &request_int(2)).is_empty());
}

#[test]
fn upload_resends_the_last_item_until_the_ack() {
    let mut up = upload(2);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    let deadline = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(deadline)), ["ITEM 1"]);
    let deadline = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(deadline)), ["ITEM 1"]);
    from_vehicle(
        &mut up,
        deadline + ms(40),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_confirms_by_count_when_the_accept_was_lost() {
    // ArduPilot answers a repeated last item with ERROR once the upload is complete.
    let mut up = upload(2);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    let deadline = up.next_deadline().expect("running");
    up.poll(deadline);
    let error = ack(MavMissionResult::MAV_MISSION_ERROR, MISSION);
    assert_eq!(from_vehicle(&mut up, deadline + ms(40), &error), ["LIST"]);
    assert_eq!(up.outcome(), None);
    // The LIST is lost once.
    let deadline = up.next_deadline().expect("running");
    assert_eq!(said(&up.poll(deadline)), ["LIST"]);
    from_vehicle(&mut up, deadline + ms(40), &count(2, MISSION));
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_confirmation_fails_when_the_vehicle_holds_another_count() {
    let mut up = upload(2);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    let deadline = up.next_deadline().expect("running");
    up.poll(deadline);
    from_vehicle(
        &mut up,
        deadline + ms(40),
        &ack(MavMissionResult::MAV_MISSION_ERROR, MISSION),
    );
    from_vehicle(&mut up, deadline + ms(80), &count(1, MISSION));
    assert_eq!(
        up.outcome(),
        Some(Err(TransferError::Denied(
            MavMissionResult::MAV_MISSION_ERROR
        )))
    );
}

#[test]
fn upload_confirmation_denied_means_the_vehicle_still_wants_the_last_item() {
    let mut up = upload(2);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    let deadline = up.next_deadline().expect("running");
    up.poll(deadline);
    from_vehicle(
        &mut up,
        deadline + ms(40),
        &ack(MavMissionResult::MAV_MISSION_ERROR, MISSION),
    );
    let denied = ack(MavMissionResult::MAV_MISSION_DENIED, MISSION);
    assert_eq!(
        from_vehicle(&mut up, deadline + ms(80), &denied),
        ["ITEM 1"]
    );
    from_vehicle(
        &mut up,
        deadline + ms(120),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_error_overtaking_the_accept_is_not_a_failure() {
    // The link duplicated our single copy of the last item; the ERROR for the duplicate
    // arrives first.
    let mut up = upload(2);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    let error = ack(MavMissionResult::MAV_MISSION_ERROR, MISSION);
    assert_eq!(from_vehicle(&mut up, ms(120), &error), ["LIST"]);
    from_vehicle(
        &mut up,
        ms(121),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_error_mid_way_is_a_refusal() {
    let mut up = upload(3);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(
        &mut up,
        ms(80),
        &ack(MavMissionResult::MAV_MISSION_ERROR, MISSION),
    );
    assert_eq!(
        up.outcome(),
        Some(Err(TransferError::Denied(
            MavMissionResult::MAV_MISSION_ERROR
        )))
    );
}

#[test]
fn upload_too_big_for_the_vehicle_is_no_space() {
    let mut up = upload(700);
    up.start(ms(0));
    from_vehicle(
        &mut up,
        ms(40),
        &ack(MavMissionResult::MAV_MISSION_NO_SPACE, MISSION),
    );
    assert_eq!(up.outcome(), Some(Err(TransferError::NoSpace)));
    assert!(up.poll(ms(10_000)).is_empty());
}

#[test]
fn upload_refusals_map_to_outcomes() {
    for (result, expected) in [
        (
            MavMissionResult::MAV_MISSION_DENIED,
            TransferError::Denied(MavMissionResult::MAV_MISSION_DENIED),
        ),
        (
            MavMissionResult::MAV_MISSION_UNSUPPORTED,
            TransferError::Unsupported,
        ),
        (
            MavMissionResult::MAV_MISSION_OPERATION_CANCELLED,
            TransferError::CancelledByVehicle,
        ),
        (
            MavMissionResult::MAV_MISSION_INVALID_PARAM1,
            TransferError::Denied(MavMissionResult::MAV_MISSION_INVALID_PARAM1),
        ),
    ] {
        let mut up = upload(3);
        up.start(ms(0));
        from_vehicle(&mut up, ms(40), &request_int(0));
        from_vehicle(&mut up, ms(80), &ack(result, MISSION));
        assert_eq!(up.outcome(), Some(Err(expected)), "{result:?}");
    }
}

#[test]
fn upload_to_a_silent_vehicle_times_out_naming_the_step() {
    let mut up = upload(3);
    up.start(ms(0));
    let mut counts = 1;
    let mut now = ms(0);
    while let Some(deadline) = up.next_deadline() {
        assert!(deadline > now, "deadline must move on");
        now = deadline;
        counts += up.poll(now).len();
    }
    let retries = TransferConfig::default().max_retries;
    assert_eq!(counts, 1 + retries as usize);
    assert_eq!(
        up.outcome(),
        Some(Err(TransferError::Timeout {
            step: Step::Count,
            retries
        }))
    );
    // 30 retries at the initial 250 ms.
    assert_eq!(now, ms(250) * (retries + 1));
}

#[test]
fn upload_stalled_mid_way_times_out_on_that_item() {
    let mut up = upload(5);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    from_vehicle(&mut up, ms(80), &request_int(1));
    while let Some(deadline) = up.next_deadline() {
        up.poll(deadline);
    }
    assert!(matches!(
        up.outcome(),
        Some(Err(TransferError::Timeout {
            step: Step::Item(1),
            ..
        }))
    ));
}

#[test]
fn upload_overall_timeout_wins_over_slow_progress() {
    let config = TransferConfig {
        overall_timeout: Duration::from_secs(2),
        ..TransferConfig::default()
    };
    let mut up = Upload::new(VEHICLE, MISSION, items(100, MISSION), config).expect("fits");
    up.start(ms(0));
    // The vehicle makes progress, slowly: one item every 200 ms.
    for seq in 0..10u16 {
        up.handle(ms(200 * u64::from(seq) + 40), 1, 1, &request_int(seq));
    }
    up.poll(ms(2_000));
    assert!(matches!(
        up.outcome(),
        Some(Err(TransferError::Timeout {
            step: Step::Item(9),
            ..
        }))
    ));
}

#[test]
fn upload_ignores_other_systems_components_types_and_gcses() {
    let config = TransferConfig {
        gcs_system_id: Some(255),
        ..TransferConfig::default()
    };
    let mut up = Upload::new(VEHICLE, MISSION, items(2, MISSION), config).expect("fits");
    up.start(ms(0));
    assert!(up.handle(ms(10), 2, 1, &request_int(0)).is_empty());
    assert!(up.handle(ms(10), 1, 2, &request_int(0)).is_empty());
    let fence_request = MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
        seq: 0,
        target_system: 255,
        target_component: 190,
        mission_type: FENCE,
    });
    assert!(up.handle(ms(10), 1, 1, &fence_request).is_empty());
    let for_other_gcs = MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
        seq: 0,
        target_system: 200,
        target_component: 190,
        mission_type: MISSION,
    });
    assert!(up.handle(ms(10), 1, 1, &for_other_gcs).is_empty());
    // Nor does another system's NO_SPACE end ours.
    up.handle(
        ms(10),
        2,
        1,
        &ack(MavMissionResult::MAV_MISSION_NO_SPACE, MISSION),
    );
    assert_eq!(up.outcome(), None);
    assert_eq!(from_vehicle(&mut up, ms(20), &request_int(0)), ["ITEM 0"]);
}

#[test]
fn upload_cancel_tells_the_vehicle() {
    let mut up = upload(3);
    up.start(ms(0));
    from_vehicle(&mut up, ms(40), &request_int(0));
    assert_eq!(
        said(&up.cancel(ms(50))),
        ["ACK MAV_MISSION_OPERATION_CANCELLED"]
    );
    assert_eq!(up.outcome(), Some(Err(TransferError::Cancelled)));
    assert!(from_vehicle(&mut up, ms(60), &request_int(1)).is_empty());
    assert!(up.cancel(ms(70)).is_empty());
    assert_eq!(up.next_deadline(), None);
}

#[test]
fn upload_of_nothing_is_a_count_of_zero() {
    let mut up = upload(0);
    assert_eq!(said(&up.start(ms(0))), ["COUNT 0"]);
    from_vehicle(
        &mut up,
        ms(40),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), Some(Ok(())));
}

#[test]
fn upload_ignores_a_stale_accept_before_the_end() {
    let mut up = upload(3);
    up.start(ms(0));
    from_vehicle(
        &mut up,
        ms(40),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    from_vehicle(&mut up, ms(50), &request_int(0));
    from_vehicle(
        &mut up,
        ms(60),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(up.outcome(), None);
}

#[test]
fn upload_refuses_more_items_than_the_protocol_numbers() {
    let many = vec![item(0, MISSION); 65_536];
    assert_eq!(
        Upload::new(VEHICLE, MISSION, many, TransferConfig::default()).err(),
        Some(TransferError::TooManyItems(65_536))
    );
}

// ---- download --------------------------------------------------------------------------

fn download() -> Download {
    Download::new(VEHICLE, MISSION, TransferConfig::default())
}

#[test]
fn download_happy_path_keeps_a_window_in_flight() {
    let mut down = download();
    assert_eq!(said(&down.start(ms(0))), ["LIST"]);
    let out = from_vehicle(&mut down, ms(40), &count(10, MISSION));
    assert_eq!(out, (0..8).map(|s| format!("REQ {s}")).collect::<Vec<_>>());
    let all = items(10, MISSION);
    for (i, it) in all.iter().enumerate() {
        let out = from_vehicle(&mut down, ms(80 + i as u64), &item_msg(it));
        match i {
            0 => assert_eq!(out, ["REQ 8"]),
            1 => assert_eq!(out, ["REQ 9"]),
            9 => assert_eq!(out, ["ACK MAV_MISSION_ACCEPTED"]),
            _ => assert!(out.is_empty(), "{i}: {out:?}"),
        }
    }
    assert_eq!(down.outcome(), Some(Ok(all)));
    assert_eq!(
        down.progress(),
        Progress {
            done: 10,
            total: 10
        }
    );
}

#[test]
fn download_accepts_items_in_any_order_and_ignores_duplicates() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(4, MISSION));
    let all = items(4, MISSION);
    for seq in [3, 1, 1, 0, 3] {
        from_vehicle(&mut down, ms(80), &item_msg(&all[seq]));
    }
    assert_eq!(down.progress(), Progress { done: 3, total: 4 });
    assert_eq!(
        from_vehicle(&mut down, ms(90), &item_msg(&all[2])),
        ["ACK MAV_MISSION_ACCEPTED"]
    );
    assert_eq!(down.outcome(), Some(Ok(all)));
}

#[test]
fn download_re_requests_only_what_is_missing() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(4, MISSION));
    let all = items(4, MISSION);
    from_vehicle(&mut down, ms(80), &item_msg(&all[0]));
    from_vehicle(&mut down, ms(80), &item_msg(&all[2]));
    let deadline = down.next_deadline().expect("running");
    assert_eq!(deadline, ms(40) + down.rtt().timeout());
    assert_eq!(said(&down.poll(deadline)), ["REQ 1", "REQ 3"]);
    from_vehicle(&mut down, deadline + ms(40), &item_msg(&all[3]));
    let deadline = down.next_deadline().expect("running");
    assert_eq!(said(&down.poll(deadline)), ["REQ 1"]);
    from_vehicle(&mut down, deadline + ms(40), &item_msg(&all[1]));
    assert_eq!(down.outcome(), Some(Ok(all)));
}

#[test]
fn download_resends_a_lost_list_and_ignores_a_second_count() {
    let mut down = download();
    down.start(ms(0));
    assert_eq!(said(&down.poll(ms(250))), ["LIST"]);
    assert_eq!(
        from_vehicle(&mut down, ms(290), &count(2, MISSION)),
        ["REQ 0", "REQ 1"]
    );
    assert!(from_vehicle(&mut down, ms(291), &count(2, MISSION)).is_empty());
}

#[test]
fn download_restarts_if_the_count_changes() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(2, MISSION));
    from_vehicle(&mut down, ms(80), &item_msg(&item(0, MISSION)));
    assert_eq!(
        from_vehicle(&mut down, ms(90), &count(3, MISSION)),
        ["REQ 0", "REQ 1", "REQ 2"]
    );
    assert_eq!(down.progress(), Progress { done: 0, total: 3 });
}

#[test]
fn download_repeats_its_ack_when_the_vehicle_repeats_itself() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(2, MISSION));
    from_vehicle(&mut down, ms(80), &item_msg(&item(0, MISSION)));
    from_vehicle(&mut down, ms(80), &item_msg(&item(1, MISSION)));
    let accepted = ["ACK MAV_MISSION_ACCEPTED"];
    assert_eq!(
        from_vehicle(&mut down, ms(1000), &item_msg(&item(1, MISSION))),
        accepted
    );
    assert_eq!(
        from_vehicle(&mut down, ms(1000), &count(2, MISSION)),
        accepted
    );
    assert!(from_vehicle(&mut down, ms(1000), &item_msg(&item(0, MISSION))).is_empty());
}

#[test]
fn download_of_an_empty_mission_acks_at_once() {
    let mut down = download();
    down.start(ms(0));
    assert_eq!(
        from_vehicle(&mut down, ms(40), &count(0, MISSION)),
        ["ACK MAV_MISSION_ACCEPTED"]
    );
    assert_eq!(down.outcome(), Some(Ok(Vec::new())));
}

#[test]
fn download_from_a_silent_vehicle_times_out_on_the_list() {
    let mut down = download();
    down.start(ms(0));
    while let Some(deadline) = down.next_deadline() {
        down.poll(deadline);
    }
    assert_eq!(
        down.outcome(),
        Some(Err(TransferError::Timeout {
            step: Step::List,
            retries: 30
        }))
    );
}

#[test]
fn download_times_out_on_items_that_never_come() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(3, MISSION));
    let mut polls = 0;
    while let Some(deadline) = down.next_deadline() {
        polls += 1;
        down.poll(deadline);
    }
    assert_eq!(polls, 31);
    assert!(matches!(
        down.outcome(),
        Some(Err(TransferError::Timeout {
            step: Step::Items,
            ..
        }))
    ));
}

#[test]
fn download_converts_legacy_items_by_rounding() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(1, MISSION));
    let legacy = MavMessage::MISSION_ITEM(MISSION_ITEM_DATA {
        x: 12.345_679,
        y: -12.345_679,
        z: 30.0,
        seq: 0,
        command: MavCmd::MAV_CMD_NAV_WAYPOINT,
        target_system: 255,
        target_component: 190,
        frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        autocontinue: 1,
        ..MISSION_ITEM_DATA::DEFAULT
    });
    from_vehicle(&mut down, ms(80), &legacy);
    let got = down.outcome().expect("done").expect("ok");
    // The f32 nearest 12.345679 is 12.34567928…; truncation would give …792.
    assert_eq!((got[0].x, got[0].y), (123_456_793, -123_456_793));
}

#[test]
fn legacy_conversion_scales_by_frame_and_survives_nonsense() {
    let legacy = |frame, x: f32| MISSION_ITEM_DATA {
        x,
        y: x,
        frame,
        ..MISSION_ITEM_DATA::DEFAULT
    };
    assert_eq!(
        item_from_legacy(&legacy(MavFrame::MAV_FRAME_LOCAL_NED, 1.25)).x,
        12_500
    );
    assert_eq!(
        item_from_legacy(&legacy(MavFrame::MAV_FRAME_MISSION, 3.0)).x,
        3
    );
    assert_eq!(
        item_from_legacy(&legacy(MavFrame::MAV_FRAME_GLOBAL, f32::NAN)).x,
        0
    );
    assert_eq!(
        item_from_legacy(&legacy(MavFrame::MAV_FRAME_GLOBAL, 1e30)).x,
        i32::MAX
    );
}

#[test]
fn download_refusals_end_it_but_stale_errors_do_not() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(3, MISSION));
    from_vehicle(
        &mut down,
        ms(50),
        &ack(MavMissionResult::MAV_MISSION_ERROR, MISSION),
    );
    from_vehicle(
        &mut down,
        ms(50),
        &ack(MavMissionResult::MAV_MISSION_INVALID_SEQUENCE, MISSION),
    );
    assert_eq!(down.outcome(), None);
    from_vehicle(
        &mut down,
        ms(60),
        &ack(MavMissionResult::MAV_MISSION_DENIED, MISSION),
    );
    assert_eq!(
        down.outcome(),
        Some(Err(TransferError::Denied(
            MavMissionResult::MAV_MISSION_DENIED
        )))
    );
}

#[test]
fn download_ignores_other_systems_and_types() {
    let mut down = download();
    down.start(ms(0));
    assert!(down.handle(ms(40), 3, 1, &count(3, MISSION)).is_empty());
    assert!(down.handle(ms(40), 1, 1, &count(3, FENCE)).is_empty());
    assert_eq!(down.progress(), Progress { done: 0, total: 0 });
}

#[test]
fn download_cancel_tells_the_vehicle() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(40), &count(3, MISSION));
    assert_eq!(
        said(&down.cancel(ms(50))),
        ["ACK MAV_MISSION_OPERATION_CANCELLED"]
    );
    assert_eq!(down.outcome(), Some(Err(TransferError::Cancelled)));
    assert!(down.poll(ms(5000)).is_empty());
}

#[test]
fn download_timeout_follows_the_measured_round_trip() {
    let mut down = download();
    down.start(ms(0));
    from_vehicle(&mut down, ms(300), &count(1, MISSION));
    // One sample of 300 ms: srtt 300, rttvar 150, timeout 300 + 4 × 150.
    assert_eq!(down.rtt().timeout(), ms(900));
    assert_eq!(down.next_deadline(), Some(ms(1200)));
}

#[test]
fn rtt_estimator_converges_and_stays_in_bounds() {
    let config = TransferConfig::default();
    let mut rtt = RttEstimator::new(&config);
    assert_eq!(rtt.timeout(), ms(250));
    for _ in 0..50 {
        rtt.sample(ms(40));
    }
    assert_eq!(rtt.smoothed_rtt(), Some(ms(40)));
    // A steady 40 ms keeps a quarter of margin.
    assert_eq!(rtt.timeout(), ms(50));
    for _ in 0..50 {
        rtt.sample(ms(4));
    }
    assert_eq!(rtt.timeout(), config.min_timeout);
    for _ in 0..50 {
        rtt.sample(ms(5_000));
    }
    assert_eq!(rtt.timeout(), config.max_timeout);
}

// ---- clear and set current ---------------------------------------------------------------

#[test]
fn clear_retries_until_acked() {
    let mut clear = Clear::new(VEHICLE, FENCE, TransferConfig::default());
    assert_eq!(said(&clear.start(ms(0))), ["CLEAR"]);
    assert_eq!(said(&clear.poll(ms(250))), ["CLEAR"]);
    // An ack for the mission, not the fence, is not ours.
    from_vehicle(
        &mut clear,
        ms(260),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, MISSION),
    );
    assert_eq!(clear.outcome(), None);
    from_vehicle(
        &mut clear,
        ms(290),
        &ack(MavMissionResult::MAV_MISSION_ACCEPTED, FENCE),
    );
    assert_eq!(clear.outcome(), Some(Ok(())));
    assert_eq!(clear.progress(), Progress { done: 1, total: 1 });
}

#[test]
fn clear_refused_or_unanswered() {
    let mut clear = Clear::new(VEHICLE, MISSION, TransferConfig::default());
    clear.start(ms(0));
    from_vehicle(
        &mut clear,
        ms(40),
        &ack(MavMissionResult::MAV_MISSION_ERROR, MISSION),
    );
    assert_eq!(
        clear.outcome(),
        Some(Err(TransferError::Denied(
            MavMissionResult::MAV_MISSION_ERROR
        )))
    );

    let mut clear = Clear::new(VEHICLE, MISSION, TransferConfig::default());
    clear.start(ms(0));
    while let Some(deadline) = clear.next_deadline() {
        clear.poll(deadline);
    }
    assert_eq!(
        clear.outcome(),
        Some(Err(TransferError::Timeout {
            step: Step::Clear,
            retries: 30
        }))
    );
}

fn command_ack(result: MavResult) -> MavMessage {
    MavMessage::COMMAND_ACK(COMMAND_ACK_DATA {
        command: MavCmd::MAV_CMD_DO_SET_MISSION_CURRENT,
        result,
        target_system: 255,
        target_component: 190,
        ..COMMAND_ACK_DATA::DEFAULT
    })
}

fn mission_current(seq: u16) -> MavMessage {
    MavMessage::MISSION_CURRENT(MISSION_CURRENT_DATA {
        seq,
        ..MISSION_CURRENT_DATA::DEFAULT
    })
}

#[test]
fn set_current_by_command_counts_confirmations() {
    let mut set = SetCurrent::new(
        VEHICLE,
        4,
        SetCurrentMethod::Command,
        TransferConfig::default(),
    );
    assert_eq!(
        said(&set.start(ms(0))),
        ["CMD MAV_CMD_DO_SET_MISSION_CURRENT 4 conf 0"]
    );
    assert_eq!(
        said(&set.poll(ms(250))),
        ["CMD MAV_CMD_DO_SET_MISSION_CURRENT 4 conf 1"]
    );
    // The streamed MISSION_CURRENT still shows the old item.
    from_vehicle(&mut set, ms(260), &mission_current(2));
    assert_eq!(set.outcome(), None);
    from_vehicle(
        &mut set,
        ms(290),
        &command_ack(MavResult::MAV_RESULT_ACCEPTED),
    );
    assert_eq!(set.outcome(), Some(Ok(())));
}

#[test]
fn set_current_completes_on_mission_current() {
    let mut set = SetCurrent::new(
        VEHICLE,
        4,
        SetCurrentMethod::Legacy,
        TransferConfig::default(),
    );
    assert_eq!(said(&set.start(ms(0))), ["SET_CURRENT 4"]);
    from_vehicle(&mut set, ms(40), &mission_current(4));
    assert_eq!(set.outcome(), Some(Ok(())));
}

#[test]
fn set_current_falls_back_when_the_command_is_unsupported() {
    let mut set = SetCurrent::new(
        VEHICLE,
        4,
        SetCurrentMethod::Command,
        TransferConfig::default(),
    );
    set.start(ms(0));
    let out = from_vehicle(
        &mut set,
        ms(40),
        &command_ack(MavResult::MAV_RESULT_UNSUPPORTED),
    );
    assert_eq!(out, ["SET_CURRENT 4"]);
    assert_eq!(said(&set.poll(ms(290))), ["SET_CURRENT 4"]);
    from_vehicle(&mut set, ms(330), &mission_current(4));
    assert_eq!(set.outcome(), Some(Ok(())));
}

#[test]
fn set_current_denied() {
    let mut set = SetCurrent::new(
        VEHICLE,
        99,
        SetCurrentMethod::Command,
        TransferConfig::default(),
    );
    set.start(ms(0));
    from_vehicle(
        &mut set,
        ms(40),
        &command_ack(MavResult::MAV_RESULT_IN_PROGRESS),
    );
    assert_eq!(set.outcome(), None);
    assert!(set
        .handle(ms(40), 9, 1, &command_ack(MavResult::MAV_RESULT_ACCEPTED))
        .is_empty());
    from_vehicle(&mut set, ms(50), &command_ack(MavResult::MAV_RESULT_DENIED));
    assert_eq!(
        set.outcome(),
        Some(Err(TransferError::CommandDenied(
            MavResult::MAV_RESULT_DENIED
        )))
    );
}

// ---- verify ----------------------------------------------------------------------------

#[test]
fn verify_identical_plans_have_no_differences() {
    let plan = items(5, MISSION);
    assert!(verify(MISSION, &plan, &plan).is_empty());
}

#[test]
fn verify_tolerates_home_current_and_int_frames() {
    let plan = items(3, MISSION);
    let mut back = plan.clone();
    back[0].x += 12_345;
    back[0].z = 584.0;
    back[0].frame = MavFrame::MAV_FRAME_GLOBAL;
    back[1].current = true;
    let mut int_frames = plan.clone();
    for it in &mut int_frames {
        it.frame = MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT;
    }
    assert!(verify(MISSION, &plan, &back).is_empty());
    assert!(verify(MISSION, &int_frames, &plan).is_empty());
    // A fence has no home: its item 0 counts.
    let fence = items(3, FENCE);
    let mut fence_back = fence.clone();
    fence_back[0].x += 1;
    assert_eq!(verify(FENCE, &fence, &fence_back).len(), 1);
}

#[test]
fn verify_names_each_differing_field() {
    let plan = items(3, MISSION);
    let mut back = plan.clone();
    back[2].y += 1;
    back[2].param2 = 0.25;
    back[2].command = MavCmd::MAV_CMD_NAV_LOITER_UNLIM;
    back.push(item(3, MISSION));
    let diffs = verify(MISSION, &plan, &back);
    assert_eq!(diffs.len(), 2);
    assert_eq!(
        diffs[0],
        Difference::Count {
            uploaded: 3,
            downloaded: 4
        }
    );
    let Difference::Item { seq, fields, .. } = &diffs[1] else {
        panic!("expected an item difference: {diffs:?}");
    };
    assert_eq!(
        (*seq, fields.as_slice()),
        (2, &["command", "param2", "y"][..])
    );
}

#[test]
fn verify_is_exact_for_floats() {
    let plan = items(2, MISSION);
    let mut back = plan.clone();
    back[1].z = f32::from_bits(plan[1].z.to_bits() + 1);
    assert_eq!(verify(MISSION, &plan, &back).len(), 1);
    // NaN marks "unset" in several commands: NaN sent, NaN back is no difference.
    let mut nan = plan.clone();
    nan[1].param4 = f32::NAN;
    assert!(verify(MISSION, &nan, &nan.clone()).is_empty());
    assert_eq!(verify(MISSION, &nan, &plan).len(), 1);
}
