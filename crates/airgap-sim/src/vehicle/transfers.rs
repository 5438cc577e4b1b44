//! Routing of the transfer protocols — parameters, missions/fence/rally, MAVFTP — to the
//! vehicle's servers, and what changes when a plan or a parameter does.

use airgap_core::dialect::MavMissionType;
use airgap_core::ftp::{mission_dat, param_pck};
use airgap_core::mission::MissionItem;
use airgap_core::MavMessage;

use super::{item_from_legacy, Peer, Vehicle};
use crate::ftp::FtpFiles;
use crate::missions::MissionServer;
use crate::params::{ParamServer, ParamTable};

impl Vehicle {
    /// Handles a parameter, mission or file-transfer message; false when `msg` is none.
    pub(super) fn dispatch_transfer(&mut self, now_s: f64, from: Peer, msg: &MavMessage) -> bool {
        let replies = match msg {
            MavMessage::PARAM_REQUEST_LIST(_) => {
                // ArduPilot sends its banner first, so a GCS has the firmware version in
                // its log before the parameters.
                self.send_banner();
                self.params.request_list(now_s);
                Vec::new()
            }
            MavMessage::PARAM_REQUEST_READ(r) => self.params.request_read(r).into_iter().collect(),
            MavMessage::PARAM_SET(p) => self.params.set(p).into_iter().collect(),
            MavMessage::MISSION_COUNT(c) => self.missions.count(now_s, from, c),
            MavMessage::MISSION_ITEM_INT(i) => {
                self.missions.item(now_s, from, MissionItem::from_wire(i))
            }
            #[allow(deprecated)]
            MavMessage::MISSION_ITEM(i) => self.missions.item(now_s, from, item_from_legacy(i)),
            MavMessage::MISSION_REQUEST_LIST(r) => self.missions.request_list(from, r.mission_type),
            MavMessage::MISSION_REQUEST_INT(r) => {
                self.missions
                    .request_item(from, r.mission_type, r.seq, false)
            }
            #[allow(deprecated)]
            MavMessage::MISSION_REQUEST(r) => {
                self.missions
                    .request_item(from, r.mission_type, r.seq, true)
            }
            MavMessage::MISSION_CLEAR_ALL(c) => {
                let locked = self.auto_running();
                self.missions.clear_all(from, c.mission_type, locked)
            }
            // Superseded by MAV_CMD_DO_SET_MISSION_CURRENT, but ArduPilot still honours it.
            #[allow(deprecated)]
            MavMessage::MISSION_SET_CURRENT(m) => {
                // No ack exists for this message: MISSION_CURRENT is the answer.
                self.set_mission_current(m.seq);
                Vec::new()
            }
            // The GCS's ack that ends a download: nothing is pending on our side.
            MavMessage::MISSION_ACK(_) => Vec::new(),
            // Without FTP the message is not ours to answer, as on firmware without it.
            MavMessage::FILE_TRANSFER_PROTOCOL(f) if self.config.ftp => {
                let mut files = VehicleFiles {
                    sysid: self.config.sysid,
                    params: &self.params,
                    missions: &mut self.missions,
                };
                self.ftp
                    .handle(from.sysid, from.compid, f, &mut files)
                    .into_iter()
                    .map(MavMessage::FILE_TRANSFER_PROTOCOL)
                    .collect()
            }
            _ => return false,
        };
        self.outbox.extend(replies);
        self.after_plan_change();
        true
    }

    /// Keeps the `*_TOTAL` parameters and AUTO in step with the stored plans.
    pub(super) fn after_plan_change(&mut self) {
        for mission_type in self.missions.take_changed() {
            let len = self.missions.items(mission_type).len() as f64;
            let total = match mission_type {
                MavMissionType::MAV_MISSION_TYPE_MISSION => {
                    self.auto_mission_changed();
                    "MIS_TOTAL"
                }
                MavMissionType::MAV_MISSION_TYPE_FENCE => "FENCE_TOTAL",
                MavMissionType::MAV_MISSION_TYPE_RALLY => "RALLY_TOTAL",
                _ => continue,
            };
            self.params.table_mut().set(total, len);
        }
    }

    /// RTL's return altitude (RTL_ALT, in cm).
    pub(super) fn rtl_alt_m(&self) -> f64 {
        match self.param("RTL_ALT") {
            Some(cm) if cm > 0.0 => cm / 100.0,
            _ => 0.0,
        }
    }

    /// The final descent rate of LAND and RTL (LAND_SPEED, in cm/s).
    pub(super) fn land_speed_mps(&self) -> f64 {
        match self.param("LAND_SPEED") {
            Some(cms) if cms >= 30.0 => cms / 100.0,
            _ => 0.3,
        }
    }

    /// AUTO's horizontal speed (WPNAV_SPEED, in cm/s).
    pub(super) fn wpnav_speed_mps(&self) -> f64 {
        match self.param("WPNAV_SPEED") {
            Some(cms) if cms.is_finite() && cms > 0.0 => (cms / 100.0).clamp(0.2, 20.0),
            _ => 10.0,
        }
    }

    /// The waypoint acceptance radius (WPNAV_RADIUS, in cm).
    pub(super) fn wpnav_radius_m(&self) -> f64 {
        match self.param("WPNAV_RADIUS") {
            Some(cm) if cm.is_finite() && cm >= 5.0 => cm / 100.0,
            _ => 2.0,
        }
    }

    /// Whether the GPS pre-arm check runs: ARMING_CHECK bit 0 (all) or bit 3 (GPS lock).
    pub(super) fn arming_checks_gps(&self) -> bool {
        const ALL: i64 = 1;
        const GPS_LOCK: i64 = 1 << 3;
        let checks = self.param("ARMING_CHECK").unwrap_or(1.0) as i64;
        checks & (ALL | GPS_LOCK) != 0
    }
}

/// The vehicle's parameters and plans as the files ArduPilot serves over MAVFTP.
struct VehicleFiles<'a> {
    sysid: u8,
    params: &'a ParamServer,
    missions: &'a mut MissionServer,
}

const PARAM_FILE: &str = "@PARAM/param.pck";
const PLAN_TYPES: [MavMissionType; 3] = [
    MavMissionType::MAV_MISSION_TYPE_MISSION,
    MavMissionType::MAV_MISSION_TYPE_FENCE,
    MavMissionType::MAV_MISSION_TYPE_RALLY,
];

/// The plan type a `.dat` path holds.
fn plan_type(path: &str) -> Option<MavMissionType> {
    PLAN_TYPES
        .into_iter()
        .find(|t| mission_dat::path(*t) == path)
}

impl FtpFiles for VehicleFiles<'_> {
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        let path = path.trim_start_matches('/');
        // ArduPilot takes options after a '?': `withdefaults=1` adds each default.
        let (file, query) = path.split_once('?').unwrap_or((path, ""));
        if file == PARAM_FILE {
            let params = self.params.table().params();
            let packed = if query.split('&').any(|o| o == "withdefaults=1") {
                let defaults = ParamTable::arducopter(self.sysid);
                let defaults: Vec<f64> = params
                    .iter()
                    .map(|p| defaults.value(&p.name).unwrap_or(p.value))
                    .collect();
                param_pck::encode_with_defaults(params, &defaults, param_pck::BLOCK_SIZE)
            } else {
                param_pck::encode(params, param_pck::BLOCK_SIZE)
            };
            return packed.ok();
        }
        let mission_type = plan_type(file)?;
        mission_dat::encode(mission_type, self.missions.items(mission_type)).ok()
    }

    fn write(&mut self, path: &str, data: Vec<u8>) -> Result<(), String> {
        let path = path.trim_start_matches('/');
        let mission_type = plan_type(path).ok_or_else(|| format!("{path} cannot be written"))?;
        let file = mission_dat::decode(&data).map_err(|e| e.to_string())?;
        if file.mission_type != mission_type {
            return Err(format!(
                "{path} holds {mission_type:?}, the file is {:?}",
                file.mission_type
            ));
        }
        let items = if file.options & mission_dat::OPTION_NO_CLEAR != 0 {
            // A partial write: keep what is stored and overwrite from `start` on.
            let mut items = self.missions.items(mission_type).to_vec();
            let start = usize::from(file.start);
            if start > items.len() {
                return Err(format!(
                    "{path}: writing from item {start}, but only {} are stored",
                    items.len()
                ));
            }
            for (index, item) in (start..).zip(file.items) {
                match items.get_mut(index) {
                    Some(slot) => *slot = item,
                    None => items.push(item),
                }
            }
            items
        } else {
            file.items
        };
        self.missions
            .replace(mission_type, items)
            .map_err(|e| e.to_string())
    }
}
