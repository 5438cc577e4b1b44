//! Tauri commands: each validates its input, calls the engine, and maps the error to
//! [`IpcError`]. Nothing else happens here.

use std::time::Duration;

use airgap_engine::{EngineError, EngineHandle, LinkId, VehicleSnapshot};
use airgap_link::{Address, LinkOptions};
use airgap_sim::{Sim, SimConfig};
use tauri::ipc::Channel;
use tauri::State;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::dto::{
    AppInfo, IpcError, LinkView, ProgressView, SerialPortView, TelemetryTick, VehicleKey,
};
use crate::ops::Ops;
use crate::telemetry;

/// The built-in simulated vehicle and the link the engine opened to it.
struct RunningSim {
    _sim: Sim,
    address: Address,
    link: LinkId,
    /// Flies by itself (`--sim`) or waits for the pilot (`--sim-manual`).
    autofly: bool,
}

pub struct AppState {
    pub(crate) engine: EngineHandle,
    cancel: CancellationToken,
    sim: Mutex<Option<RunningSim>>,
    pub(crate) ops: Ops,
}

impl AppState {
    pub fn new(engine: EngineHandle, cancel: CancellationToken) -> Self {
        AppState {
            engine,
            cancel,
            sim: Mutex::new(None),
            ops: Ops::default(),
        }
    }

    /// Starts the simulated vehicle on a loopback TCP port and connects to it; a second call
    /// returns the link already open. With `autofly` it arms, takes off and circles by
    /// itself; without, it waits on the ground for the pilot's commands.
    pub async fn start_sim(&self, autofly: bool) -> Result<LinkId, IpcError> {
        let mut sim = self.sim.lock().await;
        if let Some(running) = sim.as_ref() {
            return Ok(running.link);
        }
        let listen: Address = "tcpin:127.0.0.1:0".parse().map_err(IpcError::bad_address)?;
        let config = SimConfig {
            autofly,
            ..SimConfig::default()
        };
        let started = Sim::start(&listen, config, self.cancel.child_token())
            .await
            .map_err(|e| IpcError::new("sim_failed", format!("cannot start the simulator: {e}")))?;
        let port = started
            .local_addr()
            .ok_or_else(|| IpcError::new("sim_failed", "the simulator has no local port"))?
            .port();
        let address: Address = format!("tcp:127.0.0.1:{port}")
            .parse()
            .map_err(IpcError::bad_address)?;
        let link = self
            .engine
            .connect(address.clone(), LinkOptions::default())
            .await
            .map_err(IpcError::from)?;
        *sim = Some(RunningSim {
            _sim: started,
            address,
            link,
            autofly,
        });
        Ok(link)
    }

    /// The simulator's link and whether it flies by itself, if it runs.
    pub async fn sim_link(&self) -> Option<(LinkId, bool)> {
        self.sim.lock().await.as_ref().map(|s| (s.link, s.autofly))
    }

    /// The vehicle `key` as last heard, or `no_vehicle`.
    pub async fn snapshot(&self, key: VehicleKey) -> Result<VehicleSnapshot, IpcError> {
        let wanted = airgap_engine::VehicleKey {
            sysid: key.sysid,
            compid: key.compid,
        };
        let (t, _) = self.engine.telemetry(None).await.map_err(IpcError::from)?;
        t.vehicles
            .into_iter()
            .find(|v| v.key == wanted)
            .ok_or_else(|| {
                IpcError::new(
                    "no_vehicle",
                    format!("no vehicle {}/{} is connected", key.sysid, key.compid),
                )
            })
    }

    async fn link_view(&self, link: LinkId) -> Result<LinkView, IpcError> {
        let (t, _) = self.engine.telemetry(None).await.map_err(IpcError::from)?;
        t.links
            .iter()
            .find(|l| l.id == link)
            .map(telemetry::link_view)
            .ok_or_else(|| IpcError::from(EngineError::NoSuchLink(link.0)))
    }
}

impl IpcError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        IpcError {
            code: code.into(),
            message: message.into(),
        }
    }

    fn bad_address(e: impl std::fmt::Display) -> Self {
        IpcError::new("bad_address", e.to_string())
    }
}

impl From<EngineError> for IpcError {
    fn from(e: EngineError) -> Self {
        let code = match e {
            EngineError::Link(_) => "link_failed",
            EngineError::NoSuchLink(_) => "no_such_link",
            EngineError::Stopped => "internal",
            EngineError::NoVehicle(_) => "no_vehicle",
            EngineError::Refused(_) => "egress_refused",
            EngineError::NoSuchForward(_) => "no_such_forward",
            EngineError::NotForwardable(_) => "bad_address",
        };
        IpcError::new(code, e.to_string())
    }
}

#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> Result<AppInfo, IpcError> {
    let sim = state.sim.lock().await;
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        sim_address: sim.as_ref().map(|s| s.address.to_string()),
    })
}

#[tauri::command]
pub async fn connect(state: State<'_, AppState>, address: String) -> Result<LinkView, IpcError> {
    let address: Address = address.trim().parse().map_err(IpcError::bad_address)?;
    let link = state
        .engine
        .connect(address, LinkOptions::default())
        .await
        .map_err(IpcError::from)?;
    state.link_view(link).await
}

#[tauri::command]
pub async fn connect_sim(state: State<'_, AppState>) -> Result<LinkView, IpcError> {
    let link = state.start_sim(true).await?;
    state.link_view(link).await
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>, link_id: u32) -> Result<(), IpcError> {
    state
        .engine
        .disconnect(LinkId(link_id))
        .await
        .map_err(IpcError::from)?;
    let mut sim = state.sim.lock().await;
    if sim.as_ref().is_some_and(|s| s.link.0 == link_id) {
        *sim = None; // dropping the handle stops the simulator
    }
    Ok(())
}

#[tauri::command]
pub async fn list_serial_ports() -> Result<Vec<SerialPortView>, IpcError> {
    let ports = airgap_link::serial_ports()
        .map_err(|e| IpcError::new("serial_failed", format!("cannot list serial ports: {e}")))?;
    Ok(ports.iter().map(telemetry::serial_port_view).collect())
}

/// Pushes a [`TelemetryTick`] at the display rate until the page goes away. One IPC message
/// per tick, never one per MAVLink frame.
#[tauri::command]
pub async fn subscribe_telemetry(
    state: State<'_, AppState>,
    channel: Channel<TelemetryTick>,
) -> Result<(), IpcError> {
    let engine = state.engine.clone();
    let cancel = state.cancel.clone();
    tauri::async_runtime::spawn(async move {
        let mut cursor = Some(airgap_engine::SeriesCursor::with_window(
            Duration::from_secs(120),
        ));
        let mut tick = tokio::time::interval(telemetry::TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Ok((t, next)) = engine.telemetry(cursor.take()).await else {
                return;
            };
            cursor = next;
            if channel.send(telemetry::tick(&t)).is_err() {
                return; // the page reloaded or closed; its new subscription takes over
            }
        }
    });
    Ok(())
}

/// Pushes transfer progress ([`ProgressView`]) until the page goes away.
#[tauri::command]
pub async fn subscribe_progress(
    state: State<'_, AppState>,
    channel: Channel<ProgressView>,
) -> Result<(), IpcError> {
    crate::ops::forward_progress(&state.engine, state.cancel.clone(), channel);
    Ok(())
}

/// Cancels the transfer the UI started with `op_id`; false when it had already ended.
#[tauri::command]
pub async fn cancel_op(state: State<'_, AppState>, op_id: u32) -> Result<bool, IpcError> {
    Ok(state.ops.cancel(op_id))
}
