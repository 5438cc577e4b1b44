//! Tile sources: where tiles come from, how to ask for them, and the limits their providers
//! set. The default is OpenStreetMap's standard tiles, with its usage policy
//! (<https://operations.osmfoundation.org/policies/tiles/>) built in: a User-Agent that names
//! Airgap and a contact, at most two requests at a time, no bulk download of large areas or of
//! zooms 17 and deeper. The pilot's choice is kept in the vault's settings.

use airgap_egress::{Gate, HttpClient};
use airgap_vault::{Vault, VaultError};
use serde::{Deserialize, Serialize};

use crate::error::TileError;
use crate::geo::{TileId, MAX_ZOOM};

/// The vault setting that holds the pilot's tile source.
pub const SETTING_TILE_SOURCE: &str = "tiles.source";
/// Where a tile provider's operators can learn who is asking and reach the project. The
/// User-Agent of every source built here names it.
pub const CONTACT_URL: &str = "https://github.com/airgap-gcs/airgap";
/// The largest area download from OpenStreetMap's own servers: their policy forbids bulk
/// downloading, so this is enough for a mission area at useful zooms and no more.
pub const OSM_MAX_AREA_TILES: u64 = 2_500;
/// OpenStreetMap's policy forbids downloading zoom 17 and deeper for offline use.
pub const OSM_MAX_AREA_ZOOM: u8 = 16;
/// For any other source: the provider's own terms apply, this only guards against a typo
/// in a zoom range turning into millions of requests.
pub const DEFAULT_MAX_AREA_TILES: u64 = 200_000;

/// The User-Agent Airgap sends: its name, version and contact URL.
pub fn default_user_agent() -> String {
    format!("AirgapGCS/{} (+{CONTACT_URL})", env!("CARGO_PKG_VERSION"))
}

/// Where tiles come from and the provider's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileSource {
    /// The name tiles are cached under in the vault (two sources with one name share a
    /// cache: give each its own).
    pub name: String,
    /// `http(s)://…/{z}/{x}/{y}.png`; `{-y}` asks for the TMS row (counted from the south).
    pub url_template: String,
    pub user_agent: String,
    /// The deepest zoom the source serves.
    pub max_zoom: u8,
    /// The most tiles one area download may ask for.
    pub max_area_tiles: u64,
    /// The deepest zoom an area download may ask for.
    #[serde(default = "default_max_area_zoom")]
    pub max_area_zoom: u8,
    /// Requests in flight at once, at most.
    pub max_parallel: u8,
}

fn default_max_area_zoom() -> u8 {
    MAX_ZOOM
}

impl TileSource {
    /// OpenStreetMap's standard tiles, within its usage policy.
    pub fn openstreetmap() -> TileSource {
        TileSource {
            name: "openstreetmap".to_owned(),
            url_template: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".to_owned(),
            user_agent: default_user_agent(),
            max_zoom: 19,
            max_area_tiles: OSM_MAX_AREA_TILES,
            max_area_zoom: OSM_MAX_AREA_ZOOM,
            max_parallel: 2,
        }
    }

    /// Another source, from its URL template, with Airgap's User-Agent and generous limits
    /// (the provider's terms are the pilot's to respect). Named after the template.
    pub fn custom(url_template: &str) -> Result<TileSource, TileError> {
        let source = TileSource {
            name: url_template.to_owned(),
            url_template: url_template.to_owned(),
            user_agent: default_user_agent(),
            max_zoom: 20,
            max_area_tiles: DEFAULT_MAX_AREA_TILES,
            max_area_zoom: MAX_ZOOM,
            max_parallel: 4,
        };
        source.validate()?;
        Ok(source)
    }

    /// Whether this is OpenStreetMap's own tile server (whose policy caps area downloads).
    pub fn is_openstreetmap(&self) -> bool {
        self.url_template.contains("tile.openstreetmap.org")
    }

    /// Checks the template and limits: an http(s) URL with `{z}`, `{x}` and `{y}` (or
    /// `{-y}`), a User-Agent, at least one request at a time.
    pub fn validate(&self) -> Result<(), TileError> {
        let bad = |why: &'static str| TileError::BadSource {
            template: self.url_template.clone(),
            why,
        };
        let t = &self.url_template;
        if !(t.starts_with("http://") || t.starts_with("https://")) {
            return Err(bad("the template must start with http:// or https://"));
        }
        if !t.contains("{z}") || !t.contains("{x}") || !(t.contains("{y}") || t.contains("{-y}")) {
            return Err(bad(
                "the template must hold {z}, {x} and {y} (or {-y} for TMS rows)",
            ));
        }
        if self.name.is_empty() {
            return Err(bad("the source needs a name"));
        }
        if self.user_agent.trim().is_empty() {
            return Err(bad(
                "tile providers require a User-Agent that names the application",
            ));
        }
        if self.max_parallel == 0 {
            return Err(bad("at least one request at a time (max_parallel ≥ 1)"));
        }
        if self.max_zoom > MAX_ZOOM {
            return Err(bad(
                "max_zoom is deeper than any raster source serves (≤ 24)",
            ));
        }
        Ok(())
    }

    /// The URL of one tile.
    pub fn url(&self, tile: TileId) -> String {
        self.url_template
            .replace("{z}", &tile.z.to_string())
            .replace("{x}", &tile.x.to_string())
            .replace("{-y}", &tile.tms_y().to_string())
            .replace("{y}", &tile.y.to_string())
    }

    /// A client for this source (with its User-Agent) whose every request asks `gate`.
    pub fn client(&self, gate: Gate) -> HttpClient {
        HttpClient::new(gate, &self.user_agent)
    }

    /// The pilot's tile source from the vault's settings; OpenStreetMap when none was set
    /// (unlocked only).
    pub fn load(vault: &Vault) -> Result<TileSource, VaultError> {
        Ok(vault
            .setting::<TileSource>(SETTING_TILE_SOURCE)?
            .unwrap_or_else(TileSource::openstreetmap))
    }

    /// Make this the pilot's tile source (unlocked only). Validate it first.
    pub fn save(&self, vault: &Vault) -> Result<(), VaultError> {
        vault.set_setting(SETTING_TILE_SOURCE, self)
    }
}

impl Default for TileSource {
    fn default() -> Self {
        TileSource::openstreetmap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openstreetmap_follows_its_policy() {
        let osm = TileSource::openstreetmap();
        osm.validate().unwrap();
        assert!(osm.is_openstreetmap());
        assert!(osm.max_parallel <= 2);
        assert!(osm.max_area_zoom <= 16);
        assert!(
            osm.user_agent.starts_with("AirgapGCS/"),
            "{}",
            osm.user_agent
        );
        assert!(osm.user_agent.contains("+https://"), "{}", osm.user_agent);
        assert_eq!(
            osm.url(TileId::new(15, 17161, 11474).unwrap()),
            "https://tile.openstreetmap.org/15/17161/11474.png"
        );
    }

    #[test]
    fn templates_are_checked_and_filled() {
        let tms = TileSource::custom("http://127.0.0.1:8080/t/{z}/{x}/{-y}.jpg").unwrap();
        assert_eq!(
            tms.url(TileId::new(3, 1, 2).unwrap()),
            "http://127.0.0.1:8080/t/3/1/5.jpg"
        );
        assert!(!tms.is_openstreetmap());
        for bad in [
            "ftp://x/{z}/{x}/{y}",
            "http://x/{z}/{x}.png",
            "tile.example/{z}/{x}/{y}",
        ] {
            assert!(
                matches!(TileSource::custom(bad), Err(TileError::BadSource { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn sources_round_trip_through_serde_and_old_records_get_defaults() {
        let osm = TileSource::openstreetmap();
        let json = serde_json::to_string(&osm).unwrap();
        assert_eq!(serde_json::from_str::<TileSource>(&json).unwrap(), osm);
        let old = r#"{"name":"n","url_template":"http://h/{z}/{x}/{y}","user_agent":"u",
                      "max_zoom":18,"max_area_tiles":10,"max_parallel":1}"#;
        assert_eq!(
            serde_json::from_str::<TileSource>(old)
                .unwrap()
                .max_area_zoom,
            MAX_ZOOM
        );
    }
}
