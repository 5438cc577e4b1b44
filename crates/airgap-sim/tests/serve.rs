//! The simulator served over real loopback sockets and a real pty, talked to by a plain
//! `airgap-link` client, as a ground station would.

use std::time::Duration;

use airgap_core::dialect::{
    MavAutopilot, MavCmd, MavResult, MavType, ATTITUDE_DATA, AUTOPILOT_VERSION_DATA,
    COMMAND_ACK_DATA, COMMAND_LONG_DATA, HEARTBEAT_DATA,
};
use airgap_core::frame::Frame;
use airgap_core::mavlink::{Message, MessageData};
use airgap_core::MavMessage;
use airgap_link::{Address, Faults, Link, LinkEvent, LinkOptions};
use airgap_sim::{Sim, SimConfig, SimError};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

const GCS_SYSID: u8 = 255;
const GCS_COMPID: u8 = 190;
/// Generous: the machine is shared, and the simulator's first ATTITUDE is due within 0.1 s.
const ARRIVES: Duration = Duration::from_secs(10);

fn addr(s: &str) -> Address {
    s.parse().expect("test address parses")
}

async fn client(address: &str, cancel: &CancellationToken) -> Link {
    timeout(
        ARRIVES,
        Link::open(&addr(address), LinkOptions::default(), cancel.child_token()),
    )
    .await
    .expect("client link opens in time")
    .expect("client link opens")
}

fn gcs_heartbeat() -> MavMessage {
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        mavtype: MavType::MAV_TYPE_GCS,
        autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
        mavlink_version: 3,
        ..HEARTBEAT_DATA::default()
    })
}

fn command(target_system: u8, command: MavCmd, p: [f32; 7]) -> MavMessage {
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

fn send(link: &Link, msg: &MavMessage) {
    link.sender()
        .send(GCS_SYSID, GCS_COMPID, msg)
        .expect("client sends");
}

/// The next frame for which `wanted` holds, failing the test after [`ARRIVES`].
async fn expect_frame(link: &mut Link, what: &str, wanted: impl Fn(&Frame) -> bool) -> Frame {
    let deadline = Instant::now() + ARRIVES;
    loop {
        let event = tokio::time::timeout_at(deadline, link.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: nothing within {ARRIVES:?}"));
        match event {
            Some(LinkEvent::Frame { frame, .. }) if wanted(&frame) => return frame,
            Some(_) => {}
            None => panic!("{what}: the client link closed"),
        }
    }
}

/// Every frame that arrives in `window`.
async fn frames_during(link: &mut Link, window: Duration) -> Vec<Frame> {
    let deadline = Instant::now() + window;
    let mut frames = Vec::new();
    while let Ok(event) = tokio::time::timeout_at(deadline, link.recv()).await {
        match event {
            Some(LinkEvent::Frame { frame, .. }) => frames.push(frame),
            Some(_) => {}
            None => break,
        }
    }
    frames
}

fn is(frame: &Frame, sysid: u8, message_id: u32) -> bool {
    frame.sysid() == sysid && frame.compid() == 1 && frame.msg.message_id() == message_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_gcs_hears_heartbeat_and_attitude_after_introducing_itself() {
    let cancel = CancellationToken::new();
    let sim = Sim::start(
        &addr("udpin:127.0.0.1:0"),
        SimConfig::default(),
        cancel.clone(),
    )
    .await
    .expect("sim starts");
    let port = sim.local_addr().expect("udpin binds a port").port();
    assert_ne!(port, 0);
    let mut gcs = client(&format!("udpout:127.0.0.1:{port}"), &cancel).await;
    // A udpin peer learns where to send from the first datagram it gets.
    send(&gcs, &gcs_heartbeat());
    let hb = expect_frame(&mut gcs, "HEARTBEAT", |f| is(f, 1, HEARTBEAT_DATA::ID)).await;
    let MavMessage::HEARTBEAT(hb) = hb.msg else {
        unreachable!("filtered on the id");
    };
    assert_eq!(hb.mavtype, MavType::MAV_TYPE_QUADROTOR);
    assert_eq!(hb.autopilot, MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA);
    expect_frame(&mut gcs, "ATTITUDE", |f| is(f, 1, ATTITUDE_DATA::ID)).await;
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udpout_sim_feeds_a_listening_gcs_like_sitl() {
    let cancel = CancellationToken::new();
    let mut gcs = client("udpin:127.0.0.1:0", &cancel).await;
    let port = gcs.local_addr().expect("udpin binds a port").port();
    let _sim = Sim::start(
        &addr(&format!("udpout:127.0.0.1:{port}")),
        SimConfig::default(),
        cancel.clone(),
    )
    .await
    .expect("sim starts");
    expect_frame(&mut gcs, "HEARTBEAT", |f| is(f, 1, HEARTBEAT_DATA::ID)).await;
    expect_frame(&mut gcs, "ATTITUDE", |f| is(f, 1, ATTITUDE_DATA::ID)).await;
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_commands_are_acknowledged() {
    let cancel = CancellationToken::new();
    let sim = Sim::start(
        &addr("tcpin:127.0.0.1:0"),
        SimConfig::default(),
        cancel.clone(),
    )
    .await
    .expect("sim starts");
    let port = sim.local_addr().expect("tcpin binds a port").port();
    let mut gcs = client(&format!("tcp:127.0.0.1:{port}"), &cancel).await;
    expect_frame(&mut gcs, "HEARTBEAT", |f| is(f, 1, HEARTBEAT_DATA::ID)).await;

    let version_id = AUTOPILOT_VERSION_DATA::ID as f32;
    send(
        &gcs,
        &command(
            1,
            MavCmd::MAV_CMD_REQUEST_MESSAGE,
            [version_id, 0., 0., 0., 0., 0., 0.],
        ),
    );
    let ack = expect_frame(&mut gcs, "COMMAND_ACK", |f| is(f, 1, COMMAND_ACK_DATA::ID)).await;
    let MavMessage::COMMAND_ACK(ack) = ack.msg else {
        unreachable!("filtered on the id");
    };
    assert_eq!(ack.command, MavCmd::MAV_CMD_REQUEST_MESSAGE);
    assert_eq!(ack.result, MavResult::MAV_RESULT_ACCEPTED);
    expect_frame(&mut gcs, "AUTOPILOT_VERSION", |f| {
        is(f, 1, AUTOPILOT_VERSION_DATA::ID)
    })
    .await;
    sim.stop().await;
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_vehicles_have_two_sysids_and_commands_reach_only_their_target() {
    let cancel = CancellationToken::new();
    let config = SimConfig {
        sysid: 10,
        vehicles: 2,
        ..SimConfig::default()
    };
    let sim = Sim::start(&addr("tcpin:127.0.0.1:0"), config, cancel.clone())
        .await
        .expect("sim starts");
    assert_eq!(sim.sysids(), [10, 11]);
    let port = sim.local_addr().expect("tcpin binds a port").port();
    let mut gcs = client(&format!("tcp:127.0.0.1:{port}"), &cancel).await;
    expect_frame(&mut gcs, "HEARTBEAT from 10", |f| {
        is(f, 10, HEARTBEAT_DATA::ID)
    })
    .await;
    expect_frame(&mut gcs, "HEARTBEAT from 11", |f| {
        is(f, 11, HEARTBEAT_DATA::ID)
    })
    .await;

    // Arming before the GPS fix is refused, so the answer itself shows who handled it.
    send(
        &gcs,
        &command(
            11,
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0., 0., 0., 0., 0., 0.],
        ),
    );
    let ack_id = COMMAND_ACK_DATA::ID;
    let frames = frames_during(&mut gcs, Duration::from_secs(1)).await;
    let acks: Vec<u8> = frames
        .iter()
        .filter(|f| f.msg.message_id() == ack_id)
        .map(Frame::sysid)
        .collect();
    assert_eq!(acks, [11], "only vehicle 11 answers a command for 11");
    cancel.cancel();
}

#[allow(deprecated)] // REQUEST_DATA_STREAM: what GCSes send to ArduPilot first.
fn request_all_streams(target_system: u8, rate_hz: u16) -> MavMessage {
    use airgap_core::dialect::{MavDataStream, REQUEST_DATA_STREAM_DATA};
    MavMessage::REQUEST_DATA_STREAM(REQUEST_DATA_STREAM_DATA {
        req_message_rate: rate_hz,
        target_system,
        target_component: 1,
        req_stream_id: MavDataStream::MAV_DATA_STREAM_ALL,
        start_stop: 1,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_port_stays_quiet_until_streams_are_requested() {
    let cancel = CancellationToken::new();
    let config = SimConfig {
        wait_for_stream_request: true,
        ..SimConfig::default()
    };
    let sim = Sim::start(&addr("tcpin:127.0.0.1:0"), config, cancel.clone())
        .await
        .expect("sim starts");
    let port = sim.local_addr().expect("tcpin binds a port").port();
    let mut gcs = client(&format!("tcp:127.0.0.1:{port}"), &cancel).await;
    let frames = frames_during(&mut gcs, Duration::from_millis(2500)).await;
    assert!(
        frames.iter().any(|f| is(f, 1, HEARTBEAT_DATA::ID)),
        "heartbeats flow"
    );
    for f in &frames {
        assert!(
            matches!(f.msg, MavMessage::HEARTBEAT(_) | MavMessage::STATUSTEXT(_)),
            "{} before any request",
            f.msg.message_name()
        );
    }
    send(&gcs, &request_all_streams(1, 10));
    expect_frame(&mut gcs, "ATTITUDE once asked", |f| {
        is(f, 1, ATTITUDE_DATA::ID)
    })
    .await;
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pty_serves_like_a_serial_port() {
    let cancel = CancellationToken::new();
    let (_sim, path) = Sim::start_pty(SimConfig::default(), cancel.clone())
        .await
        .expect("sim starts on a pty");
    let mut gcs = client(&format!("serial:{}:115200", path.display()), &cancel).await;
    expect_frame(&mut gcs, "HEARTBEAT over the pty", |f| {
        is(f, 1, HEARTBEAT_DATA::ID)
    })
    .await;
    expect_frame(&mut gcs, "ATTITUDE over the pty", |f| {
        is(f, 1, ATTITUDE_DATA::ID)
    })
    .await;
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_frees_the_port_for_a_restart() {
    let cancel = CancellationToken::new();
    let sim = Sim::start(
        &addr("tcpin:127.0.0.1:0"),
        SimConfig::default(),
        cancel.clone(),
    )
    .await
    .expect("sim starts");
    let port = sim.local_addr().expect("tcpin binds a port").port();
    timeout(ARRIVES, sim.stop()).await.expect("stops in time");
    let again = Sim::start(
        &addr(&format!("tcpin:127.0.0.1:{port}")),
        SimConfig::default(),
        cancel.clone(),
    )
    .await
    .expect("the same port is free again");
    let mut gcs = client(&format!("tcp:127.0.0.1:{port}"), &cancel).await;
    expect_frame(&mut gcs, "HEARTBEAT after restart", |f| {
        is(f, 1, HEARTBEAT_DATA::ID)
    })
    .await;
    again.stop().await;
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_ok_when_cancelled() {
    let cancel = CancellationToken::new();
    let sim = Sim::start(
        &addr("udpin:127.0.0.1:0"),
        SimConfig::default(),
        cancel.clone(),
    )
    .await
    .expect("sim starts");
    cancel.cancel();
    let result = timeout(ARRIVES, sim.wait()).await.expect("ends in time");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_loss_silences_the_link() {
    let cancel = CancellationToken::new();
    let config = SimConfig {
        faults: Some(Faults {
            loss: 1.0,
            dup: 0.0,
            corrupt: 0.0,
            seed: 1,
        }),
        ..SimConfig::default()
    };
    let sim = Sim::start(&addr("tcpin:127.0.0.1:0"), config, cancel.clone())
        .await
        .expect("sim starts");
    let port = sim.local_addr().expect("tcpin binds a port").port();
    let mut gcs = client(&format!("tcp:127.0.0.1:{port}"), &cancel).await;
    let frames = frames_during(&mut gcs, Duration::from_millis(1500)).await;
    assert!(
        frames.is_empty(),
        "{} frames got through total loss",
        frames.len()
    );
    cancel.cancel();
}

#[tokio::test]
async fn impossible_configs_are_refused_before_opening_anything() {
    let cancel = CancellationToken::new();
    // Port 1 would need privileges: reaching the link at all would fail differently.
    let address = addr("tcpin:127.0.0.1:1");
    let none = SimConfig {
        vehicles: 0,
        ..SimConfig::default()
    };
    let result = Sim::start(&address, none, cancel.clone()).await;
    assert!(matches!(result, Err(SimError::NoVehicles)), "{result:?}");
    let too_many = SimConfig {
        sysid: 250,
        vehicles: 10,
        ..SimConfig::default()
    };
    let result = Sim::start(&address, too_many, cancel).await;
    assert!(
        matches!(result, Err(SimError::BadSysids { .. })),
        "{result:?}"
    );
}
