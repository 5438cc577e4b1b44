//! What the vehicle verbs (`cmd`, `mission`, `params`) share: open the link, wait for the
//! vehicle, report transfer progress on a terminal, and map outcomes to exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use airgap_engine::airgap_egress::Gate;
use airgap_engine::{
    EngineConfig, EngineEvent, EngineHandle, OpError, OpKind, OpProgress, ProgressUnit, VehicleKey,
    VehicleSnapshot,
};
use airgap_link::{Address, LinkOptions};
use anyhow::Context;
use clap::Args;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// Exit status when the vehicle refused, or a transfer or verification failed.
pub const EXIT_REFUSED: u8 = 1;
/// Exit status when no vehicle answered (none heard, or the request timed out).
pub const EXIT_NO_ANSWER: u8 = 3;

#[derive(Args, Clone)]
pub struct Target {
    /// The link to the vehicle, e.g. `udpin:0.0.0.0:14550`, `tcp:127.0.0.1:5760`,
    /// `serial:/dev/ttyACM0:115200`.
    pub address: Address,
    /// The vehicle's system id, when several share the link (default: the first heard).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=255))]
    pub sysid: Option<u8>,
    /// Seconds to wait for the vehicle's first heartbeat.
    #[arg(long, default_value_t = 15.0, value_name = "S")]
    pub wait: f64,
    /// Use only the classic parameter and mission protocols, even where the vehicle offers
    /// MAVFTP.
    #[arg(long)]
    pub no_ftp: bool,
}

/// Opens a [`Session`] or returns from the calling verb with the exit status for "no vehicle".
#[macro_export]
macro_rules! open_session {
    ($target:expr, $gate:expr) => {
        match $crate::session::Session::open($target, $gate).await? {
            Ok(session) => session,
            Err(code) => return Ok(code),
        }
    };
}

/// A connected engine and the vehicle the verb talks to.
pub struct Session {
    pub engine: EngineHandle,
    pub key: VehicleKey,
    events: Option<tokio::task::JoinHandle<()>>,
}

impl Session {
    pub async fn open(target: &Target, gate: &Gate) -> anyhow::Result<Result<Session, ExitCode>> {
        let cancel = CancellationToken::new();
        let config = EngineConfig {
            use_ftp: !target.no_ftp,
            gate: gate.clone(),
            ..EngineConfig::default()
        };
        let engine = EngineHandle::start(config, cancel);
        engine
            .connect(target.address.clone(), LinkOptions::default())
            .await
            .with_context(|| format!("cannot open {}", target.address))?;
        let wait = Duration::from_secs_f64(target.wait.clamp(0.0, 3600.0));
        let key = match find_vehicle(&engine, target.sysid, wait).await {
            Some(key) => key,
            None => {
                let which = target.sysid.map_or("no vehicle".to_owned(), |s| {
                    format!("no vehicle with system id {s}")
                });
                eprintln!(
                    "airgap: {which} was heard on {} within {} s",
                    target.address, target.wait
                );
                engine.shutdown();
                return Ok(Err(ExitCode::from(EXIT_NO_ANSWER)));
            }
        };
        let events = std::io::stderr()
            .is_terminal()
            .then(|| tokio::spawn(show_progress(engine.subscribe())));
        Ok(Ok(Session {
            engine,
            key,
            events,
        }))
    }

    pub async fn snapshot(&self) -> anyhow::Result<VehicleSnapshot> {
        let (telemetry, _) = self.engine.telemetry(None).await?;
        telemetry
            .vehicles
            .into_iter()
            .find(|v| v.key == self.key)
            .context("the vehicle is no longer known to the engine")
    }

    /// Ends the session once what was sent has left (a transfer's final acknowledgement).
    pub async fn close(self) {
        if let Some(task) = self.events {
            task.abort();
            // End the progress line.
            eprint!("\r\x1b[K");
        }
        self.engine
            .shutdown_gracefully(Duration::from_millis(500))
            .await;
    }
}

async fn find_vehicle(
    engine: &EngineHandle,
    sysid: Option<u8>,
    wait: Duration,
) -> Option<VehicleKey> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let key = engine.wait_for_vehicle(remaining).await.ok()?;
        match sysid {
            None => return Some(key),
            Some(s) if key.sysid == s => return Some(key),
            Some(s) => {
                // Another vehicle came first: look among all of them.
                if let Ok((t, _)) = engine.telemetry(None).await {
                    if let Some(v) = t.vehicles.iter().find(|v| v.key.sysid == s && !v.lost) {
                        return Some(v.key);
                    }
                }
                if remaining.is_zero() {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One progress line on stderr, rewritten in place.
async fn show_progress(mut events: tokio::sync::broadcast::Receiver<EngineEvent>) {
    loop {
        match events.recv().await {
            Ok(EngineEvent::Progress(p)) => eprint!("\r\x1b[K{}", progress_text(&p)),
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

pub fn progress_text(p: &OpProgress) -> String {
    let what = match p.kind {
        OpKind::ParamDownload => "downloading parameters".to_owned(),
        OpKind::MissionUpload(t) => format!("uploading {}", mission_type_name(t)),
        OpKind::MissionVerify(t) => format!("verifying {}", mission_type_name(t)),
        OpKind::MissionDownload(t) => format!("downloading {}", mission_type_name(t)),
        OpKind::MissionClear(t) => format!("clearing {}", mission_type_name(t)),
        OpKind::Command | OpKind::ParamGet | OpKind::ParamSet | OpKind::MissionSetCurrent => {
            "working".to_owned()
        }
    };
    match (p.unit, p.total) {
        (ProgressUnit::Items, Some(total)) => format!("{what}: {}/{total}", p.done),
        (ProgressUnit::Items, None) => format!("{what}: {}", p.done),
        (ProgressUnit::Bytes, Some(total)) => {
            format!("{what} over MAVFTP: {} of {} bytes", p.done, total)
        }
        (ProgressUnit::Bytes, None) => format!("{what} over MAVFTP: {} bytes", p.done),
    }
}

pub fn mission_type_name(t: airgap_core::dialect::MavMissionType) -> &'static str {
    use airgap_core::dialect::MavMissionType as T;
    match t {
        T::MAV_MISSION_TYPE_FENCE => "geofence",
        T::MAV_MISSION_TYPE_RALLY => "rally points",
        _ => "mission",
    }
}

/// Prints why an operation failed and returns the exit status for it.
pub fn failed(what: &str, error: &OpError) -> ExitCode {
    eprintln!("airgap: {what}: {error}");
    ExitCode::from(exit_status(error))
}

pub fn exit_status(error: &OpError) -> u8 {
    use airgap_core::command::CommandError;
    use airgap_core::mission::transfer::TransferError;
    use airgap_core::params::protocol::{DownloadError, ParamError};
    match error {
        OpError::NoVehicle(_)
        | OpError::Stopped
        | OpError::Command(CommandError::Timeout { .. })
        | OpError::Param(ParamError::Timeout { .. })
        | OpError::ParamDownload(DownloadError::Timeout { .. })
        | OpError::Mission(TransferError::Timeout { .. }) => EXIT_NO_ANSWER,
        _ => EXIT_REFUSED,
    }
}
