//! The one-message operations: clear a mission type, and set the current mission item.
//! Both are idempotent on the vehicle, so a lost answer is simply asked for again.

use std::time::Duration;

use super::{
    ack_error, MissionTransfer, Peer, Progress, RttEstimator, Step, Target, TransferConfig,
    TransferError,
};
use crate::dialect::{
    MavCmd, MavMissionResult, MavMissionType, MavResult, COMMAND_LONG_DATA, MISSION_CLEAR_ALL_DATA,
    MISSION_SET_CURRENT_DATA,
};
use crate::MavMessage;

/// A request answered by one message, retried on the adaptive timeout, and its result:
/// what `Clear` and `SetCurrent` share.
#[derive(Debug, Clone)]
struct Retrying {
    config: TransferConfig,
    rtt: RttEstimator,
    started_at: Duration,
    sent_at: Duration,
    retries: u32,
    running: bool,
    result: Option<Result<(), TransferError>>,
}

impl Retrying {
    fn new(config: TransferConfig) -> Retrying {
        Retrying {
            rtt: RttEstimator::new(&config),
            config,
            started_at: Duration::ZERO,
            sent_at: Duration::ZERO,
            retries: 0,
            running: false,
            result: None,
        }
    }

    /// Starts the exchange; false if it already ran or is running.
    fn begin(&mut self, now: Duration) -> bool {
        if self.running || self.result.is_some() {
            return false;
        }
        self.start(now);
        true
    }

    fn finish(&mut self, result: Result<(), TransferError>) {
        self.result = Some(result);
        self.running = false;
    }

    /// True when the request is due again; out of retries or time, the exchange ends.
    fn resend_due(&mut self, now: Duration, step: Step) -> bool {
        if !self.running {
            return false;
        }
        match self.poll(now, step) {
            Ok(due) => due,
            Err(e) => {
                self.finish(Err(e));
                false
            }
        }
    }

    fn cancel(&mut self) {
        if self.result.is_none() {
            self.finish(Err(TransferError::Cancelled));
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            done: u16::from(matches!(self.result, Some(Ok(())))),
            total: 1,
        }
    }

    fn start(&mut self, now: Duration) {
        self.started_at = now;
        self.sent_at = now;
        self.running = true;
    }

    /// `Ok(true)` when it is time to send again, `Err` when out of retries or time.
    fn poll(&mut self, now: Duration, step: Step) -> Result<bool, TransferError> {
        let timeout = TransferError::Timeout {
            step,
            retries: self.retries,
        };
        if now >= self.started_at + self.config.overall_timeout {
            return Err(timeout);
        }
        if now < self.sent_at + self.rtt.timeout() {
            return Ok(false);
        }
        if self.retries >= self.config.max_retries {
            return Err(timeout);
        }
        self.retries += 1;
        self.sent_at = now;
        Ok(true)
    }

    fn deadline(&self) -> Option<Duration> {
        self.running.then(|| {
            (self.sent_at + self.rtt.timeout()).min(self.started_at + self.config.overall_timeout)
        })
    }
}

/// MISSION_CLEAR_ALL until MISSION_ACK.
#[derive(Debug, Clone)]
pub struct Clear {
    peer: Peer,
    retry: Retrying,
}

impl Clear {
    pub fn new(target: Target, mission_type: MavMissionType, config: TransferConfig) -> Clear {
        Clear {
            peer: Peer {
                target,
                mission_type,
                gcs_system_id: config.gcs_system_id,
            },
            retry: Retrying::new(config),
        }
    }

    fn message(&self) -> MavMessage {
        MavMessage::MISSION_CLEAR_ALL(MISSION_CLEAR_ALL_DATA {
            target_system: self.peer.target.system_id,
            target_component: self.peer.target.component_id,
            mission_type: self.peer.mission_type,
        })
    }

    fn finish(&mut self, result: Result<(), TransferError>) {
        self.retry.finish(result);
    }
}

impl MissionTransfer for Clear {
    type Output = ();

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.retry.begin(now) {
            vec![self.message()]
        } else {
            Vec::new()
        }
    }

    fn handle(
        &mut self,
        _now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if !self.retry.running || !self.peer.is_target(sysid, compid) {
            return Vec::new();
        }
        if let MavMessage::MISSION_ACK(m) = msg {
            if self.peer.accepts(m.target_system, m.mission_type) {
                match m.mavtype {
                    MavMissionResult::MAV_MISSION_ACCEPTED => self.finish(Ok(())),
                    // Answers to some earlier upload's repeated item, not to us.
                    MavMissionResult::MAV_MISSION_INVALID_SEQUENCE => {}
                    other => self.finish(Err(ack_error(other))),
                }
            }
        }
        Vec::new()
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.retry.resend_due(now, Step::Clear) {
            vec![self.message()]
        } else {
            Vec::new()
        }
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        self.retry.cancel();
        Vec::new()
    }

    fn outcome(&self) -> Option<Result<(), TransferError>> {
        self.retry.result.clone()
    }

    fn progress(&self) -> Progress {
        self.retry.progress()
    }

    fn next_deadline(&self) -> Option<Duration> {
        self.retry.deadline()
    }
}

/// How to ask for a new current item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCurrentMethod {
    /// COMMAND_LONG MAV_CMD_DO_SET_MISSION_CURRENT (the current protocol), falling back to
    /// MISSION_SET_CURRENT if the vehicle answers UNSUPPORTED.
    Command,
    /// MISSION_SET_CURRENT only (deprecated, but every ArduPilot understands it).
    Legacy,
}

/// Sets the current mission item; done on MISSION_CURRENT showing it (or the command's
/// ACCEPTED).
#[derive(Debug, Clone)]
pub struct SetCurrent {
    peer: Peer,
    seq: u16,
    method: SetCurrentMethod,
    retry: Retrying,
}

impl SetCurrent {
    pub fn new(
        target: Target,
        seq: u16,
        method: SetCurrentMethod,
        config: TransferConfig,
    ) -> SetCurrent {
        SetCurrent {
            peer: Peer {
                target,
                mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
                gcs_system_id: config.gcs_system_id,
            },
            seq,
            method,
            retry: Retrying::new(config),
        }
    }

    fn message(&self) -> MavMessage {
        let target = self.peer.target;
        match self.method {
            SetCurrentMethod::Command => MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
                param1: f32::from(self.seq),
                // param2 = 0: keep the mission's jump counters and state.
                command: MavCmd::MAV_CMD_DO_SET_MISSION_CURRENT,
                target_system: target.system_id,
                target_component: target.component_id,
                // The command protocol counts re-sends in `confirmation`.
                confirmation: u8::try_from(self.retry.retries).unwrap_or(u8::MAX),
                ..COMMAND_LONG_DATA::DEFAULT
            }),
            SetCurrentMethod::Legacy => MavMessage::MISSION_SET_CURRENT(MISSION_SET_CURRENT_DATA {
                seq: self.seq,
                target_system: target.system_id,
                target_component: target.component_id,
            }),
        }
    }

    fn finish(&mut self, result: Result<(), TransferError>) {
        self.retry.finish(result);
    }
}

impl MissionTransfer for SetCurrent {
    type Output = ();

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.retry.begin(now) {
            vec![self.message()]
        } else {
            Vec::new()
        }
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if !self.retry.running || !self.peer.is_target(sysid, compid) {
            return Vec::new();
        }
        match msg {
            MavMessage::MISSION_CURRENT(m) if m.seq == self.seq => self.finish(Ok(())),
            MavMessage::COMMAND_ACK(m)
                if m.command == MavCmd::MAV_CMD_DO_SET_MISSION_CURRENT
                    && self.method == SetCurrentMethod::Command
                    && self.peer.addressed_to_us(m.target_system) =>
            {
                match m.result {
                    MavResult::MAV_RESULT_ACCEPTED => self.finish(Ok(())),
                    MavResult::MAV_RESULT_IN_PROGRESS => {}
                    MavResult::MAV_RESULT_UNSUPPORTED => {
                        self.method = SetCurrentMethod::Legacy;
                        self.retry.start(now);
                        self.retry.retries = 0;
                        return vec![self.message()];
                    }
                    other => self.finish(Err(TransferError::CommandDenied(other))),
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.retry.resend_due(now, Step::SetCurrent) {
            vec![self.message()]
        } else {
            Vec::new()
        }
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        self.retry.cancel();
        Vec::new()
    }

    fn outcome(&self) -> Option<Result<(), TransferError>> {
        self.retry.result.clone()
    }

    fn progress(&self) -> Progress {
        self.retry.progress()
    }

    fn next_deadline(&self) -> Option<Duration> {
        self.retry.deadline()
    }
}
