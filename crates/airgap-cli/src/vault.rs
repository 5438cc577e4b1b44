//! `airgap vault` (init, status, lock, passwd, export, import), and how every vault-backed verb finds,
//! opens and unlocks the vault: `AIRGAP_DATA_DIR`, passphrases from [`crate::secret`], and
//! the vault's errors turned into what a pilot should do next.
//!
//! A CLI process holds the vault only while its verb runs and locks it before it ends, so a
//! vault at rest is always locked.

use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airgap_core::params::file::Format;
use airgap_vault::{
    BundleSelection, FlightId, KdfParams, MissionFileFormat, MissionId, SecretString, SnapshotId,
    Vault, VaultConfig, VaultError, BUNDLE_EXTENSION,
};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use crate::secret;

pub const DATA_DIR_ENV: &str = "AIRGAP_DATA_DIR";
/// `fast` selects Argon2id parameters that make tests quick and protect nothing.
pub const KDF_ENV: &str = "AIRGAP_KDF";
/// The file holding an export bundle's own passphrase (its first line).
pub const BUNDLE_PASSPHRASE_FILE_ENV: &str = "AIRGAP_BUNDLE_PASSPHRASE_FILE";

#[derive(Args)]
pub struct VaultArgs {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Create the vault, in $AIRGAP_DATA_DIR/vault.
    ///
    /// The passphrase comes from the file named by $AIRGAP_PASSPHRASE_FILE (its first line),
    /// or is asked twice on the terminal. A forgotten passphrase cannot be recovered: nothing
    /// in the vault can be read without it. $AIRGAP_KDF=fast, for tests only, makes key
    /// derivation cheap, and so the passphrase cheap to guess.
    Init,
    /// Say where the vault is, whether one exists, and whether another process has it open.
    ///
    /// Exits 1 when there is no vault.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check that the vault is locked.
    ///
    /// `airgap` commands hold the vault only while they run and lock it when they end, so a
    /// vault no process has open is locked. When another process (the desktop app, a running
    /// `airgap record`) has it open, this cannot lock it from outside: it says so and exits 1.
    Lock,
    /// Change the passphrase.
    ///
    /// The current passphrase comes from $AIRGAP_PASSPHRASE_FILE or a prompt, the new one from
    /// the file named by $AIRGAP_NEW_PASSPHRASE_FILE or is asked twice. The keys are rewrapped;
    /// nothing is re-encrypted.
    Passwd,
    /// Write flights, missions and parameter snapshots into one encrypted bundle (.agvb).
    ///
    /// The bundle has its own passphrase, separate from the vault's: from the file named by
    /// $AIRGAP_BUNDLE_PASSPHRASE_FILE, or asked twice on the terminal. Nothing but that
    /// passphrase opens it; `airgap vault import` reads it into another vault. The export is
    /// recorded in the vault's audit trail. Damaged parts of a flight are left out and named
    /// on stderr, and the exit status is then 1.
    Export {
        /// The bundle to write; its name ends in .agvb.
        #[arg(short, long)]
        output: PathBuf,
        /// A flight to include (`airgap log list` shows the ids); repeat for more.
        #[arg(long = "flight", value_name = "ID")]
        flights: Vec<FlightId>,
        /// A saved mission to include (`airgap mission list`); repeat for more.
        #[arg(long = "mission", value_name = "ID")]
        missions: Vec<MissionId>,
        /// A parameter snapshot to include (`airgap params snapshots`); repeat for more.
        #[arg(long = "snapshot", value_name = "ID")]
        snapshots: Vec<SnapshotId>,
        /// Every flight, mission and parameter snapshot in the vault.
        #[arg(long, conflicts_with_all = ["flights", "missions", "snapshots"])]
        all: bool,
    },
    /// Import a file into the vault; what it becomes follows from its extension.
    ///
    /// .agvb: an export bundle (its passphrase from $AIRGAP_BUNDLE_PASSPHRASE_FILE or asked
    /// once); .tlog: a flight; .plan or .waypoints: a saved mission named after the file;
    /// .param or .params: a parameter snapshot. Prints one line per item imported: its kind
    /// and new id. Imports are recorded in the vault's audit trail; a damaged bundle imports
    /// nothing.
    Import {
        file: PathBuf,
        /// The name of an imported mission (default: the file name without its extension).
        #[arg(long)]
        name: Option<String>,
        /// The vehicle a parameter file belongs to (default: the one a .params file names,
        /// else its SYSID_THISMAV, else 1).
        #[arg(long)]
        sysid: Option<u8>,
    },
}

/// The desktop app's identifier (tauri.conf.json): its app-data directory is the default
/// for both front ends, so the CLI and the desktop app share one vault.
const APP_IDENTIFIER: &str = "org.airgap.gcs";

/// Where Airgap keeps its data: `AIRGAP_DATA_DIR`, else the platform's app-data directory
/// (e.g. `~/.local/share/org.airgap.gcs` on Linux), the one the desktop app uses.
pub fn data_dir() -> anyhow::Result<PathBuf> {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => dirs::data_dir()
            .map(|d| d.join(APP_IDENTIFIER))
            .with_context(|| {
                format!("no platform data directory (is HOME set?); set {DATA_DIR_ENV}")
            }),
    }
}

pub fn vault_path() -> anyhow::Result<PathBuf> {
    Ok(airgap_vault::vault_dir(&data_dir()?))
}

/// The Argon2id cost for a new passphrase: production unless `AIRGAP_KDF=fast`.
fn kdf_from_env() -> anyhow::Result<KdfParams> {
    match std::env::var(KDF_ENV).as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("") => Ok(KdfParams::PRODUCTION),
        Ok("fast") => {
            eprintln!(
                "airgap: warning: {KDF_ENV}=fast: cheap key derivation, for tests only; this \
                 passphrase is easy to guess from the vault's files"
            );
            Ok(KdfParams::INSECURE_FAST)
        }
        Ok(other) => anyhow::bail!("{KDF_ENV}={other:?}: the only value is `fast` (tests only)"),
        Err(e) => anyhow::bail!("{KDF_ENV}: {e}"),
    }
}

/// A vault error as the pilot should read it: what happened and what to do.
pub fn explain(error: VaultError) -> anyhow::Error {
    match error {
        VaultError::NoVault { path } => no_vault(&path),
        VaultError::InUse { path } => anyhow::anyhow!(
            "the vault at {} is open in another Airgap process (the desktop app, or another \
             `airgap` command still running); close it there or wait for that command to end",
            path.display()
        ),
        VaultError::WrongPassphrase => {
            anyhow::anyhow!("wrong passphrase (the failed attempt is in the vault's audit trail)")
        }
        other => other.into(),
    }
}

fn no_vault(path: &std::path::Path) -> anyhow::Error {
    anyhow::anyhow!(
        "no vault at {}; create one with `airgap vault init` (or set {DATA_DIR_ENV} to where \
         yours is)",
        path.display()
    )
}

/// Opens the vault, locked: enough to record, nothing can be read.
pub fn open_locked() -> anyhow::Result<Vault> {
    let path = vault_path()?;
    // Checked first: opening a directory without a vault would create database files there.
    if !Vault::exists(&path) {
        return Err(no_vault(&path));
    }
    Vault::open(&path).map_err(explain)
}

/// An unlocked vault that locks itself (and audits it) when dropped, on every way out of a
/// verb.
pub struct Unlocked(Vault);

impl std::ops::Deref for Unlocked {
    type Target = Vault;
    fn deref(&self) -> &Vault {
        &self.0
    }
}

impl Drop for Unlocked {
    fn drop(&mut self) {
        if let Err(e) = self.0.lock() {
            // The keys are wiped regardless (the vault is dropped next); only the audit entry
            // could not be written.
            eprintln!("airgap: warning: locking the vault: {e}");
        }
    }
}

/// Opens the vault and unlocks it with the passphrase from the file or the terminal. Blocks
/// for the key derivation (about half a second with production parameters).
pub fn open_unlocked() -> anyhow::Result<Unlocked> {
    let vault = open_locked()?;
    let passphrase = secret::current()?;
    vault.unlock(&passphrase).map_err(explain)?;
    Ok(Unlocked(vault))
}

pub fn run(args: VaultArgs) -> anyhow::Result<ExitCode> {
    match args.verb {
        Verb::Init => init(),
        Verb::Status { json } => status(json),
        Verb::Lock => lock(),
        Verb::Passwd => passwd(),
        Verb::Export {
            output,
            flights,
            missions,
            snapshots,
            all,
        } => {
            let selection = BundleSelection {
                flights,
                missions,
                snapshots,
            };
            export(&output, (!all).then_some(selection))
        }
        Verb::Import { file, name, sysid } => import(&file, name, sysid),
    }
}

fn init() -> anyhow::Result<ExitCode> {
    let path = vault_path()?;
    if Vault::exists(&path) {
        anyhow::bail!(
            "a vault already exists at {}; `airgap vault passwd` changes its passphrase",
            path.display()
        );
    }
    let kdf = kdf_from_env()?;
    let passphrase = secret::choose(
        secret::PASSPHRASE_FILE_ENV,
        "Choose the vault's passphrase. Everything Airgap records is encrypted with it: if \
         you forget it, nothing in the vault can be recovered, by you or anyone.",
    )?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let vault = Vault::create(&path, &passphrase, VaultConfig { kdf }).map_err(explain)?;
    vault.lock().map_err(explain)?;
    println!("created the vault at {} (locked)", path.display());
    Ok(ExitCode::SUCCESS)
}

/// What `vault status` finds.
enum Found {
    Nothing,
    /// Another process holds the directory lock.
    InUse,
    AtRest(airgap_vault::VaultStatus),
}

fn status(json: bool) -> anyhow::Result<ExitCode> {
    let path = vault_path()?;
    // Opening takes the vault's directory lock for a moment: a desktop app starting in that
    // very moment would be told the vault is in use, as with any other `airgap` command.
    let found = if !Vault::exists(&path) {
        Found::Nothing
    } else {
        match Vault::open(&path) {
            Ok(vault) => Found::AtRest(vault.status()),
            Err(VaultError::InUse { .. }) => Found::InUse,
            Err(e) => return Err(explain(e)),
        }
    };
    if json {
        let at_rest = match &found {
            Found::AtRest(s) => Some(s),
            _ => None,
        };
        println!(
            "{}",
            json!({
                "path": path.display().to_string(),
                "exists": !matches!(found, Found::Nothing),
                // At rest a vault is locked; one another process holds may be either.
                "locked": at_rest.map(|s| !s.unlocked),
                "in_use": matches!(found, Found::InUse),
                "format_version": at_rest.map(|s| s.format_version),
                "kdf": at_rest.map(|s| s.kdf),
            })
        );
    } else {
        match &found {
            Found::Nothing => println!(
                "no vault at {}; create one with `airgap vault init`",
                path.display()
            ),
            Found::InUse => println!(
                "vault at {}: open in another Airgap process (locked or not: only that process \
                 knows)",
                path.display()
            ),
            Found::AtRest(s) => {
                let insecure = if s.kdf == KdfParams::INSECURE_FAST {
                    " (INSECURE test parameters)"
                } else {
                    ""
                };
                println!(
                    "vault at {}: locked, not in use; format {}, Argon2id {} KiB × {} passes{insecure}",
                    path.display(),
                    s.format_version,
                    s.kdf.m_cost_kib,
                    s.kdf.t_cost
                );
            }
        }
    }
    Ok(match found {
        Found::Nothing => ExitCode::FAILURE,
        Found::InUse | Found::AtRest(_) => ExitCode::SUCCESS,
    })
}

fn lock() -> anyhow::Result<ExitCode> {
    let path = vault_path()?;
    if !Vault::exists(&path) {
        return Err(no_vault(&path));
    }
    match Vault::open(&path) {
        Ok(_) => {
            println!(
                "the vault at {} is locked: no Airgap process has it open (`airgap` commands \
                 lock it when they end)",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(VaultError::InUse { .. }) => {
            // There is no channel into another process; saying "locked" here would be a lie.
            eprintln!(
                "airgap: the vault at {} is open in another Airgap process; this command cannot \
                 lock it from here: lock it in that process (the desktop app's Lock button), or \
                 end it",
                path.display()
            );
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(explain(e)),
    }
}

fn passwd() -> anyhow::Result<ExitCode> {
    let kdf = kdf_from_env()?;
    let vault = open_locked()?;
    let old = secret::current()?;
    // Checked before the new one is asked for, so nobody types it twice for nothing.
    vault.unlock(&old).map_err(explain)?;
    let vault = Unlocked(vault);
    let new = secret::choose(
        secret::NEW_PASSPHRASE_FILE_ENV,
        "Choose the new passphrase. If you forget it, nothing in the vault can be recovered.",
    )?;
    vault
        .change_passphrase(&old, &new, Some(kdf))
        .map_err(explain)?;
    println!(
        "passphrase changed for the vault at {}",
        vault_path()?.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What `vault import` makes of a file, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImportKind {
    Bundle,
    Flight,
    Mission(MissionFileFormat),
    Snapshot(Format),
}

fn import_kind(path: &Path) -> anyhow::Result<ImportKind> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match ext.as_deref() {
        Some(BUNDLE_EXTENSION) => ImportKind::Bundle,
        Some("tlog") => ImportKind::Flight,
        Some("plan") => ImportKind::Mission(MissionFileFormat::Plan),
        Some("waypoints") => ImportKind::Mission(MissionFileFormat::Waypoints),
        Some("param") | Some("parm") => ImportKind::Snapshot(Format::MissionPlanner),
        Some("params") => ImportKind::Snapshot(Format::QGroundControl),
        _ => anyhow::bail!(
            "{}: cannot tell what to import from the file name; expected .{BUNDLE_EXTENSION} \
             (an export bundle), .tlog (a flight), .plan or .waypoints (a mission), or .param or \
             .params (parameters)",
            path.display()
        ),
    })
}

/// The passphrase that opens a bundle: from the file `AIRGAP_BUNDLE_PASSPHRASE_FILE` names
/// (its first line), else asked once on the terminal.
fn bundle_passphrase_to_open() -> anyhow::Result<SecretString> {
    let env = BUNDLE_PASSPHRASE_FILE_ENV;
    let typed = match std::env::var_os(env).filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            let text = Zeroizing::new(std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the bundle passphrase file {} (named by {env})",
                    path.display()
                )
            })?);
            let first = text.split('\n').next().unwrap_or_default();
            Zeroizing::new(first.strip_suffix('\r').unwrap_or(first).to_owned())
        }
        None => {
            if !std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "no bundle passphrase: not on a terminal, so none can be asked for; set \
                     {env} to the path of a file whose first line is the bundle's passphrase"
                );
            }
            Zeroizing::new(
                rpassword::prompt_password("Bundle passphrase: ")
                    .context("cannot read the passphrase from the terminal")?,
            )
        }
    };
    if typed.is_empty() {
        anyhow::bail!("the bundle passphrase is empty");
    }
    Ok(SecretString::from(typed.as_str().to_owned()))
}

fn export(output: &Path, selection: Option<BundleSelection>) -> anyhow::Result<ExitCode> {
    if selection.as_ref().is_some_and(BundleSelection::is_empty) {
        anyhow::bail!(
            "nothing to export: name what goes in with --flight, --mission and --snapshot, or \
             give --all"
        );
    }
    if import_kind(output).ok() != Some(ImportKind::Bundle) {
        anyhow::bail!(
            "{}: name the bundle FILE.{BUNDLE_EXTENSION}, so that `airgap vault import` knows \
             what it is",
            output.display()
        );
    }
    let kdf = kdf_from_env()?;
    let vault = open_unlocked()?;
    let selection = match selection {
        Some(selection) => selection,
        None => {
            let (all, left_out) = BundleSelection::everything(&vault).map_err(explain)?;
            for damaged in &left_out {
                eprintln!("airgap: left out of the bundle, since it cannot be read: {damaged}");
            }
            all
        }
    };
    let passphrase = crate::secret::choose(
        BUNDLE_PASSPHRASE_FILE_ENV,
        "Choose the bundle's passphrase (not the vault's). Only it opens the bundle: if it is \
         forgotten, nothing in the bundle can be recovered.",
    )?;
    let file = std::fs::File::create(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let mut out = BufWriter::new(file);
    let report = match vault.export_bundle(&selection, &passphrase, kdf, &mut out) {
        Ok(report) => report,
        Err(e) => {
            // Leave no partial file that looks like a bundle.
            drop(out);
            let _ = std::fs::remove_file(output);
            return Err(explain(e).context(format!("exporting to {}", output.display())));
        }
    };
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "bundle: {} flights, {} missions, {} snapshots, {} → {}",
        report.flights,
        report.missions,
        report.snapshots,
        crate::log::size_text(report.bytes),
        output.display()
    );
    for damaged in &report.damaged {
        eprintln!("airgap: left a damaged part of a flight out of the bundle: {damaged}");
    }
    for (flight, index) in &report.missing_chunks {
        eprintln!(
            "airgap: chunk {index} of flight {flight} is missing from the vault; the bundled \
             flight has a gap there"
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

fn import(file: &Path, name: Option<String>, sysid: Option<u8>) -> anyhow::Result<ExitCode> {
    let kind = import_kind(file)?;
    if name.is_some() && !matches!(kind, ImportKind::Mission(_)) {
        anyhow::bail!(
            "--name names an imported mission; {} is not a mission file",
            file.display()
        );
    }
    if sysid.is_some() && !matches!(kind, ImportKind::Snapshot(_)) {
        anyhow::bail!(
            "--sysid applies to parameter files; {} is not one",
            file.display()
        );
    }
    // Read before any passphrase is asked for: a wrong path fails first.
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = || {
        std::str::from_utf8(&bytes).with_context(|| format!("{}: not a text file", file.display()))
    };
    let context = || format!("importing {}", file.display());
    match kind {
        ImportKind::Bundle => {
            let vault = open_unlocked()?;
            let passphrase = bundle_passphrase_to_open()?;
            let report = vault
                .import_bundle(&passphrase, &bytes)
                .map_err(|e| match e {
                    VaultError::WrongPassphrase => anyhow::anyhow!(
                        "wrong bundle passphrase (the bundle's own, not the vault's), or the \
                         start of the bundle is damaged; nothing was imported"
                    ),
                    VaultError::Bundle { reason } => {
                        anyhow::anyhow!("{reason}; nothing was imported")
                    }
                    other => explain(other),
                })
                .with_context(context)?;
            for f in &report.flights {
                println!("flight {}", f.id);
            }
            for m in &report.missions {
                println!("mission {}", m.id);
            }
            for s in &report.snapshots {
                println!("snapshot {}", s.id);
            }
            eprintln!(
                "airgap: imported {}: {} flights, {} missions, {} snapshots",
                file.display(),
                report.flights.len(),
                report.missions.len(),
                report.snapshots.len()
            );
        }
        ImportKind::Flight => {
            let vault = open_unlocked()?;
            let flight = crate::log::import_tlog(&vault, file, &bytes)?;
            println!("flight {}", flight.id);
        }
        ImportKind::Mission(format) => {
            let name = match name {
                Some(name) => name,
                None => file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            let name = name.trim();
            if name.is_empty() {
                anyhow::bail!("a saved mission needs a name (--name)");
            }
            let text = text()?;
            let vault = open_unlocked()?;
            let m = vault
                .import_mission_file(name, text, format)
                .map_err(explain)
                .with_context(context)?;
            println!("mission {}", m.id);
            eprintln!(
                "airgap: imported {} as mission \"{}\": {} mission items, {} fence, {} rally",
                file.display(),
                m.name,
                m.counts.mission,
                m.counts.fence,
                m.counts.rally
            );
        }
        ImportKind::Snapshot(format) => {
            let text = text()?;
            let vault = open_unlocked()?;
            let s = vault
                .import_param_file(text, format, sysid)
                .map_err(explain)
                .with_context(context)?;
            println!("snapshot {}", s.id);
            eprintln!(
                "airgap: imported {} as a parameter snapshot of vehicle {}: {} parameters",
                file.display(),
                s.sysid,
                s.count
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
