//! `airgap vault` (init, status, lock, passwd), and how every vault-backed verb finds,
//! opens and unlocks the vault: `AIRGAP_DATA_DIR`, passphrases from [`crate::secret`], and
//! the vault's errors turned into what a pilot should do next.
//!
//! A CLI process holds the vault only while its verb runs and locks it before it ends, so a
//! vault at rest is always locked.

use std::path::PathBuf;
use std::process::ExitCode;

use airgap_vault::{KdfParams, Vault, VaultConfig, VaultError};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::secret;

pub const DATA_DIR_ENV: &str = "AIRGAP_DATA_DIR";
/// `fast` selects Argon2id parameters that make tests quick and protect nothing.
pub const KDF_ENV: &str = "AIRGAP_KDF";

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
