//! The simulated vehicle's stored plans — mission, geofence and rally points — and the
//! vehicle side of the MAVLink mission protocol that fills and serves them, sans-IO.
//!
//! It behaves as ArduPilot's `MissionItemProtocol` does: an upload starts with
//! MISSION_COUNT, the vehicle asks for each item in turn (with the legacy MISSION_REQUEST
//! unless configured otherwise), asks again when an item does not come within
//! [`MissionConfig::retry_s`], answers an unexpected sequence number with
//! MAV_MISSION_INVALID_SEQUENCE without giving up, and cancels the upload
//! (MAV_MISSION_OPERATION_CANCELLED) when nothing comes for
//! [`MissionConfig::upload_timeout_s`]. Downloads are stateless: every
//! MISSION_REQUEST(_INT) is answered on its own. Item 0 of the mission is always home.
//!
//! Unlike ArduPilot, which writes waypoints into storage as they arrive, an upload here
//! replaces the stored plan only once complete, so a cancelled upload leaves the old
//! plan intact.

// MISSION_ITEM and MISSION_REQUEST are deprecated upstream, but ArduPilot still speaks them.
use airgap_core::dialect::{
    MavCmd, MavFrame, MavMissionResult, MavMissionType, MISSION_ACK_DATA, MISSION_COUNT_DATA,
    MISSION_ITEM_INT_DATA, MISSION_REQUEST_INT_DATA,
};
#[allow(deprecated)]
use airgap_core::dialect::{MISSION_ITEM_DATA, MISSION_REQUEST_DATA};
use airgap_core::mission::MissionItem;
use airgap_core::MavMessage;

/// How many items of each type a vehicle can store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissionCapacity {
    /// Mission items, home (item 0) included.
    pub mission: u16,
    pub fence: u16,
    pub rally: u16,
}

impl Default for MissionCapacity {
    /// Roughly what an ArduCopter on a 2 MB-flash board holds.
    fn default() -> MissionCapacity {
        MissionCapacity {
            mission: 700,
            fence: 84,
            rally: 20,
        }
    }
}

/// How the vehicle runs the mission protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MissionConfig {
    pub capacity: MissionCapacity,
    /// Ask for items with MISSION_REQUEST_INT rather than ArduPilot's legacy
    /// MISSION_REQUEST.
    pub request_int: bool,
    /// Ask again for an item that has not come in this long (ArduPilot: 1 s).
    pub retry_s: f64,
    /// Give up on an upload nobody has fed for this long (ArduPilot: 8 s).
    pub upload_timeout_s: f64,
}

impl Default for MissionConfig {
    fn default() -> MissionConfig {
        MissionConfig {
            capacity: MissionCapacity::default(),
            request_int: false,
            retry_s: 1.0,
            upload_timeout_s: 8.0,
        }
    }
}

/// Who is on the other end of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub sysid: u8,
    pub compid: u8,
}

/// Why a whole plan was not stored.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("{count} items do not fit; the vehicle holds at most {capacity}")]
    NoSpace { count: usize, capacity: u16 },
    #[error("item {seq}: {command:?} does not belong in a {mission_type:?} plan")]
    Unsupported {
        seq: u16,
        command: MavCmd,
        mission_type: MavMissionType,
    },
    #[error("{0:?} is not a plan type the vehicle stores")]
    NoSuchType(MavMissionType),
}

#[derive(Debug, Clone)]
struct Upload {
    peer: Peer,
    count: u16,
    items: Vec<MissionItem>,
    last_receive_s: f64,
    last_request_s: f64,
}

/// The last upload that completed, so a GCS that missed the final ACK and sends the
/// last item again hears ACCEPTED again instead of silence.
#[derive(Debug, Clone, Copy)]
struct Completed {
    peer: Peer,
    last_seq: u16,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    items: Vec<MissionItem>,
    upload: Option<Upload>,
    completed: Option<Completed>,
}

/// The three stored plans and the transfers in progress. See the module docs.
#[derive(Debug, Clone)]
pub struct MissionServer {
    config: MissionConfig,
    slots: [Slot; 3],
    changed: Vec<MavMissionType>,
}

const TYPES: [MavMissionType; 3] = [
    MavMissionType::MAV_MISSION_TYPE_MISSION,
    MavMissionType::MAV_MISSION_TYPE_FENCE,
    MavMissionType::MAV_MISSION_TYPE_RALLY,
];

fn slot_index(mission_type: MavMissionType) -> Option<usize> {
    TYPES.iter().position(|t| *t == mission_type)
}

impl MissionServer {
    /// An empty fence and rally list and a mission holding only `home`.
    pub fn new(config: MissionConfig, home: MissionItem) -> MissionServer {
        let mut server = MissionServer {
            config,
            slots: Default::default(),
            changed: Vec::new(),
        };
        server.slots[0].items = vec![home];
        server
    }

    pub fn config(&self) -> &MissionConfig {
        &self.config
    }

    /// The stored items of one type (the mission's item 0 is home); empty for types the
    /// vehicle does not store.
    pub fn items(&self, mission_type: MavMissionType) -> &[MissionItem] {
        match slot_index(mission_type) {
            Some(i) => &self.slots[i].items,
            None => &[],
        }
    }

    /// The plan types whose stored items changed since the last call.
    pub fn take_changed(&mut self) -> Vec<MavMissionType> {
        std::mem::take(&mut self.changed)
    }

    fn capacity(&self, mission_type: MavMissionType) -> u16 {
        match mission_type {
            MavMissionType::MAV_MISSION_TYPE_FENCE => self.config.capacity.fence,
            MavMissionType::MAV_MISSION_TYPE_RALLY => self.config.capacity.rally,
            _ => self.config.capacity.mission,
        }
    }

    /// Replaces a whole plan at once (MAVFTP writes). The mission keeps its home item 0:
    /// `items[0]` is taken as the home placeholder, as in an upload.
    pub fn replace(
        &mut self,
        mission_type: MavMissionType,
        items: Vec<MissionItem>,
    ) -> Result<(), StoreError> {
        let index = slot_index(mission_type).ok_or(StoreError::NoSuchType(mission_type))?;
        let capacity = self.capacity(mission_type);
        if items.len() > usize::from(capacity) {
            return Err(StoreError::NoSpace {
                count: items.len(),
                capacity,
            });
        }
        for item in &items {
            if !belongs(mission_type, item.command) {
                return Err(StoreError::Unsupported {
                    seq: item.seq,
                    command: item.command,
                    mission_type,
                });
            }
        }
        self.commit(index, items);
        Ok(())
    }

    fn commit(&mut self, index: usize, items: Vec<MissionItem>) {
        let mission_type = TYPES[index];
        let mut items: Vec<MissionItem> = items
            .into_iter()
            .enumerate()
            .map(|(seq, item)| MissionItem {
                seq: u16::try_from(seq).unwrap_or(u16::MAX),
                current: false,
                mission_type,
                ..item
            })
            .collect();
        if mission_type == MavMissionType::MAV_MISSION_TYPE_MISSION {
            // ArduPilot reads item 0 back as home, whatever was uploaded there.
            let home = self.slots[0].items.first().cloned();
            match (items.first_mut(), home) {
                (Some(first), Some(home)) => *first = home,
                (None, Some(home)) => items.push(home),
                _ => {}
            }
        }
        self.slots[index].items = items;
        self.changed.push(mission_type);
    }

    /// Moves home (the mission's item 0).
    pub fn set_home(&mut self, home: MissionItem) {
        let home = MissionItem {
            seq: 0,
            current: false,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
            ..home
        };
        match self.slots[0].items.first_mut() {
            Some(first) => *first = home,
            None => self.slots[0].items.push(home),
        }
    }

    /// Whether an upload of this type is in progress.
    pub fn receiving(&self, mission_type: MavMissionType) -> bool {
        slot_index(mission_type).is_some_and(|i| self.slots[i].upload.is_some())
    }

    /// MISSION_COUNT: starts (or, from the same peer, restarts) an upload.
    pub fn count(&mut self, now_s: f64, peer: Peer, c: &MISSION_COUNT_DATA) -> Vec<MavMessage> {
        let mission_type = c.mission_type;
        let Some(index) = slot_index(mission_type) else {
            return Vec::new();
        };
        if let Some(upload) = &self.slots[index].upload {
            if upload.peer != peer {
                return vec![ack(
                    peer,
                    mission_type,
                    MavMissionResult::MAV_MISSION_DENIED,
                )];
            }
        }
        self.slots[index].upload = None;
        if c.count > self.capacity(mission_type) {
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_NO_SPACE,
            )];
        }
        if c.count == 0 {
            self.commit(index, Vec::new());
            self.slots[index].completed = None;
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_ACCEPTED,
            )];
        }
        self.slots[index].completed = None;
        self.slots[index].upload = Some(Upload {
            peer,
            count: c.count,
            items: Vec::with_capacity(usize::from(c.count)),
            last_receive_s: now_s,
            last_request_s: now_s,
        });
        vec![self.request(peer, mission_type, 0)]
    }

    /// MISSION_ITEM_INT (or a converted MISSION_ITEM) during an upload.
    pub fn item(&mut self, now_s: f64, peer: Peer, item: MissionItem) -> Vec<MavMessage> {
        let mission_type = item.mission_type;
        let Some(index) = slot_index(mission_type) else {
            return Vec::new();
        };
        let slot = &mut self.slots[index];
        let Some(upload) = slot.upload.as_mut() else {
            return match slot.completed {
                Some(done) if done.peer == peer && done.last_seq == item.seq => {
                    vec![ack(
                        peer,
                        mission_type,
                        MavMissionResult::MAV_MISSION_ACCEPTED,
                    )]
                }
                _ => Vec::new(),
            };
        };
        let expected = u16::try_from(upload.items.len()).unwrap_or(u16::MAX);
        if item.seq != expected {
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_INVALID_SEQUENCE,
            )];
        }
        if peer != upload.peer {
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_DENIED,
            )];
        }
        if !belongs(mission_type, item.command) {
            slot.upload = None;
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_UNSUPPORTED,
            )];
        }
        upload.items.push(item);
        upload.last_receive_s = now_s;
        if upload.items.len() < usize::from(upload.count) {
            let next = expected + 1;
            upload.last_request_s = now_s;
            return vec![self.request(peer, mission_type, next)];
        }
        let items = std::mem::take(&mut upload.items);
        slot.upload = None;
        slot.completed = Some(Completed {
            peer,
            last_seq: expected,
        });
        self.commit(index, items);
        vec![ack(
            peer,
            mission_type,
            MavMissionResult::MAV_MISSION_ACCEPTED,
        )]
    }

    /// MISSION_REQUEST_LIST → MISSION_COUNT.
    pub fn request_list(&self, peer: Peer, mission_type: MavMissionType) -> Vec<MavMessage> {
        let Some(index) = slot_index(mission_type) else {
            return Vec::new();
        };
        if self.slots[index].upload.is_some() {
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_DENIED,
            )];
        }
        let count = u16::try_from(self.slots[index].items.len()).unwrap_or(u16::MAX);
        vec![MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
            count,
            target_system: peer.sysid,
            target_component: peer.compid,
            mission_type,
            opaque_id: 0,
        })]
    }

    /// MISSION_REQUEST_INT (`legacy` false) → MISSION_ITEM_INT, or MISSION_REQUEST
    /// (`legacy` true) → MISSION_ITEM.
    pub fn request_item(
        &self,
        peer: Peer,
        mission_type: MavMissionType,
        seq: u16,
        legacy: bool,
    ) -> Vec<MavMessage> {
        let Some(index) = slot_index(mission_type) else {
            return Vec::new();
        };
        let slot = &self.slots[index];
        if slot.upload.is_some() {
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_DENIED,
            )];
        }
        let Some(item) = slot.items.get(usize::from(seq)) else {
            return vec![ack(
                peer,
                mission_type,
                MavMissionResult::MAV_MISSION_INVALID_SEQUENCE,
            )];
        };
        let wire = item.to_wire(peer.sysid, peer.compid);
        if legacy {
            vec![legacy_item(&wire)]
        } else {
            vec![MavMessage::MISSION_ITEM_INT(wire)]
        }
    }

    /// MISSION_CLEAR_ALL. `mission_locked` refuses clearing the mission (ArduPilot will
    /// not clear a mission it is flying). MAV_MISSION_TYPE_ALL clears every type.
    pub fn clear_all(
        &mut self,
        peer: Peer,
        mission_type: MavMissionType,
        mission_locked: bool,
    ) -> Vec<MavMessage> {
        let indices: Vec<usize> = if mission_type == MavMissionType::MAV_MISSION_TYPE_ALL {
            (0..TYPES.len()).collect()
        } else {
            match slot_index(mission_type) {
                Some(i) => vec![i],
                None => return Vec::new(),
            }
        };
        let refused = indices
            .iter()
            .any(|&i| self.slots[i].upload.is_some() || (i == 0 && mission_locked));
        if refused {
            return vec![ack(peer, mission_type, MavMissionResult::MAV_MISSION_ERROR)];
        }
        for i in indices {
            self.commit(i, Vec::new());
        }
        vec![ack(
            peer,
            mission_type,
            MavMissionResult::MAV_MISSION_ACCEPTED,
        )]
    }

    /// Re-requests late items and cancels uploads nobody feeds.
    pub fn poll(&mut self, now_s: f64) -> Vec<MavMessage> {
        let mut out = Vec::new();
        for (slot, mission_type) in self.slots.iter_mut().zip(TYPES) {
            let Some(upload) = slot.upload.as_mut() else {
                continue;
            };
            let peer = upload.peer;
            if now_s - upload.last_receive_s > self.config.upload_timeout_s {
                slot.upload = None;
                out.push(ack(
                    peer,
                    mission_type,
                    MavMissionResult::MAV_MISSION_OPERATION_CANCELLED,
                ));
            } else if now_s - upload.last_request_s > self.config.retry_s {
                upload.last_request_s = now_s;
                let seq = u16::try_from(upload.items.len()).unwrap_or(u16::MAX);
                out.push(request(self.config.request_int, peer, mission_type, seq));
            }
        }
        out
    }

    fn request(&self, peer: Peer, mission_type: MavMissionType, seq: u16) -> MavMessage {
        request(self.config.request_int, peer, mission_type, seq)
    }
}

/// The request for item `seq`: MISSION_REQUEST_INT, or ArduPilot's legacy MISSION_REQUEST.
fn request(request_int: bool, peer: Peer, mission_type: MavMissionType, seq: u16) -> MavMessage {
    if request_int {
        MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
            seq,
            target_system: peer.sysid,
            target_component: peer.compid,
            mission_type,
        })
    } else {
        // Deprecated upstream, but what ArduPilot sends.
        #[allow(deprecated)]
        MavMessage::MISSION_REQUEST(MISSION_REQUEST_DATA {
            seq,
            target_system: peer.sysid,
            target_component: peer.compid,
            mission_type,
        })
    }
}

/// Whether a command can be stored in a plan of this type: fences take only fence
/// shapes and the return point, rally lists only rally points (as ArduPilot checks).
fn belongs(mission_type: MavMissionType, command: MavCmd) -> bool {
    match mission_type {
        MavMissionType::MAV_MISSION_TYPE_FENCE => matches!(
            command,
            MavCmd::MAV_CMD_NAV_FENCE_RETURN_POINT
                | MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
                | MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
                | MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
                | MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
        ),
        MavMissionType::MAV_MISSION_TYPE_RALLY => command == MavCmd::MAV_CMD_NAV_RALLY_POINT,
        _ => true,
    }
}

fn ack(peer: Peer, mission_type: MavMissionType, result: MavMissionResult) -> MavMessage {
    MavMessage::MISSION_ACK(MISSION_ACK_DATA {
        target_system: peer.sysid,
        target_component: peer.compid,
        mavtype: result,
        mission_type,
        opaque_id: 0,
    })
}

/// Frames whose x and y are latitude and longitude (degrees in MISSION_ITEM,
/// degrees × 1e7 in MISSION_ITEM_INT). The `_INT` frames are superseded upstream but
/// still what most GCSes send.
#[allow(deprecated)]
fn is_global(frame: MavFrame) -> bool {
    matches!(
        frame,
        MavFrame::MAV_FRAME_GLOBAL
            | MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT
            | MavFrame::MAV_FRAME_GLOBAL_INT
            | MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
            | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT
            | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT_INT
    )
}

/// A legacy MISSION_ITEM as the MissionItem it stands for: positions scaled to
/// degrees × 1e7 in global frames, as ArduPilot's `convert_MISSION_ITEM_to_MISSION_ITEM_INT`.
#[allow(deprecated)]
pub fn item_from_legacy(m: &MISSION_ITEM_DATA) -> MissionItem {
    let (x, y) = if is_global(m.frame) {
        (
            (f64::from(m.x) * 1e7).round() as i32,
            (f64::from(m.y) * 1e7).round() as i32,
        )
    } else {
        (m.x as i32, m.y as i32)
    };
    MissionItem::from_wire(&MISSION_ITEM_INT_DATA {
        param1: m.param1,
        param2: m.param2,
        param3: m.param3,
        param4: m.param4,
        x,
        y,
        z: m.z,
        seq: m.seq,
        command: m.command,
        target_system: m.target_system,
        target_component: m.target_component,
        frame: m.frame,
        current: m.current,
        autocontinue: m.autocontinue,
        mission_type: m.mission_type,
    })
}

#[allow(deprecated)]
fn legacy_item(w: &MISSION_ITEM_INT_DATA) -> MavMessage {
    let (x, y) = if is_global(w.frame) {
        ((f64::from(w.x) / 1e7) as f32, (f64::from(w.y) / 1e7) as f32)
    } else {
        (w.x as f32, w.y as f32)
    };
    MavMessage::MISSION_ITEM(MISSION_ITEM_DATA {
        param1: w.param1,
        param2: w.param2,
        param3: w.param3,
        param4: w.param4,
        x,
        y,
        z: w.z,
        seq: w.seq,
        command: w.command,
        target_system: w.target_system,
        target_component: w.target_component,
        frame: w.frame,
        current: w.current,
        autocontinue: w.autocontinue,
        mission_type: w.mission_type,
    })
}

#[cfg(test)]
mod tests;
