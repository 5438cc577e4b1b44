//! Operations on a vehicle that the pilot may cancel (transfers), the mapping of the engine's
//! [`OpError`] to [`IpcError`], and the forwarding of transfer progress to the UI.
//!
//! Cancelling works by dropping the engine's future: the engine then cancels the operation on
//! the wire. Each cancellable command carries an `op_id` the UI chose; `cancel_op` fires the
//! token registered under it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use airgap_core::command::CommandError;
use airgap_core::dialect::MavMissionType;
use airgap_engine::{EngineEvent, EngineHandle, OpError, OpKind, OpProgress, ProgressUnit};
use tauri::ipc::Channel;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::dto::{IpcError, ProgressView, VehicleKey};

/// The cancellable operations running now, by the id the UI gave them.
#[derive(Default)]
pub struct Ops {
    running: Mutex<HashMap<u32, CancellationToken>>,
}

impl Ops {
    /// Runs `op`, cancellable through [`Ops::cancel`] with `id` while it runs. `what` names the
    /// operation in the error message ("Uploading the mission: …").
    pub async fn run<T>(
        &self,
        id: Option<u32>,
        what: &str,
        op: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, IpcError> {
        self.run_steps(id, what, async { op.await.map_err(|e| op_error(what, e)) })
            .await
    }

    /// Like [`Ops::run`] for an operation of several engine calls (the three lists of a plan)
    /// that maps its own errors: cancelling drops whichever call is under way.
    pub async fn run_steps<T>(
        &self,
        id: Option<u32>,
        what: &str,
        op: impl Future<Output = Result<T, IpcError>>,
    ) -> Result<T, IpcError> {
        let Some(id) = id else {
            return op.await;
        };
        let token = CancellationToken::new();
        self.lock().insert(id, token.clone());
        let _registered = Registered { ops: self, id };
        tokio::select! {
            outcome = op => outcome,
            // Dropping `op` here is what cancels it on the wire.
            _ = token.cancelled() => Err(op_error(what, OpError::Cancelled)),
        }
    }

    /// Cancels the operation registered under `id`; false when none is running.
    pub fn cancel(&self, id: u32) -> bool {
        match self.lock().remove(&id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, CancellationToken>> {
        // The map holds no invariant a panicking holder could break, so a poisoned lock is
        // still good to use.
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Removes an operation's entry however its future ends (done, failed or dropped).
struct Registered<'a> {
    ops: &'a Ops,
    id: u32,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.ops.lock().remove(&self.id);
    }
}

/// An engine operation's failure as the pilot reads it: `what` failed, and why (with the
/// vehicle's own STATUSTEXT for refusals).
pub fn op_error(what: &str, e: OpError) -> IpcError {
    let code = match &e {
        OpError::NoVehicle(_) => "no_vehicle",
        OpError::Command(CommandError::Timeout { .. }) => "timeout",
        OpError::Command(CommandError::Cancelled) | OpError::Cancelled => "cancelled",
        OpError::Command(_) => "refused",
        OpError::VerifyFailed(_) => "verify_failed",
        OpError::Param(_) | OpError::ParamDownload(_) | OpError::Mission(_) | OpError::Ftp(_) => {
            "transfer_failed"
        }
        OpError::Stopped => "internal",
    };
    IpcError::new(code, format!("{what}: {e}"))
}

pub fn mission_type_name(t: MavMissionType) -> &'static str {
    match t {
        MavMissionType::MAV_MISSION_TYPE_FENCE => "fence",
        MavMissionType::MAV_MISSION_TYPE_RALLY => "rally",
        _ => "mission",
    }
}

pub fn progress_view(p: &OpProgress) -> ProgressView {
    let (kind, mission_type) = match p.kind {
        OpKind::Command => ("command", None),
        OpKind::ParamDownload => ("param_download", None),
        OpKind::ParamGet => ("param_get", None),
        OpKind::ParamSet => ("param_set", None),
        OpKind::MissionUpload(t) => ("mission_upload", Some(t)),
        OpKind::MissionVerify(t) => ("mission_verify", Some(t)),
        OpKind::MissionDownload(t) => ("mission_download", Some(t)),
        OpKind::MissionClear(t) => ("mission_clear", Some(t)),
        OpKind::MissionSetCurrent => ("mission_set_current", None),
    };
    ProgressView {
        key: VehicleKey {
            sysid: p.key.sysid,
            compid: p.key.compid,
        },
        kind: kind.into(),
        mission_type: mission_type.map(|t| mission_type_name(t).into()),
        done: p.done,
        total: p.total,
        unit: match p.unit {
            ProgressUnit::Items => "items",
            ProgressUnit::Bytes => "bytes",
        }
        .into(),
    }
}

/// Forwards the engine's progress events to `channel` until the page goes away or the app
/// stops. The engine already reports each operation at most every 100 ms, which is the
/// throttle: nothing is added here.
pub fn forward_progress(
    engine: &EngineHandle,
    cancel: CancellationToken,
    channel: Channel<ProgressView>,
) {
    let mut events = engine.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => return,
                event = events.recv() => event,
            };
            match event {
                Ok(EngineEvent::Progress(p)) => {
                    if channel.send(progress_view(&p)).is_err() {
                        return; // the page reloaded or closed
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_cancelled_operation_is_dropped_and_reports_cancelled() {
        let ops = Arc::new(Ops::default());
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let runner = {
            let ops = ops.clone();
            tokio::spawn(async move {
                ops.run(Some(7), "Downloading", async move {
                    let _tell_when_dropped = dropped_tx;
                    std::future::pending::<Result<(), OpError>>().await
                })
                .await
            })
        };
        // Wait until the operation has registered itself.
        tokio::time::timeout(Duration::from_secs(5), async {
            while !ops.lock().contains_key(&7) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the operation registers");
        assert!(ops.cancel(7));
        let outcome = tokio::time::timeout(Duration::from_secs(5), runner)
            .await
            .expect("the operation ends")
            .expect("no panic");
        let err = outcome.expect_err("cancelled");
        assert_eq!(err.code, "cancelled");
        assert!(err.message.starts_with("Downloading"), "{}", err.message);
        // The engine future was dropped (which is what cancels it on the wire).
        assert!(dropped_rx.await.is_err());
        assert!(!ops.cancel(7), "the entry is gone once the operation ended");
    }

    #[test]
    fn refusals_carry_the_vehicles_reason() {
        let e = op_error(
            "Arm",
            OpError::Command(CommandError::Failed {
                statustext: vec!["PreArm: Need 3D Fix".into()],
            }),
        );
        assert_eq!(e.code, "refused");
        assert!(e.message.contains("PreArm: Need 3D Fix"), "{}", e.message);
    }
}
