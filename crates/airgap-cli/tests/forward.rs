//! `--out` on `airgap watch` and `airgap record`, as processes against `airgap sim` over
//! loopback UDP: a local UDP socket receives the vehicle's frames, and a forward that cannot
//! open is said on stderr while the command goes on.

// The receiving ground station is a raw loopback UDP socket: a test fixture, not a feature
// that needs the egress gate.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the forward's receiver is a raw loopback UDP socket"
)]

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use airgap_core::frame::parse_slice;
use airgap_core::MavMessage;
use common::{free_udp_port, wait_for_udp_listener, Proc, ScratchDir, AIRGAP, PROCESS_TIMEOUT};

/// `airgap sim` listening on a free loopback port.
fn start_sim() -> (Proc, u16) {
    let port = free_udp_port();
    let mut proc = Proc::spawn(
        "airgap sim",
        Command::new(AIRGAP).args(["sim", &format!("udpin:127.0.0.1:{port}")]),
    );
    wait_for_udp_listener(&mut proc, port);
    (proc, port)
}

fn receiver() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("set a read timeout");
    let port = socket.local_addr().expect("bound").port();
    (socket, port)
}

/// Frames the vehicle (sysid 1) sent that reach `socket` within `limit`, stopping at `enough`;
/// and whether one was a HEARTBEAT.
fn vehicle_frames(socket: &UdpSocket, limit: Duration, enough: usize) -> (usize, bool) {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 65_536];
    let (mut count, mut heartbeat) = (0, false);
    while count < enough && Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        for frame in parse_slice(&buf[..n]).flatten() {
            if frame.sysid() == 1 {
                count += 1;
                heartbeat |= matches!(frame.msg, MavMessage::HEARTBEAT(_));
            }
        }
    }
    (count, heartbeat)
}

#[test]
fn watch_out_forwards_the_vehicles_frames_to_a_local_udp_socket() {
    let (_sim, sim_port) = start_sim();
    let (first, first_port) = receiver();
    let (second, second_port) = receiver();
    let watch = Proc::spawn(
        "airgap watch --out",
        Command::new(AIRGAP).args([
            "watch",
            &format!("udpout:127.0.0.1:{sim_port}"),
            "--out",
            &format!("udpout:127.0.0.1:{first_port}"),
            "--out",
            &format!("udpout:127.0.0.1:{second_port}"),
            // Cannot be opened: said on stderr, and watching goes on.
            "--out",
            "replay:nothing.tlog",
            "--duration",
            "6",
        ]),
    );
    for socket in [&first, &second] {
        let (count, heartbeat) = vehicle_frames(socket, Duration::from_secs(15), 30);
        assert!(count >= 30, "only {count} vehicle frames forwarded");
        assert!(heartbeat, "no HEARTBEAT among the forwarded frames");
    }
    let out = watch.finish(PROCESS_TIMEOUT);
    assert!(
        out.stderr.contains(&format!(
            "airgap: forwarding to udpout:127.0.0.1:{first_port}"
        )),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("airgap: cannot forward to replay:nothing.tlog"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("1/1 ArduPilot"),
        "the vehicle was watched all the same{out:?}"
    );
}

#[test]
fn record_out_forwards_while_recording() {
    let scratch = ScratchDir::new("record-out");
    let data = scratch.join("data");
    let pass = scratch.join("pass");
    std::fs::write(&pass, "correct horse battery staple\n").expect("write the passphrase file");
    let vault = |args: &[&str]| {
        let mut cmd = Command::new(AIRGAP);
        cmd.args(args)
            .env("AIRGAP_DATA_DIR", &data)
            .env("AIRGAP_KDF", "fast")
            .env("AIRGAP_PASSPHRASE_FILE", &pass);
        cmd
    };
    Proc::spawn("airgap vault init", &mut vault(&["vault", "init"])).finish(PROCESS_TIMEOUT);

    let (_sim, sim_port) = start_sim();
    let (socket, port) = receiver();
    let record = Proc::spawn(
        "airgap record --out",
        &mut vault(&[
            "record",
            &format!("udpout:127.0.0.1:{sim_port}"),
            "--out",
            &format!("udpout:127.0.0.1:{port}"),
            "--duration",
            "4",
        ]),
    );
    let (count, heartbeat) = vehicle_frames(&socket, Duration::from_secs(15), 30);
    let out = record.finish(PROCESS_TIMEOUT);
    assert!(count >= 30 && heartbeat, "{count} frames forwarded{out:?}");
    assert!(
        out.stderr
            .contains(&format!("airgap: forwarding to udpout:127.0.0.1:{port}")),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("frames"),
        "a flight was recorded too{out:?}"
    );
}
