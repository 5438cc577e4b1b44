//! The encrypted vault: everything Airgap keeps (flights, missions, parameter snapshots,
//! settings, the audit trail) encrypted at rest in one directory (`AIRGAP_DATA_DIR/vault`).
//!
//! # Design
//! - sled underneath, behind the [`Store`] trait ([`SledStore`]; [`MemStore`] for tests).
//!   The directory is locked for as long as a vault is open: a second opener gets
//!   [`VaultError::InUse`]. A format version is stored and checked
//!   ([`VaultError::UnknownFormat`]).
//! - A random 256-bit **data key** encrypts missions, parameter snapshots, settings, and
//!   audit entries written while unlocked, with AES-256-GCM. An **X25519 key pair** lets
//!   recording go on while locked: each flight chunk, flight-metadata record and locked-time
//!   audit entry is *sealed* to the public key with a fresh ephemeral key (X25519, then
//!   HKDF-SHA256, then AES-256-GCM). The data key and the X25519 secret key are both wrapped
//!   with AES-256-GCM under a key derived from the passphrase by Argon2id; the salt and the
//!   Argon2id parameters sit beside them in the header. Changing the passphrase rewraps
//!   the two keys and re-encrypts nothing.
//! - Every record is `magic ‖ version ‖ [ephemeral public key ‖] nonce ‖ ciphertext+tag`
//!   with AAD binding the tree, the record key and the version, so a record moved to
//!   another key or tree fails to open ([`VaultError::Corrupt`]). Nonces are random 96-bit.
//! - Store keys are opaque: random 128-bit ids, `flight id ‖ chunk index`, audit sequence
//!   numbers, and keyed hashes of setting names. Names, times and places exist only inside
//!   encrypted values.
//!
//! # What the process holds in memory
//! **Locked** (after [`Vault::open`] or [`Vault::lock`]): the vault's X25519 *public* key,
//! the two wrapped key blobs, the salt and the Argon2id parameters (all also stored in
//! plaintext in the header), and the audit chain's head (the next sequence number and the
//! hash of the last stored entry, computed from ciphertext). No secret: nothing held can
//! open any record, neither those written before locking nor those written since. A
//! [`FlightRecorder`] additionally holds the plaintext of the chunk it is filling (at most
//! one chunk period of incoming telemetry, encrypted in place when sealed, its buffer wiped
//! on drop), which is data on its way in, and the key agreement prepared for its *next*
//! chunk (a fresh ephemeral key and the secret it shares with the vault's public key), which
//! no written record uses, is used once and then wiped.
//!
//! **Unlocked**: the above plus the data key (as an AES-256-GCM key schedule), the X25519
//! secret key, and a settings key derived from the data key. All are zeroized when the vault
//! is locked or dropped. The passphrase and the key derived from it live only for the
//! duration of [`Vault::unlock`] / [`Vault::change_passphrase`] and are zeroized then.
//! `Vault::held_key_material` (hidden, for tests) reports this list at run time.
//!
//! # Limits (by design)
//! Sealed records are confidential but, like any public-key encryption, not authenticated
//! against someone who has the vault's public key and write access to its files: such a
//! person could add a forged chunk or a forged locked-time audit entry. They cannot read
//! anything, nor alter or move an existing record undetected. See [`audit`] for how the
//! audit chain bounds this. A tampered header that leaves the passphrase check intact is
//! `Corrupt`; one that breaks it reads as `WrongPassphrase`.
//!
//! # API map
//! [`Vault::create`] / [`Vault::open`] / [`Vault::unlock`] / [`Vault::lock`] /
//! [`Vault::change_passphrase`]; flights: [`Vault::start_flight`] → [`FlightRecorder`],
//! [`Vault::flights`], [`Vault::export_flight_tlog`], [`Vault::delete_flight`]; missions:
//! [`Vault::save_mission`], [`Vault::missions`], [`Vault::mission`],
//! [`Vault::rename_mission`], [`Vault::delete_mission`]; parameters:
//! [`Vault::save_param_snapshot`], [`Vault::param_snapshots`], [`Vault::param_snapshot`];
//! settings: [`Vault::set_setting`], [`Vault::setting`]; audit: [`Vault::audit`],
//! [`Vault::audit_entries`], [`Vault::verify_audit`]; bundles and imports:
//! [`Vault::export_bundle`], [`Vault::import_bundle`], [`Vault::import_tlog`],
//! [`Vault::import_mission_file`], [`Vault::import_param_file`].

pub mod audit;
mod bundle;
mod crypto;
mod error;
mod flight;
mod ids;
mod mission;
mod params;
mod settings;
mod store;
mod tiles;
mod vault;

pub use audit::{AuditEntry, AuditEvent, AuditReport};
pub use bundle::{
    BundleProblem, BundleReport, BundleSelection, ImportReport, MissionFileFormat, BUNDLE_EXTENSION,
};
pub use crypto::KdfParams;
pub use error::{AuditProblem, RecordKey, VaultError};
pub use flight::{ChunkWritten, ExportReport, FlightRecorder, FlightSummary, RecorderConfig};
pub use ids::{FlightId, MissionId, ParseIdError, SnapshotId};
pub use mission::{ItemCounts, MissionSummary, StoredMission};
pub use params::{ParamSnapshot, SnapshotSummary};
pub use secrecy::SecretString;
pub use store::{Entries, Entry, MemStore, SledStore, Store, StoreError};
pub use tiles::{NewTile, StoredTile, TileSourceSummary};
pub use vault::{
    vault_dir, HeldKeyMaterial, Listing, Vault, VaultConfig, VaultStatus, FORMAT_VERSION,
};

/// Internals exposed for this crate's integration tests and benches (tamper, plaintext and
/// locked-state tests need to name trees and keys and to try keys by hand). Not an API.
#[doc(hidden)]
pub mod testing {
    use aes_gcm::aead::KeyInit;
    use aes_gcm::Aes256Gcm;
    use x25519_dalek::StaticSecret;

    pub use crate::audit::TREE_AUDIT;
    pub use crate::flight::{chunk_key, TREE_CHUNKS, TREE_FLIGHTS};
    pub use crate::mission::TREE_MISSIONS;
    pub use crate::params::TREE_PARAMS;
    pub use crate::settings::TREE_SETTINGS;
    pub use crate::vault::TREE_META;

    /// Whether `record`, stored at `tree`/`key`, opens with `candidate` taken as a data key
    /// or as an X25519 secret key.
    pub fn opens_with(candidate: &[u8; 32], tree: &str, key: &[u8], record: &[u8]) -> bool {
        let cipher = Aes256Gcm::new(candidate.into());
        let secret = StaticSecret::from(*candidate);
        crate::crypto::open_data(&cipher, tree, key, record).is_ok()
            || crate::crypto::open_sealed(&secret, tree, key, record).is_ok()
    }

    /// The X25519 public key of a secret key (for control cases in tests).
    pub fn public_key_for(secret: &[u8; 32]) -> [u8; 32] {
        *x25519_dalek::PublicKey::from(&StaticSecret::from(*secret)).as_bytes()
    }

    /// Seal `plaintext` to a public key, as a recorder does (for benches).
    pub fn seal_to(public_key: &[u8; 32], tree: &str, key: &[u8], plaintext: &[u8]) -> Vec<u8> {
        crate::crypto::seal_to(
            &x25519_dalek::PublicKey::from(*public_key),
            tree,
            key,
            plaintext,
        )
    }
}
