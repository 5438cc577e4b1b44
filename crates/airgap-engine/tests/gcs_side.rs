//! The engine's side of the protocol, checked by a scripted vehicle on a real loopback UDP
//! socket: the GCS heartbeat, telemetry requests on meeting a vehicle (and again when they
//! go unanswered or the vehicle comes back), loss and recovery.

// REQUEST_DATA_STREAM is "superseded" in the spec but is what ArduPilot honours; the
// tests check the engine sends it.
#![allow(deprecated)]

use std::time::Duration;

use airgap_core::dialect::{MavAutopilot, MavCmd, MavModeFlag, MavState, MavType, HEARTBEAT_DATA};
use airgap_core::MavMessage;
use airgap_engine::{EngineConfig, EngineEvent, EngineHandle, LinkState, VehicleKey};
use airgap_link::{Address, Link, LinkEvent, LinkOptions};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const VEHICLE: VehicleKey = VehicleKey {
    sysid: 7,
    compid: 1,
};

fn config() -> EngineConfig {
    EngineConfig {
        heartbeat_period: Duration::from_millis(200),
        vehicle_timeout: Duration::from_millis(600),
        ..EngineConfig::default()
    }
}

fn heartbeat(autopilot: MavAutopilot) -> MavMessage {
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode: 4,
        mavtype: MavType::MAV_TYPE_QUADROTOR,
        autopilot,
        base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
        system_status: MavState::MAV_STATE_STANDBY,
        mavlink_version: 3,
    })
}

/// A vehicle played by the test, listening where the engine sends.
struct Peer {
    link: Link,
}

impl Peer {
    async fn start(cancel: &CancellationToken) -> (Peer, Address) {
        let link = Link::open(
            &"udpin:127.0.0.1:0".parse().expect("address"),
            LinkOptions::default(),
            cancel.clone(),
        )
        .await
        .expect("peer socket");
        let port = link.local_addr().expect("bound").port();
        let engine_side = format!("udpout:127.0.0.1:{port}").parse().expect("address");
        (Peer { link }, engine_side)
    }

    /// A peer and an engine connected to it.
    async fn with_engine(cancel: &CancellationToken) -> (Peer, EngineHandle) {
        let (peer, address) = Peer::start(cancel).await;
        let engine = EngineHandle::start(config(), cancel.clone());
        engine
            .connect(address, LinkOptions::default())
            .await
            .expect("connect");
        (peer, engine)
    }

    fn send(&self, msg: &MavMessage) {
        self.link
            .sender()
            .send(VEHICLE.sysid, VEHICLE.compid, msg)
            .expect("peer send");
    }

    /// Messages from the engine over `window`.
    async fn collect(&mut self, window: Duration) -> Vec<(u8, u8, MavMessage)> {
        let mut got = Vec::new();
        let _ = timeout(window, async {
            while let Some(event) = self.link.recv().await {
                if let LinkEvent::Frame { frame, .. } = event {
                    got.push((frame.sysid(), frame.compid(), frame.msg));
                }
            }
        })
        .await;
        got
    }
}

fn stream_requests(msgs: &[(u8, u8, MavMessage)]) -> usize {
    msgs.iter()
        .filter(|(_, _, m)| {
            matches!(m, MavMessage::REQUEST_DATA_STREAM(r)
                if r.target_system == VEHICLE.sysid && r.target_component == VEHICLE.compid && r.start_stop == 1)
        })
        .count()
}

fn interval_requests(msgs: &[(u8, u8, MavMessage)]) -> usize {
    msgs.iter()
        .filter(|(_, _, m)| {
            matches!(m, MavMessage::COMMAND_LONG(c)
                if c.command == MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL && c.target_system == VEHICLE.sysid)
        })
        .count()
}

#[tokio::test]
async fn engine_heartbeats_and_asks_an_ardupilot_for_streams_until_it_gets_them() {
    let cancel = CancellationToken::new();
    let (mut peer, _engine) = Peer::with_engine(&cancel).await;

    // Before any vehicle: only the ground station's heartbeat, from 255/190, about 5 a second.
    let first = peer.collect(Duration::from_millis(1000)).await;
    let heartbeats = first
        .iter()
        .filter(|(s, c, m)| {
            *s == 255
                && *c == 190
                && matches!(m, MavMessage::HEARTBEAT(h) if h.mavtype == MavType::MAV_TYPE_GCS)
        })
        .count();
    assert!(
        (3..=7).contains(&heartbeats),
        "{heartbeats} GCS heartbeats in 1 s at 5 Hz"
    );
    assert_eq!(
        stream_requests(&first),
        0,
        "no requests before a vehicle is heard"
    );

    // The vehicle introduces itself but never streams: the engine asks, then asks again.
    peer.send(&heartbeat(MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA));
    let asked = peer.collect(Duration::from_millis(300)).await;
    assert_eq!(
        stream_requests(&asked),
        7,
        "one REQUEST_DATA_STREAM per ArduPilot stream group"
    );
    let mut later = Vec::new();
    for _ in 0..6 {
        peer.send(&heartbeat(MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA));
        later.extend(peer.collect(Duration::from_millis(200)).await);
    }
    assert!(
        stream_requests(&later) >= 7,
        "unanswered requests are repeated"
    );
    cancel.cancel();
}

#[tokio::test]
async fn a_px4_gets_message_interval_commands() {
    let cancel = CancellationToken::new();
    let (mut peer, _engine) = Peer::with_engine(&cancel).await;
    let _ = peer.collect(Duration::from_millis(300)).await;
    peer.send(&heartbeat(MavAutopilot::MAV_AUTOPILOT_PX4));
    let asked = peer.collect(Duration::from_millis(300)).await;
    assert!(
        interval_requests(&asked) >= 5,
        "SET_MESSAGE_INTERVAL for the instruments' messages"
    );
    assert_eq!(stream_requests(&asked), 0);
    cancel.cancel();
}

#[tokio::test]
async fn silence_is_link_loss_and_a_heartbeat_is_recovery() {
    let cancel = CancellationToken::new();
    let (mut peer, engine) = Peer::with_engine(&cancel).await;
    let mut events = engine.subscribe();
    let _ = peer.collect(Duration::from_millis(300)).await;
    peer.send(&heartbeat(MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA));
    let _ = peer.collect(Duration::from_millis(300)).await;

    let (t, _) = engine.telemetry(None).await.expect("telemetry");
    assert_eq!(t.links[0].state, LinkState::Up);
    assert_eq!(t.vehicles[0].state.mode_name().as_deref(), Some("GUIDED"));

    // 600 ms timeout: after a second of silence the vehicle is lost.
    let _ = peer.collect(Duration::from_millis(1000)).await;
    let (t, _) = engine.telemetry(None).await.expect("telemetry");
    assert!(t.vehicles[0].lost);
    assert_eq!(t.links[0].state, LinkState::Lost);

    peer.send(&heartbeat(MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA));
    let again = peer.collect(Duration::from_millis(300)).await;
    let (t, _) = engine.telemetry(None).await.expect("telemetry");
    assert!(!t.vehicles[0].lost);
    assert_eq!(t.links[0].state, LinkState::Up);
    assert_eq!(
        stream_requests(&again),
        7,
        "a vehicle that comes back is asked for streams again"
    );

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let position = |want: &dyn Fn(&EngineEvent) -> bool| seen.iter().position(want);
    let discovered =
        position(&|e| matches!(e, EngineEvent::VehicleDiscovered { key, .. } if *key == VEHICLE));
    let lost = position(&|e| matches!(e, EngineEvent::VehicleLost { key } if *key == VEHICLE));
    let recovered =
        position(&|e| matches!(e, EngineEvent::VehicleRecovered { key } if *key == VEHICLE));
    assert!(
        matches!((discovered, lost, recovered), (Some(d), Some(l), Some(r)) if d < l && l < r),
        "discovered, lost, recovered, in that order: {seen:?}"
    );
    cancel.cancel();
}
