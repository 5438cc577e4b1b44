//! Plan-view commands: upload (with verify), download and clear the mission, geofence and
//! rally points, and open or save `.plan` / `.waypoints` files through the native dialogs.
//!
//! The UI edits the mission without its home item. ArduPilot keeps home as mission item 0,
//! so for it the backend adds home on the way out and takes it off on the way in, as the CLI
//! does with files ([`HomeItem::Seq0`]); PX4 keeps no home item ([`HomeItem::Absent`]).

use airgap_core::dialect::{MavAutopilot, MavCmd, MavFrame, MavMissionType, MavType};
use airgap_core::mission::plan_file::{self, GeoPoint, HomeItem, PlanMeta};
use airgap_core::mission::transfer::TransferError;
use airgap_core::mission::{waypoints_file, MissionItem, Plan};
use airgap_engine::{OpError, VehicleSnapshot};
use num_traits::FromPrimitive;
use tauri::{AppHandle, State};

use crate::commands::AppState;
use crate::dto::{
    GeoPointView, IpcError, MissionItemView, PlanFileView, PlanView, UploadView, VehicleKey,
};
use crate::files;
use crate::ops::{mission_type_name, op_error};

const FILTERS: &[files::Filter] = &[
    ("Mission files", &["plan", "waypoints", "txt"]),
    ("QGroundControl plan", &["plan"]),
    ("QGC WPL 110 waypoints", &["waypoints", "txt"]),
];

const ALL_TYPES: [MavMissionType; 3] = [
    MavMissionType::MAV_MISSION_TYPE_MISSION,
    MavMissionType::MAV_MISSION_TYPE_FENCE,
    MavMissionType::MAV_MISSION_TYPE_RALLY,
];

fn e7_to_deg(v: i32) -> f64 {
    f64::from(v) / 1e7
}

fn deg_to_e7(deg: f64) -> Option<i32> {
    let v = (deg * 1e7).round();
    (v.is_finite() && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX)).then_some(v as i32)
}

/// NaN (a parameter the command leaves unset) travels as `null`.
fn param_view(v: f32) -> Option<f64> {
    (!v.is_nan()).then_some(f64::from(v))
}

fn param_of(v: Option<f64>) -> f32 {
    v.map_or(f32::NAN, |v| v as f32)
}

pub fn item_view(item: &MissionItem) -> MissionItemView {
    MissionItemView {
        command: item.command as u16,
        frame: item.frame as u8,
        autocontinue: item.autocontinue,
        param1: param_view(item.param1),
        param2: param_view(item.param2),
        param3: param_view(item.param3),
        param4: param_view(item.param4),
        lat_deg: e7_to_deg(item.x),
        lon_deg: e7_to_deg(item.y),
        alt_m: f64::from(item.z),
    }
}

fn invalid_item(list: &str, index: usize, reason: impl std::fmt::Display) -> IpcError {
    IpcError::new("invalid", format!("{list} item {}: {reason}", index + 1))
}

fn item_of(
    v: &MissionItemView,
    seq: u16,
    mission_type: MavMissionType,
    index: usize,
) -> Result<MissionItem, IpcError> {
    let list = mission_type_name(mission_type);
    let command = MavCmd::from_u16(v.command)
        .ok_or_else(|| invalid_item(list, index, format!("unknown command {}", v.command)))?;
    let frame = MavFrame::from_u8(v.frame)
        .ok_or_else(|| invalid_item(list, index, format!("unknown frame {}", v.frame)))?;
    let x = deg_to_e7(v.lat_deg).ok_or_else(|| {
        invalid_item(
            list,
            index,
            format!("latitude {} is out of range", v.lat_deg),
        )
    })?;
    let y = deg_to_e7(v.lon_deg).ok_or_else(|| {
        invalid_item(
            list,
            index,
            format!("longitude {} is out of range", v.lon_deg),
        )
    })?;
    if !v.alt_m.is_finite() {
        return Err(invalid_item(list, index, "the altitude is not a number"));
    }
    Ok(MissionItem {
        seq,
        frame,
        command,
        current: false,
        autocontinue: v.autocontinue,
        param1: param_of(v.param1),
        param2: param_of(v.param2),
        param3: param_of(v.param3),
        param4: param_of(v.param4),
        x,
        y,
        z: v.alt_m as f32,
        mission_type,
    })
}

fn items_of(
    views: &[MissionItemView],
    t: MavMissionType,
    first_seq: u16,
) -> Result<Vec<MissionItem>, IpcError> {
    views
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let seq = u16::try_from(i)
                .ok()
                .and_then(|i| i.checked_add(first_seq))
                .ok_or_else(|| invalid_item(mission_type_name(t), i, "more than 65535 items"))?;
            item_of(v, seq, t, i)
        })
        .collect()
}

fn geo_point(p: &GeoPointView) -> Result<GeoPoint, IpcError> {
    match (deg_to_e7(p.lat_deg), deg_to_e7(p.lon_deg)) {
        (Some(lat_e7), Some(lon_e7)) if p.alt_msl_m.is_finite() => Ok(GeoPoint {
            lat_e7,
            lon_e7,
            alt_m: p.alt_msl_m as f32,
        }),
        _ => Err(IpcError::new(
            "invalid",
            "the home position is not a position",
        )),
    }
}

fn geo_point_view(p: &GeoPoint) -> GeoPointView {
    GeoPointView {
        lat_deg: e7_to_deg(p.lat_e7),
        lon_deg: e7_to_deg(p.lon_e7),
        alt_msl_m: f64::from(p.alt_m),
    }
}

/// ArduPilot's home item: what QGroundControl uploads as item 0 (the vehicle replaces it with
/// its own home, so the position only matters in files).
fn home_mission_item(home: Option<GeoPoint>) -> MissionItem {
    let home = home.unwrap_or(GeoPoint {
        lat_e7: 0,
        lon_e7: 0,
        alt_m: 0.0,
    });
    MissionItem {
        seq: 0,
        frame: MavFrame::MAV_FRAME_GLOBAL,
        command: MavCmd::MAV_CMD_NAV_WAYPOINT,
        current: false,
        autocontinue: true,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: home.lat_e7,
        y: home.lon_e7,
        z: home.alt_m,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    }
}

/// ArduPilot keeps home as mission item 0; PX4 does not.
fn home_item_of(autopilot: Option<MavAutopilot>) -> HomeItem {
    match autopilot {
        Some(MavAutopilot::MAV_AUTOPILOT_PX4) => HomeItem::Absent,
        _ => HomeItem::Seq0,
    }
}

/// The [`Plan`] a vehicle with `home_item` takes for `view`.
fn plan_of(view: &PlanView, home_item: HomeItem) -> Result<Plan, IpcError> {
    let home = view.home.as_ref().map(geo_point).transpose()?;
    let mission_type = MavMissionType::MAV_MISSION_TYPE_MISSION;
    let mission = match home_item {
        HomeItem::Seq0 => {
            let mut items = vec![home_mission_item(home)];
            items.extend(items_of(&view.mission, mission_type, 1)?);
            items
        }
        HomeItem::Absent => items_of(&view.mission, mission_type, 0)?,
    };
    Ok(Plan {
        mission,
        fence: items_of(&view.fence, MavMissionType::MAV_MISSION_TYPE_FENCE, 0)?,
        rally: items_of(&view.rally, MavMissionType::MAV_MISSION_TYPE_RALLY, 0)?,
    })
}

/// What the Plan view shows of `plan`; `planned_home` is used where the plan holds no home item.
fn view_of(plan: &Plan, home_item: HomeItem, planned_home: Option<GeoPoint>) -> PlanView {
    let (home, mission) = match (home_item, plan.mission.split_first()) {
        (HomeItem::Seq0, Some((home, rest))) => (
            Some(GeoPointView {
                lat_deg: e7_to_deg(home.x),
                lon_deg: e7_to_deg(home.y),
                alt_msl_m: f64::from(home.z),
            }),
            rest,
        ),
        (HomeItem::Seq0, None) => (None, &[][..]),
        (HomeItem::Absent, _) => (planned_home.as_ref().map(geo_point_view), &plan.mission[..]),
    };
    PlanView {
        home,
        mission: mission.iter().map(item_view).collect(),
        fence: plan.fence.iter().map(item_view).collect(),
        rally: plan.rally.iter().map(item_view).collect(),
    }
}

fn list(plan: &Plan, t: MavMissionType) -> &[MissionItem] {
    match t {
        MavMissionType::MAV_MISSION_TYPE_FENCE => &plan.fence,
        MavMissionType::MAV_MISSION_TYPE_RALLY => &plan.rally,
        _ => &plan.mission,
    }
}

/// A vehicle without geofence or rally support is fine as long as there is nothing to send.
fn unsupported_and_empty(e: &OpError, t: MavMissionType, items: usize) -> bool {
    matches!(e, OpError::Mission(TransferError::Unsupported))
        && t != MavMissionType::MAV_MISSION_TYPE_MISSION
        && items == 0
}

fn u32_len(items: &[MissionItem]) -> u32 {
    u32::try_from(items.len()).unwrap_or(u32::MAX)
}

/// Uploads the mission, geofence and rally points (all three: an empty list clears the
/// vehicle's, as QGroundControl does), each read back and compared when `verify`.
/// Cancellable with `op_id`.
#[tauri::command]
pub async fn mission_upload(
    state: State<'_, AppState>,
    key: VehicleKey,
    plan: PlanView,
    verify: bool,
    op_id: Option<u32>,
) -> Result<UploadView, IpcError> {
    let vehicle = state.snapshot(key).await?;
    let home_item = home_item_of(vehicle.state.autopilot);
    let plan = plan_of(&plan, home_item)?;
    let mission_items = match home_item {
        HomeItem::Seq0 => plan.mission.len().saturating_sub(1),
        HomeItem::Absent => plan.mission.len(),
    };
    state
        .ops
        .run_steps(op_id, "Upload", async {
            let mut verified = verify;
            for t in ALL_TYPES {
                let items = list(&plan, t).to_vec();
                let n = items.len();
                match state
                    .engine
                    .mission_upload(vehicle.key, t, items, verify)
                    .await
                {
                    Ok(report) => verified &= report.verified,
                    Err(e) if unsupported_and_empty(&e, t, n) => {}
                    Err(e) => {
                        return Err(op_error(
                            &format!("Uploading the {}", mission_type_name(t)),
                            e,
                        ))
                    }
                }
            }
            Ok(UploadView {
                mission_items: u32::try_from(mission_items).unwrap_or(u32::MAX),
                fence_items: u32_len(&plan.fence),
                rally_items: u32_len(&plan.rally),
                verified,
            })
        })
        .await
}

/// The vehicle's mission, geofence and rally points. Cancellable with `op_id`.
#[tauri::command]
pub async fn mission_download(
    state: State<'_, AppState>,
    key: VehicleKey,
    op_id: Option<u32>,
) -> Result<PlanView, IpcError> {
    let vehicle = state.snapshot(key).await?;
    let home_item = home_item_of(vehicle.state.autopilot);
    let plan = state
        .ops
        .run_steps(op_id, "Download", async {
            let mut plan = Plan::default();
            for t in ALL_TYPES {
                match state.engine.mission_download(vehicle.key, t).await {
                    Ok(items) => match t {
                        MavMissionType::MAV_MISSION_TYPE_FENCE => plan.fence = items,
                        MavMissionType::MAV_MISSION_TYPE_RALLY => plan.rally = items,
                        _ => plan.mission = items,
                    },
                    Err(e) if unsupported_and_empty(&e, t, 0) => {}
                    Err(e) => {
                        return Err(op_error(
                            &format!("Downloading the {}", mission_type_name(t)),
                            e,
                        ))
                    }
                }
            }
            Ok(plan)
        })
        .await?;
    Ok(view_of(&plan, home_item, vehicle_position(&vehicle)))
}

/// Clears the vehicle's mission, geofence and rally points.
#[tauri::command]
pub async fn mission_clear(state: State<'_, AppState>, key: VehicleKey) -> Result<(), IpcError> {
    let vehicle = state.snapshot(key).await?;
    for t in ALL_TYPES {
        match state.engine.mission_clear(vehicle.key, t).await {
            Ok(()) => {}
            Err(e) if unsupported_and_empty(&e, t, 0) => {}
            Err(e) => {
                return Err(op_error(
                    &format!("Clearing the {}", mission_type_name(t)),
                    e,
                ))
            }
        }
    }
    Ok(())
}

fn vehicle_position(v: &VehicleSnapshot) -> Option<GeoPoint> {
    match (v.state.lat_deg, v.state.lon_deg) {
        (Some(lat), Some(lon)) => Some(GeoPoint {
            lat_e7: deg_to_e7(lat)?,
            lon_e7: deg_to_e7(lon)?,
            alt_m: v.state.alt_msl_m.unwrap_or(0.0) as f32,
        }),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Plan,
    Waypoints,
}

fn file_kind(path: &std::path::Path) -> Result<FileKind, IpcError> {
    match files::extension(path).as_deref() {
        Some("plan") => Ok(FileKind::Plan),
        Some("waypoints") | Some("txt") => Ok(FileKind::Waypoints),
        _ => Err(IpcError::new(
            "file_failed",
            format!(
                "{}: not a mission file name; expected .plan (QGroundControl) or .waypoints (QGC WPL 110)",
                files::file_name(path)
            ),
        )),
    }
}

/// The vehicle the plan is for, when one is connected: it decides the home convention.
async fn target_vehicle(
    state: &AppState,
    key: Option<VehicleKey>,
) -> Result<Option<VehicleSnapshot>, IpcError> {
    match key {
        Some(key) => state.snapshot(key).await.map(Some),
        None => Ok(None),
    }
}

/// Lets the pilot pick a `.plan` or `.waypoints` file and reads it; `null` when cancelled.
#[tauri::command]
pub async fn plan_open(
    app: AppHandle,
    state: State<'_, AppState>,
    key: Option<VehicleKey>,
) -> Result<Option<PlanFileView>, IpcError> {
    let vehicle = target_vehicle(&state, key).await?;
    let home_item = home_item_of(vehicle.as_ref().and_then(|v| v.state.autopilot));
    let Some(path) = files::pick_open(&app, "Open a mission", FILTERS).await? else {
        return Ok(None);
    };
    let kind = file_kind(&path)?;
    let text = files::read_text(&path)?;
    let name = files::file_name(&path);
    let bad = |e: &dyn std::fmt::Display| IpcError::new("file_failed", format!("{name}: {e}"));
    let plan = match kind {
        FileKind::Plan => {
            let file = plan_file::read_plan(&text, home_item).map_err(|e| bad(&e))?;
            view_of(&file.plan, home_item, file.meta.planned_home)
        }
        FileKind::Waypoints => {
            let file = waypoints_file::read(&text, home_item).map_err(|e| bad(&e))?;
            let plan = Plan {
                mission: file.mission,
                fence: Vec::new(),
                rally: Vec::new(),
            };
            view_of(&plan, home_item, file.home)
        }
    };
    Ok(Some(PlanFileView {
        file_name: name,
        plan,
    }))
}

/// Lets the pilot choose where to save `plan` (`.plan` keeps all three lists, `.waypoints` only
/// the mission); returns the file name written, `null` when cancelled.
#[tauri::command]
pub async fn plan_save(
    app: AppHandle,
    state: State<'_, AppState>,
    key: Option<VehicleKey>,
    plan: PlanView,
) -> Result<Option<String>, IpcError> {
    let vehicle = target_vehicle(&state, key).await?;
    let autopilot = vehicle.as_ref().and_then(|v| v.state.autopilot);
    let home_item = home_item_of(autopilot);
    let planned_home = plan.home.as_ref().map(geo_point).transpose()?;
    let items = plan_of(&plan, home_item)?;
    let Some(path) = files::pick_save(&app, "Save the mission", "mission.plan", FILTERS).await?
    else {
        return Ok(None);
    };
    let text = match file_kind(&path)? {
        FileKind::Plan => {
            let meta = PlanMeta {
                home_item,
                firmware_type: autopilot.unwrap_or(MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA),
                vehicle_type: vehicle
                    .as_ref()
                    .and_then(|v| v.state.vehicle_type)
                    .unwrap_or(MavType::MAV_TYPE_QUADROTOR),
                planned_home,
                ..PlanMeta::default()
            };
            plan_file::write_plan(&items, &meta)
                .map_err(|e| IpcError::new("file_failed", e.to_string()))?
        }
        FileKind::Waypoints => waypoints_file::write(&items.mission, home_item, planned_home),
    };
    files::write_text(&path, &text)?;
    Ok(Some(files::file_name(&path)))
}

/// `view` as the `.plan` document the vault keeps. Stored without a home item (PX4's
/// convention, which the vault reads with) and the home as the planned home, so one saved
/// mission opens the same whichever autopilot it is later sent to.
pub(crate) fn vault_plan_json(view: &PlanView) -> Result<String, IpcError> {
    let planned_home = view.home.as_ref().map(geo_point).transpose()?;
    let plan = plan_of(view, HomeItem::Absent)?;
    let meta = PlanMeta {
        home_item: HomeItem::Absent,
        planned_home,
        ..PlanMeta::default()
    };
    plan_file::write_plan(&plan, &meta).map_err(|e| IpcError::new("invalid", e.to_string()))
}

/// The Plan view's form of a `.plan` document kept by [`vault_plan_json`].
pub(crate) fn vault_plan_view(plan_json: &str) -> Result<PlanView, IpcError> {
    let file = plan_file::read_plan(plan_json, HomeItem::Absent)
        .map_err(|e| IpcError::new("vault_damaged", format!("the saved mission: {e}")))?;
    Ok(view_of(
        &file.plan,
        HomeItem::Absent,
        file.meta.planned_home,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waypoint(lat_deg: f64, lon_deg: f64, alt_m: f64) -> MissionItemView {
        MissionItemView {
            command: MavCmd::MAV_CMD_NAV_WAYPOINT as u16,
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT as u8,
            autocontinue: true,
            param1: Some(0.0),
            param2: None,
            param3: Some(0.0),
            param4: None,
            lat_deg,
            lon_deg,
            alt_m,
        }
    }

    fn plan() -> PlanView {
        PlanView {
            home: Some(GeoPointView {
                lat_deg: -35.3632621,
                lon_deg: 149.1652374,
                alt_msl_m: 584.0,
            }),
            mission: vec![
                waypoint(-35.3612345, 149.1654321, 30.0),
                waypoint(-35.3623456, 149.1665432, 40.5),
            ],
            fence: vec![],
            rally: vec![],
        }
    }

    #[test]
    fn a_plan_kept_in_the_vault_opens_as_it_was_saved() {
        let view = plan();
        let json = vault_plan_json(&view).expect("writes");
        assert_eq!(vault_plan_view(&json).expect("reads"), view);
    }

    #[test]
    fn ardupilot_gets_home_as_item_0_and_the_view_round_trips() {
        let p = plan_of(&plan(), HomeItem::Seq0).expect("valid plan");
        assert_eq!(p.mission.len(), 3);
        assert_eq!(p.mission[0].x, -353_632_621);
        assert_eq!(p.mission[1].seq, 1);
        assert!(p.mission[1].param2.is_nan(), "null params travel as NaN");
        assert_eq!(view_of(&p, HomeItem::Seq0, None), plan());
    }

    #[test]
    fn px4_gets_no_home_item() {
        let p = plan_of(&plan(), HomeItem::Absent).expect("valid plan");
        assert_eq!(p.mission.len(), 2);
        assert_eq!(p.mission[0].seq, 0);
        let home = plan()
            .home
            .as_ref()
            .map(geo_point)
            .transpose()
            .expect("home");
        assert_eq!(view_of(&p, HomeItem::Absent, home), plan());
    }

    #[test]
    fn bad_items_are_refused_with_their_position() {
        let mut bad = plan();
        bad.mission[1].command = 65_000;
        let e = plan_of(&bad, HomeItem::Seq0).expect_err("unknown command");
        assert_eq!(e.code, "invalid");
        assert!(e.message.contains("mission item 2"), "{}", e.message);
        let mut bad = plan();
        bad.mission[0].lat_deg = 400.0;
        assert!(plan_of(&bad, HomeItem::Seq0).is_err());
    }
}
