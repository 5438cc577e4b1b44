//! UDP transports. `udpin` listens and answers every peer heard recently (several
//! SITL instances can share one port); `udpout` sends to one address and takes the
//! replies.
//!
//! Under the OS seal the process may hold no UDP socket: the seal's supervisor binds it on
//! loopback and relays its datagrams ([`airgap_egress::os::udp_relay`]); [`Socket`] hides
//! which of the two a link has.

#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the UDP transport makes vehicle links' sockets; the engine asks the egress gate first"
)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use airgap_egress::os::relay;
use tokio::net::UdpSocket;
#[cfg(unix)]
use tokio::net::UnixDatagram;
use tokio::time::Instant;

use crate::link::{LinkError, LinkEvent, LinkIo, Stopped};

/// A `udpin` peer silent for this long no longer gets our frames.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest datagram we accept (UDP's own limit).
const MAX_DATAGRAM: usize = 65_536;
/// Pause after a receive error, so a persistent one does not spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(100);

pub(crate) async fn spawn_in(addr: SocketAddr, io: LinkIo) -> Result<SocketAddr, LinkError> {
    spawn(addr, None, io).await
}

pub(crate) async fn spawn_out(remote: SocketAddr, io: LinkIo) -> Result<SocketAddr, LinkError> {
    // A socket bound to loopback cannot reach any other network: the seal relies on it.
    let ip = match (remote.ip().is_loopback(), remote.ip()) {
        (true, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (true, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (false, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (false, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    spawn(SocketAddr::new(ip, 0), Some(remote), io).await
}

async fn spawn(
    bind: SocketAddr,
    remote: Option<SocketAddr>,
    mut io: LinkIo,
) -> Result<SocketAddr, LinkError> {
    let bind_error = |source| LinkError::Bind { addr: bind, source };
    let (socket, local) = Socket::bind(bind).await.map_err(bind_error)?;
    tokio::spawn(async move {
        let reason = match run(&socket, remote, &mut io).await {
            Ok(never) => match never {},
            Err(Stopped) => "cancelled".to_string(),
        };
        io.finish(reason).await;
    });
    Ok(local)
}

/// "Nobody is listening there (yet)": an ICMP port-unreachable surfacing on a UDP
/// socket (Linux on connected sockets, Windows on any). Not a link failure.
fn is_refused(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

enum Never {}

/// A UDP socket of our own, or one the OS seal's supervisor holds for us.
enum Socket {
    Own(UdpSocket),
    #[cfg(unix)]
    Relayed(UnixDatagram),
}

impl Socket {
    async fn bind(bind: SocketAddr) -> io::Result<(Socket, SocketAddr)> {
        #[cfg(unix)]
        if let Some(relayed) = airgap_egress::os::udp_relay(bind) {
            let (unix, local) = relayed?;
            unix.set_nonblocking(true)?;
            return Ok((Socket::Relayed(UnixDatagram::from_std(unix)?), local));
        }
        let socket = UdpSocket::bind(bind).await?;
        let local = socket.local_addr()?;
        Ok((Socket::Own(socket), local))
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match self {
            Socket::Own(s) => s.recv_from(buf).await,
            #[cfg(unix)]
            Socket::Relayed(s) => loop {
                let n = s.recv(buf).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the seal's UDP relay has closed",
                    ));
                }
                // A frame that does not parse is the relay's bug, not a datagram: skip it.
                if let Some((from, payload)) = relay::decode(&buf[..n]) {
                    let len = payload.len();
                    buf.copy_within(relay::HEADER_LEN..n, 0);
                    return Ok((len, from));
                }
            },
        }
    }

    async fn send_to(&self, payload: &[u8], to: SocketAddr) -> io::Result<usize> {
        match self {
            Socket::Own(s) => s.send_to(payload, to).await,
            #[cfg(unix)]
            Socket::Relayed(s) => {
                s.send(&relay::encode(to, payload)).await?;
                Ok(payload.len())
            }
        }
    }
}

async fn run(
    socket: &Socket,
    remote: Option<SocketAddr>,
    io: &mut LinkIo,
) -> Result<Never, Stopped> {
    // udpin: peers by when we last heard them. udpout: unused.
    let mut peers: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut refused_logged = false;
    let mut send_error_logged = false;
    // After a receive error we said Down; the next datagram brings the link Up again.
    let mut down = false;
    // Room for a relayed datagram's header too.
    let mut buf = vec![0u8; MAX_DATAGRAM + relay::HEADER_LEN];
    let mut expiry = tokio::time::interval(Duration::from_secs(1));
    if let Some(remote) = remote {
        io.rx
            .emit(LinkEvent::Up {
                peer: remote.to_string(),
            })
            .await?;
    }
    loop {
        tokio::select! {
            biased;
            () = io.cancel.cancelled() => return Err(Stopped),
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => {
                    let new_peer = remote.is_none() && peers.insert(from, Instant::now()).is_none();
                    if new_peer || down {
                        down = false;
                        io.rx.emit(LinkEvent::Up { peer: from.to_string() }).await?;
                    }
                    io.rx.datagram(&buf[..n]).await?;
                }
                Err(e) if is_refused(&e) => {
                    if !refused_logged {
                        tracing::info!("nobody listening at {remote:?} yet ({e}); still sending");
                        refused_logged = true;
                    }
                }
                Err(e) => {
                    down = true;
                    io.rx.emit(LinkEvent::Down { reason: format!("receive failed: {e}") }).await?;
                    tokio::select! {
                        () = io.cancel.cancelled() => return Err(Stopped),
                        () = tokio::time::sleep(ERROR_BACKOFF) => {}
                    }
                }
            },
            raw = io.outgoing.recv() => {
                let Some(raw) = raw else { return Err(Stopped) };
                let now = Instant::now();
                let destinations: Vec<SocketAddr> = match remote {
                    Some(remote) => vec![remote],
                    None => peers
                        .iter()
                        .filter(|(_, heard)| now.duration_since(**heard) < PEER_TIMEOUT)
                        .map(|(peer, _)| *peer)
                        .collect(),
                };
                for copy in io.tx.prepare(raw) {
                    if destinations.is_empty() {
                        io.tx.dropped(1);
                    }
                    for dest in &destinations {
                        match socket.send_to(&copy, *dest).await {
                            Ok(_) => io.tx.sent(copy.len()),
                            Err(e) => {
                                io.tx.dropped(1);
                                if !is_refused(&e) && !send_error_logged {
                                    tracing::warn!("sending to {dest} failed: {e}");
                                    send_error_logged = true;
                                }
                            }
                        }
                    }
                }
            }
            now = expiry.tick(), if !peers.is_empty() => {
                let silent: Vec<SocketAddr> = peers
                    .iter()
                    .filter(|(_, heard)| now.duration_since(**heard) >= PEER_TIMEOUT)
                    .map(|(peer, _)| *peer)
                    .collect();
                for peer in silent {
                    peers.remove(&peer);
                    let reason = format!("{peer} silent for {} s", PEER_TIMEOUT.as_secs());
                    io.rx.emit(LinkEvent::Down { reason }).await?;
                }
            }
        }
    }
}
