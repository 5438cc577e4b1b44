//! Links to vehicles: parse an address once into a typed [`Address`], open it as a
//! [`Link`], and exchange MAVLink frames with statistics.
//!
//! Each link is one task that owns its transport (UDP, TCP, serial, pty or a log
//! replay) and talks to the rest of the program through channels: [`Link::recv`] for
//! [`LinkEvent`]s, [`LinkSender`] for frames out. Framing itself is sans-IO and lives
//! in [`airgap_core::frame`]. Reconnection, peer tracking, statistics and fault
//! injection are the link's; what the frames mean is not.

mod address;
mod faults;
mod link;
#[cfg(unix)]
mod pty;
mod replay;
mod serial;
mod stats;
mod stream;
mod tcp;
mod udp;

pub use address::{Address, AddressError, ReplaySpeed, DEFAULT_BAUD};
pub use faults::Faults;
pub use link::{Link, LinkError, LinkEvent, LinkOptions, LinkSender};
pub use serial::{classify, serial_ports, PortKind, SerialPortInfo};
pub use stats::{LinkStats, LinkStatsHandle};
pub use tokio_util::sync::CancellationToken;

#[cfg(not(unix))]
mod pty {
    //! Pseudo-terminals exist only on Unix.
    pub(crate) fn spawn(_io: crate::link::LinkIo) -> Result<std::path::PathBuf, crate::LinkError> {
        Err(crate::LinkError::Unsupported("a pseudo-terminal"))
    }
}
