//! The IPC wire format: every type the web UI sees crosses here, and only here.
//!
//! TypeScript declarations are generated from these types (ts-rs) into
//! `ui/src/lib/bindings/`; a test fails when the committed files differ.
//! Integers the UI reads are `u32`/`f64` (never `u64`) so they stay plain
//! JavaScript numbers.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Identity of one vehicle on the links: MAVLink system and component id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VehicleKey {
    pub sysid: u8,
    pub compid: u8,
}

/// Connection state of a link as the pilot sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Opening, or waiting for a TCP/serial peer to come back.
    Connecting,
    /// Open and hearing at least one vehicle's heartbeat.
    Up,
    /// Open but no heartbeat for 3 s.
    Lost,
    /// Closed by the pilot or failed for good.
    Closed,
}

/// One link and its counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LinkView {
    pub id: u32,
    /// The address as the pilot typed it, normalised (`udpin:0.0.0.0:14550`).
    pub address: String,
    pub state: LinkState,
    /// Why the link is down or reconnecting, in words; `null` while it is up.
    pub detail: Option<String>,
    pub rx_frames: f64,
    pub tx_frames: f64,
    pub rx_bytes: f64,
    pub tx_bytes: f64,
    pub crc_errors: f64,
    pub seq_gaps: f64,
    /// Share of expected frames that arrived over the last seconds (from sequence gaps), 0–100.
    pub quality_pct: Option<f64>,
    /// The link session is being recorded into the vault.
    pub recording: bool,
}

/// The newest STATUSTEXT lines of a vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StatusLine {
    /// MAV_SEVERITY 0 (emergency) … 7 (debug).
    pub severity: u8,
    pub text: String,
    /// Milliseconds since the UNIX epoch when it was received.
    pub time_ms: f64,
}

/// New samples of one plot group since the previous tick, columns aligned on `t_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SeriesDelta {
    /// `attitude` (roll_deg, pitch_deg, yaw_deg), `altitude` (alt_rel_m, alt_msl_m),
    /// `speed` (groundspeed_m_s, airspeed_m_s, climb_m_s), `battery` (battery_v).
    pub group: String,
    pub columns: Vec<String>,
    /// Sample times, seconds since the UNIX epoch.
    pub t_s: Vec<f64>,
    /// One array per column, same length as `t_s`.
    pub values: Vec<Vec<f64>>,
}

/// Everything the instruments show about one vehicle. `null` means "not heard yet", never a guess.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VehicleView {
    pub key: VehicleKey,
    pub link_id: u32,
    /// `ArduPilot`, `PX4`, … from the heartbeat's MAV_AUTOPILOT.
    pub autopilot: String,
    /// `Quadrotor`, `Fixed wing`, … from the heartbeat's MAV_TYPE.
    pub vehicle_type: String,
    pub armed: Option<bool>,
    /// Flight mode name from the autopilot's mode table (`GUIDED`, `Position`), or `Mode 42` if unknown.
    pub mode: Option<String>,
    /// True after 3 s without a heartbeat from this vehicle.
    pub lost: bool,
    /// When its last HEARTBEAT arrived, milliseconds since the UNIX epoch.
    pub last_heartbeat_ms: Option<f64>,
    pub roll_deg: Option<f64>,
    pub pitch_deg: Option<f64>,
    pub yaw_deg: Option<f64>,
    pub heading_deg: Option<f64>,
    pub lat_deg: Option<f64>,
    pub lon_deg: Option<f64>,
    pub alt_msl_m: Option<f64>,
    pub alt_rel_m: Option<f64>,
    pub groundspeed_m_s: Option<f64>,
    pub airspeed_m_s: Option<f64>,
    pub climb_m_s: Option<f64>,
    pub throttle_pct: Option<f64>,
    pub battery_v: Option<f64>,
    pub battery_a: Option<f64>,
    pub battery_pct: Option<f64>,
    /// `No GPS`, `No fix`, `2D`, `3D`, `DGPS`, `RTK float`, `RTK fixed`.
    pub gps_fix: Option<String>,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    /// Newest last, at most 20.
    pub statustext: Vec<StatusLine>,
    pub series: Vec<SeriesDelta>,
}

/// What the UI receives on its telemetry channel, at most at the display rate (not per MAVLink frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TelemetryTick {
    /// Milliseconds since the UNIX epoch.
    pub time_ms: f64,
    pub links: Vec<LinkView>,
    pub vehicles: Vec<VehicleView>,
}

/// A serial port, with what it probably is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SerialPortView {
    /// `/dev/ttyACM0`, `COM3`.
    pub path: String,
    /// `USB 1209:5741 ArduPilot` or `PCI`.
    pub description: String,
    pub vid: Option<u16>,
    pub pid: Option<u16>,
    /// `autopilot`, `radio`, or `unknown`; drives the suggested baud rate.
    pub kind: String,
    pub suggested_baud: u32,
}

/// Facts about this running app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AppInfo {
    pub version: String,
    /// Address of the built-in simulated vehicle when started with `--sim`.
    pub sim_address: Option<String>,
}

/// A vehicle command the pilot can give from the Fly view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VehicleAction {
    Arm,
    /// `force` disarms in flight too: the motors stop and the vehicle falls.
    Disarm {
        force: bool,
    },
    SetMode {
        name: String,
    },
    /// Climb to `alt_m` above home (ArduPilot: armed, in GUIDED).
    Takeoff {
        alt_m: f64,
    },
    Land,
    Rtl,
    /// Fly to a point and hold, `alt_m` above home.
    GoTo {
        lat_deg: f64,
        lon_deg: f64,
        alt_m: f64,
    },
    SetHomeHere,
}

/// A command the vehicle accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CommandDone {
    /// The MAV_CMD that was sent, e.g. `MAV_CMD_COMPONENT_ARM_DISARM`.
    pub command: String,
}

/// One parameter as the vehicle (or a file) holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ParamView {
    pub name: String,
    pub value: f64,
    /// `UINT8`, `INT8`, `UINT16`, `INT16`, `UINT32`, `INT32`, `REAL32` (MAV_PARAM_TYPE without
    /// its prefix); values must fit it.
    pub param_type: String,
}

/// A parameter file as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ParamFileView {
    /// The file's name, for display.
    pub file_name: String,
    pub params: Vec<ParamView>,
    /// Whether the file said each parameter's type (`.params` does, `.param` does not).
    pub typed: bool,
}

/// One mission, geofence or rally item as the Plan view edits it. Parameters the command does
/// not use are `null` (NaN on the wire, as QGroundControl writes them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MissionItemView {
    /// MAV_CMD number (16 NAV_WAYPOINT, 22 NAV_TAKEOFF, …).
    pub command: u16,
    /// MAV_FRAME number (3 GLOBAL_RELATIVE_ALT, 0 GLOBAL, …).
    pub frame: u8,
    pub autocontinue: bool,
    pub param1: Option<f64>,
    pub param2: Option<f64>,
    pub param3: Option<f64>,
    pub param4: Option<f64>,
    /// `x / 1e7`: degrees in the global frames every item the Plan view makes uses.
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_m: f64,
}

/// A position with its altitude above mean sea level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct GeoPointView {
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
}

/// What the Plan view edits: the mission without its home item, the geofence and the rally
/// points. On ArduPilot the home is mission item 0 on the vehicle; the backend adds and
/// removes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PlanView {
    pub home: Option<GeoPointView>,
    pub mission: Vec<MissionItemView>,
    pub fence: Vec<MissionItemView>,
    pub rally: Vec<MissionItemView>,
}

/// A plan file as read, or where one was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PlanFileView {
    pub file_name: String,
    pub plan: PlanView,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct UploadView {
    /// Items of the mission proper (without home).
    pub mission_items: u32,
    pub fence_items: u32,
    pub rally_items: u32,
    /// Every list was read back and matched.
    pub verified: bool,
}

/// How far a transfer has got, pushed at most every 100 ms per operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProgressView {
    pub key: VehicleKey,
    /// `param_download`, `param_get`, `param_set`, `mission_upload`, `mission_verify`,
    /// `mission_download`, `mission_clear`, `mission_set_current`, `command`.
    pub kind: String,
    /// `mission`, `fence` or `rally` for mission transfers.
    pub mission_type: Option<String>,
    pub done: u32,
    /// Unknown until the vehicle has said how many there are.
    pub total: Option<u32>,
    /// `items`, or `bytes` over MAVFTP.
    pub unit: String,
}

/// Where the vault stands, as the vault screens and the status bar show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum VaultState {
    /// No vault in the data directory yet: the create screen.
    Absent,
    /// Open but locked: recording goes on, nothing recorded can be read.
    Locked,
    Unlocked,
    /// It cannot be used by this window (another Airgap has it open, or it is damaged);
    /// `detail` says why.
    Unavailable,
}

/// The vault as the UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VaultView {
    pub state: VaultState,
    /// Whether links are being recorded into it (decided when the app started).
    pub recording: bool,
    /// Why it is unavailable, or why links are not recorded; `null` when all is well.
    pub detail: Option<String>,
    /// The vault directory.
    pub path: String,
    /// Lock after this many minutes without input; `null`: never. Known only while unlocked.
    pub auto_lock_min: Option<u32>,
}

/// A recorded flight (one link session) as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FlightView {
    /// Opaque id (hex).
    pub id: String,
    /// First and last recorded frame, milliseconds since the UNIX epoch.
    pub start_ms: f64,
    pub end_ms: f64,
    pub duration_s: f64,
    /// Size as a .tlog (timestamps included) of what reached the disk.
    pub bytes: f64,
    pub frames: f64,
    /// Vehicle system ids heard, ascending.
    pub sysids: Vec<u8>,
    /// A vehicle was armed at some point.
    pub armed: bool,
    /// Closed properly; false while it is still being recorded or when the app died.
    pub complete: bool,
    /// A link is recording into it right now.
    pub recording: bool,
}

/// The flights list, newest first, with a count of records that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FlightListView {
    pub flights: Vec<FlightView>,
    /// Records that failed to decrypt (damaged or tampered with); the others are listed.
    pub damaged: u32,
}

/// What a flight export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExportView {
    pub file_name: String,
    pub bytes: f64,
    /// Chunks that failed to decrypt or were missing, skipped in the file.
    pub damaged_chunks: u32,
    pub missing_chunks: u32,
}

/// A recorded flight's track and altitude, decimated for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FlightTrackView {
    /// The vehicle whose track this is (the first one heard), `null` when none was.
    pub sysid: Option<u8>,
    /// Seconds since the UNIX epoch; the columns below have the same length.
    pub t_s: Vec<f64>,
    pub lat_deg: Vec<f64>,
    pub lon_deg: Vec<f64>,
    pub alt_rel_m: Vec<f64>,
    /// Messages in the flight, and damaged stretches skipped.
    pub messages: f64,
    pub bad_records: f64,
}

/// A mission kept in the vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StoredMissionView {
    pub id: String,
    pub name: String,
    /// Last save or rename, milliseconds since the UNIX epoch.
    pub saved_ms: f64,
    pub mission_items: u32,
    pub fence_items: u32,
    pub rally_items: u32,
}

/// A kept parameter download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SnapshotView {
    pub id: String,
    pub sysid: u8,
    /// When the download completed, milliseconds since the UNIX epoch.
    pub taken_ms: f64,
    pub count: u32,
}

/// How every failed command reaches the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct IpcError {
    /// Stable machine-readable code: `bad_address`, `link_failed`, `no_such_link`, `no_vehicle`,
    /// `refused` (the vehicle said no; its reason is in `message`), `timeout`, `cancelled`,
    /// `invalid` (bad input, nothing was sent), `transfer_failed`, `verify_failed`,
    /// `file_failed`, `internal`; from the vault: `no_vault`, `wrong_passphrase`, `locked`,
    /// `vault_in_use`, `vault_damaged`, `not_found`, `vault_failed`; from the seal and forwards:
    /// `egress_refused` (the gate said no; the refusal is in `message`), `no_such_forward`,
    /// `seal_failed`, `restart_failed`; from map tiles: `tiles_failed` (a download that
    /// could not run: no answer from the tile server, say).
    pub code: String,
    /// A sentence for the pilot.
    pub message: String,
}

/// One layer of the network seal and what the start-up self-test found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SealLayerView {
    /// `egress gate`, `OS seal`.
    pub layer: String,
    /// `pass`, `absent` (not in place on this system or while online), `fail`.
    pub outcome: String,
    pub detail: String,
}

/// The network seal as this process runs it, and the persisted switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SealView {
    /// This process runs behind a sealed gate (from the switch or `--sealed`).
    pub sealed: bool,
    /// The self-test run at start passed: only then may the UI say SEALED.
    pub selftest_passed: bool,
    pub layers: Vec<SealLayerView>,
    /// The OS layer engaged (its mechanism), or plainly that it is not available here.
    pub os_layer: String,
    pub os_layer_available: bool,
    /// Egress attempts refused since start (the self-test's own probe not counted).
    pub refused: f64,
    /// Sockets the OS layer refused in this process tree since start (the web view's
    /// processes included; the self-test's probe not counted); `None` when it is not engaged.
    pub os_refused: Option<f64>,
    /// The persisted switch: `online`, `sealed`, `damaged`, `unreadable`.
    pub switch: String,
    /// Started with `--sealed`, whatever the switch says.
    pub sealed_flag: bool,
    /// The switch and this process disagree: what the next start will do, in words.
    pub pending: Option<String>,
    /// What a restart reopens, for the confirmation: link addresses and the built-in sim.
    pub reopen: Vec<String>,
}

/// One telemetry forward (MAVProxy's `--out`) and what it has carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ForwardView {
    pub id: u32,
    pub address: String,
    /// The transport's latest word (connected, waiting for a client, why it is down).
    pub detail: Option<String>,
    pub tx_frames: f64,
    pub rx_frames: f64,
    pub dropped: f64,
}

/// A tile source as the map settings show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TileSourceView {
    /// The name its tiles are cached under in the vault.
    pub name: String,
    pub url_template: String,
    /// OpenStreetMap's own servers: area downloads are capped by its usage policy.
    pub is_openstreetmap: bool,
    /// What the map must show while its tiles are on screen (plain text).
    pub attribution: String,
    /// The deepest zoom the source serves.
    pub max_zoom: u8,
    /// The deepest zoom an area download may ask for.
    pub max_area_zoom: u8,
    /// The most tiles one area download may ask for.
    pub max_area_tiles: f64,
}

/// The cached tiles of one source in the vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TileCacheView {
    pub source: String,
    pub tiles: f64,
    pub bytes: f64,
    /// Records that did not open (tampered with); not counted above.
    pub damaged: f64,
    /// This is the configured source's cache (the one the map shows).
    pub current: bool,
}

/// The map settings: the tile source and what the vault holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TilesView {
    pub source: TileSourceView,
    pub caches: Vec<TileCacheView>,
    /// This process is sealed: only a tile server on this machine can be reached.
    pub sealed: bool,
}

/// An area to download: a latitude/longitude box and a zoom range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct TileAreaView {
    pub south_deg: f64,
    pub west_deg: f64,
    pub north_deg: f64,
    pub east_deg: f64,
    pub min_zoom: u8,
    pub max_zoom: u8,
}

/// What an area download would take (the bytes are an order of magnitude).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct TileEstimateView {
    pub tiles: f64,
    pub bytes: f64,
}

/// How an area download is going.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct TileProgressView {
    /// Tiles dealt with so far (fetched, already cached, missing or failed).
    pub done: f64,
    pub total: f64,
    /// Bytes fetched so far.
    pub bytes: f64,
    pub fetched: f64,
    /// Already in the vault: not asked for again.
    pub skipped: f64,
    pub failed: f64,
}

/// How an area download ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TileReportView {
    pub total: f64,
    pub fetched: f64,
    pub skipped: f64,
    /// The server has no such tile: nothing to show there.
    pub missing: f64,
    pub failed: f64,
    pub bytes: f64,
    pub cancelled: bool,
    /// The first few failures, in words.
    pub failures: Vec<String>,
}

/// What an MBTiles import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TileImportView {
    /// The file's name.
    pub file: String,
    /// The tile source its tiles were filed under.
    pub source: String,
    pub imported: f64,
    pub bytes: f64,
    /// Rows outside the tile grid or without data: left out.
    pub skipped: f64,
    /// `png`, `jpg`, `webp`, when the file says.
    pub format: Option<String>,
}

#[cfg(test)]
mod bindings {
    //! The committed TypeScript must be what ts-rs generates from the types above.

    use std::path::PathBuf;

    use ts_rs::{Config, TS};

    use super::*;

    fn generated() -> Vec<(&'static str, String)> {
        let cfg = Config::new();
        fn one<T: TS + 'static>(cfg: &Config, name: &'static str) -> (&'static str, String) {
            let ts = T::export_to_string(cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, ts)
        }
        vec![
            one::<VehicleKey>(&cfg, "VehicleKey"),
            one::<LinkState>(&cfg, "LinkState"),
            one::<LinkView>(&cfg, "LinkView"),
            one::<StatusLine>(&cfg, "StatusLine"),
            one::<SeriesDelta>(&cfg, "SeriesDelta"),
            one::<VehicleView>(&cfg, "VehicleView"),
            one::<TelemetryTick>(&cfg, "TelemetryTick"),
            one::<SerialPortView>(&cfg, "SerialPortView"),
            one::<AppInfo>(&cfg, "AppInfo"),
            one::<IpcError>(&cfg, "IpcError"),
            one::<VehicleAction>(&cfg, "VehicleAction"),
            one::<CommandDone>(&cfg, "CommandDone"),
            one::<ParamView>(&cfg, "ParamView"),
            one::<ParamFileView>(&cfg, "ParamFileView"),
            one::<MissionItemView>(&cfg, "MissionItemView"),
            one::<GeoPointView>(&cfg, "GeoPointView"),
            one::<PlanView>(&cfg, "PlanView"),
            one::<PlanFileView>(&cfg, "PlanFileView"),
            one::<UploadView>(&cfg, "UploadView"),
            one::<ProgressView>(&cfg, "ProgressView"),
            one::<VaultState>(&cfg, "VaultState"),
            one::<VaultView>(&cfg, "VaultView"),
            one::<FlightView>(&cfg, "FlightView"),
            one::<FlightListView>(&cfg, "FlightListView"),
            one::<ExportView>(&cfg, "ExportView"),
            one::<FlightTrackView>(&cfg, "FlightTrackView"),
            one::<StoredMissionView>(&cfg, "StoredMissionView"),
            one::<SnapshotView>(&cfg, "SnapshotView"),
            one::<SealLayerView>(&cfg, "SealLayerView"),
            one::<SealView>(&cfg, "SealView"),
            one::<ForwardView>(&cfg, "ForwardView"),
            one::<TileSourceView>(&cfg, "TileSourceView"),
            one::<TileCacheView>(&cfg, "TileCacheView"),
            one::<TilesView>(&cfg, "TilesView"),
            one::<TileAreaView>(&cfg, "TileAreaView"),
            one::<TileEstimateView>(&cfg, "TileEstimateView"),
            one::<TileProgressView>(&cfg, "TileProgressView"),
            one::<TileReportView>(&cfg, "TileReportView"),
            one::<TileImportView>(&cfg, "TileImportView"),
        ]
    }

    #[test]
    fn committed_typescript_bindings_are_up_to_date() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings");
        let update = std::env::var_os("AIRGAP_UPDATE_BINDINGS").is_some();
        let mut stale = Vec::new();
        for (name, ts) in generated() {
            let path = dir.join(format!("{name}.ts"));
            if update {
                std::fs::write(&path, &ts).expect("write binding");
                continue;
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != ts {
                stale.push(name);
            }
        }
        assert!(
            stale.is_empty(),
            "ui/src/lib/bindings is stale for {stale:?}; regenerate with \
             `AIRGAP_UPDATE_BINDINGS=1 cargo test -p airgap-gcs bindings` and commit"
        );
    }
}
