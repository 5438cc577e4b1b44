//! `airgap-gcs`: the desktop ground station. This crate is the only one that knows Tauri and
//! the UI's wire format; it is a thin shell over the engine (see ARCHITECTURE.md).

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod dto;
mod files;
mod mission;
mod ops;
mod params;
mod telemetry;
mod vehicle;

use std::path::PathBuf;

use airgap_engine::{EngineConfig, EngineHandle};
use airgap_link::{Address, LinkOptions};
use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

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
    /// Where Airgap keeps its data (default: the platform's app-data directory).
    #[arg(long, value_name = "DIR", env = "AIRGAP_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

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

fn run(args: Args) -> anyhow::Result<()> {
    if let Some(dir) = &args.data_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    // One runtime for the engine and Tauri's own async work.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("airgap-rt")
        .build()
        .context("cannot start the async runtime")?;
    tauri::async_runtime::set(runtime.handle().clone());
    let cancel = CancellationToken::new();
    let state = runtime.block_on(async {
        let engine = EngineHandle::start(EngineConfig::default(), cancel.clone());
        let state = commands::AppState::new(engine.clone(), cancel.clone());
        for address in &args.connect {
            engine
                .connect(address.clone(), LinkOptions::default())
                .await
                .with_context(|| format!("cannot open {address}"))?;
        }
        if args.sim || args.sim_manual {
            state.start_sim(!args.sim_manual).await.map_err(|e| {
                anyhow::anyhow!("cannot start the simulated vehicle: {}", e.message)
            })?;
        }
        anyhow::Ok(state)
    })?;

    let app = tauri::Builder::default()
        // Used from Rust only (files.rs): the page has no dialog permission.
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
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
        ])
        .build(tauri::generate_context!())
        .context("cannot start the desktop window")?;
    app.run(move |_, event| {
        if let tauri::RunEvent::Exit = event {
            cancel.cancel();
        }
    });
    Ok(())
}
