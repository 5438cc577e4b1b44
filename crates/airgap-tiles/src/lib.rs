//! Maps that work offline: map tiles cached inside the encrypted vault, fetched through the
//! egress gate while online, prepared ahead of a flight by area downloads or MBTiles imports.
//!
//! - [`geo`]: slippy-map arithmetic ([`TileId`], [`BBox`], [`estimate`]). Pure.
//! - [`TileSource`]: where tiles come from and the provider's limits; OpenStreetMap by default,
//!   with its usage policy built in. Kept in the vault's settings ([`TileSource::load`]).
//! - [`TileCache`]: the vault's tiles, and the network's through an
//!   [`airgap_egress::HttpClient`] when one is given; [`TileCache::download_area`].
//! - [`import_mbtiles`]: an MBTiles 1.3 file into the vault.
//!
//! Every network request goes through the client's gate: sealed, a remote tile server is
//! refused before any socket exists, and the cache serves what the vault holds.

mod cache;
mod error;
pub mod geo;
mod mbtiles;
mod source;

pub use cache::{looks_like_an_image, Progress, Report, TileCache};
pub use error::TileError;
pub use geo::{estimate, parse_zooms, BBox, BBoxError, Estimate, TileId, MAX_ZOOM};
pub use mbtiles::{import_mbtiles, ImportReport};
pub use source::{
    default_user_agent, TileSource, CONTACT_URL, DEFAULT_MAX_AREA_TILES, OSM_MAX_AREA_TILES,
    OSM_MAX_AREA_ZOOM, SETTING_TILE_SOURCE,
};
