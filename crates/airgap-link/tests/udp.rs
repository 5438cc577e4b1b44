//! UDP links over 127.0.0.1 with OS-chosen ports.

// Raw sockets here are test fixtures on 127.0.0.1, not features that need the egress gate.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "finding a free port and a port nobody listens on takes a raw loopback socket"
)]

mod common;

use airgap_link::LinkEvent;
use common::*;

#[tokio::test]
async fn udpin_and_udpout_exchange_frames_both_ways() {
    let mut server = open("udpin:127.0.0.1:0").await;
    let port = server.local_addr().expect("bound").port();
    assert_ne!(port, 0);
    let mut client = open(&format!("udpout:127.0.0.1:{port}")).await;
    let client_addr = client.local_addr().expect("bound");
    assert!(
        client_addr.ip().is_loopback(),
        "udpout to loopback binds loopback"
    );

    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    client.sender().send(1, 1, &heartbeat(7)).expect("queued");
    let up = next_event(&mut server).await;
    assert!(
        matches!(&up, LinkEvent::Up { peer } if *peer == client_addr.to_string()),
        "{up:?}"
    );
    let frame = next_frame(&mut server).await;
    assert_eq!(custom_mode(&frame), Some(7));
    assert_eq!((frame.sysid(), frame.compid(), frame.seq()), (1, 1, 0));

    // The server answers the peer it heard.
    server
        .sender()
        .send(255, 190, &heartbeat(8))
        .expect("queued");
    let reply = next_frame(&mut client).await;
    assert_eq!(custom_mode(&reply), Some(8));
    assert_eq!(reply.sysid(), 255);

    // Sequence numbers advance per sender.
    client.sender().send(1, 1, &heartbeat(9)).expect("queued");
    assert_eq!(next_frame(&mut server).await.seq(), 1);

    let stats = server.stats();
    assert_eq!(stats.rx_frames, 2);
    assert_eq!(stats.tx_frames, 1);
    assert_eq!(stats.seq_gaps, 0);
    assert!(stats.rx_bytes > 0);
}

#[tokio::test]
async fn udpin_answers_every_recent_peer() {
    let mut server = open("udpin:127.0.0.1:0").await;
    let port = server.local_addr().expect("bound").port();
    let mut a = open(&format!("udpout:127.0.0.1:{port}")).await;
    let mut b = open(&format!("udp:127.0.0.1:{port}")).await;
    a.sender().send(1, 1, &heartbeat(1)).expect("queued");
    b.sender().send(2, 1, &heartbeat(2)).expect("queued");
    let mut heard = vec![
        next_frame(&mut server).await.sysid(),
        next_frame(&mut server).await.sysid(),
    ];
    heard.sort_unstable();
    assert_eq!(heard, vec![1, 2]);

    server
        .sender()
        .send(255, 190, &heartbeat(42))
        .expect("queued");
    assert_eq!(custom_mode(&next_frame(&mut a).await), Some(42));
    assert_eq!(custom_mode(&next_frame(&mut b).await), Some(42));
}

#[tokio::test]
async fn udpin_with_no_peer_drops_and_counts() {
    let server = open("udpin:127.0.0.1:0").await;
    server
        .sender()
        .send(255, 190, &heartbeat(1))
        .expect("queued");
    let mut server = server;
    wait_stats(&mut server, "the frame to be dropped", |s| {
        s.tx_dropped == 1
    })
    .await;
}

#[tokio::test]
async fn udpout_survives_nobody_listening_yet() {
    // Find a free port, then free it: sends there get ICMP port unreachable.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("probe socket")
        .port();
    let mut client = open(&format!("udpout:127.0.0.1:{port}")).await;
    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    for i in 0..5 {
        client.sender().send(1, 1, &heartbeat(i)).expect("queued");
    }
    wait_stats(&mut client, "five sends", |s| {
        s.tx_frames + s.tx_dropped == 5
    })
    .await;

    // Now someone listens there; the same link still works, with no Down or End.
    let mut server = open(&format!("udpin:127.0.0.1:{port}")).await;
    client.sender().send(1, 1, &heartbeat(99)).expect("queued");
    let frame = next_frame(&mut server).await;
    assert_eq!(custom_mode(&frame), Some(99));
    server
        .sender()
        .send(255, 190, &heartbeat(100))
        .expect("queued");
    let reply = wait_for(&mut client, "the reply", |e| {
        !matches!(e, LinkEvent::Up { .. })
    })
    .await;
    assert!(
        matches!(&reply, LinkEvent::Frame { frame, .. } if custom_mode(frame) == Some(100)),
        "{reply:?}"
    );
}

#[tokio::test]
async fn dropping_a_link_ends_its_task_and_frees_the_port() {
    let server = open("udpin:127.0.0.1:0").await;
    let addr = server.local_addr().expect("bound");
    drop(server);
    // The task closes its socket once cancelled; binding the port again proves it.
    tokio::time::timeout(STEP, async {
        loop {
            if std::net::UdpSocket::bind(addr).is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("port freed");
}
