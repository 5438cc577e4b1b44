//! [`Link`]: one open address, run by one task that owns the transport. The task
//! turns received bytes into [`LinkEvent`]s and writes what [`LinkSender`]s queue.
//! The receive and transmit paths shared by every transport (parsing, statistics,
//! sequence tracking, fault injection) live here; `udp`, `tcp`, `serial`, `pty` and
//! `replay` only move bytes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use airgap_core::frame::{parse_slice, Frame, FrameParser, FrameRef, ParserStats};
use airgap_core::MavMessage;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::address::Address;
use crate::faults::{Fate, FaultInjector, Faults};
use crate::stats::{Counters, LinkStats, LinkStatsHandle, SeqObservation, SeqTracker};

/// Events waiting for [`Link::recv`]; a full queue slows the transport down (TCP,
/// serial) or lets the kernel drop datagrams (UDP) rather than growing without bound.
const EVENT_QUEUE: usize = 4096;
/// Frames waiting to be written; beyond this, [`LinkSender::send`] drops and counts.
const WRITE_QUEUE: usize = 1024;

/// Options for [`Link::open`].
#[derive(Clone, Debug, Default)]
pub struct LinkOptions {
    /// Inject faults into both directions (testing).
    pub faults: Option<Faults>,
}

/// What a link reports.
// Nearly every event is a frame: boxing it would only add an allocation per frame.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum LinkEvent {
    /// Connected: TCP connected or accepted, first datagram from a UDP peer, serial
    /// port opened, replay started.
    Up { peer: String },
    /// Lost a connection or peer; the link retries by itself.
    Down { reason: String },
    /// A frame, with the UNIX time of reception in µs (a replay gives the log's time).
    Frame { frame: Frame, time_us: u64 },
    /// The link is finished and will not come back; [`Link::recv`] returns `None` next.
    Ended { reason: String },
}

/// Why a link could not be opened or used.
#[derive(thiserror::Error, Debug)]
pub enum LinkError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot resolve host `{host}`: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot open log {}: {source}", path.display())]
    ReplayOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create a pseudo-terminal: {0}")]
    Pty(String),
    #[error("cannot list serial ports: {0}")]
    SerialPorts(String),
    #[error("invalid fault injection settings: {0}")]
    InvalidFaults(String),
    #[error("{0} is not available on this platform")]
    Unsupported(&'static str),
    #[error("the link is closed")]
    Closed,
}

/// An open link. Dropping it stops its task.
#[derive(Debug)]
pub struct Link {
    address: Address,
    events: mpsc::Receiver<LinkEvent>,
    sender: LinkSender,
    stats: LinkStatsHandle,
    local_addr: Option<SocketAddr>,
    ended: bool,
    _stop_on_drop: DropGuard,
}

impl Link {
    /// Open `address`. Returns once the link exists: a TCP client or serial port that
    /// cannot connect yet keeps retrying (reporting [`LinkEvent::Down`]); binding a
    /// listener, resolving a host name or opening a log fails here instead.
    pub async fn open(
        address: &Address,
        options: LinkOptions,
        cancel: CancellationToken,
    ) -> Result<Link, LinkError> {
        let (io, parts) = LinkIo::new(&options, cancel)?;
        let local_addr = match address {
            Address::UdpIn(addr) => Some(crate::udp::spawn_in(*addr, io).await?),
            Address::UdpOut(addr) => Some(crate::udp::spawn_out(*addr, io).await?),
            Address::TcpOut { host, port } => {
                crate::tcp::spawn_out(host.clone(), *port, io).await?;
                None
            }
            Address::TcpIn(addr) => Some(crate::tcp::spawn_in(*addr, io).await?),
            Address::Serial { path, baud } => {
                crate::serial::spawn(path.clone(), *baud, io);
                None
            }
            Address::Replay { path, speed } => {
                crate::replay::spawn(path.clone(), *speed, io)?;
                None
            }
        };
        Ok(parts.into_link(address.clone(), local_addr))
    }

    /// Serve on a fresh pseudo-terminal, as a simulator's `--pty` does: returns the link
    /// on the master side and the path of the slave for a client to open as a serial
    /// port. [`Link::address`] is that slave as a `serial:` address.
    pub async fn open_pty(
        options: LinkOptions,
        cancel: CancellationToken,
    ) -> Result<(Link, PathBuf), LinkError> {
        let (io, parts) = LinkIo::new(&options, cancel)?;
        let path = crate::pty::spawn(io)?;
        let address = Address::Serial {
            path: path.display().to_string(),
            baud: crate::address::DEFAULT_BAUD,
        };
        Ok((parts.into_link(address, None), path))
    }

    /// A handle for sending; clone it freely.
    pub fn sender(&self) -> LinkSender {
        self.sender.clone()
    }

    /// The next event; `None` once the link has ended.
    pub async fn recv(&mut self) -> Option<LinkEvent> {
        if self.ended {
            return None;
        }
        let event = self
            .events
            .recv()
            .await
            .unwrap_or_else(|| LinkEvent::Ended {
                reason: "the link task stopped".into(),
            });
        if matches!(event, LinkEvent::Ended { .. }) {
            self.ended = true;
        }
        Some(event)
    }

    pub fn stats(&self) -> LinkStats {
        self.stats.snapshot()
    }

    pub fn stats_handle(&self) -> LinkStatsHandle {
        self.stats.clone()
    }

    /// The bound socket address of UDP and TCP-server links (the real port when the
    /// address asked for port 0), and of a UDP client's own socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    pub fn address(&self) -> &Address {
        &self.address
    }
}

/// Queues frames for a link to write. Cheap to clone; never blocks.
#[derive(Clone, Debug)]
pub struct LinkSender {
    queue: mpsc::Sender<Vec<u8>>,
    /// Next sequence number per (sysid, compid) we send as.
    sequences: Arc<Mutex<HashMap<(u8, u8), u8>>>,
    counters: Arc<Counters>,
}

impl LinkSender {
    /// Send `msg` as MAVLink 2 from `sysid`/`compid`, numbering frames per sender. If
    /// the write queue is full the frame is dropped and counted in `tx_dropped`: a
    /// ground station must never stall on a slow radio. Fails only once the link is closed.
    pub fn send(&self, sysid: u8, compid: u8, msg: &MavMessage) -> Result<(), LinkError> {
        let seq = {
            // A poisoned map still holds usable counters: keep going.
            let mut sequences = self
                .sequences
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let next = sequences.entry((sysid, compid)).or_insert(0);
            let seq = *next;
            *next = seq.wrapping_add(1);
            seq
        };
        self.send_raw(Frame::encode_v2(sysid, compid, seq, msg).raw)
    }

    /// Frames queued and not yet taken by the transport: a ground station about to close a
    /// link waits for this to reach 0 so its last message (a final MISSION_ACK) goes out.
    pub fn pending(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Send a frame exactly as given (forwarding, replaying).
    pub fn send_raw(&self, raw: Vec<u8>) -> Result<(), LinkError> {
        match self.queue.try_send(raw) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                Counters::add(&self.counters.tx_dropped, 1);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(LinkError::Closed),
        }
    }
}

/// The parts of a link its transport task owns.
pub(crate) struct LinkIo {
    pub(crate) rx: RxPath,
    pub(crate) tx: TxPath,
    pub(crate) outgoing: mpsc::Receiver<Vec<u8>>,
    pub(crate) cancel: CancellationToken,
}

/// The parts the [`Link`] keeps.
struct LinkParts {
    events: mpsc::Receiver<LinkEvent>,
    sender: LinkSender,
    counters: Arc<Counters>,
    guard: DropGuard,
}

impl LinkParts {
    fn into_link(self, address: Address, local_addr: Option<SocketAddr>) -> Link {
        Link {
            address,
            events: self.events,
            sender: self.sender,
            stats: LinkStatsHandle(self.counters),
            local_addr,
            ended: false,
            _stop_on_drop: self.guard,
        }
    }
}

impl LinkIo {
    fn new(
        options: &LinkOptions,
        cancel: CancellationToken,
    ) -> Result<(LinkIo, LinkParts), LinkError> {
        if let Some(faults) = &options.faults {
            faults.validate().map_err(LinkError::InvalidFaults)?;
        }
        let counters = Arc::new(Counters::default());
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let (out_tx, out_rx) = mpsc::channel(WRITE_QUEUE);
        let cancel = cancel.child_token();
        let io = LinkIo {
            rx: RxPath {
                events: event_tx,
                counters: counters.clone(),
                faults: options.faults.as_ref().map(|f| FaultInjector::new(f, 1)),
                sequences: SeqTracker::default(),
                cancel: cancel.clone(),
            },
            tx: TxPath {
                counters: counters.clone(),
                faults: options.faults.as_ref().map(|f| FaultInjector::new(f, 2)),
            },
            outgoing: out_rx,
            cancel: cancel.clone(),
        };
        let parts = LinkParts {
            events: event_rx,
            sender: LinkSender {
                queue: out_tx,
                sequences: Arc::default(),
                counters: counters.clone(),
            },
            counters,
            guard: cancel.drop_guard(),
        };
        Ok((io, parts))
    }

    /// Report that the link is over: the last event a transport task sends.
    pub(crate) async fn finish(mut self, reason: String) {
        tracing::debug!(%reason, "link ended");
        // The Link may already be gone; nobody is left to tell then.
        let _ = self.rx.emit(LinkEvent::Ended { reason }).await;
    }
}

/// The link was dropped or cancelled: its task should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stopped;

/// Receive side: parse, inject faults, track sequences, count, deliver.
pub(crate) struct RxPath {
    events: mpsc::Sender<LinkEvent>,
    counters: Arc<Counters>,
    faults: Option<FaultInjector>,
    sequences: SeqTracker,
    cancel: CancellationToken,
}

impl RxPath {
    /// Deliver an event, waiting while the consumer is behind (unless stopped).
    pub(crate) async fn emit(&mut self, event: LinkEvent) -> Result<(), Stopped> {
        if self.cancel.is_cancelled() {
            // Best effort: the consumer may still be reading.
            return self.events.try_send(event).map_err(|_| Stopped);
        }
        tokio::select! {
            sent = self.events.send(event) => sent.map_err(|_| Stopped),
            () = self.cancel.cancelled() => Err(Stopped),
        }
    }

    /// Bytes from a stream transport, fed through that stream's parser.
    pub(crate) async fn stream_bytes(
        &mut self,
        parser: &mut FrameParser,
        bytes: &[u8],
    ) -> Result<(), Stopped> {
        Counters::add(&self.counters.rx_bytes, bytes.len() as u64);
        parser.push(bytes);
        self.drain(parser).await
    }

    /// Deliver every frame the parser can complete now.
    pub(crate) async fn drain(&mut self, parser: &mut FrameParser) -> Result<(), Stopped> {
        let before = parser.stats();
        let time_us = unix_time_us();
        let mut result = Ok(());
        while let Some(item) = parser.next_frame() {
            if let Ok(frame) = item {
                result = self.frame(frame, time_us).await;
                if result.is_err() {
                    break;
                }
            }
        }
        self.count_parser(parser.stats().since(&before));
        result
    }

    /// One datagram: frames never span datagrams, so each is parsed on its own.
    pub(crate) async fn datagram(&mut self, bytes: &[u8]) -> Result<(), Stopped> {
        Counters::add(&self.counters.rx_bytes, bytes.len() as u64);
        let time_us = unix_time_us();
        let mut frames = parse_slice(bytes);
        let mut found = Vec::new();
        for frame in frames.by_ref().flatten() {
            found.push(frame.into_frame());
        }
        self.count_parser(frames.stats());
        for frame in found {
            self.frame(frame, time_us).await?;
        }
        Ok(())
    }

    /// A parsed frame: apply injected faults, then deliver.
    pub(crate) async fn frame(&mut self, frame: Frame, time_us: u64) -> Result<(), Stopped> {
        let fate = self
            .faults
            .as_mut()
            .map_or(Fate::CLEAN, FaultInjector::fate);
        if fate.drop {
            Counters::add(&self.counters.injected_loss, 1);
            return Ok(());
        }
        if fate.duplicate {
            Counters::add(&self.counters.injected_dup, 1);
            self.deliver(frame.clone(), time_us).await?;
        }
        if fate.corrupt {
            Counters::add(&self.counters.injected_corrupt, 1);
            let mut raw = frame.raw;
            if let Some(faults) = self.faults.as_mut() {
                faults.corrupt(&mut raw);
            }
            // Parse the damaged bytes for real, so the counters show what a receiver
            // of a damaged frame sees.
            let mut frames = parse_slice(&raw);
            let survivors: Vec<Frame> = frames
                .by_ref()
                .flatten()
                .map(FrameRef::into_frame)
                .collect();
            self.count_parser(frames.stats());
            for survivor in survivors {
                self.deliver(survivor, time_us).await?;
            }
            return Ok(());
        }
        self.deliver(frame, time_us).await
    }

    async fn deliver(&mut self, frame: Frame, time_us: u64) -> Result<(), Stopped> {
        match self
            .sequences
            .observe(frame.sysid(), frame.compid(), frame.seq())
        {
            SeqObservation::InOrder => {}
            SeqObservation::Gap(missing) => Counters::add(&self.counters.seq_gaps, missing.into()),
            SeqObservation::Duplicate => Counters::add(&self.counters.duplicates, 1),
        }
        Counters::add(&self.counters.rx_frames, 1);
        self.emit(LinkEvent::Frame { frame, time_us }).await
    }

    fn count_parser(&self, delta: ParserStats) {
        Counters::add(&self.counters.crc_errors, delta.crc_errors);
        Counters::add(&self.counters.unknown_msgs, delta.unknown);
        Counters::add(&self.counters.malformed, delta.malformed);
        Counters::add(&self.counters.junk_bytes, delta.junk_bytes);
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }
}

/// Transmit side: inject faults, count.
pub(crate) struct TxPath {
    counters: Arc<Counters>,
    faults: Option<FaultInjector>,
}

impl TxPath {
    /// The copies of `raw` to write: none if lost, two if duplicated, the first
    /// damaged if corrupted.
    pub(crate) fn prepare(&mut self, raw: Vec<u8>) -> impl Iterator<Item = Vec<u8>> {
        let Some(faults) = self.faults.as_mut() else {
            return Some(raw).into_iter().chain(None);
        };
        let fate = faults.fate();
        if fate.drop {
            Counters::add(&self.counters.injected_loss, 1);
            return None.into_iter().chain(None);
        }
        let second = fate.duplicate.then(|| raw.clone());
        if fate.duplicate {
            Counters::add(&self.counters.injected_dup, 1);
        }
        let mut first = raw;
        if fate.corrupt {
            Counters::add(&self.counters.injected_corrupt, 1);
            faults.corrupt(&mut first);
        }
        Some(first).into_iter().chain(second)
    }

    pub(crate) fn sent(&self, bytes: usize) {
        Counters::add(&self.counters.tx_frames, 1);
        Counters::add(&self.counters.tx_bytes, bytes as u64);
    }

    pub(crate) fn dropped(&self, frames: u64) {
        Counters::add(&self.counters.tx_dropped, frames);
    }
}

pub(crate) fn unix_time_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
