//! Shared helpers for the vault's integration tests: cheap KDF parameters, passphrases,
//! real MAVLink frames and a sample mission.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::sync::Arc;

use airgap_core::dialect::{
    MavAutopilot, MavCmd, MavFrame, MavMissionType, MavModeFlag, MavSeverity, MavState, MavType,
    HEARTBEAT_DATA, STATUSTEXT_DATA,
};
use airgap_core::frame::Frame;
use airgap_core::mission::plan_file::{write_plan, PlanMeta};
use airgap_core::mission::{MissionItem, Plan};
use airgap_core::MavMessage;
use airgap_vault::{KdfParams, SecretString, SledStore, Vault, VaultConfig};

pub fn fast() -> VaultConfig {
    VaultConfig {
        kdf: KdfParams::INSECURE_FAST,
    }
}

pub fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// A vault in `dir`, created through a store handle the test keeps (to tamper with).
pub fn create_with_store(dir: &Path, passphrase: &str) -> (Vault, Arc<SledStore>) {
    let store = Arc::new(SledStore::open(dir).expect("open store"));
    let vault = Vault::create_in(
        store.clone(),
        Some(dir.to_owned()),
        &pass(passphrase),
        fast(),
    )
    .expect("create vault");
    (vault, store)
}

pub fn open_with_store(dir: &Path) -> (Vault, Arc<SledStore>) {
    let store = Arc::new(SledStore::open(dir).expect("open store"));
    let vault = Vault::open_in(store.clone(), Some(dir.to_owned())).expect("open vault");
    (vault, store)
}

pub fn heartbeat_v2(sysid: u8, seq: u8, armed: bool) -> Vec<u8> {
    let base_mode = if armed {
        MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED | MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    } else {
        MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    };
    Frame::encode_v2(
        sysid,
        1,
        seq,
        &MavMessage::HEARTBEAT(HEARTBEAT_DATA {
            custom_mode: 4,
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            base_mode,
            system_status: MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        }),
    )
    .raw
}

pub fn statustext_v2(sysid: u8, seq: u8, text: &str) -> Vec<u8> {
    Frame::encode_v2(
        sysid,
        1,
        seq,
        &MavMessage::STATUSTEXT(STATUSTEXT_DATA {
            severity: MavSeverity::MAV_SEVERITY_WARNING,
            text: text.into(),
            ..STATUSTEXT_DATA::DEFAULT
        }),
    )
    .raw
}

/// A mission whose waypoint sits at (`lat_e7`, `lon_e7`), as `.plan` JSON.
pub fn plan_json(lat_e7: i32, lon_e7: i32) -> String {
    let item = |seq: u16, command: MavCmd, x: i32, y: i32| MissionItem {
        seq,
        frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        command,
        current: seq == 0,
        autocontinue: true,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x,
        y,
        z: 25.0,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    };
    let plan = Plan {
        mission: vec![
            item(
                0,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                lat_e7 - 1000,
                lon_e7 - 1000,
            ),
            item(1, MavCmd::MAV_CMD_NAV_TAKEOFF, lat_e7 - 1000, lon_e7 - 1000),
            item(2, MavCmd::MAV_CMD_NAV_WAYPOINT, lat_e7, lon_e7),
        ],
        fence: Vec::new(),
        rally: Vec::new(),
    };
    write_plan(&plan, &PlanMeta::default()).expect("sample plan is writable")
}

/// Every regular file under `dir`, read whole.
pub fn read_all_files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                out.push((path, bytes));
            }
        }
    }
    out
}
