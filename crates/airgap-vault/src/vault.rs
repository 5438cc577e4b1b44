//! The vault handle: creating and opening, the header (format version, salt, Argon2id
//! parameters, wrapped keys, public key), lock / unlock / change of passphrase, and the
//! record helpers every kind of record goes through.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{KeyInit, OsRng};
use aes_gcm::Aes256Gcm;
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::audit::{AuditEvent, AuditHead};
use crate::crypto::{self, KdfParams, Key32, RecordKind};
use crate::error::VaultError;
use crate::ids::hex_bytes;
use crate::store::{SledStore, Store};

/// The format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

pub const TREE_META: &str = "meta";
const KEY_FORMAT: &[u8] = b"format";
const KEY_HEADER: &[u8] = b"header";
const SALT_LEN: usize = 16;

/// The vault directory inside an Airgap data directory (`AIRGAP_DATA_DIR`).
pub fn vault_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("vault")
}

/// How to create a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// Argon2id cost of deriving the key-encryption key. Stored in the header, so later
    /// unlocks use what creation (or the last passphrase change) used.
    pub kdf: KdfParams,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            kdf: KdfParams::PRODUCTION,
        }
    }
}

/// The plaintext header. Nothing here is secret: the salt and parameters must be readable
/// before the passphrase is known, and the public key is what recording seals to.
#[derive(Clone, Serialize, Deserialize)]
struct Header {
    kdf: KdfParams,
    #[serde(with = "hex_bytes")]
    salt: Vec<u8>,
    #[serde(with = "hex_bytes")]
    public_key: Vec<u8>,
    #[serde(with = "hex_bytes")]
    wrapped_data_key: Vec<u8>,
    #[serde(with = "hex_bytes")]
    wrapped_secret_key: Vec<u8>,
}

impl Header {
    fn binding(&self, purpose: &[u8]) -> Vec<u8> {
        let mut b = Vec::with_capacity(64 + purpose.len());
        b.extend_from_slice(b"airgap-vault wrap v1\0");
        b.extend_from_slice(purpose);
        b.push(0);
        b.extend_from_slice(&self.public_key);
        b.extend_from_slice(&self.salt);
        for v in [self.kdf.m_cost_kib, self.kdf.t_cost, self.kdf.p_cost] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    }

    fn build(
        kdf: KdfParams,
        passphrase: &SecretString,
        public_key: &PublicKey,
        data_key: &[u8; 32],
        secret_key: &[u8; 32],
    ) -> Result<Header, VaultError> {
        let mut header = Header {
            kdf,
            salt: crypto::random_bytes::<SALT_LEN>().to_vec(),
            public_key: public_key.as_bytes().to_vec(),
            wrapped_data_key: Vec::new(),
            wrapped_secret_key: Vec::new(),
        };
        let kek = kdf.derive(passphrase.expose_secret().as_bytes(), &header.salt)?;
        header.wrapped_data_key = crypto::wrap(&kek, &header.binding(b"data-key"), data_key);
        header.wrapped_secret_key =
            crypto::wrap(&kek, &header.binding(b"x25519-secret"), secret_key);
        Ok(header)
    }

    fn public_key(&self) -> Option<PublicKey> {
        let pk: [u8; 32] = self.public_key.as_slice().try_into().ok()?;
        Some(PublicKey::from(pk))
    }
}

/// What an unlocked vault holds. Everything here is wiped when dropped: `Key32` is
/// `Zeroizing`, `StaticSecret` zeroizes itself, and aes-gcm's `zeroize` feature wipes the
/// expanded key schedule.
pub(crate) struct Secrets {
    pub(crate) cipher: Aes256Gcm,
    pub(crate) secret_key: StaticSecret,
    /// Derives the opaque store keys of named settings.
    pub(crate) settings_key: Key32,
}

impl Secrets {
    fn new(data_key: &[u8; 32], secret_key: StaticSecret) -> Secrets {
        let mut settings_key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, data_key)
            .expand(b"airgap-vault settings keys v1", settings_key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Secrets {
            cipher: Aes256Gcm::new(data_key.into()),
            secret_key,
            settings_key,
        }
    }

    /// Open either kind of record.
    pub(crate) fn open(
        &self,
        tree: &str,
        key: &[u8],
        record: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        match crypto::record_kind(record) {
            Some(RecordKind::Data) => crypto::open_data(&self.cipher, tree, key, record),
            Some(RecordKind::Sealed) => crypto::open_sealed(&self.secret_key, tree, key, record),
            None => Err(VaultError::corrupt(tree, key)),
        }
    }
}

/// State shared by a [`Vault`] and its flight recorders.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) public_key: PublicKey,
    header: Mutex<Header>,
    secrets: Mutex<Option<Secrets>>,
    pub(crate) audit: Mutex<AuditHead>,
    path: Option<PathBuf>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding one of these leaves the value consistent (every
    // update is a single assignment), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl Shared {
    /// Run `f` with the secrets, or fail with `Locked`.
    pub(crate) fn with_secrets<R>(
        &self,
        f: impl FnOnce(&Secrets) -> Result<R, VaultError>,
    ) -> Result<R, VaultError> {
        match &*lock(&self.secrets) {
            Some(s) => f(s),
            None => Err(VaultError::Locked),
        }
    }

    pub(crate) fn is_unlocked(&self) -> bool {
        lock(&self.secrets).is_some()
    }

    /// Encrypt under the data key and store (not flushed).
    pub(crate) fn put_data(&self, tree: &str, key: &[u8], plain: &[u8]) -> Result<(), VaultError> {
        let record = self.with_secrets(|s| Ok(crypto::seal_data(&s.cipher, tree, key, plain)))?;
        self.store.insert(tree, key, &record)?;
        Ok(())
    }

    /// Read and open a record; `None` when absent.
    pub(crate) fn get_plain(
        &self,
        tree: &str,
        key: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        // Fail with Locked before touching the store, so a locked vault's answer does not
        // depend on which records exist.
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        let Some(record) = self.store.get(tree, key)? else {
            return Ok(None);
        };
        self.with_secrets(|s| s.open(tree, key, &record)).map(Some)
    }

    /// Read, open and parse a JSON record; `None` when absent.
    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        tree: &str,
        key: &[u8],
    ) -> Result<Option<T>, VaultError> {
        match self.get_plain(tree, key)? {
            None => Ok(None),
            Some(plain) => serde_json::from_slice(&plain)
                .map(Some)
                .map_err(|_| VaultError::corrupt(tree, key)),
        }
    }

    pub(crate) fn put_json<T: Serialize>(
        &self,
        tree: &str,
        key: &[u8],
        value: &T,
    ) -> Result<(), VaultError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(value)
                .expect("vault records serialize (no maps with non-string keys)"),
        );
        self.put_data(tree, key, &plain)
    }

    /// Open and parse every record of a tree; records that fail land in `damaged`.
    pub(crate) fn list_json<T: serde::de::DeserializeOwned>(
        &self,
        tree: &str,
    ) -> Result<Listing<(Vec<u8>, T)>, VaultError> {
        self.with_secrets(|s| {
            let mut listing = Listing::default();
            for entry in self.store.scan_prefix(tree, b"") {
                let (key, record) = entry?;
                match s.open(tree, &key, &record).and_then(|plain| {
                    serde_json::from_slice(&plain).map_err(|_| VaultError::corrupt(tree, &key))
                }) {
                    Ok(value) => listing.items.push((key, value)),
                    Err(e) => listing.damaged.push(e),
                }
            }
            Ok(listing)
        })
    }

    fn header(&self) -> Header {
        lock(&self.header).clone()
    }
}

/// A listing: every record that opened, and an error for each that did not, so one damaged
/// record never hides the others.
#[derive(Debug)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// One `Corrupt { tree, key }` (or storage error) per record that could not be read.
    pub damaged: Vec<VaultError>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            items: Vec::new(),
            damaged: Vec::new(),
        }
    }
}

/// What `vault status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultStatus {
    pub unlocked: bool,
    pub format_version: u32,
    pub kdf: KdfParams,
    /// The vault directory, when the vault lives in one.
    pub path: Option<PathBuf>,
}

/// What the process holds for this vault right now, for tests and for anyone auditing the
/// claim in the crate documentation. Locked, `secrets` is empty and every other field is
/// stored in plaintext in the vault header anyway.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct HeldKeyMaterial {
    pub public_key: [u8; 32],
    pub salt: Vec<u8>,
    pub kdf: KdfParams,
    pub wrapped_data_key: Vec<u8>,
    pub wrapped_secret_key: Vec<u8>,
    /// Names of the secrets held; empty when locked.
    pub secrets: Vec<&'static str>,
}

/// An open vault. Cheap to share behind an `Arc`; every method takes `&self`.
///
/// Opened, a vault is locked; [`Vault::unlock`] derives the key-encryption key from the
/// passphrase and unwraps the data key and the X25519 secret key. Recording
/// ([`Vault::start_flight`]) and auditing work either way.
pub struct Vault {
    pub(crate) shared: Arc<Shared>,
}

impl Vault {
    /// Create a vault in `dir` (created if missing, mode 0700) and return it unlocked.
    pub fn create(
        dir: &Path,
        passphrase: &SecretString,
        config: VaultConfig,
    ) -> Result<Vault, VaultError> {
        let store = Arc::new(SledStore::open(dir)?);
        Vault::create_in(store, Some(dir.to_owned()), passphrase, config)
    }

    /// Open the vault in `dir`, locked. `InUse` when another process has it open.
    pub fn open(dir: &Path) -> Result<Vault, VaultError> {
        if !dir.exists() {
            return Err(VaultError::NoVault {
                path: dir.to_owned(),
            });
        }
        let store = Arc::new(SledStore::open(dir)?);
        Vault::open_in(store, Some(dir.to_owned()))
    }

    /// Whether `dir` holds a vault (without opening it).
    pub fn exists(dir: &Path) -> bool {
        dir.join("sled").exists()
    }

    /// Create a vault in any store (tests use [`crate::MemStore`]); `path` is only reported.
    pub fn create_in(
        store: Arc<dyn Store>,
        path: Option<PathBuf>,
        passphrase: &SecretString,
        config: VaultConfig,
    ) -> Result<Vault, VaultError> {
        if store.get(TREE_META, KEY_FORMAT)?.is_some() {
            return Err(VaultError::AlreadyExists {
                path: path.unwrap_or_default(),
            });
        }
        config.kdf.validate()?;
        let data_key = crypto::random_key();
        let secret_key = StaticSecret::random_from_rng(OsRng);
        let public_key = PublicKey::from(&secret_key);
        let header = Header::build(
            config.kdf,
            passphrase,
            &public_key,
            &data_key,
            &Zeroizing::new(secret_key.to_bytes()),
        )?;
        store.insert(
            TREE_META,
            KEY_HEADER,
            &serde_json::to_vec(&header).expect("the header serializes"),
        )?;
        // The format key goes last: a crash before it leaves no vault, and creating again
        // overwrites the half-written header.
        store.insert(TREE_META, KEY_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
        store.flush()?;
        let vault = Vault {
            shared: Arc::new(Shared {
                store,
                public_key,
                header: Mutex::new(header),
                secrets: Mutex::new(Some(Secrets::new(&data_key, secret_key))),
                audit: Mutex::new(AuditHead::default()),
                path,
            }),
        };
        vault.audit(AuditEvent::VaultCreated)?;
        Ok(vault)
    }

    /// Open a vault in any store, locked.
    pub fn open_in(store: Arc<dyn Store>, path: Option<PathBuf>) -> Result<Vault, VaultError> {
        let Some(format) = store.get(TREE_META, KEY_FORMAT)? else {
            return Err(VaultError::NoVault {
                path: path.unwrap_or_default(),
            });
        };
        let found = u32::from_be_bytes(
            format
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::corrupt(TREE_META, KEY_FORMAT))?,
        );
        if found != FORMAT_VERSION {
            return Err(VaultError::UnknownFormat {
                found,
                supported: FORMAT_VERSION,
            });
        }
        let bad_header = || VaultError::corrupt(TREE_META, KEY_HEADER);
        let header: Header = store
            .get(TREE_META, KEY_HEADER)?
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(bad_header)?;
        let public_key = header.public_key().ok_or_else(bad_header)?;
        if header.salt.len() < SALT_LEN || header.kdf.validate().is_err() {
            return Err(bad_header());
        }
        let audit = AuditHead::load(store.as_ref())?;
        Ok(Vault {
            shared: Arc::new(Shared {
                store,
                public_key,
                header: Mutex::new(header),
                secrets: Mutex::new(None),
                audit: Mutex::new(audit),
                path,
            }),
        })
    }

    pub fn is_unlocked(&self) -> bool {
        self.shared.is_unlocked()
    }

    pub fn status(&self) -> VaultStatus {
        VaultStatus {
            unlocked: self.is_unlocked(),
            format_version: FORMAT_VERSION,
            kdf: self.shared.header().kdf,
            path: self.shared.path.clone(),
        }
    }

    /// Derive the key-encryption key and unwrap both keys. Takes as long as the Argon2id
    /// parameters make it (about 0.4 s with the production ones here): call it off the UI thread.
    /// A wrong passphrase is audited as `UnlockFailed` and returns `WrongPassphrase`.
    pub fn unlock(&self, passphrase: &SecretString) -> Result<(), VaultError> {
        let header = self.shared.header();
        let secrets = match unwrap_keys(&header, passphrase)? {
            Some(s) => s,
            None => {
                self.audit(AuditEvent::UnlockFailed)?;
                return Err(VaultError::WrongPassphrase);
            }
        };
        let was_unlocked = {
            let mut held = lock(&self.shared.secrets);
            let was = held.is_some();
            *held = Some(secrets);
            was
        };
        if !was_unlocked {
            self.audit(AuditEvent::Unlocked)?;
        }
        Ok(())
    }

    /// Audit `Locked`, then drop (and so wipe) every secret. Recording goes on. Locking a
    /// locked vault does nothing.
    pub fn lock(&self) -> Result<(), VaultError> {
        if !self.is_unlocked() {
            return Ok(());
        }
        // Audited while the data key is still held, so the entry is authenticated.
        let audited = self.audit(AuditEvent::Locked);
        *lock(&self.shared.secrets) = None;
        audited
    }

    /// Rewrap both keys under `new` (with a fresh salt, and `kdf` if given, else the current
    /// parameters). Records are not re-encrypted. Needs the current passphrase whether or
    /// not the vault is unlocked, and leaves the lock state as it was.
    pub fn change_passphrase(
        &self,
        old: &SecretString,
        new: &SecretString,
        kdf: Option<KdfParams>,
    ) -> Result<(), VaultError> {
        let header = self.shared.header();
        let kdf = kdf.unwrap_or(header.kdf);
        kdf.validate()?;
        let Some((data_key, secret_key)) = unwrap_raw(&header, old)? else {
            self.audit(AuditEvent::UnlockFailed)?;
            return Err(VaultError::WrongPassphrase);
        };
        let new_header = Header::build(kdf, new, &self.shared.public_key, &data_key, &secret_key)?;
        self.shared.store.insert(
            TREE_META,
            KEY_HEADER,
            &serde_json::to_vec(&new_header).expect("the header serializes"),
        )?;
        self.shared.store.flush()?;
        *lock(&self.shared.header) = new_header;
        self.audit(AuditEvent::PassphraseChanged)
    }

    #[doc(hidden)]
    pub fn held_key_material(&self) -> HeldKeyMaterial {
        let header = self.shared.header();
        HeldKeyMaterial {
            public_key: *self.shared.public_key.as_bytes(),
            salt: header.salt,
            kdf: header.kdf,
            wrapped_data_key: header.wrapped_data_key,
            wrapped_secret_key: header.wrapped_secret_key,
            secrets: if self.is_unlocked() {
                vec![
                    "data key (AES-256-GCM)",
                    "X25519 secret key",
                    "settings key",
                ]
            } else {
                Vec::new()
            },
        }
    }

    /// The vault's X25519 public key (what recording seals to).
    pub fn public_key(&self) -> [u8; 32] {
        *self.shared.public_key.as_bytes()
    }
}

/// `None` for a wrong passphrase.
fn unwrap_raw(
    header: &Header,
    passphrase: &SecretString,
) -> Result<Option<(Key32, Key32)>, VaultError> {
    let corrupt = || VaultError::corrupt(TREE_META, KEY_HEADER);
    let kek = header
        .kdf
        .derive(passphrase.expose_secret().as_bytes(), &header.salt)?;
    let Some(data_key) =
        crypto::unwrap(&kek, &header.binding(b"data-key"), &header.wrapped_data_key)
    else {
        return Ok(None);
    };
    // The passphrase was right (the data key authenticated), so a secret key that does not
    // unwrap, or does not match the stored public key, means the header was tampered with.
    let secret = crypto::unwrap(
        &kek,
        &header.binding(b"x25519-secret"),
        &header.wrapped_secret_key,
    )
    .ok_or_else(corrupt)?;
    let public = header.public_key().ok_or_else(corrupt)?;
    if PublicKey::from(&StaticSecret::from(*secret)) != public {
        return Err(corrupt());
    }
    Ok(Some((data_key, secret)))
}

fn unwrap_keys(header: &Header, passphrase: &SecretString) -> Result<Option<Secrets>, VaultError> {
    Ok(unwrap_raw(header, passphrase)?
        .map(|(data_key, secret)| Secrets::new(&data_key, StaticSecret::from(*secret))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[test]
    fn handles_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Vault>();
        send::<crate::FlightRecorder>();
    }

    #[test]
    fn lock_cycle_in_memory() {
        let pass = SecretString::from("p".to_owned());
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let config = VaultConfig {
            kdf: KdfParams::INSECURE_FAST,
        };
        let vault = Vault::create_in(store.clone(), None, &pass, config).unwrap();
        assert!(vault.is_unlocked());
        assert_eq!(vault.held_key_material().secrets.len(), 3);
        vault.set_setting("k", &1u8).unwrap();
        vault.lock().unwrap();
        assert!(matches!(vault.setting::<u8>("k"), Err(VaultError::Locked)));
        drop(vault);
        let vault = Vault::open_in(store, None).unwrap();
        assert!(!vault.is_unlocked());
        vault.unlock(&pass).unwrap();
        assert_eq!(vault.setting::<u8>("k").unwrap(), Some(1));
        assert_eq!(vault.verify_audit().unwrap().entries, 3);
    }
}
