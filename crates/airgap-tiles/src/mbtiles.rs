//! MBTiles import: tiles prepared elsewhere (QGIS, TileMill, a provider's offline package)
//! copied into the vault, so an area can be ready without this machine ever reaching a tile
//! server. MBTiles 1.3: an SQLite database whose `tiles` table (or view) has `zoom_level`,
//! `tile_column`, `tile_row` (TMS: counted from the south) and `tile_data`.

use std::path::Path;

use airgap_vault::{AuditEvent, NewTile, Vault};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::TileError;
use crate::geo::{tiles_per_side, TileId, MAX_ZOOM};

/// Tiles written to the vault per flush.
const BATCH: usize = 256;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The source name the tiles were stored under.
    pub source: String,
    pub imported: u64,
    pub bytes: u64,
    /// Rows with a zoom, column or row outside the tile grid, or no data: left out.
    pub skipped: u64,
    /// The file's `metadata` name, if it has one.
    pub name: Option<String>,
    /// The file's `metadata` format (`png`, `jpg`, `webp`), if it says.
    pub format: Option<String>,
}

/// Copy every tile of the MBTiles file at `path` into the vault under `source` (the name a
/// [`crate::TileCache`] of that source reads). The vault must be unlocked. The file is
/// opened read-only and never changed.
pub fn import_mbtiles(vault: &Vault, path: &Path, source: &str) -> Result<ImportReport, TileError> {
    let not_mbtiles = |detail: String| TileError::NotMbTiles {
        path: path.to_owned(),
        detail,
    };
    let read_error = |e: rusqlite::Error| TileError::MbTilesRead {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    if !path.is_file() {
        return Err(TileError::MbTilesRead {
            path: path.to_owned(),
            detail: "no such file".to_owned(),
        });
    }
    // Refused before SQLite is involved, so a locked vault reads no file.
    if !vault.is_unlocked() {
        return Err(airgap_vault::VaultError::Locked.into());
    }
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_mbtiles(e.to_string()))?;
    // SQLite reads the header lazily: a file that is not a database fails here.
    let mut rows = db
        .prepare("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
        .map_err(|e| not_mbtiles(e.to_string()))?;
    let metadata = |key: &str| -> Option<String> {
        db.query_row("SELECT value FROM metadata WHERE name = ?1", [key], |row| {
            row.get::<_, String>(0)
        })
        .ok()
    };
    let mut report = ImportReport {
        source: source.to_owned(),
        name: metadata("name"),
        format: metadata("format"),
        ..ImportReport::default()
    };
    if let Some(format) = &report.format {
        if format.eq_ignore_ascii_case("pbf") || format.eq_ignore_ascii_case("mvt") {
            return Err(TileError::UnsupportedMbTiles {
                path: path.to_owned(),
                why: format!(
                    "it holds vector tiles (format {format}); Airgap shows raster tiles (png, jpg, webp)"
                ),
            });
        }
    }
    let mut query = rows.query([]).map_err(|e| not_mbtiles(e.to_string()))?;
    let mut batch: Vec<(TileId, Vec<u8>)> = Vec::with_capacity(BATCH);
    loop {
        let row = match query.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(read_error(e)),
        };
        let z: i64 = row.get(0).map_err(read_error)?;
        let column: i64 = row.get(1).map_err(read_error)?;
        let tms_row: i64 = row.get(2).map_err(read_error)?;
        let data: Option<Vec<u8>> = row.get(3).ok();
        let tile = xyz(z, column, tms_row);
        match (tile, data) {
            (Some(tile), Some(data)) if !data.is_empty() => batch.push((tile, data)),
            _ => report.skipped += 1,
        }
        if batch.len() == BATCH {
            store(vault, source, &mut batch, &mut report)?;
        }
    }
    store(vault, source, &mut batch, &mut report)?;
    // Imports are audited like every other: what came in, from where.
    vault.audit(AuditEvent::Imported {
        what: format!(
            "{} map tiles ({} bytes) from {} as source \"{source}\"",
            report.imported,
            report.bytes,
            path.display()
        ),
    })?;
    Ok(report)
}

/// The XYZ tile of an MBTiles row (TMS rows count from the south).
fn xyz(z: i64, column: i64, tms_row: i64) -> Option<TileId> {
    let z = u8::try_from(z).ok().filter(|&z| z <= MAX_ZOOM)?;
    let side = i64::from(tiles_per_side(z));
    if !(0..side).contains(&column) || !(0..side).contains(&tms_row) {
        return None;
    }
    let x = u32::try_from(column).ok()?;
    let y = u32::try_from(side - 1 - tms_row).ok()?;
    TileId::new(z, x, y)
}

fn store(
    vault: &Vault,
    source: &str,
    batch: &mut Vec<(TileId, Vec<u8>)>,
    report: &mut ImportReport,
) -> Result<(), TileError> {
    if batch.is_empty() {
        return Ok(());
    }
    let tiles: Vec<NewTile<'_>> = batch
        .iter()
        .map(|(t, data)| NewTile {
            z: t.z,
            x: t.x,
            y: t.y,
            bytes: data,
            // Prepared offline: no server said how long it stays fresh.
            expires_at_s: None,
        })
        .collect();
    vault.tiles_put(source, &tiles)?;
    report.imported += tiles.len() as u64;
    report.bytes += tiles.iter().map(|t| t.bytes.len() as u64).sum::<u64>();
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tms_rows_flip_to_xyz() {
        assert_eq!(xyz(0, 0, 0), TileId::new(0, 0, 0));
        assert_eq!(xyz(3, 1, 0), TileId::new(3, 1, 7));
        assert_eq!(xyz(3, 1, 7), TileId::new(3, 1, 0));
        assert_eq!(xyz(3, 8, 0), None);
        assert_eq!(xyz(3, 0, -1), None);
        assert_eq!(xyz(25, 0, 0), None);
        assert_eq!(xyz(-1, 0, 0), None);
    }
}
