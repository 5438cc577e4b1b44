//! One connected byte stream (a TCP connection, a serial port, a pty master), run
//! until it fails or the link stops. Reconnecting is the caller's business.

use std::time::Duration;

use airgap_core::frame::FrameParser;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::link::LinkIo;

/// A stream quiet this long has sent everything it is going to for now; a partial
/// frame candidate left in the parser is stale and must not hold back what follows it.
pub(crate) const IDLE_FLUSH: Duration = Duration::from_millis(200);
/// A write that cannot complete in this time is abandoned (the frame counts as
/// dropped): a stuck radio or client must not stall the ground station.
pub(crate) const WRITE_STALL: Duration = Duration::from_secs(1);
/// Delay between reconnection attempts.
pub(crate) const RETRY: Duration = Duration::from_secs(1);
const READ_BUFFER: usize = 4096;

/// How a session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// The stream failed or closed; the reason is for a [`LinkEvent::Down`](crate::LinkEvent::Down).
    Lost(String),
    /// The link was cancelled or dropped.
    Stopped,
}

/// Exchange frames over `stream` until it fails. `on_stall` runs when a write times out.
pub(crate) async fn run_session<S>(
    stream: S,
    io: &mut LinkIo,
    write_stall: Duration,
    mut on_stall: impl FnMut(),
) -> SessionEnd
where
    S: AsyncRead + AsyncWrite,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut parser = FrameParser::new();
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        tokio::select! {
            biased;
            () = io.cancel.cancelled() => return SessionEnd::Stopped,
            read = reader.read(&mut buf) => match read {
                Ok(0) => return SessionEnd::Lost("closed by the other end".into()),
                Ok(n) => {
                    if io.rx.stream_bytes(&mut parser, &buf[..n]).await.is_err() {
                        return SessionEnd::Stopped;
                    }
                }
                Err(e) => return SessionEnd::Lost(format!("read failed: {e}")),
            },
            raw = io.outgoing.recv() => {
                let Some(raw) = raw else { return SessionEnd::Stopped };
                for copy in io.tx.prepare(raw) {
                    let write = tokio::time::timeout(write_stall, writer.write_all(&copy));
                    tokio::select! {
                        () = io.cancel.cancelled() => return SessionEnd::Stopped,
                        written = write => match written {
                            Ok(Ok(())) => io.tx.sent(copy.len()),
                            Ok(Err(e)) => return SessionEnd::Lost(format!("write failed: {e}")),
                            Err(_) => {
                                tracing::debug!("write stalled for {write_stall:?}: frame dropped");
                                io.tx.dropped(1);
                                on_stall();
                            }
                        },
                    }
                }
            }
            () = tokio::time::sleep(IDLE_FLUSH), if parser.buffered() > 0 => {
                parser.flush();
                if io.rx.drain(&mut parser).await.is_err() {
                    return SessionEnd::Stopped;
                }
            }
        }
    }
}

/// Wait [`RETRY`] before reconnecting, dropping (and counting) whatever is queued
/// meanwhile: a command queued during an outage must not fire minutes later.
/// `Err` when the link stopped.
pub(crate) async fn wait_retry(io: &mut LinkIo) -> Result<(), crate::link::Stopped> {
    let deadline = tokio::time::Instant::now() + RETRY;
    loop {
        tokio::select! {
            biased;
            () = io.cancel.cancelled() => return Err(crate::link::Stopped),
            () = tokio::time::sleep_until(deadline) => return Ok(()),
            raw = io.outgoing.recv() => match raw {
                Some(_) => io.tx.dropped(1),
                None => return Err(crate::link::Stopped),
            },
        }
    }
}
