//! The client machines: [`ReadFile`] and [`WriteFile`], and the opening handshake they share.
//!
//! Built for a link that loses 30 % of frames each way:
//! - every request is retransmitted on an adaptive timeout ([`RttEstimator`]), reusing its
//!   sequence number so a server that already answered repeats its answer (ArduPilot caches
//!   its last reply by `seq`);
//! - a read starts with one BurstReadFile, takes chunks in any order (duplicates ignored),
//!   then re-reads only the missing blocks with several ReadFile requests in flight. The
//!   size OpenFileRO reports is only a hint — ArduPilot estimates param.pck's — so the end of
//!   the file is where a chunk comes back short or a read draws the EOF NAK;
//! - each burst reserves 2,002 sequence numbers (ArduPilot bursts at most 2,000 packets, each
//!   numbered on from the request), so no later request can look like a re-send of the
//!   burst's last reply;
//! - a session the vehicle still holds (our earlier close was lost) is cleared with
//!   ResetSessions and the open retried.

use std::collections::VecDeque;
use std::time::Duration;

use super::payload::{FtpErrorCode, Opcode, Payload, MAX_DATA_LEN};
use super::{FtpConfig, FtpError, FtpTransfer, Progress, Step, Target};
use crate::mission::transfer::{RttEstimator, TransferConfig};
use crate::MavMessage;

/// ArduPilot's longest burst, plus the EOF NAK and one spare.
const BURST_SEQ_RESERVE: u16 = 2002;
/// ResetSessions rounds before a refused open is final.
const MAX_RESETS: u32 = 2;
/// `MAX_DATA_LEN` as an offset step.
const BLOCK: u32 = MAX_DATA_LEN as u32;

fn rtt_for(config: &FtpConfig) -> RttEstimator {
    RttEstimator::new(&TransferConfig {
        initial_timeout: config.initial_timeout,
        min_timeout: config.min_timeout,
        max_timeout: config.max_timeout,
        ..TransferConfig::default()
    })
}

/// A request awaiting its answer.
#[derive(Debug, Clone)]
struct Pending {
    seq: u16,
    msg: MavMessage,
    sent_at: Duration,
    resent: bool,
    attempts: u32,
}

/// Addressing, numbering and filtering shared by both machines.
#[derive(Debug, Clone)]
struct Channel {
    target: Target,
    gcs_system_id: Option<u8>,
    next_seq: u16,
    session: u8,
    /// Any FTP answer at all: tells "no MAVFTP here" from "stopped answering".
    heard: bool,
}

impl Channel {
    fn new(target: Target, config: &FtpConfig) -> Channel {
        Channel {
            target,
            gcs_system_id: config.gcs_system_id,
            next_seq: config.first_seq,
            session: 0,
            heard: false,
        }
    }

    fn request(&mut self, opcode: Opcode, offset: u32, data: Vec<u8>) -> (u16, MavMessage) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(if opcode == Opcode::BurstReadFile {
            BURST_SEQ_RESERVE
        } else {
            1
        });
        let p = Payload {
            data,
            ..Payload::request(seq, self.session, opcode, offset)
        };
        (
            seq,
            p.to_message(self.target.system_id, self.target.component_id),
        )
    }

    /// A read request: the header's `size` is the length wanted, and [`Payload`] takes its
    /// size from its data, so the request carries that many zero bytes (which is also what
    /// the wire holds after an empty data field).
    fn read_request(&mut self, opcode: Opcode, offset: u32) -> (u16, MavMessage) {
        self.request(opcode, offset, vec![0; MAX_DATA_LEN])
    }

    /// The FTP payload of `msg` if it is from our vehicle, for us, and parses.
    fn accept(&mut self, sysid: u32, compid: u8, msg: &MavMessage) -> Option<Payload> {
        let MavMessage::FILE_TRANSFER_PROTOCOL(m) = msg else {
            return None;
        };
        let from_target = sysid == u32::from(self.target.system_id)
            && (self.target.component_id == 0 || compid == self.target.component_id);
        let for_us = match self.gcs_system_id {
            Some(ours) => m.target_system == 0 || m.target_system == ours,
            None => true,
        };
        if !from_target || !for_us {
            return None;
        }
        let p = Payload::from_message(m).ok()?;
        if !matches!(p.opcode, Opcode::Ack | Opcode::Nak) {
            return None;
        }
        self.heard = true;
        Some(p)
    }
}

/// What the opening handshake concluded from one answer.
enum Opened {
    /// Not (yet) an answer to the open.
    No,
    /// More to send (a reset, or the open again after it).
    Send(Vec<MavMessage>),
    Yes(Payload),
    Failed(FtpError),
}

/// OpenFileRO or CreateFile, with ResetSessions when the vehicle's session is taken.
#[derive(Debug, Clone)]
struct Opener {
    opcode: Opcode,
    path: String,
    pending: Option<Pending>,
    resetting: bool,
    resets: u32,
}

impl Opener {
    fn new(opcode: Opcode, path: &str) -> Opener {
        Opener {
            opcode,
            path: path.to_string(),
            pending: None,
            resetting: false,
            resets: 0,
        }
    }

    fn valid_path(&self) -> bool {
        !self.path.is_empty() && self.path.len() <= MAX_DATA_LEN && !self.path.contains('\0')
    }

    fn send_open(&mut self, now: Duration, ch: &mut Channel) -> Vec<MavMessage> {
        ch.session = 0;
        let (seq, msg) = ch.request(self.opcode, 0, self.path.as_bytes().to_vec());
        self.resetting = false;
        self.pending = Some(Pending {
            seq,
            msg: msg.clone(),
            sent_at: now,
            resent: false,
            attempts: 1,
        });
        vec![msg]
    }

    fn send_reset(&mut self, now: Duration, ch: &mut Channel) -> Vec<MavMessage> {
        self.resets += 1;
        let (seq, msg) = ch.request(Opcode::ResetSessions, 0, Vec::new());
        self.resetting = true;
        self.pending = Some(Pending {
            seq,
            msg: msg.clone(),
            sent_at: now,
            resent: false,
            attempts: 1,
        });
        vec![msg]
    }

    fn on_reply(
        &mut self,
        now: Duration,
        p: &Payload,
        ch: &mut Channel,
        rtt: &mut RttEstimator,
    ) -> Opened {
        let Some(pending) = &self.pending else {
            return Opened::No;
        };
        let expected_op = if self.resetting {
            Opcode::ResetSessions
        } else {
            self.opcode
        };
        if p.req_opcode != expected_op || p.seq != pending.seq.wrapping_add(1) {
            return Opened::No;
        }
        if !pending.resent {
            rtt.sample(now.saturating_sub(pending.sent_at));
        }
        if self.resetting {
            return match p.opcode {
                Opcode::Ack => Opened::Send(self.send_open(now, ch)),
                _ => Opened::Failed(FtpError::Busy),
            };
        }
        if p.opcode == Opcode::Ack {
            self.pending = None;
            return Opened::Yes(p.clone());
        }
        let (code, errno) = p.nak_error().unwrap_or((FtpErrorCode::Fail, None));
        match code {
            FtpErrorCode::FileNotFound => Opened::Failed(FtpError::NotFound(self.path.clone())),
            // ENOENT through FailErrno, as older ArduPilot reports a missing file.
            FtpErrorCode::FailErrno if errno == Some(2) => {
                Opened::Failed(FtpError::NotFound(self.path.clone()))
            }
            FtpErrorCode::UnknownCommand => Opened::Failed(FtpError::Unavailable),
            // A session of ours the vehicle still holds (our close was lost, or our open
            // was re-sent after it had opened the file): clear it and open again.
            FtpErrorCode::NoSessionsAvailable
            | FtpErrorCode::Fail
            | FtpErrorCode::FailErrno
            | FtpErrorCode::InvalidSession
                if self.resets < MAX_RESETS =>
            {
                Opened::Send(self.send_reset(now, ch))
            }
            FtpErrorCode::NoSessionsAvailable => Opened::Failed(FtpError::Busy),
            code => Opened::Failed(FtpError::Refused {
                op: self.opcode,
                code,
                errno,
            }),
        }
    }

    fn deadline(&self, rtt: &RttEstimator) -> Option<Duration> {
        self.pending.as_ref().map(|p| p.sent_at + rtt.timeout())
    }

    /// Re-send on timeout; `Err` when out of attempts.
    fn poll(
        &mut self,
        now: Duration,
        config: &FtpConfig,
        ch: &Channel,
        rtt: &RttEstimator,
    ) -> Result<Vec<MavMessage>, FtpError> {
        let Some(p) = self.pending.as_mut() else {
            return Ok(Vec::new());
        };
        if now < p.sent_at + rtt.timeout() {
            return Ok(Vec::new());
        }
        if p.attempts >= config.open_attempts {
            return Err(if ch.heard {
                FtpError::Timeout {
                    step: if self.resetting {
                        Step::ResetSessions
                    } else {
                        Step::Open
                    },
                    retries: p.attempts - 1,
                }
            } else {
                FtpError::Unavailable
            });
        }
        p.attempts += 1;
        p.sent_at = now;
        p.resent = true;
        Ok(vec![p.msg.clone()])
    }
}

/// Byte ranges held, merged and sorted.
#[derive(Debug, Clone, Default)]
struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    fn insert(&mut self, start: u32, end: u32) {
        if start >= end {
            return;
        }
        let mut merged = (start, end);
        self.0.retain(|&(s, e)| {
            if e < merged.0 || s > merged.1 {
                true
            } else {
                merged = (merged.0.min(s), merged.1.max(e));
                false
            }
        });
        let at = self.0.partition_point(|&(s, _)| s < merged.0);
        self.0.insert(at, merged);
    }

    fn covers(&self, start: u32, end: u32) -> bool {
        start >= end || self.0.iter().any(|&(s, e)| s <= start && e >= end)
    }

    fn end(&self) -> u32 {
        self.0.last().map_or(0, |r| r.1)
    }

    fn total(&self) -> u32 {
        self.0.iter().map(|(s, e)| e - s).sum()
    }

    /// Block offsets missing below `limit`, each gap cut into reads of one block.
    fn missing_blocks(&self, limit: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = 0;
        for &(s, e) in self.0.iter().chain(std::iter::once(&(limit, limit))) {
            let gap_end = s.min(limit);
            while at < gap_end {
                out.push(at);
                at = at.saturating_add(BLOCK);
            }
            at = at.max(e);
            if at >= limit {
                break;
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
enum ReadState {
    NotStarted,
    Opening,
    Bursting {
        seq: u16,
        sent_at: Duration,
        last_rx: Option<Duration>,
        resent: bool,
    },
    Filling,
    Done(Result<Vec<u8>, FtpError>),
}

#[derive(Debug, Clone, Copy)]
struct ReadReq {
    seq: u16,
    offset: u32,
    sent_at: Duration,
    resent: bool,
}

/// Reads one file: OpenFileRO, a burst read, re-reads of what the burst lost, then
/// TerminateSession.
#[derive(Debug, Clone)]
pub struct ReadFile {
    config: FtpConfig,
    ch: Channel,
    rtt: RttEstimator,
    opener: Opener,
    state: ReadState,
    started_at: Duration,
    retries: u32,
    data: Vec<u8>,
    have: Ranges,
    size_hint: Option<u32>,
    /// Exact length, from a chunk that came back short.
    short_end: Option<u32>,
    /// Nothing at or after this offset (an EOF NAK); exact once everything below is held.
    eof_bound: Option<u32>,
    in_flight: VecDeque<ReadReq>,
    /// Smoothed spacing of burst packets: a slow radio spreads a burst out, and the burst
    /// is only over when it has been quiet for several of these.
    burst_gap: Option<Duration>,
}

impl ReadFile {
    pub fn new(target: Target, path: &str, config: FtpConfig) -> ReadFile {
        ReadFile {
            ch: Channel::new(target, &config),
            rtt: rtt_for(&config),
            opener: Opener::new(Opcode::OpenFileRO, path),
            config,
            state: ReadState::NotStarted,
            started_at: Duration::ZERO,
            retries: 0,
            data: Vec::new(),
            have: Ranges::default(),
            size_hint: None,
            short_end: None,
            eof_bound: None,
            in_flight: VecDeque::new(),
            burst_gap: None,
        }
    }

    /// The round-trip estimate, to seed the next transfer's `initial_timeout`.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    fn finish(&mut self, result: Result<Vec<u8>, FtpError>) -> Vec<MavMessage> {
        let session_open = matches!(self.state, ReadState::Bursting { .. } | ReadState::Filling);
        self.in_flight.clear();
        self.state = ReadState::Done(result);
        if session_open {
            // Best effort: a lost close leaves a session the next open resets.
            vec![self.ch.request(Opcode::TerminateSession, 0, Vec::new()).1]
        } else {
            Vec::new()
        }
    }

    /// The file's length once it is known and held entirely.
    fn complete_len(&self) -> Option<u32> {
        let len = match (self.short_end, self.eof_bound) {
            (Some(l), _) => l,
            (None, Some(b)) if self.have.covers(0, b) => b,
            _ => return None,
        };
        self.have.covers(0, len).then_some(len)
    }

    fn check_complete(&mut self) -> Option<Vec<MavMessage>> {
        let len = self.complete_len()?;
        let mut data = std::mem::take(&mut self.data);
        data.truncate(len as usize);
        Some(self.finish(Ok(data)))
    }

    /// Store a chunk; `Err` if it would exceed the size limit.
    fn store(&mut self, offset: u32, chunk: &[u8]) -> Result<bool, FtpError> {
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= self.config.max_file_bytes)
            .ok_or(FtpError::TooLarge(self.config.max_file_bytes))?;
        if len < BLOCK {
            // A short read ends the file, unless a longer chunk already contradicts it.
            if self.have.end() <= end {
                self.short_end = Some(end);
            }
        } else if self.short_end.is_some_and(|l| l < end) || self.eof_bound.is_some_and(|b| b < end)
        {
            // The file grew under us (or the server is odd): trust the data.
            self.short_end = None;
            self.eof_bound = None;
        }
        if self.have.covers(offset, end) {
            return Ok(false);
        }
        if self.data.len() < end as usize {
            self.data.resize(end as usize, 0);
        }
        self.data[offset as usize..end as usize].copy_from_slice(chunk);
        self.have.insert(offset, end);
        self.retries = 0;
        Ok(true)
    }

    fn eof_at(&mut self, offset: u32) {
        if offset >= self.have.end() {
            self.eof_bound = Some(self.eof_bound.map_or(offset, |b| b.min(offset)));
        }
    }

    fn start_burst(&mut self, now: Duration, resent: bool) -> Vec<MavMessage> {
        let (seq, msg) = self.ch.read_request(Opcode::BurstReadFile, self.have.end());
        self.state = ReadState::Bursting {
            seq,
            sent_at: now,
            last_rx: None,
            resent,
        };
        vec![msg]
    }

    fn burst_idle(&self) -> Duration {
        let gap = self.burst_gap.map_or(Duration::ZERO, |g| g * 4);
        self.rtt.timeout().max(gap)
    }

    /// Offsets worth a ReadFile now: gaps first, then (while the end is unknown) blocks past
    /// the last byte held, never past a known end, never twice.
    fn wanted(&self) -> Vec<u32> {
        let window = self.config.read_window.max(1);
        let room = window.saturating_sub(self.in_flight.len());
        if room == 0 {
            return Vec::new();
        }
        let limit = self.short_end.or(self.eof_bound);
        let held_end = self.have.end();
        let gap_limit = limit.map_or(held_end, |l| l.min(held_end));
        let mut out: Vec<u32> = self
            .have
            .missing_blocks(gap_limit)
            .into_iter()
            .filter(|o| !self.in_flight.iter().any(|r| r.offset == *o))
            .take(room)
            .collect();
        let mut tail = held_end;
        while out.len() < room && limit.is_none_or(|l| tail < l) {
            if !self.in_flight.iter().any(|r| r.offset == tail) {
                out.push(tail);
            }
            tail = match tail.checked_add(BLOCK) {
                Some(t) if t <= self.config.max_file_bytes => t,
                _ => break,
            };
            // With the end unknown, speculate at most one window past what is held.
            if limit.is_none() && tail >= held_end.saturating_add(BLOCK * window as u32) {
                break;
            }
        }
        out
    }

    fn fill(&mut self, now: Duration) -> Vec<MavMessage> {
        if let Some(done) = self.check_complete() {
            return done;
        }
        let mut out = Vec::new();
        for offset in self.wanted() {
            let (seq, msg) = self.ch.read_request(Opcode::ReadFile, offset);
            self.in_flight.push_back(ReadReq {
                seq,
                offset,
                sent_at: now,
                resent: false,
            });
            out.push(msg);
        }
        out
    }

    fn on_data(&mut self, now: Duration, p: &Payload) -> Vec<MavMessage> {
        if let Err(e) = self.store(p.offset, &p.data) {
            return self.finish(Err(e));
        }
        match &mut self.state {
            ReadState::Bursting {
                sent_at,
                last_rx,
                resent,
                ..
            } if p.req_opcode == Opcode::BurstReadFile => {
                match *last_rx {
                    None if !*resent => self.rtt.sample(now.saturating_sub(*sent_at)),
                    None => {}
                    Some(prev) => {
                        let gap = now.saturating_sub(prev);
                        self.burst_gap = Some(match self.burst_gap {
                            None => gap,
                            Some(g) => (g * 7 + gap) / 8,
                        });
                    }
                }
                *last_rx = Some(now);
                // Not on a short chunk: reordered packets of this burst may still follow.
                if p.burst_complete {
                    return self.burst_over(now);
                }
                Vec::new()
            }
            ReadState::Filling => {
                if let Some(i) = self.in_flight.iter().position(|r| r.offset == p.offset) {
                    let req = self.in_flight.remove(i);
                    if let Some(r) = req.filter(|r| !r.resent) {
                        self.rtt.sample(now.saturating_sub(r.sent_at));
                    }
                }
                self.fill(now)
            }
            _ => Vec::new(),
        }
    }

    fn burst_over(&mut self, now: Duration) -> Vec<MavMessage> {
        self.state = ReadState::Filling;
        self.fill(now)
    }

    fn on_nak(&mut self, now: Duration, p: &Payload) -> Vec<MavMessage> {
        let (code, errno) = p.nak_error().unwrap_or((FtpErrorCode::Fail, None));
        match (&self.state, p.req_opcode) {
            (ReadState::Bursting { seq, .. }, Opcode::BurstReadFile) => {
                // Burst replies count on from the request's seq.
                if p.seq.wrapping_sub(*seq) > BURST_SEQ_RESERVE {
                    return Vec::new();
                }
                if code != FtpErrorCode::Eof {
                    return self.finish(Err(FtpError::Refused {
                        op: Opcode::BurstReadFile,
                        code,
                        errno,
                    }));
                }
                // ArduPilot puts the end-of-file offset in the burst's EOF NAK; an offset of
                // 0 after data is a server that does not, and says nothing about the end.
                if p.offset > 0 || self.have.end() == 0 {
                    self.eof_at(p.offset);
                }
                self.burst_over(now)
            }
            (ReadState::Filling, Opcode::ReadFile) => {
                let Some(i) = self
                    .in_flight
                    .iter()
                    .position(|r| r.seq.wrapping_add(1) == p.seq)
                else {
                    return Vec::new();
                };
                let Some(req) = self.in_flight.remove(i) else {
                    return Vec::new();
                };
                if code != FtpErrorCode::Eof {
                    return self.finish(Err(FtpError::Refused {
                        op: Opcode::ReadFile,
                        code,
                        errno,
                    }));
                }
                self.eof_at(req.offset);
                self.in_flight
                    .retain(|r| self.eof_bound.is_none_or(|b| r.offset < b));
                self.fill(now)
            }
            _ => Vec::new(),
        }
    }
}

impl FtpTransfer for ReadFile {
    type Output = Vec<u8>;

    fn next_seq(&self) -> u16 {
        self.ch.next_seq
    }

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        if !matches!(self.state, ReadState::NotStarted) {
            return Vec::new();
        }
        self.started_at = now;
        if !self.opener.valid_path() {
            self.state = ReadState::Done(Err(FtpError::BadPath));
            return Vec::new();
        }
        self.state = ReadState::Opening;
        self.opener.send_open(now, &mut self.ch)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if matches!(self.state, ReadState::NotStarted | ReadState::Done(_)) {
            return Vec::new();
        }
        let Some(p) = self.ch.accept(sysid, compid, msg) else {
            return Vec::new();
        };
        if matches!(self.state, ReadState::Opening) {
            return match self.opener.on_reply(now, &p, &mut self.ch, &mut self.rtt) {
                Opened::No => Vec::new(),
                Opened::Send(out) => out,
                Opened::Failed(e) => self.finish(Err(e)),
                Opened::Yes(ack) => {
                    self.ch.session = ack.session;
                    if let [a, b, c, d, ..] = ack.data[..] {
                        self.size_hint = Some(u32::from_le_bytes([a, b, c, d]));
                    }
                    self.start_burst(now, false)
                }
            };
        }
        if p.session != self.ch.session {
            return Vec::new();
        }
        match (p.opcode, p.req_opcode) {
            (Opcode::Ack, Opcode::BurstReadFile | Opcode::ReadFile) => self.on_data(now, &p),
            (Opcode::Nak, _) => self.on_nak(now, &p),
            _ => Vec::new(),
        }
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, ReadState::NotStarted | ReadState::Done(_)) {
            return Vec::new();
        }
        if now >= self.started_at + self.config.overall_timeout {
            let step = if matches!(self.state, ReadState::Opening) {
                Step::Open
            } else {
                Step::Read
            };
            return self.finish(Err(FtpError::Timeout {
                step,
                retries: self.retries,
            }));
        }
        match self.state.clone() {
            ReadState::Opening => match self.opener.poll(now, &self.config, &self.ch, &self.rtt) {
                Ok(out) => out,
                Err(e) => self.finish(Err(e)),
            },
            ReadState::Bursting {
                sent_at, last_rx, ..
            } => {
                if now < last_rx.unwrap_or(sent_at) + self.burst_idle() {
                    return Vec::new();
                }
                if last_rx.is_some() {
                    return self.burst_over(now);
                }
                // Nothing came: the request or the whole burst was lost.
                if self.retries >= self.config.max_retries {
                    return self.finish(Err(FtpError::Timeout {
                        step: Step::Read,
                        retries: self.retries,
                    }));
                }
                self.retries += 1;
                self.start_burst(now, true)
            }
            ReadState::Filling => {
                let timeout = self.rtt.timeout();
                let mut out = Vec::new();
                for r in self.in_flight.iter_mut() {
                    if r.sent_at + timeout <= now {
                        r.sent_at = now;
                        r.resent = true;
                        let p = Payload {
                            data: vec![0; MAX_DATA_LEN],
                            ..Payload::request(r.seq, self.ch.session, Opcode::ReadFile, r.offset)
                        };
                        out.push(
                            p.to_message(self.ch.target.system_id, self.ch.target.component_id),
                        );
                    }
                }
                if !out.is_empty() {
                    if self.retries >= self.config.max_retries {
                        return self.finish(Err(FtpError::Timeout {
                            step: Step::Read,
                            retries: self.retries,
                        }));
                    }
                    self.retries += 1;
                }
                // Requests are re-sent in place; keep the oldest first for the deadline.
                self.in_flight.make_contiguous().sort_by_key(|r| r.sent_at);
                out.extend(self.fill(now));
                out
            }
            ReadState::NotStarted | ReadState::Done(_) => Vec::new(),
        }
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, ReadState::Done(_)) {
            return Vec::new();
        }
        self.finish(Err(FtpError::Cancelled))
    }

    fn outcome(&self) -> Option<Result<Vec<u8>, FtpError>> {
        match &self.state {
            ReadState::Done(r) => Some(r.clone()),
            _ => None,
        }
    }

    fn progress(&self) -> Progress {
        let total = self.short_end.or(self.eof_bound).or(self.size_hint);
        let bytes = match &self.state {
            ReadState::Done(Ok(d)) => u32::try_from(d.len()).unwrap_or(u32::MAX),
            _ => self.have.total(),
        };
        Progress {
            bytes,
            total_bytes: total,
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        let overall = self.started_at + self.config.overall_timeout;
        let d = match &self.state {
            ReadState::NotStarted | ReadState::Done(_) => return None,
            ReadState::Opening => self.opener.deadline(&self.rtt),
            ReadState::Bursting {
                sent_at, last_rx, ..
            } => Some(last_rx.unwrap_or(*sent_at) + self.burst_idle()),
            ReadState::Filling => self
                .in_flight
                .iter()
                .map(|r| r.sent_at + self.rtt.timeout())
                .min(),
        };
        Some(d.unwrap_or(overall).min(overall))
    }
}

#[derive(Debug, Clone)]
enum WriteState {
    NotStarted,
    Opening,
    Writing,
    Terminating(Box<Pending>),
    Done(Result<(), FtpError>),
}

/// Writes one file: CreateFile (truncating), WriteFile chunks with several in flight,
/// then TerminateSession — whose acknowledgement is the vehicle accepting the file
/// (ArduPilot parses an uploaded mission when the file is closed).
#[derive(Debug, Clone)]
pub struct WriteFile {
    config: FtpConfig,
    ch: Channel,
    rtt: RttEstimator,
    opener: Opener,
    state: WriteState,
    started_at: Duration,
    retries: u32,
    data: Vec<u8>,
    acked: Vec<bool>,
    acked_bytes: u32,
    next_chunk: usize,
    in_flight: VecDeque<(usize, Pending)>,
}

impl WriteFile {
    pub fn new(target: Target, path: &str, data: Vec<u8>, config: FtpConfig) -> WriteFile {
        let chunks = data.len().div_ceil(MAX_DATA_LEN);
        WriteFile {
            ch: Channel::new(target, &config),
            rtt: rtt_for(&config),
            opener: Opener::new(Opcode::CreateFile, path),
            config,
            state: WriteState::NotStarted,
            started_at: Duration::ZERO,
            retries: 0,
            data,
            acked: vec![false; chunks],
            acked_bytes: 0,
            next_chunk: 0,
            in_flight: VecDeque::new(),
        }
    }

    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    fn chunk_offset(i: usize) -> u32 {
        // `new` refuses nothing, but `start` fails files over u32::MAX bytes first.
        u32::try_from(i * MAX_DATA_LEN).unwrap_or(u32::MAX)
    }

    /// End with `result`. Closing a session commits the file on ArduPilot, so a write that
    /// failed or was cancelled resets the session instead, which discards it.
    fn finish(&mut self, result: Result<(), FtpError>) -> Vec<MavMessage> {
        let session_open = matches!(self.state, WriteState::Writing | WriteState::Terminating(_));
        self.in_flight.clear();
        self.state = WriteState::Done(result);
        if session_open {
            vec![self.ch.request(Opcode::ResetSessions, 0, Vec::new()).1]
        } else {
            Vec::new()
        }
    }

    fn terminate(&mut self, now: Duration) -> Vec<MavMessage> {
        let (seq, msg) = self.ch.request(Opcode::TerminateSession, 0, Vec::new());
        self.retries = 0;
        self.state = WriteState::Terminating(Box::new(Pending {
            seq,
            msg: msg.clone(),
            sent_at: now,
            resent: false,
            attempts: 1,
        }));
        vec![msg]
    }

    fn fill(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.acked.iter().all(|a| *a) {
            return self.terminate(now);
        }
        let mut out = Vec::new();
        while self.in_flight.len() < self.config.write_window.max(1)
            && self.next_chunk < self.acked.len()
        {
            let i = self.next_chunk;
            self.next_chunk += 1;
            if self.acked[i] {
                continue;
            }
            let start = i * MAX_DATA_LEN;
            let end = (start + MAX_DATA_LEN).min(self.data.len());
            let (seq, msg) = self.ch.request(
                Opcode::WriteFile,
                Self::chunk_offset(i),
                self.data[start..end].to_vec(),
            );
            self.in_flight.push_back((
                i,
                Pending {
                    seq,
                    msg: msg.clone(),
                    sent_at: now,
                    resent: false,
                    attempts: 1,
                },
            ));
            out.push(msg);
        }
        out
    }

    fn on_write_reply(&mut self, now: Duration, p: &Payload) -> Vec<MavMessage> {
        let Some(pos) = self
            .in_flight
            .iter()
            .position(|(_, r)| r.seq.wrapping_add(1) == p.seq)
        else {
            // Late duplicates of an acknowledged write.
            return Vec::new();
        };
        if p.opcode == Opcode::Nak {
            let (code, errno) = p.nak_error().unwrap_or((FtpErrorCode::Fail, None));
            return self.finish(Err(FtpError::Refused {
                op: Opcode::WriteFile,
                code,
                errno,
            }));
        }
        let Some((i, req)) = self.in_flight.remove(pos) else {
            return Vec::new();
        };
        if !req.resent {
            self.rtt.sample(now.saturating_sub(req.sent_at));
        }
        if !self.acked[i] {
            self.acked[i] = true;
            let start = i * MAX_DATA_LEN;
            let len = (start + MAX_DATA_LEN).min(self.data.len()) - start;
            self.acked_bytes += u32::try_from(len).unwrap_or(0);
            self.retries = 0;
        }
        self.fill(now)
    }
}

impl FtpTransfer for WriteFile {
    type Output = ();

    fn next_seq(&self) -> u16 {
        self.ch.next_seq
    }

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        if !matches!(self.state, WriteState::NotStarted) {
            return Vec::new();
        }
        self.started_at = now;
        if u32::try_from(self.data.len()).is_err() {
            self.state = WriteState::Done(Err(FtpError::TooLarge(u32::MAX)));
            return Vec::new();
        }
        if !self.opener.valid_path() {
            self.state = WriteState::Done(Err(FtpError::BadPath));
            return Vec::new();
        }
        self.state = WriteState::Opening;
        self.opener.send_open(now, &mut self.ch)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u32,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if matches!(self.state, WriteState::NotStarted | WriteState::Done(_)) {
            return Vec::new();
        }
        let Some(p) = self.ch.accept(sysid, compid, msg) else {
            return Vec::new();
        };
        match &self.state {
            WriteState::Opening => {
                match self.opener.on_reply(now, &p, &mut self.ch, &mut self.rtt) {
                    Opened::No => Vec::new(),
                    Opened::Send(out) => out,
                    Opened::Failed(e) => self.finish(Err(e)),
                    Opened::Yes(ack) => {
                        self.ch.session = ack.session;
                        self.state = WriteState::Writing;
                        self.fill(now)
                    }
                }
            }
            WriteState::Writing
                if p.session == self.ch.session && p.req_opcode == Opcode::WriteFile =>
            {
                self.on_write_reply(now, &p)
            }
            WriteState::Terminating(pending)
                if p.req_opcode == Opcode::TerminateSession
                    && p.seq == pending.seq.wrapping_add(1) =>
            {
                let result = match p.opcode {
                    Opcode::Ack => Ok(()),
                    _ => {
                        let (code, errno) = p.nak_error().unwrap_or((FtpErrorCode::Fail, None));
                        Err(FtpError::Refused {
                            op: Opcode::TerminateSession,
                            code,
                            errno,
                        })
                    }
                };
                self.state = WriteState::Done(result);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, WriteState::NotStarted | WriteState::Done(_)) {
            return Vec::new();
        }
        if now >= self.started_at + self.config.overall_timeout {
            let step = match self.state {
                WriteState::Opening => Step::Open,
                WriteState::Terminating(_) => Step::Terminate,
                _ => Step::Write,
            };
            return self.finish(Err(FtpError::Timeout {
                step,
                retries: self.retries,
            }));
        }
        let timeout = self.rtt.timeout();
        match &mut self.state {
            WriteState::Opening => match self.opener.poll(now, &self.config, &self.ch, &self.rtt) {
                Ok(out) => out,
                Err(e) => self.finish(Err(e)),
            },
            WriteState::Terminating(p) => {
                if now < p.sent_at + timeout {
                    return Vec::new();
                }
                if p.attempts > self.config.max_retries {
                    let retries = p.attempts - 1;
                    self.state = WriteState::Done(Err(FtpError::Timeout {
                        step: Step::Terminate,
                        retries,
                    }));
                    return Vec::new();
                }
                p.attempts += 1;
                p.sent_at = now;
                p.resent = true;
                vec![p.msg.clone()]
            }
            WriteState::Writing => {
                let mut out = Vec::new();
                for (_, r) in self.in_flight.iter_mut() {
                    if r.sent_at + timeout <= now {
                        r.sent_at = now;
                        r.resent = true;
                        out.push(r.msg.clone());
                    }
                }
                if out.is_empty() {
                    return out;
                }
                if self.retries >= self.config.max_retries {
                    return self.finish(Err(FtpError::Timeout {
                        step: Step::Write,
                        retries: self.retries,
                    }));
                }
                self.retries += 1;
                self.in_flight
                    .make_contiguous()
                    .sort_by_key(|(_, r)| r.sent_at);
                out
            }
            WriteState::NotStarted | WriteState::Done(_) => Vec::new(),
        }
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        if matches!(self.state, WriteState::Done(_)) {
            return Vec::new();
        }
        self.finish(Err(FtpError::Cancelled))
    }

    fn outcome(&self) -> Option<Result<(), FtpError>> {
        match &self.state {
            WriteState::Done(r) => Some(r.clone()),
            _ => None,
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            bytes: self.acked_bytes,
            total_bytes: u32::try_from(self.data.len()).ok(),
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        let overall = self.started_at + self.config.overall_timeout;
        let d = match &self.state {
            WriteState::NotStarted | WriteState::Done(_) => return None,
            WriteState::Opening => self.opener.deadline(&self.rtt),
            WriteState::Terminating(p) => Some(p.sent_at + self.rtt.timeout()),
            WriteState::Writing => self
                .in_flight
                .iter()
                .map(|(_, r)| r.sent_at + self.rtt.timeout())
                .min(),
        };
        Some(d.unwrap_or(overall).min(overall))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_find_gaps() {
        let mut r = Ranges::default();
        r.insert(239, 478);
        r.insert(717, 800);
        assert_eq!(r.missing_blocks(800), vec![0, 478]);
        r.insert(0, 239);
        r.insert(478, 717);
        assert_eq!(r.0, vec![(0, 800)]);
        assert!(r.covers(0, 800));
        assert_eq!(r.missing_blocks(1000), vec![800]);
        assert_eq!(r.total(), 800);
        let mut big = Ranges::default();
        big.insert(1000, 1100);
        assert_eq!(big.missing_blocks(1000), vec![0, 239, 478, 717, 956]);
    }
}
