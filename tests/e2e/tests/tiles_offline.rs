//! Offline maps in the desktop app (issue 5): tiles fetched while online are cached in the
//! vault and render from it after a sealed restart, with the tile server hearing nothing new.
//!
//! The shared test tile server (tests/tile_server.rs: loopback, counting requests, a generated
//! PNG per z/x/y) is the configured source (`airgap tiles source set`). First run, online:
//! unlock, the Fly map shows the server's tiles through the app's `tile` scheme, and "Download
//! this area" in Settings caches the area around it (estimate first, then the download; a bad
//! template and a zoom deeper than the source allows are refused with their reasons first).
//! Then the server stops serving tiles (it answers 404, still counting) and the app starts
//! again `--sealed` on the same data dir: locked, the map has no tile layer; unlocked, the same
//! tiles render from the vault and the server receives no request; far from the cached area no
//! tile loads, and the bundled basemap is what shows. A sealed app may still reach a tile
//! server on loopback (the gate lets loopback through), so the 404 is what keeps the far area
//! empty there.
//!
//! With `AIRGAP_SCREENSHOT_DIR` set it also saves `airgap-tiles-settings.png` there.

#[path = "../../tile_server.rs"]
mod tile_server;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use airgap_e2e::{run_app_test_with, testid, CliData, Deadline, Launch, Ui};
use anyhow::{bail, ensure, Context, Result};
use tile_server::{Behaviour, TileServer};

const SECOND: Duration = Duration::from_secs(1);
const PASSPHRASE: &str = "harrier contour beacon 7";
/// Far from the Fly map's opening view (Canberra): Lake Zurich.
const FAR_AWAY: &str = "47.25, 8.68";

// ---------------------------------------------------------------------------------------------
// The page

/// The Fly map's tile images: source and whether each has loaded (naturalWidth > 0).
const TILE_IMAGES: &str = r#"
const imgs = [...document.querySelectorAll('[data-testid="fly-map"] img.leaflet-tile')];
return JSON.stringify(imgs.map(i => ({
  src: i.getAttribute('src') || '',
  loaded: i.complete && i.naturalWidth > 0,
})));
"#;

/// How many paths the bundled basemap has drawn on the Fly map.
const BASEMAP_PATHS: &str = r#"
const pane = document.querySelector('[data-testid="fly-map"] .leaflet-basemap-pane');
return pane ? pane.querySelectorAll('path').length : -1;
"#;

/// The `z/x/y` of the tile images from the app's scheme that have loaded, and how many
/// images there are in all.
async fn loaded_tiles(ui: &Ui) -> Result<(BTreeSet<String>, usize)> {
    let value = ui
        .client()
        .execute(TILE_IMAGES, vec![])
        .await
        .context("listing the map's tile images")?;
    let list: Vec<serde_json::Value> = serde_json::from_str(value.as_str().unwrap_or("[]"))?;
    let mut loaded = BTreeSet::new();
    for img in &list {
        let src = img["src"].as_str().unwrap_or_default();
        let Some(rest) = src
            .strip_prefix("tile://localhost/")
            .or_else(|| src.strip_prefix("http://tile.localhost/"))
        else {
            bail!("a tile image from somewhere else than the app's scheme: {src}");
        };
        if img["loaded"].as_bool() == Some(true) {
            loaded.insert(rest.split('?').next().unwrap_or(rest).to_owned());
        }
    }
    Ok((loaded, list.len()))
}

/// Waits until the map shows at least one loaded tile and nothing new loads for a while.
async fn settled_tiles(ui: &Ui, what: &str) -> Result<BTreeSet<String>> {
    let mut deadline = Deadline::new(what, 30 * SECOND);
    let mut last = BTreeSet::new();
    let mut steady = 0;
    loop {
        let (loaded, all) = loaded_tiles(ui).await?;
        steady = if !loaded.is_empty() && loaded == last {
            steady + 1
        } else {
            0
        };
        if steady >= 10 {
            deadline.done();
            return Ok(loaded);
        }
        last = loaded;
        deadline
            .tick(format!("{} of {all} tiles loaded", last.len()))
            .await?;
    }
}

async fn unlock(ui: &Ui) -> Result<()> {
    let locked = format!("{}[data-state=\"locked\"]", testid("vault-gate"));
    ui.wait_present(&locked, "the unlock screen", 20 * SECOND)
        .await?;
    ui.type_into(&testid("vault-pass"), PASSPHRASE).await?;
    ui.click(&testid("vault-unlock")).await?;
    ui.wait_present(&testid("vault-contents"), "the open vault", 20 * SECOND)
        .await
}

async fn fly_view(ui: &Ui) -> Result<()> {
    ui.click(&testid("view-fly")).await?;
    ui.wait_present(&testid("fly-map"), "the Fly map", 10 * SECOND)
        .await
}

// ---------------------------------------------------------------------------------------------
// The runs

#[tokio::test]
async fn tiles_seen_online_render_from_the_vault_after_a_sealed_restart() {
    // A day's freshness, as real tile servers send: sealed, cached tiles are not stale.
    let server = Arc::new(TileServer::start(Behaviour {
        cache_control: Some("max-age=86400"),
        ..Behaviour::default()
    }));
    let data = CliData::new("tiles", PASSPHRASE).expect("scratch data");
    data.airgap(&["vault", "init"]).expect("a vault");
    data.airgap(&["tiles", "source", "set", &server.template("127.0.0.1")])
        .expect("the tile source");
    let launch = Launch {
        data_dir: Some(data.data_dir()),
        stay_on_vault: true,
        ..Launch::default()
    };

    let (tx, rx) = mpsc::channel();
    let online_server = server.clone();
    run_app_test_with("tiles_online", &[], &launch, move |ui, _| {
        online(ui, online_server, tx)
    })
    .await;
    let seen_online = rx.recv().expect("the online run's tiles");
    let after_online = server.request_count();
    eprintln!(
        "[e2e] online: {} tiles on screen, {after_online} requests to the tile server",
        seen_online.len()
    );

    // The internet is gone: the server answers nothing but 404 from now on.
    server.stop_serving();
    let sealed_server = server.clone();
    run_app_test_with("tiles_sealed", &["--sealed"], &launch, move |ui, _| {
        sealed(ui, sealed_server, seen_online)
    })
    .await;
}

async fn online(
    ui: Ui,
    server: Arc<TileServer>,
    seen: mpsc::Sender<BTreeSet<String>>,
) -> Result<()> {
    unlock(&ui).await?;
    fly_view(&ui).await?;
    let tiles = settled_tiles(&ui, "the source's tiles on the Fly map").await?;
    ensure!(
        server.request_count() > 0,
        "tiles loaded, yet the tile server was never asked"
    );
    ensure!(
        tiles.iter().all(|t| t.starts_with("16/")),
        "the map opens at zoom 16: {tiles:?}"
    );

    // Settings: "Download this area" around what the map showed, zooms 15 to 17.
    ui.click(&testid("view-settings")).await?;
    ui.wait_text(
        &testid("tiles-source-name"),
        "the configured tile source",
        10 * SECOND,
        |s| s.contains("127.0.0.1"),
    )
    .await?;
    // Refusals are shown with their reasons, and change nothing.
    ui.type_into(&testid("tiles-source"), "ftp://example.org/{z}/{x}/{y}.png")
        .await?;
    ui.click(&testid("tiles-source-save")).await?;
    ui.wait_text(
        &testid("tiles-source-error"),
        "the bad template's refusal",
        10 * SECOND,
        |s| s.contains("must start with http"),
    )
    .await?;
    ui.type_into(&testid("tiles-zoom-min"), "15").await?;
    ui.type_into(&testid("tiles-zoom-max"), "24").await?;
    ui.click(&testid("tiles-estimate")).await?;
    ui.wait_text(
        &testid("tiles-area-error"),
        "the source's zoom limit for downloads",
        10 * SECOND,
        |s| s.contains("deeper than") && s.contains("allows"),
    )
    .await?;
    ensure!(
        !ui.exists(&testid("tiles-estimate-text")).await?,
        "an estimate beside a refusal"
    );
    ui.type_into(&testid("tiles-zoom-max"), "17").await?;
    ui.click(&testid("tiles-estimate")).await?;
    let estimate = ui
        .wait_attr_number(
            &testid("tiles-estimate-text"),
            "data-tiles",
            "the estimate",
            10 * SECOND,
            |n| n > 0.0,
        )
        .await?;
    let before = server.request_count();
    ui.click(&testid("tiles-download")).await?;
    let outcome = ui
        .wait_text(
            &testid("tiles-outcome"),
            "the download to finish",
            60 * SECOND,
            |s| s.starts_with("Done"),
        )
        .await?;
    ensure!(
        outcome.contains("0 failed") || !outcome.contains("failed"),
        "{outcome}"
    );
    let asked = server.request_count() - before;
    ensure!(
        asked > 0 && (asked as f64) <= estimate,
        "the download asked for {asked} tiles of an estimated {estimate}: {outcome}"
    );
    let cached = ui
        .attr_number(&testid("tiles-cache-row"), "data-tiles")
        .await?
        .unwrap_or(0.0);
    ensure!(
        cached >= estimate,
        "the vault holds {cached} tiles after downloading {estimate}"
    );
    if let Some(dir) = std::env::var_os("AIRGAP_SCREENSHOT_DIR").map(PathBuf::from) {
        ui.save_screenshot(&dir.join("airgap-tiles-settings.png"))
            .await?;
    }
    let _ = seen.send(tiles);
    Ok(())
}

async fn sealed(ui: Ui, server: Arc<TileServer>, seen_online: BTreeSet<String>) -> Result<()> {
    let before = server.request_count();
    // Locked: the map has no tile layer at all (the basemap alone).
    ui.wait_present(&testid("vault-later"), "the unlock screen", 20 * SECOND)
        .await?;
    ui.click(&testid("vault-later")).await?;
    ui.wait_present(&testid("fly-map"), "the Fly map, locked", 10 * SECOND)
        .await?;
    tokio::time::sleep(2 * SECOND).await;
    let (_, images) = loaded_tiles(&ui).await?;
    ensure!(
        images == 0,
        "{images} tile images on the map while the vault is locked"
    );

    ui.click(&testid("view-vault")).await?;
    unlock(&ui).await?;
    fly_view(&ui).await?;
    let tiles = settled_tiles(&ui, "the cached tiles on the Fly map, sealed").await?;
    // The same view as online (the downloaded margin may add a tile at an edge).
    ensure!(
        tiles.intersection(&seen_online).count() > 0,
        "sealed, the map shows none of the tiles it showed online: {tiles:?} vs {seen_online:?}"
    );
    ensure!(
        server.request_count() == before,
        "the tile server was asked {} times while the map showed cached tiles",
        server.request_count() - before
    );
    eprintln!(
        "[e2e] sealed: {} tiles rendered from the vault, 0 requests",
        tiles.len()
    );

    // Far from the cached area: no tile loads, the bundled basemap shows.
    // U+E007 is WebDriver's Enter key: it submits the box.
    ui.type_into(&testid("map-goto"), &format!("{FAR_AWAY}\u{E007}"))
        .await?;
    let mut deadline = Deadline::new("the map far from the cached area", 20 * SECOND);
    let mut quiet = 0;
    loop {
        let (loaded, all) = loaded_tiles(&ui).await?;
        quiet = if loaded.is_empty() { quiet + 1 } else { 0 };
        if quiet >= 20 {
            deadline.done();
            break;
        }
        deadline
            .tick(format!(
                "{} of {all} tiles loaded: {loaded:?}",
                loaded.len()
            ))
            .await?;
    }
    let paths = ui.client().execute(BASEMAP_PATHS, vec![]).await?;
    ensure!(
        paths.as_i64().unwrap_or(0) > 0,
        "the basemap is not drawn: {paths}"
    );
    Ok(())
}
