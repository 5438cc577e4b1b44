//! The network seal as the desktop app runs it: the gate decided at start, the start-up
//! self-test that alone may let the UI say SEALED, the count of refused egress attempts, and
//! the switch. Engaging persists the switch, audits it and restarts the app sealed (the
//! recording is finished first, the links reopened by the new process); disengaging needs
//! the vault passphrase, is audited, and takes effect on the next start.
//!
//! The gate cannot be changed in a running process on purpose: the OS layer of the seal
//! cannot be lifted from inside, so the process and the switch agree only across a restart.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use airgap_engine::airgap_egress::{
    os_layer, selftest, Gate, OsLayer, Outcome, SealState, SealSwitch, SelfTest,
};
use airgap_engine::airgap_vault::{AuditEvent, SecretString, Vault};
use tauri::{AppHandle, State};

use crate::commands::AppState;
use crate::dto::{IpcError, SealLayerView, SealView};
use crate::vault::VaultHandle;

/// How long the links get to send what is queued before a restart (as at exit).
const RESTART_GRACE: Duration = Duration::from_millis(500);

/// Environment variables a restarted app must not inherit: they hand the web view to a
/// remote inspector (WebDriver automation of the process being replaced).
const NOT_INHERITED: &[&str] = &["WEBKIT_INSPECTOR_SERVER", "TAURI_AUTOMATION"];

/// The seal of this process, decided once in `main` before anything could reach a network.
pub struct SealRuntime {
    gate: Gate,
    data_dir: PathBuf,
    /// `--sealed` was given.
    flag: bool,
    os: OsLayer,
    selftest: SelfTest,
    /// Refusals counted by the self-test's own probe, not shown as attempts.
    baseline_refused: u64,
    /// The same for the OS layer's count (its probe of a UDP socket).
    baseline_os_refused: u64,
    /// A restart is under way: a second click must not start a second process.
    restarting: AtomicBool,
}

impl SealRuntime {
    /// Runs the self-test on `gate`. Call it before a refusal sink is set on the gate, so
    /// that the probe (a refusal by design) is not written to the audit trail.
    pub fn start(gate: Gate, data_dir: PathBuf, flag: bool) -> SealRuntime {
        let os = os_layer();
        let selftest = selftest(&gate);
        let baseline_refused = gate.refused_count();
        let baseline_os_refused = airgap_engine::airgap_egress::os::refused_count().unwrap_or(0);
        if gate.is_sealed() && !selftest.passed() {
            for layer in selftest
                .layers
                .iter()
                .filter(|l| l.outcome == Outcome::Fail)
            {
                tracing::error!(layer = layer.layer, detail = %layer.detail, "seal self-test failed");
            }
        }
        SealRuntime {
            gate,
            data_dir,
            flag,
            os,
            selftest,
            baseline_refused,
            baseline_os_refused,
            restarting: AtomicBool::new(false),
        }
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// What `main` says on stderr about the seal this process runs under.
    pub fn banner(&self) -> Option<String> {
        if !self.gate.is_sealed() {
            return None;
        }
        let verdict = if self.selftest.passed() {
            "self-test passed"
        } else {
            "SELF-TEST FAILED"
        };
        Some(format!(
            "sealed (app level: egress gate; OS seal: {}; {verdict})",
            os_text(&self.os)
        ))
    }

    fn view(&self, switch: &Result<SealState, String>, reopen: Vec<String>) -> SealView {
        let sealed = self.gate.is_sealed();
        let switch_sealed = switch.as_ref().map_or(true, SealState::is_sealed);
        let pending = match (sealed, switch_sealed) {
            (true, false) if self.flag => Some(
                "Sealed by --sealed for this run only: the switch is ONLINE, so the next start \
                 is online."
                    .to_owned(),
            ),
            (true, false) => {
                Some("The switch is ONLINE now: Airgap starts online after a restart.".to_owned())
            }
            (false, true) => {
                Some("The switch is SEALED now: Airgap starts sealed after a restart.".to_owned())
            }
            _ => None,
        };
        SealView {
            sealed,
            selftest_passed: self.selftest.passed(),
            layers: self
                .selftest
                .layers
                .iter()
                .map(|l| SealLayerView {
                    layer: l.layer.to_owned(),
                    outcome: match l.outcome {
                        Outcome::Pass => "pass",
                        Outcome::Absent => "absent",
                        Outcome::Fail => "fail",
                    }
                    .to_owned(),
                    detail: l.detail.clone(),
                })
                .collect(),
            os_layer: os_text(&self.os),
            os_layer_available: matches!(self.os, OsLayer::Engaged { .. }),
            refused: self
                .gate
                .refused_count()
                .saturating_sub(self.baseline_refused) as f64,
            os_refused: airgap_engine::airgap_egress::os::refused_count()
                .map(|n| n.saturating_sub(self.baseline_os_refused) as f64),
            switch: match switch {
                Ok(SealState::Online) => "online",
                Ok(SealState::Sealed) => "sealed",
                Ok(SealState::Damaged { .. }) => "damaged",
                Err(_) => "unreadable",
            }
            .to_owned(),
            sealed_flag: self.flag,
            pending,
            reopen,
        }
    }

    /// Runs `op`, a switch change that may restart the app (it says `Ok(true)` when it did),
    /// unless one is already under way: a second click must not start a second process.
    async fn one_restart_at_a_time(
        &self,
        op: impl std::future::Future<Output = Result<bool, IpcError>>,
    ) -> Result<bool, IpcError> {
        if self.restarting.swap(true, Ordering::SeqCst) {
            return Err(IpcError::new("invalid", "Airgap is already restarting."));
        }
        let result = op.await;
        if !matches!(result, Ok(true)) {
            self.restarting.store(false, Ordering::SeqCst);
        }
        result
    }

    fn read_switch(&self) -> Result<SealState, String> {
        SealSwitch::read(&self.data_dir).map_err(|e| e.to_string())
    }
}

/// The OS layer in the words the status bar uses; plain about what is missing.
fn os_text(os: &OsLayer) -> String {
    match os {
        OsLayer::Engaged { mechanism } => format!("engaged ({mechanism})"),
        // Said as is: the egress crate's words are written for the pilot ("not available on
        // Windows yet: the egress gate and the web-view lockdown hold").
        OsLayer::NotAvailable { why } => format!("not in place: {why}"),
    }
}

/// How to start this app again: the same executable and data dir, the links that are open,
/// and the built-in simulated vehicle if it runs.
struct Relaunch {
    exe: PathBuf,
    args: Vec<OsString>,
    /// For the pilot: what the new process reopens.
    reopen: Vec<String>,
}

async fn relaunch_plan(state: &AppState, data_dir: &Path) -> Result<Relaunch, IpcError> {
    let exe = std::env::current_exe().map_err(|e| {
        IpcError::new(
            "restart_failed",
            format!("Airgap cannot find its own program to restart: {e}"),
        )
    })?;
    let mut args: Vec<OsString> = vec![
        "--data-dir".into(),
        data_dir.as_os_str().to_owned(),
        "--restarted".into(),
    ];
    let (links, sim) = reopen_list(state).await?;
    let mut reopen = Vec::new();
    for address in links {
        args.push("--connect".into());
        args.push(address.clone().into());
        reopen.push(address);
    }
    if let Some(autofly) = sim {
        args.push(if autofly { "--sim" } else { "--sim-manual" }.into());
        reopen.push("the built-in simulated vehicle".to_owned());
    }
    Ok(Relaunch { exe, args, reopen })
}

/// The addresses of the links that are open (the simulator's own excepted), and whether the
/// simulator runs (and flies by itself).
async fn reopen_list(state: &AppState) -> Result<(Vec<String>, Option<bool>), IpcError> {
    let sim = state.sim_link().await;
    let (t, _) = state.engine.telemetry(None).await.map_err(IpcError::from)?;
    let links = t
        .links
        .iter()
        .filter(|l| l.state != airgap_engine::LinkState::Closed)
        .filter(|l| sim.is_none_or(|(id, _)| id != l.id))
        .map(|l| l.address.to_string())
        .collect();
    Ok((links, sim.map(|(_, autofly)| autofly)))
}

/// Finishes the recording (the engine closes every flight), starts the new process, and
/// ends this one. On failure to start, the engine is already stopped: the error says so.
async fn restart(app: &AppHandle, state: &AppState, plan: Relaunch) -> Result<(), IpcError> {
    state.engine.shutdown_gracefully(RESTART_GRACE).await;
    let mut command = std::process::Command::new(&plan.exe);
    command.args(&plan.args).stdin(std::process::Stdio::null());
    for var in NOT_INHERITED {
        command.env_remove(var);
    }
    match command.spawn() {
        Ok(child) => {
            tracing::info!(pid = child.id(), "restarted; this process ends");
            eprintln!(
                "airgap-gcs: restarting as pid {} (reopening: {})",
                child.id(),
                if plan.reopen.is_empty() {
                    "no links".to_owned()
                } else {
                    plan.reopen.join(", ")
                }
            );
            app.exit(0);
            Ok(())
        }
        Err(e) => Err(IpcError::new(
            "restart_failed",
            format!(
                "The recording is finished and the links are closed, but Airgap could not start \
                 again ({e}). Start it by hand; the switch decides whether it starts sealed."
            ),
        )),
    }
}

fn audit(vault: Option<Arc<Vault>>, kind: &str, detail: String) -> Result<(), IpcError> {
    let Some(vault) = vault else {
        return Ok(());
    };
    vault
        .audit(AuditEvent::Other {
            kind: kind.to_owned(),
            detail,
        })
        .map_err(IpcError::from)
}

fn switch_text(switch: &Result<SealState, String>) -> String {
    match switch {
        Ok(state) => state.to_string(),
        Err(why) => format!("unreadable ({why})"),
    }
}

#[tauri::command]
pub async fn seal_status(
    seal: State<'_, SealRuntime>,
    state: State<'_, AppState>,
) -> Result<SealView, IpcError> {
    let switch = seal.read_switch();
    let reopen = match reopen_list(&state).await {
        Ok((mut links, sim)) => {
            if sim.is_some() {
                links.push("the built-in simulated vehicle".to_owned());
            }
            links
        }
        // The engine has stopped (a restart is under way): nothing to list.
        Err(_) => Vec::new(),
    };
    Ok(seal.view(&switch, reopen))
}

/// Engages the seal: persists the switch (fsynced), audits it (locked or not: the vault
/// audits while locked too), and, when this process runs online, restarts the app sealed.
/// Returns whether a restart was started (the page then goes away with this process).
#[tauri::command]
pub async fn seal_engage(
    app: AppHandle,
    seal: State<'_, SealRuntime>,
    state: State<'_, AppState>,
    vault: State<'_, VaultHandle>,
) -> Result<bool, IpcError> {
    seal.one_restart_at_a_time(engage(&app, &seal, &state, &vault))
        .await
}

async fn engage(
    app: &AppHandle,
    seal: &SealRuntime,
    state: &AppState,
    vault: &VaultHandle,
) -> Result<bool, IpcError> {
    // Planned first: nothing is changed if Airgap cannot restart itself.
    let plan = if seal.gate.is_sealed() {
        None
    } else {
        Some(relaunch_plan(state, &seal.data_dir).await?)
    };
    let before = switch_text(&seal.read_switch());
    let dir = seal.data_dir.clone();
    let open = vault.open_vault();
    tokio::task::spawn_blocking(move || {
        SealSwitch::engage(&dir).map_err(|e| IpcError::new("seal_failed", e.to_string()))?;
        // Engaging never waits on the audit: sealing is the safe direction.
        if let Err(e) = audit(
            open,
            "seal_engaged",
            format!("from the desktop app; the switch was {before}; now SEALED"),
        ) {
            tracing::warn!(error = %e.message, "engaged, but not in the audit trail");
        }
        Ok::<(), IpcError>(())
    })
    .await
    .map_err(|e| IpcError::new("internal", format!("the seal task failed: {e}")))??;
    match plan {
        None => Ok(false),
        Some(plan) => restart(app, state, plan).await.map(|()| true),
    }
}

/// Disengages the seal: the vault passphrase proves who asks (a wrong one is refused and
/// audited), the change is audited (without a trace it is undone), and it takes effect on
/// the next start; with `restart_now`, the app restarts online at once.
#[tauri::command]
pub async fn seal_disengage(
    app: AppHandle,
    seal: State<'_, SealRuntime>,
    state: State<'_, AppState>,
    vault: State<'_, VaultHandle>,
    passphrase: String,
    restart_now: bool,
) -> Result<bool, IpcError> {
    let Some(open) = vault.open_vault() else {
        return Err(IpcError::new(
            "no_vault",
            "Disengaging the seal needs the vault's passphrase, and this window has no vault \
             open. The seal stays engaged.",
        ));
    };
    if restart_now && matches!(seal.os, OsLayer::Engaged { .. }) {
        // The OS seal cannot be lifted from inside, and every process this one starts
        // inherits it: a restart from here would come back sealed while saying online.
        return Err(IpcError::new(
            "invalid",
            "The OS seal of this process is inherited by every process it starts, so Airgap \
             cannot restart itself online. Disengage without restarting, then quit Airgap and \
             start it again.",
        ));
    }
    seal.one_restart_at_a_time(disengage(
        &app,
        &seal,
        &state,
        open,
        passphrase,
        restart_now,
    ))
    .await
}

async fn disengage(
    app: &AppHandle,
    seal: &SealRuntime,
    state: &AppState,
    open: Arc<Vault>,
    passphrase: String,
    restart_now: bool,
) -> Result<bool, IpcError> {
    let plan = if restart_now {
        Some(relaunch_plan(state, &seal.data_dir).await?)
    } else {
        None
    };
    let before = switch_text(&seal.read_switch());
    let dir = seal.data_dir.clone();
    let passphrase = SecretString::from(passphrase);
    tokio::task::spawn_blocking(move || {
        let was_unlocked = open.is_unlocked();
        // Proves who asks; a wrong passphrase is audited by the vault as a failed unlock,
        // and here as what it was for.
        if let Err(e) = open.unlock(&passphrase) {
            let _ = audit(
                Some(Arc::clone(&open)),
                "seal_disengage_refused",
                format!("from the desktop app: {e}; the seal stays engaged"),
            );
            return Err(IpcError::from(e));
        }
        if !was_unlocked {
            // Asking for the passphrase to change the seal does not open the vault.
            open.lock().map_err(IpcError::from)?;
        }
        SealSwitch::disengage(&dir).map_err(|e| IpcError::new("seal_failed", e.to_string()))?;
        if let Err(e) = audit(
            Some(Arc::clone(&open)),
            "seal_disengaged",
            format!("from the desktop app; the switch was {before}; now ONLINE"),
        ) {
            let undone = SealSwitch::engage(&dir);
            return Err(IpcError::new(
                "seal_failed",
                format!(
                    "The change cannot be recorded in the audit trail ({}); {}",
                    e.message,
                    match undone {
                        Ok(()) => "the seal stays engaged.".to_owned(),
                        Err(e) => format!("and re-engaging failed too: {e}"),
                    }
                ),
            ));
        }
        Ok(())
    })
    .await
    .map_err(|e| IpcError::new("internal", format!("the seal task failed: {e}")))??;
    match plan {
        None => Ok(false),
        Some(plan) => restart(app, state, plan).await.map(|()| true),
    }
}
