//! `airgap log`: the flights recorded in the vault — list them, export one as a plain
//! `.tlog` (a deliberate, audited act: the file is not encrypted), and import a `.tlog`
//! recorded elsewhere as a flight (audited too).

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airgap_vault::{FlightId, FlightSummary, Vault};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::vault;

#[derive(Args)]
pub struct LogArgs {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// List the recorded flights, oldest first (needs the passphrase).
    List {
        /// One JSON object per flight per line: id, start (RFC 3339, UTC), duration_s, bytes,
        /// frames, sysids, armed, complete.
        #[arg(long)]
        json: bool,
    },
    /// Write a flight as a plain, unencrypted .tlog (needs the passphrase).
    ///
    /// pymavlink, MAVExplorer and Mission Planner read it. The export is recorded in the
    /// vault's audit trail. Damaged or missing parts of the flight are skipped and named on
    /// stderr, and the exit status is then 1.
    Export {
        /// The flight's id, as `airgap log list` shows it.
        id: FlightId,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Import a .tlog (from MAVProxy, Mission Planner, QGroundControl) as a flight (needs the
    /// passphrase).
    ///
    /// The flight keeps the file's bytes as they are: exporting it gives the same file. Its
    /// vehicles and whether one was armed come from the vehicles' HEARTBEATs in it. Prints the
    /// new flight's id. The import is recorded in the vault's audit trail.
    Import { file: PathBuf },
}

pub fn run(args: LogArgs) -> anyhow::Result<ExitCode> {
    match args.verb {
        Verb::List { json } => list(json),
        Verb::Export { id, output } => export(id, output),
        Verb::Import { file } => import(&file),
    }
}

fn list(json: bool) -> anyhow::Result<ExitCode> {
    let vault = vault::open_unlocked()?;
    let listing = vault.flights().map_err(vault::explain)?;
    if !json {
        println!(
            "{:<32}  {:<20}  {:>9}  {:>10}  {:<8}  NOTES",
            "ID", "START (UTC)", "DURATION", "SIZE", "VEHICLES"
        );
    }
    for flight in &listing.items {
        if json {
            println!("{}", flight_json(flight));
        } else {
            println!("{}", flight_line(flight));
        }
    }
    for damaged in &listing.damaged {
        eprintln!("airgap: a flight could not be read: {damaged}");
    }
    Ok(if listing.damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// UNIX microseconds as RFC 3339 UTC, to the second.
pub fn rfc3339(time_us: u64) -> String {
    i64::try_from(time_us)
        .ok()
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .and_then(|t| t.round(jiff::Unit::Second).ok())
        .map_or_else(|| format!("@{time_us}us"), |t| t.to_string())
}

fn flight_json(f: &FlightSummary) -> serde_json::Value {
    json!({
        "id": f.id,
        "start": rfc3339(f.start_us),
        "end": rfc3339(f.end_us),
        "start_us": f.start_us,
        "duration_s": f.duration_s,
        "bytes": f.bytes,
        "frames": f.frames,
        "chunks": f.chunks,
        "sysids": f.sysids,
        "armed": f.armed_ever,
        "complete": f.complete,
    })
}

fn flight_line(f: &FlightSummary) -> String {
    let vehicles = vehicles_text(&f.sysids);
    let mut notes = Vec::new();
    if f.armed_ever {
        notes.push("armed");
    }
    if !f.complete {
        notes.push("incomplete (still recording, or cut short)");
    }
    format!(
        "{:<32}  {:<20}  {:>9}  {:>10}  {:<8}  {}",
        f.id.to_string(),
        rfc3339(f.start_us),
        duration_text(f.duration_s),
        size_text(f.bytes),
        vehicles,
        notes.join(", ")
    )
}

fn duration_text(s: f64) -> String {
    // Whole seconds; a flight's length is not read to the millisecond.
    let total = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
}

pub fn size_text(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

fn export(id: FlightId, output: PathBuf) -> anyhow::Result<ExitCode> {
    let vault = vault::open_unlocked()?;
    let file = std::fs::File::create(&output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let mut out = BufWriter::new(file);
    let report = match vault.export_flight_tlog(id, &mut out) {
        Ok(report) => report,
        Err(e) => {
            // Leave no empty or partial file that looks like an export.
            drop(out);
            let _ = std::fs::remove_file(&output);
            return Err(vault::explain(e).context(format!("exporting flight {id}")));
        }
    };
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "flight {id}: {} chunks, {} bytes → {}",
        report.chunks,
        report.bytes,
        output.display()
    );
    for damaged in &report.damaged {
        eprintln!("airgap: skipped a damaged part of the flight: {damaged}");
    }
    if !report.missing_chunks.is_empty() {
        eprintln!(
            "airgap: {} chunk(s) of the flight are missing from the vault (indices {:?}); the \
             .tlog has a gap there",
            report.missing_chunks.len(),
            report.missing_chunks
        );
    }
    Ok(
        if report.damaged.is_empty() && report.missing_chunks.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

fn import(file: &Path) -> anyhow::Result<ExitCode> {
    // Read before the passphrase is asked for: a wrong path fails first.
    let tlog = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let vault = vault::open_unlocked()?;
    let flight = import_tlog(&vault, file, &tlog)?;
    println!("{}", flight.id);
    Ok(ExitCode::SUCCESS)
}

/// Import `tlog` (read from `file`) as a flight and say on stderr what it holds.
pub fn import_tlog(vault: &Vault, file: &Path, tlog: &[u8]) -> anyhow::Result<FlightSummary> {
    let flight = vault
        .import_tlog(tlog)
        .map_err(vault::explain)
        .with_context(|| format!("importing {}", file.display()))?;
    eprintln!(
        "airgap: imported {} as flight {}: {} frames, {}, vehicles {}",
        file.display(),
        flight.id,
        flight.frames,
        size_text(flight.bytes),
        vehicles_text(&flight.sysids)
    );
    Ok(flight)
}

fn vehicles_text(sysids: &[u8]) -> String {
    if sysids.is_empty() {
        "-".to_owned()
    } else {
        sysids
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_to_the_second() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_400_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_700_000_000_600_000), "2023-11-14T22:13:21Z");
        // Past what a timestamp can hold: shown raw, not a panic.
        assert_eq!(rfc3339(u64::MAX), format!("@{}us", u64::MAX));
    }

    #[test]
    fn durations_and_sizes_read_as_a_pilot_expects() {
        assert_eq!(duration_text(4.4), "0:00:04");
        assert_eq!(duration_text(3725.0), "1:02:05");
        assert_eq!(size_text(512), "512 B");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(3 * 1024 * 1024), "3.0 MiB");
    }
}
