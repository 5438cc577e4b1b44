//! Nothing the vault stores appears in its files in the clear: mission names, coordinates
//! (as text and as raw int32), parameter names, STATUSTEXT strings, MAVLink v2 headers.

mod common;

use airgap_core::dialect::MavParamType;
use airgap_core::params::Param;
use airgap_vault::{RecorderConfig, Vault};
use common::*;

const MISSION_NAME: &str = "Zanzibar Ridge Survey";
const LAT_E7: i32 = 471_234_567;
const LON_E7: i32 = 85_432_109;
const STATUS: &str = "Landing zone Bravo confirmed";
const SYSID: u8 = 42;

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

struct Needles {
    named: Vec<(String, Vec<u8>)>,
}

impl Needles {
    /// The first needle found in `bytes`, if any.
    fn first_in(&self, bytes: &[u8]) -> Option<&str> {
        self.named
            .iter()
            .find(|(_, n)| find(bytes, n))
            .map(|(name, _)| name.as_str())
    }
}

#[test]
fn no_plaintext_in_the_vault_files() {
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let params = vec![
        Param {
            name: "ZZSECRET_GAIN".into(),
            value: 1.5,
            param_type: MavParamType::MAV_PARAM_TYPE_REAL32,
        },
        Param {
            name: "FENCE_RADIUS".into(),
            value: 300.0,
            param_type: MavParamType::MAV_PARAM_TYPE_REAL32,
        },
    ];
    let plan = plan_json(LAT_E7, LON_E7);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for seq in 0..20u8 {
        frames.push(heartbeat_v2(SYSID, seq, true));
        if seq % 5 == 0 {
            frames.push(statustext_v2(SYSID, seq, STATUS));
        }
    }
    let mut tlog = Vec::new();
    {
        let vault = Vault::create(&vault_dir, &pass("p"), fast()).unwrap();
        vault.save_mission(MISSION_NAME, &plan).unwrap();
        vault
            .save_param_snapshot(SYSID, 1_700_000_000_000_000, &params)
            .unwrap();
        vault.set_setting("home_name", &MISSION_NAME).unwrap();
        let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
        rec.note_vehicle(SYSID);
        for (i, f) in frames.iter().enumerate() {
            let t = 1_700_000_000_000_000 + i as u64 * 200_000;
            airgap_core::tlog::write_record(&mut tlog, t, f).unwrap();
            rec.push(t, f).unwrap();
        }
        rec.finish().unwrap();
        // Locked-time records too.
        vault.lock().unwrap();
        let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
        for (i, f) in frames.iter().enumerate() {
            rec.push(i as u64, f).unwrap();
        }
        rec.finish().unwrap();
    }

    let mut named: Vec<(String, Vec<u8>)> = vec![
        ("mission name".into(), MISSION_NAME.as_bytes().to_vec()),
        ("latitude as text".into(), b"47.1234567".to_vec()),
        ("longitude as text".into(), b"8.5432109".to_vec()),
        ("latitude as int32 LE".into(), LAT_E7.to_le_bytes().to_vec()),
        (
            "longitude as int32 LE".into(),
            LON_E7.to_le_bytes().to_vec(),
        ),
        ("STATUSTEXT".into(), STATUS.as_bytes().to_vec()),
    ];
    for p in &params {
        named.push((format!("parameter {}", p.name), p.name.as_bytes().to_vec()));
    }
    // MAVLink v2 magic, then the header up to the system id: FD len incompat compat seq sysid.
    for f in &frames {
        assert_eq!((f[0], f[5]), (0xFD, SYSID));
        named.push((format!("v2 header seq {}", f[4]), f[..6].to_vec()));
    }
    let needles = Needles { named };

    // The scan can fail: the same data in the clear is found.
    let mut control = Vec::new();
    control.extend_from_slice(plan.as_bytes());
    control.extend_from_slice(&tlog);
    assert!(
        plan.contains("47.1234567") && plan.contains("8.5432109"),
        "{plan}"
    );
    for (name, needle) in &needles.named {
        if name.starts_with("parameter") || name == "mission name" || name.contains("int32") {
            continue; // not in the plan or tlog; checked in their own control below
        }
        assert!(find(&control, needle), "control lacks {name}");
    }
    let mut control2 = Vec::new();
    control2.extend_from_slice(MISSION_NAME.as_bytes());
    for p in &params {
        control2.extend_from_slice(p.name.as_bytes());
    }
    control2.extend_from_slice(&LAT_E7.to_le_bytes());
    control2.extend_from_slice(&LON_E7.to_le_bytes());
    for (name, needle) in &needles.named {
        assert!(
            find(&control, needle) || find(&control2, needle),
            "no control holds {name}"
        );
    }
    let control_path = dir.path().join("control.bin");
    std::fs::write(&control_path, [control, control2].concat()).unwrap();
    assert!(Needles {
        named: needles.named.clone()
    }
    .first_in(&std::fs::read(&control_path).unwrap())
    .is_some());

    let files = read_all_files(&vault_dir);
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    eprintln!("scanned {} files, {total} bytes", files.len());
    assert!(total > 4_000, "sled wrote its files");
    for (path, bytes) in &files {
        assert_eq!(
            needles.first_in(bytes),
            None,
            "found in clear in {}",
            path.display()
        );
    }
}
