//! Tampering: every flipped byte of a record, records moved between keys and trees, audit
//! entries deleted, edited, reordered or forged, and damaged database files. Each is a
//! typed error naming what is wrong, and the rest of the vault stays readable.

mod common;

use airgap_vault::testing::{
    chunk_key, TREE_AUDIT, TREE_CHUNKS, TREE_FLIGHTS, TREE_MISSIONS, TREE_PARAMS,
};
use airgap_vault::{
    AuditEvent, AuditProblem, RecorderConfig, SnapshotId, Store, Vault, VaultError,
};
use common::*;

fn assert_corrupt<T: std::fmt::Debug>(r: Result<T, VaultError>, tree: &str, key: &[u8]) {
    match r {
        Err(VaultError::Corrupt { tree: t, key: k }) => {
            assert_eq!(t, tree);
            assert_eq!(k.0, key);
        }
        other => panic!("expected Corrupt in {tree}, got {other:?}"),
    }
}

#[test]
fn every_flipped_byte_of_a_data_record_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, store) = create_with_store(dir.path(), "p");
    let a = vault.save_mission("A", &plan_json(1, 2)).unwrap();
    let b = vault.save_mission("B", &plan_json(3, 4)).unwrap();
    let original = store.get(TREE_MISSIONS, a.as_bytes()).unwrap().unwrap();
    for pos in 0..original.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = original.clone();
            bad[pos] ^= flip;
            store.insert(TREE_MISSIONS, a.as_bytes(), &bad).unwrap();
            assert_corrupt(vault.mission(a), TREE_MISSIONS, a.as_bytes());
        }
    }
    // Truncations too.
    for len in [0, 1, 4, 5, 17, original.len() - 1] {
        store
            .insert(TREE_MISSIONS, a.as_bytes(), &original[..len])
            .unwrap();
        assert_corrupt(vault.mission(a), TREE_MISSIONS, a.as_bytes());
    }
    // The rest stays readable, and a listing names the damaged record instead of failing.
    assert_eq!(vault.mission(b).unwrap().summary.name, "B");
    let listing = vault.missions().unwrap();
    assert_eq!(listing.items.len(), 1);
    assert_eq!(listing.damaged.len(), 1);
    assert!(
        matches!(&listing.damaged[0], VaultError::Corrupt { tree, .. } if tree == TREE_MISSIONS)
    );
    store
        .insert(TREE_MISSIONS, a.as_bytes(), &original)
        .unwrap();
    assert_eq!(vault.mission(a).unwrap().summary.name, "A");
}

#[test]
fn every_flipped_byte_of_a_sealed_chunk_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, store) = create_with_store(dir.path(), "p");
    let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
    for i in 0..5u8 {
        rec.push(u64::from(i) * 10_000, &heartbeat_v2(1, i, false))
            .unwrap();
    }
    rec.flush_now().unwrap();
    rec.push(2_000_000, &statustext_v2(1, 9, "second chunk"))
        .unwrap();
    let id = rec.id();
    rec.finish().unwrap();
    let key0 = chunk_key(id, 0);
    let original = store.get(TREE_CHUNKS, &key0).unwrap().unwrap();
    for pos in 0..original.len() {
        let mut bad = original.clone();
        bad[pos] ^= 0x01;
        store.insert(TREE_CHUNKS, &key0, &bad).unwrap();
        assert_corrupt(vault.flight_chunk(id, 0), TREE_CHUNKS, &key0);
    }
    // The other chunk still reads; an export skips the damaged one and says so.
    assert!(vault.flight_chunk(id, 1).is_ok());
    let mut out = Vec::new();
    let report = vault.export_flight_tlog(id, &mut out).unwrap();
    assert_eq!(report.chunks, 1);
    assert_eq!(report.damaged.len(), 1);
    assert_eq!(out, vault.flight_chunk(id, 1).unwrap());
    store.insert(TREE_CHUNKS, &key0, &original).unwrap();
    assert!(vault.flight_chunk(id, 0).is_ok());

    // The sealed flight metadata too.
    let meta = store.get(TREE_FLIGHTS, id.as_bytes()).unwrap().unwrap();
    for pos in 0..meta.len() {
        let mut bad = meta.clone();
        bad[pos] ^= 0x80;
        store.insert(TREE_FLIGHTS, id.as_bytes(), &bad).unwrap();
        assert_corrupt(vault.flight(id), TREE_FLIGHTS, id.as_bytes());
    }
}

#[test]
fn records_moved_to_another_key_or_tree_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, store) = create_with_store(dir.path(), "p");
    let a = vault.save_mission("A", &plan_json(1, 2)).unwrap();
    let b = vault.save_mission("B", &plan_json(3, 4)).unwrap();
    let record_a = store.get(TREE_MISSIONS, a.as_bytes()).unwrap().unwrap();

    // Same tree, other key: mission A's record swapped in for B.
    store
        .insert(TREE_MISSIONS, b.as_bytes(), &record_a)
        .unwrap();
    assert_corrupt(vault.mission(b), TREE_MISSIONS, b.as_bytes());
    assert_eq!(vault.mission(a).unwrap().summary.name, "A");

    // Other tree, same key: mission record presented as a parameter snapshot.
    let as_snapshot: SnapshotId = a.to_string().parse().unwrap();
    store.insert(TREE_PARAMS, a.as_bytes(), &record_a).unwrap();
    assert_corrupt(vault.param_snapshot(as_snapshot), TREE_PARAMS, a.as_bytes());

    // Sealed chunks: to another index, and to another flight.
    let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
    rec.push(0, &heartbeat_v2(1, 0, false)).unwrap();
    rec.flush_now().unwrap();
    rec.push(1, &heartbeat_v2(1, 1, false)).unwrap();
    let f1 = rec.id();
    rec.finish().unwrap();
    let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
    rec.push(0, &heartbeat_v2(1, 0, false)).unwrap();
    let f2 = rec.id();
    rec.finish().unwrap();
    let chunk0 = store.get(TREE_CHUNKS, &chunk_key(f1, 0)).unwrap().unwrap();
    store
        .insert(TREE_CHUNKS, &chunk_key(f1, 1), &chunk0)
        .unwrap();
    assert_corrupt(vault.flight_chunk(f1, 1), TREE_CHUNKS, &chunk_key(f1, 1));
    store
        .insert(TREE_CHUNKS, &chunk_key(f2, 0), &chunk0)
        .unwrap();
    assert_corrupt(vault.flight_chunk(f2, 0), TREE_CHUNKS, &chunk_key(f2, 0));
    assert!(vault.flight_chunk(f1, 0).is_ok());
}

fn audit_vault() -> (
    tempfile::TempDir,
    Vault,
    std::sync::Arc<airgap_vault::SledStore>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (vault, store) = create_with_store(dir.path(), "p");
    vault.lock().unwrap();
    vault
        .audit(AuditEvent::Other {
            kind: "seal".into(),
            detail: "on".into(),
        })
        .unwrap();
    vault.unlock(&pass("p")).unwrap();
    for what in ["a", "b", "c"] {
        vault
            .audit(AuditEvent::Exported { what: what.into() })
            .unwrap();
    }
    assert_eq!(vault.verify_audit().unwrap().entries, 7);
    (dir, vault, store)
}

fn broken(vault: &Vault) -> (u64, AuditProblem) {
    match vault.verify_audit() {
        Err(VaultError::AuditBroken { seq, problem }) => (seq, problem),
        other => panic!("expected AuditBroken, got {other:?}"),
    }
}

#[test]
fn audit_deleted_entry_is_named() {
    let (_dir, vault, store) = audit_vault();
    store.remove(TREE_AUDIT, &3u64.to_be_bytes()).unwrap();
    assert_eq!(broken(&vault), (3, AuditProblem::Missing));
}

#[test]
fn audit_deleted_last_entry_is_caught_by_this_process() {
    let (_dir, vault, store) = audit_vault();
    store.remove(TREE_AUDIT, &6u64.to_be_bytes()).unwrap();
    assert_eq!(broken(&vault), (6, AuditProblem::Missing));
}

#[test]
fn audit_edited_entry_is_named() {
    let (_dir, vault, store) = audit_vault();
    for seq in [1u64, 2, 4] {
        let key = seq.to_be_bytes();
        let orig = store.get(TREE_AUDIT, &key).unwrap().unwrap();
        let mut bad = orig.clone();
        let last = bad.len() - 20;
        bad[last] ^= 1;
        store.insert(TREE_AUDIT, &key, &bad).unwrap();
        assert_eq!(
            broken(&vault),
            (seq, AuditProblem::Edited),
            "entry {seq} (sealed: {})",
            seq == 1
        );
        store.insert(TREE_AUDIT, &key, &orig).unwrap();
    }
    vault.verify_audit().unwrap();
}

#[test]
fn audit_reordered_entries_are_named() {
    let (_dir, vault, store) = audit_vault();
    let e4 = store.get(TREE_AUDIT, &4u64.to_be_bytes()).unwrap().unwrap();
    let e5 = store.get(TREE_AUDIT, &5u64.to_be_bytes()).unwrap().unwrap();
    store.insert(TREE_AUDIT, &4u64.to_be_bytes(), &e5).unwrap();
    store.insert(TREE_AUDIT, &5u64.to_be_bytes(), &e4).unwrap();
    assert_eq!(broken(&vault), (4, AuditProblem::Moved { written_as: 5 }));
}

#[test]
fn audit_entry_forged_with_the_public_key_breaks_the_chain() {
    let (_dir, vault, store) = audit_vault();
    // Anyone can seal to the public key; the chain still catches a replaced entry.
    let forged = br#"{"seq":1,"time_us":0,"event":"Unlocked","prev":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    let record = airgap_vault::testing::seal_to(
        &vault.public_key(),
        TREE_AUDIT,
        &1u64.to_be_bytes(),
        forged,
    );
    store
        .insert(TREE_AUDIT, &1u64.to_be_bytes(), &record)
        .unwrap();
    let (seq, problem) = broken(&vault);
    assert_eq!(problem, AuditProblem::ChainBroken);
    assert!(seq == 1 || seq == 2, "{seq}");
}

#[test]
fn damaged_database_files_are_typed_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    {
        let vault = Vault::create(dir.path(), &pass("p"), fast()).unwrap();
        for i in 0..20 {
            vault
                .save_mission(&format!("m{i}"), &plan_json(i, i))
                .unwrap();
        }
    }
    let db = dir.path().join("sled").join("db");
    let original = std::fs::read(&db).unwrap();
    // Whatever sled makes of the file, the vault answers with intact records or a typed
    // error, never garbage and never a panic.
    let check = || -> Result<(usize, usize), VaultError> {
        let vault = Vault::open(dir.path())?;
        vault.unlock(&pass("p"))?;
        let listing = vault.missions()?;
        for m in &listing.items {
            let plan = vault.mission(m.id)?.plan_json;
            assert!(plan.contains("\"fileType\": \"Plan\""));
        }
        Ok((listing.items.len(), listing.damaged.len()))
    };
    // A log cut short would read as the state at an earlier flush, silently, as after a
    // crash; the generation anchor beside the database says writes were lost.
    for eighths in 1..8 {
        std::fs::write(&db, &original[..original.len() * eighths / 8]).unwrap();
        match check() {
            Err(VaultError::RolledBack { found, expected }) => {
                assert!(found < expected, "{found} {expected}")
            }
            Err(VaultError::DatabaseCorrupt { .. }) => {}
            Ok((intact, damaged)) => panic!(
                "cut to {eighths}/8: opened with {intact} of 20 missions ({damaged} damaged) and no error"
            ),
            Err(other) => panic!("cut to {eighths}/8: {other:?}"),
        }
    }
    // The whole file back: everything is there again, so the vault opens.
    std::fs::write(&db, &original).unwrap();
    assert_eq!(check().unwrap(), (20, 0));
    for (label, bytes) in [
        ("truncated to 100 bytes", original[..100].to_vec()),
        ("foreign file", {
            let mut foreign = b"SQLite format 3\0".to_vec();
            foreign.extend((0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
            foreign
        }),
        ("empty file", Vec::new()),
    ] {
        std::fs::write(&db, &bytes).unwrap();
        match check() {
            Err(VaultError::DatabaseCorrupt { .. }) => {}
            other => panic!("{label}: expected DatabaseCorrupt, got {other:?}"),
        }
    }
}

#[test]
fn a_foreign_sled_database_is_not_a_vault() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = airgap_vault::SledStore::open(dir.path()).unwrap();
        store.insert("something", b"else", b"entirely").unwrap();
        store.flush().unwrap();
    }
    assert!(matches!(
        Vault::open(dir.path()),
        Err(VaultError::NoVault { .. })
    ));
}
