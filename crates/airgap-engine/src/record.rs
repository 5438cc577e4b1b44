//! Recording every link session into the vault. Each recorded link has a writer thread that
//! owns its `FlightRecorder`: sealing a chunk and flushing sled take milliseconds, which the
//! actor (and the operations it drives) must not wait for. Frames reach the thread over a
//! bounded queue; if the disk cannot keep up, frames are dropped and counted, never the
//! link.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use airgap_vault::{FlightId, FlightRecorder, RecorderConfig, Vault};
use tokio::sync::broadcast;

use crate::{EngineEvent, LinkId};

/// Frames waiting for the writer thread: about ten seconds of a busy 57600-baud radio.
const QUEUE_FRAMES: usize = 8192;
/// How often a quiet link's pending frames are checked for being due on disk.
const FLUSH_CHECK: Duration = Duration::from_millis(250);

/// Where the engine records flights.
#[derive(Clone)]
pub struct RecordTo {
    pub vault: Arc<Vault>,
    /// A chunk is sealed and made durable after this long: what a crash can lose.
    pub chunk_period: Duration,
}

impl RecordTo {
    pub fn new(vault: Arc<Vault>) -> RecordTo {
        RecordTo {
            vault,
            chunk_period: RecorderConfig::default().chunk_period,
        }
    }
}

/// Writes every refusal of `gate` to the vault's audit trail (which takes entries while
/// locked, sealed to its public key).
pub fn audit_refusals(gate: &airgap_egress::Gate, vault: Arc<Vault>) {
    gate.on_refusal(Box::new(move |refusal| {
        let event = airgap_vault::AuditEvent::Other {
            kind: "egress_refused".to_owned(),
            detail: refusal.to_string(),
        };
        if let Err(error) = vault.audit(event) {
            tracing::error!(%error, "cannot audit a refused egress");
        }
    }));
}

impl std::fmt::Debug for RecordTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordTo")
            .field("vault", &self.vault.status().path)
            .field("chunk_period", &self.chunk_period)
            .finish()
    }
}

enum Msg {
    Frame { time_us: u64, raw: Vec<u8> },
    Vehicle(u8),
    Armed,
    Finish,
}

/// One link's flight being recorded.
pub(crate) struct Recording {
    pub(crate) flight: FlightId,
    queue: SyncSender<Msg>,
    writer: Option<JoinHandle<()>>,
    /// Frames the writer could not take in time.
    pub(crate) dropped: u64,
}

impl Recording {
    pub(crate) fn start(
        to: &RecordTo,
        link: LinkId,
        events: broadcast::Sender<EngineEvent>,
    ) -> Result<Recording, airgap_vault::VaultError> {
        let recorder = to.vault.start_flight(RecorderConfig {
            chunk_period: to.chunk_period,
        })?;
        let flight = recorder.id();
        let (queue, rx) = sync_channel(QUEUE_FRAMES);
        let writer = std::thread::Builder::new()
            .name(format!("airgap-record-{}", link.0))
            .spawn(move || write_flight(recorder, rx, link, events))?;
        Ok(Recording {
            flight,
            queue,
            writer: Some(writer),
            dropped: 0,
        })
    }

    pub(crate) fn frame(&mut self, time_us: u64, raw: &[u8]) {
        let msg = Msg::Frame {
            time_us,
            raw: raw.to_vec(),
        };
        match self.queue.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = self.dropped,
                        "recording cannot keep up; frames dropped"
                    );
                }
            }
            // The writer stopped after an error it has reported.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    pub(crate) fn vehicle(&self, sysid: u8) {
        // Notes are small and rare; a full queue only delays them behind frames.
        let _ = self.queue.try_send(Msg::Vehicle(sysid));
    }

    pub(crate) fn armed(&self) {
        let _ = self.queue.try_send(Msg::Armed);
    }

    /// Asks the writer to write what is pending and close the flight; join the returned
    /// thread to know it is on disk.
    pub(crate) fn finish(mut self) -> Option<JoinHandle<()>> {
        // Blocking send: the last message must not be dropped by a full queue, and the
        // writer drains it quickly.
        let _ = self.queue.send(Msg::Finish);
        self.writer.take()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        // Not finished explicitly (the engine is going away): let the writer close the
        // flight on its own; the queue disconnecting tells it to.
        if self.writer.is_some() {
            let _ = self.queue.try_send(Msg::Finish);
        }
    }
}

fn write_flight(
    mut recorder: FlightRecorder,
    rx: Receiver<Msg>,
    link: LinkId,
    events: broadcast::Sender<EngineEvent>,
) {
    let flight = recorder.id();
    let fail = |error: airgap_vault::VaultError| {
        tracing::error!(link = link.0, %error, "recording failed");
        let _ = events.send(EngineEvent::RecordingFailed {
            link,
            error: error.to_string(),
        });
    };
    loop {
        let written = match rx.recv_timeout(FLUSH_CHECK) {
            Ok(Msg::Frame { time_us, raw }) => recorder.push(time_us, &raw),
            Ok(Msg::Vehicle(sysid)) => {
                recorder.note_vehicle(sysid);
                Ok(None)
            }
            Ok(Msg::Armed) => {
                recorder.note_armed();
                Ok(None)
            }
            Err(RecvTimeoutError::Timeout) => recorder.flush_if_due(),
            Ok(Msg::Finish) | Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Err(error) = written {
            // The disk or the vault is failing: stop rather than fill the log with errors.
            // What was written before stays readable.
            fail(error);
            return;
        }
    }
    match recorder.finish() {
        Ok(summary) => {
            let _ = events.send(EngineEvent::RecordingStopped {
                link,
                flight,
                frames: summary.frames,
                bytes: summary.bytes,
            });
        }
        Err(error) => fail(error),
    }
}
