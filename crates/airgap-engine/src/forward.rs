//! Telemetry forwarding, as MAVProxy's `--out`: every frame heard on any link goes out raw to
//! each forward (another ground station, a companion tool), and what a forward sends back (that
//! station's commands) goes to the vehicle link it is for. Also where link and forward
//! addresses are turned into egress-gate destinations.
//!
//! A forward is an airgap-link [`Link`], so it never blocks the vehicle side: its write queue
//! drops and counts when the far end is slow. Its reader is a task that hands frames to the
//! engine actor, which owns the routing (it knows which vehicle is on which link).

use std::collections::BTreeMap;

use airgap_core::frame::Frame;
use airgap_egress::{Destination, Gate};
use airgap_link::{Address, Link, LinkEvent, LinkOptions, LinkSender, LinkStatsHandle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::EngineError;

/// Frames from forwards waiting for the actor. Beyond this the forward's own event queue
/// fills, and then its transport slows or drops (UDP): a flood from a forward never grows
/// memory or delays the vehicle links.
const INBOUND_QUEUE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ForwardId(pub u32);

/// What a forward has carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForwardStats {
    /// Frames handed to the transport and written.
    pub tx_frames: u64,
    /// Frames dropped: the queue was full (the far end is slow), nobody was there to take
    /// them (a `udpin`/`tcpin` forward with no client yet), or the write failed.
    pub dropped: u64,
    /// Frames the far end sent us, routed to the vehicle links.
    pub rx_frames: u64,
}

#[derive(Debug, Clone)]
pub struct ForwardInfo {
    pub id: ForwardId,
    pub address: Address,
    /// The transport's latest word ("connected to …", why it is down), if any.
    pub detail: Option<String>,
    pub stats: ForwardStats,
}

/// What a forward's reader task reports to the actor.
#[allow(
    clippy::large_enum_variant,
    reason = "nearly every report is a frame: boxing it would only add an allocation per frame"
)]
pub(crate) enum Inbound {
    Frame(Frame),
    Status(ForwardId, String),
}

struct Entry {
    address: Address,
    sender: LinkSender,
    stats: LinkStatsHandle,
    cancel: CancellationToken,
    detail: Option<String>,
}

/// The open forwards; owned by the engine actor.
pub(crate) struct Forwards {
    entries: BTreeMap<ForwardId, Entry>,
    next: u32,
    inbound: mpsc::Sender<Inbound>,
}

impl Forwards {
    pub(crate) fn new() -> (Forwards, mpsc::Receiver<Inbound>) {
        let (inbound, rx) = mpsc::channel(INBOUND_QUEUE);
        let forwards = Forwards {
            entries: BTreeMap::new(),
            next: 1,
            inbound,
        };
        (forwards, rx)
    }

    /// Asks the gate, then opens the forward. A refusal is decided before any socket exists.
    pub(crate) async fn add(
        &mut self,
        address: Address,
        gate: &Gate,
        cancel: &CancellationToken,
    ) -> Result<ForwardId, EngineError> {
        let Some(destination) = destination(&address) else {
            return Err(EngineError::NotForwardable(address));
        };
        gate.check_for("telemetry forward", &destination)?;
        let cancel = cancel.child_token();
        let mut link = Link::open(&address, LinkOptions::default(), cancel.clone()).await?;
        let id = ForwardId(self.next);
        self.next += 1;
        self.entries.insert(
            id,
            Entry {
                address,
                sender: link.sender(),
                stats: link.stats_handle(),
                cancel: cancel.clone(),
                detail: None,
            },
        );
        let inbound = self.inbound.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = cancel.cancelled() => return,
                    event = link.recv() => event,
                };
                let report = match event {
                    Some(LinkEvent::Frame { frame, .. }) => Inbound::Frame(frame),
                    Some(LinkEvent::Up { peer }) => {
                        Inbound::Status(id, format!("connected to {peer}"))
                    }
                    Some(LinkEvent::Down { reason }) => Inbound::Status(id, reason),
                    Some(LinkEvent::Ended { reason }) => {
                        Inbound::Status(id, format!("ended: {reason}"))
                    }
                    None => return,
                };
                if inbound.send(report).await.is_err() {
                    return;
                }
            }
        });
        Ok(id)
    }

    pub(crate) fn remove(&mut self, id: ForwardId) -> Result<(), EngineError> {
        let entry = self
            .entries
            .remove(&id)
            .ok_or(EngineError::NoSuchForward(id.0))?;
        entry.cancel.cancel();
        Ok(())
    }

    pub(crate) fn list(&self) -> Vec<ForwardInfo> {
        self.entries
            .iter()
            .map(|(id, e)| {
                let stats = e.stats.snapshot();
                ForwardInfo {
                    id: *id,
                    address: e.address.clone(),
                    detail: e.detail.clone(),
                    stats: ForwardStats {
                        tx_frames: stats.tx_frames,
                        dropped: stats.tx_dropped,
                        rx_frames: stats.rx_frames,
                    },
                }
            })
            .collect()
    }

    /// A frame heard on a link, out to every forward exactly as it arrived. Never waits: a
    /// full queue drops the frame and counts it in that forward's `dropped`.
    pub(crate) fn frame(&self, raw: &[u8]) {
        for (id, entry) in &self.entries {
            if entry.sender.send_raw(raw.to_vec()).is_err() {
                tracing::debug!(forward = id.0, "forward closed; frame not sent");
            }
        }
    }

    pub(crate) fn status(&mut self, id: ForwardId, detail: String) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.detail = Some(detail);
        }
    }

    /// Frames queued on the forwards and not yet taken by their transports.
    pub(crate) fn pending(&self) -> usize {
        self.entries.values().map(|e| e.sender.pending()).sum()
    }

    pub(crate) fn stop_all(&self) {
        for entry in self.entries.values() {
            entry.cancel.cancel();
        }
    }
}

/// Where using `address` would send bytes, for the egress gate; `None` for a log replay,
/// which reads a file and sends nothing anywhere.
pub fn destination(address: &Address) -> Option<Destination> {
    Some(match address {
        // A listener answers whoever reaches it: its bind address is what is exposed.
        Address::UdpIn(addr) | Address::UdpOut(addr) | Address::TcpIn(addr) => {
            Destination::Socket(*addr)
        }
        Address::TcpOut { host, port } => match host.parse() {
            Ok(ip) => Destination::Socket(std::net::SocketAddr::new(ip, *port)),
            Err(_) => Destination::Host {
                name: host.clone(),
                port: *port,
            },
        },
        Address::Serial { path, .. } => Destination::Serial(path.clone()),
        Address::Replay { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Address {
        s.parse().expect("test address")
    }

    #[test]
    fn destinations_follow_the_gates_view_of_local() {
        let sealed = Gate::new(true);
        for local in [
            "udpin:127.0.0.1:14550",
            "udpout:127.0.0.1:14550",
            "udpout:[::1]:14550",
            "tcp:localhost:5760",
            "tcp:127.0.0.1:5760",
            "tcpin:127.0.0.1:5760",
            "serial:/dev/ttyUSB0:57600",
        ] {
            let d = destination(&parse(local)).expect("not a replay");
            assert!(sealed.check(&d).is_ok(), "{local}");
            // The link crate's own notion agrees.
            assert!(parse(local).is_loopback_or_local(), "{local}");
        }
        for remote in [
            "udpin:0.0.0.0:14550",
            "udpout:192.0.2.1:14550",
            "tcp:192.0.2.1:5760",
            "tcp:sitl.example:5760",
            "tcpin:0.0.0.0:5760",
        ] {
            let d = destination(&parse(remote)).expect("not a replay");
            assert!(sealed.check(&d).is_err(), "{remote}");
            assert!(!parse(remote).is_loopback_or_local(), "{remote}");
        }
        assert_eq!(destination(&parse("replay:x.tlog")), None);
        assert_eq!(
            destination(&parse("tcp:sitl.example:5760")),
            Some(Destination::Host {
                name: "sitl.example".into(),
                port: 5760
            })
        );
    }
}
