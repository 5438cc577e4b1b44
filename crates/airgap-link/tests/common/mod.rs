//! Helpers shared by the link integration tests. Every wait is bounded.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use airgap_core::dialect::{self, MavMessage};
use airgap_core::frame::Frame;
use airgap_link::{Address, CancellationToken, Link, LinkEvent, LinkOptions, LinkStats};

/// Upper bound for any single wait; generous for a loaded 2-core CI machine.
pub const STEP: Duration = Duration::from_secs(10);

pub fn heartbeat(custom_mode: u32) -> MavMessage {
    MavMessage::HEARTBEAT(dialect::HEARTBEAT_DATA {
        custom_mode,
        mavtype: dialect::MavType::MAV_TYPE_QUADROTOR,
        autopilot: dialect::MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
        base_mode: dialect::MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
        system_status: dialect::MavState::MAV_STATE_ACTIVE,
        mavlink_version: 3,
    })
}

pub fn custom_mode(frame: &Frame) -> Option<u32> {
    match &frame.msg {
        MavMessage::HEARTBEAT(hb) => Some(hb.custom_mode),
        _ => None,
    }
}

pub async fn open(address: &str) -> Link {
    open_with(address, LinkOptions::default()).await
}

pub async fn open_with(address: &str, options: LinkOptions) -> Link {
    let address: Address = address.parse().expect("valid test address");
    tokio::time::timeout(
        STEP,
        Link::open(&address, options, CancellationToken::new()),
    )
    .await
    .expect("open in time")
    .unwrap_or_else(|e| panic!("open {address}: {e}"))
}

pub async fn next_event(link: &mut Link) -> LinkEvent {
    tokio::time::timeout(STEP, link.recv())
        .await
        .expect("an event in time")
        .expect("the link has not ended")
}

/// Skip events until one matches.
pub async fn wait_for(
    link: &mut Link,
    what: &str,
    mut pred: impl FnMut(&LinkEvent) -> bool,
) -> LinkEvent {
    tokio::time::timeout(STEP, async {
        loop {
            match link.recv().await {
                Some(event) if pred(&event) => return event,
                Some(_) => {}
                None => panic!("link ended while waiting for {what}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub async fn next_frame(link: &mut Link) -> Frame {
    match wait_for(link, "a frame", |e| matches!(e, LinkEvent::Frame { .. })).await {
        LinkEvent::Frame { frame, .. } => frame,
        _ => unreachable!("wait_for returned a frame event"),
    }
}

/// Consume events until the link's counters satisfy `pred`.
pub async fn wait_stats(
    link: &mut Link,
    what: &str,
    pred: impl Fn(&LinkStats) -> bool,
) -> LinkStats {
    tokio::time::timeout(STEP, async {
        loop {
            let stats = link.stats();
            if pred(&stats) {
                return stats;
            }
            // Either an event or a short pause, then look again.
            let _ = tokio::time::timeout(Duration::from_millis(20), link.recv()).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", link.stats()))
}
