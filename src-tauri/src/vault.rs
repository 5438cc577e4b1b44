//! The vault as the desktop app uses it: opened (locked) at start and handed to the engine
//! so every link is recorded, and the commands of the vault screens: create, unlock, lock,
//! the auto-lock setting, flights, missions and parameter snapshots.
//!
//! Every vault call runs on the blocking pool: unlocking derives an Argon2id key (about
//! 0.35 s), and every other call reads or flushes sled.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use airgap_core::state::VehicleState;
use airgap_core::tlog;
use airgap_core::MavMessage;
use airgap_engine::airgap_vault::{
    self, FlightId, FlightSummary, KdfParams, MissionId, MissionSummary, SecretString, SnapshotId,
    Vault, VaultConfig, VaultError,
};
use airgap_engine::RecordTo;
use tauri::{AppHandle, State};

use crate::commands::AppState;
use crate::dto::{
    ExportView, FlightListView, FlightTrackView, FlightView, IpcError, ParamView, PlanView,
    SnapshotView, StoredMissionView, VaultState, VaultView,
};
use crate::files;

/// Where the auto-lock time is kept (in the vault, so it is as private as the rest).
const AUTO_LOCK_SETTING: &str = "ui.auto_lock_min";
/// Auto-lock when the pilot never chose: long enough not to interrupt planning.
const DEFAULT_AUTO_LOCK_MIN: u32 = 10;
/// Shorter passphrases are refused outright; the UI's strength hint does the rest.
const MIN_PASSPHRASE_CHARS: usize = 8;
/// The track of a long flight is thinned to about this many points for display.
const TRACK_POINTS: usize = 4000;

/// Which Argon2id cost new vaults get: production, unless `AIRGAP_KDF=fast` (for tests only:
/// it makes creating and unlocking instant and offers no protection against guessing).
pub fn kdf_from_env() -> KdfParams {
    match std::env::var("AIRGAP_KDF").as_deref() {
        Ok("fast") => {
            tracing::warn!("AIRGAP_KDF=fast: new vaults get test-only key derivation");
            KdfParams::INSECURE_FAST
        }
        Ok(other) if !other.is_empty() => {
            tracing::warn!("AIRGAP_KDF={other:?} is not known (only `fast`, for tests); ignored");
            KdfParams::PRODUCTION
        }
        _ => KdfParams::PRODUCTION,
    }
}

enum Slot {
    Open(Arc<Vault>),
    Absent,
    /// Why this window cannot use it.
    Unavailable(String),
}

/// The app's vault, whatever state it is in. Managed by Tauri beside [`AppState`].
pub struct VaultHandle {
    dir: PathBuf,
    kdf: KdfParams,
    slot: Mutex<Slot>,
    /// Whether the engine records into this vault (from the start, or since it was created).
    recording: AtomicBool,
}

impl VaultHandle {
    /// Opens the vault in `data_dir`, locked, and says what the engine should record into.
    /// A vault another Airgap holds, or one that does not open, leaves the app running
    /// without recording: flying must not depend on it.
    ///
    /// With `wait_for_lock`, a vault held by another process is tried again until then: a
    /// restarted app starts while the process it replaces is still ending.
    pub fn open_at_start(
        data_dir: &Path,
        kdf: KdfParams,
        wait_for_lock: Option<Duration>,
    ) -> (VaultHandle, Option<RecordTo>) {
        let dir = airgap_vault::vault_dir(data_dir);
        let slot = if !Vault::exists(&dir) {
            Slot::Absent
        } else {
            match open_waiting(&dir, wait_for_lock) {
                Ok(vault) => Slot::Open(Arc::new(vault)),
                Err(VaultError::InUse { .. }) => Slot::Unavailable(
                    "Another Airgap window has this vault open. This one does not record; \
                     close the other to record here."
                        .into(),
                ),
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the vault");
                    Slot::Unavailable(format!(
                        "The vault cannot be opened ({e}). Nothing is recorded."
                    ))
                }
            }
        };
        let record_to = match &slot {
            Slot::Open(vault) => Some(RecordTo::new(Arc::clone(vault))),
            _ => None,
        };
        let handle = VaultHandle {
            dir,
            kdf,
            recording: AtomicBool::new(record_to.is_some()),
            slot: Mutex::new(slot),
        };
        (handle, record_to)
    }

    /// The vault if this window has it open, locked or not (for audit entries, which the
    /// vault writes either way).
    pub fn open_vault(&self) -> Option<Arc<Vault>> {
        match &*self.slot() {
            Slot::Open(v) => Some(Arc::clone(v)),
            _ => None,
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        // Only whole values are ever stored, so a poisoned lock still holds a valid one.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open vault, or why there is none.
    fn vault(&self) -> Result<Arc<Vault>, IpcError> {
        match &*self.slot() {
            Slot::Open(v) => Ok(Arc::clone(v)),
            Slot::Absent => Err(IpcError::new(
                "no_vault",
                "There is no vault yet: create one first.",
            )),
            Slot::Unavailable(why) => Err(IpcError::new("vault_in_use", why.clone())),
        }
    }

    /// The open vault if it is unlocked (for work done on the side, like snapshots).
    pub fn unlocked(&self) -> Option<Arc<Vault>> {
        match &*self.slot() {
            Slot::Open(v) if v.is_unlocked() => Some(Arc::clone(v)),
            _ => None,
        }
    }

    fn view(&self) -> VaultView {
        let (state, detail, vault) = match &*self.slot() {
            Slot::Open(v) if v.is_unlocked() => (VaultState::Unlocked, None, Some(Arc::clone(v))),
            Slot::Open(_) => (VaultState::Locked, None, None),
            Slot::Absent => (VaultState::Absent, None, None),
            Slot::Unavailable(why) => (VaultState::Unavailable, Some(why.clone()), None),
        };
        let detail = detail.or_else(|| {
            let recording = self.recording.load(Ordering::Relaxed);
            (!recording && state != VaultState::Absent).then(|| {
                "Links opened since Airgap started are not recorded; recording starts with \
                 the next start."
                    .to_owned()
            })
        });
        let auto_lock_min = vault.and_then(|v| match v.setting::<Option<u32>>(AUTO_LOCK_SETTING) {
            Ok(Some(chosen)) => chosen,
            Ok(None) => Some(DEFAULT_AUTO_LOCK_MIN),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the auto-lock setting");
                Some(DEFAULT_AUTO_LOCK_MIN)
            }
        });
        VaultView {
            state,
            recording: self.recording.load(Ordering::Relaxed),
            detail,
            path: self.dir.display().to_string(),
            auto_lock_min,
        }
    }
}

/// Opens the vault, trying again while another process holds it, until `wait` has passed.
fn open_waiting(dir: &Path, wait: Option<Duration>) -> Result<Vault, VaultError> {
    /// How often a held vault is tried again.
    const RETRY: Duration = Duration::from_millis(100);
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        match Vault::open(dir) {
            Err(VaultError::InUse { .. }) if deadline.is_some_and(|d| Instant::now() < d) => {
                std::thread::sleep(RETRY);
            }
            other => return other,
        }
    }
}

impl From<VaultError> for IpcError {
    fn from(e: VaultError) -> Self {
        let code = match &e {
            VaultError::WrongPassphrase => "wrong_passphrase",
            VaultError::Locked => "locked",
            VaultError::InUse { .. } => "vault_in_use",
            VaultError::NoVault { .. } => "no_vault",
            VaultError::NotFound { .. } => "not_found",
            VaultError::Corrupt { .. }
            | VaultError::DatabaseCorrupt { .. }
            | VaultError::UnknownFormat { .. }
            | VaultError::AuditBroken { .. }
            | VaultError::RolledBack { .. } => "vault_damaged",
            _ => "vault_failed",
        };
        let message = match e {
            VaultError::WrongPassphrase => "Wrong passphrase. The attempt is recorded in the \
                                            vault's audit trail."
                .to_owned(),
            VaultError::Locked => "The vault is locked: unlock it first.".to_owned(),
            other => {
                let text = other.to_string();
                let mut chars = text.chars();
                chars.next().map_or(text.clone(), |c| {
                    c.to_uppercase().collect::<String>() + chars.as_str()
                })
            }
        };
        IpcError::new(code, message)
    }
}

/// Runs a vault call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IpcError::new("internal", format!("the vault task failed: {e}")))?
}

fn secret(passphrase: String) -> SecretString {
    SecretString::from(passphrase)
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn parse_id<T: std::str::FromStr>(what: &str, id: &str) -> Result<T, IpcError> {
    id.parse()
        .map_err(|_| IpcError::new("invalid", format!("{id:?} is not a {what} id")))
}

#[tauri::command]
pub async fn vault_status(vault: State<'_, VaultHandle>) -> Result<VaultView, IpcError> {
    let vault = vault.inner();
    Ok(vault.view())
}

/// Creates the vault (first start) and leaves it unlocked.
#[tauri::command]
pub async fn vault_create(
    vault: State<'_, VaultHandle>,
    app: State<'_, AppState>,
    passphrase: String,
) -> Result<VaultView, IpcError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(IpcError::new(
            "invalid",
            format!("The passphrase must have at least {MIN_PASSPHRASE_CHARS} characters."),
        ));
    }
    if !matches!(*vault.slot(), Slot::Absent) {
        return Err(IpcError::new(
            "invalid",
            "There is a vault already: unlock it instead.",
        ));
    }
    let passphrase = secret(passphrase);
    let (dir, kdf) = (vault.dir.clone(), vault.kdf);
    let created = blocking(move || {
        Vault::create(&dir, &passphrase, VaultConfig { kdf }).map_err(IpcError::from)
    })
    .await?;
    let created = Arc::new(created);
    *vault.slot() = Slot::Open(Arc::clone(&created));
    // The links already open are recorded from now on, not only from the next start.
    app.engine
        .set_record_to(Some(RecordTo::new(created)))
        .await
        .map_err(IpcError::from)?;
    vault.recording.store(true, Ordering::Relaxed);
    Ok(vault.view())
}

/// Unlocks with `passphrase`; a wrong one is `wrong_passphrase` (and audited by the vault).
#[tauri::command]
pub async fn vault_unlock(
    vault: State<'_, VaultHandle>,
    passphrase: String,
) -> Result<VaultView, IpcError> {
    let open = vault.vault()?;
    let passphrase = secret(passphrase);
    blocking(move || open.unlock(&passphrase).map_err(IpcError::from)).await?;
    Ok(vault.view())
}

/// Locks now: the keys are wiped; recording goes on.
#[tauri::command]
pub async fn vault_lock(vault: State<'_, VaultHandle>) -> Result<VaultView, IpcError> {
    let open = vault.vault()?;
    blocking(move || open.lock().map_err(IpcError::from)).await?;
    Ok(vault.view())
}

/// Sets the idle time after which the UI locks the vault; `null` turns auto-lock off.
#[tauri::command]
pub async fn vault_set_auto_lock(
    vault: State<'_, VaultHandle>,
    minutes: Option<u32>,
) -> Result<VaultView, IpcError> {
    if minutes == Some(0) {
        return Err(IpcError::new(
            "invalid",
            "Auto-lock needs at least one minute.",
        ));
    }
    let open = vault.vault()?;
    blocking(move || {
        open.set_setting(AUTO_LOCK_SETTING, &minutes)
            .map_err(IpcError::from)
    })
    .await?;
    Ok(vault.view())
}

fn flight_view(f: &FlightSummary, recording: &[FlightId]) -> FlightView {
    FlightView {
        id: f.id.to_string(),
        start_ms: us_to_ms(f.start_us),
        end_ms: us_to_ms(f.end_us),
        duration_s: f.duration_s,
        bytes: f.bytes as f64,
        frames: f.frames as f64,
        sysids: f.sysids.clone(),
        armed: f.armed_ever,
        complete: f.complete,
        recording: recording.contains(&f.id),
    }
}

/// The flights links are recording into right now.
async fn flights_recording(state: &AppState) -> Result<Vec<FlightId>, IpcError> {
    let (t, _) = state.engine.telemetry(None).await.map_err(IpcError::from)?;
    Ok(t.links.iter().filter_map(|l| l.flight).collect())
}

#[tauri::command]
pub async fn flights_list(
    state: State<'_, AppState>,
    vault: State<'_, VaultHandle>,
) -> Result<FlightListView, IpcError> {
    let open = vault.vault()?;
    let recording = flights_recording(&state).await?;
    blocking(move || {
        let listing = open.flights()?;
        let mut flights: Vec<FlightView> = listing
            .items
            .iter()
            .map(|f| flight_view(f, &recording))
            .collect();
        flights.reverse(); // newest first
        Ok(FlightListView {
            flights,
            damaged: count(listing.damaged.len()),
        })
    })
    .await
}

#[tauri::command]
pub async fn flight_delete(
    state: State<'_, AppState>,
    vault: State<'_, VaultHandle>,
    id: String,
) -> Result<(), IpcError> {
    let id: FlightId = parse_id("flight", &id)?;
    if flights_recording(&state).await?.contains(&id) {
        return Err(IpcError::new(
            "invalid",
            "This flight is still being recorded: disconnect its link first.",
        ));
    }
    let open = vault.vault()?;
    blocking(move || open.delete_flight(id).map_err(IpcError::from)).await
}

/// Asks where to save, then writes the flight as a plain `.tlog` (audited by the vault);
/// `null` when the pilot cancelled.
#[tauri::command]
pub async fn flight_export(
    app: AppHandle,
    vault: State<'_, VaultHandle>,
    id: String,
) -> Result<Option<ExportView>, IpcError> {
    let flight: FlightId = parse_id("flight", &id)?;
    let open = vault.vault()?;
    if !open.is_unlocked() {
        return Err(VaultError::Locked.into());
    }
    let summary = {
        let open = Arc::clone(&open);
        blocking(move || open.flight(flight).map_err(IpcError::from)).await?
    };
    let suggested = format!("flight-{}.tlog", file_stamp(summary.start_us));
    let filters: &[files::Filter] = &[("Telemetry log", &["tlog"])];
    let Some(path) = files::pick_save(&app, "Export the flight", &suggested, filters).await? else {
        return Ok(None);
    };
    blocking(move || {
        let file_failed = |e: std::io::Error| {
            IpcError::new(
                "file_failed",
                format!("cannot write {}: {e}", path.display()),
            )
        };
        let file = std::fs::File::create(&path).map_err(file_failed)?;
        let mut out = std::io::BufWriter::new(file);
        let report = open.export_flight_tlog(flight, &mut out)?;
        // export_flight_tlog flushed the buffer; the file must also reach the disk.
        out.get_ref().sync_all().map_err(file_failed)?;
        Ok(ExportView {
            file_name: files::file_name(&path),
            bytes: report.bytes as f64,
            damaged_chunks: count(report.damaged.len()),
            missing_chunks: count(report.missing_chunks.len()),
        })
    })
    .await
    .map(Some)
}

/// `YYYYMMDD-HHMMSS` (UTC) for file names.
fn file_stamp(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The track and altitude of a flight's first vehicle, read from its chunks in memory (not
/// an export: nothing leaves the vault, so nothing is audited).
#[tauri::command]
pub async fn flight_track(
    vault: State<'_, VaultHandle>,
    id: String,
) -> Result<FlightTrackView, IpcError> {
    let flight: FlightId = parse_id("flight", &id)?;
    let open = vault.vault()?;
    blocking(move || {
        let summary = open.flight(flight)?;
        let mut track = TrackBuilder::new(summary.sysids.first().copied());
        for index in 0..summary.chunks {
            match open.flight_chunk(flight, index) {
                Ok(bytes) => track.add_chunk(&bytes),
                // A damaged or missing chunk is a gap in the track, not the end of it.
                Err(VaultError::Corrupt { .. } | VaultError::NotFound { .. }) => {
                    track.bad_records += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(track.finish())
    })
    .await
}

/// Folds a flight's frames into positions of one vehicle.
struct TrackBuilder {
    sysid: Option<u8>,
    state: VehicleState,
    rows: Vec<[f64; 4]>,
    messages: u64,
    bad_records: u64,
}

impl TrackBuilder {
    fn new(sysid: Option<u8>) -> Self {
        TrackBuilder {
            sysid,
            state: VehicleState::default(),
            rows: Vec::new(),
            messages: 0,
            bad_records: 0,
        }
    }

    fn add_chunk(&mut self, bytes: &[u8]) {
        let stats = tlog::for_each_frame(bytes, |time_us, frame| {
            self.messages += 1;
            if Some(frame.sysid()) != self.sysid {
                return;
            }
            self.state.apply(time_us, &frame.msg);
            if let MavMessage::GLOBAL_POSITION_INT(_) = frame.msg {
                if let (Some(lat), Some(lon)) = (self.state.lat_deg, self.state.lon_deg) {
                    let alt = self.state.alt_rel_m.unwrap_or(f64::NAN);
                    self.rows.push([time_us as f64 / 1e6, lat, lon, alt]);
                }
            }
        });
        self.bad_records += stats.bad_records;
    }

    fn finish(self) -> FlightTrackView {
        let stride = self.rows.len().div_ceil(TRACK_POINTS).max(1);
        let last = self.rows.last().copied();
        let mut kept: Vec<[f64; 4]> = self.rows.into_iter().step_by(stride).collect();
        if let Some(last) = last {
            if kept.last() != Some(&last) {
                kept.push(last);
            }
        }
        FlightTrackView {
            sysid: self.sysid,
            t_s: kept.iter().map(|r| r[0]).collect(),
            lat_deg: kept.iter().map(|r| r[1]).collect(),
            lon_deg: kept.iter().map(|r| r[2]).collect(),
            alt_rel_m: kept.iter().map(|r| r[3]).collect(),
            messages: self.messages as f64,
            bad_records: self.bad_records as f64,
        }
    }
}

fn mission_view(m: &MissionSummary) -> StoredMissionView {
    StoredMissionView {
        id: m.id.to_string(),
        name: m.name.clone(),
        saved_ms: us_to_ms(m.saved_at_us),
        mission_items: count(m.counts.mission),
        fence_items: count(m.counts.fence),
        rally_items: count(m.counts.rally),
    }
}

fn mission_name(name: &str) -> Result<String, IpcError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IpcError::new("invalid", "Give the mission a name."));
    }
    Ok(name.to_owned())
}

#[tauri::command]
pub async fn missions_list(
    vault: State<'_, VaultHandle>,
) -> Result<Vec<StoredMissionView>, IpcError> {
    let open = vault.vault()?;
    blocking(move || Ok(open.missions()?.items.iter().map(mission_view).collect())).await
}

/// Keeps the Plan view's plan (mission, geofence, rally points) under `name`.
#[tauri::command]
pub async fn mission_store(
    vault: State<'_, VaultHandle>,
    name: String,
    plan: PlanView,
) -> Result<StoredMissionView, IpcError> {
    let name = mission_name(&name)?;
    let plan_json = crate::mission::vault_plan_json(&plan)?;
    let open = vault.vault()?;
    blocking(move || {
        let id = open.save_mission(&name, &plan_json)?;
        Ok(mission_view(&open.mission(id)?.summary))
    })
    .await
}

/// A kept mission, for the Plan view.
#[tauri::command]
pub async fn mission_load(vault: State<'_, VaultHandle>, id: String) -> Result<PlanView, IpcError> {
    let id: MissionId = parse_id("mission", &id)?;
    let open = vault.vault()?;
    let stored = blocking(move || open.mission(id).map_err(IpcError::from)).await?;
    crate::mission::vault_plan_view(&stored.plan_json)
}

#[tauri::command]
pub async fn mission_rename(
    vault: State<'_, VaultHandle>,
    id: String,
    name: String,
) -> Result<(), IpcError> {
    let id: MissionId = parse_id("mission", &id)?;
    let name = mission_name(&name)?;
    let open = vault.vault()?;
    blocking(move || open.rename_mission(id, &name).map_err(IpcError::from)).await
}

#[tauri::command]
pub async fn mission_delete(vault: State<'_, VaultHandle>, id: String) -> Result<(), IpcError> {
    let id: MissionId = parse_id("mission", &id)?;
    let open = vault.vault()?;
    blocking(move || open.delete_mission(id).map_err(IpcError::from)).await
}

/// Kept parameter downloads, newest first.
#[tauri::command]
pub async fn snapshots_list(vault: State<'_, VaultHandle>) -> Result<Vec<SnapshotView>, IpcError> {
    let open = vault.vault()?;
    blocking(move || {
        let mut out: Vec<SnapshotView> = open
            .param_snapshots()?
            .items
            .iter()
            .map(|s| SnapshotView {
                id: s.id.to_string(),
                sysid: s.sysid,
                taken_ms: us_to_ms(s.taken_at_us),
                count: count(s.count),
            })
            .collect();
        out.reverse();
        Ok(out)
    })
    .await
}

/// The parameters of a kept download, for comparing with the vehicle.
#[tauri::command]
pub async fn snapshot_params(
    vault: State<'_, VaultHandle>,
    id: String,
) -> Result<Vec<ParamView>, IpcError> {
    let id: SnapshotId = parse_id("snapshot", &id)?;
    let open = vault.vault()?;
    let snapshot = blocking(move || open.param_snapshot(id).map_err(IpcError::from)).await?;
    Ok(snapshot
        .params
        .iter()
        .map(crate::params::param_view)
        .collect())
}

/// Keeps a full parameter download if the vault is unlocked (a locked vault cannot write
/// records only its data key opens). Failing to keep it must not fail the download: it is
/// logged.
pub async fn keep_param_snapshot(
    vault: &VaultHandle,
    sysid: u8,
    params: Vec<airgap_core::params::Param>,
) {
    let Some(open) = vault.unlocked() else {
        return;
    };
    let taken = now_us();
    let kept = blocking(move || {
        open.save_param_snapshot(sysid, taken, &params)
            .map_err(IpcError::from)
    })
    .await;
    if let Err(e) = kept {
        tracing::warn!(error = %e.message, "the parameter snapshot was not kept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stamps_are_utc_calendar_dates() {
        assert_eq!(file_stamp(0), "19700101-000000");
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(file_stamp(1_709_210_096_000_000), "20240229-123456");
    }

    #[test]
    fn vault_errors_keep_their_codes() {
        assert_eq!(
            IpcError::from(VaultError::WrongPassphrase).code,
            "wrong_passphrase"
        );
        assert_eq!(IpcError::from(VaultError::Locked).code, "locked");
        let e = IpcError::from(VaultError::NotFound {
            what: "flight",
            id: "00".into(),
        });
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("not_found", "No flight with id 00")
        );
    }

    fn tmp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "airgap-gcs-vault-{name}-{}-{}",
            std::process::id(),
            now_us()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[tokio::test]
    async fn start_without_a_vault_then_in_use_by_another() {
        let data = tmp_dir("start");
        let (absent, record) = VaultHandle::open_at_start(&data, KdfParams::INSECURE_FAST, None);
        assert!(record.is_none());
        assert_eq!(absent.view().state, VaultState::Absent);
        assert!(matches!(absent.vault(), Err(e) if e.code == "no_vault"));

        let pass = secret("correct horse".into());
        let vault = Vault::create(
            &airgap_vault::vault_dir(&data),
            &pass,
            VaultConfig {
                kdf: KdfParams::INSECURE_FAST,
            },
        )
        .expect("create");
        let (second, record) = VaultHandle::open_at_start(&data, KdfParams::INSECURE_FAST, None);
        assert!(record.is_none(), "a vault in use is not recorded into");
        let view = second.view();
        assert_eq!(view.state, VaultState::Unavailable);
        assert!(view.detail.unwrap_or_default().contains("Another Airgap"));
        drop(vault);

        let (third, record) = VaultHandle::open_at_start(&data, KdfParams::INSECURE_FAST, None);
        assert!(record.is_some());
        let view = third.view();
        assert_eq!((view.state, view.auto_lock_min), (VaultState::Locked, None));
        let open = third.vault().expect("open");
        open.unlock(&pass).expect("unlock");
        assert_eq!(third.view().auto_lock_min, Some(DEFAULT_AUTO_LOCK_MIN));
        open.set_setting(AUTO_LOCK_SETTING, &None::<u32>)
            .expect("set");
        assert_eq!(third.view().auto_lock_min, None, "off stays off");
        drop((third, open));
        let _ = std::fs::remove_dir_all(&data);
    }

    /// A restarted app starts while the app it replaces still holds the vault: it waits for
    /// it, and records into it once the other lets go; without a wait it would not record.
    #[test]
    fn a_restarted_start_waits_for_the_vault_to_be_released() {
        let data = tmp_dir("restart");
        let held = Vault::create(
            &airgap_vault::vault_dir(&data),
            &secret("correct horse".into()),
            VaultConfig {
                kdf: KdfParams::INSECURE_FAST,
            },
        )
        .expect("create");
        let releaser = std::thread::spawn(move || {
            // The old process finishing its recording and exiting.
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let started = Instant::now();
        let (handle, record) = VaultHandle::open_at_start(
            &data,
            KdfParams::INSECURE_FAST,
            Some(Duration::from_secs(20)),
        );
        assert!(record.is_some(), "the restarted app records into the vault");
        assert_eq!(handle.view().state, VaultState::Locked);
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "it did wait"
        );
        releaser.join().expect("the releasing thread ends");
        drop((handle, record));

        // Held for good: the wait ends, and the app runs without recording.
        let held = Vault::open(&airgap_vault::vault_dir(&data)).expect("reopen");
        let (handle, record) = VaultHandle::open_at_start(
            &data,
            KdfParams::INSECURE_FAST,
            Some(Duration::from_millis(200)),
        );
        assert!(record.is_none());
        assert_eq!(handle.view().state, VaultState::Unavailable);
        drop((handle, held));
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn a_track_is_thinned_but_keeps_its_last_point() {
        let mut t = TrackBuilder::new(Some(1));
        for i in 0..10_000 {
            t.rows.push([f64::from(i), 0.0, 0.0, 0.0]);
        }
        let v = t.finish();
        assert!(v.t_s.len() <= TRACK_POINTS + 1, "{}", v.t_s.len());
        assert_eq!(v.t_s.last(), Some(&9999.0));
        assert_eq!(v.t_s.first(), Some(&0.0));
    }
}
