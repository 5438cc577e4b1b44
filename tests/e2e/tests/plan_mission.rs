//! The Plan view against the app's simulated vehicle: five clicks on the map make five
//! waypoints, Upload (with verify) sends them, and downloading the vehicle's mission into a
//! fresh plan brings the same five back — so the vehicle, not the screen, holds them.

use std::time::Duration;

use airgap_e2e::{run_app_test, testid, Ui};
use anyhow::{ensure, Result};

const SECOND: Duration = Duration::from_secs(1);
/// Uploading, verifying and downloading three lists at 0 % loss takes a few seconds; a busy
/// 2-core machine gets some slack.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_mission_clicked_on_the_map_reaches_the_vehicle() {
    run_app_test("plan_mission", &["--sim-manual"], |ui, _| plan(ui)).await;
}

async fn plan(ui: Ui) -> Result<()> {
    ui.wait_link_state(None, "up", 20 * SECOND).await?;
    // The vehicle's position, so the map is centred where it is.
    ui.wait_text(&testid("lat"), "a position", 20 * SECOND, |t| {
        airgap_e2e::parse_number(t).is_some()
    })
    .await?;

    ui.click(&testid("view-plan")).await?;
    ui.wait_present(&testid("plan-map"), "the Plan map", 10 * SECOND)
        .await?;
    ui.type_into(&testid("plan-default-alt"), "25").await?;

    let map = testid("plan-map");
    // Five points around the middle of the map, clear of the zoom buttons and the hint.
    let clicks = [
        (-150.0, -100.0),
        (-60.0, -130.0),
        (40.0, -90.0),
        (120.0, 10.0),
        (30.0, 110.0),
    ];
    for (n, (dx, dy)) in clicks.into_iter().enumerate() {
        ui.click_at(&map, dx, dy).await?;
        let want = (n + 1) as f64;
        ui.wait_number(
            &testid("plan-count"),
            &format!("{} waypoints in the list", n + 1),
            5 * SECOND,
            |c| c == want,
        )
        .await?;
    }
    let alt = ui
        .attr(
            &format!("{} {}", testid("plan-item"), testid("item-alt")),
            "value",
        )
        .await?;
    ensure!(
        alt.as_deref() == Some("25"),
        "new waypoints take the default altitude; the first shows {alt:?}"
    );

    ui.click(&testid("plan-upload")).await?;
    let report = ui
        .wait_text(
            &testid("plan-message"),
            "the upload to finish",
            TRANSFER_TIMEOUT,
            |t| t.starts_with("Upload"),
        )
        .await?;
    ensure!(
        report.contains("5 mission items") && report.contains("verified"),
        "the upload was not confirmed: {report}"
    );

    // A new, empty plan, then the vehicle's mission downloaded into it.
    ui.click(&testid("plan-new")).await?;
    ui.confirm("new plan").await?;
    ui.wait_number(&testid("plan-count"), "an empty plan", 5 * SECOND, |c| {
        c == 0.0
    })
    .await?;
    ui.click(&testid("plan-download")).await?;
    let report = ui
        .wait_text(
            &testid("plan-message"),
            "the download to finish",
            TRANSFER_TIMEOUT,
            // "Downloaded …", or the error ("Downloading the mission: …").
            |t| t.starts_with("Download"),
        )
        .await?;
    ensure!(
        report.starts_with("Downloaded 5 mission items"),
        "the vehicle did not report the mission: {report}"
    );
    ui.wait_number(
        &testid("plan-count"),
        "the five waypoints back from the vehicle",
        5 * SECOND,
        |c| c == 5.0,
    )
    .await?;
    Ok(())
}
