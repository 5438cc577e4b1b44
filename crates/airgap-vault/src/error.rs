//! The vault's one error type, and what `verify_audit` reports about a broken chain.

use std::fmt;
use std::path::PathBuf;

use crate::store::StoreError;

/// Everything that can go wrong with a vault. Variants are named after outcomes; a caller
/// matches on `WrongPassphrase`, `Locked`, `InUse` and `Corrupt` to tell the pilot what to do.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("wrong passphrase")]
    WrongPassphrase,
    #[error("the vault is locked; unlock it first")]
    Locked,
    /// A record failed authentication or does not parse: flipped bytes, a record moved to
    /// another key or tree, or a record from another vault. Nothing of it is returned.
    #[error("record {key} in {tree} is corrupt or was tampered with")]
    Corrupt { tree: String, key: RecordKey },
    #[error("vault format version {found} is not supported (this build reads version {supported}); use a newer Airgap")]
    UnknownFormat { found: u32, supported: u32 },
    #[error("the vault at {path} is open in another process")]
    InUse { path: PathBuf },
    #[error("no vault at {path}; create one first")]
    NoVault { path: PathBuf },
    #[error("a vault already exists at {path}")]
    AlreadyExists { path: PathBuf },
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    /// The database files themselves are damaged (truncated, or not a database at all).
    #[error("the vault database is damaged: {detail}")]
    DatabaseCorrupt { detail: String },
    #[error("the mission is not a valid .plan: {0}")]
    InvalidPlan(#[from] airgap_core::mission::plan_file::PlanFileError),
    #[error("the mission cannot be written as a .plan: {0}")]
    PlanNotWritable(#[from] airgap_core::mission::plan_file::PlanWriteError),
    #[error("the mission is not a valid .waypoints file: {0}")]
    InvalidWaypoints(#[from] airgap_core::mission::waypoints_file::WaypointsFileError),
    #[error("the file is not a valid parameter file: {0}")]
    InvalidParamFile(#[from] airgap_core::params::file::ParamFileError),
    /// A `.tlog` to import in which not one MAVLink frame could be found.
    #[error("the file holds no MAVLink frame: not a .tlog")]
    NotATlog,
    /// An export bundle (`.agvb`) that cannot be read: what is wrong with it. A wrong bundle
    /// passphrase is `WrongPassphrase`, as for the vault.
    #[error("the bundle cannot be read: {reason}")]
    Bundle {
        reason: crate::bundle::BundleProblem,
    },
    #[error("invalid Argon2id parameters: {reason}")]
    InvalidKdfParams { reason: String },
    #[error("setting {name:?} could not be stored or read as the requested type: {reason}")]
    Setting { name: String, reason: String },
    #[error("the audit trail is broken at entry {seq}: {problem}")]
    AuditBroken { seq: u64, problem: AuditProblem },
    #[error("the storage backend failed: {detail}")]
    Backend { detail: String },
    /// The database lost writes it had made durable: truncated, or replaced by an older
    /// copy. Nothing is opened, so nothing recorded since can silently land on top of it.
    #[error("the vault database is older than its last write (generation {found}, expected {expected}): a file was truncated or replaced by an older copy")]
    RolledBack { found: u64, expected: u64 },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InUse { path } => VaultError::InUse { path },
            StoreError::Io(e) => VaultError::Io(e),
            StoreError::Corrupt { detail } => VaultError::DatabaseCorrupt { detail },
            StoreError::Backend { detail } => VaultError::Backend { detail },
            StoreError::RolledBack { found, expected } => {
                VaultError::RolledBack { found, expected }
            }
        }
    }
}

/// What is wrong with the audit trail at an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// The entry is gone (the next one is still there).
    Missing,
    /// The entry does not authenticate under its own position: its bytes were changed.
    Edited,
    /// The entry found here was written as entry `written_as`: entries were reordered.
    Moved { written_as: u64 },
    /// The entry authenticates but does not follow the entry stored before it: that one
    /// was replaced by a forged entry.
    ChainBroken,
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditProblem::Missing => f.write_str("the entry was deleted"),
            AuditProblem::Edited => f.write_str("the entry was edited"),
            AuditProblem::Moved { written_as } => {
                write!(
                    f,
                    "the entry was written as entry {written_as} (entries reordered)"
                )
            }
            AuditProblem::ChainBroken => f.write_str(
                "the entry does not follow the one stored before it (that one was replaced)",
            ),
        }
    }
}

/// A record key as shown in errors: text when it is printable ASCII (the few fixed keys of
/// the `meta` tree), hex otherwise (every opaque id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey(pub Vec<u8>);

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.is_empty() && self.0.iter().all(|b| b.is_ascii_graphic()) {
            f.write_str(&String::from_utf8_lossy(&self.0))
        } else {
            for b in &self.0 {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        }
    }
}

impl VaultError {
    pub(crate) fn corrupt(tree: &str, key: &[u8]) -> VaultError {
        VaultError::Corrupt {
            tree: tree.to_owned(),
            key: RecordKey(key.to_vec()),
        }
    }
}
