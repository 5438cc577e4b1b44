//! Recording goes on while the vault is locked, and a locked vault holds nothing that can
//! read what was recorded, before or after locking.

mod common;

use airgap_vault::testing::{
    opens_with, public_key_for, seal_to, TREE_AUDIT, TREE_CHUNKS, TREE_FLIGHTS,
};
use airgap_vault::{RecorderConfig, Store, VaultError};
use common::*;

/// Every 32-byte window of every blob the vault holds, each tried as a data key and as an
/// X25519 secret key (short blobs zero-padded).
fn candidates(blobs: &[Vec<u8>]) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for blob in blobs {
        if blob.len() < 32 {
            let mut k = [0u8; 32];
            k[..blob.len()].copy_from_slice(blob);
            out.push(k);
        }
        for w in blob.windows(32) {
            out.push(w.try_into().expect("window of 32"));
        }
    }
    out
}

#[test]
fn a_locked_vault_records_but_cannot_read_any_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, store) = create_with_store(dir.path(), "p");
    let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
    rec.note_vehicle(7);
    let mut chunks_pushed: Vec<Vec<u8>> = Vec::new();
    let mut push_chunk = |rec: &mut airgap_vault::FlightRecorder, n: u8| {
        let mut expected = Vec::new();
        for i in 0..10u8 {
            let raw = statustext_v2(7, i, &format!("chunk {n} frame {i}"));
            let t = u64::from(n) * 1_000_000 + u64::from(i) * 1000;
            airgap_core::tlog::write_record(&mut expected, t, &raw).unwrap();
            assert!(
                rec.push(t, &raw).unwrap().is_none(),
                "frames within the period stay buffered"
            );
        }
        let written = rec.flush_now().unwrap().expect("a chunk was pending");
        assert_eq!(written.index, u32::from(n));
        chunks_pushed.push(expected);
    };
    push_chunk(&mut rec, 0);
    push_chunk(&mut rec, 1);
    assert!(!vault.held_key_material().secrets.is_empty());

    vault.lock().unwrap();
    push_chunk(&mut rec, 2);
    push_chunk(&mut rec, 3);
    rec.note_armed();
    let id = rec.id();
    rec.finish().unwrap();

    // What the locked vault holds: public material only.
    let held = vault.held_key_material();
    assert!(
        held.secrets.is_empty(),
        "locked vault holds {:?}",
        held.secrets
    );
    let blobs = vec![
        held.public_key.to_vec(),
        held.salt.clone(),
        held.wrapped_data_key.clone(),
        held.wrapped_secret_key.clone(),
    ];
    let candidates = candidates(&blobs);
    assert_eq!(candidates.len(), 1 + 1 + 29 + 29);

    let mut records: Vec<(&str, Vec<u8>, Vec<u8>)> = Vec::new();
    for tree in [TREE_CHUNKS, TREE_FLIGHTS, TREE_AUDIT] {
        for entry in store.scan_prefix(tree, b"") {
            let (k, v) = entry.unwrap();
            records.push((tree, k, v));
        }
    }
    assert_eq!(records.iter().filter(|r| r.0 == TREE_CHUNKS).count(), 4);
    for (tree, key, record) in &records {
        for c in &candidates {
            assert!(
                !opens_with(c, tree, key, record),
                "a held blob opened {tree} record"
            );
        }
    }
    // The check can fail: a record sealed to a key whose secret is among the candidates opens.
    let control_secret = candidates[0];
    let control = seal_to(
        &public_key_for(&control_secret),
        TREE_CHUNKS,
        b"k",
        b"plain",
    );
    assert!(opens_with(&control_secret, TREE_CHUNKS, b"k", &control));

    // And through the API.
    assert!(matches!(vault.flight_chunk(id, 0), Err(VaultError::Locked)));
    assert!(matches!(vault.flight_chunk(id, 3), Err(VaultError::Locked)));

    // Unlocked, every chunk reads back in order.
    vault.unlock(&pass("p")).unwrap();
    for (i, expected) in chunks_pushed.iter().enumerate() {
        assert_eq!(
            &vault.flight_chunk(id, i as u32).unwrap(),
            expected,
            "chunk {i}"
        );
    }
    let mut out = Vec::new();
    vault.export_flight_tlog(id, &mut out).unwrap();
    assert_eq!(out, chunks_pushed.concat());
    let f = vault.flight(id).unwrap();
    assert_eq!(
        (f.chunks, f.frames, f.sysids.as_slice(), f.armed_ever),
        (4, 40, &[7u8][..], true)
    );
}

#[test]
fn a_vault_opened_locked_records_and_audits() {
    let dir = tempfile::tempdir().unwrap();
    drop(create_with_store(dir.path(), "p"));
    let (vault, _store) = open_with_store(dir.path());
    let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
    rec.push(5, &heartbeat_v2(3, 0, false)).unwrap();
    let id = rec.id();
    rec.finish().unwrap();
    vault
        .audit(airgap_vault::AuditEvent::Other {
            kind: "seal".into(),
            detail: "off".into(),
        })
        .unwrap();
    vault.unlock(&pass("p")).unwrap();
    assert_eq!(vault.flight(id).unwrap().frames, 1);
    let entries = vault.audit_entries().unwrap().items;
    assert!(entries.iter().any(|e| e.sealed
        && matches!(&e.event, airgap_vault::AuditEvent::Other { kind, .. } if kind == "seal")));
    vault.verify_audit().unwrap();
}
