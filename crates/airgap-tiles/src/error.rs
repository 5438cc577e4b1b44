//! The tile crate's one error type, named after outcomes.

use std::path::PathBuf;

use airgap_egress::{HttpError, Refused};
use airgap_vault::VaultError;

use crate::geo::{BBoxError, TileId};

#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// The vault said no: `Locked` (unlock it first), `Corrupt`, storage errors.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The egress gate refused the tile server (sealed, and the server is not loopback).
    /// Nothing was sent.
    #[error(transparent)]
    Refused(Refused),
    /// A download needs a network client, and this cache was built without one (offline).
    #[error(
        "offline: this tile cache has no network client, so tiles can only come from the vault"
    )]
    Offline,
    #[error("tile source {template:?} is not usable: {why}")]
    BadSource { template: String, why: &'static str },
    #[error(transparent)]
    BadBBox(#[from] BBoxError),
    /// The area asks for more tiles than the source allows in one download.
    #[error(
        "the area is {tiles} tiles, and {source_name} allows at most {max} in one download{hint}"
    )]
    AreaTooLarge {
        tiles: u64,
        max: u64,
        source_name: String,
        /// Why the limit is there and what to do instead.
        hint: &'static str,
    },
    /// The zoom range goes deeper than the source allows for area downloads.
    #[error(
        "zoom {zoom} is deeper than {source_name} allows in an area download (at most {max}){hint}"
    )]
    ZoomTooDeep {
        zoom: u8,
        max: u8,
        source_name: String,
        hint: &'static str,
    },
    /// The tile server answered, but not with a tile.
    #[error("{url}: {why}")]
    BadResponse { url: String, why: String },
    /// The request got no answer (timeout, connection refused, TLS).
    #[error(transparent)]
    Http(HttpError),
    /// The file is not an MBTiles file (or not a database at all).
    #[error("{path} is not an MBTiles file: expected an SQLite database with a `tiles` table (zoom_level, tile_column, tile_row, tile_data) as MBTiles 1.3 defines it ({detail})")]
    NotMbTiles { path: PathBuf, detail: String },
    /// The MBTiles file holds tiles this program cannot show.
    #[error("{path}: {why}")]
    UnsupportedMbTiles { path: PathBuf, why: String },
    #[error("reading {path}: {detail}")]
    MbTilesRead { path: PathBuf, detail: String },
    #[error("tile {0} is outside the zoom range Airgap handles (0..=24)")]
    BadTile(TileId),
}

impl From<HttpError> for TileError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Refused(refused) => TileError::Refused(refused),
            other => TileError::Http(other),
        }
    }
}

/// What a front end says after a refusal: the gate's reason and what the pilot can do.
pub const OSM_AREA_HINT: &str = ": OpenStreetMap's tile servers are run by volunteers and their usage policy forbids bulk downloads. Choose a smaller area or fewer zooms, import an MBTiles file (`airgap tiles import`), or configure a tile source whose terms allow bulk downloads (`airgap tiles source set URL_TEMPLATE`)";
pub const OSM_ZOOM_HINT: &str = ": OpenStreetMap's usage policy forbids downloading zoom 17 and deeper for offline use. Configure another tile source for deeper zooms (`airgap tiles source set URL_TEMPLATE`)";
pub const AREA_HINT: &str =
    ": choose a smaller area or fewer zooms, or raise the source's max_area_tiles";
