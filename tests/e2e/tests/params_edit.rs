//! The Parameters view against the app's simulated vehicle: download every parameter, change
//! RTL_ALT, write it, see the vehicle confirm the new value, and read it back with a fresh
//! download.

use std::time::Duration;

use airgap_e2e::{run_app_test, testid, Ui};
use anyhow::{ensure, Result};

const SECOND: Duration = Duration::from_secs(1);
/// ~1,000 parameters at 0 % loss take seconds; a busy 2-core machine gets some slack.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn a_parameter_change_is_confirmed_by_the_vehicle() {
    run_app_test("params_edit", &["--sim-manual"], |ui, _| params(ui)).await;
}

fn row(name: &str) -> String {
    format!("{}[data-name=\"{name}\"]", testid("param-row"))
}

async fn download(ui: &Ui) -> Result<f64> {
    ui.click(&testid("params-download")).await?;
    let message = ui
        .wait_text(
            &testid("params-message"),
            "the download to finish",
            DOWNLOAD_TIMEOUT,
            // Success, or the error (which names what failed); not the previous message.
            |t| t.contains("parameters from vehicle") || t.starts_with("Downloading"),
        )
        .await?;
    ensure!(
        message.contains("parameters from vehicle"),
        "the download failed: {message}"
    );
    let count = airgap_e2e::parse_number(&message).unwrap_or(0.0);
    ensure!(count > 100.0, "only {count} parameters: {message}");
    Ok(count)
}

async fn params(ui: Ui) -> Result<()> {
    ui.wait_link_state(None, "up", 20 * SECOND).await?;
    ui.click(&testid("view-params")).await?;
    download(&ui).await?;

    ui.type_into(&testid("params-search"), "RTL_ALT").await?;
    ui.wait_present(&row("RTL_ALT"), "the RTL_ALT row", 5 * SECOND)
        .await?;
    let before = ui
        .attr_number(&row("RTL_ALT"), "data-value")
        .await?
        .unwrap_or(f64::NAN);
    // A different value within the documented range, whatever the default is.
    let wanted = if before == 2500.0 { 3000.0 } else { 2500.0 };

    let input = format!("{} {}", row("RTL_ALT"), testid("param-input"));
    // A fraction is refused for an integer parameter before anything is sent.
    ui.type_into(&input, "2500.5").await?;
    ui.wait_text(
        &format!("{} .err", row("RTL_ALT")),
        "the fraction to be refused",
        5 * SECOND,
        |t| t.contains("whole numbers"),
    )
    .await?;

    ui.type_into(&input, &format!("{wanted}")).await?;
    ui.wait_text(
        &format!("{} {}", row("RTL_ALT"), testid("param-status")),
        "the change to be marked unwritten",
        5 * SECOND,
        |t| t.contains("not written"),
    )
    .await?;
    ui.click(&testid("params-write")).await?;
    let status = ui
        .wait_text(
            &format!("{} {}", row("RTL_ALT"), testid("param-status")),
            "the vehicle to confirm RTL_ALT",
            30 * SECOND,
            |t| t.starts_with("confirmed") || t.contains(':'),
        )
        .await?;
    ensure!(
        status == format!("confirmed {wanted}"),
        "the vehicle did not confirm {wanted}: {status}"
    );
    ui.wait_attr_number(
        &row("RTL_ALT"),
        "data-value",
        "the confirmed value in the table",
        5 * SECOND,
        |v| v == wanted,
    )
    .await?;

    // Read back: a fresh download carries the new value.
    download(&ui).await?;
    let read_back = ui
        .wait_attr_number(
            &row("RTL_ALT"),
            "data-value",
            "RTL_ALT read back from the vehicle",
            5 * SECOND,
            |v| v.is_finite(),
        )
        .await?;
    ensure!(
        read_back == wanted,
        "RTL_ALT read back as {read_back}, not {wanted}"
    );
    Ok(())
}
