//! A TCP link to a CLI sim listening with `tcpin:` shows the vehicle's mode and altitudes.

use std::time::Duration;

use airgap_e2e::{free_tcp_port, run_app_test, start_sim, tcp_listening, testid, Deadline};
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
        ui.wait_link_state(None, "up", 15 * second).await?;
        ui.wait_text(&testid("vehicle-mode"), "a flight mode", 10 * second, |s| {
            !s.is_empty() && s != "—"
        })
        .await?;
        for (id, what) in [
            ("alt-rel", "a relative altitude"),
            ("alt-msl", "an MSL altitude"),
            ("lat", "a latitude"),
            ("lon", "a longitude"),
        ] {
            ui.wait_number(&testid(id), what, 10 * second, f64::is_finite)
                .await?;
        }
        drop(sim);
        Ok(())
    })
    .await;
}
