//! MAVFTP (<https://mavlink.io/en/services/ftp.html>) as ArduPilot speaks it: the payload
//! codec ([`payload`]), sans-IO client machines that read and write one file over a lossy
//! link ([`ReadFile`], [`WriteFile`]) and the ones the engine drives for parameters and
//! missions ([`ParamFetch`], [`MissionFetch`], [`MissionStore`]), ArduPilot's file formats
//! behind them ([`param_pck`], [`mission_dat`]), and the vehicle side ([`server`]) the
//! simulator serves and the tests run against.
//!
//! The machines are driven like the mission and parameter ones: `start(now)` once,
//! `handle(now, sysid, compid, msg)` for every received message, `poll(now)` when
//! [`FtpTransfer::next_deadline`] passes; each returns the FILE_TRANSFER_PROTOCOL messages
//! to send, addressed to the vehicle through their target fields.

mod client;
mod fetch;
pub mod mission_dat;
pub mod param_pck;
pub mod payload;
pub mod server;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use crate::MavMessage;

pub use crate::mission::transfer::Target;
pub use client::{ReadFile, WriteFile};
pub use fetch::{MissionFetch, MissionStore, ParamFetch};
pub use payload::{FtpErrorCode, Opcode, Payload, PayloadError};

/// Timing and limits of the FTP machines. The defaults suit a telemetry radio and make a
/// vehicle without MAVFTP known within about 1.5 s.
#[derive(Debug, Clone)]
pub struct FtpConfig {
    /// Retransmission timeout before any round trip has been measured.
    pub initial_timeout: Duration,
    /// Bounds of the adaptive timeout.
    pub min_timeout: Duration,
    pub max_timeout: Duration,
    /// Sends of the opening request before concluding the vehicle has no MAVFTP. Kept small
    /// so the caller falls back to the classic protocol quickly, yet enough that 30 % loss
    /// each way (a round trip succeeds half the time) almost never trips it.
    pub open_attempts: u32,
    /// Retransmission rounds in a row without progress before `Timeout`.
    pub max_retries: u32,
    /// The whole operation fails with `Timeout` after this long.
    pub overall_timeout: Duration,
    /// Gap re-reads kept in flight. ArduPilot queues at most five requests and drops the
    /// rest, so more would only be lost.
    pub read_window: usize,
    /// Unacknowledged writes kept in flight (same limit).
    pub write_window: usize,
    /// A read larger than this fails with `TooLarge` instead of growing without bound on a
    /// garbage offset.
    pub max_file_bytes: u32,
    /// When set, messages addressed to another ground station are ignored.
    pub gcs_system_id: Option<u8>,
    /// The first request's sequence number. A server repeats its last reply to a request
    /// that reuses that reply's request `seq` (the spec's answer to a lost reply), so a new
    /// transfer starting at the number the previous one also used could be handed the old
    /// answer: the engine continues numbering from the previous machine's `next_seq()`.
    pub first_seq: u16,
}

impl Default for FtpConfig {
    fn default() -> Self {
        FtpConfig {
            initial_timeout: Duration::from_millis(125),
            min_timeout: Duration::from_millis(50),
            max_timeout: Duration::from_secs(2),
            open_attempts: 12,
            max_retries: 30,
            overall_timeout: Duration::from_secs(120),
            read_window: 4,
            write_window: 4,
            max_file_bytes: 16 * 1024 * 1024,
            gcs_system_id: None,
            first_seq: 0,
        }
    }
}

/// The protocol step an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Open,
    ResetSessions,
    Read,
    Write,
    Terminate,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Open => "opening the file",
            Step::ResetSessions => "resetting the FTP sessions",
            Step::Read => "reading the file",
            Step::Write => "writing the file",
            Step::Terminate => "closing the file",
        })
    }
}

/// How an FTP operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FtpError {
    /// The vehicle never answered an FTP request, or does not know the opcode: use the
    /// classic protocol.
    #[error("the vehicle does not offer MAVFTP")]
    Unavailable,
    #[error("the vehicle has no file {0:?}")]
    NotFound(String),
    #[error("the vehicle's FTP sessions are all in use")]
    Busy,
    #[error("the vehicle stopped answering while {step} ({retries} retries)")]
    Timeout { step: Step, retries: u32 },
    #[error("the vehicle refused {op:?}: {code:?}{}", errno.map(|e| format!(" (errno {e})")).unwrap_or_default())]
    Refused {
        op: Opcode,
        code: FtpErrorCode,
        errno: Option<u8>,
    },
    #[error("the file is larger than {0} bytes")]
    TooLarge(u32),
    #[error("the path is empty or longer than 239 bytes")]
    BadPath,
    #[error("cancelled")]
    Cancelled,
    #[error("bad parameter file: {0}")]
    BadParamFile(#[from] param_pck::ParamPckError),
    #[error("bad mission file: {0}")]
    BadMissionFile(#[from] mission_dat::MissionDatError),
}

/// Bytes moved so far. `total_bytes` is the vehicle's size for a read (a hint: ArduPilot
/// estimates param.pck's) and the data's length for a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub bytes: u32,
    pub total_bytes: Option<u32>,
}

/// What an actor drives; `Output` is what a successful operation yields.
pub trait FtpTransfer {
    type Output;

    /// Begin: the first messages to send.
    fn start(&mut self, now: Duration) -> Vec<MavMessage>;
    /// Feed one received message with its sender's ids from the frame header.
    fn handle(
        &mut self,
        now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage>;
    /// Timeouts and retransmissions; call at [`Self::next_deadline`] (more often is harmless).
    fn poll(&mut self, now: Duration) -> Vec<MavMessage>;
    /// Abandon the operation (closing the vehicle's session); the outcome becomes
    /// `Err(Cancelled)`.
    fn cancel(&mut self, now: Duration) -> Vec<MavMessage>;
    /// `None` while running.
    fn outcome(&self) -> Option<Result<Self::Output, FtpError>>;
    fn progress(&self) -> Progress;
    /// When `poll` next has work; `None` once finished.
    fn next_deadline(&self) -> Option<Duration>;
    /// The sequence number the next request would carry: pass it as the next transfer's
    /// [`FtpConfig::first_seq`] (a vehicle answers a request that repeats the last sequence
    /// number with its cached reply).
    fn next_seq(&self) -> u16;
    fn is_finished(&self) -> bool {
        self.next_deadline().is_none()
    }
}
