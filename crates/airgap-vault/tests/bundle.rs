//! Export bundles and plain imports: a bundle carries flights (byte-identical tlog),
//! missions and parameter snapshots into another vault; a wrong passphrase, every flipped
//! byte, every truncation and foreign files are refused with nothing imported; `.tlog`,
//! `.plan`, `.waypoints`, `.param` and `.params` files import as what they are.

mod common;

use std::sync::Arc;

use airgap_core::dialect::MavParamType;
use airgap_core::params::file::Format;
use airgap_core::params::Param;
use airgap_vault::{
    AuditEvent, BundleProblem, BundleSelection, FlightId, KdfParams, MemStore, MissionFileFormat,
    RecorderConfig, Vault, VaultError,
};
use common::*;

const T0_US: u64 = 1_700_000_000_000_000;

fn mem_vault() -> Vault {
    Vault::create_in(Arc::new(MemStore::new()), None, &pass("vault pass"), fast())
        .expect("create an in-memory vault")
}

/// A MAVLink 2 frame of a message id the dialect does not know (checksum unverifiable).
fn unknown_message_v2(sysid: u8) -> Vec<u8> {
    let mut raw = vec![0xFD, 3, 0, 0, 0, sysid, 1, 0xFE, 0xFF, 0xFF, 1, 2, 3];
    raw.extend_from_slice(&[0xAB, 0xCD]);
    raw
}

fn params() -> Vec<Param> {
    vec![
        Param {
            name: "WPNAV_SPEED".into(),
            value: 500.0,
            param_type: MavParamType::MAV_PARAM_TYPE_REAL32,
        },
        Param {
            name: "FENCE_ENABLE".into(),
            value: 1.0,
            param_type: MavParamType::MAV_PARAM_TYPE_INT8,
        },
    ]
}

/// Record a flight of `frames` frames 100 ms apart from vehicle `sysid`; returns its id and
/// the tlog bytes pushed.
fn record_flight(vault: &Vault, sysid: u8, frames: u64, armed: bool) -> (FlightId, Vec<u8>) {
    let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
    rec.note_vehicle(sysid);
    if armed {
        rec.note_armed();
    }
    let mut tlog = Vec::new();
    for i in 0..frames {
        let raw = if i % 7 == 3 {
            unknown_message_v2(sysid)
        } else if i % 5 == 0 {
            statustext_v2(sysid, i as u8, "Bundle me")
        } else {
            heartbeat_v2(sysid, i as u8, armed)
        };
        let t = T0_US + i * 100_000;
        airgap_core::tlog::write_record(&mut tlog, t, &raw).unwrap();
        rec.push(t, &raw).unwrap();
    }
    let id = rec.id();
    rec.finish().unwrap();
    (id, tlog)
}

fn export_tlog(vault: &Vault, id: FlightId) -> Vec<u8> {
    let mut out = Vec::new();
    let report = vault.export_flight_tlog(id, &mut out).unwrap();
    assert!(report.damaged.is_empty() && report.missing_chunks.is_empty());
    out
}

fn counts(vault: &Vault) -> (usize, usize, usize) {
    (
        vault.flights().unwrap().items.len(),
        vault.missions().unwrap().items.len(),
        vault.param_snapshots().unwrap().items.len(),
    )
}

fn audited(vault: &Vault) -> Vec<AuditEvent> {
    vault
        .audit_entries()
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.event)
        .collect()
}

/// A vault holding one small flight, one mission and one snapshot, and its bundle.
fn small_bundle(passphrase: &str) -> Vec<u8> {
    let vault = mem_vault();
    record_flight(&vault, 3, 4, false);
    vault
        .save_mission("Field", &plan_json(-353_632_616, 1_491_652_336))
        .unwrap();
    vault.save_param_snapshot(3, T0_US, &params()).unwrap();
    let (all, _) = BundleSelection::everything(&vault).unwrap();
    let mut bundle = Vec::new();
    vault
        .export_bundle(
            &all,
            &pass(passphrase),
            KdfParams::INSECURE_FAST,
            &mut bundle,
        )
        .unwrap();
    bundle
}

#[test]
fn a_bundle_carries_flights_missions_and_snapshots_into_another_vault() {
    let dir = tempfile::tempdir().unwrap();
    let source = Vault::create(&dir.path().join("a"), &pass("vault a"), fast()).unwrap();
    let (f1, tlog1) = record_flight(&source, 7, 45, true);
    let (f2, tlog2) = record_flight(&source, 9, 12, false);
    let (f_unselected, _) = record_flight(&source, 11, 3, false);
    let plan = plan_json(-353_632_616, 1_491_652_336);
    let m1 = source.save_mission("Home field", &plan).unwrap();
    let s1 = source.save_param_snapshot(7, T0_US, &params()).unwrap();
    assert_eq!(export_tlog(&source, f1), tlog1);
    assert!(source.flight(f1).unwrap().chunks >= 3);

    let selection = BundleSelection {
        // Named twice: exported once.
        flights: vec![f1, f2, f1],
        missions: vec![m1],
        snapshots: vec![s1],
    };
    let mut bundle = Vec::new();
    let report = source
        .export_bundle(
            &selection,
            &pass("bundle pass"),
            KdfParams::INSECURE_FAST,
            &mut bundle,
        )
        .unwrap();
    assert_eq!(
        (report.flights, report.missions, report.snapshots),
        (2, 1, 1)
    );
    assert_eq!(report.bytes, bundle.len() as u64);
    assert!(report.damaged.is_empty() && report.missing_chunks.is_empty());
    assert!(bundle.starts_with(b"AGVB"));
    for plaintext in [&b"Home field"[..], b"WPNAV_SPEED", b"Bundle me"] {
        assert!(
            !bundle.windows(plaintext.len()).any(|w| w == plaintext),
            "{:?} in the clear in the bundle",
            String::from_utf8_lossy(plaintext)
        );
    }
    assert!(audited(&source).contains(&AuditEvent::Exported {
        what: "bundle: 2 flights, 1 missions, 1 snapshots".into()
    }));

    let target = Vault::create(&dir.path().join("b"), &pass("vault b"), fast()).unwrap();
    let imported = target.import_bundle(&pass("bundle pass"), &bundle).unwrap();
    assert_eq!(imported.flights.len(), 2);
    assert_eq!(imported.missions.len(), 1);
    assert_eq!(imported.snapshots.len(), 1);
    assert_eq!(counts(&target), (2, 1, 1));
    assert!(audited(&target).contains(&AuditEvent::Imported {
        what: "bundle: 2 flights, 1 missions, 1 snapshots".into()
    }));

    for (original, tlog, new) in [
        (f1, &tlog1, &imported.flights[0]),
        (f2, &tlog2, &imported.flights[1]),
    ] {
        assert_ne!(new.id, original, "imports get new ids");
        assert_ne!(new.id, f_unselected);
        assert_eq!(&export_tlog(&target, new.id), tlog, "byte-identical tlog");
        let was = source.flight(original).unwrap();
        let now = target.flight(new.id).unwrap();
        assert_eq!(now.sysids, was.sysids);
        assert_eq!(now.armed_ever, was.armed_ever);
        assert_eq!((now.start_us, now.end_us), (was.start_us, was.end_us));
        assert_eq!(now.bytes, was.bytes);
        assert!(now.complete);
    }

    let mission = target.mission(imported.missions[0].id).unwrap();
    assert_eq!(mission.summary.name, "Home field");
    assert_eq!(mission.plan_json, plan);
    let snapshot = target.param_snapshot(imported.snapshots[0].id).unwrap();
    assert_eq!(snapshot.params, params());
    assert_eq!(snapshot.summary.sysid, 7);
    assert_eq!(snapshot.summary.taken_at_us, T0_US);

    // Across a reopen too: the imported flight was written like any recorded one.
    drop(target);
    let target = Vault::open(&dir.path().join("b")).unwrap();
    target.unlock(&pass("vault b")).unwrap();
    assert_eq!(export_tlog(&target, imported.flights[0].id), tlog1);
}

#[test]
fn a_wrong_bundle_passphrase_is_refused_and_imports_nothing() {
    let bundle = small_bundle("right one");
    let target = mem_vault();
    assert!(matches!(
        target.import_bundle(&pass("wrong one"), &bundle),
        Err(VaultError::WrongPassphrase)
    ));
    // The vault's own passphrase does not open it either.
    assert!(matches!(
        target.import_bundle(&pass("vault pass"), &bundle),
        Err(VaultError::WrongPassphrase)
    ));
    assert_eq!(counts(&target), (0, 0, 0));
    target.import_bundle(&pass("right one"), &bundle).unwrap();
    assert_eq!(counts(&target), (1, 1, 1));
}

#[test]
fn every_flipped_byte_of_a_bundle_is_detected_and_imports_nothing() {
    let bundle = small_bundle("p");
    // The header, the first record's length and the first record (the manifest), whose
    // failure to open is what a wrong passphrase looks like.
    let first_record_len = u32::from_be_bytes(bundle[33..37].try_into().unwrap()) as usize;
    let passphrase_check_end = 37 + first_record_len;
    let target = mem_vault();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..bundle.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = bundle.clone();
            bad[i] ^= flip;
            let err = match target.import_bundle(&pass("p"), &bad) {
                Ok(r) => panic!("flipping byte {i} by {flip:#x} went unnoticed: {r:?}"),
                Err(e) => e,
            };
            let kind = match &err {
                VaultError::WrongPassphrase => "wrong passphrase".to_owned(),
                VaultError::Bundle { reason } => format!("{reason:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                other => panic!("byte {i}: unexpected error {other:?}"),
            };
            // Past the header and the first record, a flip cannot pass for a wrong passphrase.
            if i >= passphrase_check_end {
                assert!(
                    matches!(err, VaultError::Bundle { .. }),
                    "byte {i}: {err:?}"
                );
            }
            *kinds.entry(kind).or_default() += 1;
        }
    }
    assert_eq!(
        counts(&target),
        (0, 0, 0),
        "a damaged bundle imported something"
    );
    for expected in [
        "NotABundle",
        "UnknownVersion",
        "RecordDamaged",
        "wrong passphrase",
    ] {
        assert!(
            kinds.contains_key(expected),
            "{expected} never seen: {kinds:?}"
        );
    }
    target.import_bundle(&pass("p"), &bundle).unwrap();
    assert_eq!(counts(&target), (1, 1, 1));
}

#[test]
fn every_truncation_and_any_trailing_data_are_detected() {
    let bundle = small_bundle("p");
    let target = mem_vault();
    for len in 0..bundle.len() {
        match target.import_bundle(&pass("p"), &bundle[..len]) {
            Err(VaultError::Bundle {
                reason: BundleProblem::Truncated { .. },
            }) => {}
            // Shorter than the magic (an empty file) is not a bundle at all.
            Err(VaultError::Bundle {
                reason: BundleProblem::NotABundle,
            }) if len == 0 => {}
            other => panic!("cut to {len} of {} bytes: {other:?}", bundle.len()),
        }
    }
    let mut longer = bundle.clone();
    longer.extend_from_slice(b"\0\0\0\x05hello");
    assert!(matches!(
        target.import_bundle(&pass("p"), &longer),
        Err(VaultError::Bundle {
            reason: BundleProblem::TrailingData { bytes: 9 }
        })
    ));
    assert_eq!(counts(&target), (0, 0, 0));
}

#[test]
fn foreign_files_are_not_bundles() {
    let target = mem_vault();
    let (_, tlog) = record_flight(&target, 1, 3, false);
    for foreign in [
        tlog.as_slice(),
        plan_json(1, 2).as_bytes(),
        b"PK\x03\x04\x14\x00\x00\x00",
    ] {
        assert!(matches!(
            target.import_bundle(&pass("p"), foreign),
            Err(VaultError::Bundle {
                reason: BundleProblem::NotABundle
            })
        ));
    }
    let mut newer = small_bundle("p");
    newer[4] = 2;
    assert!(matches!(
        target.import_bundle(&pass("p"), &newer),
        Err(VaultError::Bundle {
            reason: BundleProblem::UnknownVersion {
                found: 2,
                supported: 1
            }
        })
    ));
}

#[test]
fn export_and_import_need_an_unlocked_vault_and_existing_ids() {
    let vault = mem_vault();
    let (flight, _) = record_flight(&vault, 1, 3, false);
    let mut out = Vec::new();
    let missing = BundleSelection {
        flights: vec![flight],
        missions: vec!["00112233445566778899aabbccddeeff".parse().unwrap()],
        ..BundleSelection::default()
    };
    assert!(matches!(
        vault.export_bundle(&missing, &pass("p"), KdfParams::INSECURE_FAST, &mut out),
        Err(VaultError::NotFound {
            what: "mission",
            ..
        })
    ));
    assert!(out.is_empty(), "wrote before checking the selection");

    let bundle = small_bundle("p");
    vault.lock().unwrap();
    assert!(matches!(
        vault.export_bundle(
            &BundleSelection {
                flights: vec![flight],
                ..BundleSelection::default()
            },
            &pass("p"),
            KdfParams::INSECURE_FAST,
            &mut out
        ),
        Err(VaultError::Locked)
    ));
    assert!(matches!(
        vault.import_bundle(&pass("p"), &bundle),
        Err(VaultError::Locked)
    ));
    assert!(matches!(
        vault.import_tlog(&bundle),
        Err(VaultError::Locked)
    ));
}

#[test]
fn an_empty_bundle_round_trips() {
    let source = mem_vault();
    let mut bundle = Vec::new();
    source
        .export_bundle(
            &BundleSelection::default(),
            &pass("p"),
            KdfParams::INSECURE_FAST,
            &mut bundle,
        )
        .unwrap();
    let report = mem_vault().import_bundle(&pass("p"), &bundle).unwrap();
    assert!(report.flights.is_empty() && report.missions.is_empty());
}

#[test]
fn a_tlog_imports_verbatim_with_its_vehicles() {
    let vault = mem_vault();
    let mut tlog = Vec::new();
    let gcs_heartbeat = {
        use airgap_core::dialect::{MavAutopilot, MavModeFlag, MavState, MavType, HEARTBEAT_DATA};
        airgap_core::frame::Frame::encode_v2(
            255,
            190,
            0,
            &airgap_core::MavMessage::HEARTBEAT(HEARTBEAT_DATA {
                custom_mode: 0,
                mavtype: MavType::MAV_TYPE_GCS,
                autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
                base_mode: MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED,
                system_status: MavState::MAV_STATE_ACTIVE,
                mavlink_version: 3,
            }),
        )
        .raw
    };
    for i in 0..40u64 {
        let t = T0_US + i * 50_000;
        let raw = match i % 4 {
            0 => heartbeat_v2(4, i as u8, i > 20),
            1 => gcs_heartbeat.clone(),
            2 => unknown_message_v2(4),
            _ => statustext_v2(5, i as u8, "not a vehicle heartbeat"),
        };
        airgap_core::tlog::write_record(&mut tlog, t, &raw).unwrap();
        if i == 17 {
            tlog.extend_from_slice(b"line noise");
        }
    }
    tlog.extend_from_slice(&[0, 1, 2]); // a cut-off last record

    let summary = vault.import_tlog(&tlog).unwrap();
    assert_eq!(summary.sysids, vec![4], "only vehicles' heartbeats count");
    assert!(summary.armed_ever);
    assert!(summary.complete);
    assert_eq!(summary.start_us, T0_US);
    assert_eq!(summary.bytes, tlog.len() as u64);
    assert!(summary.chunks >= 2, "{summary:?}");
    assert_eq!(export_tlog(&vault, summary.id), tlog);
    assert!(audited(&vault).iter().any(|e| matches!(
        e,
        AuditEvent::Imported { what } if what.starts_with(&format!("flight {} from a .tlog", summary.id))
    )));

    assert!(matches!(
        vault.import_tlog(b"not a telemetry log at all"),
        Err(VaultError::NotATlog)
    ));
    assert!(matches!(vault.import_tlog(b""), Err(VaultError::NotATlog)));
    assert_eq!(vault.flights().unwrap().items.len(), 1);
}

#[test]
fn mission_and_parameter_files_import_as_what_they_are() {
    let vault = mem_vault();
    let plan = plan_json(-353_632_616, 1_491_652_336);
    let m = vault
        .import_mission_file("from plan", &plan, MissionFileFormat::Plan)
        .unwrap();
    // The sample plan is written ArduPilot's way: its first item is home.
    assert_eq!(m.counts.mission, 2);
    assert_eq!(vault.mission(m.id).unwrap().plan_json, plan);

    let waypoints = "QGC WPL 110\n\
        0\t1\t0\t16\t0\t0\t0\t0\t-35.3632616\t149.1652336\t584.0\t1\n\
        1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t20\t1\n\
        2\t0\t3\t16\t0\t0\t0\t0\t-35.3622\t149.1651\t30\t1\n";
    let w = vault
        .import_mission_file("from waypoints", waypoints, MissionFileFormat::Waypoints)
        .unwrap();
    assert_eq!(w.name, "from waypoints");
    assert_eq!(w.counts.mission, 2, "home is not a mission item");
    assert!(matches!(
        vault.import_mission_file("bad", "{}", MissionFileFormat::Plan),
        Err(VaultError::InvalidPlan(_))
    ));
    assert!(matches!(
        vault.import_mission_file("bad", "hello", MissionFileFormat::Waypoints),
        Err(VaultError::InvalidWaypoints(_))
    ));

    let s = vault
        .import_param_file(
            "# saved by Mission Planner\nSYSID_THISMAV,12\nWPNAV_SPEED,500\n",
            Format::MissionPlanner,
            None,
        )
        .unwrap();
    assert_eq!((s.sysid, s.count), (12, 2));
    let s = vault
        .import_param_file("WPNAV_SPEED 500\n", Format::MissionPlanner, Some(3))
        .unwrap();
    assert_eq!(s.sysid, 3);
    let qgc = "# Onboard parameters for Vehicle 9\n\
        #\n\
        # Vehicle-Id Component-Id Name Value Type\n\
        9\t1\tFENCE_ENABLE\t1\t2\n\
        9\t1\tWPNAV_SPEED\t500\t9\n";
    let s = vault
        .import_param_file(qgc, Format::QGroundControl, None)
        .unwrap();
    assert_eq!((s.sysid, s.count), (9, 2));
    let stored = vault.param_snapshot(s.id).unwrap();
    assert_eq!(
        stored.params[0].param_type,
        MavParamType::MAV_PARAM_TYPE_INT8
    );
    assert!(matches!(
        vault.import_param_file(
            "NOT A PARAM LINE AT ALL x y z\n",
            Format::QGroundControl,
            None
        ),
        Err(VaultError::InvalidParamFile(_))
    ));
    let imports = audited(&vault)
        .into_iter()
        .filter(|e| matches!(e, AuditEvent::Imported { .. }))
        .count();
    assert_eq!(imports, 5);
}
