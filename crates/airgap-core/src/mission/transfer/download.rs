//! Download: MISSION_REQUEST_LIST, MISSION_COUNT, then the items, then our MISSION_ACK.
//!
//! Vehicles answer each item request on its own (ArduPilot keeps no download state; PX4
//! serves any sequence number in range), so several requests are kept in flight and items
//! are accepted in whatever order they land. A request unanswered after the adaptive timeout
//! is sent again; only what is missing is ever re-requested.

use std::collections::VecDeque;
use std::time::Duration;

use super::{
    ack_error, item_from_legacy, MissionTransfer, Peer, Progress, RttEstimator, Step, Target,
    TransferConfig, TransferError,
};
use crate::dialect::{MavMissionResult, MavMissionType, MISSION_REQUEST_INT_DATA};
use crate::mission::MissionItem;
use crate::MavMessage;

#[derive(Debug, Clone)]
enum State {
    NotStarted,
    Listing { sent_at: Duration, resent: bool },
    Receiving,
    Done(Result<Vec<MissionItem>, TransferError>),
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    seq: u16,
    sent_at: Duration,
    resent: bool,
}

/// Downloads one mission type's items.
#[derive(Debug, Clone)]
pub struct Download {
    peer: Peer,
    config: TransferConfig,
    rtt: RttEstimator,
    state: State,
    started_at: Duration,
    list_deadline: Duration,
    retries: u32,
    count: u16,
    items: Vec<Option<MissionItem>>,
    received: u16,
    /// Requests awaiting their item, oldest first: every request shares one timeout, so
    /// the front is always the next to expire.
    in_flight: VecDeque<InFlight>,
    /// Items never requested yet start here.
    next_new: u16,
}

impl Download {
    pub fn new(target: Target, mission_type: MavMissionType, config: TransferConfig) -> Download {
        Download {
            peer: Peer {
                target,
                mission_type,
                gcs_system_id: config.gcs_system_id,
            },
            rtt: RttEstimator::new(&config),
            config,
            state: State::NotStarted,
            started_at: Duration::ZERO,
            list_deadline: Duration::ZERO,
            retries: 0,
            count: 0,
            items: Vec::new(),
            received: 0,
            in_flight: VecDeque::new(),
            next_new: 0,
        }
    }

    /// The round-trip estimate, to seed the next transfer's `initial_timeout`.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    fn request(&self, seq: u16) -> MavMessage {
        MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
            seq,
            target_system: self.peer.target.system_id,
            target_component: self.peer.target.component_id,
            mission_type: self.peer.mission_type,
        })
    }

    fn missing(&self, seq: u16) -> bool {
        matches!(self.items.get(usize::from(seq)), Some(None))
    }

    /// Request never-requested items until the window is full.
    fn fill_window(&mut self, now: Duration) -> Vec<MavMessage> {
        let mut out = Vec::new();
        let window = self.config.download_window.max(1);
        let mut outstanding = self.in_flight.len();
        while outstanding < window && self.next_new < self.count {
            let seq = self.next_new;
            self.next_new += 1;
            if !self.missing(seq) {
                continue;
            }
            self.in_flight.push_back(InFlight {
                seq,
                sent_at: now,
                resent: false,
            });
            out.push(self.request(seq));
            outstanding += 1;
        }
        out
    }

    fn begin_items(&mut self, now: Duration, count: u16) -> Vec<MavMessage> {
        self.count = count;
        self.items = vec![None; usize::from(count)];
        self.received = 0;
        self.in_flight.clear();
        self.next_new = 0;
        self.retries = 0;
        if count == 0 {
            self.state = State::Done(Ok(Vec::new()));
            return vec![self.peer.ack(MavMissionResult::MAV_MISSION_ACCEPTED)];
        }
        self.state = State::Receiving;
        self.fill_window(now)
    }

    fn on_count(&mut self, now: Duration, count: u16) -> Vec<MavMessage> {
        match self.state {
            State::NotStarted => Vec::new(),
            State::Listing { sent_at, resent } => {
                if !resent {
                    self.rtt.sample(now.saturating_sub(sent_at));
                }
                self.begin_items(now, count)
            }
            // A second answer to a re-sent list; a different count means the vehicle's
            // mission changed under us, so start over with the new one.
            State::Receiving if count == self.count => Vec::new(),
            State::Receiving => self.begin_items(now, count),
            // The vehicle repeats itself: it did not hear our ACK.
            State::Done(Ok(_)) => vec![self.peer.ack(MavMissionResult::MAV_MISSION_ACCEPTED)],
            State::Done(Err(_)) => Vec::new(),
        }
    }

    fn on_item(&mut self, now: Duration, item: MissionItem) -> Vec<MavMessage> {
        let seq = item.seq;
        match self.state {
            State::Receiving => {}
            State::Done(Ok(_)) if seq.checked_add(1) == Some(self.count) => {
                return vec![self.peer.ack(MavMissionResult::MAV_MISSION_ACCEPTED)];
            }
            _ => return Vec::new(),
        }
        if !self.missing(seq) {
            return Vec::new();
        }
        if let Some(req) = self.in_flight.iter().find(|r| r.seq == seq) {
            if !req.resent {
                self.rtt.sample(now.saturating_sub(req.sent_at));
            }
        }
        self.in_flight.retain(|r| r.seq != seq);
        if let Some(slot) = self.items.get_mut(usize::from(seq)) {
            *slot = Some(MissionItem {
                mission_type: self.peer.mission_type,
                ..item
            });
        }
        self.received += 1;
        self.retries = 0;
        if self.received == self.count {
            let items = self.items.iter().flatten().cloned().collect();
            self.in_flight.clear();
            self.state = State::Done(Ok(items));
            return vec![self.peer.ack(MavMissionResult::MAV_MISSION_ACCEPTED)];
        }
        self.fill_window(now)
    }

    fn on_ack(&mut self, result: MavMissionResult) -> Vec<MavMessage> {
        if !matches!(self.state, State::Listing { .. } | State::Receiving) {
            return Vec::new();
        }
        match result {
            // Stale answers to an earlier operation's repeats (an upload's re-sent last
            // item draws ERROR after the upload ended), never meant for this download; a
            // vehicle that really cannot serve an item runs us into `Timeout` instead.
            MavMissionResult::MAV_MISSION_ACCEPTED
            | MavMissionResult::MAV_MISSION_ERROR
            | MavMissionResult::MAV_MISSION_INVALID_SEQUENCE => {}
            other => self.state = State::Done(Err(ack_error(other))),
        }
        Vec::new()
    }

    fn step(&self) -> Step {
        match self.state {
            State::NotStarted | State::Listing { .. } => Step::List,
            State::Receiving | State::Done(_) => Step::Items,
        }
    }

    fn fail_timeout(&mut self) {
        self.state = State::Done(Err(TransferError::Timeout {
            step: self.step(),
            retries: self.retries,
        }));
    }

    fn front_deadline(&self) -> Option<Duration> {
        self.in_flight
            .iter()
            .find(|r| self.missing(r.seq))
            .map(|r| r.sent_at + self.rtt.timeout())
    }
}

impl MissionTransfer for Download {
    type Output = Vec<MissionItem>;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        if !matches!(self.state, State::NotStarted) {
            return Vec::new();
        }
        self.started_at = now;
        self.state = State::Listing {
            sent_at: now,
            resent: false,
        };
        self.list_deadline = now + self.rtt.timeout();
        vec![self.peer.request_list()]
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
            MavMessage::MISSION_COUNT(m) if self.peer.accepts(m.target_system, m.mission_type) => {
                self.on_count(now, m.count)
            }
            MavMessage::MISSION_ITEM_INT(m)
                if self.peer.accepts(m.target_system, m.mission_type) =>
            {
                self.on_item(now, MissionItem::from_wire(m))
            }
            MavMessage::MISSION_ITEM(m) if self.peer.accepts(m.target_system, m.mission_type) => {
                self.on_item(now, item_from_legacy(m))
            }
            MavMessage::MISSION_ACK(m) if self.peer.accepts(m.target_system, m.mission_type) => {
                self.on_ack(m.mavtype)
            }
            _ => Vec::new(),
        }
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, State::NotStarted | State::Done(_)) {
            return Vec::new();
        }
        if now >= self.started_at + self.config.overall_timeout {
            self.fail_timeout();
            return Vec::new();
        }
        if let State::Listing { sent_at, .. } = self.state {
            if now < self.list_deadline {
                return Vec::new();
            }
            if self.retries >= self.config.max_retries {
                self.fail_timeout();
                return Vec::new();
            }
            self.retries += 1;
            self.state = State::Listing {
                sent_at,
                resent: true,
            };
            self.list_deadline = now + self.rtt.timeout();
            return vec![self.peer.request_list()];
        }
        let timeout = self.rtt.timeout();
        let mut expired = Vec::new();
        while let Some(front) = self.in_flight.front().copied() {
            if !self.missing(front.seq) {
                self.in_flight.pop_front();
                continue;
            }
            if front.sent_at + timeout > now {
                break;
            }
            self.in_flight.pop_front();
            expired.push(front.seq);
        }
        if expired.is_empty() {
            return Vec::new();
        }
        // One round of re-requests counts as one retry, however many items it covers.
        if self.retries >= self.config.max_retries {
            self.fail_timeout();
            return Vec::new();
        }
        self.retries += 1;
        let mut out = Vec::with_capacity(expired.len());
        for seq in expired {
            self.in_flight.push_back(InFlight {
                seq,
                sent_at: now,
                resent: true,
            });
            out.push(self.request(seq));
        }
        out
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, State::Done(_)) {
            return Vec::new();
        }
        let started = !matches!(self.state, State::NotStarted);
        self.state = State::Done(Err(TransferError::Cancelled));
        if started {
            vec![self
                .peer
                .ack(MavMissionResult::MAV_MISSION_OPERATION_CANCELLED)]
        } else {
            Vec::new()
        }
    }

    fn outcome(&self) -> Option<Result<Vec<MissionItem>, TransferError>> {
        match &self.state {
            State::Done(result) => Some(result.clone()),
            _ => None,
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.received,
            total: self.count,
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        let overall = self.started_at + self.config.overall_timeout;
        match self.state {
            State::NotStarted | State::Done(_) => None,
            State::Listing { .. } => Some(self.list_deadline.min(overall)),
            State::Receiving => Some(self.front_deadline().unwrap_or(overall).min(overall)),
        }
    }
}
