//! The storage boundary: a small key-value [`Store`] trait over named trees, its sled
//! implementation (the only code that knows sled) and an in-memory one for unit tests.
//!
//! A store sees only opaque keys and encrypted values; it never interprets either.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One key-value pair read from a store.
pub type Entry = (Vec<u8>, Vec<u8>);
/// Pairs in key order.
pub type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + Send + 'a>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} is open in another process")]
    InUse { path: PathBuf },
    #[error("the database files are damaged: {detail}")]
    Corrupt { detail: String },
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("the storage backend failed: {detail}")]
    Backend { detail: String },
    /// The database holds fewer writes than it once made durable: a file was truncated or
    /// replaced by an older copy (sled recovers either as an earlier consistent state).
    #[error("the database is at write generation {found}, but generation {expected} was made durable before: a file was truncated or replaced by an older copy")]
    RolledBack { found: u64, expected: u64 },
}

/// Ordered key-value trees, durable after [`Store::flush`]. Keys sort bytewise.
pub trait Store: Send + Sync {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removing an absent key is not an error.
    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), StoreError>;
    /// Every pair whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Entries<'_>;
    /// Make every write so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}

/// Name of the lock file in a vault directory.
const LOCK_FILE: &str = "airgap-vault.lock";
/// Name of sled's own directory inside a vault directory.
const SLED_DIR: &str = "sled";
/// The generation anchor, beside sled's directory: the number of the last durable flush.
/// sled recovers a log cut short as the state of an earlier flush, silently, exactly as after
/// a crash; a generation stored inside the database that is behind this file's says the
/// database lost writes it had made durable. The anchor is written after the flush it
/// counts, so after a crash it is behind or equal, never ahead.
const ANCHOR_FILE: &str = "generation";
/// Where the database keeps its own copy of the generation.
const STORE_TREE: &str = "__store";
const GENERATION_KEY: &[u8] = b"generation";
/// Stored beside the generation in the anchor (XORed), so a torn write is recognised.
const ANCHOR_CHECK: u64 = 0x6169_7267_6170_6765;
/// sled's page cache defaults to 1 GiB; recording only appends, and the app's whole process
/// tree has a memory budget of a few hundred MiB.
const SLED_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// The sled store of a vault directory. Holds an exclusive lock on the directory for its
/// lifetime, so a second opener (another process, or the same one) fails at once with
/// [`StoreError::InUse`] rather than waiting or panicking.
pub struct SledStore {
    db: sled::Db,
    trees: Mutex<HashMap<String, sled::Tree>>,
    /// The last durable flush's number, and the anchor file that records it.
    generation: Mutex<(u64, File)>,
    // Held for the lock; released by the OS when the file closes or the process dies.
    _lock: File,
}

impl SledStore {
    /// Open (creating it if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        create_private_dir(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        if let Err(e) = fs2::FileExt::try_lock_exclusive(&lock) {
            return Err(if e.kind() == fs2::lock_contended_error().kind() {
                StoreError::InUse {
                    path: dir.to_owned(),
                }
            } else {
                StoreError::Io(e)
            });
        }
        // Our lock is held, so no other process has the vault. sled takes a lock of its own
        // on its files, which the background threads of a store this process just dropped
        // may hold for a moment longer: wait that out rather than report a busy vault.
        let deadline = std::time::Instant::now() + SLED_RELEASE_WAIT;
        let db = loop {
            match sled::Config::new()
                .path(dir.join(SLED_DIR))
                .cache_capacity(SLED_CACHE_BYTES)
                .open()
            {
                Ok(db) => break db,
                // sled reports its lock as an `Other` I/O error with this text.
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(from_sled(e)),
            }
        };
        let stored = match db
            .open_tree(STORE_TREE)
            .and_then(|t| t.get(GENERATION_KEY))
            .map_err(from_sled)?
        {
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    detail: "the stored write generation is not 8 bytes".to_owned(),
                })?,
            None => 0,
        };
        let mut anchor = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dir.join(ANCHOR_FILE))?;
        match read_anchor(&mut anchor)? {
            Some(expected) if stored < expected => {
                return Err(StoreError::RolledBack {
                    found: stored,
                    expected,
                })
            }
            // Behind or equal: a crash between a flush and its anchor write, or a vault from
            // before the anchor. A torn anchor (a crash mid-write) says nothing either way.
            _ => write_anchor(&mut anchor, stored)?,
        }
        Ok(SledStore {
            db,
            trees: Mutex::new(HashMap::new()),
            generation: Mutex::new((stored, anchor)),
            _lock: lock,
        })
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        let mut trees = lock(&self.trees);
        if let Some(tree) = trees.get(name) {
            return Ok(tree.clone());
        }
        let tree = self.db.open_tree(name).map_err(from_sled)?;
        trees.insert(name.to_owned(), tree.clone());
        Ok(tree)
    }
}

impl Store for SledStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree(tree)?
            .get(key)
            .map_err(from_sled)?
            .map(|v| v.to_vec()))
    }

    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree(tree)?.insert(key, value).map_err(from_sled)?;
        Ok(())
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), StoreError> {
        self.tree(tree)?.remove(key).map_err(from_sled)?;
        Ok(())
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Entries<'_> {
        match self.tree(tree) {
            Ok(tree) => Box::new(tree.scan_prefix(prefix).map(|item| {
                item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(from_sled)
            })),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut generation = lock(&self.generation);
        let next = generation.0 + 1;
        self.tree(STORE_TREE)?
            .insert(GENERATION_KEY, &next.to_be_bytes())
            .map_err(from_sled)?;
        self.db.flush().map_err(from_sled)?;
        generation.0 = next;
        // Not synced: an anchor that lags after a power cut only weakens the check for
        // that one flush, while a sync here would double the cost of every flush.
        write_anchor(&mut generation.1, next)?;
        Ok(())
    }
}

/// The generation in the anchor file; `None` when the file is new, or torn by a crash.
fn read_anchor(file: &mut File) -> Result<Option<u64>, StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = [0u8; 16];
    file.seek(SeekFrom::Start(0))?;
    let mut read = 0;
    while read < bytes.len() {
        match file.read(&mut bytes[read..])? {
            0 => return Ok(None),
            n => read += n,
        }
    }
    let [g0, g1, g2, g3, g4, g5, g6, g7, c0, c1, c2, c3, c4, c5, c6, c7] = bytes;
    let generation = u64::from_be_bytes([g0, g1, g2, g3, g4, g5, g6, g7]);
    let check = u64::from_be_bytes([c0, c1, c2, c3, c4, c5, c6, c7]);
    Ok((check == generation ^ ANCHOR_CHECK).then_some(generation))
}

fn write_anchor(file: &mut File, generation: u64) -> Result<(), StoreError> {
    use std::io::{Seek, SeekFrom, Write};
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&generation.to_be_bytes());
    bytes[8..].copy_from_slice(&(generation ^ ANCHOR_CHECK).to_be_bytes());
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&bytes)?;
    Ok(())
}

/// How long a store this process just dropped may keep sled's own file lock.
const SLED_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn from_sled(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(e) => StoreError::Io(e),
        sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            detail: match at {
                Some(at) => format!("sled found corruption at {at:?}"),
                None => "sled found corruption".to_owned(),
            },
        },
        other => StoreError::Backend {
            detail: other.to_string(),
        },
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

type MemTree = BTreeMap<Vec<u8>, Vec<u8>>;

/// A store in memory, for unit tests of the layers above. Not durable.
#[derive(Default)]
pub struct MemStore {
    trees: Mutex<BTreeMap<String, MemTree>>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }
}

impl Store for MemStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.trees)
            .get(tree)
            .and_then(|t| t.get(key))
            .cloned())
    }

    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        lock(&self.trees)
            .entry(tree.to_owned())
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), StoreError> {
        if let Some(t) = lock(&self.trees).get_mut(tree) {
            t.remove(key);
        }
        Ok(())
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Entries<'_> {
        let items: Vec<_> = lock(&self.trees)
            .get(tree)
            .map(|t| {
                t.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| Ok((k.clone(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Box::new(items.into_iter())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A poisoned lock only means another thread panicked mid-operation; the maps stay
/// structurally valid, so carry on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn Store) {
        store.insert("a", b"k2", b"v2").unwrap();
        store.insert("a", b"k1", b"v1").unwrap();
        store.insert("a", b"x", b"vx").unwrap();
        store.insert("b", b"k1", b"other").unwrap();
        assert_eq!(store.get("a", b"k1").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(store.get("a", b"nope").unwrap(), None);
        let keys: Vec<_> = store.scan_prefix("a", b"k").map(|e| e.unwrap().0).collect();
        assert_eq!(keys, vec![b"k1".to_vec(), b"k2".to_vec()]);
        store.remove("a", b"k1").unwrap();
        store.remove("a", b"absent").unwrap();
        assert_eq!(store.get("a", b"k1").unwrap(), None);
        assert_eq!(store.get("b", b"k1").unwrap(), Some(b"other".to_vec()));
        store.flush().unwrap();
    }

    #[test]
    fn mem_store_behaves_as_a_store() {
        exercise(&MemStore::new());
    }

    #[test]
    fn sled_store_behaves_as_a_store_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            exercise(&store);
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.get("a", b"k2").unwrap(), Some(b"v2".to_vec()));
    }

    #[test]
    fn second_open_is_in_use_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let started = std::time::Instant::now();
        match SledStore::open(dir.path()) {
            Err(StoreError::InUse { path }) => assert_eq!(path, dir.path()),
            Err(e) => panic!("expected InUse, got {e}"),
            Ok(_) => panic!("expected InUse, opened twice"),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
