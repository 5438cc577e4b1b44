//! The transfers the engine asks for by name: the parameter list ([`ParamFetch`]) and a
//! mission, fence or rally list read ([`MissionFetch`]) or written ([`MissionStore`]) as
//! ArduPilot's files. Thin: a [`ReadFile`]/[`WriteFile`] plus the file format.

use std::time::Duration;

use super::client::{ReadFile, WriteFile};
use super::{mission_dat, param_pck, FtpConfig, FtpError, FtpTransfer, Progress, Target};
use crate::dialect::MavMissionType;
use crate::mission::MissionItem;
use crate::params::Param;
use crate::MavMessage;

/// ArduPilot's packed parameter file.
pub const PARAM_PATH: &str = "@PARAM/param.pck";

/// A read whose bytes are decoded once, when it completes.
#[derive(Debug, Clone)]
struct Decoded<T> {
    read: ReadFile,
    decode: fn(&[u8]) -> Result<T, FtpError>,
    result: Option<Result<T, FtpError>>,
}

impl<T: Clone> Decoded<T> {
    fn settle(&mut self) {
        if self.result.is_none() {
            self.result = self
                .read
                .outcome()
                .map(|r| r.and_then(|bytes| (self.decode)(&bytes)));
        }
    }
}

impl<T: Clone> FtpTransfer for Decoded<T> {
    type Output = T;

    fn next_seq(&self) -> u16 {
        self.read.next_seq()
    }

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        let out = self.read.start(now);
        self.settle();
        out
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        let out = self.read.handle(now, sysid, compid, msg);
        self.settle();
        out
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        let out = self.read.poll(now);
        self.settle();
        out
    }

    fn cancel(&mut self, now: Duration) -> Vec<MavMessage> {
        let out = self.read.cancel(now);
        self.settle();
        out
    }

    fn outcome(&self) -> Option<Result<T, FtpError>> {
        self.result.clone()
    }

    fn progress(&self) -> Progress {
        self.read.progress()
    }

    fn next_deadline(&self) -> Option<Duration> {
        self.read.next_deadline()
    }
}

macro_rules! delegate_transfer {
    ($outer:ty, $output:ty) => {
        impl FtpTransfer for $outer {
            type Output = $output;

            fn start(&mut self, now: Duration) -> Vec<MavMessage> {
                self.0.start(now)
            }
            fn next_seq(&self) -> u16 {
                self.0.next_seq()
            }
            fn handle(
                &mut self,
                now: Duration,
                sysid: u32,
                compid: u8,
                msg: &MavMessage,
            ) -> Vec<MavMessage> {
                self.0.handle(now, sysid, compid, msg)
            }
            fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
                self.0.poll(now)
            }
            fn cancel(&mut self, now: Duration) -> Vec<MavMessage> {
                self.0.cancel(now)
            }
            fn outcome(&self) -> Option<Result<$output, FtpError>> {
                self.0.outcome()
            }
            fn progress(&self) -> Progress {
                self.0.progress()
            }
            fn next_deadline(&self) -> Option<Duration> {
                self.0.next_deadline()
            }
        }
    };
}

/// Downloads every parameter as `@PARAM/param.pck`.
#[derive(Debug, Clone)]
pub struct ParamFetch(Decoded<Vec<Param>>);

impl ParamFetch {
    pub fn new(target: Target, config: FtpConfig) -> ParamFetch {
        ParamFetch(Decoded {
            read: ReadFile::new(target, PARAM_PATH, config),
            decode: |bytes| Ok(param_pck::decode(bytes)?.params),
            result: None,
        })
    }
}

delegate_transfer!(ParamFetch, Vec<Param>);

fn decode_mission(bytes: &[u8]) -> Result<Vec<MissionItem>, FtpError> {
    Ok(mission_dat::decode(bytes)?.items)
}

/// Downloads one mission type's items as ArduPilot's `.dat` file.
#[derive(Debug, Clone)]
pub struct MissionFetch(Decoded<Vec<MissionItem>>);

impl MissionFetch {
    pub fn new(target: Target, mission_type: MavMissionType, config: FtpConfig) -> MissionFetch {
        MissionFetch(Decoded {
            read: ReadFile::new(target, mission_dat::path(mission_type), config),
            decode: decode_mission,
            result: None,
        })
    }
}

delegate_transfer!(MissionFetch, Vec<MissionItem>);

/// Replaces one mission type's items by writing ArduPilot's `.dat` file; success means the
/// vehicle accepted the file when it was closed.
#[derive(Debug, Clone)]
pub struct MissionStore(WriteFile);

impl MissionStore {
    /// Items are renumbered from 0 in the order given. Fails only when there are more
    /// than the file format can count.
    pub fn new(
        target: Target,
        mission_type: MavMissionType,
        items: &[MissionItem],
        config: FtpConfig,
    ) -> Result<MissionStore, FtpError> {
        let bytes = mission_dat::encode(mission_type, items)?;
        Ok(MissionStore(WriteFile::new(
            target,
            mission_dat::path(mission_type),
            bytes,
            config,
        )))
    }
}

delegate_transfer!(MissionStore, ());
