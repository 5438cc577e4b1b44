//! The simulated vehicle's MAVFTP server: what it owns is the mapping from the vehicle's
//! message handling to the sans-IO server in `airgap_core::ftp::server`, which behaves as
//! ArduPilot's GCS_FTP does (replies numbered `seq + 1`, the last reply repeated for a
//! re-sent request, one session at a time, bursts ending in an EOF NAK, writes handed over
//! on close, UnknownCommand for the rest).
//!
//! The vehicle serves its files through [`FtpFiles`]: `@PARAM/param.pck` encoded with
//! `airgap_core::ftp::param_pck::encode(params, param_pck::BLOCK_SIZE)`, and
//! `@MISSION/{mission,fence,rally}.dat` with `airgap_core::ftp::mission_dat`; a written
//! `.dat` arrives in `write` when the client closes it, and an `Err` there is the vehicle
//! rejecting the upload.

use airgap_core::dialect::FILE_TRANSFER_PROTOCOL_DATA;
use airgap_core::ftp::server::Server;

pub use airgap_core::ftp::server::FtpFiles;

/// One vehicle's FTP server.
#[derive(Debug, Clone, Default)]
pub struct FtpServer {
    server: Server,
}

impl FtpServer {
    pub fn new() -> FtpServer {
        FtpServer::default()
    }

    /// Answer one FILE_TRANSFER_PROTOCOL message received from `from_sysid`/`from_compid`
    /// (the sender's ids from the frame header); the replies are addressed back to it.
    pub fn handle(
        &mut self,
        from_sysid: u8,
        from_compid: u8,
        req: &FILE_TRANSFER_PROTOCOL_DATA,
        files: &mut dyn FtpFiles,
    ) -> Vec<FILE_TRANSFER_PROTOCOL_DATA> {
        self.server.handle((from_sysid, from_compid), req, files)
    }

    /// Packets one BurstReadFile sends at most (ArduPilot: 2,000).
    pub fn set_burst_limit(&mut self, packets: usize) {
        self.server.burst_limit = packets;
    }

    pub fn session_open(&self) -> bool {
        self.server.session_open()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use airgap_core::dialect::{MavCmd, MavFrame, MavMissionType, MavParamType};
    use airgap_core::ftp::{
        mission_dat, param_pck, FtpConfig, FtpError, FtpTransfer, MissionFetch, MissionStore,
        ParamFetch, Target,
    };
    use airgap_core::mission::MissionItem;
    use airgap_core::params::Param;
    use airgap_core::MavMessage;

    use super::*;

    const VEHICLE: Target = Target {
        system_id: 1,
        component_id: 1,
    };

    #[derive(Default)]
    struct Files(HashMap<String, Vec<u8>>);

    impl FtpFiles for Files {
        fn read(&mut self, path: &str) -> Option<Vec<u8>> {
            self.0.get(path).cloned()
        }
        fn write(&mut self, path: &str, data: Vec<u8>) -> Result<(), String> {
            mission_dat::decode(&data).map_err(|e| e.to_string())?;
            self.0.insert(path.to_string(), data);
            Ok(())
        }
    }

    /// Run `t` to the end over a perfect link, one message at a time.
    fn run<T: FtpTransfer>(t: &mut T, server: &mut FtpServer, files: &mut Files) -> Duration {
        let mut now = Duration::ZERO;
        let mut to_vehicle: Vec<MavMessage> = t.start(now);
        for _ in 0..100_000 {
            if t.outcome().is_some() && to_vehicle.is_empty() {
                break;
            }
            now += Duration::from_millis(10);
            if to_vehicle.is_empty() {
                to_vehicle = t.poll(t.next_deadline().unwrap_or(now).max(now));
                continue;
            }
            let mut replies = Vec::new();
            for m in to_vehicle.drain(..) {
                if let MavMessage::FILE_TRANSFER_PROTOCOL(d) = m {
                    replies.extend(server.handle(255, 190, &d, files));
                }
            }
            for r in replies {
                assert_eq!((r.target_system, r.target_component), (255, 190));
                to_vehicle.extend(t.handle(now, 1, 1, &MavMessage::FILE_TRANSFER_PROTOCOL(r)));
            }
        }
        now
    }

    #[test]
    fn serves_parameters_to_the_core_client() {
        let params: Vec<Param> = (0..1000)
            .map(|i| Param {
                name: format!("SIM_P{i:04}"),
                value: f64::from(i),
                param_type: MavParamType::MAV_PARAM_TYPE_INT32,
            })
            .collect();
        let mut files = Files::default();
        files.0.insert(
            "@PARAM/param.pck".into(),
            param_pck::encode(&params, param_pck::BLOCK_SIZE).expect("packs"),
        );
        let mut server = FtpServer::new();
        let mut fetch = ParamFetch::new(VEHICLE, FtpConfig::default());
        run(&mut fetch, &mut server, &mut files);
        assert_eq!(fetch.outcome(), Some(Ok(params)));
        assert!(!server.session_open());
    }

    #[test]
    fn stores_and_serves_a_mission() {
        let t = MavMissionType::MAV_MISSION_TYPE_MISSION;
        let items: Vec<MissionItem> = (0..650)
            .map(|seq| MissionItem {
                seq,
                frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                command: MavCmd::MAV_CMD_NAV_WAYPOINT,
                current: false,
                autocontinue: true,
                param1: 0.0,
                param2: 0.0,
                param3: 0.0,
                param4: 0.0,
                x: 10 * i32::from(seq),
                y: -20 * i32::from(seq),
                z: 50.0,
                mission_type: t,
            })
            .collect();
        let mut files = Files::default();
        let mut server = FtpServer::new();
        let mut store =
            MissionStore::new(VEHICLE, t, &items, FtpConfig::default()).expect("650 fit");
        run(&mut store, &mut server, &mut files);
        assert_eq!(store.outcome(), Some(Ok(())));
        let config = FtpConfig {
            first_seq: store.next_seq(),
            ..FtpConfig::default()
        };
        let mut fetch = MissionFetch::new(VEHICLE, t, config);
        run(&mut fetch, &mut server, &mut files);
        assert_eq!(fetch.outcome(), Some(Ok(items)));
    }

    #[test]
    fn missing_files_and_rejected_uploads() {
        let mut files = Files::default();
        let mut server = FtpServer::new();
        let mut fetch = MissionFetch::new(
            VEHICLE,
            MavMissionType::MAV_MISSION_TYPE_RALLY,
            FtpConfig::default(),
        );
        run(&mut fetch, &mut server, &mut files);
        assert_eq!(
            fetch.outcome(),
            Some(Err(FtpError::NotFound("@MISSION/rally.dat".into())))
        );
        let config = FtpConfig {
            first_seq: fetch.next_seq(),
            ..FtpConfig::default()
        };
        let mut bad =
            airgap_core::ftp::WriteFile::new(VEHICLE, "@MISSION/fence.dat", vec![1, 2, 3], config);
        run(&mut bad, &mut server, &mut files);
        assert!(matches!(bad.outcome(), Some(Err(FtpError::Refused { .. }))));
        assert!(files.0.is_empty());
    }
}
