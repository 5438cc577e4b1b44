//! `airgap params`: download, get, set, load and diff vehicle parameters, with Mission
//! Planner / MAVProxy `.param` and QGroundControl `.params` files; list the parameter
//! snapshots kept in the vault.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airgap_core::params::file::{self, Format, ParamSource};
use airgap_core::params::Param;
use airgap_engine::airgap_egress::Gate;
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::open_session;
use crate::session::{self, Session, Target};

#[derive(Args)]
pub struct ParamsArgs {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Download every parameter into a .param or .params file.
    Download {
        #[command(flatten)]
        target: Target,
        #[arg(short, long)]
        output: PathBuf,
        /// Also keep the download in the vault as a parameter snapshot (needs the
        /// passphrase), to diff against later.
        #[arg(long)]
        keep: bool,
    },
    /// Print one parameter.
    Get {
        #[command(flatten)]
        target: Target,
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Set one parameter; succeeds only when the vehicle confirms the new value.
    Set {
        #[command(flatten)]
        target: Target,
        name: String,
        #[arg(allow_negative_numbers = true)]
        value: f64,
        #[arg(long)]
        json: bool,
    },
    /// Set every parameter of a file whose value differs on the vehicle.
    Load {
        #[command(flatten)]
        target: Target,
        file: PathBuf,
    },
    /// Show what differs between the vehicle and a file.
    Diff {
        #[command(flatten)]
        target: Target,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the parameter snapshots kept in the vault, oldest first (needs the passphrase).
    ///
    /// `airgap vault import FILE.param` adds one; `airgap vault export --snapshot ID` bundles
    /// one.
    Snapshots {
        /// One JSON object per snapshot per line: id, sysid, taken (RFC 3339, UTC),
        /// taken_at_us, count.
        #[arg(long)]
        json: bool,
    },
    /// Write a kept parameter snapshot as a .param or .params file (audited).
    Snapshot {
        id: airgap_engine::airgap_vault::SnapshotId,
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn read_file(path: &Path) -> anyhow::Result<Vec<Param>> {
    let format = Format::from_path(path)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(file::read_param_file(&text, format)
        .with_context(|| format!("{}", path.display()))?
        .params)
}

fn value_text(p: &Param) -> String {
    format!("{}", p.value)
}

pub async fn run(args: ParamsArgs, gate: &Gate) -> anyhow::Result<ExitCode> {
    match args.verb {
        // The vault's calls block (key derivation takes about half a second); nothing else
        // runs meanwhile.
        Verb::Snapshots { json } => snapshots(json),
        Verb::Snapshot { id, output } => export_snapshot(id, &output),
        Verb::Download {
            target,
            output,
            keep,
        } => {
            let format = Format::from_path(&output)?;
            // Unlock first: a wrong passphrase should not cost a download.
            let vault = if keep {
                Some(tokio::task::spawn_blocking(crate::vault::open_unlocked).await??)
            } else {
                None
            };
            let s = open_session!(&target, gate);
            let code = download(&s, &output, format, vault.as_deref()).await;
            s.close().await;
            code
        }
        Verb::Get { target, name, json } => {
            let s = open_session!(&target, gate);
            let outcome = s.engine.param_get(s.key, &name).await;
            s.close().await;
            Ok(match outcome {
                Ok(p) => {
                    print_param(&p, json);
                    ExitCode::SUCCESS
                }
                Err(e) => session::failed(&format!("reading {name}"), &e),
            })
        }
        Verb::Set {
            target,
            name,
            value,
            json,
        } => {
            let s = open_session!(&target, gate);
            let outcome = s.engine.param_set(s.key, &name, value).await;
            s.close().await;
            Ok(match outcome {
                Ok(p) => {
                    print_param(&p, json);
                    ExitCode::SUCCESS
                }
                Err(e) => session::failed(&format!("setting {name} to {value}"), &e),
            })
        }
        Verb::Load { target, file } => {
            let wanted = read_file(&file)?;
            let s = open_session!(&target, gate);
            let code = load(&s, wanted).await;
            s.close().await;
            code
        }
        Verb::Diff { target, file, json } => {
            let wanted = read_file(&file)?;
            let s = open_session!(&target, gate);
            let code = diff(&s, &file, wanted, json).await;
            s.close().await;
            code
        }
    }
}

fn snapshots(json: bool) -> anyhow::Result<ExitCode> {
    let vault = crate::vault::open_unlocked()?;
    let listing = vault.param_snapshots().map_err(crate::vault::explain)?;
    if !json {
        println!(
            "{:<32}  {:<20}  {:>7}  {:>6}",
            "ID", "TAKEN (UTC)", "VEHICLE", "PARAMS"
        );
    }
    for s in &listing.items {
        let taken = crate::log::rfc3339(s.taken_at_us);
        if json {
            println!(
                "{}",
                json!({"id": s.id, "sysid": s.sysid, "taken": taken, "taken_at_us": s.taken_at_us, "count": s.count})
            );
        } else {
            println!(
                "{:<32}  {taken:<20}  {:>7}  {:>6}",
                s.id.to_string(),
                s.sysid,
                s.count
            );
        }
    }
    for damaged in &listing.damaged {
        eprintln!("airgap: a parameter snapshot could not be read: {damaged}");
    }
    Ok(if listing.damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn export_snapshot(
    id: airgap_engine::airgap_vault::SnapshotId,
    output: &Path,
) -> anyhow::Result<ExitCode> {
    let format = Format::from_path(output)?;
    let vault = crate::vault::open_unlocked()?;
    let snapshot = vault.param_snapshot(id).map_err(crate::vault::explain)?;
    let source = ParamSource {
        system_id: snapshot.summary.sysid,
        ..ParamSource::default()
    };
    let text = file::write_param_file(&snapshot.params, format, source)?;
    std::fs::write(output, text).with_context(|| format!("cannot write {}", output.display()))?;
    vault
        .audit(airgap_engine::airgap_vault::AuditEvent::Exported {
            what: format!("parameter snapshot {id} as {}", output.display()),
        })
        .map_err(crate::vault::explain)?;
    println!(
        "parameter snapshot {id}: {} parameters → {}",
        snapshot.params.len(),
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn print_param(p: &Param, json: bool) {
    if json {
        println!(
            "{}",
            json!({"name": p.name, "value": p.value, "type": format!("{:?}", p.param_type)})
        );
    } else {
        println!("{} = {}", p.name, value_text(p));
    }
}

async fn download(
    session: &Session,
    output: &Path,
    format: Format,
    keep_in: Option<&airgap_engine::airgap_vault::Vault>,
) -> anyhow::Result<ExitCode> {
    let params = match session.engine.params_download(session.key).await {
        Ok(p) => p,
        Err(e) => return Ok(session::failed("downloading parameters", &e)),
    };
    if let Some(vault) = keep_in {
        let taken_at_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let id = vault
            .save_param_snapshot(session.key.sysid, taken_at_us, &params)
            .map_err(crate::vault::explain)?;
        println!("kept as parameter snapshot {id}");
    }
    let source = ParamSource {
        system_id: session.key.sysid,
        component_id: session.key.compid,
    };
    let text = file::write_param_file(&params, format, source)?;
    std::fs::write(output, text).with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "vehicle {}: {} parameters → {}",
        session.key,
        params.len(),
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn load(session: &Session, wanted: Vec<Param>) -> anyhow::Result<ExitCode> {
    let current = match session.engine.params_download(session.key).await {
        Ok(p) => p,
        Err(e) => return Ok(session::failed("downloading parameters", &e)),
    };
    let diff = file::diff(&current, &wanted);
    for p in &diff.only_right {
        eprintln!(
            "airgap: {}: the vehicle has no such parameter; skipped",
            p.name
        );
    }
    let mut failures = 0usize;
    for change in &diff.changed {
        let name = &change.right.name;
        match session
            .engine
            .param_set(session.key, name, change.right.value)
            .await
        {
            Ok(p) => println!("{name}: {} → {}", value_text(&change.left), value_text(&p)),
            Err(e) => {
                failures += 1;
                eprintln!("airgap: setting {name}: {e}");
            }
        }
    }
    println!(
        "vehicle {}: {} changed, {} already equal, {} unknown, {failures} failed",
        session.key,
        diff.changed.len() - failures,
        wanted.len() - diff.changed.len() - diff.only_right.len(),
        diff.only_right.len()
    );
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(session::EXIT_REFUSED)
    })
}

async fn diff(
    session: &Session,
    path: &Path,
    wanted: Vec<Param>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let current = match session.engine.params_download(session.key).await {
        Ok(p) => p,
        Err(e) => return Ok(session::failed("downloading parameters", &e)),
    };
    let diff = file::diff(&current, &wanted);
    if json {
        println!(
            "{}",
            json!({
                "changed": diff.changed.iter().map(|c| json!({"name": c.left.name, "vehicle": c.left.value, "file": c.right.value})).collect::<Vec<_>>(),
                "only_vehicle": diff.only_left.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "only_file": diff.only_right.iter().map(|p| &p.name).collect::<Vec<_>>(),
            })
        );
    } else {
        for c in &diff.changed {
            println!(
                "{:<16} vehicle {:>12}   file {:>12}",
                c.left.name,
                value_text(&c.left),
                value_text(&c.right)
            );
        }
        for p in &diff.only_right {
            println!("{:<16} only in {}", p.name, path.display());
        }
        println!(
            "{} differ, {} only in the file, {} only on the vehicle",
            diff.changed.len(),
            diff.only_right.len(),
            diff.only_left.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
