//! Parameter snapshots: every full download from a vehicle, kept so a pilot can diff
//! against an earlier one.

use airgap_core::dialect::MavParamType;
use airgap_core::params::Param;
use serde::{Deserialize, Serialize};

use crate::error::VaultError;
use crate::ids::SnapshotId;
use crate::vault::{Listing, Vault};

pub const TREE_PARAMS: &str = "params";

#[derive(Serialize, Deserialize)]
struct StoredParam {
    name: String,
    value: f64,
    param_type: MavParamType,
}

#[derive(Serialize, Deserialize)]
struct SnapshotRecord {
    sysid: u8,
    taken_at_us: u64,
    params: Vec<StoredParam>,
}

/// A snapshot as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSummary {
    pub id: SnapshotId,
    /// The vehicle's system id.
    pub sysid: u8,
    /// UNIX µs when the download completed.
    pub taken_at_us: u64,
    pub count: usize,
}

/// A snapshot with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSnapshot {
    pub summary: SnapshotSummary,
    pub params: Vec<Param>,
}

fn not_found(id: SnapshotId) -> VaultError {
    VaultError::NotFound {
        what: "parameter snapshot",
        id: id.to_string(),
    }
}

impl Vault {
    /// Keep a full parameter download (unlocked only).
    pub fn save_param_snapshot(
        &self,
        sysid: u8,
        taken_at_us: u64,
        params: &[Param],
    ) -> Result<SnapshotId, VaultError> {
        let id = SnapshotId::random();
        let record = SnapshotRecord {
            sysid,
            taken_at_us,
            params: params
                .iter()
                .map(|p| StoredParam {
                    name: p.name.clone(),
                    value: p.value,
                    param_type: p.param_type,
                })
                .collect(),
        };
        self.shared.put_json(TREE_PARAMS, id.as_bytes(), &record)?;
        self.shared.store.flush()?;
        Ok(id)
    }

    /// Every snapshot, oldest first (unlocked only).
    pub fn param_snapshots(&self) -> Result<Listing<SnapshotSummary>, VaultError> {
        let listing = self.shared.list_json::<SnapshotRecord>(TREE_PARAMS)?;
        let mut out = Listing {
            items: Vec::new(),
            damaged: listing.damaged,
        };
        for (key, r) in listing.items {
            match <[u8; 16]>::try_from(key.as_slice()) {
                Ok(id) => out.items.push(SnapshotSummary {
                    id: SnapshotId(id),
                    sysid: r.sysid,
                    taken_at_us: r.taken_at_us,
                    count: r.params.len(),
                }),
                Err(_) => out.damaged.push(VaultError::corrupt(TREE_PARAMS, &key)),
            }
        }
        out.items.sort_by_key(|s| s.taken_at_us);
        Ok(out)
    }

    pub fn param_snapshot(&self, id: SnapshotId) -> Result<ParamSnapshot, VaultError> {
        let r: SnapshotRecord = self
            .shared
            .get_json(TREE_PARAMS, id.as_bytes())?
            .ok_or_else(|| not_found(id))?;
        Ok(ParamSnapshot {
            summary: SnapshotSummary {
                id,
                sysid: r.sysid,
                taken_at_us: r.taken_at_us,
                count: r.params.len(),
            },
            params: r
                .params
                .into_iter()
                .map(|p| Param {
                    name: p.name,
                    value: p.value,
                    param_type: p.param_type,
                })
                .collect(),
        })
    }

    pub fn delete_param_snapshot(&self, id: SnapshotId) -> Result<(), VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        if self.shared.store.get(TREE_PARAMS, id.as_bytes())?.is_none() {
            return Err(not_found(id));
        }
        self.shared.store.remove(TREE_PARAMS, id.as_bytes())?;
        self.shared.store.flush()?;
        Ok(())
    }
}
