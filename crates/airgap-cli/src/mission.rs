//! `airgap mission`: upload, download, clear and convert missions, geofences and rally
//! points, in QGroundControl `.plan` or `.waypoints` (QGC WPL 110) files; save them in the
//! vault, list the saved ones and export them again.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airgap_core::dialect::{MavAutopilot, MavMissionType, MavType};
use airgap_core::mission::plan_file::{self, GeoPoint, HomeItem, PlanMeta};
use airgap_core::mission::transfer::TransferError;
use airgap_core::mission::{waypoints_file, MissionItem, Plan};
use airgap_engine::airgap_egress::Gate;
use airgap_engine::OpError;
use airgap_vault::{AuditEvent, MissionId};
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::open_session;
use crate::session::{self, Session, Target};
use crate::vault;

#[derive(Args)]
pub struct MissionArgs {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Upload a .plan (mission, geofence and rally points) or .waypoints file, then read it
    /// back and compare.
    Upload {
        #[command(flatten)]
        target: Target,
        file: PathBuf,
        /// Skip reading the mission back after the upload.
        #[arg(long)]
        no_verify: bool,
        #[arg(long)]
        json: bool,
    },
    /// Download the vehicle's mission (and, into a .plan, its geofence and rally points).
    Download {
        #[command(flatten)]
        target: Target,
        /// Where to write: .plan or .waypoints.
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Clear the vehicle's mission, geofence or rally points (default: all three).
    Clear {
        #[command(flatten)]
        target: Target,
        #[arg(long = "type", value_enum)]
        kind: Option<Kind>,
    },
    /// Make item SEQ the one the vehicle flies next.
    SetCurrent {
        #[command(flatten)]
        target: Target,
        seq: u16,
    },
    /// Convert between .plan and .waypoints (a .waypoints file holds no geofence or rally).
    Convert { input: PathBuf, output: PathBuf },
    /// Save a .plan or .waypoints file in the vault under a name (needs the passphrase).
    ///
    /// Prints the saved mission's id.
    Save {
        file: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// List the missions saved in the vault (needs the passphrase).
    List {
        /// One JSON object per mission per line: id, name, saved (RFC 3339, UTC), mission,
        /// fence, rally.
        #[arg(long)]
        json: bool,
    },
    /// Write a saved mission as a .plan or .waypoints file (needs the passphrase).
    ///
    /// The file is not encrypted; the export is recorded in the vault's audit trail.
    Export {
        /// The mission's id, as `airgap mission list` shows it.
        id: MissionId,
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Mission,
    Fence,
    Rally,
}

impl Kind {
    fn mission_type(self) -> MavMissionType {
        match self {
            Kind::Mission => MavMissionType::MAV_MISSION_TYPE_MISSION,
            Kind::Fence => MavMissionType::MAV_MISSION_TYPE_FENCE,
            Kind::Rally => MavMissionType::MAV_MISSION_TYPE_RALLY,
        }
    }
}

const ALL_TYPES: [MavMissionType; 3] = [
    MavMissionType::MAV_MISSION_TYPE_MISSION,
    MavMissionType::MAV_MISSION_TYPE_FENCE,
    MavMissionType::MAV_MISSION_TYPE_RALLY,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Plan,
    Waypoints,
}

fn file_kind(path: &Path) -> anyhow::Result<FileKind> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("plan") => Ok(FileKind::Plan),
        Some("waypoints") | Some("txt") => Ok(FileKind::Waypoints),
        _ => anyhow::bail!(
            "{}: not a mission file name; expected .plan (QGroundControl) or .waypoints (QGC WPL 110)",
            path.display()
        ),
    }
}

/// A mission file as read, with what kind it was.
struct Loaded {
    plan: Plan,
    kind: FileKind,
    meta: PlanMeta,
}

fn read_file(path: &Path, home_item: HomeItem) -> anyhow::Result<Loaded> {
    let kind = file_kind(path)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display();
    Ok(match kind {
        FileKind::Plan => {
            let file = plan_file::read_plan(&text, home_item).with_context(|| format!("{name}"))?;
            Loaded {
                plan: file.plan,
                kind,
                meta: file.meta,
            }
        }
        FileKind::Waypoints => {
            let file = waypoints_file::read(&text, home_item).with_context(|| format!("{name}"))?;
            Loaded {
                plan: Plan {
                    mission: file.mission,
                    fence: Vec::new(),
                    rally: Vec::new(),
                },
                kind,
                meta: PlanMeta {
                    home_item,
                    planned_home: file.home,
                    ..PlanMeta::default()
                },
            }
        }
    })
}

fn write_file(path: &Path, plan: &Plan, meta: &PlanMeta) -> anyhow::Result<()> {
    let text = match file_kind(path)? {
        FileKind::Plan => plan_file::write_plan(plan, meta)?,
        FileKind::Waypoints => {
            if !plan.fence.is_empty() || !plan.rally.is_empty() {
                eprintln!(
                    "airgap: note: {} holds no geofence or rally points; {} fence and {} rally items are not written",
                    path.display(),
                    plan.fence.len(),
                    plan.rally.len()
                );
            }
            waypoints_file::write(&plan.mission, meta.home_item, meta.planned_home)
        }
    };
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// ArduPilot keeps home as mission item 0; PX4 does not.
fn home_item_of(autopilot: Option<MavAutopilot>) -> HomeItem {
    match autopilot {
        Some(MavAutopilot::MAV_AUTOPILOT_PX4) => HomeItem::Absent,
        _ => HomeItem::Seq0,
    }
}

fn list(plan: &Plan, t: MavMissionType) -> &[MissionItem] {
    match t {
        MavMissionType::MAV_MISSION_TYPE_FENCE => &plan.fence,
        MavMissionType::MAV_MISSION_TYPE_RALLY => &plan.rally,
        _ => &plan.mission,
    }
}

pub async fn run(args: MissionArgs, gate: &Gate) -> anyhow::Result<ExitCode> {
    match args.verb {
        // The vault's calls block (key derivation takes about half a second).
        Verb::Save { file, name } => {
            tokio::task::spawn_blocking(move || save(&file, &name)).await?
        }
        Verb::List { json } => tokio::task::spawn_blocking(move || list_saved(json)).await?,
        Verb::Export { id, output } => {
            tokio::task::spawn_blocking(move || export(id, &output)).await?
        }
        Verb::Convert { input, output } => {
            let loaded = read_file(&input, HomeItem::Seq0)?;
            write_file(&output, &loaded.plan, &loaded.meta)?;
            println!(
                "{} → {}: {} mission items, {} fence, {} rally",
                input.display(),
                output.display(),
                loaded.plan.mission.len(),
                loaded.plan.fence.len(),
                loaded.plan.rally.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Verb::Upload {
            target,
            file,
            no_verify,
            json,
        } => {
            // Read the file before connecting: a malformed file should not wait for a vehicle.
            file_kind(&file)?;
            let s = open_session!(&target, gate);
            let code = upload(&s, file, !no_verify, json).await;
            s.close().await;
            code
        }
        Verb::Download {
            target,
            output,
            json,
        } => {
            file_kind(&output)?;
            let s = open_session!(&target, gate);
            let code = download(&s, output, json).await;
            s.close().await;
            code
        }
        Verb::Clear { target, kind } => {
            let s = open_session!(&target, gate);
            let code = clear(&s, kind).await;
            s.close().await;
            code
        }
        Verb::SetCurrent { target, seq } => {
            let s = open_session!(&target, gate);
            let code = match s.engine.mission_set_current(s.key, seq).await {
                Ok(()) => {
                    println!("vehicle {}: current mission item is {seq}", s.key);
                    ExitCode::SUCCESS
                }
                Err(e) => session::failed("set current item", &e),
            };
            s.close().await;
            Ok(code)
        }
    }
}

async fn upload(
    session: &Session,
    file: PathBuf,
    verify: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let vehicle = session.snapshot().await?;
    let loaded = read_file(&file, home_item_of(vehicle.state.autopilot))?;
    // A .plan says what the vehicle should hold of all three lists (QGroundControl uploads
    // an empty fence to clear one); a .waypoints file only speaks for the mission.
    let types: &[MavMissionType] = match loaded.kind {
        FileKind::Plan => &ALL_TYPES,
        FileKind::Waypoints => &ALL_TYPES[..1],
    };
    let mut results = Vec::new();
    for &t in types {
        let items = list(&loaded.plan, t).to_vec();
        let n = items.len();
        let outcome = session
            .engine
            .mission_upload(session.key, t, items, verify)
            .await;
        match outcome {
            Ok(report) => {
                if !json {
                    println!(
                        "vehicle {}: {} uploaded, {n} items{}",
                        session.key,
                        session::mission_type_name(t),
                        if report.verified { ", verified" } else { "" }
                    );
                }
                results.push(json!({"type": session::mission_type_name(t), "items": n, "verified": report.verified}));
            }
            // A vehicle without fences or rally points is fine when the file has none.
            Err(OpError::Mission(TransferError::Unsupported))
                if t != MavMissionType::MAV_MISSION_TYPE_MISSION && n == 0 => {}
            Err(e) => {
                return Ok(session::failed(
                    &format!("uploading the {}", session::mission_type_name(t)),
                    &e,
                ))
            }
        }
    }
    if json {
        println!(
            "{}",
            json!({"sysid": session.key.sysid, "uploaded": results})
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn download(session: &Session, output: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let vehicle = session.snapshot().await?;
    let home_item = home_item_of(vehicle.state.autopilot);
    let types: &[MavMissionType] = match file_kind(&output)? {
        FileKind::Plan => &ALL_TYPES,
        FileKind::Waypoints => &ALL_TYPES[..1],
    };
    let mut plan = Plan {
        mission: Vec::new(),
        fence: Vec::new(),
        rally: Vec::new(),
    };
    for &t in types {
        match session.engine.mission_download(session.key, t).await {
            Ok(items) => match t {
                MavMissionType::MAV_MISSION_TYPE_FENCE => plan.fence = items,
                MavMissionType::MAV_MISSION_TYPE_RALLY => plan.rally = items,
                _ => plan.mission = items,
            },
            Err(OpError::Mission(TransferError::Unsupported))
                if t != MavMissionType::MAV_MISSION_TYPE_MISSION => {}
            Err(e) => {
                return Ok(session::failed(
                    &format!("downloading the {}", session::mission_type_name(t)),
                    &e,
                ))
            }
        }
    }
    let planned_home = match (home_item, vehicle.state.lat_deg, vehicle.state.lon_deg) {
        (HomeItem::Absent, Some(lat), Some(lon)) => Some(GeoPoint {
            lat_e7: (lat * 1e7).round() as i32,
            lon_e7: (lon * 1e7).round() as i32,
            alt_m: vehicle.state.alt_msl_m.unwrap_or(0.0) as f32,
        }),
        _ => None,
    };
    let meta = PlanMeta {
        home_item,
        firmware_type: vehicle
            .state
            .autopilot
            .unwrap_or(MavAutopilot::MAV_AUTOPILOT_GENERIC),
        vehicle_type: vehicle
            .state
            .vehicle_type
            .unwrap_or(MavType::MAV_TYPE_GENERIC),
        planned_home,
        ..PlanMeta::default()
    };
    write_file(&output, &plan, &meta)?;
    if json {
        println!(
            "{}",
            json!({
                "sysid": session.key.sysid,
                "file": output.display().to_string(),
                "mission": plan.mission.len(),
                "fence": plan.fence.len(),
                "rally": plan.rally.len(),
            })
        );
    } else {
        println!(
            "vehicle {}: {} mission items, {} fence, {} rally → {}",
            session.key,
            plan.mission.len(),
            plan.fence.len(),
            plan.rally.len(),
            output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn clear(session: &Session, kind: Option<Kind>) -> anyhow::Result<ExitCode> {
    let types: Vec<MavMissionType> = match kind {
        Some(k) => vec![k.mission_type()],
        None => ALL_TYPES.to_vec(),
    };
    for t in types {
        match session.engine.mission_clear(session.key, t).await {
            Ok(()) => println!(
                "vehicle {}: {} cleared",
                session.key,
                session::mission_type_name(t)
            ),
            Err(OpError::Mission(TransferError::Unsupported)) if kind.is_none() => {}
            Err(e) => {
                return Ok(session::failed(
                    &format!("clearing the {}", session::mission_type_name(t)),
                    &e,
                ))
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn save(file: &Path, name: &str) -> anyhow::Result<ExitCode> {
    // Read and checked before the passphrase is asked for.
    let kind = file_kind(file)?;
    let loaded = read_file(file, HomeItem::Seq0)?;
    let name = name.trim();
    if name.is_empty() {
        anyhow::bail!("a saved mission needs a name (--name)");
    }
    let vault = vault::open_unlocked()?;
    let id = match kind {
        // Kept as written, so exporting it as a .plan gives the same document back.
        FileKind::Plan => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            vault.save_mission(name, &text)
        }
        FileKind::Waypoints => vault.save_plan(name, &loaded.plan, &loaded.meta),
    }
    .map_err(vault::explain)?;
    vault
        .audit(AuditEvent::Imported {
            what: format!("mission {id} from a .{} file", extension(kind)),
        })
        .map_err(vault::explain)?;
    let counts = vault.mission(id).map_err(vault::explain)?.summary.counts;
    println!("{id}");
    eprintln!(
        "airgap: saved {} as \"{name}\": {} mission items, {} fence, {} rally",
        file.display(),
        counts.mission,
        counts.fence,
        counts.rally
    );
    Ok(ExitCode::SUCCESS)
}

fn extension(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Plan => "plan",
        FileKind::Waypoints => "waypoints",
    }
}

fn list_saved(json: bool) -> anyhow::Result<ExitCode> {
    let vault = vault::open_unlocked()?;
    let listing = vault.missions().map_err(vault::explain)?;
    if !json {
        println!(
            "{:<32}  {:<20}  {:>7}  {:>5}  {:>5}  NAME",
            "ID", "SAVED (UTC)", "MISSION", "FENCE", "RALLY"
        );
    }
    for m in &listing.items {
        let saved = crate::log::rfc3339(m.saved_at_us);
        if json {
            println!(
                "{}",
                json!({
                    "id": m.id,
                    "name": m.name,
                    "saved": saved,
                    "mission": m.counts.mission,
                    "fence": m.counts.fence,
                    "rally": m.counts.rally,
                })
            );
        } else {
            println!(
                "{:<32}  {:<20}  {:>7}  {:>5}  {:>5}  {}",
                m.id.to_string(),
                saved,
                m.counts.mission,
                m.counts.fence,
                m.counts.rally,
                m.name
            );
        }
    }
    for damaged in &listing.damaged {
        eprintln!("airgap: a saved mission could not be read: {damaged}");
    }
    Ok(if listing.damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn export(id: MissionId, output: &Path) -> anyhow::Result<ExitCode> {
    let kind = file_kind(output)?;
    let vault = vault::open_unlocked()?;
    let stored = vault.mission(id).map_err(vault::explain)?;
    match kind {
        FileKind::Plan => std::fs::write(output, &stored.plan_json)
            .with_context(|| format!("cannot write {}", output.display()))?,
        FileKind::Waypoints => {
            let file = plan_file::read_plan(&stored.plan_json, HomeItem::Seq0)
                .with_context(|| format!("saved mission {id}"))?;
            write_file(output, &file.plan, &file.meta)?;
        }
    }
    vault
        .audit(AuditEvent::Exported {
            what: format!("mission {id} as .{}", extension(kind)),
        })
        .map_err(vault::explain)?;
    println!(
        "mission \"{}\" ({id}) → {}",
        stored.summary.name,
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}
