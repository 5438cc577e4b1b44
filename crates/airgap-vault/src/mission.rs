//! Saved missions: a name and a QGroundControl `.plan` document (mission, geofence and
//! rally points), stored whole under a random [`MissionId`].

use airgap_core::mission::plan_file::{read_plan, write_plan, HomeItem, PlanMeta};
use airgap_core::mission::Plan;
use serde::{Deserialize, Serialize};

use crate::error::VaultError;
use crate::ids::MissionId;
use crate::vault::{now_us, Listing, Vault};

pub const TREE_MISSIONS: &str = "missions";

#[derive(Serialize, Deserialize)]
struct MissionRecord {
    name: String,
    saved_at_us: u64,
    counts: ItemCounts,
    plan_json: String,
}

/// How many items each list of a plan holds. `mission` counts the items proper, without
/// ArduPilot's home item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ItemCounts {
    pub mission: usize,
    pub fence: usize,
    pub rally: usize,
}

/// A saved mission as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissionSummary {
    pub id: MissionId,
    pub name: String,
    /// UNIX µs of the last save or rename.
    pub saved_at_us: u64,
    pub counts: ItemCounts,
}

/// A saved mission with its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMission {
    pub summary: MissionSummary,
    /// The `.plan` JSON as saved.
    pub plan_json: String,
}

fn summary(id: MissionId, r: &MissionRecord) -> MissionSummary {
    MissionSummary {
        id,
        name: r.name.clone(),
        saved_at_us: r.saved_at_us,
        counts: r.counts,
    }
}

fn not_found(id: MissionId) -> VaultError {
    VaultError::NotFound {
        what: "mission",
        id: id.to_string(),
    }
}

impl Vault {
    /// Save a `.plan` document under `name` (unlocked only). The document is validated with
    /// `airgap_core`'s reader; an invalid one is `InvalidPlan`.
    pub fn save_mission(&self, name: &str, plan_json: &str) -> Result<MissionId, VaultError> {
        // PX4's convention counts the mission proper, which is what a pilot calls its size.
        let plan = read_plan(plan_json, HomeItem::Absent)?.plan;
        let id = MissionId::random();
        self.put_mission(id, name, plan_json.to_owned(), counts(&plan))?;
        Ok(id)
    }

    /// Save a [`Plan`] (written as a `.plan` with `meta`) under `name` (unlocked only).
    pub fn save_plan(
        &self,
        name: &str,
        plan: &Plan,
        meta: &PlanMeta,
    ) -> Result<MissionId, VaultError> {
        let plan_json = write_plan(plan, meta)?;
        self.save_mission(name, &plan_json)
    }

    fn put_mission(
        &self,
        id: MissionId,
        name: &str,
        plan_json: String,
        counts: ItemCounts,
    ) -> Result<(), VaultError> {
        let record = MissionRecord {
            name: name.to_owned(),
            saved_at_us: now_us(),
            counts,
            plan_json,
        };
        self.shared
            .put_json(TREE_MISSIONS, id.as_bytes(), &record)?;
        self.shared.store.flush()?;
        Ok(())
    }

    /// Every saved mission, by name (unlocked only).
    pub fn missions(&self) -> Result<Listing<MissionSummary>, VaultError> {
        let listing = self.shared.list_json::<MissionRecord>(TREE_MISSIONS)?;
        let mut out = Listing {
            items: Vec::new(),
            damaged: listing.damaged,
        };
        for (key, record) in listing.items {
            match <[u8; 16]>::try_from(key.as_slice()) {
                Ok(id) => out.items.push(summary(MissionId(id), &record)),
                Err(_) => out.damaged.push(VaultError::corrupt(TREE_MISSIONS, &key)),
            }
        }
        out.items
            .sort_by(|a, b| a.name.cmp(&b.name).then(a.saved_at_us.cmp(&b.saved_at_us)));
        Ok(out)
    }

    /// One mission with its `.plan` document (unlocked only).
    pub fn mission(&self, id: MissionId) -> Result<StoredMission, VaultError> {
        let record: MissionRecord = self
            .shared
            .get_json(TREE_MISSIONS, id.as_bytes())?
            .ok_or_else(|| not_found(id))?;
        Ok(StoredMission {
            summary: summary(id, &record),
            plan_json: record.plan_json,
        })
    }

    pub fn rename_mission(&self, id: MissionId, name: &str) -> Result<(), VaultError> {
        let record: MissionRecord = self
            .shared
            .get_json(TREE_MISSIONS, id.as_bytes())?
            .ok_or_else(|| not_found(id))?;
        self.put_mission(id, name, record.plan_json, record.counts)
    }

    pub fn delete_mission(&self, id: MissionId) -> Result<(), VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        if self
            .shared
            .store
            .get(TREE_MISSIONS, id.as_bytes())?
            .is_none()
        {
            return Err(not_found(id));
        }
        self.shared.store.remove(TREE_MISSIONS, id.as_bytes())?;
        self.shared.store.flush()?;
        Ok(())
    }
}

fn counts(plan: &Plan) -> ItemCounts {
    ItemCounts {
        mission: plan.mission.len(),
        fence: plan.fence.len(),
        rally: plan.rally.len(),
    }
}
