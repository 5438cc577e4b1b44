//! The client side of the MAVLink mission protocol (<https://mavlink.io/en/services/mission.html>)
//! as sans-IO machines: upload, download, clear and set-current for missions, geofences and
//! rally points, plus the verify-after-upload comparison.
//!
//! Each machine is driven by an actor: `start(now)` once, `handle(now, sysid, compid, msg)` for
//! every message from the link, `poll(now)` when [`MissionTransfer::next_deadline`] passes;
//! each returns the messages to send. Outgoing messages carry the vehicle in their target
//! fields; the caller sends them with its own system and component id. Time is whatever
//! monotonic clock the caller uses, as a `Duration` since its own epoch.
//!
//! They are built to survive a bad radio link (30 % loss each way is the design point):
//! retransmission on a short timeout that adapts to the measured round trip, downloads that
//! keep several requests in flight and accept items in any order, uploads that re-send the
//! COUNT and the last item instead of waiting out the vehicle's one-second re-ask.

// The protocol as vehicles speak it is full of deprecated names: ArduPilot requests items
// with MISSION_REQUEST, old vehicles send MISSION_ITEM, MISSION_SET_CURRENT is the only
// set-current older firmware knows, and vehicles return the `_INT` frames.
#![allow(deprecated)]

mod control;
mod download;
mod upload;
mod verify;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use crate::dialect::{
    MavFrame, MavMissionResult, MavMissionType, MavResult, MISSION_ACK_DATA, MISSION_ITEM_DATA,
};
use crate::mission::MissionItem;
use crate::MavMessage;

pub use control::{Clear, SetCurrent, SetCurrentMethod};
pub use download::Download;
pub use upload::Upload;
pub use verify::{verify, Difference};

/// The vehicle a transfer talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub system_id: u8,
    /// The autopilot component, usually 1 (`MAV_COMP_ID_AUTOPILOT1`). 0 accepts answers from
    /// any component of `system_id`.
    pub component_id: u8,
}

/// Timing and limits shared by every machine here. The defaults suit a telemetry radio.
#[derive(Debug, Clone)]
pub struct TransferConfig {
    /// Retransmission timeout before any round trip has been measured.
    pub initial_timeout: Duration,
    /// Bounds of the adaptive timeout: the floor keeps a fast link from being flooded with
    /// duplicates, the ceiling keeps one slow answer from stalling a lossy transfer.
    pub min_timeout: Duration,
    pub max_timeout: Duration,
    /// Retransmissions in a row without progress before a step fails with `Timeout`.
    pub max_retries: u32,
    /// The whole operation fails with `Timeout` after this long, whatever the progress.
    pub overall_timeout: Duration,
    /// Item requests a download keeps in flight.
    pub download_window: usize,
    /// When set, messages addressed to another ground station (a non-zero `target_system`
    /// other than this) are ignored, so two GCSes on one link do not confuse each other.
    pub gcs_system_id: Option<u8>,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            initial_timeout: Duration::from_millis(250),
            min_timeout: Duration::from_millis(50),
            max_timeout: Duration::from_secs(2),
            max_retries: 30,
            overall_timeout: Duration::from_secs(300),
            download_window: 8,
            gcs_system_id: None,
        }
    }
}

/// How far an operation has got: items the vehicle has confirmed (upload) or we hold
/// (download) out of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub done: u16,
    pub total: u16,
}

/// The protocol step a `Timeout` happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Upload: MISSION_COUNT sent, no request for an item came.
    Count,
    /// Upload: item `seq` sent, the vehicle asked for nothing further.
    Item(u16),
    /// Upload: last item sent, no MISSION_ACK came.
    Ack,
    /// Download: MISSION_REQUEST_LIST sent, no MISSION_COUNT came.
    List,
    /// Download: items requested, not all arrived.
    Items,
    /// MISSION_CLEAR_ALL sent, no MISSION_ACK came.
    Clear,
    /// Set-current sent, neither COMMAND_ACK nor MISSION_CURRENT confirmed it.
    SetCurrent,
    /// Upload ended ambiguously; MISSION_REQUEST_LIST sent to read the stored count back.
    Confirm,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Count => f.write_str("the mission count (no item was requested)"),
            Step::Item(seq) => write!(f, "item {seq} (no further request)"),
            Step::Ack => f.write_str("the final acknowledgement"),
            Step::List => f.write_str("the item count (MISSION_REQUEST_LIST)"),
            Step::Items => f.write_str("the mission items"),
            Step::Clear => f.write_str("the clear request"),
            Step::SetCurrent => f.write_str("the set-current request"),
            Step::Confirm => f.write_str("the confirmation of the stored count"),
        }
    }
}

/// How a mission operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransferError {
    #[error("the vehicle stopped answering: timed out waiting for {step} after {retries} retries")]
    Timeout { step: Step, retries: u32 },
    #[error("the vehicle has no space for that many items (MAV_MISSION_NO_SPACE)")]
    NoSpace,
    #[error("the vehicle refused: {0:?}")]
    Denied(MavMissionResult),
    #[error("the vehicle refused the command: {0:?}")]
    CommandDenied(MavResult),
    #[error("the vehicle does not support this mission type or request")]
    Unsupported,
    #[error("the vehicle cancelled the transfer (it heard nothing for too long)")]
    CancelledByVehicle,
    #[error("cancelled")]
    Cancelled,
    #[error("{0} items is more than the protocol can number (65535)")]
    TooManyItems(usize),
}

/// What the actor drives. `Output` is what a successful operation yields.
pub trait MissionTransfer {
    type Output;

    /// Begin: the first messages to send.
    fn start(&mut self, now: Duration) -> Vec<MavMessage>;
    /// Feed one received message, with its sender's ids from the frame header.
    fn handle(
        &mut self,
        now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage>;
    /// Timeouts and retransmissions; call at [`Self::next_deadline`] (calling more often is
    /// harmless).
    fn poll(&mut self, now: Duration) -> Vec<MavMessage>;
    /// Abandon the operation; the outcome becomes `Err(Cancelled)`.
    fn cancel(&mut self, now: Duration) -> Vec<MavMessage>;
    /// `None` while running.
    fn outcome(&self) -> Option<Result<Self::Output, TransferError>>;
    fn progress(&self) -> Progress;
    /// When `poll` next has work to do; `None` once finished.
    fn next_deadline(&self) -> Option<Duration>;
    fn is_finished(&self) -> bool {
        self.next_deadline().is_none()
    }
}

/// A retransmission timeout that follows the measured round trip (RFC 6298's smoothing,
/// without its exponential backoff: on a radio, loss is noise, not congestion, so backing
/// off would only slow a lossy transfer down).
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
    max: Duration,
}

impl RttEstimator {
    pub fn new(config: &TransferConfig) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: config.initial_timeout.clamp(
                config.min_timeout,
                config.max_timeout.max(config.min_timeout),
            ),
            min: config.min_timeout,
            max: config.max_timeout.max(config.min_timeout),
        }
    }

    /// One round trip of a request that was sent once (Karn: never sample retransmissions,
    /// whose answer may belong to the first copy).
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let err = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + err) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        // A steady link drives rttvar to zero; keep a quarter of the round trip as margin
        // so ordinary jitter does not cause a retransmission.
        self.rto = (srtt + (self.rttvar * 4).max(srtt / 4)).clamp(self.min, self.max);
    }

    pub fn timeout(&self) -> Duration {
        self.rto
    }

    pub fn smoothed_rtt(&self) -> Option<Duration> {
        self.srtt
    }
}

/// The filtering every machine applies before looking at a message.
#[derive(Debug, Clone)]
struct Peer {
    target: Target,
    mission_type: MavMissionType,
    gcs_system_id: Option<u8>,
}

impl Peer {
    fn is_target(&self, sysid: u32, compid: u8) -> bool {
        sysid == u32::from(self.target.system_id)
            && (self.target.component_id == 0 || compid == self.target.component_id)
    }

    fn addressed_to_us(&self, target_system: u8) -> bool {
        match self.gcs_system_id {
            Some(ours) => target_system == 0 || target_system == ours,
            None => true,
        }
    }

    /// The message is from our vehicle, for us, and about our mission type.
    fn accepts(&self, target_system: u8, mission_type: MavMissionType) -> bool {
        self.addressed_to_us(target_system) && mission_type == self.mission_type
    }

    fn ack(&self, result: MavMissionResult) -> MavMessage {
        MavMessage::MISSION_ACK(MISSION_ACK_DATA {
            target_system: self.target.system_id,
            target_component: self.target.component_id,
            mavtype: result,
            mission_type: self.mission_type,
            ..MISSION_ACK_DATA::DEFAULT
        })
    }

    fn request_list(&self) -> MavMessage {
        MavMessage::MISSION_REQUEST_LIST(crate::dialect::MISSION_REQUEST_LIST_DATA {
            target_system: self.target.system_id,
            target_component: self.target.component_id,
            mission_type: self.mission_type,
        })
    }
}

/// The outcome a vehicle's MISSION_ACK means, for acks that end an operation.
fn ack_error(result: MavMissionResult) -> TransferError {
    match result {
        MavMissionResult::MAV_MISSION_NO_SPACE => TransferError::NoSpace,
        MavMissionResult::MAV_MISSION_UNSUPPORTED => TransferError::Unsupported,
        MavMissionResult::MAV_MISSION_OPERATION_CANCELLED => TransferError::CancelledByVehicle,
        other => TransferError::Denied(other),
    }
}

/// A legacy MISSION_ITEM as the item MISSION_ITEM_INT would have carried. Coordinates are
/// rounded to the nearest 1e-7° (1e-4 m for local frames), never truncated: truncation
/// moves half the items of a round trip by one unit (MAVProxy does this).
pub fn item_from_legacy(m: &MISSION_ITEM_DATA) -> MissionItem {
    let scale = match m.frame {
        MavFrame::MAV_FRAME_GLOBAL
        | MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT
        | MavFrame::MAV_FRAME_GLOBAL_INT
        | MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
        | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT
        | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT_INT => 1e7,
        MavFrame::MAV_FRAME_LOCAL_NED
        | MavFrame::MAV_FRAME_LOCAL_ENU
        | MavFrame::MAV_FRAME_LOCAL_OFFSET_NED
        | MavFrame::MAV_FRAME_BODY_NED
        | MavFrame::MAV_FRAME_BODY_OFFSET_NED
        | MavFrame::MAV_FRAME_BODY_FRD
        | MavFrame::MAV_FRAME_LOCAL_FRD
        | MavFrame::MAV_FRAME_LOCAL_FLU => 1e4,
        // MAV_FRAME_MISSION and the rest: x and y are plain parameters.
        _ => 1.0,
    };
    // `as` saturates and maps NaN to 0, so a hostile float cannot panic here.
    let scaled = |v: f32| (f64::from(v) * scale).round() as i32;
    MissionItem {
        seq: m.seq,
        frame: m.frame,
        command: m.command,
        current: m.current != 0,
        autocontinue: m.autocontinue != 0,
        param1: m.param1,
        param2: m.param2,
        param3: m.param3,
        param4: m.param4,
        x: scaled(m.x),
        y: scaled(m.y),
        z: m.z,
        mission_type: m.mission_type,
    }
}
