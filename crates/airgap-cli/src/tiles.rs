//! `airgap tiles`: the map tile cache in the vault — what it holds, area downloads through
//! the egress gate (so a sealed `airgap` refuses a remote tile server, audited), MBTiles
//! imports, and the tile source kept in the vault's settings. Every verb needs the passphrase:
//! tiles, like everything in the vault, are encrypted.

use std::io::{IsTerminal, Write};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airgap_engine::airgap_egress::Gate;
use airgap_tiles::{estimate, import_mbtiles, BBox, Progress, TileCache, TileError, TileSource};
use airgap_vault::Vault;
use clap::{Args, Subcommand};

use crate::log::size_text;
use crate::{secret, vault};

#[derive(Args)]
pub struct TilesArgs {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Per tile source: how many tiles the vault holds, and their size.
    Status {
        /// One JSON object per source per line: source, tiles, bytes, damaged.
        #[arg(long)]
        json: bool,
    },
    /// Download the tiles of an area ahead of a flight (through the network seal: refused
    /// while sealed unless the tile source is on loopback).
    ///
    /// Prints the estimate first and asks before downloading (--yes does not ask). Progress
    /// goes to stderr. Tiles already in the vault are not asked for again, so running the
    /// same download twice fetches nothing new, and an interrupted one resumes. OpenStreetMap's
    /// own servers allow no bulk download: areas over a few thousand tiles or zooms past 16
    /// are refused for them; configure another source (`airgap tiles source set`) or import
    /// an MBTiles file. Exits 1 when any tile failed.
    Download {
        /// The area: south,west,north,east in degrees (e.g. 47.36,8.52,47.39,8.56).
        #[arg(long, value_parser = parse_bbox, allow_hyphen_values = true)]
        bbox: BBox,
        /// Zoom levels, MIN-MAX (e.g. 10-16) or one zoom.
        #[arg(long, value_parser = airgap_tiles::parse_zooms)]
        zoom: RangeInclusive<u8>,
        /// Download from this URL template for this run instead of the configured source
        /// (`http(s)://…/{z}/{x}/{y}.png`).
        #[arg(long)]
        source_url: Option<String>,
        /// Do not ask before downloading.
        #[arg(long)]
        yes: bool,
        /// The final report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Copy the tiles of an MBTiles file (1.3, raster) into the vault.
    Import {
        file: PathBuf,
        /// The tile source to file them under; the configured source's name by default, so
        /// the map shows them.
        #[arg(long)]
        source: Option<String>,
    },
    /// Show the tile source, or set it (kept in the vault's settings).
    Source {
        #[command(subcommand)]
        action: Option<SourceAction>,
    },
}

#[derive(Subcommand)]
enum SourceAction {
    /// Show the configured tile source (the default when none is set: OpenStreetMap).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Use another tile source: a URL template with {z}, {x} and {y} (or {-y} for TMS rows).
    Set {
        url_template: String,
        /// The name its tiles are filed under (the template by default).
        #[arg(long)]
        name: Option<String>,
        /// Requests in flight at once.
        #[arg(long)]
        max_parallel: Option<u8>,
    },
    /// Go back to OpenStreetMap's standard tiles.
    Reset,
}

fn parse_bbox(s: &str) -> Result<BBox, String> {
    s.parse::<BBox>().map_err(|e| e.to_string())
}

pub fn run(args: TilesArgs, gate: &Gate) -> anyhow::Result<ExitCode> {
    match args.verb {
        Verb::Status { json } => status(json),
        Verb::Download {
            bbox,
            zoom,
            source_url,
            yes,
            json,
        } => download(gate, bbox, zoom, source_url, yes, json),
        Verb::Import { file, source } => import(&file, source),
        Verb::Source { action } => match action.unwrap_or(SourceAction::Show { json: false }) {
            SourceAction::Show { json } => source_show(json),
            SourceAction::Set {
                url_template,
                name,
                max_parallel,
            } => source_set(&url_template, name, max_parallel),
            SourceAction::Reset => source_reset(),
        },
    }
}

/// The vault unlocked behind an `Arc` (a tile cache shares it), locked again when dropped.
struct Shared(Arc<Vault>);

impl Shared {
    fn open() -> anyhow::Result<Shared> {
        let vault = vault::open_locked()?;
        let passphrase = secret::current()?;
        vault.unlock(&passphrase).map_err(vault::explain)?;
        Ok(Shared(Arc::new(vault)))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Err(e) = self.0.lock() {
            eprintln!("airgap: warning: locking the vault: {e}");
        }
    }
}

fn status(json: bool) -> anyhow::Result<ExitCode> {
    let vault = vault::open_unlocked()?;
    let summary = vault.tiles_summary().map_err(vault::explain)?;
    if json {
        for s in &summary {
            println!("{}", serde_json::to_string(s)?);
        }
    } else if summary.is_empty() {
        println!("no map tiles in the vault");
    } else {
        println!("{:<48}  {:>9}  {:>10}", "SOURCE", "TILES", "SIZE");
        for s in &summary {
            let damaged = if s.damaged > 0 {
                format!("  ({} damaged)", s.damaged)
            } else {
                String::new()
            };
            println!(
                "{:<48}  {:>9}  {:>10}{damaged}",
                s.source,
                s.tiles,
                size_text(s.bytes)
            );
        }
    }
    let damaged: u64 = summary.iter().map(|s| s.damaged).sum();
    if damaged > 0 {
        eprintln!("airgap: {damaged} tile index records could not be read (tampered with?)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn download(
    gate: &Gate,
    bbox: BBox,
    zooms: RangeInclusive<u8>,
    source_url: Option<String>,
    yes: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let vault = Shared::open()?;
    // Held open for the whole download: a refusal goes straight into its audit trail.
    airgap_engine::audit_refusals(gate, Arc::clone(&vault.0));
    let source = match source_url {
        Some(url) => TileSource::custom(&url)?,
        None => TileSource::load(&vault.0).map_err(vault::explain)?,
    };
    let client = source.client(gate.clone());
    let cache = TileCache::new(Arc::clone(&vault.0), Some(client), source);
    let est = estimate(bbox, zooms.clone());
    eprintln!(
        "airgap: {} tiles at zooms {}-{} from {} (about {}; tiles already in the vault are \
         not fetched again)",
        est.tiles,
        zooms.start(),
        zooms.end(),
        cache.source().name,
        size_text(est.bytes)
    );
    // The source's limits before the question: no point asking about a refused download.
    cache
        .check_area(bbox, zooms.clone())
        .map_err(|e| explain(e, gate))?;
    if !yes && !confirm()? {
        eprintln!("airgap: not downloading (add --yes to download without the question)");
        return Ok(ExitCode::FAILURE);
    }
    let mut shown = Shown::new();
    let report = cache
        .download_area(
            bbox,
            zooms,
            &mut |p| shown.progress(p),
            &AtomicBool::new(false),
        )
        .map_err(|e| explain(e, gate))?;
    shown.finish();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "fetched {} tiles ({}), {} already in the vault, {} not on the server, {} failed",
            report.fetched,
            size_text(report.bytes),
            report.skipped,
            report.missing,
            report.failed
        );
    }
    for failure in &report.failures {
        eprintln!("airgap: {failure}");
    }
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A tile error as the pilot should read it.
fn explain(e: TileError, gate: &Gate) -> anyhow::Error {
    match e {
        TileError::Refused(refused) => anyhow::anyhow!(
            "{refused}. Nothing was sent (refusals so far: {}; recorded in the vault's audit \
             trail). Use a tile server on this machine (`--source-url http://127.0.0.1:PORT/…`), \
             import an MBTiles file (`airgap tiles import`), or disengage the seal",
            gate.refused_count()
        ),
        TileError::Vault(e) => vault::explain(e),
        other => other.into(),
    }
}

/// Asks on the terminal; without one, the answer is no.
fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("Download them? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Progress on stderr: a line rewritten in place on a terminal, a line a second otherwise.
struct Shown {
    terminal: bool,
    last: Option<Instant>,
    latest: Progress,
}

impl Shown {
    fn new() -> Shown {
        Shown {
            terminal: std::io::stderr().is_terminal(),
            last: None,
            latest: Progress::default(),
        }
    }

    fn line(p: &Progress) -> String {
        format!(
            "{}/{} tiles, {} fetched ({}), {} already cached, {} failed",
            p.done,
            p.total,
            p.fetched,
            size_text(p.bytes),
            p.skipped,
            p.failed
        )
    }

    fn progress(&mut self, p: Progress) {
        self.latest = p;
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if self.terminal {
            eprint!("\r{}", Shown::line(&p));
        } else if due {
            eprintln!("{}", Shown::line(&p));
            self.last = Some(Instant::now());
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        } else {
            eprintln!("{}", Shown::line(&self.latest));
        }
    }
}

fn import(file: &std::path::Path, source: Option<String>) -> anyhow::Result<ExitCode> {
    let vault = vault::open_unlocked()?;
    let source = match source {
        Some(name) => name,
        None => TileSource::load(&vault).map_err(vault::explain)?.name,
    };
    let report = import_mbtiles(&vault, file, &source).map_err(|e| match e {
        TileError::Vault(e) => vault::explain(e),
        other => other.into(),
    })?;
    println!(
        "imported {} tiles ({}) from {} into tile source {}{}",
        report.imported,
        size_text(report.bytes),
        file.display(),
        report.source,
        if report.skipped > 0 {
            format!(
                "; {} rows outside the tile grid or empty were left out",
                report.skipped
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn source_show(json: bool) -> anyhow::Result<ExitCode> {
    let vault = vault::open_unlocked()?;
    let source = TileSource::load(&vault).map_err(vault::explain)?;
    if json {
        println!("{}", serde_json::to_string(&source)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("name: {}", source.name);
    println!("url: {}", source.url_template);
    println!("user agent: {}", source.user_agent);
    println!("max zoom: {}", source.max_zoom);
    println!(
        "area downloads: at most {} tiles, zoom {} at most",
        source.max_area_tiles, source.max_area_zoom
    );
    println!("requests at once: {}", source.max_parallel);
    Ok(ExitCode::SUCCESS)
}

fn source_set(
    url_template: &str,
    name: Option<String>,
    max_parallel: Option<u8>,
) -> anyhow::Result<ExitCode> {
    let mut source = TileSource::custom(url_template)?;
    if let Some(name) = name {
        source.name = name;
    }
    if let Some(n) = max_parallel {
        source.max_parallel = n;
    }
    source.validate()?;
    let vault = vault::open_unlocked()?;
    source.save(&vault).map_err(vault::explain)?;
    println!("tile source set: {} ({})", source.name, source.url_template);
    Ok(ExitCode::SUCCESS)
}

fn source_reset() -> anyhow::Result<ExitCode> {
    let vault = vault::open_unlocked()?;
    let source = TileSource::openstreetmap();
    source.save(&vault).map_err(vault::explain)?;
    println!("tile source set: {} ({})", source.name, source.url_template);
    Ok(ExitCode::SUCCESS)
}
