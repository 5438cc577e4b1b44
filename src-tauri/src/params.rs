//! Parameters-view commands: download all, set one (confirmed by the vehicle), and read or
//! write `.param` / `.params` files through the native dialogs.

use airgap_core::dialect::MavParamType;
use airgap_core::params::file::{self, Format, ParamSource};
use airgap_core::params::Param;
use tauri::{AppHandle, State};

use crate::commands::AppState;
use crate::dto::{IpcError, ParamFileView, ParamView, VehicleKey};
use crate::files;
use crate::vault::VaultHandle;

const FILTERS: &[files::Filter] = &[
    ("Parameter files", &["param", "params", "parm"]),
    ("Mission Planner / MAVProxy", &["param", "parm"]),
    ("QGroundControl", &["params"]),
];

pub fn param_type_name(t: MavParamType) -> &'static str {
    match t {
        MavParamType::MAV_PARAM_TYPE_UINT8 => "UINT8",
        MavParamType::MAV_PARAM_TYPE_INT8 => "INT8",
        MavParamType::MAV_PARAM_TYPE_UINT16 => "UINT16",
        MavParamType::MAV_PARAM_TYPE_INT16 => "INT16",
        MavParamType::MAV_PARAM_TYPE_UINT32 => "UINT32",
        MavParamType::MAV_PARAM_TYPE_INT32 => "INT32",
        MavParamType::MAV_PARAM_TYPE_UINT64 => "UINT64",
        MavParamType::MAV_PARAM_TYPE_INT64 => "INT64",
        MavParamType::MAV_PARAM_TYPE_REAL32 => "REAL32",
        MavParamType::MAV_PARAM_TYPE_REAL64 => "REAL64",
    }
}

fn param_type_of(name: &str) -> Option<MavParamType> {
    [
        MavParamType::MAV_PARAM_TYPE_UINT8,
        MavParamType::MAV_PARAM_TYPE_INT8,
        MavParamType::MAV_PARAM_TYPE_UINT16,
        MavParamType::MAV_PARAM_TYPE_INT16,
        MavParamType::MAV_PARAM_TYPE_UINT32,
        MavParamType::MAV_PARAM_TYPE_INT32,
        MavParamType::MAV_PARAM_TYPE_UINT64,
        MavParamType::MAV_PARAM_TYPE_INT64,
        MavParamType::MAV_PARAM_TYPE_REAL32,
        MavParamType::MAV_PARAM_TYPE_REAL64,
    ]
    .into_iter()
    .find(|t| param_type_name(*t) == name)
}

pub fn param_view(p: &Param) -> ParamView {
    ParamView {
        name: p.name.clone(),
        value: p.value,
        param_type: param_type_name(p.param_type).into(),
    }
}

fn param_of(v: &ParamView) -> Result<Param, IpcError> {
    let param_type = param_type_of(&v.param_type).ok_or_else(|| {
        IpcError::new(
            "invalid",
            format!("{}: unknown parameter type {:?}", v.name, v.param_type),
        )
    })?;
    Ok(Param {
        name: v.name.clone(),
        value: v.value,
        param_type,
    })
}

/// Every parameter of the vehicle, or an error: never a partial list. Cancellable with `op_id`.
/// A full download is also kept in the vault when it is unlocked (a parameter snapshot).
#[tauri::command]
pub async fn params_download(
    state: State<'_, AppState>,
    vault: State<'_, VaultHandle>,
    key: VehicleKey,
    op_id: Option<u32>,
) -> Result<Vec<ParamView>, IpcError> {
    let key = state.snapshot(key).await?.key;
    let params = state
        .ops
        .run(
            op_id,
            "Downloading parameters",
            state.engine.params_download(key),
        )
        .await?;
    let views = params.iter().map(param_view).collect();
    crate::vault::keep_param_snapshot(&vault, key.sysid, params).await;
    Ok(views)
}

/// Sets one parameter and returns it as the vehicle confirmed it (PARAM_VALUE).
#[tauri::command]
pub async fn param_set(
    state: State<'_, AppState>,
    key: VehicleKey,
    name: String,
    value: f64,
) -> Result<ParamView, IpcError> {
    if !value.is_finite() {
        return Err(IpcError::new(
            "invalid",
            format!("{name}: {value} is not a number"),
        ));
    }
    let key = state.snapshot(key).await?.key;
    let what = format!("Setting {name} to {value}");
    let p = state
        .ops
        .run(None, &what, state.engine.param_set(key, &name, value))
        .await?;
    Ok(param_view(&p))
}

/// Reads one parameter from the vehicle.
#[tauri::command]
pub async fn param_get(
    state: State<'_, AppState>,
    key: VehicleKey,
    name: String,
) -> Result<ParamView, IpcError> {
    let key = state.snapshot(key).await?.key;
    let what = format!("Reading {name}");
    let p = state
        .ops
        .run(None, &what, state.engine.param_get(key, &name))
        .await?;
    Ok(param_view(&p))
}

/// Lets the pilot pick a `.param` or `.params` file and reads it; `null` when cancelled.
#[tauri::command]
pub async fn params_open(app: AppHandle) -> Result<Option<ParamFileView>, IpcError> {
    let Some(path) = files::pick_open(&app, "Open a parameter file", FILTERS).await? else {
        return Ok(None);
    };
    let format =
        Format::from_path(&path).map_err(|e| IpcError::new("file_failed", e.to_string()))?;
    let text = files::read_text(&path)?;
    let read = file::read_param_file(&text, format)
        .map_err(|e| IpcError::new("file_failed", format!("{}: {e}", files::file_name(&path))))?;
    Ok(Some(ParamFileView {
        file_name: files::file_name(&path),
        params: read.params.iter().map(param_view).collect(),
        typed: read.typed,
    }))
}

/// Lets the pilot choose where to save `params` (format from the extension); returns the file
/// name written, `null` when cancelled.
#[tauri::command]
pub async fn params_save(
    app: AppHandle,
    key: VehicleKey,
    params: Vec<ParamView>,
) -> Result<Option<String>, IpcError> {
    let params = params.iter().map(param_of).collect::<Result<Vec<_>, _>>()?;
    let suggested = format!("vehicle-{}.param", key.sysid);
    let Some(path) = files::pick_save(&app, "Save parameters", &suggested, FILTERS).await? else {
        return Ok(None);
    };
    let format =
        Format::from_path(&path).map_err(|e| IpcError::new("file_failed", e.to_string()))?;
    let source = ParamSource {
        system_id: key.sysid,
        component_id: key.compid,
    };
    let text = file::write_param_file(&params, format, source)
        .map_err(|e| IpcError::new("file_failed", e.to_string()))?;
    files::write_text(&path, &text)?;
    Ok(Some(files::file_name(&path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_name_maps_back() {
        for t in [
            MavParamType::MAV_PARAM_TYPE_UINT8,
            MavParamType::MAV_PARAM_TYPE_INT32,
            MavParamType::MAV_PARAM_TYPE_REAL32,
        ] {
            assert_eq!(param_type_of(param_type_name(t)), Some(t));
        }
        assert_eq!(param_type_of("FLOAT"), None);
    }
}
