//! The forwarding list of the link settings: telemetry forwards (MAVProxy's `--out`) added,
//! removed and listed through the engine, which asks the egress gate before opening one. A
//! refused forward is an `egress_refused` error carrying the gate's words; the vehicle links
//! are not touched by it.

use airgap_engine::{ForwardId, ForwardInfo};
use airgap_link::Address;
use tauri::State;

use crate::commands::AppState;
use crate::dto::{ForwardView, IpcError};

fn forward_view(f: &ForwardInfo) -> ForwardView {
    ForwardView {
        id: f.id.0,
        address: f.address.to_string(),
        detail: f.detail.clone(),
        tx_frames: f.stats.tx_frames as f64,
        rx_frames: f.stats.rx_frames as f64,
        dropped: f.stats.dropped as f64,
    }
}

#[tauri::command]
pub async fn forwards_list(state: State<'_, AppState>) -> Result<Vec<ForwardView>, IpcError> {
    let forwards = state.engine.forwards().await.map_err(IpcError::from)?;
    Ok(forwards.iter().map(forward_view).collect())
}

#[tauri::command]
pub async fn forward_add(
    state: State<'_, AppState>,
    address: String,
) -> Result<ForwardView, IpcError> {
    let address: Address = address
        .trim()
        .parse()
        .map_err(|e| IpcError::new("bad_address", format!("{e}")))?;
    let id = state
        .engine
        .add_forward(address)
        .await
        .map_err(IpcError::from)?;
    let forwards = state.engine.forwards().await.map_err(IpcError::from)?;
    forwards
        .iter()
        .find(|f| f.id == id)
        .map(forward_view)
        .ok_or_else(|| IpcError::from(airgap_engine::EngineError::NoSuchForward(id.0)))
}

#[tauri::command]
pub async fn forward_remove(state: State<'_, AppState>, id: u32) -> Result<(), IpcError> {
    state
        .engine
        .remove_forward(ForwardId(id))
        .await
        .map_err(IpcError::from)
}
