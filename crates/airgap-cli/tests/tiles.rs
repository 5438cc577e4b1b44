//! `airgap tiles`: area downloads from a tile server on 127.0.0.1 (the shared test one in
//! tests/tile_server.rs, counting requests) into a real vault, status, MBTiles import, the
//! tile source setting, and a sealed download from a non-loopback source refused, audited,
//! with no connection made.

mod common;
#[path = "../../../tests/tile_server.rs"]
mod tile_server;

use std::path::Path;

use airgap_vault::{AuditEvent, SecretString, Vault};
use common::Data;
use tile_server::{png, Behaviour, TileServer};

/// Zürich's main station and around: a handful of tiles at zooms 12-15.
const BBOX: &str = "47.370,8.530,47.380,8.550";
const ZOOMS: &str = "12-15";

fn expected_tiles() -> u64 {
    airgap_tiles::estimate(BBOX.parse().expect("bbox"), 12..=15).tiles
}

fn status_json(d: &Data) -> Vec<serde_json::Value> {
    d.ok(&["tiles", "status", "--json"])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn refusals_audited(d: &Data) -> usize {
    let vault = Vault::open(&d.data.join("vault")).expect("open the vault");
    vault
        .unlock(&SecretString::from(
            "correct horse battery staple".to_owned(),
        ))
        .expect("unlock");
    vault
        .audit_entries()
        .expect("audit")
        .items
        .into_iter()
        .filter(|e| matches!(&e.event, AuditEvent::Other { kind, .. } if kind == "egress_refused"))
        .count()
}

#[test]
fn download_from_a_loopback_server_then_again_fetches_nothing_new() {
    let d = Data::new("tiles-download");
    d.ok(&["vault", "init"]);
    assert!(d.ok(&["tiles", "status"]).stdout.contains("no map tiles"));
    let server = TileServer::start(Behaviour {
        busy_first: 1,
        ..Behaviour::default()
    });
    let url = server.template("127.0.0.1");
    let args = [
        "tiles",
        "download",
        "--bbox",
        BBOX,
        "--zoom",
        ZOOMS,
        "--source-url",
        &url,
        "--yes",
    ];
    let out = d.ok(&args);
    let total = expected_tiles();
    assert!(
        out.stderr
            .contains(&format!("{total} tiles at zooms 12-15")),
        "the estimate comes first{out:?}"
    );
    assert!(
        out.stdout.contains(&format!("fetched {total} tiles")),
        "{out:?}"
    );
    // Every tile once, plus the one answered 429 and asked again.
    assert_eq!(server.request_count() as u64, total + 1);
    let status = status_json(&d);
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["source"], url.as_str());
    assert_eq!(status[0]["tiles"], total);
    assert!(status[0]["bytes"].as_u64().unwrap_or(0) > 0);

    let again = d.ok(&args);
    assert!(
        again.stdout.contains(&format!(
            "fetched 0 tiles (0 B), {total} already in the vault"
        )),
        "{again:?}"
    );
    assert_eq!(
        server.request_count() as u64,
        total + 1,
        "nothing new was asked for"
    );
    assert!(d.ok(&["tiles", "status"]).stdout.contains(&url));
}

#[test]
fn without_yes_and_no_terminal_it_only_estimates() {
    let d = Data::new("tiles-estimate");
    d.ok(&["vault", "init"]);
    let server = TileServer::start(Behaviour::default());
    let url = server.template("127.0.0.1");
    let (status, out) = d.run(&[
        "tiles",
        "download",
        "--bbox",
        BBOX,
        "--zoom",
        ZOOMS,
        "--source-url",
        &url,
    ]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("add --yes"), "{out:?}");
    assert_eq!(server.request_count(), 0);
}

/// `127.1` is a host name to the gate (refused while sealed) but 127.0.0.1 to the resolver,
/// so the listener would see any connection that slipped through, and nothing could leave
/// the machine if one did.
#[test]
fn sealed_a_non_loopback_source_is_refused_audited_and_never_reached() {
    let d = Data::new("tiles-sealed");
    d.ok(&["vault", "init"]);
    let server = TileServer::start(Behaviour::default());
    let url = server.template("127.1");
    let (status, out) = d.run(&[
        "--sealed",
        "tiles",
        "download",
        "--bbox",
        BBOX,
        "--zoom",
        ZOOMS,
        "--source-url",
        &url,
        "--yes",
    ]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("map tiles to 127.1:"), "{out:?}");
    assert!(out.stderr.contains("network seal is engaged"), "{out:?}");
    assert!(out.stderr.contains("Nothing was sent"), "{out:?}");
    assert_eq!(server.connection_count(), 0, "no connection");
    assert_eq!(refusals_audited(&d), 1, "the refusal is in the audit trail");

    // Control: online, the same source is reached.
    d.ok(&[
        "tiles",
        "download",
        "--bbox",
        BBOX,
        "--zoom",
        "12",
        "--source-url",
        &url,
        "--yes",
    ]);
    assert!(server.request_count() > 0);
}

#[test]
fn openstreetmap_bulk_downloads_are_refused_with_the_reason() {
    let d = Data::new("tiles-osm");
    d.ok(&["vault", "init"]);
    let (status, out) = d.run(&[
        "tiles",
        "download",
        "--bbox",
        "47.0,8.0,47.6,8.9",
        "--zoom",
        "10-16",
        "--yes",
    ]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("usage policy"), "{out:?}");
    assert!(out.stderr.contains("airgap tiles source set"), "{out:?}");
}

#[test]
fn the_source_setting_is_kept_in_the_vault_and_used() {
    let d = Data::new("tiles-source");
    d.ok(&["vault", "init"]);
    let shown = d.ok(&["tiles", "source", "show", "--json"]).stdout;
    let osm: serde_json::Value = serde_json::from_str(shown.trim()).expect("json");
    assert_eq!(osm["name"], "openstreetmap");
    assert_eq!(osm["max_parallel"], 2);
    assert!(osm["user_agent"]
        .as_str()
        .is_some_and(|ua| ua.starts_with("AirgapGCS/")));

    let server = TileServer::start(Behaviour::default());
    let url = server.template("127.0.0.1");
    d.ok(&["tiles", "source", "set", &url, "--name", "local"]);
    let shown = d.ok(&["tiles", "source"]).stdout;
    assert!(
        shown.contains("name: local") && shown.contains(&url),
        "{shown}"
    );
    d.ok(&["tiles", "download", "--bbox", BBOX, "--zoom", "13", "--yes"]);
    let status = status_json(&d);
    assert_eq!(status[0]["source"], "local");
    assert!(server.request_count() > 0);

    let (bad, out) = d.run(&["tiles", "source", "set", "ftp://x/{z}/{x}/{y}"]);
    assert_eq!(bad.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("http:// or https://"), "{out:?}");
    d.ok(&["tiles", "source", "reset"]);
    assert!(d
        .ok(&["tiles", "source"])
        .stdout
        .contains("name: openstreetmap"));
}

fn write_mbtiles(path: &Path) {
    let db = rusqlite::Connection::open(path).expect("create the MBTiles file");
    db.execute_batch(
        "CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         INSERT INTO metadata VALUES ('name', 'Test area'), ('format', 'png');",
    )
    .expect("schema");
    for (z, x, tms_y) in [(3u8, 1u32, 0u32), (3, 2, 5), (4, 9, 9)] {
        db.execute(
            "INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![z, x, tms_y, png(z, x, tms_y)],
        )
        .expect("row");
    }
}

#[test]
fn an_mbtiles_file_is_imported_with_rows_flipped_and_other_files_are_refused() {
    let d = Data::new("tiles-import");
    d.ok(&["vault", "init"]);
    let file = d.dir.join("area.mbtiles");
    write_mbtiles(&file);
    let file_arg = file.to_string_lossy().into_owned();
    let out = d.ok(&["tiles", "import", &file_arg, "--source", "survey"]);
    assert!(out.stdout.contains("imported 3 tiles"), "{out:?}");
    let status = status_json(&d);
    assert_eq!(status[0]["source"], "survey");
    assert_eq!(status[0]["tiles"], 3);
    {
        let vault = Vault::open(&d.data.join("vault")).expect("open");
        vault
            .unlock(&SecretString::from(
                "correct horse battery staple".to_owned(),
            ))
            .expect("unlock");
        // TMS row 0 at zoom 3 is XYZ row 7.
        assert_eq!(
            vault.tile_get("survey", 3, 1, 7).expect("get"),
            Some(png(3, 1, 0))
        );
        assert_eq!(vault.tile_get("survey", 3, 1, 0).expect("get"), None);
        vault.lock().expect("lock");
    }
    // Without --source, tiles go under the configured source, where the map looks.
    d.ok(&["tiles", "import", &file_arg]);
    assert!(status_json(&d)
        .iter()
        .any(|s| s["source"] == "openstreetmap" && s["tiles"] == 3));

    let text = d.dir.join("notes.txt");
    std::fs::write(&text, "not tiles\n").expect("write");
    let (status, out) = d.run(&["tiles", "import", &text.to_string_lossy()]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("is not an MBTiles file"), "{out:?}");
    assert!(out.stderr.contains("`tiles` table"), "{out:?}");
}
