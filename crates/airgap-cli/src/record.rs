//! `airgap record ADDR`: record a link session into the vault as a flight, until a duration
//! ends or Ctrl-C. The vault stays locked throughout: recording seals each chunk to the
//! vault's public key, so no passphrase is needed and none is held.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airgap_engine::airgap_egress::Gate;
use airgap_engine::{EngineConfig, EngineEvent, EngineHandle, FlightId, RecordTo};
use airgap_link::{Address, LinkOptions};
use anyhow::Context;
use clap::Args;
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::vault;

#[derive(Args)]
pub struct RecordArgs {
    /// The link to record, e.g. `udpin:0.0.0.0:14550`, `tcp:127.0.0.1:5760`,
    /// `serial:/dev/ttyACM0:115200`.
    address: Address,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "S", value_parser = seconds)]
    duration: Option<f64>,
    /// Print one JSON object per recorded flight: flight, frames, bytes, sysids, duration_s.
    #[arg(long)]
    json: bool,
    /// Also forward every frame to ADDR, like MAVProxy's `--out` (e.g.
    /// `udpout:127.0.0.1:14551`); what comes back goes to the vehicle. Repeatable.
    #[arg(long = "out", value_name = "ADDR")]
    outs: Vec<Address>,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 366.0 * 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds above 0")),
    }
}

/// What the engine said about one flight.
#[derive(Default)]
struct Flight {
    stopped: Option<(u64, u64)>,
    failed: Option<String>,
}

pub async fn run(args: RecordArgs, gate: &Gate) -> anyhow::Result<ExitCode> {
    let vault = Arc::new(tokio::task::spawn_blocking(vault::open_locked).await??);
    let path = vault::vault_path()?;
    // The vault is held open for the whole recording anyway: refusals go straight to it.
    airgap_engine::audit_refusals(gate, Arc::clone(&vault));
    let config = EngineConfig {
        record_to: Some(RecordTo::new(Arc::clone(&vault))),
        gate: gate.clone(),
        ..EngineConfig::default()
    };
    let engine = EngineHandle::start(config, CancellationToken::new());
    // Subscribed before connecting, so the recording's start cannot be missed.
    let mut events = engine.subscribe();
    crate::watch::add_forwards(&engine, &args.outs).await;
    engine
        .connect(args.address.clone(), LinkOptions::default())
        .await
        .with_context(|| format!("cannot open {}", args.address))?;
    let started = Instant::now();
    eprintln!(
        "airgap: recording {} into the vault at {}{}",
        args.address,
        path.display(),
        match args.duration {
            Some(s) => format!(" for {s} s"),
            None => " until Ctrl-C".to_owned(),
        }
    );

    let mut flights: BTreeMap<FlightId, Flight> = BTreeMap::new();
    let mut link_failures = Vec::new();
    let mut sysids = BTreeSet::new();
    let until = async {
        match args.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let interrupted = crate::interrupted();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut until => break,
            _ = &mut interrupted => break,
            event = events.recv() => match event {
                Ok(event) => note(event, &mut flights, &mut sysids, &mut link_failures),
                // Only recording events matter here, and they are rare: a lag drops telemetry
                // notices, not them, unless the engine floods; say so if it happens.
                Err(RecvError::Lagged(n)) => tracing::warn!(n, "missed engine events"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    // Closes every flight: its last chunk written and the flight marked complete.
    engine.shutdown_gracefully(Duration::from_millis(500)).await;
    loop {
        match events.try_recv() {
            Ok(event) => note(event, &mut flights, &mut sysids, &mut link_failures),
            Err(TryRecvError::Lagged(n)) => tracing::warn!(n, "missed engine events"),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    drop(engine);

    Ok(report(&args, &flights, &sysids, &link_failures, elapsed_s))
}

fn note(
    event: EngineEvent,
    flights: &mut BTreeMap<FlightId, Flight>,
    sysids: &mut BTreeSet<u8>,
    link_failures: &mut Vec<String>,
) {
    match event {
        EngineEvent::RecordingStarted { flight, .. } => {
            flights.entry(flight).or_default();
        }
        EngineEvent::RecordingStopped {
            flight,
            frames,
            bytes,
            ..
        } => flights.entry(flight).or_default().stopped = Some((frames, bytes)),
        EngineEvent::RecordingFailed { link, error } => {
            // The event names the link, not the flight: pin it on the flight still open.
            match flights
                .values_mut()
                .find(|f| f.stopped.is_none() && f.failed.is_none())
            {
                Some(f) => f.failed = Some(error),
                None => link_failures.push(format!("link {}: {error}", link.0)),
            }
        }
        EngineEvent::VehicleDiscovered { key, .. } => {
            sysids.insert(key.sysid);
        }
        _ => {}
    }
}

fn report(
    args: &RecordArgs,
    flights: &BTreeMap<FlightId, Flight>,
    sysids: &BTreeSet<u8>,
    link_failures: &[String],
    elapsed_s: f64,
) -> ExitCode {
    let mut ok = link_failures.is_empty();
    for failure in link_failures {
        eprintln!("airgap: recording failed on {failure}");
    }
    if flights.is_empty() {
        eprintln!(
            "airgap: no flight was recorded from {} (the link never opened?)",
            args.address
        );
        return ExitCode::FAILURE;
    }
    for (id, flight) in flights {
        let (frames, bytes) = flight.stopped.unwrap_or_default();
        if let Some(error) = &flight.failed {
            ok = false;
            eprintln!(
                "airgap: flight {id}: recording failed ({error}); what reached the disk before \
                 is kept"
            );
        } else if flight.stopped.is_none() {
            ok = false;
            eprintln!(
                "airgap: flight {id}: not closed in time; what reached the disk is kept, \
                 listed as incomplete"
            );
        } else if frames == 0 {
            eprintln!("airgap: flight {id}: nothing was heard on {}", args.address);
        }
        if args.json {
            println!(
                "{}",
                json!({
                    "flight": id,
                    "address": args.address.to_string(),
                    "frames": frames,
                    "bytes": bytes,
                    "sysids": sysids,
                    "duration_s": elapsed_s,
                    "complete": flight.stopped.is_some() && flight.failed.is_none(),
                })
            );
        } else {
            println!("flight {id}: {frames} frames, {bytes} bytes in {elapsed_s:.1} s");
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
