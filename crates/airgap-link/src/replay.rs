//! Replay of a `.tlog`: frames come out paced by their recorded timestamps (scaled by
//! the speed factor) or as fast as the consumer takes them; frames sent to a replay
//! are counted and discarded.

use std::path::PathBuf;
use std::time::Duration;

use airgap_core::tlog::{TlogError, TlogReader, TlogRecord};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::address::ReplaySpeed;
use crate::link::{LinkError, LinkEvent, LinkIo, Stopped};
use crate::stats::Counters;

/// Records read ahead of the pacing.
const READ_AHEAD: usize = 256;

pub(crate) fn spawn(path: PathBuf, speed: ReplaySpeed, mut io: LinkIo) -> Result<(), LinkError> {
    let file = std::fs::File::open(&path).map_err(|source| LinkError::ReplayOpen {
        path: path.clone(),
        source,
    })?;
    let (records_tx, records) = mpsc::channel(READ_AHEAD);
    // File reads block: a blocking-pool thread feeds the pacing task, and stops as
    // soon as that task is gone.
    tokio::task::spawn_blocking(move || {
        for item in TlogReader::new(file) {
            if records_tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let reason = match run(&path, speed, records, &mut io).await {
            Ok(reason) => reason,
            Err(Stopped) => "cancelled".into(),
        };
        io.finish(reason).await;
    });
    Ok(())
}

async fn run(
    path: &std::path::Path,
    speed: ReplaySpeed,
    mut records: mpsc::Receiver<Result<TlogRecord, TlogError>>,
    io: &mut LinkIo,
) -> Result<String, Stopped> {
    io.rx
        .emit(LinkEvent::Up {
            peer: path.display().to_string(),
        })
        .await?;
    let started = Instant::now();
    let mut first_time_us = None;
    let mut frames = 0u64;
    loop {
        tokio::select! {
            biased;
            () = io.cancel.cancelled() => return Err(Stopped),
            raw = io.outgoing.recv() => match raw {
                Some(raw) => io.tx.sent(raw.len()),
                None => return Err(Stopped),
            },
            item = records.recv() => match item {
                None => return Ok(format!("end of log {}: {frames} frames", path.display())),
                Some(Ok(record)) => {
                    if let ReplaySpeed::Factor(factor) = speed {
                        let first = *first_time_us.get_or_insert(record.time_us);
                        let offset_s = record.time_us.saturating_sub(first) as f64 / 1e6 / factor;
                        wait_until(io, offset_after(started, offset_s)).await?;
                    }
                    frames += 1;
                    Counters::add(&io.rx.counters().rx_bytes, record.frame.raw.len() as u64);
                    io.rx.frame(record.frame, record.time_us).await?;
                }
                Some(Err(TlogError::Io(e))) => {
                    return Ok(format!("reading {} failed: {e}", path.display()));
                }
                Some(Err(e)) => {
                    tracing::debug!("replay {}: {e}", path.display());
                    let counters = io.rx.counters();
                    match e {
                        TlogError::UnknownMessage { .. } => Counters::add(&counters.unknown_msgs, 1),
                        TlogError::Malformed { .. } => Counters::add(&counters.malformed, 1),
                        _ => Counters::add(&counters.bad_records, 1),
                    }
                }
            },
        }
    }
}

/// `None` when the offset is beyond any representable instant: wait forever.
fn offset_after(start: Instant, offset_s: f64) -> Option<Instant> {
    Duration::try_from_secs_f64(offset_s)
        .ok()
        .and_then(|d| start.checked_add(d))
}

/// Sleep until `deadline`, discarding (and counting) frames sent meanwhile.
async fn wait_until(io: &mut LinkIo, deadline: Option<Instant>) -> Result<(), Stopped> {
    loop {
        let sleep = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = io.cancel.cancelled() => return Err(Stopped),
            () = sleep => return Ok(()),
            raw = io.outgoing.recv() => match raw {
                Some(raw) => io.tx.sent(raw.len()),
                None => return Err(Stopped),
            },
        }
    }
}
