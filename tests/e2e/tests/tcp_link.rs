//! A TCP link to a CLI sim listening with `tcpin:` shows the vehicle's mode and altitudes.

use std::time::Duration;

use airgap_e2e::{free_tcp_port, parse_number, run_app_test, start_sim, tcp_listening, testid};
use airgap_e2e::{Deadline, Ui};
use anyhow::bail;

#[tokio::test]
async fn a_tcp_vehicle_shows_mode_and_altitude() {
    run_app_test("tcp_link", &[], |ui, dir| async move {
        let second = Duration::from_secs(1);
        let port = free_tcp_port()?;
        let mut sim = start_sim(&dir, "sim.log", &[&format!("tcpin:127.0.0.1:{port}")])?;
        let mut listening = Deadline::new("the sim to listen on TCP", 15 * second);
        while !tcp_listening(port) {
            if sim.has_exited() {
                bail!("the sim exited before listening:\n{}", sim.log_tail(20));
            }
            listening
                .tick(format!("nothing listening on {port}"))
                .await?;
        }

        ui.connect(&format!("tcp:127.0.0.1:{port}")).await?;
        ui.wait_text(&Ui::link_state(None), "the TCP link up", 15 * second, |s| {
            s == "up"
        })
        .await?;
        ui.wait_text(&testid("vehicle-mode"), "a flight mode", 10 * second, |s| {
            !s.is_empty() && s != "—"
        })
        .await?;
        ui.wait_number(
            &testid("alt-rel"),
            "a relative altitude",
            10 * second,
            f64::is_finite,
        )
        .await?;
        let msl = ui
            .wait_number(
                &testid("alt-msl"),
                "an MSL altitude",
                10 * second,
                f64::is_finite,
            )
            .await?;
        let lat = ui.text(&testid("lat")).await?.unwrap_or_default();
        if parse_number(&lat).is_none() {
            bail!("lat shows {lat:?} with alt-msl {msl}: expected a number");
        }
        drop(sim);
        Ok(())
    })
    .await;
}
