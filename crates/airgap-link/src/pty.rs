//! Pseudo-terminals: the link serves on the master side of a fresh pty, and a client
//! opens the slave path as if it were a serial port (like a simulator's `--pty`).
//! The slave stays open in the link so the pty survives clients coming and going
//! (with no slave open, reading the master fails with EIO).
//!
//! The pty comes from `tokio_serial::SerialStream::pair` (openpty, raw mode, both
//! ends registered with the reactor), which keeps this crate free of `unsafe`.

use std::path::PathBuf;
use std::time::Duration;

use tokio_serial::{ClearBuffer, SerialPort, SerialStream};

use crate::link::{LinkError, LinkEvent, LinkIo};
use crate::stream::{run_session, SessionEnd};

/// With no client reading, writes to the master block once the slave's input queue
/// fills; give up quickly then and empty the queue so a new client starts fresh.
const PTY_WRITE_STALL: Duration = Duration::from_millis(100);

pub(crate) fn spawn(mut io: LinkIo) -> Result<PathBuf, LinkError> {
    let (master, slave) = SerialStream::pair().map_err(|e| LinkError::Pty(e.to_string()))?;
    let path = slave
        .name()
        .map(PathBuf::from)
        .ok_or_else(|| LinkError::Pty("the new pty has no slave path".into()))?;
    let peer = path.display().to_string();
    tokio::spawn(async move {
        let reason = match io.rx.emit(LinkEvent::Up { peer }).await {
            Err(_) => "cancelled".to_string(),
            Ok(()) => {
                let on_stall = || {
                    if let Err(e) = slave.clear(ClearBuffer::Input) {
                        tracing::debug!("emptying the pty queue failed: {e}");
                    }
                };
                match run_session(master, &mut io, PTY_WRITE_STALL, on_stall).await {
                    SessionEnd::Stopped => "cancelled".to_string(),
                    SessionEnd::Lost(reason) => format!("pty: {reason}"),
                }
            }
        };
        io.finish(reason).await;
    });
    Ok(path)
}
