//! The audit trail: append-only, hash-chained, encrypted entries.
//!
//! Entry `n` is stored at key `n` (u64 big-endian) and its plaintext carries the hash of the
//! stored bytes of entry `n-1`. Hashing the *stored* bytes (not the plaintext) lets a locked
//! vault extend the chain without reading anything. While unlocked, entries are data-key
//! records, which nobody without the passphrase can forge; while locked they are sealed to
//! the public key, like recorded chunks. Because each data-key entry commits to the whole
//! chain before it, the only entries someone with write access to the files could forge are
//! the sealed ones written since the last data-key entry, and deleting entries from the
//! very end is detected only against what this process appended (there is no outside
//! anchor). [`AuditReport::authenticated_through`] says where that line is.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{self, RecordKind};
use crate::error::{AuditProblem, VaultError};
use crate::ids::{from_hex, to_hex};
use crate::store::Store;
use crate::vault::{lock, now_us, Shared, Vault};

pub const TREE_AUDIT: &str = "audit";

/// Something worth a line in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditEvent {
    VaultCreated,
    Unlocked,
    UnlockFailed,
    Locked,
    PassphraseChanged,
    /// Data left the vault in the clear (`what`: e.g. "flight <id> as .tlog").
    Exported {
        what: String,
    },
    Imported {
        what: String,
    },
    /// Anything later features need (seal changes, refused egress).
    Other {
        kind: String,
        detail: String,
    },
}

/// One entry as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// UNIX time in microseconds.
    pub time_us: u64,
    pub event: AuditEvent,
    /// Written while the vault was locked (sealed to the public key, so not authenticated
    /// by the data key).
    pub sealed: bool,
}

/// What [`Vault::verify_audit`] found in an intact trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    /// The last entry written with the data key: it and everything before it cannot have
    /// been forged or altered without detection. Later (sealed) entries are intact as a chain
    /// but could have been appended by anyone holding the vault's public key.
    pub authenticated_through: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    seq: u64,
    time_us: u64,
    event: AuditEvent,
    /// Hex of the previous entry's chain hash (zeros for the first).
    prev: String,
}

/// Where the next entry goes and what it must chain to.
#[derive(Debug, Default, Clone)]
pub(crate) struct AuditHead {
    next_seq: u64,
    last_hash: [u8; 32],
}

fn chain_hash(seq: u64, stored: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"airgap-vault audit v1");
    h.update(seq.to_be_bytes());
    h.update(stored);
    h.finalize().into()
}

fn parse_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

impl AuditHead {
    /// Find the end of the chain; reads only stored bytes, so works locked.
    pub(crate) fn load(store: &dyn Store) -> Result<AuditHead, VaultError> {
        let mut head = AuditHead::default();
        for entry in store.scan_prefix(TREE_AUDIT, b"") {
            let (key, record) = entry?;
            if let Some(seq) = parse_seq(&key) {
                head = AuditHead {
                    next_seq: seq.saturating_add(1),
                    last_hash: chain_hash(seq, &record),
                };
            }
        }
        Ok(head)
    }
}

impl Shared {
    pub(crate) fn append_audit(&self, event: AuditEvent) -> Result<(), VaultError> {
        let mut head = lock(&self.audit);
        let seq = head.next_seq;
        let key = seq.to_be_bytes();
        let plain = serde_json::to_vec(&StoredEntry {
            seq,
            time_us: now_us(),
            event,
            prev: to_hex(&head.last_hash),
        })
        .expect("audit entries serialize");
        let record = match self
            .with_secrets(|s| Ok(crypto::seal_data(&s.cipher, TREE_AUDIT, &key, &plain)))
        {
            Ok(record) => record,
            Err(VaultError::Locked) => crypto::seal_to(&self.public_key, TREE_AUDIT, &key, &plain),
            Err(e) => return Err(e),
        };
        self.store.insert(TREE_AUDIT, &key, &record)?;
        self.store.flush()?;
        *head = AuditHead {
            next_seq: seq + 1,
            last_hash: chain_hash(seq, &record),
        };
        Ok(())
    }
}

impl Vault {
    /// Append an event to the audit trail (works locked). The vault audits its own
    /// events; callers audit exports and imports they do themselves, seal changes, etc.
    pub fn audit(&self, event: AuditEvent) -> Result<(), VaultError> {
        self.shared.append_audit(event)
    }

    /// Every entry in order (unlocked only). Entries that do not open are listed in
    /// `damaged`; [`Vault::verify_audit`] says what is wrong with the chain.
    pub fn audit_entries(&self) -> Result<crate::Listing<AuditEntry>, VaultError> {
        let shared = &self.shared;
        shared.with_secrets(|s| {
            let mut listing = crate::Listing::default();
            for item in shared.store.scan_prefix(TREE_AUDIT, b"") {
                let (key, record) = item?;
                let opened = s.open(TREE_AUDIT, &key, &record).and_then(|plain| {
                    serde_json::from_slice::<StoredEntry>(&plain)
                        .map_err(|_| VaultError::corrupt(TREE_AUDIT, &key))
                });
                match opened {
                    Ok(e) => listing.items.push(AuditEntry {
                        seq: e.seq,
                        time_us: e.time_us,
                        event: e.event,
                        sealed: crypto::record_kind(&record) == Some(RecordKind::Sealed),
                    }),
                    Err(e) => listing.damaged.push(e),
                }
            }
            Ok(listing)
        })
    }

    /// Check the whole chain (unlocked only): a deleted, edited, reordered or replaced entry
    /// is `AuditBroken { seq, problem }` naming the first entry at fault.
    pub fn verify_audit(&self) -> Result<AuditReport, VaultError> {
        let shared = &self.shared;
        let expected_end = lock(&shared.audit).next_seq;
        shared.with_secrets(|s| {
            let stored: Vec<(Vec<u8>, Vec<u8>)> = shared
                .store
                .scan_prefix(TREE_AUDIT, b"")
                .collect::<Result<_, _>>()?;
            let max_seq = stored
                .iter()
                .filter_map(|(k, _)| parse_seq(k))
                .max()
                .unwrap_or(0);
            let broken = |seq, problem| VaultError::AuditBroken { seq, problem };
            let mut expected = 0u64;
            let mut prev_hash = [0u8; 32];
            let mut authenticated_through = None;
            for (key, record) in &stored {
                let Some(seq) = parse_seq(key) else {
                    return Err(broken(expected, AuditProblem::Edited));
                };
                if seq != expected {
                    return Err(broken(expected, AuditProblem::Missing));
                }
                let entry = match s.open(TREE_AUDIT, key, record) {
                    Ok(plain) => serde_json::from_slice::<StoredEntry>(&plain)
                        .map_err(|_| broken(seq, AuditProblem::Edited))?,
                    Err(_) => {
                        // Distinguish reordering from editing: does it open elsewhere?
                        let written_as = (0..=max_seq.saturating_add(1)).find(|&other| {
                            s.open(TREE_AUDIT, &other.to_be_bytes(), record).is_ok()
                        });
                        return Err(broken(
                            seq,
                            match written_as {
                                Some(written_as) => AuditProblem::Moved { written_as },
                                None => AuditProblem::Edited,
                            },
                        ));
                    }
                };
                if entry.seq != seq {
                    return Err(broken(seq, AuditProblem::Edited));
                }
                if from_hex(&entry.prev).as_deref() != Some(&prev_hash[..]) {
                    return Err(broken(seq, AuditProblem::ChainBroken));
                }
                if crypto::record_kind(record) == Some(RecordKind::Data) {
                    authenticated_through = Some(seq);
                }
                prev_hash = chain_hash(seq, record);
                expected += 1;
            }
            if expected < expected_end {
                return Err(broken(expected, AuditProblem::Missing));
            }
            Ok(AuditReport {
                entries: expected,
                authenticated_through,
            })
        })
    }
}
