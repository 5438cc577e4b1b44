//! `airgap-gcs`: the desktop ground station. This crate is the only one that knows Tauri and
//! the UI's wire format; it is a thin shell over the engine (see ARCHITECTURE.md).

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod dto;
mod files;
mod forward;
mod lockdown;
mod mission;
mod ops;
mod params;
mod seal;
mod telemetry;
mod tiles;
mod vault;
mod vehicle;

use std::path::PathBuf;
use std::time::Duration;

use airgap_engine::{EngineConfig, EngineHandle};
use airgap_link::{Address, LinkOptions};
use anyhow::Context;
use clap::Parser;
use tauri::Manager;
use tokio_util::sync::CancellationToken;

/// How long the links get to send what is queued when the app closes.
const EXIT_GRACE: Duration = Duration::from_millis(500);

#[derive(Parser, Debug)]
#[command(name = "airgap-gcs", version, about = "Airgap desktop ground station")]
struct Args {
    /// Open this link at start (repeatable), e.g. `udpin:0.0.0.0:14550`, `tcp:127.0.0.1:5760`.
    #[arg(long, value_name = "ADDR")]
    connect: Vec<Address>,
    /// Start the built-in simulated vehicle and connect to it.
    #[arg(long)]
    sim: bool,
    /// Like --sim, but the vehicle waits on the ground for the pilot's commands instead of
    /// arming, taking off and circling by itself.
    #[arg(long, conflicts_with = "sim")]
    sim_manual: bool,
    /// Where Airgap keeps its data, the vault included (default: the platform's app-data
    /// directory). `AIRGAP_KDF=fast` (tests only) makes a new vault cheap to unlock.
    #[arg(long, value_name = "DIR", env = "AIRGAP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Run sealed whatever the persisted switch says: every network destination but loopback
    /// and serial devices is refused (the OS-level seal is not built yet).
    #[arg(long)]
    sealed: bool,
    /// Started by a running app that restarts itself (engaging or disengaging the seal): the
    /// vault is waited for while the old process ends, and a link that cannot be reopened
    /// is reported instead of stopping the start.
    #[arg(long, hide = true)]
    restarted: bool,
}

/// How long a restarted app waits for the process it replaces to release the vault.
const RESTART_VAULT_WAIT: Duration = Duration::from_secs(20);

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("airgap-gcs: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Tauri's app-data directory for our identifier, found before Tauri starts (the engine
/// and the vault start first).
fn default_data_dir() -> anyhow::Result<PathBuf> {
    let base = dirs::data_dir().context(
        "no platform data directory (is HOME set?); give one with --data-dir or AIRGAP_DATA_DIR",
    )?;
    Ok(base.join(APP_IDENTIFIER))
}

/// As in tauri.conf.json.
const APP_IDENTIFIER: &str = "org.airgap.gcs";

fn run(args: Args) -> anyhow::Result<()> {
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    // The switch is read before anything can reach a network, and before anything starts a
    // thread (the vault's sled, tokio, GTK): the OS layer of the seal, engaged right below,
    // must cover every thread and every child process. One that cannot be read counts as
    // sealed (fail closed).
    let sealed = args.sealed
        || match airgap_engine::airgap_egress::SealSwitch::read(&data_dir) {
            Ok(state) => state.is_sealed(),
            Err(error) => {
                tracing::warn!(%error, "the seal switch cannot be read; running sealed");
                true
            }
        };
    // The OS layer of the seal: engaged here, before any thread starts, so that it covers
    // every thread and every child process (WebKit's included). Nothing above this line may
    // start a thread. If it cannot be engaged the app refuses to start sealed: it never
    // pretends.
    if sealed {
        airgap_engine::airgap_egress::os::engage().map_err(|why| {
            anyhow::anyhow!(
                "refusing to start sealed: {why}. The seal switch stays SEALED; \
                 `airgap seal status` shows it"
            )
        })?;
    }

    // The self-test runs before the audit sink is set: its probe is a refusal by design.
    let seal = seal::SealRuntime::start(
        airgap_engine::airgap_egress::Gate::new(sealed),
        data_dir.clone(),
        args.sealed,
    );
    if let Some(banner) = seal.banner() {
        eprintln!("airgap-gcs: {banner}");
    }
    // Opened before the engine so that every link is recorded from the moment it opens.
    let (vault, record_to) = vault::VaultHandle::open_at_start(
        &data_dir,
        vault::kdf_from_env(),
        args.restarted.then_some(RESTART_VAULT_WAIT),
    );
    // One runtime for the engine and Tauri's own async work.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("airgap-rt")
        .build()
        .context("cannot start the async runtime")?;
    tauri::async_runtime::set(runtime.handle().clone());
    let cancel = CancellationToken::new();
    let state = runtime.block_on(async {
        let gate = seal.gate().clone();
        if let Some(to) = &record_to {
            airgap_engine::audit_refusals(&gate, to.vault.clone());
        }
        let config = EngineConfig {
            record_to,
            gate,
            ..EngineConfig::default()
        };
        let engine = EngineHandle::start(config, cancel.clone());
        let state = commands::AppState::new(engine.clone(), cancel.clone());
        for address in &args.connect {
            let opened = engine
                .connect(address.clone(), LinkOptions::default())
                .await
                .with_context(|| format!("cannot open {address}"));
            match opened {
                Ok(_) => {}
                // A restart must come back even when a link cannot (a listener on a network
                // address, refused once sealed): the pilot sees the rest and can reconnect.
                Err(e) if args.restarted => eprintln!("airgap-gcs: {e:#}"),
                Err(e) => return Err(e),
            }
        }
        if args.sim || args.sim_manual {
            state.start_sim(!args.sim_manual).await.map_err(|e| {
                anyhow::anyhow!("cannot start the simulated vehicle: {}", e.message)
            })?;
        }
        anyhow::Ok(state)
    })?;

    let tiles = tiles::Tiles::new(seal.gate().clone());
    let app = tauri::Builder::default()
        // Used from Rust only (files.rs): the page has no dialog permission.
        .plugin(tauri_plugin_dialog::init())
        // The page never leaves the app's own origin, and opens no window.
        .plugin(lockdown::plugin())
        .setup(|app| lockdown::main_window(app.handle()).map_err(Into::into))
        // Map tiles reach the page only here, from the vault or through the gate.
        .register_asynchronous_uri_scheme_protocol(tiles::SCHEME, |ctx, request, responder| {
            tiles::spawn_serve(ctx.app_handle().clone(), request, responder);
        })
        .manage(state)
        .manage(tiles)
        .manage(vault)
        .manage(seal)
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::connect,
            commands::connect_sim,
            commands::disconnect,
            commands::list_serial_ports,
            commands::subscribe_telemetry,
            commands::subscribe_progress,
            commands::cancel_op,
            vehicle::vehicle_command,
            vehicle::mode_list,
            params::params_download,
            params::param_get,
            params::param_set,
            params::params_open,
            params::params_save,
            mission::mission_upload,
            mission::mission_download,
            mission::mission_clear,
            mission::plan_open,
            mission::plan_save,
            vault::vault_status,
            vault::vault_create,
            vault::vault_unlock,
            vault::vault_lock,
            vault::vault_set_auto_lock,
            vault::flights_list,
            vault::flight_delete,
            vault::flight_export,
            vault::flight_track,
            vault::missions_list,
            vault::mission_store,
            vault::mission_load,
            vault::mission_rename,
            vault::mission_delete,
            vault::snapshots_list,
            vault::snapshot_params,
            seal::seal_status,
            seal::seal_engage,
            seal::seal_disengage,
            forward::forwards_list,
            forward::forward_add,
            forward::forward_remove,
            tiles::tiles_status,
            tiles::tiles_set_source,
            tiles::tiles_estimate,
            tiles::tiles_download,
            tiles::tiles_import,
            tiles::tiles_delete,
        ])
        .build(tauri::generate_context!())
        .context("cannot start the desktop window")?;
    app.run(move |app, event| {
        if let tauri::RunEvent::Exit = event {
            // Each link's last second of recording reaches the disk and its flight is
            // marked complete before the process ends.
            let engine = app.state::<commands::AppState>().engine.clone();
            runtime.block_on(engine.shutdown_gracefully(EXIT_GRACE));
            cancel.cancel();
        }
    });
    Ok(())
}
