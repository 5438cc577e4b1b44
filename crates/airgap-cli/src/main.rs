//! `airgap`: the command-line ground station for scripts, SITL sessions and headless work.
//! Each verb is a thin front end over the engine (or the simulator); output for machines is
//! `--json`, one object per line.

mod bench;
mod cmd;
mod log;
mod mission;
mod params;
mod record;
mod seal;
mod secret;
mod session;
mod sim;
mod tiles;
mod vault;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "airgap",
    version,
    about = "Airgap: a secure offline MAVLink ground station"
)]
struct Cli {
    /// Log verbosity for diagnostics on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Run sealed whatever the persisted switch says: only loopback addresses and serial
    /// devices can be reached (the egress gate, and on Linux the OS seal: a seccomp filter on
    /// this process and its children).
    #[arg(long, global = true)]
    sealed: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run simulated vehicles: a MAVLink 2 ArduCopter-like peer over a real socket or pty.
    Sim(sim::SimArgs),
    /// Connect to a vehicle and print its state about once a second.
    Watch(watch::WatchArgs),
    /// Replay a .tlog through the engine (same as `watch replay:FILE@SPEED`).
    Replay(watch::ReplayArgs),
    /// Send one command (arm, disarm, mode, takeoff, land, rtl, goto, sethome); exit status 0
    /// only when the vehicle accepted it, 1 when it refused, 3 when it did not answer.
    Cmd(cmd::CmdArgs),
    /// Upload, download, clear or convert missions, geofences and rally points; save them in
    /// the vault, list and export them.
    Mission(mission::MissionArgs),
    /// Download, get, set, load or diff parameters.
    Params(params::ParamsArgs),
    /// Create the encrypted vault, show its status, lock it, or change its passphrase.
    Vault(vault::VaultArgs),
    /// Record a link session into the vault as a flight (no passphrase needed).
    Record(record::RecordArgs),
    /// List the flights in the vault, or export one as a .tlog.
    Log(log::LogArgs),
    /// Measure frame parsing and state update on a .tlog, in frames per second.
    Bench(bench::BenchArgs),
    /// The network seal: show it, engage it, disengage it (vault passphrase), self-test it.
    Seal(seal::SealArgs),
    /// The map tile cache in the vault: status, area downloads, MBTiles imports, the source.
    Tiles(tiles::TilesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();

    // Before anything can touch a network: every engine below gets this gate.
    let mut seal = seal::Startup::read(cli.sealed);
    // The OS seal goes on here, before the runtime, the vault or anything else starts a
    // thread; the hidden child probe runs under its parent's seal instead.
    let child_probe = matches!(&cli.command, Command::Seal(args) if seal::is_child_probe(args));
    if !child_probe {
        seal.engage_os();
    }
    if let Some(why) = &seal.os_failure {
        if !matches!(cli.command, Command::Seal(_)) {
            eprintln!("airgap: refusing to run sealed: {why}");
            return ExitCode::from(1);
        }
    }
    seal.announce();
    if !matches!(cli.command, Command::Seal(_)) {
        seal.audit_refusals();
    }
    let gate = &seal.gate;

    let result = match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Seal(args) => seal::run(args, &seal),
        // Synchronous: the vault's calls block (key derivation for about half a second), and
        // nothing else runs meanwhile.
        Command::Vault(args) => vault::run(args),
        Command::Log(args) => log::run(args),
        // Blocking HTTP on this thread and at most the source's few workers.
        Command::Tiles(args) => tiles::run(args, gate),
        command => runtime().and_then(|rt| {
            rt.block_on(async move {
                match command {
                    Command::Sim(args) => sim::run(args, gate).await,
                    Command::Watch(args) => watch::run(args, gate).await,
                    Command::Replay(args) => watch::replay(args, gate).await,
                    Command::Cmd(args) => cmd::run(args, gate).await,
                    Command::Mission(args) => mission::run(args, gate).await,
                    Command::Params(args) => params::run(args, gate).await,
                    Command::Record(args) => record::run(args, gate).await,
                    Command::Bench(_)
                    | Command::Vault(_)
                    | Command::Log(_)
                    | Command::Seal(_)
                    | Command::Tiles(_) => {
                        unreachable!("handled above")
                    }
                }
            })
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("airgap: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves when the user presses Ctrl-C or the process gets SIGTERM.
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
