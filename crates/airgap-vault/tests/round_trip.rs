//! Every record kind written and read back, across a reopen; lock, unlock and passphrase
//! changes; the errors a pilot or a script meets.

mod common;

use airgap_core::dialect::MavParamType;
use airgap_core::params::Param;
use airgap_vault::{
    AuditEvent, FlightId, KdfParams, RecorderConfig, Vault, VaultError, FORMAT_VERSION,
};
use common::*;

fn params() -> Vec<Param> {
    vec![
        Param {
            name: "WPNAV_SPEED".into(),
            value: 500.0,
            param_type: MavParamType::MAV_PARAM_TYPE_REAL32,
        },
        Param {
            name: "SYSID_THISMAV".into(),
            value: 42.0,
            param_type: MavParamType::MAV_PARAM_TYPE_INT8,
        },
    ]
}

#[test]
fn every_record_kind_round_trips_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (flight_id, mission_id, snapshot_id, tlog);
    {
        let vault = Vault::create(dir.path(), &pass("correct horse"), fast()).unwrap();
        let plan = plan_json(-353_632_616, 1_491_652_336);
        mission_id = vault.save_mission("Home field", &plan).unwrap();
        snapshot_id = vault
            .save_param_snapshot(42, 1_700_000_000_000_000, &params())
            .unwrap();
        vault.set_setting("auto_lock_s", &300u32).unwrap();
        vault.set_setting("units", &"metric").unwrap();

        let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
        rec.note_vehicle(42);
        let mut expected = Vec::new();
        for i in 0..30u64 {
            let raw = heartbeat_v2(42, i as u8, i > 10);
            let t = 1_700_000_000_000_000 + i * 100_000;
            airgap_core::tlog::write_record(&mut expected, t, &raw).unwrap();
            rec.push(t, &raw).unwrap();
        }
        rec.note_armed();
        flight_id = rec.id();
        let summary = rec.finish().unwrap();
        assert_eq!(summary.frames, 30);
        assert!(
            summary.chunks >= 2,
            "3 s of frames at a 1 s period: {summary:?}"
        );
        tlog = expected;
    }
    let vault = Vault::open(dir.path()).unwrap();
    assert!(!vault.is_unlocked());
    assert!(matches!(vault.missions(), Err(VaultError::Locked)));
    assert!(matches!(vault.flights(), Err(VaultError::Locked)));
    assert!(matches!(
        vault.setting::<u32>("auto_lock_s"),
        Err(VaultError::Locked)
    ));
    assert!(matches!(
        vault.param_snapshot(snapshot_id),
        Err(VaultError::Locked)
    ));
    assert!(matches!(
        vault.export_flight_tlog(flight_id, &mut Vec::new()),
        Err(VaultError::Locked)
    ));
    assert!(matches!(
        vault.delete_flight(flight_id),
        Err(VaultError::Locked)
    ));

    assert!(matches!(
        vault.unlock(&pass("wrong")),
        Err(VaultError::WrongPassphrase)
    ));
    vault.unlock(&pass("correct horse")).unwrap();

    let missions = vault.missions().unwrap();
    assert!(missions.damaged.is_empty());
    assert_eq!(missions.items.len(), 1);
    assert_eq!(missions.items[0].name, "Home field");
    // The sample plan is ArduPilot-style: a home item and two items proper.
    assert_eq!(missions.items[0].counts.mission, 2);
    let m = vault.mission(mission_id).unwrap();
    assert_eq!(m.plan_json, plan_json(-353_632_616, 1_491_652_336));
    vault.rename_mission(mission_id, "Renamed").unwrap();
    assert_eq!(vault.mission(mission_id).unwrap().summary.name, "Renamed");

    let snap = vault.param_snapshot(snapshot_id).unwrap();
    assert_eq!(snap.params, params());
    assert_eq!(snap.summary.sysid, 42);
    assert_eq!(vault.param_snapshots().unwrap().items.len(), 1);

    assert_eq!(vault.setting::<u32>("auto_lock_s").unwrap(), Some(300));
    assert_eq!(
        vault.setting::<String>("units").unwrap().as_deref(),
        Some("metric")
    );
    assert_eq!(vault.setting::<u32>("never_set").unwrap(), None);
    assert!(matches!(
        vault.setting::<u32>("units"),
        Err(VaultError::Setting { .. })
    ));
    vault.remove_setting("units").unwrap();
    assert_eq!(vault.setting::<String>("units").unwrap(), None);

    let flights = vault.flights().unwrap();
    assert_eq!(flights.items.len(), 1);
    let f = &flights.items[0];
    assert_eq!(
        (
            f.id,
            f.frames,
            f.sysids.as_slice(),
            f.armed_ever,
            f.complete
        ),
        (flight_id, 30, &[42u8][..], true, true)
    );
    assert_eq!(f.bytes, tlog.len() as u64);
    assert!((f.duration_s - 2.9).abs() < 1e-9);
    let mut out = Vec::new();
    let report = vault.export_flight_tlog(flight_id, &mut out).unwrap();
    assert!(report.damaged.is_empty() && report.missing_chunks.is_empty());
    assert_eq!(out, tlog);
    // What airgap-core's reader (pymavlink's format) makes of it.
    assert_eq!(airgap_core::tlog::records(&out).count(), 30);

    vault.delete_mission(mission_id).unwrap();
    assert!(matches!(
        vault.mission(mission_id),
        Err(VaultError::NotFound { .. })
    ));
    vault.delete_flight(flight_id).unwrap();
    assert!(vault.flights().unwrap().items.is_empty());
    assert!(matches!(
        vault.delete_flight(flight_id),
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(
        vault.flight(
            "00112233445566778899aabbccddeeff"
                .parse::<FlightId>()
                .unwrap()
        ),
        Err(VaultError::NotFound { .. })
    ));

    let events: Vec<_> = vault
        .audit_entries()
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.event, e.sealed))
        .collect();
    assert_eq!(events[0], (AuditEvent::VaultCreated, false));
    assert_eq!(
        events[1],
        (AuditEvent::UnlockFailed, true),
        "a locked vault seals its entries"
    );
    assert_eq!(events[2], (AuditEvent::Unlocked, false));
    assert!(events.iter().any(
        |(e, _)| matches!(e, AuditEvent::Exported { what } if what.contains(&flight_id.to_string()))
    ));
    let report = vault.verify_audit().unwrap();
    assert_eq!(report.entries, events.len() as u64);
    assert_eq!(report.authenticated_through, Some(events.len() as u64 - 1));
}

#[test]
fn change_passphrase_rewraps_and_only_the_new_one_unlocks() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let vault = Vault::create(dir.path(), &pass("old one"), fast()).unwrap();
        let id = vault.save_mission("M", &plan_json(1, 2)).unwrap();
        assert!(matches!(
            vault.change_passphrase(&pass("not it"), &pass("new one"), None),
            Err(VaultError::WrongPassphrase)
        ));
        let cheaper = KdfParams {
            m_cost_kib: 128,
            t_cost: 2,
            p_cost: 1,
        };
        vault
            .change_passphrase(&pass("old one"), &pass("new one"), Some(cheaper))
            .unwrap();
        assert!(
            vault.is_unlocked(),
            "a passphrase change leaves the lock state alone"
        );
        id
    };
    let vault = Vault::open(dir.path()).unwrap();
    assert_eq!(
        vault.status().kdf,
        KdfParams {
            m_cost_kib: 128,
            t_cost: 2,
            p_cost: 1
        },
        "params persist in the header"
    );
    assert!(matches!(
        vault.unlock(&pass("old one")),
        Err(VaultError::WrongPassphrase)
    ));
    vault.unlock(&pass("new one")).unwrap();
    assert_eq!(
        vault.mission(id).unwrap().summary.name,
        "M",
        "data readable without re-encryption"
    );
    let events: Vec<_> = vault
        .audit_entries()
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(events.contains(&AuditEvent::PassphraseChanged));
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == AuditEvent::UnlockFailed)
            .count(),
        2
    );
    vault.verify_audit().unwrap();
}

#[test]
fn lock_drops_access_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::create(dir.path(), &pass("p"), fast()).unwrap();
    let id = vault.save_mission("M", &plan_json(1, 2)).unwrap();
    vault.lock().unwrap();
    vault.lock().unwrap();
    assert!(matches!(vault.mission(id), Err(VaultError::Locked)));
    assert!(matches!(
        vault.save_mission("N", &plan_json(1, 2)),
        Err(VaultError::Locked)
    ));
    assert!(vault.held_key_material().secrets.is_empty());
    vault.unlock(&pass("p")).unwrap();
    vault.mission(id).unwrap();
    let events: Vec<_> = vault
        .audit_entries()
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        [
            AuditEvent::VaultCreated,
            AuditEvent::Locked,
            AuditEvent::Unlocked
        ]
    );
}

#[test]
fn opening_twice_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _vault = Vault::create(dir.path(), &pass("p"), fast()).unwrap();
    match Vault::open(dir.path()) {
        Err(VaultError::InUse { path }) => assert_eq!(path, dir.path()),
        other => panic!("expected InUse, got {:?}", other.err()),
    }
}

#[test]
fn create_refuses_an_existing_vault_and_open_refuses_an_empty_dir() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Vault::open(&dir.path().join("nothing")),
        Err(VaultError::NoVault { .. })
    ));
    drop(Vault::create(dir.path(), &pass("p"), fast()).unwrap());
    assert!(matches!(
        Vault::create(dir.path(), &pass("p"), fast()),
        Err(VaultError::AlreadyExists { .. })
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Vault::open(empty.path()),
        Err(VaultError::NoVault { .. })
    ));
}

#[test]
fn a_newer_format_is_refused_by_version() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_vault, store) = create_with_store(dir.path(), "p");
        use airgap_vault::Store;
        store
            .insert(
                airgap_vault::testing::TREE_META,
                b"format",
                &(FORMAT_VERSION + 1).to_be_bytes(),
            )
            .unwrap();
        store.flush().unwrap();
    }
    match Vault::open(dir.path()) {
        Err(VaultError::UnknownFormat { found, supported }) => {
            assert_eq!((found, supported), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        other => panic!("expected UnknownFormat, got {:?}", other.err()),
    }
}

#[test]
fn invalid_plan_is_refused() {
    let vault = Vault::create_in(
        std::sync::Arc::new(airgap_vault::MemStore::new()),
        None,
        &pass("p"),
        fast(),
    )
    .unwrap();
    assert!(matches!(
        vault.save_mission("x", "{not json"),
        Err(VaultError::InvalidPlan(_))
    ));
}
