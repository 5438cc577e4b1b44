//! Telemetry forwarding through the egress gate, against the simulator over real loopback
//! UDP: what a forward receives is byte-identical to what the vehicle sent, commands from a
//! forward reach the vehicle, and a sealed gate refuses a non-loopback forward (and a
//! non-loopback vehicle link) before any socket exists, counting each refusal.

// The other ground station and the byte-for-byte observer are raw sockets on 127.0.0.1: a
// test fixture, not a feature that needs the egress gate.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "test peers are raw loopback UDP sockets"
)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use airgap_core::dialect::{
    MavAutopilot, MavCmd, MavModeFlag, MavState, MavType, COMMAND_LONG_DATA, HEARTBEAT_DATA,
};
use airgap_core::frame::{parse_slice, Frame};
use airgap_core::MavMessage;
use airgap_egress::{Destination, Gate, RefusalReason};
use airgap_engine::{EngineConfig, EngineError, EngineHandle};
use airgap_link::{Address, LinkOptions};
use airgap_sim::{Sim, SimConfig};
use tokio::net::UdpSocket;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
/// The other ground station's ids: not the engine's 255, so its frames are told apart.
const OTHER_GCS: (u8, u8) = (250, 190);

fn addr(s: &str) -> Address {
    s.parse().expect("test address parses")
}

async fn loopback_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback UDP socket")
}

fn port(socket: &UdpSocket) -> u16 {
    socket.local_addr().expect("bound").port()
}

/// Every MAVLink frame in one datagram.
fn frames(datagram: &[u8]) -> Vec<Frame> {
    parse_slice(datagram)
        .flatten()
        .map(|f| f.into_frame())
        .collect()
}

fn gcs_heartbeat() -> MavMessage {
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode: 0,
        mavtype: MavType::MAV_TYPE_GCS,
        autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
        base_mode: MavModeFlag::empty(),
        system_status: MavState::MAV_STATE_ACTIVE,
        mavlink_version: 3,
    })
}

/// Receives one datagram within `limit`, or `None`.
async fn recv(socket: &UdpSocket, limit: Duration) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 65_536];
    match timeout(limit, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((buf[..n].to_vec(), from)),
        Ok(Err(e)) => panic!("receive failed: {e}"),
        Err(_) => None,
    }
}

/// A simulator serving on a free loopback UDP port, and that port.
async fn sim(cancel: &CancellationToken) -> (Sim, u16) {
    let sim = Sim::start(
        &addr("udpin:127.0.0.1:0"),
        SimConfig::default(),
        cancel.clone(),
    )
    .await
    .expect("simulator starts");
    let port = sim.local_addr().expect("bound").port();
    (sim, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_receives_the_vehicles_frames_byte_for_byte() {
    let cancel = CancellationToken::new();
    let (_sim, sim_port) = sim(&cancel).await;

    // An observer the simulator also serves (udpin answers every peer it hears), so the test
    // sees exactly the bytes the vehicle sent.
    let observer = loopback_socket().await;
    let hello = Frame::encode_v2(254, 190, 0, &gcs_heartbeat()).raw;
    observer
        .send_to(&hello, ("127.0.0.1", sim_port))
        .await
        .expect("observer says hello");
    recv(&observer, WAIT)
        .await
        .expect("the simulator answers the observer");
    let seen_directly: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    let stop_observing = CancellationToken::new();
    let observing = {
        let seen = Arc::clone(&seen_directly);
        let stop = stop_observing.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    got = observer.recv_from(&mut buf) => {
                        let (n, _) = got.expect("observer receives");
                        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                        seen.extend(frames(&buf[..n]).into_iter().map(|f| f.raw));
                    }
                }
            }
        })
    };

    let other_gcs = loopback_socket().await;
    let engine = EngineHandle::start(EngineConfig::default(), cancel.clone());
    let forward = engine
        .add_forward(addr(&format!("udpout:127.0.0.1:{}", port(&other_gcs))))
        .await
        .expect("a loopback forward opens");
    engine
        .connect(
            addr(&format!("udpout:127.0.0.1:{sim_port}")),
            LinkOptions::default(),
        )
        .await
        .expect("the vehicle link opens");

    let mut forwarded = Vec::new();
    let until = Instant::now() + WAIT;
    while forwarded.len() < 50 {
        let left = until.saturating_duration_since(Instant::now());
        let Some((datagram, _)) = recv(&other_gcs, left).await else {
            break;
        };
        forwarded.extend(frames(&datagram));
    }
    // Let the observer catch up with what the forward already carried.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_observing.cancel();
    observing.await.expect("observer task");

    assert!(
        forwarded.len() >= 50,
        "only {} frames forwarded in {WAIT:?}",
        forwarded.len()
    );
    assert!(
        forwarded.iter().all(|f| f.sysid() == 1),
        "only the vehicle's frames are forwarded, not the engine's own"
    );
    assert!(forwarded
        .iter()
        .any(|f| matches!(f.msg, MavMessage::HEARTBEAT(_))));
    let seen = seen_directly
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for frame in &forwarded {
        assert!(
            seen.contains(&frame.raw),
            "forwarded frame {:?} (seq {}) differs from what the vehicle sent",
            frame.msg,
            frame.seq()
        );
    }

    let forwards = engine.forwards().await.expect("forwards");
    assert_eq!(forwards.len(), 1);
    assert_eq!(forwards[0].id, forward);
    assert!(forwards[0].stats.tx_frames >= forwarded.len() as u64);
    assert_eq!(forwards[0].stats.dropped, 0);

    engine.remove_forward(forward).await.expect("remove");
    assert!(engine.forwards().await.expect("forwards").is_empty());
    assert!(matches!(
        engine.remove_forward(forward).await,
        Err(EngineError::NoSuchForward(_))
    ));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_from_a_forward_reach_the_vehicle() {
    let cancel = CancellationToken::new();
    let (_sim, sim_port) = sim(&cancel).await;
    let other_gcs = loopback_socket().await;
    let engine = EngineHandle::start(EngineConfig::default(), cancel.clone());
    engine
        .add_forward(addr(&format!("udpout:127.0.0.1:{}", port(&other_gcs))))
        .await
        .expect("a loopback forward opens");
    engine
        .connect(
            addr(&format!("udpout:127.0.0.1:{sim_port}")),
            LinkOptions::default(),
        )
        .await
        .expect("the vehicle link opens");

    // The forward's own socket is where its datagrams come from: answer there.
    let (_, forward_at) = recv(&other_gcs, WAIT)
        .await
        .expect("the forward sends the vehicle's telemetry");
    let arm = MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
        target_system: 1,
        target_component: 1,
        command: MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        param1: 1.0,
        ..COMMAND_LONG_DATA::DEFAULT
    });
    let deadline = Instant::now() + WAIT;
    let mut seq = 0u8;
    let mut next_send = Instant::now();
    let ack = loop {
        let now = Instant::now();
        assert!(
            now < deadline,
            "no COMMAND_ACK for the arm command came back"
        );
        // Resent every second, as a ground station does; the engine never sends this one.
        if now >= next_send {
            let raw = Frame::encode_v2(OTHER_GCS.0, OTHER_GCS.1, seq, &arm).raw;
            seq = seq.wrapping_add(1);
            other_gcs
                .send_to(&raw, forward_at)
                .await
                .expect("send the command into the forward");
            next_send = now + Duration::from_secs(1);
        }
        let Some((datagram, _)) = recv(&other_gcs, Duration::from_millis(200)).await else {
            continue;
        };
        let found = frames(&datagram).into_iter().find_map(|f| match f.msg {
            MavMessage::COMMAND_ACK(ack) if ack.command == MavCmd::MAV_CMD_COMPONENT_ARM_DISARM => {
                Some(ack)
            }
            _ => None,
        });
        if let Some(ack) = found {
            break ack;
        }
    };
    // Accepted or refused (no GPS fix yet, say): either way the vehicle heard and answered.
    tracing::info!(?ack.result, "arm answered");
    let forwards = engine.forwards().await.expect("forwards");
    assert!(forwards[0].stats.rx_frames >= 1);
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_gate_refuses_remote_forwards_and_links_and_the_vehicle_keeps_flying() {
    let cancel = CancellationToken::new();
    let (_sim, sim_port) = sim(&cancel).await;
    let gate = Gate::new(true);
    let audited: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let audited = Arc::clone(&audited);
        gate.on_refusal(Box::new(move |r| {
            audited
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(format!("{}|{}", r.purpose, r.destination));
        }));
    }
    let config = EngineConfig {
        gate: gate.clone(),
        ..EngineConfig::default()
    };
    let engine = EngineHandle::start(config, cancel.clone());
    engine
        .connect(
            addr(&format!("udpout:127.0.0.1:{sim_port}")),
            LinkOptions::default(),
        )
        .await
        .expect("a loopback vehicle link opens while sealed");

    // TEST-NET-1: refused before any socket is made, so nothing is ever sent there.
    let err = engine
        .add_forward(addr("udpout:192.0.2.1:14550"))
        .await
        .expect_err("a non-loopback forward is refused while sealed");
    let EngineError::Refused(refused) = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(
        refused.destination(),
        &Destination::Socket("192.0.2.1:14550".parse().expect("socket address"))
    );
    assert_eq!(refused.reason(), RefusalReason::Sealed);
    let text = err.to_string();
    assert!(
        text.contains("192.0.2.1:14550") && text.contains("seal"),
        "{text}"
    );
    assert_eq!(gate.refused_count(), 1);

    // A name is refused without being looked up.
    let err = engine
        .add_forward(addr("tcp:gcs.example:5760"))
        .await
        .expect_err("a host name is refused while sealed");
    assert!(
        matches!(&err, EngineError::Refused(r) if r.reason() == RefusalReason::HostName),
        "{err}"
    );
    // A listener on every interface would answer any network.
    assert!(matches!(
        engine.add_forward(addr("udpin:0.0.0.0:0")).await,
        Err(EngineError::Refused(_))
    ));
    // The vehicle side goes through the same gate.
    assert!(matches!(
        engine
            .connect(addr("udpout:192.0.2.1:14550"), LinkOptions::default())
            .await,
        Err(EngineError::Refused(_))
    ));
    assert_eq!(gate.refused_count(), 4);
    assert_eq!(
        *audited.lock().unwrap_or_else(PoisonError::into_inner),
        vec![
            "telemetry forward|192.0.2.1:14550".to_string(),
            "telemetry forward|gcs.example:5760".to_string(),
            "telemetry forward|0.0.0.0:0".to_string(),
            "vehicle link|192.0.2.1:14550".to_string(),
        ]
    );
    assert!(
        engine.forwards().await.expect("forwards").is_empty(),
        "nothing was opened"
    );
    let (t, _) = engine.telemetry(None).await.expect("telemetry");
    assert_eq!(t.links.len(), 1, "the refused link was never added");

    // Loopback still forwards while sealed, and the vehicle link never noticed any of it.
    let other_gcs = loopback_socket().await;
    engine
        .add_forward(addr(&format!("udpout:127.0.0.1:{}", port(&other_gcs))))
        .await
        .expect("a loopback forward is not egress");
    engine
        .wait_for_vehicle(WAIT)
        .await
        .expect("the vehicle is heard over loopback while sealed");
    recv(&other_gcs, WAIT)
        .await
        .expect("the loopback forward carries telemetry while sealed");
    assert_eq!(gate.refused_count(), 4);
    cancel.cancel();
}

#[tokio::test]
async fn a_replay_is_not_a_forward() {
    let engine = EngineHandle::start(EngineConfig::default(), CancellationToken::new());
    assert!(matches!(
        engine.add_forward(addr("replay:x.tlog")).await,
        Err(EngineError::NotForwardable(_))
    ));
    engine.shutdown();
}
