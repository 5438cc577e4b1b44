//! `airgap sim`: serve simulated vehicles on an address or a pty until interrupted.

use std::io::Write;
use std::process::ExitCode;

use airgap_link::{Address, Faults};
use airgap_sim::{Sim, SimConfig};
use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct SimArgs {
    /// Where to serve, e.g. `udpout:127.0.0.1:14550` (feed a ground station, like SITL) or
    /// `tcpin:127.0.0.1:5760` (wait for one, like SITL's TCP port).
    #[arg(required_unless_present = "pty", conflicts_with = "pty")]
    address: Option<Address>,
    /// Serve on a new pseudo-terminal instead; its path is printed on the first line.
    #[arg(long)]
    pty: bool,
    /// System id of the first vehicle (the others count up from it).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    sysid: u8,
    /// Number of vehicles on the link.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=32))]
    vehicles: u8,
    /// Probability of dropping each frame, both ways (0–1).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    loss: f64,
    /// Probability of sending or delivering a frame twice (0–1).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    dup: f64,
    /// Probability of flipping a byte in a frame (0–1); the receiver sees a bad CRC.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    corrupt: f64,
    /// Seed for the faults and the flight model, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Arm, take off to 20 m and circle by itself once GPS has a fix (a demo for the desktop).
    #[arg(long)]
    autofly: bool,
    /// Send only HEARTBEAT until a ground station asks for streams (what ArduCopter does on TCP).
    #[arg(long)]
    wait_for_request: bool,
    /// Seconds before the simulated GPS has a fix (arming is refused until then).
    #[arg(long, default_value_t = airgap_sim::vehicle::DEFAULT_GPS_FIX_AFTER_S, value_name = "S")]
    gps_fix_after: f64,
    /// Do not offer MAVFTP (parameters and missions then move by the classic protocols only).
    #[arg(long)]
    no_ftp: bool,
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number; give a probability from 0 to 1"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is outside 0–1"))
    }
}

pub async fn run(
    args: SimArgs,
    gate: &airgap_engine::airgap_egress::Gate,
) -> anyhow::Result<ExitCode> {
    let faults = (args.loss > 0.0 || args.dup > 0.0 || args.corrupt > 0.0).then_some(Faults {
        loss: args.loss,
        dup: args.dup,
        corrupt: args.corrupt,
        seed: args.seed,
    });
    let config = SimConfig {
        sysid: args.sysid,
        vehicles: args.vehicles,
        faults,
        autofly: args.autofly,
        wait_for_stream_request: args.wait_for_request,
        ftp: !args.no_ftp,
        gps_fix_after_s: args.gps_fix_after,
        seed: args.seed,
        ..SimConfig::default()
    };
    let cancel = CancellationToken::new();
    let sim = if args.pty {
        let (sim, path) = Sim::start_pty(config, cancel.clone())
            .await
            .context("cannot open a pseudo-terminal")?;
        println!("{}", path.display());
        sim
    } else {
        let address = args
            .address
            .expect("clap requires an address without --pty");
        // The simulator opens its own socket: sealed, it may serve only on loopback.
        if let Some(destination) = airgap_engine::egress_destination(&address) {
            if let Err(refused) = gate.check_for("simulator link", &destination) {
                eprintln!("airgap: cannot serve on {address}: {refused}");
                return Ok(ExitCode::FAILURE);
            }
        }
        let sim = Sim::start(&address, config, cancel.clone())
            .await
            .with_context(|| format!("cannot serve on {address}"))?;
        match sim.local_addr() {
            Some(local) => println!(
                "serving {} vehicle(s) on {address} (local {local})",
                args.vehicles
            ),
            None => println!("serving {} vehicle(s) on {address}", args.vehicles),
        }
        sim
    };
    // Scripts read the first line to learn where to connect; make sure it is out.
    std::io::stdout().flush()?;
    tokio::select! {
        result = sim.wait() => result.context("the simulator stopped")?,
        _ = crate::interrupted() => cancel.cancel(),
    }
    Ok(ExitCode::SUCCESS)
}
