//! The tile cache: tiles from the vault, and, when online and given a client, from the tile
//! source through the egress gate (stored in the vault as they arrive). Area downloads fill
//! it ahead of a flight. Blocking: callers run it on their own threads.
//!
//! Politeness towards the provider lives here: at most `max_parallel` requests in flight for
//! the whole cache, a pause as long as the server's `Retry-After` after a 429 or 503 (every
//! request of the cache waits it out), and cached tiles re-fetched only once their
//! `Cache-Control`/`Expires` freshness has run out. A sealed gate refuses once: the cache
//! remembers it (a gate's state is fixed for its life) and asks no more, so panning a map
//! while sealed is one refusal in the audit trail, not one per tile.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use airgap_egress::{HttpClient, Refused};
use airgap_vault::{NewTile, Vault};
use serde::Serialize;

use crate::error::{TileError, AREA_HINT, OSM_AREA_HINT, OSM_ZOOM_HINT};
use crate::geo::{estimate, BBox, Estimate, TileId};
use crate::source::TileSource;

/// How long to pause after a 429/503 that names no `Retry-After`.
const DEFAULT_BACKOFF: Duration = Duration::from_secs(5);
/// The longest pause honoured; a server asking for more is treated as failing for now.
const MAX_BACKOFF: Duration = Duration::from_secs(120);
/// Tries of one tile in an area download while the server says it is busy.
const BUSY_ATTEMPTS: u32 = 4;
/// Failure messages kept in a [`Report`].
const KEPT_FAILURES: usize = 10;
/// How often a waiting download looks at its cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// How an area download is going; handed to the progress callback after every tile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Tiles dealt with so far (fetched, skipped, missing or failed).
    pub done: u64,
    pub total: u64,
    /// Bytes fetched so far.
    pub bytes: u64,
    pub fetched: u64,
    /// Already in the vault: not asked for again.
    pub skipped: u64,
    pub failed: u64,
}

/// The outcome of an area download.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub total: u64,
    pub fetched: u64,
    pub skipped: u64,
    /// The server has no such tile (404/410): nothing to show there.
    pub missing: u64,
    pub failed: u64,
    pub bytes: u64,
    pub cancelled: bool,
    /// The first few failures, as text.
    pub failures: Vec<String>,
}

/// Tiles of one source: the vault's copies first, the network (through the gate) for the rest.
pub struct TileCache {
    vault: Arc<Vault>,
    client: Option<HttpClient>,
    source: TileSource,
    permits: Permits,
    backoff_until: Mutex<Option<Instant>>,
    /// The gate's refusal, once it refused: the gate will not change its mind.
    refused: Mutex<Option<Refused>>,
    /// Held by requests until the first one has had the gate's answer, so that concurrent
    /// callers (map panning, download workers) are refused — and audited — once, not once
    /// each.
    first_request: Mutex<bool>,
}

/// What one request for one tile came to.
enum Fetch {
    Stored(Vec<u8>),
    Missing,
    Busy,
}

/// One tile of an area download, as the collecting thread sees it.
enum Outcome {
    Fetched(u64),
    Skipped,
    Missing,
    Failed(String),
    /// Stops the download: the gate refused, or the vault failed.
    Fatal(TileError),
}

impl TileCache {
    /// A cache of `source`'s tiles in `vault`. Without a client it only reads the vault
    /// (offline); with one, misses and stale tiles are fetched through the client's gate.
    /// Build the client with [`TileSource::client`] so it sends the source's User-Agent.
    pub fn new(vault: Arc<Vault>, client: Option<HttpClient>, source: TileSource) -> TileCache {
        let permits = Permits::new(source.max_parallel.max(1));
        TileCache {
            vault,
            client,
            source,
            permits,
            backoff_until: Mutex::new(None),
            refused: Mutex::new(None),
            first_request: Mutex::new(false),
        }
    }

    pub fn source(&self) -> &TileSource {
        &self.source
    }

    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// One tile: from the vault, else fetched (when online, with a client, and the gate
    /// allows) and stored. `Ok(None)` is a miss: no client, refused by the gate (sealed),
    /// the server has no such tile, the server asked to wait, or a tile that cannot exist.
    /// A cached tile past its freshness is fetched again when possible, and served as it
    /// is when not. Errors: the vault's (`Locked` first of all), and a failed fetch of a
    /// tile that is not cached.
    pub fn get(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, TileError> {
        let Some(tile) = TileId::new(z, x, y) else {
            return Ok(None);
        };
        let cached = self.vault.tile_entry(&self.source.name, z, x, y)?;
        let may_fetch = tile.z <= self.source.max_zoom && self.may_fetch();
        match cached {
            Some(stored) => {
                let stale = stored.expires_at_s.is_some_and(|at| at <= unix_now_s());
                if !(stale && may_fetch) {
                    return Ok(Some(stored.bytes));
                }
                match self.fetch_and_store(tile) {
                    Ok(Fetch::Stored(bytes)) => Ok(Some(bytes)),
                    // A stale tile is better than none.
                    Ok(Fetch::Missing | Fetch::Busy) | Err(_) => Ok(Some(stored.bytes)),
                }
            }
            None if !may_fetch => Ok(None),
            None => match self.fetch_and_store(tile) {
                Ok(Fetch::Stored(bytes)) => Ok(Some(bytes)),
                Ok(Fetch::Missing | Fetch::Busy) | Err(TileError::Refused(_)) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// Fetch every tile of `bbox` over `zooms` that the vault does not hold yet, at most
    /// `max_parallel` at a time. `progress` is called on this thread after each tile;
    /// setting `cancel` stops the download after the requests in flight (a cancelled
    /// download reports `cancelled`). Failed tiles are counted and the download goes on; a
    /// refusal by the gate or a vault error stops it with that error.
    ///
    /// Refused up front: no client ([`TileError::Offline`]), a zoom deeper than the source
    /// allows ([`TileError::ZoomTooDeep`]) or more tiles than it allows
    /// ([`TileError::AreaTooLarge`]); nothing is fetched then.
    pub fn download_area(
        &self,
        bbox: BBox,
        zooms: RangeInclusive<u8>,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<Report, TileError> {
        let total = self.check_area(bbox, zooms.clone())?.tiles;
        if self.client.is_none() {
            return Err(TileError::Offline);
        }
        let mut report = Report {
            total,
            ..Report::default()
        };
        let mut shown = Progress {
            total,
            ..Progress::default()
        };
        let mut tiles = bbox.tiles(zooms);
        // The first tile alone, on this thread: a refusal by the gate (or a dead server)
        // then shows once, before any worker asks.
        if let Some(first) = tiles.next() {
            if let Some(fatal) = record(self.download_one(first, cancel), &mut report, &mut shown) {
                return Err(fatal);
            }
            progress(shown);
        }
        let next = Mutex::new(tiles);
        let stop = AtomicBool::new(false);
        let workers = u64::from(self.source.max_parallel.max(1)).min(total.max(1));
        let (tx, rx) = mpsc::channel::<Outcome>();
        let fatal = std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, stop) = (&next, &stop);
                scope.spawn(move || loop {
                    if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(tile) = lock(next).next() else {
                        break;
                    };
                    let outcome = self.download_one(tile, cancel);
                    let is_fatal = matches!(outcome, Outcome::Fatal(_));
                    if tx.send(outcome).is_err() || is_fatal {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                });
            }
            drop(tx);
            let mut fatal = None;
            for outcome in rx {
                match record(outcome, &mut report, &mut shown) {
                    Some(e) => {
                        fatal.get_or_insert(e);
                    }
                    None => progress(shown),
                }
            }
            fatal
        });
        if let Some(e) = fatal {
            return Err(e);
        }
        report.cancelled = cancel.load(Ordering::Relaxed) && shown.done < total;
        Ok(report)
    }

    /// What [`TileCache::download_area`] would ask for, or why the source refuses it
    /// (deeper than its area zoom limit, more tiles than its area limit). Nothing is fetched.
    pub fn check_area(&self, bbox: BBox, zooms: RangeInclusive<u8>) -> Result<Estimate, TileError> {
        let osm = self.source.is_openstreetmap();
        let deepest = self.source.max_area_zoom.min(self.source.max_zoom);
        if *zooms.end() > deepest {
            return Err(TileError::ZoomTooDeep {
                zoom: *zooms.end(),
                max: deepest,
                source_name: self.source.name.clone(),
                hint: if osm { OSM_ZOOM_HINT } else { "" },
            });
        }
        let estimate = estimate(bbox, zooms);
        if estimate.tiles > self.source.max_area_tiles {
            return Err(TileError::AreaTooLarge {
                tiles: estimate.tiles,
                max: self.source.max_area_tiles,
                source_name: self.source.name.clone(),
                hint: if osm { OSM_AREA_HINT } else { AREA_HINT },
            });
        }
        Ok(estimate)
    }

    fn download_one(&self, tile: TileId, cancel: &AtomicBool) -> Outcome {
        match self
            .vault
            .tile_cached(&self.source.name, tile.z, tile.x, tile.y)
        {
            Ok(true) => return Outcome::Skipped,
            Ok(false) => {}
            Err(e) => return Outcome::Fatal(e.into()),
        }
        for _ in 0..BUSY_ATTEMPTS {
            if !self.wait_out_backoff(cancel) {
                return Outcome::Failed(format!(
                    "{tile}: cancelled while the server asked to wait"
                ));
            }
            match self.fetch_and_store(tile) {
                Ok(Fetch::Stored(bytes)) => return Outcome::Fetched(bytes.len() as u64),
                Ok(Fetch::Missing) => return Outcome::Missing,
                Ok(Fetch::Busy) => continue,
                Err(e @ (TileError::Refused(_) | TileError::Vault(_))) => return Outcome::Fatal(e),
                Err(e) => return Outcome::Failed(format!("{tile}: {e}")),
            }
        }
        Outcome::Failed(format!(
            "{tile}: the server was still busy after {BUSY_ATTEMPTS} tries"
        ))
    }

    fn may_fetch(&self) -> bool {
        self.client.is_some()
            && lock(&self.refused).is_none()
            && lock(&self.backoff_until).is_none_or(|until| Instant::now() >= until)
    }

    /// Sleeps until the server's requested pause is over; false when cancelled meanwhile.
    fn wait_out_backoff(&self, cancel: &AtomicBool) -> bool {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return false;
            }
            let until = *lock(&self.backoff_until);
            match until {
                Some(until) if Instant::now() < until => {
                    std::thread::sleep(CANCEL_POLL.min(until - Instant::now()));
                }
                _ => return true,
            }
        }
    }

    fn fetch_and_store(&self, tile: TileId) -> Result<Fetch, TileError> {
        let Some(client) = &self.client else {
            return Err(TileError::Offline);
        };
        let mut answered = lock(&self.first_request);
        if *answered {
            drop(answered);
            return self.fetch_after_first(client, tile);
        }
        // The first request runs holding the lock: the others wait for the gate's answer.
        let result = self.fetch_after_first(client, tile);
        *answered = true;
        result
    }

    fn fetch_after_first(&self, client: &HttpClient, tile: TileId) -> Result<Fetch, TileError> {
        if let Some(refused) = lock(&self.refused).clone() {
            return Err(TileError::Refused(refused));
        }
        let _permit = self.permits.acquire();
        let url = self.source.url(tile);
        let response = match client.get(&url) {
            Ok(r) => r,
            Err(airgap_egress::HttpError::Refused(refused)) => {
                *lock(&self.refused) = Some(refused.clone());
                return Err(TileError::Refused(refused));
            }
            Err(e) => return Err(e.into()),
        };
        match response.status {
            200..=299 if response.status != 204 => {
                if !looks_like_an_image(&response.bytes) {
                    return Err(TileError::BadResponse {
                        url,
                        why: format!(
                            "the answer is not an image ({} bytes, content type {})",
                            response.bytes.len(),
                            response.content_type.as_deref().unwrap_or("none")
                        ),
                    });
                }
                let expires_at_s = response
                    .fresh_until
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs().max(1));
                self.vault.tiles_put(
                    &self.source.name,
                    &[NewTile {
                        z: tile.z,
                        x: tile.x,
                        y: tile.y,
                        bytes: &response.bytes,
                        expires_at_s,
                    }],
                )?;
                Ok(Fetch::Stored(response.bytes))
            }
            204 | 404 | 410 => Ok(Fetch::Missing),
            429 | 503 => {
                let wait = response.retry_after.unwrap_or(DEFAULT_BACKOFF);
                if wait > MAX_BACKOFF {
                    return Err(TileError::BadResponse {
                        url,
                        why: format!("the server asks to wait {wait:?}; try again later"),
                    });
                }
                tracing::info!(
                    status = response.status,
                    ?wait,
                    "tile server asks to slow down"
                );
                let mut until = lock(&self.backoff_until);
                let new = Instant::now() + wait;
                *until = Some(until.map_or(new, |old| old.max(new)));
                Ok(Fetch::Busy)
            }
            status => Err(TileError::BadResponse {
                url,
                why: format!("HTTP status {status}"),
            }),
        }
    }
}

/// Adds an outcome to the report; returns the error when it stops the download.
fn record(outcome: Outcome, report: &mut Report, shown: &mut Progress) -> Option<TileError> {
    match outcome {
        Outcome::Fetched(bytes) => {
            report.fetched += 1;
            report.bytes += bytes;
        }
        Outcome::Skipped => report.skipped += 1,
        Outcome::Missing => report.missing += 1,
        Outcome::Failed(why) => {
            report.failed += 1;
            if report.failures.len() < KEPT_FAILURES {
                report.failures.push(why);
            }
        }
        Outcome::Fatal(e) => return Some(e),
    }
    *shown = Progress {
        done: report.fetched + report.skipped + report.missing + report.failed,
        total: report.total,
        bytes: report.bytes,
        fetched: report.fetched,
        skipped: report.skipped,
        failed: report.failed,
    };
    None
}

/// PNG, JPEG, GIF or WebP, by their first bytes: what a raster map can draw. A captive
/// portal's HTML page answered with 200 must not be cached as a tile.
pub fn looks_like_an_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"GIF87a")
        || bytes.starts_with(b"GIF89a")
        || (bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP")
}

fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A counting semaphore: requests in flight, at most the source's `max_parallel`.
struct Permits {
    free: Mutex<u8>,
    freed: Condvar,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(n: u8) -> Permits {
        Permits {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *lock(&self.0.free) += 1;
        self.0.freed.notify_one();
    }
}

/// A poisoned lock only means a thread panicked between two plain assignments: the value is
/// still whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
