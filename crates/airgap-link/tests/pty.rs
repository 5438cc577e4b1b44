//! A pty served by one link and opened as a serial port by another.
#![cfg(unix)]

mod common;

use airgap_link::{CancellationToken, Link, LinkEvent, LinkOptions};
use common::*;

#[tokio::test]
async fn serial_client_on_the_pty_slave_exchanges_frames_both_ways() {
    let (mut pty, path) = tokio::time::timeout(
        STEP,
        Link::open_pty(LinkOptions::default(), CancellationToken::new()),
    )
    .await
    .expect("pty in time")
    .expect("pty created");
    assert!(path.exists(), "{}", path.display());
    assert!(matches!(next_event(&mut pty).await, LinkEvent::Up { .. }));
    assert_eq!(
        pty.address().to_string(),
        format!("serial:{}:115200", path.display())
    );

    for round in 0..2u32 {
        // The second round reopens the slave: the pty must outlive its clients.
        let mut client = open(&format!("serial:{}:115200", path.display())).await;
        let up = next_event(&mut client).await;
        assert!(matches!(up, LinkEvent::Up { .. }), "{up:?}");

        client
            .sender()
            .send(1, 1, &heartbeat(10 + round))
            .expect("queued");
        assert_eq!(custom_mode(&next_frame(&mut pty).await), Some(10 + round));

        pty.sender()
            .send(255, 190, &heartbeat(20 + round))
            .expect("queued");
        assert_eq!(
            custom_mode(&next_frame(&mut client).await),
            Some(20 + round)
        );
        drop(client);
    }
    assert_eq!(pty.stats().rx_frames, 2);
}

#[tokio::test]
async fn missing_serial_device_reports_down_and_keeps_trying() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ttyNOPE");
    let mut link = open(&format!("serial:{}:57600", path.display())).await;
    let down = next_event(&mut link).await;
    assert!(
        matches!(&down, LinkEvent::Down { reason } if reason.contains("cannot open")),
        "{down:?}"
    );
}

#[tokio::test]
async fn pty_with_no_reader_drops_instead_of_stalling_then_serves_a_client() {
    let (mut pty, path) = Link::open_pty(LinkOptions::default(), CancellationToken::new())
        .await
        .expect("pty created");
    // Nobody reads the slave: its queue fills and writes must start failing fast.
    let mut sent = 0u64;
    for _ in 0..100 {
        for _ in 0..100 {
            pty.sender().send(1, 1, &heartbeat(1)).expect("queued");
        }
        sent += 100;
        let stats = wait_stats(&mut pty, "the batch to be handled", |s| {
            s.tx_frames + s.tx_dropped == sent
        })
        .await;
        if stats.tx_dropped > 0 {
            break;
        }
    }
    assert!(pty.stats().tx_dropped > 0, "{:?}", pty.stats());

    // A client arriving now still gets fresh frames.
    let mut client = open(&format!("serial:{}", path.display())).await;
    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    pty.sender().send(1, 1, &heartbeat(777)).expect("queued");
    wait_for(
        &mut client,
        "the fresh frame",
        |e| matches!(e, LinkEvent::Frame { frame, .. } if custom_mode(frame) == Some(777)),
    )
    .await;
}

#[tokio::test]
async fn serial_client_reports_down_when_the_device_goes_away() {
    let (mut pty, path) = Link::open_pty(LinkOptions::default(), CancellationToken::new())
        .await
        .expect("pty created");
    assert!(matches!(next_event(&mut pty).await, LinkEvent::Up { .. }));
    let mut client = open(&format!("serial:{}:57600", path.display())).await;
    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    // Like a USB unplug: the device disappears under the open port.
    drop(pty);
    let down = next_event(&mut client).await;
    assert!(matches!(down, LinkEvent::Down { .. }), "{down:?}");
}
