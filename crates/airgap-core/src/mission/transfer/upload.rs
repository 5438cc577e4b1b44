//! Upload: MISSION_COUNT, then answer the vehicle's item requests until its MISSION_ACK.
//!
//! The vehicle paces an upload (it asks for item n, we answer), and ArduPilot re-asks only
//! after a second, so on a lossy link the client must not simply wait:
//! - MISSION_COUNT is re-sent until the first request arrives (never after: ArduPilot
//!   restarts an upload on every COUNT it hears from the same GCS).
//! - The item last sent is re-sent on our short timeout when the next request does not come,
//!   in case our copy was lost.
//! - If instead the vehicle's next request was lost, ArduPilot answers that repeat with
//!   MISSION_ACK(INVALID_SEQUENCE): it already holds the item and waits for the next one, so
//!   we send the next item at once rather than wait out its re-ask. PX4 ignores repeats
//!   silently and never triggers this.
//! - After the last item, it is re-sent until the ACK arrives. ArduPilot answers a repeated
//!   last item after a completed upload with MISSION_ACK(ERROR); a copy the link duplicated
//!   does the same, and may overtake the ACCEPTED. So an ERROR to the last item is
//!   ambiguous (ACCEPTED lost or late, or the item really refused), and the stored count is
//!   read back with MISSION_REQUEST_LIST to decide. A refused last item that replaced an
//!   older one leaves the count right: verify-after-upload is what catches that.

use std::time::Duration;

use super::{
    ack_error, MissionTransfer, Peer, Progress, RttEstimator, Step, Target, TransferConfig,
    TransferError,
};
use crate::dialect::{MavMissionResult, MavMissionType, MISSION_COUNT_DATA};
use crate::mission::MissionItem;
use crate::MavMessage;

#[derive(Debug, Clone)]
enum State {
    NotStarted,
    /// COUNT sent; `sent_at` is the first send, for a round-trip sample if never re-sent.
    AwaitFirstRequest {
        sent_at: Duration,
        resent: bool,
    },
    Sending,
    /// The last item has been sent (requested or not); waiting for the ACK.
    Finishing,
    /// The vehicle said ERROR to a repeated last item: reading its count back.
    Confirming,
    Done(Result<(), TransferError>),
}

/// Uploads one mission type's items. See the module docs for the retransmission rules.
#[derive(Debug, Clone)]
pub struct Upload {
    peer: Peer,
    config: TransferConfig,
    items: Vec<MissionItem>,
    rtt: RttEstimator,
    state: State,
    started_at: Duration,
    deadline: Duration,
    /// Timeouts in a row without the vehicle asking for a new item.
    retries: u32,
    /// The item the vehicle most recently asked for: it holds every item before it.
    requested: Option<u16>,
    last_sent: Option<LastSent>,
    /// Once the last item has gone out, the upload can end at any moment: a request for an
    /// earlier item that the link delayed must not make us ignore the ACK.
    sent_last_item: bool,
}

#[derive(Debug, Clone, Copy)]
struct LastSent {
    seq: u16,
    at: Duration,
    copies: u32,
}

impl Upload {
    /// Items are renumbered 0.. and stamped with `mission_type`, so the caller's `seq` fields
    /// need not be right.
    pub fn new(
        target: Target,
        mission_type: MavMissionType,
        items: Vec<MissionItem>,
        config: TransferConfig,
    ) -> Result<Upload, TransferError> {
        if items.len() > usize::from(u16::MAX) {
            return Err(TransferError::TooManyItems(items.len()));
        }
        let items = items
            .into_iter()
            .zip(0u16..)
            .map(|(item, seq)| MissionItem {
                seq,
                mission_type,
                ..item
            })
            .collect();
        Ok(Upload {
            peer: Peer {
                target,
                mission_type,
                gcs_system_id: config.gcs_system_id,
            },
            rtt: RttEstimator::new(&config),
            config,
            items,
            state: State::NotStarted,
            started_at: Duration::ZERO,
            deadline: Duration::ZERO,
            retries: 0,
            requested: None,
            last_sent: None,
            sent_last_item: false,
        })
    }

    /// The round-trip estimate, to seed the next transfer's `initial_timeout`.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    fn count(&self) -> u16 {
        // `new` refuses more than u16::MAX items.
        u16::try_from(self.items.len()).unwrap_or(u16::MAX)
    }

    fn count_msg(&self) -> MavMessage {
        MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
            count: self.count(),
            target_system: self.peer.target.system_id,
            target_component: self.peer.target.component_id,
            mission_type: self.peer.mission_type,
            ..MISSION_COUNT_DATA::DEFAULT
        })
    }

    fn step(&self) -> Step {
        match self.state {
            State::NotStarted | State::AwaitFirstRequest { .. } => Step::Count,
            State::Sending => Step::Item(self.last_sent.map_or(0, |s| s.seq)),
            State::Finishing | State::Done(_) => Step::Ack,
            State::Confirming => Step::Confirm,
        }
    }

    fn finish(&mut self, result: Result<(), TransferError>) {
        self.state = State::Done(result);
    }

    /// Send item `seq` and move the state on; `seq` is in range.
    fn send_item(&mut self, now: Duration, seq: u16) -> Vec<MavMessage> {
        let copies = match self.last_sent {
            Some(last) if last.seq == seq => last.copies + 1,
            _ => 1,
        };
        self.last_sent = Some(LastSent {
            seq,
            at: now,
            copies,
        });
        let last = self.count() - 1;
        self.sent_last_item |= seq == last;
        if self.sent_last_item {
            self.state = State::Finishing;
        } else {
            self.state = State::Sending;
        }
        self.deadline = now + self.rtt.timeout();
        let target = self.peer.target;
        match self.items.get(usize::from(seq)) {
            Some(item) => vec![MavMessage::MISSION_ITEM_INT(
                item.to_wire(target.system_id, target.component_id),
            )],
            None => Vec::new(),
        }
    }

    fn on_request(&mut self, now: Duration, seq: u16) -> Vec<MavMessage> {
        if seq >= self.count() {
            return Vec::new();
        }
        match self.state {
            State::NotStarted | State::Done(_) => return Vec::new(),
            State::AwaitFirstRequest { sent_at, resent } => {
                if !resent {
                    self.rtt.sample(now.saturating_sub(sent_at));
                }
            }
            State::Sending | State::Finishing | State::Confirming => {
                // Karn: only an item sent once times the round trip it started.
                if let Some(last) = self.last_sent {
                    if last.copies == 1 && last.seq.checked_add(1) == Some(seq) {
                        self.rtt.sample(now.saturating_sub(last.at));
                    }
                }
            }
        }
        // Even a repeated request shows the vehicle is still receiving.
        self.retries = 0;
        self.requested = Some(seq);
        self.send_item(now, seq)
    }

    fn on_ack(&mut self, now: Duration, result: MavMissionResult) -> Vec<MavMessage> {
        use MavMissionResult::*;
        match (&self.state, result) {
            (State::NotStarted | State::Done(_), _) => Vec::new(),
            // A repeat of an item the vehicle already holds; see the module docs.
            (State::Sending, MAV_MISSION_INVALID_SEQUENCE) => {
                let Some(last) = self.last_sent else {
                    return Vec::new();
                };
                let Some(next) = last.seq.checked_add(1) else {
                    return Vec::new();
                };
                // Acks carry no sequence number, so a late one may answer an older item.
                // Trusting it only for an item the vehicle asked for, or one we have sent
                // twice (a round trip has passed), means a stale ack can push us ahead by
                // at most one item per timeout until the vehicle's re-ask corrects us.
                if next >= self.count() || (self.requested != Some(last.seq) && last.copies < 2) {
                    return Vec::new();
                }
                self.retries = 0;
                self.send_item(now, next)
            }
            // We sent the last item ahead of a request, but the vehicle still wants an
            // earlier one (its request was delayed or its answer lost). Only in answer to
            // the last item, so that refusals of the earlier one cannot ping-pong.
            (State::Finishing, MAV_MISSION_INVALID_SEQUENCE) => {
                let last = self.count() - 1;
                if self.last_sent.map(|s| s.seq) != Some(last) {
                    return Vec::new();
                }
                match self.requested {
                    Some(wanted) if wanted < last => {
                        self.retries = 0;
                        self.send_item(now, wanted)
                    }
                    _ => Vec::new(),
                }
            }
            (_, MAV_MISSION_INVALID_SEQUENCE) => Vec::new(),
            (State::AwaitFirstRequest { .. }, MAV_MISSION_ACCEPTED) if self.items.is_empty() => {
                self.finish(Ok(()));
                Vec::new()
            }
            (State::Finishing | State::Confirming, MAV_MISSION_ACCEPTED) => {
                self.requested = Some(self.count());
                self.finish(Ok(()));
                Vec::new()
            }
            // Stale: the vehicle cannot have accepted an upload it has not asked the end of.
            (_, MAV_MISSION_ACCEPTED) => Vec::new(),
            (State::Finishing, MAV_MISSION_ERROR) => {
                self.state = State::Confirming;
                self.deadline = now + self.rtt.timeout();
                vec![self.peer.request_list()]
            }
            // ArduPilot refuses a list while it is still receiving: the last item was lost.
            (State::Confirming, MAV_MISSION_DENIED) => {
                let last = self.count() - 1;
                self.send_item(now, last)
            }
            (State::Confirming, _) => Vec::new(),
            (_, other) => {
                self.finish(Err(ack_error(other)));
                Vec::new()
            }
        }
    }

    fn on_count(&mut self, count: u16) -> Vec<MavMessage> {
        if let State::Confirming = self.state {
            if count == self.count() {
                self.requested = Some(count);
                self.finish(Ok(()));
            } else {
                self.finish(Err(TransferError::Denied(
                    MavMissionResult::MAV_MISSION_ERROR,
                )));
            }
        }
        Vec::new()
    }
}

impl MissionTransfer for Upload {
    type Output = ();

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        if !matches!(self.state, State::NotStarted) {
            return Vec::new();
        }
        self.started_at = now;
        self.state = State::AwaitFirstRequest {
            sent_at: now,
            resent: false,
        };
        self.deadline = now + self.rtt.timeout();
        vec![self.count_msg()]
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if !self.peer.is_target(sysid, compid) {
            return Vec::new();
        }
        match msg {
            MavMessage::MISSION_REQUEST_INT(m)
                if self.peer.accepts(m.target_system, m.mission_type) =>
            {
                self.on_request(now, m.seq)
            }
            MavMessage::MISSION_REQUEST(m)
                if self.peer.accepts(m.target_system, m.mission_type) =>
            {
                self.on_request(now, m.seq)
            }
            MavMessage::MISSION_ACK(m) if self.peer.accepts(m.target_system, m.mission_type) => {
                self.on_ack(now, m.mavtype)
            }
            MavMessage::MISSION_COUNT(m) if self.peer.accepts(m.target_system, m.mission_type) => {
                self.on_count(m.count)
            }
            _ => Vec::new(),
        }
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, State::NotStarted | State::Done(_)) {
            return Vec::new();
        }
        if now >= self.started_at + self.config.overall_timeout {
            let step = self.step();
            self.finish(Err(TransferError::Timeout {
                step,
                retries: self.retries,
            }));
            return Vec::new();
        }
        if now < self.deadline {
            return Vec::new();
        }
        if self.retries >= self.config.max_retries {
            let step = self.step();
            self.finish(Err(TransferError::Timeout {
                step,
                retries: self.retries,
            }));
            return Vec::new();
        }
        self.retries += 1;
        match self.state {
            State::AwaitFirstRequest { sent_at, .. } => {
                self.state = State::AwaitFirstRequest {
                    sent_at,
                    resent: true,
                };
                self.deadline = now + self.rtt.timeout();
                vec![self.count_msg()]
            }
            State::Sending => match self.last_sent {
                Some(last) => self.send_item(now, last.seq),
                None => Vec::new(),
            },
            State::Finishing => self.send_item(now, self.count() - 1),
            State::Confirming => {
                self.deadline = now + self.rtt.timeout();
                vec![self.peer.request_list()]
            }
            State::NotStarted | State::Done(_) => Vec::new(),
        }
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, State::Done(_)) {
            return Vec::new();
        }
        let started = !matches!(self.state, State::NotStarted);
        self.finish(Err(TransferError::Cancelled));
        if started {
            vec![self
                .peer
                .ack(MavMissionResult::MAV_MISSION_OPERATION_CANCELLED)]
        } else {
            Vec::new()
        }
    }

    fn outcome(&self) -> Option<Result<(), TransferError>> {
        match &self.state {
            State::Done(result) => Some(result.clone()),
            _ => None,
        }
    }

    /// `done` is the item the vehicle last asked for, i.e. how many it holds; it can go back
    /// if the vehicle restarts the upload.
    fn progress(&self) -> Progress {
        Progress {
            done: self.requested.unwrap_or(0),
            total: self.count(),
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        match self.state {
            State::NotStarted | State::Done(_) => None,
            _ => Some(
                self.deadline
                    .min(self.started_at + self.config.overall_timeout),
            ),
        }
    }
}
