//! TCP links over 127.0.0.1 with OS-chosen ports.

// Raw sockets here are test fixtures on 127.0.0.1, not features that need the egress gate.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "finding a free port takes a raw loopback listener"
)]

mod common;

use airgap_link::{Address, CancellationToken, Link, LinkError, LinkEvent, LinkOptions};
use common::*;

#[tokio::test]
async fn client_reconnects_after_the_server_restarts() {
    let mut server = open("tcpin:127.0.0.1:0").await;
    let addr = server.local_addr().expect("bound");
    let mut client = open(&format!("tcp:127.0.0.1:{}", addr.port())).await;

    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    assert!(matches!(
        next_event(&mut server).await,
        LinkEvent::Up { .. }
    ));
    client.sender().send(1, 1, &heartbeat(1)).expect("queued");
    assert_eq!(custom_mode(&next_frame(&mut server).await), Some(1));
    server
        .sender()
        .send(255, 190, &heartbeat(2))
        .expect("queued");
    assert_eq!(custom_mode(&next_frame(&mut client).await), Some(2));

    // The server goes away: the client reports Down and keeps trying.
    drop(server);
    let down = next_event(&mut client).await;
    assert!(matches!(down, LinkEvent::Down { .. }), "{down:?}");

    // A new server on the same port: the client is back within its retry period.
    let mut server = open(&format!("tcpin:{addr}")).await;
    let up = next_event(&mut client).await;
    assert!(matches!(up, LinkEvent::Up { .. }), "{up:?}");
    assert!(matches!(
        next_event(&mut server).await,
        LinkEvent::Up { .. }
    ));
    client.sender().send(1, 1, &heartbeat(3)).expect("queued");
    let frame = next_frame(&mut server).await;
    assert_eq!(custom_mode(&frame), Some(3));
    server
        .sender()
        .send(255, 190, &heartbeat(4))
        .expect("queued");
    assert_eq!(custom_mode(&next_frame(&mut client).await), Some(4));
}

#[tokio::test]
async fn client_open_succeeds_before_the_server_exists() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe listener")
        .port();
    let mut client = open(&format!("tcpout:127.0.0.1:{port}")).await;
    let down = next_event(&mut client).await;
    assert!(
        matches!(&down, LinkEvent::Down { reason } if reason.contains("cannot connect")),
        "{down:?}"
    );
    // Frames queued while down are dropped and counted, not sent later.
    client.sender().send(1, 1, &heartbeat(1)).expect("queued");
    wait_stats(&mut client, "the frame to be dropped", |s| {
        s.tx_dropped == 1
    })
    .await;

    let mut server = open(&format!("tcpin:127.0.0.1:{port}")).await;
    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    client.sender().send(1, 1, &heartbeat(2)).expect("queued");
    assert_eq!(custom_mode(&next_frame(&mut server).await), Some(2));
}

#[tokio::test]
async fn server_serves_several_clients() {
    let mut server = open("tcpin:127.0.0.1:0").await;
    let port = server.local_addr().expect("bound").port();
    let mut a = open(&format!("tcp:127.0.0.1:{port}")).await;
    let mut b = open(&format!("tcp:localhost:{port}")).await;
    assert!(matches!(next_event(&mut a).await, LinkEvent::Up { .. }));
    assert!(matches!(next_event(&mut b).await, LinkEvent::Up { .. }));
    wait_for(&mut server, "first client", |e| {
        matches!(e, LinkEvent::Up { .. })
    })
    .await;
    wait_for(&mut server, "second client", |e| {
        matches!(e, LinkEvent::Up { .. })
    })
    .await;

    server.sender().send(1, 1, &heartbeat(5)).expect("queued");
    assert_eq!(custom_mode(&next_frame(&mut a).await), Some(5));
    assert_eq!(custom_mode(&next_frame(&mut b).await), Some(5));

    drop(a);
    let down = wait_for(&mut server, "a client leaving", |e| {
        matches!(e, LinkEvent::Down { .. })
    })
    .await;
    assert!(
        matches!(&down, LinkEvent::Down { reason } if reason.contains("client")),
        "{down:?}"
    );
    b.sender().send(2, 1, &heartbeat(6)).expect("queued");
    assert_eq!(next_frame(&mut server).await.sysid(), 2);
}

#[tokio::test]
async fn unresolvable_host_fails_open() {
    let address: Address = "tcp:no-such-host.invalid:5760"
        .parse()
        .expect("valid syntax");
    let result = tokio::time::timeout(
        STEP,
        Link::open(&address, LinkOptions::default(), CancellationToken::new()),
    )
    .await
    .expect("resolution answers in time");
    assert!(
        matches!(result, Err(LinkError::Resolve { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn listening_on_a_taken_port_fails_open() {
    let server = open("tcpin:127.0.0.1:0").await;
    let addr = server.local_addr().expect("bound");
    let address: Address = format!("tcpin:{addr}").parse().expect("valid");
    let result = Link::open(&address, LinkOptions::default(), CancellationToken::new()).await;
    assert!(matches!(result, Err(LinkError::Bind { .. })), "{result:?}");
}

#[tokio::test]
async fn cancelling_ends_the_link() {
    let cancel = CancellationToken::new();
    let address: Address = "tcpin:127.0.0.1:0".parse().expect("valid");
    let mut link = Link::open(&address, LinkOptions::default(), cancel.clone())
        .await
        .expect("open");
    cancel.cancel();
    let end = next_event(&mut link).await;
    assert!(matches!(end, LinkEvent::Ended { .. }), "{end:?}");
    assert!(link.recv().await.is_none());
    assert!(matches!(
        link.sender().send(1, 1, &heartbeat(0)),
        Err(LinkError::Closed)
    ));
}
