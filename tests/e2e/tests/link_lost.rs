//! Losing the vehicle and getting it back: a CLI sim over UDP is killed (the banner and the
//! `lost` state appear within seconds) and restarted on the same port (they clear).

use std::time::Duration;

use airgap_e2e::{free_udp_port, run_app_test, start_sim, testid};
use anyhow::{ensure, Context};

#[tokio::test]
async fn a_killed_vehicle_shows_link_lost_and_recovers() {
    run_app_test("link_lost", &[], |ui, dir| async move {
        let second = Duration::from_secs(1);
        let port = free_udp_port()?;
        let target = format!("udpout:127.0.0.1:{port}");
        let mut sim = start_sim(&dir, "sim-1.log", &[&target, "--autofly"])?;

        ui.connect(&format!("udpin:127.0.0.1:{port}")).await?;
        ui.wait_link_state(None, "up", 15 * second).await?;
        // Recovery must happen on this same link, not on a new one.
        let link_id = ui
            .attr(&testid("link-row"), "data-link-id")
            .await?
            .context("link-row has no data-link-id")?;
        ui.wait_text(&testid("vehicle-mode"), "a flight mode", 10 * second, |s| {
            !s.is_empty() && s != "—"
        })
        .await?;
        let banner = testid("link-lost-banner");
        ensure!(
            !ui.exists(&banner).await?,
            "the link-lost banner shows while the link is up"
        );

        sim.kill();
        ui.wait_present(&banner, "the link-lost banner", 8 * second)
            .await?;
        ui.wait_link_state(Some(&link_id), "lost", 8 * second)
            .await?;

        let _sim = start_sim(&dir, "sim-2.log", &[&target, "--autofly"])?;
        ui.wait_link_state(Some(&link_id), "up", 15 * second)
            .await?;
        ui.wait_absent(&banner, "the banner gone", 5 * second)
            .await?;
        Ok(())
    })
    .await;
}
