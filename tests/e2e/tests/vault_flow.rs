//! The vault from the pilot's side: a first start creates it; the next start (with the
//! built-in simulated vehicle) records while it is locked and unlocked; Lock shows the unlock
//! screen; a wrong passphrase is refused with a clear error, the right one opens it, and the
//! flight is listed with its vehicle and a size.
//!
//! Two starts because the engine learns where to record when it starts: a vault created
//! mid-session records from the next start on (the create screen says so).
//!
//! With `AIRGAP_SCREENSHOT_DIR` set it also saves `airgap-unlock.png` and
//! `airgap-flights.png` there.

use std::path::PathBuf;
use std::time::Duration;

use airgap_e2e::{run_app_test_with, testid, Launch, Ui};
use anyhow::{ensure, Context, Result};

const SECOND: Duration = Duration::from_secs(1);
const PASSPHRASE: &str = "kestrel orbit lantern 42";

fn gate(state: &str) -> String {
    format!("{}[data-state=\"{state}\"]", testid("vault-gate"))
}

fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("AIRGAP_SCREENSHOT_DIR").map(PathBuf::from)
}

#[tokio::test]
async fn create_record_lock_unlock_and_see_the_flight() {
    let data = tempfile::Builder::new()
        .prefix("airgap-e2e-vault-data-")
        .tempdir()
        .expect("a temp dir");
    let launch = Launch {
        data_dir: Some(data.path().to_path_buf()),
        stay_on_vault: true,
        ..Launch::default()
    };
    run_app_test_with("vault_create", &[], &launch, |ui, _| create(ui)).await;
    run_app_test_with("vault_flow", &["--sim"], &launch, |ui, _| flow(ui)).await;
}

async fn create(ui: Ui) -> Result<()> {
    ui.wait_present(&gate("absent"), "the create screen", 20 * SECOND)
        .await?;
    let warning = ui.shown(&testid("vault-warning")).await;
    ensure!(
        warning.contains("no recovery"),
        "the create screen must warn that a forgotten passphrase cannot be recovered: {warning:?}"
    );
    ui.type_into(&testid("vault-pass"), "password1").await?;
    ui.wait_text(
        &testid("vault-strength"),
        "a weak passphrase called weak",
        5 * SECOND,
        |t| t.starts_with("Weak"),
    )
    .await?;
    ui.type_into(&testid("vault-pass"), PASSPHRASE).await?;
    ui.type_into(&testid("vault-pass2"), PASSPHRASE).await?;
    ui.wait_text(
        &testid("vault-strength"),
        "the strength hint",
        5 * SECOND,
        |t| t.starts_with("Strong"),
    )
    .await?;
    ui.click(&testid("vault-create")).await?;
    ui.wait_present(&testid("vault-contents"), "the open vault", 20 * SECOND)
        .await?;
    ui.wait_text(
        &testid("vault-state"),
        "the status bar to say unlocked",
        5 * SECOND,
        |t| t == "Unlocked",
    )
    .await?;
    Ok(())
}

async fn unlock(ui: &Ui, passphrase: &str) -> Result<()> {
    ui.type_into(&testid("vault-pass"), passphrase).await?;
    ui.click(&testid("vault-unlock")).await
}

fn sim_flight_row() -> String {
    format!("{}[data-sysids=\"1\"]", testid("flight-row"))
}

/// Waits until the listed flight of the simulated vehicle spans `seconds` on disk (the list
/// is read again every 3 s).
async fn wait_for_duration(ui: &Ui, seconds: f64) -> Result<f64> {
    ui.wait_attr_number(
        &sim_flight_row(),
        "data-duration",
        &format!("{seconds} s of flight recorded"),
        Duration::from_secs_f64(seconds) + 30 * SECOND,
        |d| d >= seconds,
    )
    .await
}

/// Waits for the listed flight of the simulated vehicle to have reached the disk.
async fn wait_for_flight(ui: &Ui) -> Result<f64> {
    let row = sim_flight_row();
    ui.wait_attr_number(
        &row,
        "data-bytes",
        "a flight of SYS 1 with bytes on disk",
        30 * SECOND,
        |b| b > 0.0,
    )
    .await
}

async fn flow(ui: Ui) -> Result<()> {
    // Second start: the vault exists, so the app opens on the unlock screen, and the sim
    // link is already being recorded behind it.
    ui.wait_present(&gate("locked"), "the unlock screen", 20 * SECOND)
        .await?;
    ui.wait_text(
        &testid("status-link-state"),
        "the sim link up behind the unlock screen",
        30 * SECOND,
        |s| s.eq_ignore_ascii_case("up"),
    )
    .await?;
    ui.wait_present(
        &testid("status-recording"),
        "the REC mark while locked",
        10 * SECOND,
    )
    .await?;
    if let Some(dir) = screenshot_dir() {
        std::fs::create_dir_all(&dir)?;
        ui.save_screenshot(&dir.join("airgap-unlock.png")).await?;
    }
    unlock(&ui, PASSPHRASE).await?;
    ui.wait_present(&testid("vault-contents"), "the open vault", 20 * SECOND)
        .await?;
    // A few seconds of recording (chunks are sealed every second); for the screenshot, long
    // enough for the vehicle to get its GPS fix and take off, so the flight has a track.
    let seconds = if screenshot_dir().is_some() {
        40.0
    } else {
        4.0
    };
    wait_for_duration(&ui, seconds).await?;
    let first = wait_for_flight(&ui).await?;

    ui.click(&testid("vault-lock")).await?;
    ui.wait_present(&gate("locked"), "the unlock screen after Lock", 10 * SECOND)
        .await?;
    ensure!(
        !ui.exists(&testid("flight-row")).await?,
        "a locked vault must not leave its flights on screen"
    );

    unlock(&ui, "not the passphrase").await?;
    ui.wait_text(
        &testid("vault-error"),
        "the wrong passphrase refused",
        10 * SECOND,
        |t| t.contains("Wrong passphrase"),
    )
    .await?;
    ensure!(
        ui.exists(&gate("locked")).await?,
        "a wrong passphrase must leave the vault locked"
    );

    unlock(&ui, PASSPHRASE).await?;
    ui.wait_present(&testid("vault-contents"), "the open vault", 20 * SECOND)
        .await?;
    let bytes = wait_for_flight(&ui).await?;
    let vehicles = ui
        .text(&format!(
            "{} {}",
            testid("flight-row"),
            testid("flight-vehicles")
        ))
        .await?
        .context("the flight row shows its vehicles")?;
    ensure!(vehicles == "SYS 1", "flight vehicles: {vehicles:?}");
    ensure!(
        bytes >= first,
        "the flight shrank across lock/unlock: {first} → {bytes} bytes"
    );
    eprintln!("[e2e] flight of SYS 1: {bytes} bytes listed after unlock");

    // Open it: track and altitude decoded from the recorded chunks.
    ui.click(&format!(
        "{} {}",
        testid("flight-row"),
        testid("flight-open")
    ))
    .await?;
    ui.wait_text(
        &testid("flight-detail"),
        "the flight's track",
        15 * SECOND,
        |t| t.contains("SYS 1") && t.contains("messages"),
    )
    .await?;
    if let Some(dir) = screenshot_dir() {
        ui.wait_text(
            &testid("flight-detail"),
            "positions in the track",
            5 * SECOND,
            |t| !t.contains(" 0 positions"),
        )
        .await?;
        ui.save_screenshot(&dir.join("airgap-flights.png")).await?;
    }
    keep_a_mission(&ui).await?;
    keep_a_parameter_snapshot(&ui).await
}

/// A plan kept from the Plan view is listed in the vault, renamed, and opens again.
async fn keep_a_mission(ui: &Ui) -> Result<()> {
    ui.click(&testid("view-plan")).await?;
    ui.wait_present(&testid("plan-map"), "the Plan map", 10 * SECOND)
        .await?;
    for (dx, dy) in [(-60.0, -40.0), (40.0, -80.0), (90.0, 30.0)] {
        ui.click_at(&testid("plan-map"), dx, dy).await?;
    }
    ui.type_into(&testid("plan-vault-name"), "North field survey")
        .await?;
    ui.click(&testid("plan-vault-save")).await?;
    ui.wait_text(&testid("plan-message"), "the plan kept", 10 * SECOND, |t| {
        t.contains("Kept \"North field survey\"")
    })
    .await?;
    ui.click(&testid("view-vault")).await?;
    let row = format!(
        "{}[data-name=\"North field survey\"]",
        testid("mission-row")
    );
    ui.wait_text(&row, "the kept mission listed", 10 * SECOND, |t| {
        t.contains("3 waypoints")
    })
    .await?;
    ui.click(&format!("{row} {}", testid("mission-rename")))
        .await?;
    ui.type_into(&testid("mission-name"), "South field survey")
        .await?;
    ui.click(&testid("mission-rename-ok")).await?;
    let renamed = format!(
        "{}[data-name=\"South field survey\"]",
        testid("mission-row")
    );
    ui.wait_present(&renamed, "the renamed mission", 10 * SECOND)
        .await?;
    ui.click(&format!("{renamed} {}", testid("mission-open")))
        .await?;
    ui.wait_present(&testid("plan-map"), "the Plan view", 10 * SECOND)
        .await?;
    let items = ui.all(&testid("plan-item")).await?.len();
    ensure!(items == 3, "the opened mission has {items} items, not 3");
    Ok(())
}

/// A full parameter download made while unlocked is kept as a snapshot.
async fn keep_a_parameter_snapshot(ui: &Ui) -> Result<()> {
    ui.click(&testid("view-params")).await?;
    ui.click(&testid("params-download")).await?;
    ui.wait_text(
        &testid("params-message"),
        "the download to finish",
        60 * SECOND,
        |t| t.contains("parameters from vehicle"),
    )
    .await?;
    ui.click(&testid("view-vault")).await?;
    ui.wait_text(
        &testid("snapshot-row"),
        "the download kept as a snapshot",
        10 * SECOND,
        |t| t.contains("SYS 1"),
    )
    .await?;
    // Compared with the vehicle it was just taken from: nothing differs.
    ui.click(&testid("snapshot-compare")).await?;
    ui.wait_text(
        &testid("params-diff-panel"),
        "the comparison in the Parameters view",
        10 * SECOND,
        |t| t.contains("Snapshot of SYS 1") && t.contains("0 differ"),
    )
    .await?;
    Ok(())
}
