//! The engine actor: one loop owns links and vehicles; link reader tasks only forward
//! events into it, so no state is shared behind locks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use airgap_core::dialect::{MavAutopilot, MavProtocolCapability};
use airgap_core::params::protocol::Encoding;
use airgap_core::series::{Group, SeriesSet};
use airgap_core::state::{is_vehicle_heartbeat, VehicleState};
use airgap_core::MavMessage;
use airgap_link::{Address, Link, LinkEvent, LinkSender, LinkStatsHandle};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::forward::{Forwards, Inbound};
use crate::ops::{Op, OpContext, OpError, OpKind, OpRequest, Resource};
use crate::record::Recording;
use crate::{
    gcs, EngineConfig, EngineError, EngineEvent, LinkId, LinkInfo, LinkState, Request, SeriesChunk,
    SeriesCursor, Telemetry, VehicleKey, VehicleSnapshot,
};

/// MAV_COMP_ID_AUTOPILOT1: messages from it make a vehicle even before its first heartbeat.
const AUTOPILOT_COMPID: u8 = 1;
/// Seconds of counters behind the link-quality figure.
const QUALITY_WINDOW: usize = 5;
/// A transfer asked for right after meeting a vehicle waits this long for its
/// AUTOPILOT_VERSION, so MAVFTP is not tried on a vehicle that would say it has none.
const CAPABILITY_WAIT: Duration = Duration::from_millis(1500);
/// Progress of one operation is reported at most this often (and always at its end).
const PROGRESS_PERIOD: Duration = Duration::from_millis(100);

struct LinkEntry {
    address: Address,
    sender: LinkSender,
    stats: LinkStatsHandle,
    cancel: CancellationToken,
    transport_up: bool,
    closed: Option<String>,
    detail: Option<String>,
    /// (rx_frames, seq_gaps) once a second, newest last.
    counters: VecDeque<(u64, u64)>,
    /// The flight this link session is recorded into, and what it has been told.
    recording: Option<Recording>,
    recorded_sysids: Vec<u8>,
    recorded_armed: bool,
}

impl LinkEntry {
    fn is_replay(&self) -> bool {
        matches!(self.address, Address::Replay { .. })
    }

    fn quality_pct(&self) -> Option<f64> {
        let (first, last) = (self.counters.front()?, self.counters.back()?);
        let rx = last.0.saturating_sub(first.0) as f64;
        let gaps = last.1.saturating_sub(first.1) as f64;
        (rx + gaps > 0.0).then(|| 100.0 * rx / (rx + gaps))
    }
}

struct VehicleEntry {
    link: LinkId,
    state: VehicleState,
    series: SeriesSet,
    last_heartbeat: Option<Instant>,
    /// When ATTITUDE or GLOBAL_POSITION_INT last arrived: telemetry is flowing.
    last_telemetry: Option<Instant>,
    streams_requested: Option<Instant>,
    lost: bool,
    /// The sequence number our next MAVFTP request to it carries.
    ftp_seq: u16,
    discovered_at: Instant,
}

struct Actor {
    config: EngineConfig,
    events: broadcast::Sender<EngineEvent>,
    link_events: mpsc::Sender<(LinkId, Option<LinkEvent>)>,
    links: BTreeMap<LinkId, LinkEntry>,
    vehicles: BTreeMap<VehicleKey, VehicleEntry>,
    next_link: u32,
    cancel: CancellationToken,
    /// The zero of the sans-IO machines' clock.
    epoch: Instant,
    /// Operations on the wire, and those waiting for their vehicle's resource to be free.
    ops: Vec<Box<dyn Op>>,
    queued: VecDeque<OpRequest>,
    /// When each operation last reported, and how far it had got (a handful at most).
    progress_sent: Vec<((VehicleKey, OpKind), (Instant, u32))>,
    /// Telemetry forwarding (forward.rs).
    forwards: Forwards,
}

pub(crate) async fn run(
    config: EngineConfig,
    mut requests: mpsc::Receiver<Request>,
    events: broadcast::Sender<EngineEvent>,
    cancel: CancellationToken,
) {
    // Bounded: a replay at full speed is paced by how fast the actor folds frames.
    let (link_events, mut link_rx) = mpsc::channel(4096);
    let (forwards, mut forward_rx) = Forwards::new();
    let mut heartbeat = interval(config.heartbeat_period);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut watchdog = interval(config.vehicle_timeout / 12);
    watchdog.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut actor = Actor {
        config,
        events,
        link_events,
        links: BTreeMap::new(),
        vehicles: BTreeMap::new(),
        next_link: 1,
        cancel: cancel.clone(),
        epoch: Instant::now(),
        ops: Vec::new(),
        queued: VecDeque::new(),
        progress_sent: Vec::new(),
        forwards,
    };
    loop {
        let op_deadline = actor.op_deadline();
        tokio::select! {
            _ = cancel.cancelled() => break,
            request = requests.recv() => match request {
                Some(request) => actor.handle_request(request).await,
                None => break,
            },
            Some((link, event)) = link_rx.recv() => actor.handle_link_event(link, event),
            Some(inbound) = forward_rx.recv() => actor.on_forward(inbound),
            _ = heartbeat.tick() => actor.on_heartbeat_tick(),
            _ = watchdog.tick() => {
                actor.on_watchdog(Instant::now());
                if !actor.queued.is_empty() {
                    actor.start_queued();
                }
            }
            _ = sleep_until(op_deadline.unwrap_or_else(Instant::now)), if op_deadline.is_some() => {
                actor.poll_ops();
            }
        }
    }
    for mut op in actor.ops.drain(..) {
        op.abandon(OpError::Stopped);
    }
    for request in actor.queued.drain(..) {
        request.refuse(OpError::Stopped);
    }
    for link in actor.links.values() {
        link.cancel.cancel();
    }
    actor.forwards.stop_all();
}

impl Actor {
    fn emit(&self, event: EngineEvent) {
        // No subscriber is fine: events are for whoever listens.
        let _ = self.events.send(event);
    }

    async fn handle_request(&mut self, request: Request) {
        match request {
            Request::Connect {
                address,
                options,
                reply,
            } => {
                let _ = reply.send(self.connect(address, options).await);
            }
            Request::Disconnect { link, reply } => {
                let result = match self.links.remove(&link) {
                    Some(mut entry) => {
                        entry.cancel.cancel();
                        finish_in_background(entry.recording.take());
                        Ok(())
                    }
                    None => Err(EngineError::NoSuchLink(link.0)),
                };
                if result.is_ok() {
                    self.vehicles.retain(|_, v| v.link != link);
                    self.emit(EngineEvent::LinkClosed {
                        link,
                        reason: "closed by the pilot".into(),
                    });
                }
                let _ = reply.send(result);
            }
            Request::Telemetry { cursor, reply } => {
                let _ = reply.send(self.telemetry(cursor));
            }
            Request::Op(request) => self.submit(request),
            Request::SetRecordTo { to, reply } => {
                self.config.record_to = to;
                let ids: Vec<LinkId> = self.links.keys().copied().collect();
                for id in ids {
                    let Some(link) = self.links.get_mut(&id) else {
                        continue;
                    };
                    if self.config.record_to.is_none() {
                        finish_in_background(link.recording.take());
                        continue;
                    }
                    if link.recording.is_some() || link.closed.is_some() {
                        continue;
                    }
                    let address = link.address.clone();
                    let recording = self.start_recording(id, &address);
                    if let Some(link) = self.links.get_mut(&id) {
                        link.recording = recording;
                        link.recorded_sysids.clear();
                        link.recorded_armed = false;
                    }
                }
                let _ = reply.send(());
            }
            Request::FinishRecordings { reply } => {
                let writers: Vec<_> = self
                    .links
                    .values_mut()
                    .filter_map(|l| l.recording.take())
                    .filter_map(Recording::finish)
                    .collect();
                tokio::task::spawn_blocking(move || {
                    for writer in writers {
                        let _ = writer.join();
                    }
                    let _ = reply.send(());
                });
            }
            Request::Pending { reply } => {
                let pending = self
                    .links
                    .values()
                    .map(|l| l.sender.pending())
                    .sum::<usize>()
                    + self.forwards.pending();
                let _ = reply.send(pending);
            }
            Request::AddForward { address, reply } => {
                let added = self
                    .forwards
                    .add(address, &self.config.gate, &self.cancel)
                    .await;
                let _ = reply.send(added);
            }
            Request::RemoveForward { forward, reply } => {
                let _ = reply.send(self.forwards.remove(forward));
            }
            Request::Forwards { reply } => {
                let _ = reply.send(self.forwards.list());
            }
            Request::Series { key, reply } => {
                let chunks = self.vehicles.get(&key).map(|v| {
                    Group::ALL
                        .iter()
                        .map(|&g| chunk(&v.series, g, None))
                        .collect()
                });
                let _ = reply.send(chunks);
            }
        }
    }

    async fn connect(
        &mut self,
        address: Address,
        options: airgap_link::LinkOptions,
    ) -> Result<LinkId, EngineError> {
        // Asked before anything is opened: a refused address never gets a socket.
        if let Some(destination) = crate::forward::destination(&address) {
            self.config.gate.check_for("vehicle link", &destination)?;
        }
        let cancel = self.cancel.child_token();
        let mut link = Link::open(&address, options, cancel.clone()).await?;
        let id = LinkId(self.next_link);
        self.next_link += 1;
        let recording = self.start_recording(id, &address);
        let entry = LinkEntry {
            address,
            sender: link.sender(),
            stats: link.stats_handle(),
            cancel: cancel.clone(),
            transport_up: false,
            closed: None,
            detail: Some("waiting for the transport".into()),
            counters: VecDeque::new(),
            recording,
            recorded_sysids: Vec::new(),
            recorded_armed: false,
        };
        self.links.insert(id, entry);
        let forward = self.link_events.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = cancel.cancelled() => return,
                    event = link.recv() => event,
                };
                let done = event.is_none();
                if forward.send((id, event)).await.is_err() || done {
                    return;
                }
            }
        });
        Ok(id)
    }

    fn handle_link_event(&mut self, id: LinkId, event: Option<LinkEvent>) {
        let Some(link) = self.links.get_mut(&id) else {
            return; // disconnected while the event was in flight
        };
        match event {
            Some(LinkEvent::Up { peer }) => {
                link.transport_up = true;
                link.detail = Some(format!("connected to {peer}, waiting for a heartbeat"));
                self.emit(EngineEvent::LinkUp { link: id, peer });
            }
            Some(LinkEvent::Down { reason }) => {
                link.transport_up = false;
                link.detail = Some(reason.clone());
                self.emit(EngineEvent::LinkDown { link: id, reason });
            }
            Some(LinkEvent::Ended { reason }) => {
                finish_in_background(link.recording.take());
                link.transport_up = false;
                link.closed = Some(reason.clone());
                link.detail = Some(reason.clone());
                self.emit(EngineEvent::LinkClosed { link: id, reason });
            }
            None => {
                finish_in_background(link.recording.take());
                if link.closed.is_none() {
                    let reason = "the link stopped".to_string();
                    link.closed = Some(reason.clone());
                    link.detail = Some(reason.clone());
                    self.emit(EngineEvent::LinkClosed { link: id, reason });
                }
            }
            Some(LinkEvent::Frame { frame, time_us }) => {
                // A frame proves the transport is up even where the transport has no notion of
                // it (a datagram socket hears before it is told).
                link.transport_up = true;
                if let Some(recording) = &mut link.recording {
                    recording.frame(time_us, &frame.raw);
                }
                self.forwards.frame(&frame.raw);
                self.on_message(id, frame.sysid(), frame.compid(), time_us, &frame.msg);
            }
        }
    }

    fn on_message(&mut self, link: LinkId, sysid: u8, compid: u8, time_us: u64, msg: &MavMessage) {
        let key = VehicleKey { sysid, compid };
        let now = Instant::now();
        if !self.vehicles.contains_key(&key) {
            let is_vehicle = match msg {
                MavMessage::HEARTBEAT(hb) => is_vehicle_heartbeat(hb.autopilot, hb.mavtype),
                _ => compid == AUTOPILOT_COMPID,
            };
            if !is_vehicle {
                return;
            }
            self.vehicles.insert(
                key,
                VehicleEntry {
                    link,
                    state: VehicleState::default(),
                    series: SeriesSet::new(self.config.series_capacity),
                    last_heartbeat: None,
                    last_telemetry: None,
                    streams_requested: None,
                    lost: false,
                    ftp_seq: initial_ftp_seq(),
                    discovered_at: now,
                },
            );
            self.emit(EngineEvent::VehicleDiscovered { key, link });
        }
        let Some(vehicle) = self.vehicles.get_mut(&key) else {
            return;
        };
        vehicle.link = link;
        if let Some(sample) = vehicle.state.apply(time_us, msg) {
            vehicle.series.push(time_us, &sample);
        }
        let armed = vehicle.state.armed == Some(true);
        if let Some(entry) = self.links.get_mut(&link) {
            note_in_recording(entry, sysid, armed);
        }
        let Some(vehicle) = self.vehicles.get_mut(&key) else {
            return;
        };
        let mut recovered = false;
        let mut first_heartbeat = false;
        match msg {
            MavMessage::HEARTBEAT(_) => {
                first_heartbeat = vehicle.last_heartbeat.is_none();
                vehicle.last_heartbeat = Some(now);
                if vehicle.lost {
                    vehicle.lost = false;
                    recovered = true;
                }
            }
            MavMessage::ATTITUDE(_) | MavMessage::GLOBAL_POSITION_INT(_) => {
                vehicle.last_telemetry = Some(now);
            }
            MavMessage::AUTOPILOT_VERSION(_) if !self.queued.is_empty() => {
                // Transfers may have been waiting to learn whether it speaks MAVFTP.
                self.start_queued();
            }
            MavMessage::STATUSTEXT(_) => {
                if let Some(line) = vehicle.state.newest_statustext() {
                    let event = EngineEvent::StatusText {
                        key,
                        severity: line.severity,
                        text: line.text.clone(),
                    };
                    self.emit(event);
                }
            }
            _ => {}
        }
        if recovered {
            self.emit(EngineEvent::VehicleRecovered { key });
        }
        // Ask for telemetry on meeting a vehicle, and again after it comes back (a rebooted
        // autopilot forgets the rates it was given).
        if first_heartbeat || recovered {
            self.request_streams(key, now);
        }
        if !self.ops.is_empty() {
            self.feed_ops(sysid, compid, msg);
        }
    }

    fn request_streams(&mut self, key: VehicleKey, now: Instant) {
        let Some(vehicle) = self.vehicles.get_mut(&key) else {
            return;
        };
        let Some(link) = self.links.get(&vehicle.link) else {
            return;
        };
        if link.is_replay() {
            return;
        }
        vehicle.streams_requested = Some(now);
        let link_id = vehicle.link;
        let mut requests = match vehicle.state.autopilot {
            Some(MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA) => {
                gcs::ardupilot_stream_requests(key.sysid, key.compid, self.config.stream_rate_hz)
            }
            _ => gcs::message_interval_requests(key.sysid, key.compid),
        };
        // What the vehicle can do (MAVFTP, the parameter encoding) comes in AUTOPILOT_VERSION.
        if vehicle.state.capabilities.is_none() {
            requests.push(gcs::request_autopilot_version(key.sysid, key.compid));
        }
        for msg in &requests {
            self.send(link_id, msg);
        }
    }

    fn send(&self, link: LinkId, msg: &MavMessage) {
        if let Some(entry) = self.links.get(&link) {
            if let Err(e) = entry
                .sender
                .send(self.config.gcs_sysid, self.config.gcs_compid, msg)
            {
                tracing::debug!(link = link.0, error = %e, "send failed");
            }
        }
    }

    fn on_heartbeat_tick(&mut self) {
        let heartbeat = gcs::heartbeat();
        let ids: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.closed.is_none() && !l.is_replay())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send(id, &heartbeat);
        }
        for link in self.links.values_mut() {
            let stats = link.stats.snapshot();
            if link.counters.len() == QUALITY_WINDOW + 1 {
                link.counters.pop_front();
            }
            link.counters.push_back((stats.rx_frames, stats.seq_gaps));
        }
    }

    fn on_watchdog(&mut self, now: Instant) {
        let timeout = self.config.vehicle_timeout;
        let mut lost = Vec::new();
        let mut rerequest = Vec::new();
        for (key, vehicle) in &mut self.vehicles {
            let closed = self
                .links
                .get(&vehicle.link)
                .is_none_or(|l| l.closed.is_some());
            if closed {
                continue;
            }
            let silent = vehicle
                .last_heartbeat
                .is_none_or(|t| now.duration_since(t) > timeout);
            // A vehicle created from telemetry before its first heartbeat is not "lost" yet.
            if silent && !vehicle.lost && vehicle.last_heartbeat.is_some() {
                vehicle.lost = true;
                lost.push(*key);
            }
            // Heartbeats but no telemetry: our request was lost (radio) or ignored; ask again.
            let starved = vehicle
                .last_telemetry
                .is_none_or(|t| now.duration_since(t) > timeout);
            let asked_recently = vehicle
                .streams_requested
                .is_some_and(|t| now.duration_since(t) < timeout);
            if !vehicle.lost && vehicle.last_heartbeat.is_some() && starved && !asked_recently {
                rerequest.push(*key);
            }
        }
        for key in lost {
            self.emit(EngineEvent::VehicleLost { key });
        }
        for key in rerequest {
            self.request_streams(key, now);
        }
    }

    fn link_state(&self, id: LinkId, link: &LinkEntry) -> LinkState {
        if link.closed.is_some() {
            return LinkState::Closed;
        }
        // Only vehicles that have sent a heartbeat count: one known from telemetry alone
        // cannot have been lost.
        let mut any = false;
        let mut alive = false;
        for v in self
            .vehicles
            .values()
            .filter(|v| v.link == id && v.last_heartbeat.is_some())
        {
            any = true;
            alive |= !v.lost;
        }
        match (any, alive) {
            (_, true) => LinkState::Up,
            (true, false) => LinkState::Lost,
            (false, _) => LinkState::Connecting,
        }
    }

    fn telemetry(&self, cursor: Option<SeriesCursor>) -> (Telemetry, Option<SeriesCursor>) {
        let links = self
            .links
            .iter()
            .map(|(id, l)| {
                let state = self.link_state(*id, l);
                LinkInfo {
                    id: *id,
                    address: l.address.clone(),
                    state,
                    detail: match state {
                        LinkState::Up => None,
                        LinkState::Lost => {
                            let silence = format!(
                                "no heartbeat for over {} s",
                                self.config.vehicle_timeout.as_secs_f32()
                            );
                            // Say why too when the transport itself is down (TCP refused…).
                            Some(match (&l.detail, l.transport_up) {
                                (Some(why), false) => format!("{silence}; {why}"),
                                _ => silence,
                            })
                        }
                        _ => l.detail.clone(),
                    },
                    stats: l.stats.snapshot(),
                    quality_pct: l.quality_pct(),
                    flight: l.recording.as_ref().map(|r| r.flight),
                }
            })
            .collect();
        let vehicles = self
            .vehicles
            .iter()
            .map(|(key, v)| VehicleSnapshot {
                key: *key,
                link: v.link,
                lost: v.lost,
                state: v.state.clone(),
            })
            .collect();
        let mut series = HashMap::new();
        let cursor = cursor.map(|mut cursor| {
            for (key, v) in &self.vehicles {
                let chunks: Vec<SeriesChunk> = Group::ALL
                    .iter()
                    .map(|&g| {
                        let after = cursor.after(*key, g, v.series.get(g).last_t_us());
                        let c = chunk(&v.series, g, after);
                        if let Some(last) = c.t_us.last() {
                            cursor.advance(*key, g, *last);
                        }
                        c
                    })
                    .filter(|c| !c.t_us.is_empty())
                    .collect();
                series.insert(*key, chunks);
            }
            cursor
        });
        (
            Telemetry {
                links,
                vehicles,
                series,
            },
            cursor,
        )
    }
}

impl Actor {
    /// A flight for link `id`, when recording is on and the link is not a replay. A failure
    /// is said as an event; the pilot keeps the link either way.
    fn start_recording(&self, id: LinkId, address: &Address) -> Option<Recording> {
        let to = self.config.record_to.as_ref()?;
        if matches!(address, Address::Replay { .. }) {
            return None;
        }
        match Recording::start(to, id, self.events.clone()) {
            Ok(r) => {
                self.emit(EngineEvent::RecordingStarted {
                    link: id,
                    flight: r.flight,
                });
                Some(r)
            }
            Err(error) => {
                self.emit(EngineEvent::RecordingFailed {
                    link: id,
                    error: error.to_string(),
                });
                None
            }
        }
    }

    fn op_clock(&self) -> Duration {
        Instant::now().duration_since(self.epoch)
    }

    fn op_deadline(&self) -> Option<Instant> {
        self.ops
            .iter()
            .map(|op| op.deadline())
            .min()
            .map(|d| self.epoch + d)
    }

    fn submit(&mut self, request: OpRequest) {
        self.queued.push_back(request);
        self.start_queued();
    }

    /// Starts every queued request whose vehicle resource is free, in order. An operation is
    /// built only when it starts, so it sees what the vehicle has said by then (its
    /// capabilities, where MAVFTP numbering stands after the previous transfer).
    fn start_queued(&mut self) {
        let mut waiting = VecDeque::new();
        while let Some(request) = self.queued.pop_front() {
            let key = request.key();
            let busy = self
                .ops
                .iter()
                .any(|o| o.key() == key && o.resource() == request.resource())
                || waiting
                    .iter()
                    .any(|w: &OpRequest| w.key() == key && w.resource() == request.resource());
            if busy {
                waiting.push_back(request);
                continue;
            }
            let Some(vehicle) = self.vehicles.get(&key) else {
                request.refuse(OpError::NoVehicle(key));
                continue;
            };
            let state = &vehicle.state;
            let capabilities_due = state.capabilities.is_none()
                && vehicle.discovered_at.elapsed() < CAPABILITY_WAIT
                && self.config.use_ftp
                && request.resource() == Resource::Transfers;
            if capabilities_due {
                waiting.push_back(request);
                continue;
            }
            let encoding = match (state.capabilities, state.autopilot) {
                (Some(caps), _) => Encoding::from_capabilities(caps),
                (None, Some(autopilot)) => Encoding::for_autopilot(autopilot),
                (None, None) => Encoding::CCast,
            };
            let offers_ftp = state.capabilities.is_none_or(|caps| {
                caps.contains(MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_FTP)
            });
            let ctx = OpContext {
                gcs_id: (self.config.gcs_sysid, self.config.gcs_compid),
                encoding,
                ftp: self.config.use_ftp && offers_ftp,
                ftp_seq: vehicle.ftp_seq,
            };
            let Some(mut op) = request.build(&ctx) else {
                continue;
            };
            let now = self.op_clock();
            let out = op.start(now);
            self.send_to_vehicle(key, &out);
            self.ops.push(op);
        }
        self.queued = waiting;
    }

    fn send_to_vehicle(&self, key: VehicleKey, msgs: &[MavMessage]) {
        if msgs.is_empty() {
            return;
        }
        if let Some(vehicle) = self.vehicles.get(&key) {
            for msg in msgs {
                self.send(vehicle.link, msg);
            }
        }
    }

    fn feed_ops(&mut self, sysid: u8, compid: u8, msg: &MavMessage) {
        let now = self.op_clock();
        let mut outgoing = Vec::new();
        for op in self.ops.iter_mut().filter(|op| op.key().sysid == sysid) {
            let out = op.handle(now, sysid, compid, msg);
            if !out.is_empty() {
                outgoing.push((op.key(), out));
            }
        }
        for (key, out) in outgoing {
            self.send_to_vehicle(key, &out);
        }
        self.settle_ops();
    }

    fn poll_ops(&mut self) {
        let now = self.op_clock();
        let mut outgoing = Vec::new();
        for op in self.ops.iter_mut().filter(|op| op.deadline() <= now) {
            let out = op.poll(now);
            if !out.is_empty() {
                outgoing.push((op.key(), out));
            }
        }
        for (key, out) in outgoing {
            self.send_to_vehicle(key, &out);
        }
        self.settle_ops();
    }

    /// Reports progress, hands over finished outcomes and starts what waited for them.
    fn settle_ops(&mut self) {
        let now = self.op_clock();
        let wall = Instant::now();
        let mut finished = false;
        let mut outgoing = Vec::new();
        let mut events = Vec::new();
        let mut i = 0;
        while i < self.ops.len() {
            let op = &mut self.ops[i];
            if let Some(p) = op.progress() {
                let id = (p.key, p.kind);
                let sent = self.progress_sent.iter_mut().find(|(k, _)| *k == id);
                let due = match &sent {
                    None => true,
                    Some((_, (at, done))) => {
                        *done != p.done
                            && (wall.duration_since(*at) >= PROGRESS_PERIOD
                                || p.total == Some(p.done))
                    }
                };
                if due {
                    match sent {
                        Some((_, last)) => *last = (wall, p.done),
                        None => self.progress_sent.push((id, (wall, p.done))),
                    }
                    events.push(EngineEvent::Progress(p));
                }
            }
            let (done, out) = op.settle(now);
            if !out.is_empty() {
                outgoing.push((op.key(), out));
            }
            if done {
                let op = self.ops.swap_remove(i);
                if let (Some(seq), Some(v)) = (op.next_ftp_seq(), self.vehicles.get_mut(&op.key()))
                {
                    v.ftp_seq = seq;
                }
                self.progress_sent.retain(|((key, _), _)| *key != op.key());
                finished = true;
            } else {
                i += 1;
            }
        }
        for event in events {
            self.emit(event);
        }
        for (key, out) in outgoing {
            self.send_to_vehicle(key, &out);
        }
        if finished && !self.queued.is_empty() {
            self.start_queued();
        }
    }
}

/// Telemetry forwarding: what the forwards send back.
impl Actor {
    /// A frame from a forward (another ground station's command, say) goes to the link of the
    /// vehicle it targets, as MAVProxy routes; a broadcast, or a target not heard yet, goes to
    /// every open vehicle link. Raw, so the sender's ids, sequence and signature are kept.
    fn on_forward(&mut self, inbound: Inbound) {
        let frame = match inbound {
            Inbound::Frame(frame) => frame,
            Inbound::Status(id, detail) => {
                self.forwards.status(id, detail);
                return;
            }
        };
        let target = airgap_core::mavlink::Message::target_system_id(&frame.msg).unwrap_or(0);
        let mut links: Vec<LinkId> = self
            .vehicles
            .iter()
            .filter(|(key, _)| target != 0 && key.sysid == target)
            .map(|(_, v)| v.link)
            .collect();
        if links.is_empty() {
            links = self.links.keys().copied().collect();
        }
        links.sort_unstable();
        links.dedup();
        for id in links {
            let Some(link) = self.links.get(&id) else {
                continue;
            };
            if link.closed.is_some() || link.is_replay() {
                continue;
            }
            if let Err(e) = link.sender.send_raw(frame.raw.clone()) {
                tracing::debug!(link = id.0, error = %e, "forwarded frame not sent");
            }
        }
    }
}

/// Tells a link's recording about a vehicle heard on it, and its first arming.
fn note_in_recording(entry: &mut LinkEntry, sysid: u8, armed: bool) {
    let Some(recording) = &entry.recording else {
        return;
    };
    if !entry.recorded_sysids.contains(&sysid) {
        entry.recorded_sysids.push(sysid);
        recording.vehicle(sysid);
    }
    if armed && !entry.recorded_armed {
        entry.recorded_armed = true;
        recording.armed();
    }
}

/// Closes a flight without making the actor wait for the disk.
fn finish_in_background(recording: Option<Recording>) {
    if let Some(writer) = recording.and_then(Recording::finish) {
        // Joining only waits for the writer; it reports its own outcome as an event.
        tokio::task::spawn_blocking(move || {
            let _ = writer.join();
        });
    }
}

/// Where our MAVFTP numbering starts with a vehicle: not 0 every time, so a vehicle that
/// still caches its last reply to a ground station that just restarted (a CLI run after
/// another) does not take our first request for a repeat of that one.
fn initial_ftp_seq() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos >> 10) as u16
}

fn chunk(series: &SeriesSet, group: Group, after_us: Option<u64>) -> SeriesChunk {
    let (t_us, columns) = series.get(group).since(after_us);
    SeriesChunk {
        group,
        t_us,
        columns,
    }
}
