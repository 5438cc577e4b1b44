//! The operating-system layer of the seal (DESIGN.md, "The network seal", layer 3): engaged at
//! the top of `main` when the switch says sealed, it makes the kernel refuse every way out of
//! the machine for this process, its threads and its children, while loopback vehicle links
//! and serial ports keep working.
//!
//! Linux has it (`linux.rs`, the workspace's one module with `unsafe` code). Elsewhere
//! [`engage`] reports the layer as not available, the gate and the web-view lockdown hold,
//! and front ends say so. See ARCHITECTURE.md for the mechanism and how Windows and macOS
//! will get theirs.

use std::io;
use std::net::SocketAddr;

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod linux;
pub mod relay;

use crate::OsLayer;

/// Why a sealed start could not be sealed. A front end that gets one refuses to start
/// sealed and says this.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "{family} socket is open as descriptor {fd} (inherited, or opened before the seal); \
         an open socket would escape the seal, so a sealed start refuses (start Airgap \
         without it)"
    )]
    InheritedSocket {
        fd: i32,
        /// With its article: "an IPv4".
        family: &'static str,
    },
    #[error("the OS seal is not available here: {why}")]
    Unsupported { why: String },
    #[error("installing the OS seal failed while {step}: {source}")]
    Install {
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the OS seal was installed but does not hold: {what}")]
    SelfCheck { what: String },
}

/// One check the self-test ran against the engaged OS layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub what: &'static str,
    pub passed: bool,
    pub detail: String,
}

const MECHANISM: &str = "seccomp filter on the process tree; TCP tied to the loopback device, \
                         UDP relayed on loopback, every other socket refused";

/// Seals this process and everything it starts. Call it first thing in `main`, before the
/// program starts threads of its own, when the switch (or `--sealed`) says sealed.
///
/// `Ok` says which layer is now in force: [`OsLayer::Engaged`] on Linux,
/// [`OsLayer::NotAvailable`] where there is no OS layer yet (the gate still holds). `Err`
/// means the process must not start sealed.
pub fn engage() -> Result<OsLayer, SealError> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        linux::engage()?;
        Ok(layer())
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        Ok(layer())
    }
}

/// What a process started sealed on this system gets from the OS: `Ok(mechanism)`, or
/// `Err(why not)`.
pub fn available_here() -> Result<&'static str, &'static str> {
    match layer() {
        OsLayer::Engaged { mechanism } => Ok(mechanism),
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        OsLayer::NotAvailable { .. } => Ok(MECHANISM),
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        OsLayer::NotAvailable { why } => Err(why),
    }
}

/// The OS layer in force in this process.
pub fn layer() -> OsLayer {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        if linux::is_engaged() {
            OsLayer::Engaged {
                mechanism: MECHANISM,
            }
        } else {
            OsLayer::NotAvailable {
                why: "not engaged in this process (the switch was ONLINE at start)",
            }
        }
    }
    #[cfg(target_os = "windows")]
    {
        OsLayer::NotAvailable {
            why: "not available on Windows yet: the egress gate and the web-view lockdown hold",
        }
    }
    #[cfg(target_os = "macos")]
    {
        OsLayer::NotAvailable {
            why: "not available on macOS yet: the egress gate and the web-view lockdown hold",
        }
    }
    #[cfg(not(any(
        all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ),
        target_os = "windows",
        target_os = "macos"
    )))]
    {
        OsLayer::NotAvailable {
            why: "not available on this system yet: the egress gate and the web-view lockdown hold",
        }
    }
}

/// The OS layer's own checks, run now in this process (empty when it is not engaged).
pub fn probes() -> Vec<Probe> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    if linux::is_engaged() {
        return linux::probes();
    }
    Vec::new()
}

/// Sockets the OS layer refused in this process tree since it was engaged, if engaged.
pub fn refused_count() -> Option<u64> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    if linux::is_engaged() {
        return linux::refused_count().ok();
    }
    None
}

/// While the OS seal is engaged a process holds no UDP socket: UDP transports call this
/// instead of binding one. `None` means not engaged (bind a socket as usual); otherwise the
/// supervisor's loopback socket bound to `bind`, relayed over the returned Unix socket in
/// [`relay`] frames, and the address it got.
#[cfg(unix)]
pub fn udp_relay(
    bind: SocketAddr,
) -> Option<io::Result<(std::os::unix::net::UnixDatagram, SocketAddr)>> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    if linux::is_engaged() {
        return Some(linux::udp_relay(bind));
    }
    let _ = bind;
    None
}

/// What [`probe_reach`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// `Ok` when a TCP connection to the address was established.
    pub tcp: Result<(), String>,
    /// `Ok` when a UDP datagram to the address left the socket (it may still be lost).
    pub udp: Result<(), String>,
    /// Other ways out, tried the way a careless or hostile library would (Linux): a raw IP
    /// datagram, a packet socket, a netlink socket, io_uring, a TCP socket moved off the
    /// loopback device. `Ok` when the attempt got something out or got the capability.
    pub others: Vec<(&'static str, Result<(), String>)>,
}

impl Reach {
    /// True when no attempt got anything out.
    pub fn blocked(&self) -> bool {
        self.tcp.is_err() && self.udp.is_err() && self.others.iter().all(|(_, r)| r.is_err())
    }
}

/// Tries to reach `addr` directly, past the gate, with TCP and with UDP: the seal's self-test
/// uses it (in this process and in a child) to show the OS layer stops what the gate would
/// not see. Sends one 9-byte datagram ("airgap-probe") and opens and closes one connection.
#[allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the probe must try a real socket past the gate: that is what it tests"
)]
pub fn probe_reach(addr: SocketAddr, timeout: std::time::Duration) -> Reach {
    let tcp = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map(drop)
        .map_err(|e| e.to_string());
    let unspecified: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let udp = std::net::UdpSocket::bind(unspecified)
        .and_then(|s| s.send_to(b"airgap-probe", addr))
        .map(drop)
        .map_err(|e| e.to_string());
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    let others = linux::escape_attempts(addr, timeout);
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    let others = Vec::new();
    Reach { tcp, udp, others }
}
