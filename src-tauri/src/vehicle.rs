//! Fly-view commands: arm, disarm, mode, takeoff, land, RTL, go to, set home, and the list of
//! mode names for the picker. Each returns only once the vehicle answered.

use airgap_core::command::Command;
use airgap_core::dialect::MavAutopilot;
use tauri::State;

use crate::commands::AppState;
use crate::dto::{CommandDone, IpcError, VehicleAction, VehicleKey};

/// What the action is called in messages to the pilot.
fn action_name(action: &VehicleAction) -> String {
    match action {
        VehicleAction::Arm => "Arm".into(),
        VehicleAction::Disarm { force: false } => "Disarm".into(),
        VehicleAction::Disarm { force: true } => "Force-disarm".into(),
        VehicleAction::SetMode { name } => format!("Mode {name}"),
        VehicleAction::Takeoff { alt_m } => format!("Takeoff to {alt_m} m"),
        VehicleAction::Land => "Land".into(),
        VehicleAction::Rtl => "RTL".into(),
        VehicleAction::GoTo { .. } => "Go to".into(),
        VehicleAction::SetHomeHere => "Set home".into(),
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> IpcError {
    IpcError::new("invalid", format!("{what}: {e}"))
}

#[tauri::command]
pub async fn vehicle_command(
    state: State<'_, AppState>,
    key: VehicleKey,
    action: VehicleAction,
) -> Result<CommandDone, IpcError> {
    let what = action_name(&action);
    let vehicle = state.snapshot(key).await?;
    let px4 = vehicle.state.autopilot == Some(MavAutopilot::MAV_AUTOPILOT_PX4);
    let command = match &action {
        VehicleAction::Arm => Command::arm(),
        VehicleAction::Disarm { force: false } => Command::disarm(),
        VehicleAction::Disarm { force: true } => Command::force_disarm(),
        VehicleAction::SetMode { name } => {
            Command::set_mode(vehicle.state.mode_table(), name).map_err(|e| invalid(&what, e))?
        }
        VehicleAction::Takeoff { alt_m } if px4 => {
            // PX4 takes the takeoff altitude above mean sea level.
            let ground_msl_m = match (vehicle.state.alt_msl_m, vehicle.state.alt_rel_m) {
                (Some(msl), Some(rel)) => msl - rel,
                _ => {
                    return Err(invalid(
                        &what,
                        "the vehicle has not reported its altitude yet; try again",
                    ))
                }
            };
            Command::takeoff_px4((ground_msl_m + alt_m) as f32).map_err(|e| invalid(&what, e))?
        }
        VehicleAction::Takeoff { alt_m } => {
            Command::takeoff(*alt_m as f32).map_err(|e| invalid(&what, e))?
        }
        VehicleAction::Land => Command::land(),
        VehicleAction::Rtl => Command::return_to_launch(),
        VehicleAction::GoTo {
            lat_deg,
            lon_deg,
            alt_m,
        } => Command::go_to(*lat_deg, *lon_deg, *alt_m as f32).map_err(|e| invalid(&what, e))?,
        VehicleAction::SetHomeHere => Command::set_home_here(),
    };
    let id = command.id();
    state
        .ops
        .run(None, &what, state.engine.command(vehicle.key, command))
        .await?;
    Ok(CommandDone {
        command: format!("{id:?}"),
    })
}

/// The flight modes the vehicle's autopilot knows, in its table's order (empty when the
/// autopilot is neither ArduPilot nor PX4).
#[tauri::command]
pub async fn mode_list(
    state: State<'_, AppState>,
    key: VehicleKey,
) -> Result<Vec<String>, IpcError> {
    let vehicle = state.snapshot(key).await?;
    Ok(vehicle
        .state
        .mode_table()
        .names()
        .into_iter()
        .map(Into::into)
        .collect())
}
