//! Started with `--sealed`: the status bar says SEALED (its self-test passed) and what
//! protects it, the OS-layer line says what `airgap --sealed seal status` says on this
//! machine, a forward to a network address (192.0.2.1, TEST-NET-1: nothing is ever sent)
//! is refused with the gate's words and counted, a loopback forward carries telemetry, and
//! the simulated vehicle's link keeps streaming throughout.

// The loopback forward's far end is a socket of the test: that is the point.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the test listens on 127.0.0.1 for the forward it adds"
)]

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use airgap_e2e::{cli_bin, parse_number, run_app_test, testid, Ui};
use anyhow::{bail, ensure, Context, Result};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn sealed_start_refuses_a_network_forward_and_keeps_flying() {
    run_app_test("seal_sealed", &["--sealed", "--sim"], |ui, dir| {
        sealed(ui, dir)
    })
    .await;
}

/// What `airgap --sealed seal status --json` says of the OS layer on this machine: the
/// mechanism when engaged, else why it is not available.
fn cli_os_layer(data_dir: &Path) -> Result<(bool, String)> {
    let out = Command::new(cli_bin()?)
        .args(["--sealed", "seal", "status", "--json"])
        .env("AIRGAP_DATA_DIR", data_dir)
        .output()
        .context("running airgap seal status")?;
    ensure!(out.status.success(), "airgap seal status failed: {out:?}");
    let status: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("seal status --json is JSON")?;
    let os = &status["os_layer"];
    let available = os["available"].as_bool().context("os_layer.available")?;
    let words = if available {
        os["mechanism"].as_str()
    } else {
        os["why"].as_str()
    };
    Ok((available, words.context("os_layer words")?.to_owned()))
}

async fn number(ui: &Ui, css: &str) -> Result<f64> {
    let text = ui.shown(css).await;
    parse_number(&text).with_context(|| format!("{css} shows {text:?}, not a number"))
}

async fn sealed(ui: Ui, dir: std::path::PathBuf) -> Result<()> {
    ui.wait_link_state(None, "up", 30 * SECOND).await?;
    let badge = ui
        .wait_text(
            &testid("seal-badge"),
            "the SEALED badge",
            10 * SECOND,
            |t| t == "SEALED",
        )
        .await?;
    ensure!(badge == "SEALED");
    ensure!(
        ui.attr(&testid("seal-badge"), "data-state")
            .await?
            .as_deref()
            == Some("sealed"),
        "the badge's state is sealed"
    );

    // The OS-layer line is what the CLI says on this machine.
    let (available, words) = cli_os_layer(&dir.join("data"))?;
    let layers = ui.shown(&testid("seal-layers")).await;
    ensure!(
        layers == if available { "gate + OS" } else { "gate · OS n/a" },
        "the status bar's layers {layers:?} disagree with the CLI (OS layer available: {available})"
    );
    ui.click(&testid("seal-badge")).await?;
    let os = ui
        .wait_text(&testid("seal-os"), "the OS-layer line", 10 * SECOND, |t| {
            !t.is_empty()
        })
        .await?;
    ensure!(
        os.contains(&words),
        "the Settings view says {os:?} of the OS layer; `airgap seal status` says {words:?}"
    );
    if !available {
        ensure!(
            os.starts_with("not in place"),
            "the missing OS layer is said plainly: {os:?}"
        );
    } else {
        // The OS layer's own count (WebKit's processes ask for netlink sockets, for one).
        ui.wait_number(
            &testid("seal-os-refused"),
            "the OS layer's refused count",
            10 * SECOND,
            |n| n >= 0.0,
        )
        .await?;
    }
    let gate_layer = format!("{}[data-layer=\"egress gate\"]", testid("seal-layer"));
    ensure!(
        ui.attr(&gate_layer, "data-outcome").await?.as_deref() == Some("pass"),
        "the egress gate passed its self-test"
    );

    // Back to the Fly view: forwards are in the link settings.
    ui.click(&testid("view-fly")).await?;
    ui.wait_present(
        &testid("forward-address"),
        "the forwarding list",
        10 * SECOND,
    )
    .await?;
    let refused_before = number(&ui, &testid("seal-refused")).await?;
    let rx_before = number(&ui, &testid("link-rx-frames")).await?;

    ui.type_into(&testid("forward-address"), "udpout:192.0.2.1:14550")
        .await?;
    ui.click(&testid("forward-add")).await?;
    let refusal = ui
        .wait_text(&testid("forward-error"), "the refusal", 10 * SECOND, |t| {
            !t.is_empty()
        })
        .await?;
    ensure!(
        refusal.contains("192.0.2.1:14550") && refusal.contains("seal"),
        "the refusal names the address and the seal: {refusal:?}"
    );
    ensure!(
        !ui.exists(&testid("forward-row")).await?,
        "a refused forward is not listed"
    );
    ui.wait_number(
        &testid("seal-refused"),
        "the refused count to go up",
        5 * SECOND,
        |n| n >= refused_before + 1.0,
    )
    .await?;

    // A loopback forward is not egress: it is opened and carries the vehicle's telemetry.
    let listener = UdpSocket::bind("127.0.0.1:0")?;
    listener.set_read_timeout(Some(10 * SECOND))?;
    let port = listener.local_addr()?.port();
    ui.type_into(
        &testid("forward-address"),
        &format!("udpout:127.0.0.1:{port}"),
    )
    .await?;
    ui.click(&testid("forward-add")).await?;
    ui.wait_number(
        &testid("forward-tx"),
        "the loopback forward to carry frames",
        10 * SECOND,
        |n| n > 0.0,
    )
    .await?;
    let received = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 512];
        listener.recv(&mut buf)
    })
    .await??;
    ensure!(received > 0, "the loopback forward delivered a datagram");

    // The vehicle link kept streaming through all of it.
    ui.wait_number(
        &testid("link-rx-frames"),
        "the sim link to keep receiving",
        10 * SECOND,
        |n| n > rx_before + 50.0,
    )
    .await?;
    let state = ui.shown(&Ui::link_state(None)).await;
    if !state.eq_ignore_ascii_case("up") {
        bail!("the sim link is {state:?}, not up");
    }
    let badge = ui.shown(&testid("seal-badge")).await;
    ensure!(badge == "SEALED", "still SEALED: {badge:?}");
    Ok(())
}
