//! The egress gate: the one place that decides whether the program may reach a network
//! destination. Every feature that may touch a network (telemetry forwarding, map tiles, a
//! vehicle link to a remote address) asks [`Gate::check`] first; while the gate is sealed it
//! refuses everything but loopback addresses and serial devices, which are not egress.
//!
//! The decision is made on what the destination *says*, never on what it resolves to: a
//! host name other than `localhost` is refused while sealed, because looking it up would
//! itself send a DNS query and because a name can resolve anywhere. Each refusal is counted
//! and handed to an optional sink (the vault's audit trail).
//!
//! The gate is one layer of the seal (see DESIGN.md, "The network seal"): clippy's
//! `disallowed_types`/`disallowed_methods` (clippy.toml) keep sockets out of every module that
//! does not ask it, and the operating-system seal catches what slips past both.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

mod http;
pub use http::{HttpClient, HttpError, HttpLimits, HttpResponse, PURPOSE_MAP_TILES};
pub mod os;
mod switch;
pub use switch::{
    os_layer, selftest, LayerCheck, OsLayer, Outcome, SealState, SealSwitch, SelfTest, SwitchError,
    PROBE, SWITCH_FILE,
};

/// Somewhere a feature wants to send bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// An IP address and port (a UDP peer, a TCP server, an address to listen on: a
    /// listener on a non-loopback address answers whoever reaches it, so it counts too).
    Socket(SocketAddr),
    /// A host name and port, not resolved. An IP address written as a name is read as one.
    Host { name: String, port: u16 },
    /// A serial device (`/dev/ttyUSB0`, `COM3`): a radio or a USB cable, never a network.
    Serial(String),
    /// A URL (`https://tile.example/1/2/3.png`); only its host is looked at.
    Url(String),
}

impl Destination {
    /// True when reaching this destination sends nothing onto a network: loopback
    /// addresses (127.0.0.0/8, ::1, and 127.0.0.0/8 mapped into IPv6), the name
    /// `localhost`, and serial devices. Decided from the text alone, with no lookup.
    pub fn is_local(&self) -> bool {
        match self {
            Destination::Socket(addr) => is_loopback(addr.ip()),
            Destination::Host { name, .. } => host_is_local(name),
            Destination::Serial(_) => true,
            Destination::Url(url) => url_host(url).is_some_and(host_is_local),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Socket(addr) => write!(f, "{addr}"),
            Destination::Host { name, port } if name.contains(':') => {
                write!(f, "[{name}]:{port}")
            }
            Destination::Host { name, port } => write!(f, "{name}:{port}"),
            Destination::Serial(path) => write!(f, "serial device {path}"),
            Destination::Url(url) => write!(f, "{url}"),
        }
    }
}

impl From<SocketAddr> for Destination {
    fn from(addr: SocketAddr) -> Self {
        Destination::Socket(addr)
    }
}

/// Loopback in either family, including IPv4 loopback mapped into IPv6 (`::ffff:127.0.0.1`),
/// which a dual-stack socket delivers to 127.0.0.1. The unspecified address (`0.0.0.0`, `::`)
/// is not loopback: a listener there is reachable from every network.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback(),
            None => v6.is_loopback(),
        },
    }
}

/// A host as written: a loopback IP, or the name `localhost` (RFC 6761 reserves it for
/// loopback). Any other name could resolve anywhere.
fn host_is_local(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(ip) => is_loopback(ip),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The host of `scheme://[userinfo@]host[:port][/path][?query][#fragment]`, without the
/// brackets of an IPv6 literal; `None` when the URL has no such authority.
fn url_host(url: &str) -> Option<&str> {
    let (_scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    // A userinfo may itself contain `@` only percent-encoded, so the last one ends it.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.0,
        None => host_port.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

/// Whether the gate lets traffic out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GateState {
    /// Anything may be reached (still through the gate, which is how refusals are counted
    /// once sealed).
    Online,
    /// Only loopback addresses and serial devices.
    Sealed,
}

impl fmt::Display for GateState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GateState::Online => "ONLINE",
            GateState::Sealed => "SEALED",
        })
    }
}

/// What the gate allowed, and on which grounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Loopback or serial: not egress, allowed sealed or not.
    Local,
    /// A network destination, allowed because the gate is online.
    Online,
}

/// Why a destination was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// Sealed, and the destination is not loopback or serial.
    Sealed,
    /// Sealed, and the destination is a host name other than `localhost`: it is not looked
    /// up, since the lookup itself would leave the machine.
    HostName,
    /// Sealed, and the URL has no host that can be read as loopback.
    UnreadableUrl,
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefusalReason::Sealed => {
                "the network seal is engaged: only loopback addresses and serial devices can be \
                 reached"
            }
            RefusalReason::HostName => {
                "the network seal is engaged: a host name other than `localhost` could resolve to \
                 any network, and no name is looked up while sealed"
            }
            RefusalReason::UnreadableUrl => {
                "the network seal is engaged: the URL names no host that is certainly loopback"
            }
        })
    }
}

/// One refused attempt, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The feature that asked ("telemetry forward", "vehicle link", "map tiles").
    pub purpose: &'static str,
    pub destination: Destination,
    pub reason: RefusalReason,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to {} refused: {}",
            self.purpose, self.destination, self.reason
        )
    }
}

/// The gate said no.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub Refusal);

impl Refused {
    pub fn refusal(&self) -> &Refusal {
        &self.0
    }

    pub fn destination(&self) -> &Destination {
        &self.0.destination
    }

    pub fn reason(&self) -> RefusalReason {
        self.0.reason
    }
}

type Sink = dyn Fn(&Refusal) + Send + Sync;

/// The egress gate. Cheap to clone; clones share the state, the count and the sink.
///
/// The state is fixed for the life of the gate: it is read from the persisted switch at
/// start-up, and changing it means restarting the program (so that the operating-system
/// seal, which cannot be lifted from inside, agrees with it).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    state: GateState,
    refused: AtomicU64,
    sink: RwLock<Option<Arc<Sink>>>,
}

impl Gate {
    /// A gate, sealed or online.
    pub fn new(sealed: bool) -> Gate {
        Gate {
            inner: Arc::new(Inner {
                state: if sealed {
                    GateState::Sealed
                } else {
                    GateState::Online
                },
                refused: AtomicU64::new(0),
                sink: RwLock::new(None),
            }),
        }
    }

    pub fn state(&self) -> GateState {
        self.inner.state
    }

    pub fn is_sealed(&self) -> bool {
        self.inner.state == GateState::Sealed
    }

    /// May `destination` be reached? See [`Gate::check_for`]; this one names no feature.
    pub fn check(&self, destination: &Destination) -> Result<Permit, Refused> {
        self.check_for("network access", destination)
    }

    /// May `destination` be reached by the feature `purpose` (named in the refusal, and so
    /// in the audit trail)? Loopback and serial always may; anything else only while online.
    /// A refusal is counted and reported to the sink before this returns.
    pub fn check_for(
        &self,
        purpose: &'static str,
        destination: &Destination,
    ) -> Result<Permit, Refused> {
        if destination.is_local() {
            return Ok(Permit::Local);
        }
        if self.inner.state == GateState::Online {
            return Ok(Permit::Online);
        }
        let reason = match destination {
            Destination::Host { name, .. } if name.parse::<IpAddr>().is_err() => {
                RefusalReason::HostName
            }
            Destination::Url(url) => match url_host(url) {
                Some(host) if host.parse::<IpAddr>().is_ok() => RefusalReason::Sealed,
                Some(_) => RefusalReason::HostName,
                None => RefusalReason::UnreadableUrl,
            },
            _ => RefusalReason::Sealed,
        };
        let refusal = Refusal {
            purpose,
            destination: destination.clone(),
            reason,
        };
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
        // Info, not warn: the front end that asked tells the pilot, in its own words.
        tracing::info!(%refusal, "egress refused");
        // Cloned out so the sink runs without the lock held: it may be slow (a disk write)
        // and may itself ask the gate something.
        let sink = self
            .inner
            .sink
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(sink) = sink {
            sink(&refusal);
        }
        Err(Refused(refusal))
    }

    /// How many attempts have been refused since start-up.
    pub fn refused_count(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Report every later refusal to `sink` (replacing any earlier sink). It is called on
    /// the thread that asked, before [`Gate::check`] returns.
    pub fn on_refusal(&self, sink: Box<dyn Fn(&Refusal) + Send + Sync>) {
        *self
            .inner
            .sink
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::from(sink));
    }
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("state", &self.inner.state)
            .field("refused", &self.refused_count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn sock(s: &str) -> Destination {
        Destination::Socket(s.parse().expect("test socket address"))
    }

    fn host(name: &str, port: u16) -> Destination {
        Destination::Host {
            name: name.into(),
            port,
        }
    }

    fn url(s: &str) -> Destination {
        Destination::Url(s.into())
    }

    fn local_destinations() -> Vec<Destination> {
        vec![
            sock("127.0.0.1:14550"),
            sock("127.255.255.254:1"),
            sock("127.0.0.2:5760"),
            sock("[::1]:14550"),
            sock("[::ffff:127.0.0.1]:14550"),
            host("localhost", 5760),
            host("LocalHost", 5760),
            host("127.0.0.1", 5760),
            host("::1", 5760),
            Destination::Serial("/dev/ttyUSB0".into()),
            Destination::Serial("COM3".into()),
            url("http://127.0.0.1:8080/tiles/1/2/3.png"),
            url("http://localhost/"),
            url("https://user:pw@localhost:8443/x?y=z"),
            url("http://[::1]:8080/"),
            url("http://localhost#frag"),
        ]
    }

    fn remote_destinations() -> Vec<(Destination, RefusalReason)> {
        vec![
            (sock("192.0.2.1:14550"), RefusalReason::Sealed),
            (sock("0.0.0.0:14550"), RefusalReason::Sealed),
            (sock("[::]:14550"), RefusalReason::Sealed),
            (sock("[2001:db8::1]:14550"), RefusalReason::Sealed),
            (sock("[::ffff:192.0.2.1]:14550"), RefusalReason::Sealed),
            (sock("10.0.0.1:5760"), RefusalReason::Sealed),
            (host("192.0.2.1", 5760), RefusalReason::Sealed),
            (host("sitl.example", 5760), RefusalReason::HostName),
            // Names that merely look local are still names: only `localhost` is known.
            (host("localhost.", 5760), RefusalReason::HostName),
            (host("localhost.example", 5760), RefusalReason::HostName),
            (host("127.1", 5760), RefusalReason::HostName),
            (host("2130706433", 5760), RefusalReason::HostName),
            (
                url("https://tile.openstreetmap.org/1/2/3.png"),
                RefusalReason::HostName,
            ),
            (url("http://192.0.2.1/x"), RefusalReason::Sealed),
            // The `@` makes `localhost` the userinfo, not the host.
            (
                url("http://localhost@evil.example/"),
                RefusalReason::HostName,
            ),
            (url("http://[2001:db8::1]:80/"), RefusalReason::Sealed),
            (url("tile.example/1/2/3.png"), RefusalReason::UnreadableUrl),
            (url("http:///nohost"), RefusalReason::UnreadableUrl),
            (url("http://[::1/"), RefusalReason::UnreadableUrl),
        ]
    }

    #[test]
    fn loopback_and_serial_pass_either_way_and_are_not_egress() {
        for sealed in [false, true] {
            let gate = Gate::new(sealed);
            for d in local_destinations() {
                assert_eq!(gate.check(&d), Ok(Permit::Local), "{d} sealed={sealed}");
            }
            assert_eq!(gate.refused_count(), 0);
        }
    }

    #[test]
    fn online_lets_everything_out_and_counts_nothing() {
        let gate = Gate::new(false);
        assert_eq!(gate.state(), GateState::Online);
        assert!(!gate.is_sealed());
        for (d, _) in remote_destinations() {
            assert_eq!(gate.check(&d), Ok(Permit::Online), "{d}");
        }
        assert_eq!(gate.refused_count(), 0);
    }

    #[test]
    fn sealed_refuses_everything_else_with_the_reason() {
        let gate = Gate::new(true);
        assert_eq!(gate.state(), GateState::Sealed);
        assert!(gate.is_sealed());
        let remote = remote_destinations();
        for (d, reason) in &remote {
            let refused = gate
                .check_for("map tiles", d)
                .expect_err(&format!("{d} must be refused while sealed"));
            assert_eq!(refused.destination(), d);
            assert_eq!(refused.reason(), *reason, "{d}");
            assert_eq!(refused.refusal().purpose, "map tiles");
            let text = refused.to_string();
            assert!(text.starts_with("map tiles to "), "{text}");
            assert!(text.contains("the network seal is engaged"), "{text}");
        }
        assert_eq!(gate.refused_count(), remote.len() as u64);
    }

    #[test]
    fn every_refusal_reaches_the_sink_and_clones_share_the_count() {
        let gate = Gate::new(true);
        let seen: Arc<Mutex<Vec<Refusal>>> = Arc::default();
        let sink_seen = Arc::clone(&seen);
        gate.on_refusal(Box::new(move |r| {
            sink_seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(r.clone());
        }));
        let clone = gate.clone();
        let _ = clone.check_for("telemetry forward", &sock("192.0.2.1:14550"));
        let _ = gate.check(&host("sitl.example", 5760));
        assert!(gate.check(&sock("127.0.0.1:14550")).is_ok());
        assert_eq!(gate.refused_count(), 2);
        assert_eq!(clone.refused_count(), 2);
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(seen.len(), 2, "allowed destinations are not reported");
        assert_eq!(seen[0].purpose, "telemetry forward");
        assert_eq!(seen[0].destination, sock("192.0.2.1:14550"));
        assert_eq!(seen[0].reason, RefusalReason::Sealed);
        assert_eq!(seen[1].purpose, "network access");
        assert_eq!(seen[1].reason, RefusalReason::HostName);
    }

    #[test]
    fn a_new_sink_replaces_the_old_one() {
        let gate = Gate::new(true);
        let first: Arc<AtomicU64> = Arc::default();
        let second: Arc<AtomicU64> = Arc::default();
        let f = Arc::clone(&first);
        gate.on_refusal(Box::new(move |_| {
            f.fetch_add(1, Ordering::Relaxed);
        }));
        let _ = gate.check(&sock("192.0.2.1:1"));
        let s = Arc::clone(&second);
        gate.on_refusal(Box::new(move |_| {
            s.fetch_add(1, Ordering::Relaxed);
        }));
        let _ = gate.check(&sock("192.0.2.1:1"));
        assert_eq!(first.load(Ordering::Relaxed), 1);
        assert_eq!(second.load(Ordering::Relaxed), 1);
        assert_eq!(gate.refused_count(), 2);
    }

    #[test]
    fn a_sink_may_ask_the_gate_again() {
        // The sink runs without the gate's lock held, so this cannot deadlock.
        let gate = Gate::new(true);
        let inner = gate.clone();
        gate.on_refusal(Box::new(move |r| {
            if r.purpose == "outer" {
                let _ = inner.check_for("inner", &sock("192.0.2.1:1"));
            }
        }));
        let _ = gate.check_for("outer", &sock("192.0.2.1:1"));
        assert_eq!(gate.refused_count(), 2);
    }

    #[test]
    fn url_hosts_are_read_without_a_lookup() {
        assert_eq!(url_host("http://a.example:80/x"), Some("a.example"));
        assert_eq!(url_host("https://u:p@b.example/"), Some("b.example"));
        assert_eq!(url_host("http://[::1]:8/"), Some("::1"));
        assert_eq!(url_host("http://c.example?q=1"), Some("c.example"));
        assert_eq!(url_host("http://d.example#f"), Some("d.example"));
        assert_eq!(url_host("no-scheme"), None);
        assert_eq!(url_host("http://"), None);
        assert_eq!(url_host("http://:80/"), None);
    }

    #[test]
    fn destinations_say_what_they_are() {
        assert_eq!(sock("192.0.2.1:14550").to_string(), "192.0.2.1:14550");
        assert_eq!(host("sitl.example", 5760).to_string(), "sitl.example:5760");
        assert_eq!(host("2001:db8::1", 5760).to_string(), "[2001:db8::1]:5760");
        assert_eq!(
            Destination::Serial("/dev/ttyUSB0".into()).to_string(),
            "serial device /dev/ttyUSB0"
        );
        assert_eq!(
            format!("{:?}", Gate::new(true)),
            "Gate { state: Sealed, refused: 0, .. }"
        );
        assert_eq!(GateState::Sealed.to_string(), "SEALED");
    }
}
