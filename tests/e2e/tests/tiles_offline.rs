//! Offline maps in the desktop app (issue 5): tiles fetched while online are cached in the
//! vault and render from it after a sealed restart, with the tile server hearing nothing new.
//!
//! A tile server in this test (loopback, counting requests, a generated PNG per z/x/y) is the
//! configured source (`airgap tiles source set`). First run, online: unlock, the Fly map shows
//! the server's tiles through the app's `tile` scheme, and "Download this area" in Settings
//! caches the area around it (estimate first, then the download; a bad template and a zoom
//! deeper than the source allows are refused with their reasons first). Then the server stops
//! serving tiles (it answers 404, still counting) and the app starts again `--sealed` on the
//! same data dir: locked, the map has no tile layer; unlocked, the same tiles render from the
//! vault and the server receives no request; far from the cached area no tile loads, and the
//! bundled basemap is what shows. A sealed app may still reach a tile server on loopback (the
//! gate lets loopback through), so the 404 is what keeps the far area empty there.
//!
//! With `AIRGAP_SCREENSHOT_DIR` set it also saves `airgap-tiles-settings.png` there.

// The tile server is a test fixture on 127.0.0.1.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the test runs its own loopback tile server"
)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use airgap_e2e::{run_app_test_with, testid, CliData, Deadline, Launch, Ui};
use anyhow::{bail, ensure, Context, Result};

const SECOND: Duration = Duration::from_secs(1);
const PASSPHRASE: &str = "harrier contour beacon 7";
/// Far from the Fly map's opening view (Canberra): Lake Zurich.
const FAR_AWAY: &str = "47.25, 8.68";

// ---------------------------------------------------------------------------------------------
// The tile server

/// A loopback HTTP tile server: every request counted; `/z/x/y.png` answered with a small PNG
/// whose colour depends on the tile while `serving`, with 404 otherwise.
struct TileServer {
    port: u16,
    requests: Arc<AtomicU64>,
    serving: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl TileServer {
    fn start() -> Result<TileServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let requests = Arc::new(AtomicU64::new(0));
        let serving = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, st) = (requests.clone(), serving.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (r, s) = (r.clone(), s.clone());
                std::thread::spawn(move || answer(conn, &r, &s));
            }
        });
        Ok(TileServer {
            port,
            requests,
            serving,
            stop,
        })
    }

    fn template(&self) -> String {
        format!("http://127.0.0.1:{}/{{z}}/{{x}}/{{y}}.png", self.port)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(mut conn: TcpStream, requests: &AtomicU64, serving: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(5 * SECOND));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("");
    let tile = parse_tile(path);
    let (status, body, kind) = match tile {
        Some((z, x, y)) if serving.load(Ordering::SeqCst) => ("200 OK", png(z, x, y), "image/png"),
        _ => ("404 Not Found", b"no tile".to_vec(), "text/plain"),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: max-age=86400\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(header.as_bytes());
    let _ = conn.write_all(&body);
}

fn parse_tile(path: &str) -> Option<(u32, u32, u32)> {
    let mut parts = path.strip_prefix('/')?.strip_suffix(".png")?.split('/');
    let z = parts.next()?.parse().ok()?;
    let x = parts.next()?.parse().ok()?;
    let y = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((z, x, y))
}

/// A 16×16 PNG of one colour derived from the tile (stored, uncompressed deflate).
fn png(z: u32, x: u32, y: u32) -> Vec<u8> {
    const SIDE: u32 = 16;
    let colour = [
        (40 + z * 9) as u8,
        (60 + (x % 7) * 25) as u8,
        (80 + (y % 5) * 30) as u8,
    ];
    // Each row: filter type 0 (none), then its pixels.
    let row: Vec<u8> = std::iter::once(0)
        .chain((0..SIDE).flat_map(|_| colour))
        .collect();
    let raw = row.repeat(SIDE as usize);
    let mut zlib = vec![0x78, 0x01, 0x01];
    let len = u16::try_from(raw.len()).expect("a 16×16 image fits one stored block");
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr.as_slice()), (b"IDAT", &zlib), (b"IEND", &[])] {
        let len = u32::try_from(data.len()).expect("small chunks");
        out.extend_from_slice(&len.to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

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
    let server = Arc::new(TileServer::start().expect("the tile server"));
    let data = CliData::new("tiles", PASSPHRASE).expect("scratch data");
    data.airgap(&["vault", "init"]).expect("a vault");
    data.airgap(&["tiles", "source", "set", &server.template()])
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
    let after_online = server.requests();
    eprintln!(
        "[e2e] online: {} tiles on screen, {after_online} requests to the tile server",
        seen_online.len()
    );

    // The internet is gone: the server answers nothing but 404 from now on.
    server.serving.store(false, Ordering::SeqCst);
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
        server.requests() > 0,
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
    let before = server.requests();
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
    let asked = server.requests() - before;
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
    let before = server.requests();
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
        server.requests() == before,
        "the tile server was asked {} times while the map showed cached tiles",
        server.requests() - before
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
