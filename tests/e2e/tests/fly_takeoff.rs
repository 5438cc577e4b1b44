//! The Fly view against the app's simulated vehicle, which waits on the ground: arming in
//! LAND is refused and the vehicle's own reason is shown; then GUIDED, Arm and Takeoff —
//! each confirmed in a dialog naming the vehicle — make it climb.

use std::time::Duration;

use airgap_e2e::{parse_number, run_app_test, testid, Ui};
use anyhow::{ensure, Result};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn arm_and_take_off_from_the_fly_view() {
    run_app_test("fly_takeoff", &["--sim-manual"], |ui, _| fly(ui)).await;
}

/// Sends one command through its button and the confirmation, and waits for the answer.
async fn command(ui: &Ui, button: &str, question: &str) -> Result<String> {
    ui.click(&testid(button)).await?;
    let asked = ui.confirm(question).await?;
    ensure!(
        asked.contains("vehicle 1 (ArduCopter)"),
        "the confirmation does not name the vehicle: {asked}"
    );
    ui.wait_text(
        &testid("fly-result"),
        &format!("the vehicle's answer to {button}"),
        20 * SECOND,
        |t| !t.is_empty() && !t.ends_with('…'),
    )
    .await
}

async fn fly(ui: Ui) -> Result<()> {
    ui.wait_link_state(None, "up", 20 * SECOND).await?;
    ui.wait_text(&testid("vehicle-armed"), "DISARMED", 15 * SECOND, |t| {
        t.eq_ignore_ascii_case("DISARMED")
    })
    .await?;

    // Cancelling sends nothing.
    ui.click(&testid("fly-arm")).await?;
    ui.wait_present(&testid("confirm-dialog"), "the confirmation", 5 * SECOND)
        .await?;
    ui.click(&testid("confirm-cancel")).await?;
    ui.wait_absent(&testid("confirm-dialog"), "the dialog to close", 5 * SECOND)
        .await?;

    ui.wait_text(&testid("vehicle-gps"), "a 3D fix", 30 * SECOND, |t| {
        t.starts_with("3D")
    })
    .await?;
    ui.wait_present(
        &format!("{} option[value=\"GUIDED\"]", testid("fly-mode-select")),
        "GUIDED in the mode picker",
        10 * SECOND,
    )
    .await?;

    // A refusal shows the vehicle's STATUSTEXT.
    ui.select(&testid("fly-mode-select"), "LAND").await?;
    let answer = command(&ui, "fly-mode-set", "LAND").await?;
    ensure!(answer.contains("accepted"), "mode LAND: {answer}");
    let answer = command(&ui, "fly-arm", "Arm").await?;
    ensure!(
        answer.contains("Mode not armable"),
        "arming in LAND was not refused with the vehicle's reason: {answer}"
    );

    ui.select(&testid("fly-mode-select"), "GUIDED").await?;
    let answer = command(&ui, "fly-mode-set", "GUIDED").await?;
    ensure!(answer.contains("accepted"), "mode GUIDED: {answer}");
    ui.wait_text(&testid("vehicle-mode"), "GUIDED", 10 * SECOND, |t| {
        t.eq_ignore_ascii_case("GUIDED")
    })
    .await?;

    ui.type_into(&testid("fly-takeoff-alt"), "12").await?;
    let answer = command(&ui, "fly-arm", "Arm").await?;
    ensure!(answer.contains("accepted"), "arm: {answer}");
    ui.wait_text(&testid("vehicle-armed"), "ARMED", 10 * SECOND, |t| {
        t.eq_ignore_ascii_case("ARMED")
    })
    .await?;
    let answer = command(&ui, "fly-takeoff", "Take off to 12 m").await?;
    ensure!(answer.contains("accepted"), "takeoff: {answer}");

    let alt = ui
        .wait_number(
            &testid("alt-rel"),
            "the climb above 5 m",
            40 * SECOND,
            |a| a > 5.0,
        )
        .await?;
    let shown = ui.shown(&testid("alt-rel")).await;
    ensure!(
        parse_number(&shown).is_some_and(|a| a >= alt - 1.0),
        "the altitude fell back: {shown}"
    );
    Ok(())
}
