//! `airgap watch` and `airgap replay`: connect, then print every vehicle's state about once a
//! second — as text for people, or as one JSON object per vehicle per line for scripts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use airgap_engine::airgap_egress::Gate;
use airgap_engine::{
    EngineConfig, EngineError, EngineEvent, EngineHandle, LinkInfo, LinkState, Telemetry,
    VehicleSnapshot,
};
use airgap_link::{Address, LinkOptions};
use anyhow::Context;
use clap::Args;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct WatchArgs {
    /// The link, e.g. `udpin:0.0.0.0:14550`, `tcp:127.0.0.1:5760`, `serial:/dev/ttyACM0:115200`,
    /// `replay:flight.tlog@max`.
    address: Address,
    /// Also forward every frame to ADDR, like MAVProxy's `--out` (e.g.
    /// `udpout:127.0.0.1:14551`); what comes back goes to the vehicle. Repeatable.
    #[arg(long = "out", value_name = "ADDR")]
    outs: Vec<Address>,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// A telemetry log (.tlog: 8-byte big-endian µs timestamp + one MAVLink frame, repeated).
    file: PathBuf,
    /// Playback speed factor, or `max` for as fast as possible.
    #[arg(long, default_value = "1")]
    speed: String,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
struct Output {
    /// One JSON object per vehicle per line (null where nothing was heard), events on stderr.
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds (and print a final state).
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
}

pub async fn replay(args: ReplayArgs, gate: &Gate) -> anyhow::Result<ExitCode> {
    let spec = format!("replay:{}@{}", args.file.display(), args.speed);
    let address: Address = spec.parse()?;
    watch(address, &[], args.output, gate).await
}

pub async fn run(args: WatchArgs, gate: &Gate) -> anyhow::Result<ExitCode> {
    watch(args.address, &args.outs, args.output, gate).await
}

/// Opens each `--out` forward; one that is refused or cannot open is said on stderr and the
/// rest goes on (the vehicle link matters more than a copy of its telemetry).
pub(crate) async fn add_forwards(engine: &EngineHandle, outs: &[Address]) {
    for out in outs {
        match engine.add_forward(out.clone()).await {
            Ok(_) => eprintln!("airgap: forwarding to {out}"),
            Err(EngineError::Refused(refused)) => {
                eprintln!("airgap: forwarding to {out} refused: {}", refused.reason());
            }
            Err(e) => eprintln!("airgap: cannot forward to {out}: {e}"),
        }
    }
}

async fn watch(
    address: Address,
    outs: &[Address],
    output: Output,
    gate: &Gate,
) -> anyhow::Result<ExitCode> {
    let cancel = CancellationToken::new();
    let config = EngineConfig {
        gate: gate.clone(),
        ..EngineConfig::default()
    };
    let engine = EngineHandle::start(config, cancel.clone());
    let mut events = engine.subscribe();
    // Before the vehicle link, so a forward carries the session from its first frame.
    add_forwards(&engine, outs).await;
    let link = engine
        .connect(address.clone(), LinkOptions::default())
        .await
        .with_context(|| format!("cannot open {address}"))?;
    if !output.json {
        println!("watching {address} (link {})", link.0);
    }
    let deadline = async {
        match output.duration {
            Some(s) if s.is_finite() && s >= 0.0 => {
                tokio::time::sleep(Duration::from_secs_f64(s)).await
            }
            _ => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ended = false;
    let mut printed_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = crate::interrupted() => break,
            _ = tick.tick() => {
                let (telemetry, _) = engine.telemetry(None).await?;
                print_state(&telemetry, output.json);
                printed_at = tokio::time::Instant::now();
            }
            event = events.recv() => match event {
                Ok(event) => {
                    if let EngineEvent::LinkClosed { .. } = event {
                        ended = true;
                    }
                    print_event(&event, output.json);
                    if ended { break; }
                }
                Err(RecvError::Lagged(n)) => eprintln!("({n} events skipped)"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    // A last state, so a replay or a short watch always ends with what was seen (unless a
    // tick just printed it).
    if ended || printed_at.elapsed() > Duration::from_millis(500) {
        let (telemetry, _) = engine.telemetry(None).await?;
        print_state(&telemetry, output.json);
    }
    engine.shutdown();
    Ok(ExitCode::SUCCESS)
}

fn print_event(event: &EngineEvent, json: bool) {
    let text = match event {
        EngineEvent::LinkUp { link, peer } => format!("link {}: connected to {peer}", link.0),
        EngineEvent::LinkDown { link, reason } => format!("link {}: down: {reason}", link.0),
        EngineEvent::LinkClosed { link, reason } => format!("link {}: closed: {reason}", link.0),
        EngineEvent::VehicleDiscovered { key, link } => {
            format!("vehicle {key}: discovered on link {}", link.0)
        }
        EngineEvent::VehicleLost { key } => format!("vehicle {key}: LINK LOST (no heartbeat)"),
        EngineEvent::VehicleRecovered { key } => format!("vehicle {key}: link recovered"),
        EngineEvent::StatusText {
            key,
            severity,
            text,
        } => format!("vehicle {key}: [{}] {text}", severity_name(*severity)),
        EngineEvent::Progress(p) => crate::session::progress_text(p),
        EngineEvent::RecordingStarted { link, flight } => {
            format!("link {}: recording flight {flight}", link.0)
        }
        EngineEvent::RecordingStopped {
            link,
            flight,
            frames,
            bytes,
        } => format!(
            "link {}: flight {flight} recorded ({frames} frames, {bytes} bytes)",
            link.0
        ),
        EngineEvent::RecordingFailed { link, error } => {
            format!("link {}: RECORDING FAILED: {error}", link.0)
        }
    };
    if json {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

fn print_state(telemetry: &Telemetry, json: bool) {
    for vehicle in &telemetry.vehicles {
        let link = telemetry.links.iter().find(|l| l.id == vehicle.link);
        if json {
            println!("{}", vehicle_json(vehicle, link));
        } else {
            println!("{}", vehicle_line(vehicle, link));
        }
    }
}

/// The `watch --json` contract: these field names and units are relied on by scripts.
pub fn vehicle_json(v: &VehicleSnapshot, link: Option<&LinkInfo>) -> serde_json::Value {
    let s = &v.state;
    json!({
        "sysid": v.key.sysid,
        "compid": v.key.compid,
        "autopilot": s.autopilot_name(),
        "vehicle_type": s.vehicle_type_name(),
        "armed": s.armed,
        "mode": s.mode_name(),
        "lost": v.lost,
        "roll_deg": s.roll_deg,
        "pitch_deg": s.pitch_deg,
        "yaw_deg": s.yaw_deg,
        "heading_deg": s.heading_deg,
        "lat_deg": s.lat_deg,
        "lon_deg": s.lon_deg,
        "alt_msl_m": s.alt_msl_m,
        "alt_rel_m": s.alt_rel_m,
        "groundspeed_m_s": s.groundspeed_m_s,
        "airspeed_m_s": s.airspeed_m_s,
        "climb_m_s": s.climb_m_s,
        "battery_v": s.battery_v,
        "battery_a": s.battery_a,
        "battery_pct": s.battery_pct,
        "gps_fix": s.gps_fix_name(),
        "satellites": s.satellites,
        "hdop": s.hdop,
        "link": link.map(|l| json!({
            "id": l.id.0,
            "address": l.address.to_string(),
            "state": link_state_name(l.state),
            "rx_frames": l.stats.rx_frames,
            "tx_frames": l.stats.tx_frames,
            "crc_errors": l.stats.crc_errors,
            "seq_gaps": l.stats.seq_gaps,
        })),
        "statustext": s.newest_statustext().map(|t| t.text.clone()),
        "messages": s.counts.total(),
    })
}

fn vehicle_line(v: &VehicleSnapshot, link: Option<&LinkInfo>) -> String {
    let s = &v.state;
    let num = |x: Option<f64>, decimals: usize| match x {
        Some(x) => format!("{x:.decimals$}"),
        None => "—".into(),
    };
    let armed = match s.armed {
        Some(true) => "ARMED",
        Some(false) => "disarmed",
        None => "—",
    };
    let link_text = link
        .map(|l| {
            format!(
                "{} rx {} crc {} gaps {}",
                link_state_name(l.state),
                l.stats.rx_frames,
                l.stats.crc_errors,
                l.stats.seq_gaps
            )
        })
        .unwrap_or_default();
    format!(
        "{key} {ap} {ty} {mode} {armed}{lost} | alt {rel} m (MSL {msl}) gs {gs} m/s hdg {hdg}° | \
         {lat},{lon} | bat {bv} V {bp} % | GPS {fix} {sats} sats | {link_text}",
        key = v.key,
        ap = s.autopilot_name().unwrap_or("—"),
        ty = s.vehicle_type_name().unwrap_or("—"),
        mode = s.mode_name().unwrap_or_else(|| "—".into()),
        lost = if v.lost { " LINK LOST" } else { "" },
        rel = num(s.alt_rel_m, 1),
        msl = num(s.alt_msl_m, 1),
        gs = num(s.groundspeed_m_s, 1),
        hdg = num(s.heading_deg, 0),
        lat = num(s.lat_deg, 7),
        lon = num(s.lon_deg, 7),
        bv = num(s.battery_v, 2),
        bp = num(s.battery_pct, 0),
        fix = s.gps_fix_name().unwrap_or("—"),
        sats = s.satellites.map_or("—".into(), |n| n.to_string()),
    )
}

fn link_state_name(state: LinkState) -> &'static str {
    match state {
        LinkState::Connecting => "connecting",
        LinkState::Up => "up",
        LinkState::Lost => "lost",
        LinkState::Closed => "closed",
    }
}

fn severity_name(severity: u8) -> &'static str {
    match severity {
        0 => "EMERGENCY",
        1 => "ALERT",
        2 => "CRITICAL",
        3 => "ERROR",
        4 => "WARNING",
        5 => "NOTICE",
        6 => "INFO",
        _ => "DEBUG",
    }
}
