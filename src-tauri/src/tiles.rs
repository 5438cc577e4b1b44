//! Map tiles in the desktop app: the `tile` URI scheme that serves the page its map tiles
//! (from the vault, or fetched through the egress gate and cached while online), and the
//! commands of the map settings: the tile source, area downloads with estimate, progress and
//! cancel, MBTiles imports, and the per-source cache summary.
//!
//! The page never reaches a tile server itself: its CSP allows images only from this scheme.
//! The scheme answers 404 whenever the vault cannot give a tile (locked, absent, a miss while
//! sealed), so the bundled basemap under the tile layer shows through.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use airgap_engine::airgap_egress::Gate;
use airgap_engine::airgap_vault::{Vault, VaultError};
use airgap_tiles::{BBox, Estimate, Progress, TileCache, TileError, TileSource, MAX_ZOOM};
use tauri::http::{header, Request, Response, StatusCode};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::commands::AppState;
use crate::dto::{
    IpcError, TileAreaView, TileCacheView, TileEstimateView, TileImportView, TileProgressView,
    TileReportView, TileSourceView, TilesView,
};
use crate::files;
use crate::vault::VaultHandle;

/// The URI scheme the page loads tiles from (`tile://localhost/{z}/{x}/{y}`; on Windows
/// `http://tile.localhost/{z}/{x}/{y}`).
pub const SCHEME: &str = "tile";
/// Progress of an area download reaches the page at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// What OpenStreetMap's licence asks every map that shows its tiles to say.
const OSM_ATTRIBUTION: &str = "© OpenStreetMap contributors";

/// The app's tile caches: one for the open vault and the configured source, built when a tile
/// is first asked for and rebuilt when either changes. Managed by Tauri.
pub struct Tiles {
    gate: Gate,
    current: Mutex<Option<Arc<TileCache>>>,
}

impl Tiles {
    pub fn new(gate: Gate) -> Tiles {
        Tiles {
            gate,
            current: Mutex::new(None),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<Arc<TileCache>>> {
        // Only whole values are stored, so a poisoned lock still holds a valid one.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cache of the configured source in `vault` (unlocked). Kept between requests: it
    /// holds the provider's politeness state (requests in flight, Retry-After, a refusal by
    /// the gate), which must span the whole session, not one tile.
    fn cache(&self, vault: &Arc<Vault>) -> Result<Arc<TileCache>, VaultError> {
        let mut current = self.current();
        if let Some(cache) = current.as_ref().filter(|c| Arc::ptr_eq(c.vault(), vault)) {
            return Ok(Arc::clone(cache));
        }
        let source = TileSource::load(vault)?;
        let client = source.client(self.gate.clone());
        let cache = Arc::new(TileCache::new(Arc::clone(vault), Some(client), source));
        *current = Some(Arc::clone(&cache));
        Ok(cache)
    }

    /// Forgets the cache: the next tile builds one for the source configured then.
    fn forget(&self) {
        *self.current() = None;
    }
}

// ---------------------------------------------------------------------------------------------
// The URI scheme

/// `/{z}/{x}/{y}` (a query, such as the page's cache-busting generation, is ignored).
pub fn parse_tile_path(path: &str) -> Option<(u8, u32, u32)> {
    let mut parts = path.strip_prefix('/')?.split('/');
    let z = parts.next()?.parse().ok()?;
    let x = parts.next()?.parse().ok()?;
    let y = parts.next()?.parse().ok()?;
    if parts.next().is_some() || z > MAX_ZOOM {
        return None;
    }
    Some((z, x, y))
}

/// The media type of a tile, from its first bytes (tiles from MBTiles files carry none).
pub fn image_content_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "image/gif"
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "application/octet-stream"
    }
}

fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let built = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        // The web view keeps no copy: a locked vault must leave no tile behind in its cache.
        .header(header::CACHE_CONTROL, "no-store")
        .body(body);
    built.unwrap_or_else(|e| {
        // Only a malformed header could fail, and every header here is a constant.
        tracing::error!(error = %e, "cannot build a tile response");
        Response::new(Vec::new())
    })
}

fn not_found() -> Response<Vec<u8>> {
    respond(StatusCode::NOT_FOUND, "text/plain", b"no tile".to_vec())
}

/// Answers one request of the scheme. Blocking: a miss may wait for the tile server.
pub fn serve<R: Runtime>(app: &AppHandle<R>, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    if request.method() != tauri::http::Method::GET {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            b"tiles are read with GET".to_vec(),
        );
    }
    let Some((z, x, y)) = parse_tile_path(request.uri().path()) else {
        return respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            b"a tile is /{z}/{x}/{y}".to_vec(),
        );
    };
    let Some(vault) = app.state::<VaultHandle>().unlocked() else {
        return not_found();
    };
    let tiles = app.state::<Tiles>();
    let got = tiles
        .cache(&vault)
        .map_err(TileError::from)
        .and_then(|cache| cache.get(z, x, y));
    match got {
        Ok(Some(bytes)) => respond(StatusCode::OK, image_content_type(&bytes), bytes),
        Ok(None) => not_found(),
        Err(TileError::Vault(VaultError::Locked)) => not_found(),
        Err(e) => {
            // A dead tile server or a bad answer: the basemap shows there; say why once per tile.
            tracing::debug!(error = %e, z, x, y, "tile not served");
            not_found()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

fn tile_error(e: TileError) -> IpcError {
    match e {
        TileError::Vault(v) => IpcError::from(v),
        TileError::Refused(r) => IpcError::new("egress_refused", r.to_string()),
        e @ (TileError::BadSource { .. }
        | TileError::BadBBox(_)
        | TileError::AreaTooLarge { .. }
        | TileError::ZoomTooDeep { .. }
        | TileError::BadTile(_)) => IpcError::new("invalid", sentence(&e.to_string())),
        e @ (TileError::NotMbTiles { .. }
        | TileError::UnsupportedMbTiles { .. }
        | TileError::MbTilesRead { .. }) => IpcError::new("file_failed", sentence(&e.to_string())),
        e => IpcError::new("tiles_failed", sentence(&e.to_string())),
    }
}

/// The first letter up-cased: library errors are lower-case clauses, the UI shows sentences.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// The attribution a map must show for `source`: OpenStreetMap's licence text, else the
/// server the tiles come from (a source's own terms may ask for more; DESIGN.md).
pub fn attribution(source: &TileSource) -> String {
    if source.is_openstreetmap() {
        return OSM_ATTRIBUTION.to_owned();
    }
    let rest = source
        .url_template
        .split_once("://")
        .map_or(source.url_template.as_str(), |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest);
    format!("Map tiles: {host}")
}

fn source_view(source: &TileSource) -> TileSourceView {
    TileSourceView {
        name: source.name.clone(),
        url_template: source.url_template.clone(),
        is_openstreetmap: source.is_openstreetmap(),
        attribution: attribution(source),
        max_zoom: source.max_zoom,
        max_area_zoom: source.max_area_zoom.min(source.max_zoom),
        max_area_tiles: source.max_area_tiles as f64,
    }
}

fn tiles_view(vault: &Vault, gate: &Gate) -> Result<TilesView, IpcError> {
    let source = TileSource::load(vault)?;
    let caches = vault
        .tiles_summary()?
        .into_iter()
        .map(|s| TileCacheView {
            current: s.source == source.name,
            source: s.source,
            tiles: s.tiles as f64,
            bytes: s.bytes as f64,
            damaged: s.damaged as f64,
        })
        .collect();
    Ok(TilesView {
        source: source_view(&source),
        caches,
        sealed: gate.is_sealed(),
    })
}

/// Runs a blocking tile or vault call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IpcError::new("internal", format!("the tile task failed: {e}")))?
}

fn unlocked(vault: &VaultHandle) -> Result<Arc<Vault>, IpcError> {
    vault.unlocked().ok_or_else(|| VaultError::Locked.into())
}

/// The tile source, the caches in the vault, and whether downloads may reach the network.
#[tauri::command]
pub async fn tiles_status(
    vault: State<'_, VaultHandle>,
    tiles: State<'_, Tiles>,
) -> Result<TilesView, IpcError> {
    let open = unlocked(&vault)?;
    let gate = tiles.gate.clone();
    blocking(move || tiles_view(&open, &gate)).await
}

/// Makes `url_template` the tile source (`null`: back to OpenStreetMap). A template that
/// cannot work is `invalid`, with what is wrong with it.
#[tauri::command]
pub async fn tiles_set_source(
    vault: State<'_, VaultHandle>,
    tiles: State<'_, Tiles>,
    url_template: Option<String>,
) -> Result<TilesView, IpcError> {
    let source = match url_template.as_deref().map(str::trim) {
        None | Some("") => TileSource::openstreetmap(),
        Some(t) => TileSource::custom(t).map_err(tile_error)?,
    };
    let open = unlocked(&vault)?;
    let gate = tiles.gate.clone();
    let view = blocking(move || {
        source.save(&open)?;
        tiles_view(&open, &gate)
    })
    .await?;
    tiles.forget();
    Ok(view)
}

fn area(a: &TileAreaView) -> Result<(BBox, std::ops::RangeInclusive<u8>), IpcError> {
    let bbox = BBox::new(a.south_deg, a.west_deg, a.north_deg, a.east_deg)
        .map_err(|e| tile_error(e.into()))?;
    if a.min_zoom > a.max_zoom || a.max_zoom > MAX_ZOOM {
        return Err(IpcError::new(
            "invalid",
            format!(
                "The zoom range must go from a smaller to a larger zoom, at most {MAX_ZOOM}; \
                 got {} to {}.",
                a.min_zoom, a.max_zoom
            ),
        ));
    }
    Ok((bbox, a.min_zoom..=a.max_zoom))
}

fn estimate_view(e: Estimate) -> TileEstimateView {
    TileEstimateView {
        tiles: e.tiles as f64,
        bytes: e.bytes as f64,
    }
}

/// What downloading `area` would take, or why the source refuses it (`invalid`, with the
/// provider's reason: OpenStreetMap's bulk-download cap, a zoom too deep). Nothing is fetched.
#[tauri::command]
pub async fn tiles_estimate(
    vault: State<'_, VaultHandle>,
    tiles: State<'_, Tiles>,
    area: TileAreaView,
) -> Result<TileEstimateView, IpcError> {
    let (bbox, zooms) = self::area(&area)?;
    let open = unlocked(&vault)?;
    let cache = tiles.cache(&open)?;
    blocking(move || {
        cache
            .check_area(bbox, zooms)
            .map(estimate_view)
            .map_err(tile_error)
    })
    .await
}

/// Sets the download's cancel flag when the command's future is dropped: `cancel_op` drops
/// it (see ops.rs), and the download thread stops after the requests in flight.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Downloads every tile of `area` the vault does not hold, from the configured source through
/// the gate. Progress goes to `progress`; `cancel_op(op_id)` cancels. Refused up front by the
/// source's limits (`invalid`) or, while sealed, by the gate (`egress_refused`).
#[tauri::command]
pub async fn tiles_download(
    state: State<'_, AppState>,
    vault: State<'_, VaultHandle>,
    tiles: State<'_, Tiles>,
    area: TileAreaView,
    op_id: Option<u32>,
    progress: Channel<TileProgressView>,
) -> Result<TileReportView, IpcError> {
    let (bbox, zooms) = self::area(&area)?;
    let open = unlocked(&vault)?;
    let cache = tiles.cache(&open)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let guard = CancelOnDrop(Arc::clone(&cancel));
    state
        .ops
        .run_steps(op_id, "Downloading the area", async move {
            let _cancel_when_dropped = guard;
            blocking(move || {
                let mut last = Instant::now() - PROGRESS_EVERY;
                let mut report_progress = |p: Progress| {
                    if p.done == p.total || last.elapsed() >= PROGRESS_EVERY {
                        last = Instant::now();
                        // The page may have gone; the download goes on regardless.
                        let _ = progress.send(TileProgressView {
                            done: p.done as f64,
                            total: p.total as f64,
                            bytes: p.bytes as f64,
                            fetched: p.fetched as f64,
                            skipped: p.skipped as f64,
                            failed: p.failed as f64,
                        });
                    }
                };
                let report = cache
                    .download_area(bbox, zooms, &mut report_progress, &cancel)
                    .map_err(tile_error)?;
                Ok(TileReportView {
                    total: report.total as f64,
                    fetched: report.fetched as f64,
                    skipped: report.skipped as f64,
                    missing: report.missing as f64,
                    failed: report.failed as f64,
                    bytes: report.bytes as f64,
                    cancelled: report.cancelled,
                    failures: report.failures,
                })
            })
            .await
        })
        .await
}

/// Asks for an MBTiles file and copies its tiles into the vault under the configured source
/// (so the map shows them); `null` when the pilot cancelled.
#[tauri::command]
pub async fn tiles_import(
    app: AppHandle,
    vault: State<'_, VaultHandle>,
) -> Result<Option<TileImportView>, IpcError> {
    let open = unlocked(&vault)?;
    let Some(path) = files::pick_open(&app, "Import MBTiles", &[("MBTiles", &["mbtiles"])]).await?
    else {
        return Ok(None);
    };
    let file = files::file_name(&path);
    blocking(move || {
        let source = TileSource::load(&open)?;
        let report =
            airgap_tiles::import_mbtiles(&open, &path, &source.name).map_err(tile_error)?;
        Ok(Some(TileImportView {
            file,
            source: report.source,
            imported: report.imported as f64,
            bytes: report.bytes as f64,
            skipped: report.skipped as f64,
            format: report.format,
        }))
    })
    .await
}

/// Removes every cached tile of `source`.
#[tauri::command]
pub async fn tiles_delete(
    vault: State<'_, VaultHandle>,
    tiles: State<'_, Tiles>,
    source: String,
) -> Result<TilesView, IpcError> {
    let open = unlocked(&vault)?;
    let gate = tiles.gate.clone();
    blocking(move || {
        open.tiles_delete_source(&source)?;
        tiles_view(&open, &gate)
    })
    .await
}

/// Tiles asked for by the page, by the thread that answers them: the scheme handler must not
/// block the web view's thread, and each request may wait on the network.
pub fn spawn_serve<R: Runtime>(
    app: AppHandle<R>,
    request: Request<Vec<u8>>,
    responder: tauri::UriSchemeResponder,
) {
    tauri::async_runtime::spawn_blocking(move || {
        responder.respond(serve(&app, &request));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_three_numbers() {
        assert_eq!(parse_tile_path("/16/60362/39377"), Some((16, 60362, 39377)));
        assert_eq!(parse_tile_path("/0/0/0"), Some((0, 0, 0)));
        assert_eq!(parse_tile_path("/16/60362"), None);
        assert_eq!(parse_tile_path("/16/60362/39377/1"), None);
        assert_eq!(parse_tile_path("16/1/1"), None);
        assert_eq!(parse_tile_path("/25/1/1"), None, "deeper than any source");
        assert_eq!(parse_tile_path("/a/1/1"), None);
        assert_eq!(parse_tile_path("/1/-1/1"), None);
        assert_eq!(parse_tile_path("/"), None);
        assert_eq!(parse_tile_path(""), None);
    }

    #[test]
    fn tiles_are_served_with_their_own_media_type() {
        assert_eq!(
            image_content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            "image/png"
        );
        assert_eq!(image_content_type(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(image_content_type(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(image_content_type(b"GIF89a"), "image/gif");
        assert_eq!(
            image_content_type(b"<html>"),
            "application/octet-stream",
            "never claimed to be an image"
        );
    }

    #[test]
    fn openstreetmap_is_credited_as_its_licence_asks() {
        assert_eq!(
            attribution(&TileSource::openstreetmap()),
            "© OpenStreetMap contributors"
        );
        let local = TileSource::custom("http://127.0.0.1:8080/{z}/{x}/{y}.png").expect("valid");
        assert_eq!(attribution(&local), "Map tiles: 127.0.0.1:8080");
    }

    #[test]
    fn a_source_refusal_reaches_the_pilot_as_a_sentence() {
        let e = tile_error(TileError::AreaTooLarge {
            tiles: 9000,
            max: 2500,
            source_name: "openstreetmap".into(),
            hint: ": smaller",
        });
        assert_eq!(e.code, "invalid");
        assert!(
            e.message.starts_with("The area is 9000 tiles"),
            "{}",
            e.message
        );
        assert_eq!(
            tile_error(TileError::Vault(VaultError::Locked)).code,
            "locked"
        );
    }

    #[test]
    fn a_zoom_range_must_be_ordered() {
        let a = TileAreaView {
            south_deg: -35.4,
            west_deg: 149.1,
            north_deg: -35.3,
            east_deg: 149.2,
            min_zoom: 15,
            max_zoom: 12,
        };
        assert_eq!(area(&a).err().map(|e| e.code), Some("invalid".to_owned()));
        let b = TileAreaView {
            min_zoom: 10,
            max_zoom: 12,
            ..a
        };
        let (bbox, zooms) = area(&b).expect("valid");
        assert_eq!(zooms, 10..=12);
        assert!(bbox.north_deg > bbox.south_deg);
        let c = TileAreaView {
            north_deg: -36.0,
            ..b
        };
        assert_eq!(area(&c).err().map(|e| e.code), Some("invalid".to_owned()));
    }
}
