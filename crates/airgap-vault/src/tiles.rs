//! Cached map tiles: the bytes of each tile of each tile source, encrypted under the data key
//! like every other record. Tiles reveal where the pilot flies, so neither a coordinate nor a
//! source name appears in the database: every store key is a keyed hash.
//!
//! # Layout
//! Three trees, all keyed by HKDF outputs under the settings key (with an info string that
//! starts with the byte 0xFF, which no UTF-8 setting name can, so no tile key can equal a
//! setting key):
//! - `tiles`: `source tag ‖ tile tag` → the tile (coordinates, source and fetch times inside
//!   the encrypted value, checked on read).
//! - `tile_index`: the same key → the tile's length. Small values, so that a summary or the
//!   deletion of a source scans kilobytes rather than every tile's bytes.
//! - `tile_sources`: `source tag` → the source's name.
//!
//! A tile is found with one `get` (no scan). The source tag prefixes both tile trees, so all
//! of one source's tiles are one prefix scan.
//!
//! Tiles need the vault unlocked (a key cannot even be computed without the secrets):
//! locked, every call is [`VaultError::Locked`].

use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::VaultError;
use crate::vault::{now_us, Vault};

pub const TREE_TILES: &str = "tiles";
pub const TREE_TILE_INDEX: &str = "tile_index";
pub const TREE_TILE_SOURCES: &str = "tile_sources";

/// Domain of the tile key derivation: 0xFF cannot start a UTF-8 setting name.
const KEY_DOMAIN: &[u8] = b"\xffairgap-vault tiles v1\0";
const TAG_LEN: usize = 16;
const TILE_RECORD_VERSION: u8 = 1;
/// version, z, x, y, fetched_at_s, expires_at_s, source length.
const TILE_HEADER_LEN: usize = 1 + 1 + 4 + 4 + 8 + 8 + 8;

/// One tile to store with [`Vault::tiles_put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewTile<'a> {
    pub z: u8,
    pub x: u32,
    pub y: u32,
    pub bytes: &'a [u8],
    /// When the server says the tile goes stale (UNIX seconds), if it said.
    pub expires_at_s: Option<u64>,
}

/// A cached tile with what is known of its freshness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTile {
    pub bytes: Vec<u8>,
    /// When it was stored (UNIX seconds).
    pub fetched_at_s: u64,
    /// When the server said it goes stale (UNIX seconds); `None` when it did not say.
    pub expires_at_s: Option<u64>,
}

/// What the cache holds for one tile source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TileSourceSummary {
    pub source: String,
    pub tiles: u64,
    /// The tiles' own bytes (what was downloaded), not the database's size on disk.
    pub bytes: u64,
    /// Index records of this source that did not open (tampered with); not counted above.
    pub damaged: u64,
}

#[derive(Serialize, Deserialize)]
struct SourceRecord {
    name: String,
}

fn tags(hkdf: &Hkdf<Sha256>, parts: &[&[u8]]) -> [u8; TAG_LEN] {
    let mut tag = [0u8; TAG_LEN];
    hkdf.expand_multi_info(parts, &mut tag)
        .expect("16 bytes is a valid HKDF-SHA256 output length");
    tag
}

/// The store keys of a source: its tag, and a function of it for its tiles.
struct SourceKeys {
    hkdf: Hkdf<Sha256>,
    source_tag: [u8; TAG_LEN],
}

impl SourceKeys {
    fn tile_key(&self, source: &str, z: u8, x: u32, y: u32) -> [u8; 2 * TAG_LEN] {
        let tile_tag = tags(
            &self.hkdf,
            &[
                KEY_DOMAIN,
                b"tile\0",
                &[z],
                &x.to_be_bytes(),
                &y.to_be_bytes(),
                source.as_bytes(),
            ],
        );
        let mut key = [0u8; 2 * TAG_LEN];
        key[..TAG_LEN].copy_from_slice(&self.source_tag);
        key[TAG_LEN..].copy_from_slice(&tile_tag);
        key
    }
}

fn encode_tile(source: &str, tile: &NewTile<'_>, fetched_at_s: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(TILE_HEADER_LEN + source.len() + tile.bytes.len());
    out.push(TILE_RECORD_VERSION);
    out.push(tile.z);
    out.extend_from_slice(&tile.x.to_be_bytes());
    out.extend_from_slice(&tile.y.to_be_bytes());
    out.extend_from_slice(&fetched_at_s.to_be_bytes());
    out.extend_from_slice(&tile.expires_at_s.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&(source.len() as u64).to_be_bytes());
    out.extend_from_slice(source.as_bytes());
    out.extend_from_slice(tile.bytes);
    out
}

/// The tile in a record, when the record is well formed and names this source and tile.
fn decode_tile(plain: &[u8], source: &str, z: u8, x: u32, y: u32) -> Option<StoredTile> {
    let (header, rest) = plain.split_at_checked(TILE_HEADER_LEN)?;
    let u32_at = |at: usize| {
        header
            .get(at..at + 4)?
            .try_into()
            .ok()
            .map(u32::from_be_bytes)
    };
    let u64_at = |at: usize| {
        header
            .get(at..at + 8)?
            .try_into()
            .ok()
            .map(u64::from_be_bytes)
    };
    let source_len = usize::try_from(u64_at(26)?).ok()?;
    let (stored_source, bytes) = rest.split_at_checked(source_len)?;
    let matches = header[0] == TILE_RECORD_VERSION
        && header[1] == z
        && u32_at(2)? == x
        && u32_at(6)? == y
        && stored_source == source.as_bytes();
    matches.then(|| StoredTile {
        bytes: bytes.to_vec(),
        fetched_at_s: u64_at(10).unwrap_or(0),
        expires_at_s: u64_at(18).filter(|&s| s != 0),
    })
}

impl Vault {
    fn source_keys(&self, source: &str) -> Result<SourceKeys, VaultError> {
        self.shared.with_secrets(|s| {
            let hkdf = Hkdf::<Sha256>::from_prk(s.settings_key.as_ref())
                .expect("a 32-byte PRK is valid for HKDF-SHA256");
            let source_tag = tags(&hkdf, &[KEY_DOMAIN, b"source\0", source.as_bytes()]);
            Ok(SourceKeys { hkdf, source_tag })
        })
    }

    /// Store one tile of `source` (replacing any earlier copy) and make it durable
    /// (unlocked only).
    pub fn tile_put(
        &self,
        source: &str,
        z: u8,
        x: u32,
        y: u32,
        bytes: &[u8],
    ) -> Result<(), VaultError> {
        self.tiles_put(
            source,
            &[NewTile {
                z,
                x,
                y,
                bytes,
                expires_at_s: None,
            }],
        )
    }

    /// Store tiles of `source` (replacing earlier copies), then make them durable with one
    /// flush: an import of many tiles pays for one disk sync per batch, not per tile
    /// (unlocked only).
    pub fn tiles_put(&self, source: &str, tiles: &[NewTile<'_>]) -> Result<(), VaultError> {
        let keys = self.source_keys(source)?;
        if self
            .shared
            .store
            .get(TREE_TILE_SOURCES, &keys.source_tag)?
            .is_none()
        {
            self.shared.put_json(
                TREE_TILE_SOURCES,
                &keys.source_tag,
                &SourceRecord {
                    name: source.to_owned(),
                },
            )?;
        }
        let fetched_at_s = now_us() / 1_000_000;
        for tile in tiles {
            let key = keys.tile_key(source, tile.z, tile.x, tile.y);
            // The index first: a crash between the two leaves an index entry without a
            // tile (a summary one too high, removed with its source), never a tile that no
            // index entry lets anyone find and delete.
            self.shared.put_data(
                TREE_TILE_INDEX,
                &key,
                &(tile.bytes.len() as u64).to_be_bytes(),
            )?;
            self.shared
                .put_data(TREE_TILES, &key, &encode_tile(source, tile, fetched_at_s))?;
        }
        self.shared.store.flush()?;
        Ok(())
    }

    /// The bytes of one cached tile; `None` when it is not cached (unlocked only).
    pub fn tile_get(
        &self,
        source: &str,
        z: u8,
        x: u32,
        y: u32,
    ) -> Result<Option<Vec<u8>>, VaultError> {
        Ok(self.tile_entry(source, z, x, y)?.map(|t| t.bytes))
    }

    /// One cached tile with its fetch and expiry times; `None` when it is not cached
    /// (unlocked only).
    pub fn tile_entry(
        &self,
        source: &str,
        z: u8,
        x: u32,
        y: u32,
    ) -> Result<Option<StoredTile>, VaultError> {
        let key = self.source_keys(source)?.tile_key(source, z, x, y);
        let Some(plain) = self.shared.get_plain(TREE_TILES, &key)? else {
            return Ok(None);
        };
        decode_tile(&plain, source, z, x, y)
            .map(Some)
            .ok_or_else(|| VaultError::corrupt(TREE_TILES, &key))
    }

    /// Whether a tile is cached, without reading or decrypting it (unlocked only: its key
    /// cannot be computed otherwise).
    pub fn tile_cached(&self, source: &str, z: u8, x: u32, y: u32) -> Result<bool, VaultError> {
        let key = self.source_keys(source)?.tile_key(source, z, x, y);
        Ok(self.shared.store.get(TREE_TILE_INDEX, &key)?.is_some())
    }

    /// Per tile source: how many tiles are cached and their bytes, by source name
    /// (unlocked only). A source record that does not open is an error; a damaged index
    /// record is counted in its source's `damaged`.
    pub fn tiles_summary(&self) -> Result<Vec<TileSourceSummary>, VaultError> {
        let sources = self.shared.list_json::<SourceRecord>(TREE_TILE_SOURCES)?;
        if let Some(damaged) = sources.damaged.into_iter().next() {
            return Err(damaged);
        }
        let mut out = Vec::with_capacity(sources.items.len());
        for (source_tag, record) in sources.items {
            let mut summary = TileSourceSummary {
                source: record.name,
                tiles: 0,
                bytes: 0,
                damaged: 0,
            };
            for entry in self.shared.store.scan_prefix(TREE_TILE_INDEX, &source_tag) {
                let (key, value) = entry?;
                let len = self
                    .shared
                    .with_secrets(|s| s.open(TREE_TILE_INDEX, &key, &value))
                    .ok()
                    .and_then(|plain| <[u8; 8]>::try_from(plain.as_slice()).ok())
                    .map(u64::from_be_bytes);
                match len {
                    Some(len) => {
                        summary.tiles += 1;
                        summary.bytes = summary.bytes.saturating_add(len);
                    }
                    None => summary.damaged += 1,
                }
            }
            out.push(summary);
        }
        out.sort_by(|a, b| a.source.cmp(&b.source));
        Ok(out)
    }

    /// Remove every cached tile of `source`, and the source itself; returns how many tiles
    /// went. An unknown source removes nothing (unlocked only).
    pub fn tiles_delete_source(&self, source: &str) -> Result<u64, VaultError> {
        let keys = self.source_keys(source)?;
        let index_keys = self
            .shared
            .store
            .scan_prefix(TREE_TILE_INDEX, &keys.source_tag)
            .map(|entry| entry.map(|(key, _)| key))
            .collect::<Result<Vec<_>, _>>()?;
        // Orphan tiles (a crash between the two writes of a put, see `tiles_put`) cannot
        // exist, but a scan of the tiles themselves catches any anyway; it reads every tile
        // of the source, which is fine for a deletion.
        let tile_keys = self
            .shared
            .store
            .scan_prefix(TREE_TILES, &keys.source_tag)
            .map(|entry| entry.map(|(key, _)| key))
            .collect::<Result<Vec<_>, _>>()?;
        for key in &tile_keys {
            self.shared.store.remove(TREE_TILES, key)?;
        }
        for key in &index_keys {
            self.shared.store.remove(TREE_TILE_INDEX, key)?;
        }
        self.shared
            .store
            .remove(TREE_TILE_SOURCES, &keys.source_tag)?;
        self.shared.store.flush()?;
        Ok(index_keys.len().max(tile_keys.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{MemStore, Store};
    use crate::{KdfParams, SecretString, VaultConfig};

    fn pass() -> SecretString {
        SecretString::from("tile pass".to_owned())
    }

    fn fast() -> VaultConfig {
        VaultConfig {
            kdf: KdfParams::INSECURE_FAST,
        }
    }

    fn mem_vault() -> (Arc<MemStore>, Vault) {
        let store = Arc::new(MemStore::new());
        let vault = Vault::create_in(store.clone(), None, &pass(), fast()).expect("create");
        (store, vault)
    }

    fn keys_of(store: &MemStore, tree: &str) -> Vec<Vec<u8>> {
        store
            .scan_prefix(tree, b"")
            .map(|e| e.expect("mem store scan").0)
            .collect()
    }

    #[test]
    fn tiles_round_trip_per_source_and_coordinate() {
        let (_, vault) = mem_vault();
        vault.tile_put("osm", 12, 2148, 1434, b"tile a").unwrap();
        vault.tile_put("osm", 12, 2148, 1435, b"tile b").unwrap();
        vault.tile_put("topo", 12, 2148, 1434, b"topo a").unwrap();
        assert_eq!(
            vault.tile_get("osm", 12, 2148, 1434).unwrap().as_deref(),
            Some(&b"tile a"[..])
        );
        assert_eq!(
            vault.tile_get("osm", 12, 2148, 1435).unwrap().as_deref(),
            Some(&b"tile b"[..])
        );
        assert_eq!(
            vault.tile_get("topo", 12, 2148, 1434).unwrap().as_deref(),
            Some(&b"topo a"[..])
        );
        // x and y are not interchangeable, nor z.
        assert_eq!(vault.tile_get("osm", 12, 1434, 2148).unwrap(), None);
        assert_eq!(vault.tile_get("osm", 13, 2148, 1434).unwrap(), None);
        assert_eq!(vault.tile_get("other", 12, 2148, 1434).unwrap(), None);
        assert!(vault.tile_cached("osm", 12, 2148, 1434).unwrap());
        assert!(!vault.tile_cached("osm", 0, 0, 0).unwrap());

        // Replacing a tile replaces it, and does not count twice.
        vault
            .tile_put("osm", 12, 2148, 1434, b"tile a, newer")
            .unwrap();
        assert_eq!(
            vault.tile_get("osm", 12, 2148, 1434).unwrap().as_deref(),
            Some(&b"tile a, newer"[..])
        );
        let summary = vault.tiles_summary().unwrap();
        assert_eq!(
            summary,
            vec![
                TileSourceSummary {
                    source: "osm".into(),
                    tiles: 2,
                    bytes: 13 + 6,
                    damaged: 0
                },
                TileSourceSummary {
                    source: "topo".into(),
                    tiles: 1,
                    bytes: 6,
                    damaged: 0
                },
            ]
        );

        assert_eq!(vault.tiles_delete_source("osm").unwrap(), 2);
        assert_eq!(vault.tile_get("osm", 12, 2148, 1435).unwrap(), None);
        assert_eq!(vault.tiles_summary().unwrap().len(), 1);
        assert_eq!(
            vault.tile_get("topo", 12, 2148, 1434).unwrap().as_deref(),
            Some(&b"topo a"[..])
        );
        assert_eq!(vault.tiles_delete_source("nothing here").unwrap(), 0);
    }

    #[test]
    fn expiry_is_kept_and_batches_store_every_tile() {
        let (_, vault) = mem_vault();
        let bytes: Vec<Vec<u8>> = (0..50u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let batch: Vec<NewTile<'_>> = bytes
            .iter()
            .enumerate()
            .map(|(i, b)| NewTile {
                z: 10,
                x: i as u32,
                y: 7,
                bytes: b,
                expires_at_s: (i % 2 == 0).then_some(1_900_000_000),
            })
            .collect();
        vault.tiles_put("s", &batch).unwrap();
        let even = vault.tile_entry("s", 10, 4, 7).unwrap().unwrap();
        assert_eq!(even.bytes, 4u32.to_be_bytes());
        assert_eq!(even.expires_at_s, Some(1_900_000_000));
        assert!(even.fetched_at_s > 1_600_000_000, "{}", even.fetched_at_s);
        assert_eq!(
            vault
                .tile_entry("s", 10, 5, 7)
                .unwrap()
                .unwrap()
                .expires_at_s,
            None
        );
        assert_eq!(vault.tiles_summary().unwrap()[0].tiles, 50);
        assert_eq!(vault.tiles_summary().unwrap()[0].bytes, 200);
    }

    #[test]
    fn a_locked_vault_gives_no_tile_and_takes_none() {
        let (_, vault) = mem_vault();
        vault.tile_put("osm", 1, 0, 1, b"t").unwrap();
        vault.lock().unwrap();
        assert!(matches!(
            vault.tile_get("osm", 1, 0, 1),
            Err(VaultError::Locked)
        ));
        assert!(matches!(
            vault.tile_get("osm", 1, 1, 1),
            Err(VaultError::Locked)
        ));
        assert!(matches!(
            vault.tile_put("osm", 1, 0, 0, b"t"),
            Err(VaultError::Locked)
        ));
        assert!(matches!(
            vault.tile_cached("osm", 1, 0, 1),
            Err(VaultError::Locked)
        ));
        assert!(matches!(vault.tiles_summary(), Err(VaultError::Locked)));
        assert!(matches!(
            vault.tiles_delete_source("osm"),
            Err(VaultError::Locked)
        ));
        vault.unlock(&pass()).unwrap();
        assert_eq!(
            vault.tile_get("osm", 1, 0, 1).unwrap().as_deref(),
            Some(&b"t"[..])
        );
    }

    #[test]
    fn a_tampered_or_moved_tile_is_corrupt_never_other_bytes() {
        let (store, vault) = mem_vault();
        vault.tile_put("osm", 5, 10, 11, b"the real tile").unwrap();
        vault.tile_put("osm", 5, 10, 12, b"its neighbour").unwrap();
        let keys = keys_of(&store, TREE_TILES);
        assert_eq!(keys.len(), 2);
        let key_11 = vault.source_keys("osm").unwrap().tile_key("osm", 5, 10, 11);
        let key_12 = vault.source_keys("osm").unwrap().tile_key("osm", 5, 10, 12);
        let record_11 = store.get(TREE_TILES, &key_11).unwrap().unwrap();
        let record_12 = store.get(TREE_TILES, &key_12).unwrap().unwrap();

        // Every single flipped byte is caught.
        for at in 0..record_11.len() {
            let mut bad = record_11.clone();
            bad[at] ^= 0x01;
            store.insert(TREE_TILES, &key_11, &bad).unwrap();
            match vault.tile_get("osm", 5, 10, 11) {
                Err(VaultError::Corrupt { tree, key }) => {
                    assert_eq!(tree, TREE_TILES);
                    assert_eq!(key.0, key_11);
                }
                other => panic!("byte {at} flipped: expected Corrupt, got {other:?}"),
            }
        }
        // A whole record swapped in from another tile's key does not open either.
        store.insert(TREE_TILES, &key_11, &record_12).unwrap();
        assert!(matches!(
            vault.tile_get("osm", 5, 10, 11),
            Err(VaultError::Corrupt { .. })
        ));
        // Truncated.
        store.insert(TREE_TILES, &key_11, &record_11[..10]).unwrap();
        assert!(matches!(
            vault.tile_get("osm", 5, 10, 11),
            Err(VaultError::Corrupt { .. })
        ));
        store.insert(TREE_TILES, &key_11, &record_11).unwrap();
        assert_eq!(
            vault.tile_get("osm", 5, 10, 11).unwrap().as_deref(),
            Some(&b"the real tile"[..])
        );

        // A tampered index record is counted as damaged, not as a tile.
        let mut index = store.get(TREE_TILE_INDEX, &key_12).unwrap().unwrap();
        let last = index.len() - 1;
        index[last] ^= 0x80;
        store.insert(TREE_TILE_INDEX, &key_12, &index).unwrap();
        let summary = &vault.tiles_summary().unwrap()[0];
        assert_eq!((summary.tiles, summary.damaged), (1, 1));
    }

    #[test]
    fn keys_are_opaque_and_records_from_another_vault_do_not_open() {
        let (store, vault) = mem_vault();
        vault.tile_put("osm", 3, 1, 2, b"x").unwrap();
        let (other_store, other) = mem_vault();
        other.tile_put("osm", 3, 1, 2, b"y").unwrap();
        // Same source and tile, different vaults: different keys (keyed by each vault's
        // secret, so no dictionary of coordinates maps keys back to places).
        assert_ne!(
            keys_of(&store, TREE_TILES),
            keys_of(&other_store, TREE_TILES)
        );
        for tree in [TREE_TILES, TREE_TILE_INDEX] {
            for key in keys_of(&store, tree) {
                assert_eq!(key.len(), 32);
            }
        }
    }

    /// The plaintext scan, on real files: no source name, coordinate (as text or as raw
    /// integers in either byte order) or tile content appears anywhere in the vault directory.
    #[test]
    fn no_tile_coordinate_source_or_content_in_the_vault_files() {
        const SOURCE: &str = "Zanzibar Secret Survey Tiles";
        const CONTENT: &[u8] = b"PNG-CONTENT-OF-A-SENSITIVE-TILE";
        const Z: u8 = 28;
        const X: u32 = 0x0ABC_DEF1;
        const Y: u32 = 0x0987_6543;
        let dir = tempfile::tempdir().unwrap();
        let vault_dir = dir.path().join("vault");
        {
            let vault = Vault::create(&vault_dir, &pass(), fast()).unwrap();
            vault.tile_put(SOURCE, Z, X, Y, CONTENT).unwrap();
            for i in 1..=20 {
                vault.tile_put(SOURCE, Z, X + i, Y, CONTENT).unwrap();
            }
            assert_eq!(vault.tiles_summary().unwrap()[0].tiles, 21);
            vault.lock().unwrap();
        }
        let mut needles: Vec<(String, Vec<u8>)> = vec![
            ("source name".into(), SOURCE.as_bytes().to_vec()),
            ("tile content".into(), CONTENT.to_vec()),
            ("x BE".into(), X.to_be_bytes().to_vec()),
            ("x LE".into(), X.to_le_bytes().to_vec()),
            ("y BE".into(), Y.to_be_bytes().to_vec()),
            ("y LE".into(), Y.to_le_bytes().to_vec()),
            ("x text".into(), X.to_string().into_bytes()),
            ("y text".into(), Y.to_string().into_bytes()),
            ("z/x/y".into(), format!("{Z}/{X}/{Y}").into_bytes()),
        ];
        // Control: the scan finds what is there (the sled directory is non-empty and read).
        needles.push(("control".into(), b"sled".to_vec()));
        let mut files = Vec::new();
        let mut stack = vec![vault_dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        assert!(!files.is_empty());
        let mut control_seen = false;
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            for (name, needle) in &needles {
                if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    if name == "control" {
                        control_seen = true;
                    } else {
                        panic!("{name} found in clear in {}", file.display());
                    }
                }
            }
        }
        let total: usize = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len() as usize))
            .sum();
        assert!(
            total > 21 * CONTENT.len(),
            "the tiles are on disk ({total} bytes)"
        );
        // sled writes its own name into its `conf` file; finding it proves files are read.
        assert!(control_seen, "the scan read the files");
    }
}
