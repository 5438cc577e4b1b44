//! Parameters, missions and MAVFTP served over a real UDP loopback link, driven with raw
//! messages by a plain `airgap-link` client (the engine's protocol machines come later).

use std::collections::BTreeMap;
use std::time::Duration;

use airgap_core::dialect::{
    MavAutopilot, MavCmd, MavFrame, MavMissionResult, MavMissionType, MavProtocolCapability,
    MavType, AUTOPILOT_VERSION_DATA, COMMAND_LONG_DATA, HEARTBEAT_DATA, MISSION_COUNT_DATA,
    MISSION_REQUEST_INT_DATA, MISSION_REQUEST_LIST_DATA, PARAM_REQUEST_LIST_DATA,
};
use airgap_core::frame::Frame;
use airgap_core::ftp::{Opcode, Payload};
use airgap_core::mavlink::MessageData;
use airgap_core::mission::MissionItem;
use airgap_core::MavMessage;
use airgap_link::{Address, Link, LinkEvent, LinkOptions};
use airgap_sim::{Sim, SimConfig};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

const GCS_SYSID: u8 = 255;
const GCS_COMPID: u8 = 190;
/// Generous for a shared machine: a full parameter list takes about 2 s.
const ARRIVES: Duration = Duration::from_secs(15);

struct Rig {
    gcs: Link,
    _sim: Sim,
    cancel: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A simulator on `udpin:127.0.0.1:0` and a client that has introduced itself.
async fn rig(config: SimConfig) -> Rig {
    let cancel = CancellationToken::new();
    let address: Address = "udpin:127.0.0.1:0".parse().expect("address parses");
    let sim = Sim::start(&address, config, cancel.clone())
        .await
        .expect("sim starts");
    let port = sim.local_addr().expect("udpin binds a port").port();
    let client: Address = format!("udpout:127.0.0.1:{port}")
        .parse()
        .expect("address parses");
    let gcs = timeout(
        ARRIVES,
        Link::open(&client, LinkOptions::default(), cancel.child_token()),
    )
    .await
    .expect("client opens in time")
    .expect("client opens");
    let rig = Rig {
        gcs,
        _sim: sim,
        cancel,
    };
    // A udpin peer learns where to send from the first datagram it gets.
    rig.send(&MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        mavtype: MavType::MAV_TYPE_GCS,
        autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
        mavlink_version: 3,
        ..HEARTBEAT_DATA::default()
    }));
    rig
}

impl Rig {
    fn send(&self, msg: &MavMessage) {
        self.gcs
            .sender()
            .send(GCS_SYSID, GCS_COMPID, msg)
            .expect("client sends");
    }

    /// The next vehicle message for which `pick` returns something.
    async fn expect<T>(&mut self, what: &str, pick: impl Fn(&Frame) -> Option<T>) -> T {
        let deadline = Instant::now() + ARRIVES;
        loop {
            let event = tokio::time::timeout_at(deadline, self.gcs.recv())
                .await
                .unwrap_or_else(|_| panic!("{what}: nothing within {ARRIVES:?}"));
            match event {
                Some(LinkEvent::Frame { frame, .. }) => {
                    if let Some(found) = pick(&frame) {
                        return found;
                    }
                }
                Some(_) => {}
                None => panic!("{what}: the client link closed"),
            }
        }
    }

    async fn autopilot_version(&mut self) -> AUTOPILOT_VERSION_DATA {
        self.send(&MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
            param1: AUTOPILOT_VERSION_DATA::ID as f32,
            command: MavCmd::MAV_CMD_REQUEST_MESSAGE,
            target_system: 1,
            target_component: 1,
            ..COMMAND_LONG_DATA::default()
        }));
        self.expect("AUTOPILOT_VERSION", |f| match &f.msg {
            MavMessage::AUTOPILOT_VERSION(v) => Some(v.clone()),
            _ => None,
        })
        .await
    }
}

fn waypoint(seq: u16) -> MissionItem {
    MissionItem {
        seq,
        frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        command: MavCmd::MAV_CMD_NAV_WAYPOINT,
        current: false,
        autocontinue: true,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: -353_632_610 + 1000 * i32::from(seq),
        y: 1_491_652_300,
        z: 25.0,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_parameter_list_arrives_with_telemetry_between() {
    let mut rig = rig(SimConfig::default()).await;
    rig.send(&MavMessage::PARAM_REQUEST_LIST(PARAM_REQUEST_LIST_DATA {
        target_system: 1,
        target_component: 1,
    }));
    let mut seen = BTreeMap::new();
    let mut count = None;
    let mut attitudes_meanwhile = 0;
    while count.is_none_or(|c| seen.len() < c) {
        let value = rig
            .expect("PARAM_VALUE", |f| match &f.msg {
                MavMessage::PARAM_VALUE(v) => Some(Some(v.clone())),
                MavMessage::ATTITUDE(_) => Some(None),
                _ => None,
            })
            .await;
        match value {
            Some(v) => {
                count = Some(usize::from(v.param_count));
                seen.insert(v.param_index, v);
            }
            None if !seen.is_empty() => attitudes_meanwhile += 1,
            None => {}
        }
    }
    let count = count.expect("at least one PARAM_VALUE");
    assert!(count > 900, "{count} parameters");
    assert_eq!(seen.len(), count);
    assert!(attitudes_meanwhile > 5, "telemetry kept flowing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_uploads_with_legacy_requests_and_downloads_with_item_int() {
    let mut rig = rig(SimConfig::default()).await;
    let items: Vec<MissionItem> = (0..20).map(waypoint).collect();
    rig.send(&MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
        count: 20,
        target_system: 1,
        target_component: 1,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        opaque_id: 0,
    }));
    let result = loop {
        #[allow(deprecated)]
        let next = rig
            .expect("MISSION_REQUEST or ACK", |f| match &f.msg {
                MavMessage::MISSION_REQUEST(r) => {
                    assert_eq!(
                        (r.target_system, r.target_component),
                        (GCS_SYSID, GCS_COMPID)
                    );
                    Some(Ok(r.seq))
                }
                MavMessage::MISSION_ACK(a) => Some(Err(a.mavtype)),
                _ => None,
            })
            .await;
        match next {
            Ok(seq) => rig.send(&MavMessage::MISSION_ITEM_INT(
                items[usize::from(seq)].to_wire(1, 1),
            )),
            Err(result) => break result,
        }
    };
    assert_eq!(result, MavMissionResult::MAV_MISSION_ACCEPTED);

    rig.send(&MavMessage::MISSION_REQUEST_LIST(
        MISSION_REQUEST_LIST_DATA {
            target_system: 1,
            target_component: 1,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        },
    ));
    let count = rig
        .expect("MISSION_COUNT", |f| match &f.msg {
            MavMessage::MISSION_COUNT(c) => Some(c.count),
            _ => None,
        })
        .await;
    assert_eq!(count, 20);
    for seq in 1..count {
        rig.send(&MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
            seq,
            target_system: 1,
            target_component: 1,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        }));
        let item = rig
            .expect("MISSION_ITEM_INT", |f| match &f.msg {
                MavMessage::MISSION_ITEM_INT(i) => Some(MissionItem::from_wire(i)),
                _ => None,
            })
            .await;
        assert_eq!(item, items[usize::from(seq)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_big_a_mission_gets_no_space_over_the_link() {
    let mut rig = rig(SimConfig::default()).await;
    rig.send(&MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
        count: 701,
        target_system: 1,
        target_component: 1,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        opaque_id: 0,
    }));
    let result = rig
        .expect("MISSION_ACK", |f| match &f.msg {
            MavMessage::MISSION_ACK(a) => Some(a.mavtype),
            _ => None,
        })
        .await;
    assert_eq!(result, MavMissionResult::MAV_MISSION_NO_SPACE);
}

/// ResetSessions, the smallest FTP exchange: a vehicle with FTP answers it.
fn ftp_reset() -> MavMessage {
    Payload::request(0, 0, Opcode::ResetSessions, 0).to_message(1, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_is_advertised_and_answered_when_on() {
    let mut rig = rig(SimConfig::default()).await;
    let version = rig.autopilot_version().await;
    assert!(version
        .capabilities
        .contains(MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_FTP));
    rig.send(&ftp_reset());
    rig.expect("an FTP reply", |f| match &f.msg {
        MavMessage::FILE_TRANSFER_PROTOCOL(r) => {
            assert_eq!(
                (r.target_system, r.target_component),
                (GCS_SYSID, GCS_COMPID)
            );
            Some(())
        }
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ftp_it_is_neither_advertised_nor_answered() {
    let mut rig = rig(SimConfig {
        ftp: false,
        ..SimConfig::default()
    })
    .await;
    let version = rig.autopilot_version().await;
    assert!(!version
        .capabilities
        .contains(MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_FTP));
    rig.send(&ftp_reset());
    // Two heartbeats' worth of silence on FTP, with the vehicle clearly alive meanwhile.
    for _ in 0..2 {
        rig.expect("HEARTBEAT and no FTP", |f| match &f.msg {
            MavMessage::FILE_TRANSFER_PROTOCOL(_) => panic!("answered FTP with it off"),
            MavMessage::HEARTBEAT(_) => Some(()),
            _ => None,
        })
        .await;
    }
}
