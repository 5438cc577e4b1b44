//! Fault injection seen from a clean receiver over real TCP sockets.

mod common;

use airgap_link::{Faults, LinkEvent, LinkOptions};
use common::*;

const FRAMES: u32 = 1000;

/// A clean server and a client with `faults`, connected.
async fn pair(faults: Faults) -> (airgap_link::Link, airgap_link::Link) {
    let mut server = open("tcpin:127.0.0.1:0").await;
    let port = server.local_addr().expect("bound").port();
    let options = LinkOptions {
        faults: Some(faults),
    };
    let mut client = open_with(&format!("tcp:127.0.0.1:{port}"), options).await;
    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    assert!(matches!(
        next_event(&mut server).await,
        LinkEvent::Up { .. }
    ));
    (server, client)
}

/// Send `FRAMES` heartbeats without overrunning the client's write queue, and wait
/// until the client has written (or dropped) every one.
async fn send_all(client: &mut airgap_link::Link) {
    for i in 0..FRAMES {
        client.sender().send(1, 1, &heartbeat(i)).expect("queued");
        if i % 100 == 99 {
            let sent = u64::from(i + 1);
            wait_stats(client, "the queue to drain", |s| {
                s.tx_frames - s.injected_dup + s.injected_loss + s.tx_dropped >= sent
            })
            .await;
        }
    }
    assert_eq!(
        client.stats().tx_dropped,
        0,
        "the write queue never overflowed"
    );
}

#[tokio::test]
async fn loss_drops_about_that_share_and_shows_as_sequence_gaps() {
    let (mut server, mut client) = pair(Faults {
        loss: 0.3,
        ..Faults::none(7)
    })
    .await;
    send_all(&mut client).await;
    let sent = client.stats();
    assert_eq!(sent.tx_frames + sent.injected_loss, u64::from(FRAMES));
    let got = wait_stats(&mut server, "every written frame", |s| {
        s.rx_frames == sent.tx_frames
    })
    .await;
    let share = got.rx_frames as f64 / f64::from(FRAMES);
    assert!(
        (0.62..0.78).contains(&share),
        "{share} arrived at 30 % loss"
    );
    // Every lost frame is a gap, except lost ones after the last that arrived.
    assert!(got.seq_gaps <= sent.injected_loss);
    assert!(
        got.seq_gaps + 10 >= sent.injected_loss,
        "{got:?} vs {sent:?}"
    );
    assert_eq!(got.crc_errors, 0);
}

#[tokio::test]
async fn corruption_is_counted_as_crc_errors_and_traffic_goes_on() {
    let (mut server, mut client) = pair(Faults {
        corrupt: 0.2,
        ..Faults::none(11)
    })
    .await;
    send_all(&mut client).await;
    let sent = client.stats();
    assert!(sent.injected_corrupt > 100, "{sent:?}");
    wait_stats(&mut server, "every byte", |s| s.rx_bytes == sent.tx_bytes).await;
    let intact = sent.tx_frames - sent.injected_corrupt;
    let got = wait_stats(&mut server, "the intact frames", |s| {
        s.rx_frames + 2 >= intact
    })
    .await;
    assert!(got.rx_frames <= intact);
    assert!(
        got.crc_errors >= sent.injected_corrupt,
        "{got:?} vs {sent:?}"
    );
    // The damaged frames are missing from the sequence, not lost track of.
    assert!(got.seq_gaps >= sent.injected_corrupt - 2);
}

#[tokio::test]
async fn duplication_delivers_twice_and_counts_duplicates() {
    let (mut server, mut client) = pair(Faults {
        dup: 0.25,
        ..Faults::none(3)
    })
    .await;
    send_all(&mut client).await;
    let sent = client.stats();
    assert!(sent.injected_dup > 150, "{sent:?}");
    let expected = u64::from(FRAMES) + sent.injected_dup;
    let got = wait_stats(&mut server, "every copy", |s| s.rx_frames == expected).await;
    assert_eq!(got.duplicates, sent.injected_dup);
    assert_eq!(got.seq_gaps, 0);
}

#[tokio::test]
async fn faults_apply_on_receive_too() {
    // Faults on the receiving link: the sender is clean.
    let mut server = open_with(
        "tcpin:127.0.0.1:0",
        LinkOptions {
            faults: Some(Faults {
                loss: 0.5,
                ..Faults::none(5)
            }),
        },
    )
    .await;
    let port = server.local_addr().expect("bound").port();
    let mut client = open(&format!("tcp:127.0.0.1:{port}")).await;
    assert!(matches!(
        next_event(&mut client).await,
        LinkEvent::Up { .. }
    ));
    send_all(&mut client).await;
    let got = wait_stats(&mut server, "every frame judged", |s| {
        s.rx_frames + s.injected_loss == u64::from(FRAMES)
    })
    .await;
    assert!((400..600).contains(&got.rx_frames), "{got:?}");
}

#[tokio::test]
async fn invalid_fault_settings_fail_open() {
    let address: airgap_link::Address = "udpin:127.0.0.1:0".parse().expect("valid");
    let options = LinkOptions {
        faults: Some(Faults {
            loss: 2.0,
            ..Faults::none(0)
        }),
    };
    let result =
        airgap_link::Link::open(&address, options, airgap_link::CancellationToken::new()).await;
    assert!(matches!(
        result,
        Err(airgap_link::LinkError::InvalidFaults(_))
    ));
}
