//! Screenshots of the Fly, Plan and Parameters views for the README, taken from the real app
//! flying its simulated vehicle. Not a check: ignored by default, run on demand with
//! `AIRGAP_SCREENSHOT_DIR=assets/screenshots xvfb-run -a -s "-screen 0 1280x800x24"
//! dbus-run-session -- cargo test -p airgap-e2e --test screenshots -- --ignored`.

use std::path::PathBuf;
use std::time::Duration;

use airgap_e2e::{run_app_test, testid, Ui};
use anyhow::{Context, Result};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
#[ignore = "takes the README screenshots; run on demand"]
async fn screenshots_of_each_view() {
    run_app_test("screenshots", &["--sim"], |ui, _| shoot(ui)).await;
}

async fn shoot(ui: Ui) -> Result<()> {
    let dir = PathBuf::from(
        std::env::var_os("AIRGAP_SCREENSHOT_DIR").context("set AIRGAP_SCREENSHOT_DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    ui.wait_link_state(None, "up", 20 * SECOND).await?;
    ui.wait_number(&testid("alt-rel"), "the climb", 60 * SECOND, |a| a > 15.0)
        .await?;

    // Plan: a mission, a geofence and a rally point around the vehicle, uploaded.
    ui.click(&testid("view-plan")).await?;
    ui.wait_present(&testid("plan-map"), "the Plan map", 10 * SECOND)
        .await?;
    let map = testid("plan-map");
    for (dx, dy) in [
        (-40.0, -60.0),
        (60.0, -120.0),
        (180.0, -40.0),
        (150.0, 90.0),
        (0.0, 140.0),
    ] {
        ui.click_at(&map, dx, dy).await?;
    }
    ui.click(&testid("tool-fence")).await?;
    for (dx, dy) in [
        (-260.0, -220.0),
        (280.0, -230.0),
        (300.0, 230.0),
        (-250.0, 220.0),
    ] {
        ui.click_at(&map, dx, dy).await?;
    }
    ui.click(&testid("tool-rally")).await?;
    ui.click_at(&map, -160.0, 120.0).await?;
    ui.click(&testid("tool-waypoint")).await?;
    ui.click(&testid("plan-upload")).await?;
    ui.wait_text(&testid("plan-message"), "the upload", 60 * SECOND, |t| {
        t.starts_with("Upload")
    })
    .await?;
    ui.click(&format!("{} .idx", testid("plan-item"))).await?;
    tokio::time::sleep(SECOND).await;
    ui.save_screenshot(&dir.join("airgap-plan.png")).await?;

    // Parameters: downloaded, filtered, one edit waiting to be written.
    ui.click(&testid("view-params")).await?;
    ui.click(&testid("params-download")).await?;
    ui.wait_text(
        &testid("params-message"),
        "the download",
        90 * SECOND,
        |t| t.contains("parameters from") || t.starts_with("Downloading"),
    )
    .await?;
    ui.type_into(&testid("params-search"), "RTL").await?;
    ui.type_into(
        &format!(
            "{}[data-name=\"RTL_ALT\"] {}",
            testid("param-row"),
            testid("param-input")
        ),
        "2500",
    )
    .await?;
    tokio::time::sleep(SECOND).await;
    ui.save_screenshot(&dir.join("airgap-params.png")).await?;

    // Fly: the vehicle circling, its mission on the map.
    ui.click(&testid("view-fly")).await?;
    tokio::time::sleep(4 * SECOND).await;
    ui.save_screenshot(&dir.join("airgap-fly.png")).await?;
    Ok(())
}
