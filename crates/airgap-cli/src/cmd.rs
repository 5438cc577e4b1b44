//! `airgap cmd ADDR VERB`: one command to a vehicle, confirmed by its COMMAND_ACK. Exit status
//! 0 only when the vehicle accepted; otherwise the reason (with the vehicle's own STATUSTEXT,
//! e.g. "PreArm: Need 3D Fix") on stderr.

use std::process::ExitCode;

use airgap_core::command::Command;
use airgap_core::dialect::MavAutopilot;
use airgap_engine::airgap_egress::Gate;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::open_session;
use crate::session::{self, Session, Target};

#[derive(Args)]
pub struct CmdArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    verb: Verb,
    /// Print the outcome as one JSON object.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Clone)]
enum Verb {
    /// Arm the motors (the vehicle runs its pre-arm checks).
    Arm,
    /// Disarm the motors (refused in flight unless --force).
    Disarm {
        /// Disarm even in flight: the motors stop and the vehicle falls.
        #[arg(long)]
        force: bool,
    },
    /// Change flight mode by name (e.g. GUIDED, LOITER, RTL; PX4: POSCTL, MISSION, …).
    Mode { name: String },
    /// Take off to ALT_M metres above home (ArduPilot Copter: in GUIDED, armed).
    Takeoff { alt_m: f32 },
    /// Land where the vehicle is.
    Land,
    /// Return to launch.
    Rtl,
    /// Fly to a point and hold there, ALT_M above home.
    Goto {
        #[arg(allow_negative_numbers = true)]
        lat: f64,
        #[arg(allow_negative_numbers = true)]
        lon: f64,
        alt_m: f32,
    },
    /// Set home: to the vehicle's position, or to LAT LON ALT_MSL_M.
    Sethome {
        #[arg(allow_negative_numbers = true, requires = "lon")]
        lat: Option<f64>,
        #[arg(allow_negative_numbers = true, requires = "alt_msl_m")]
        lon: Option<f64>,
        alt_msl_m: Option<f32>,
    },
}

pub async fn run(args: CmdArgs, gate: &Gate) -> anyhow::Result<ExitCode> {
    let session = open_session!(&args.target, gate);
    let code = run_verb(&session, &args.verb, args.json).await;
    session.close().await;
    code
}

async fn run_verb(session: &Session, verb: &Verb, json: bool) -> anyhow::Result<ExitCode> {
    let vehicle = session.snapshot().await?;
    let px4 = vehicle.state.autopilot == Some(MavAutopilot::MAV_AUTOPILOT_PX4);
    let command = match verb {
        Verb::Arm => Ok(Command::arm()),
        Verb::Disarm { force: false } => Ok(Command::disarm()),
        Verb::Disarm { force: true } => Ok(Command::force_disarm()),
        Verb::Mode { name } => Command::set_mode(vehicle.state.mode_table(), name),
        Verb::Takeoff { alt_m } if px4 => {
            // PX4 takes the takeoff altitude above mean sea level.
            let ground_msl_m = match (vehicle.state.alt_msl_m, vehicle.state.alt_rel_m) {
                (Some(msl), Some(rel)) => (msl - rel) as f32,
                _ => anyhow::bail!("the vehicle has not reported its altitude yet; try again"),
            };
            Command::takeoff_px4(ground_msl_m + alt_m)
        }
        Verb::Takeoff { alt_m } => Command::takeoff(*alt_m),
        Verb::Land => Ok(Command::land()),
        Verb::Rtl => Ok(Command::return_to_launch()),
        Verb::Goto { lat, lon, alt_m } => Command::go_to(*lat, *lon, *alt_m),
        Verb::Sethome {
            lat: Some(lat),
            lon: Some(lon),
            alt_msl_m: Some(alt),
        } => Command::set_home(*lat, *lon, *alt),
        Verb::Sethome { .. } => Ok(Command::set_home_here()),
    };
    let command = match command {
        Ok(c) => c,
        Err(e) => {
            eprintln!("airgap: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let id = command.id();
    let outcome = session.engine.command(session.key, command).await;
    if json {
        let value = match &outcome {
            Ok(a) => json!({
                "sysid": session.key.sysid,
                "command": format!("{id:?}"),
                "result": "accepted",
                "result_param2": a.result_param2,
            }),
            Err(e) => json!({
                "sysid": session.key.sysid,
                "command": format!("{id:?}"),
                "result": "refused",
                "error": e.to_string(),
                "statustext": match e {
                    airgap_engine::OpError::Command(c) => c.statustext().to_vec(),
                    _ => Vec::new(),
                },
            }),
        };
        println!("{value}");
    }
    Ok(match outcome {
        Ok(_) => {
            if !json {
                println!("vehicle {}: {id:?} accepted", session.key);
            }
            ExitCode::SUCCESS
        }
        Err(e) => session::failed(&format!("vehicle {}: {id:?}", session.key), &e),
    })
}
