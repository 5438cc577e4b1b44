//! The tile cache against a real tile server on 127.0.0.1 (the shared test one in
//! tests/tile_server.rs, counting every request), over real sockets and a real vault;
//! MBTiles files built with SQLite.

#[path = "../../../tests/tile_server.rs"]
mod tile_server;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use airgap_egress::Gate;
use airgap_tiles::{import_mbtiles, BBox, Progress, TileCache, TileError, TileId, TileSource};
use airgap_vault::{KdfParams, MemStore, SecretString, Vault, VaultConfig, VaultError};
use tile_server::{png, Behaviour, TileServer};

fn pass() -> SecretString {
    SecretString::from("tiles test".to_owned())
}

fn vault() -> Arc<Vault> {
    Arc::new(
        Vault::create_in(
            Arc::new(MemStore::new()),
            None,
            &pass(),
            VaultConfig {
                kdf: KdfParams::INSECURE_FAST,
            },
        )
        .expect("create a vault in memory"),
    )
}

fn source(template: &str) -> TileSource {
    let mut s = TileSource::custom(template).expect("valid template");
    s.name = "test tiles".to_owned();
    s.max_parallel = 2;
    s
}

fn cache(vault: &Arc<Vault>, gate: Gate, template: &str) -> TileCache {
    let source = source(template);
    let client = source.client(gate);
    TileCache::new(vault.clone(), Some(client), source)
}

/// A small area near Zürich: 1 + 2 + 4 + 6 tiles at zooms 12..=15 or thereabouts.
fn area() -> BBox {
    BBox::new(47.37, 8.53, 47.38, 8.55).unwrap()
}

/// Runs `f` on a thread and fails the test if it takes longer than `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("the operation finished in time")
}

#[test]
fn an_area_download_fetches_each_tile_once_and_a_second_one_fetches_nothing() {
    let server = TileServer::start(Behaviour::default());
    let vault = vault();
    let template = server.template("127.0.0.1");
    let total = airgap_tiles::estimate(area(), 12..=15).tiles;
    let (report, progress) = {
        let vault = vault.clone();
        bounded(Duration::from_secs(30), move || {
            let cache = cache(&vault, Gate::new(true), &template);
            let mut seen: Vec<Progress> = Vec::new();
            let report = cache
                .download_area(
                    area(),
                    12..=15,
                    &mut |p| seen.push(p),
                    &AtomicBool::new(false),
                )
                .expect("download");
            (report, seen)
        })
    };
    assert!(total >= 4, "{total}");
    assert_eq!(report.total, total);
    assert_eq!(report.fetched, total, "{report:?}");
    assert_eq!((report.skipped, report.failed, report.missing), (0, 0, 0));
    assert!(!report.cancelled);
    assert_eq!(server.request_count() as u64, total);
    // Progress: once per tile, ending at the total, bytes adding up.
    assert_eq!(progress.len() as u64, total);
    let last = progress.last().unwrap();
    assert_eq!((last.done, last.total, last.fetched), (total, total, total));
    assert_eq!(last.bytes, report.bytes);
    assert!(progress.windows(2).all(|w| w[0].done < w[1].done));
    // At most the source's two requests at a time reached the server.
    assert!(server.in_flight_max() <= 2);

    // Every tile is in the vault, with the server's bytes, and the summary counts them.
    for t in area().tiles(12..=15) {
        assert_eq!(
            vault.tile_get("test tiles", t.z, t.x, t.y).unwrap(),
            Some(png(t.z, t.x, t.y)),
            "{t}"
        );
    }
    let summary = vault.tiles_summary().unwrap();
    assert_eq!(summary[0].tiles, total);

    // Again: nothing new is asked for.
    let template = server.template("127.0.0.1");
    let again = {
        let vault = vault.clone();
        bounded(Duration::from_secs(30), move || {
            cache(&vault, Gate::new(false), &template)
                .download_area(area(), 12..=15, &mut |_| {}, &AtomicBool::new(false))
                .expect("second download")
        })
    };
    assert_eq!((again.fetched, again.skipped), (0, total));
    assert_eq!(server.request_count() as u64, total);
}

#[test]
fn a_429_pauses_the_download_for_its_retry_after_and_nothing_is_lost() {
    let server = TileServer::start(Behaviour {
        busy_first: 1,
        ..Behaviour::default()
    });
    let vault = vault();
    let template = server.template("127.0.0.1");
    let total = airgap_tiles::estimate(area(), 13..=14).tiles;
    let started = Instant::now();
    let report = {
        let vault = vault.clone();
        bounded(Duration::from_secs(30), move || {
            cache(&vault, Gate::new(false), &template)
                .download_area(area(), 13..=14, &mut |_| {}, &AtomicBool::new(false))
                .expect("download")
        })
    };
    assert_eq!(report.fetched, total, "{report:?}");
    assert_eq!(report.failed, 0);
    assert_eq!(server.request_count() as u64, total + 1, "one retry");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured ({:?})",
        started.elapsed()
    );
}

#[test]
fn bad_answers_are_counted_not_stored_and_missing_tiles_are_misses() {
    let tiles: Vec<TileId> = area().tiles(14..=14).collect();
    assert!(tiles.len() >= 2);
    let path = |t: &TileId| format!("/{}/{}/{}.png", t.z, t.x, t.y);
    let server = TileServer::start(Behaviour {
        missing: vec![path(&tiles[0])],
        html: vec![path(&tiles[1])],
        ..Behaviour::default()
    });
    let vault = vault();
    let template = server.template("127.0.0.1");
    let report = {
        let vault = vault.clone();
        bounded(Duration::from_secs(30), move || {
            cache(&vault, Gate::new(false), &template)
                .download_area(area(), 14..=14, &mut |_| {}, &AtomicBool::new(false))
                .expect("download")
        })
    };
    assert_eq!(report.missing, 1);
    assert_eq!(report.failed, 1);
    assert!(
        report.failures[0].contains("not an image"),
        "{:?}",
        report.failures
    );
    assert_eq!(report.fetched, tiles.len() as u64 - 2);
    for t in &tiles[..2] {
        assert_eq!(vault.tile_get("test tiles", t.z, t.x, t.y).unwrap(), None);
    }
}

#[test]
fn get_fetches_a_miss_once_then_serves_it_from_the_vault_even_offline() {
    let server = TileServer::start(Behaviour::default());
    let vault = vault();
    let template = server.template("localhost");
    let v = vault.clone();
    let (first, second) = bounded(Duration::from_secs(30), move || {
        let online = cache(&v, Gate::new(true), &template);
        (
            online.get(10, 536, 358).unwrap(),
            online.get(10, 536, 358).unwrap(),
        )
    });
    assert_eq!(first, Some(png(10, 536, 358)));
    assert_eq!(second, first);
    assert_eq!(server.request_count(), 1);

    let offline = TileCache::new(vault.clone(), None, source(&server.template("127.0.0.1")));
    assert_eq!(offline.get(10, 536, 358).unwrap(), Some(png(10, 536, 358)));
    assert_eq!(offline.get(10, 536, 359).unwrap(), None);
    // A tile that cannot exist is a miss, not an error.
    assert_eq!(offline.get(3, 9, 0).unwrap(), None);
    assert!(matches!(
        offline.download_area(area(), 10..=10, &mut |_| {}, &AtomicBool::new(false)),
        Err(TileError::Offline)
    ));
    assert_eq!(server.request_count(), 1);

    vault.lock().unwrap();
    assert!(matches!(
        offline.get(10, 536, 358),
        Err(TileError::Vault(VaultError::Locked))
    ));
}

#[test]
fn a_stale_tile_is_fetched_again_when_online() {
    let server = TileServer::start(Behaviour {
        cache_control: Some("max-age=0"),
        ..Behaviour::default()
    });
    let vault = vault();
    let template = server.template("127.0.0.1");
    let v = vault.clone();
    bounded(Duration::from_secs(30), move || {
        let online = cache(&v, Gate::new(false), &template);
        online.get(9, 1, 2).unwrap();
        online.get(9, 1, 2).unwrap();
    });
    assert_eq!(server.request_count(), 2, "max-age=0 is stale at once");
    let stored = vault.tile_entry("test tiles", 9, 1, 2).unwrap().unwrap();
    assert!(stored.expires_at_s.is_some());
}

/// `127.1` is a host *name* to the gate, so a sealed gate refuses it; to the resolver it is
/// 127.0.0.1, so the listener would see any connection (and nothing could leave the machine
/// even if the gate failed).
#[test]
fn sealed_a_remote_source_is_refused_once_with_no_socket_and_the_vault_still_serves() {
    let server = TileServer::start(Behaviour::default());
    let vault = vault();
    vault
        .tile_put("test tiles", 12, 2145, 1434, &png(12, 2145, 1434))
        .unwrap();
    let gate = Gate::new(true);
    let audited = Arc::new(AtomicUsize::new(0));
    let a = audited.clone();
    gate.on_refusal(Box::new(move |_| {
        a.fetch_add(1, Ordering::SeqCst);
    }));
    let template = server.template("127.1");
    let (v, g) = (vault.clone(), gate.clone());
    let (download, misses, hit) = bounded(Duration::from_secs(30), move || {
        let sealed = cache(&v, g, &template);
        let download = sealed.download_area(area(), 12..=14, &mut |_| {}, &AtomicBool::new(false));
        let misses: Vec<_> = (0..5)
            .map(|i| sealed.get(12, 2000 + i, 1400).unwrap())
            .collect();
        let hit = sealed.get(12, 2145, 1434).unwrap();
        (download, misses, hit)
    });
    match download {
        Err(TileError::Refused(refused)) => {
            assert!(refused.to_string().contains("network seal"), "{refused}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(misses.iter().all(Option::is_none));
    assert_eq!(hit, Some(png(12, 2145, 1434)));
    assert_eq!(gate.refused_count(), 1, "refused once, then remembered");
    assert_eq!(audited.load(Ordering::SeqCst), 1);
    assert_eq!(server.connection_count(), 0, "no socket was made");

    // Control: online, the same template reaches the server.
    let template = server.template("127.1");
    let v = vault.clone();
    let got = bounded(Duration::from_secs(30), move || {
        cache(&v, Gate::new(false), &template)
            .get(12, 2000, 1400)
            .unwrap()
    });
    assert_eq!(got, Some(png(12, 2000, 1400)));
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn openstreetmap_refuses_bulk_and_deep_downloads_before_any_request() {
    // No client at all: the limits are checked before anything else.
    let osm = TileCache::new(vault(), None, TileSource::openstreetmap());
    let city = BBox::new(47.30, 8.40, 47.45, 8.65).unwrap();
    match osm.download_area(city, 10..=16, &mut |_| {}, &AtomicBool::new(false)) {
        Err(e @ TileError::AreaTooLarge { .. }) => {
            let text = e.to_string();
            assert!(text.contains("usage policy"), "{text}");
            assert!(text.contains("tiles source set"), "{text}");
        }
        other => panic!("expected AreaTooLarge, got {other:?}"),
    }
    match osm.download_area(area(), 15..=17, &mut |_| {}, &AtomicBool::new(false)) {
        Err(
            e @ TileError::ZoomTooDeep {
                zoom: 17, max: 16, ..
            },
        ) => {
            assert!(e.to_string().contains("zoom 17"), "{e}");
        }
        other => panic!("expected ZoomTooDeep, got {other:?}"),
    }
}

#[test]
fn a_cancelled_download_stops_and_says_so() {
    let server = TileServer::start(Behaviour::default());
    let vault = vault();
    let template = server.template("127.0.0.1");
    let total = airgap_tiles::estimate(area(), 12..=17).tiles;
    let report = bounded(Duration::from_secs(30), move || {
        let cancel = AtomicBool::new(false);
        cache(&vault, Gate::new(false), &template)
            .download_area(
                area(),
                12..=17,
                &mut |p| {
                    if p.done >= 3 {
                        cancel.store(true, Ordering::SeqCst);
                    }
                },
                &cancel,
            )
            .expect("download")
    });
    assert!(report.cancelled, "{report:?}");
    assert!(report.fetched < total, "{report:?}");
    assert!((server.request_count() as u64) < total);
}

fn write_mbtiles(path: &Path, rows: &[(u8, u32, u32, Vec<u8>)], format: &str) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);",
    )
    .unwrap();
    db.execute(
        "INSERT INTO metadata VALUES ('name', 'Test area'), ('format', ?1)",
        [format],
    )
    .unwrap();
    for (z, x, tms_y, data) in rows {
        db.execute(
            "INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![z, x, tms_y, data],
        )
        .unwrap();
    }
}

#[test]
fn mbtiles_import_flips_tms_rows_and_rejects_what_is_not_mbtiles() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("area.mbtiles");
    // TMS row 0 is the southernmost: at zoom 3, XYZ row 7.
    let rows = vec![
        (3, 1, 0, png(3, 1, 7)),
        (3, 1, 7, png(3, 1, 0)),
        (10, 536, 1023 - 358, png(10, 536, 358)),
        // Outside the grid, and empty: skipped.
        (3, 8, 0, png(0, 0, 0)),
        (4, 0, 0, Vec::new()),
    ];
    write_mbtiles(&file, &rows, "png");
    let vault = vault();
    let report = import_mbtiles(&vault, &file, "imported").unwrap();
    assert_eq!((report.imported, report.skipped), (3, 2));
    let audited: Vec<String> = vault
        .audit_entries()
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| match e.event {
            airgap_vault::AuditEvent::Imported { what } => Some(what),
            _ => None,
        })
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert!(
        audited[0].starts_with("3 map tiles (") && audited[0].contains("as source \"imported\""),
        "{audited:?}"
    );
    assert_eq!(report.name.as_deref(), Some("Test area"));
    assert_eq!(report.format.as_deref(), Some("png"));
    assert_eq!(
        vault.tile_get("imported", 3, 1, 7).unwrap(),
        Some(png(3, 1, 7))
    );
    assert_eq!(
        vault.tile_get("imported", 3, 1, 0).unwrap(),
        Some(png(3, 1, 0))
    );
    assert_eq!(
        vault.tile_get("imported", 10, 536, 358).unwrap(),
        Some(png(10, 536, 358))
    );
    // And a cache of that source serves them, offline.
    let mut s = TileSource::openstreetmap();
    s.name = "imported".to_owned();
    let offline = TileCache::new(vault.clone(), None, s);
    assert_eq!(offline.get(10, 536, 358).unwrap(), Some(png(10, 536, 358)));

    // Not a database at all.
    let text = dir.path().join("notes.mbtiles");
    std::fs::write(&text, "these are not tiles\n".repeat(100)).unwrap();
    match import_mbtiles(&vault, &text, "x") {
        Err(e @ TileError::NotMbTiles { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("`tiles` table") && msg.contains("MBTiles 1.3"),
                "{msg}"
            );
        }
        other => panic!("expected NotMbTiles, got {other:?}"),
    }
    // A database, but not MBTiles.
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE flights (id INTEGER);")
        .unwrap();
    assert!(matches!(
        import_mbtiles(&vault, &other, "x"),
        Err(TileError::NotMbTiles { .. })
    ));
    // Vector tiles are refused by name.
    let vector = dir.path().join("vector.mbtiles");
    write_mbtiles(&vector, &[(0, 0, 0, vec![1, 2, 3])], "pbf");
    assert!(matches!(
        import_mbtiles(&vault, &vector, "x"),
        Err(TileError::UnsupportedMbTiles { .. })
    ));
    // A locked vault takes nothing.
    vault.lock().unwrap();
    assert!(matches!(
        import_mbtiles(&vault, &file, "imported"),
        Err(TileError::Vault(VaultError::Locked))
    ));
}
