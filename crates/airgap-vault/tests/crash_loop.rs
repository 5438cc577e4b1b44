//! kill -9 while recording, at least 50 times: every chunk the recorder reported flushed
//! reads back intact, and the vault reopens every time.
//!
//! The test re-executes its own binary as the recorder (`recorder_child`, selected by an
//! environment variable; without it that test does nothing) and SIGKILLs it
//! (`Child::kill` sends SIGKILL on Unix) at a random moment.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use airgap_core::dialect::{MavAutopilot, MavModeFlag, MavState, MavType, HEARTBEAT_DATA};
use airgap_core::frame::Frame;
use airgap_core::MavMessage;
use airgap_vault::{FlightId, RecorderConfig, Vault, VaultError};
use common::*;
use rand::Rng;

const CHILD_ENV: &str = "AIRGAP_VAULT_CRASH_CHILD_DIR";
const ROUNDS: usize = 50;
const FRAME_SPACING_US: u64 = 10_000;
const BASE_US: u64 = 1_700_000_000_000_000;

/// Frame number `n` of any flight: deterministic, so the parent can rebuild what a chunk
/// must hold from the frame numbers the child reports.
fn frame(n: u64) -> (u64, Vec<u8>) {
    let raw = Frame::encode_v2(
        1,
        1,
        n as u8,
        &MavMessage::HEARTBEAT(HEARTBEAT_DATA {
            custom_mode: n as u32,
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
            system_status: MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        }),
    )
    .raw;
    (BASE_US + n * FRAME_SPACING_US, raw)
}

fn expected_chunk(first: u64, count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for n in first..first + count {
        let (t, raw) = frame(n);
        airgap_core::tlog::write_record(&mut out, t, &raw).unwrap();
    }
    out
}

fn open_retrying(dir: &Path) -> Vault {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Vault::open(dir) {
            Ok(v) => return v,
            // The previous holder is a process that was just killed or a handle just
            // dropped; the OS releases its lock at once, sled's flusher thread soon after.
            Err(VaultError::InUse { .. } | VaultError::Io(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("reopening after a crash: {e}"),
        }
    }
}

/// The recorder, run only as the child of `crash_loop_keeps_every_flushed_chunk`.
#[test]
fn recorder_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    // Opened locked, as the app records before the pilot unlocks.
    let vault = open_retrying(Path::new(&dir));
    let mut rec = vault
        .start_flight(RecorderConfig {
            chunk_period: Duration::from_millis(100),
        })
        .unwrap();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "flight {}", rec.id()).unwrap();
    stdout.flush().unwrap();
    let mut first_in_chunk = 0u64;
    for n in 0u64.. {
        let (t, raw) = frame(n);
        if let Some(written) = rec.push(t, &raw).unwrap() {
            let count = n + 1 - first_in_chunk;
            assert_eq!(written.frames, count);
            writeln!(
                stdout,
                "chunk {} {} {first_in_chunk} {count}",
                written.flight, written.index
            )
            .unwrap();
            stdout.flush().unwrap();
            first_in_chunk = n + 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[derive(Debug)]
struct Reported {
    flight: FlightId,
    index: u32,
    first: u64,
    count: u64,
}

fn parse(line: &str) -> Option<Reported> {
    let mut parts = line.strip_prefix("chunk ")?.split(' ');
    Some(Reported {
        flight: parts.next()?.parse().ok()?,
        index: parts.next()?.parse().ok()?,
        first: parts.next()?.parse().ok()?,
        count: parts.next()?.parse().ok()?,
    })
}

#[test]
fn crash_loop_keeps_every_flushed_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    drop(Vault::create(dir.path(), &pass("p"), fast()).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let started = Instant::now();
    let mut kills = 0;
    let mut checked_chunks = 0usize;
    let mut flights_seen = Vec::new();
    for round in 0..ROUNDS {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "crash loop over its time budget at round {round}"
        );
        let stderr_path = logs.path().join(format!("child-{round}.stderr"));
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "recorder_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        // Wait until the child is recording, then let it run a random while.
        let ready_by = Instant::now() + Duration::from_secs(10);
        loop {
            let line = rx
                .recv_timeout(ready_by.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    let _ = child.kill();
                    panic!(
                        "round {round}: the recorder child did not start within 10 s; its stderr:\n{}",
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    )
                });
            // The harness's "test recorder_child ... " has no newline, so the first line of
            // ours may follow it.
            let ready = line.contains("flight ");
            lines.push(line);
            if ready {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        let reported: Vec<Reported> = lines.iter().filter_map(|l| parse(l)).collect();
        let flight: FlightId = lines
            .iter()
            .find_map(|l| l.split_once("flight ").map(|(_, id)| id))
            .and_then(|id| id.parse().ok())
            .expect("child printed its flight id");
        flights_seen.push(flight);

        let vault = open_retrying(dir.path());
        vault.unlock(&pass("p")).unwrap();
        for r in &reported {
            assert_eq!(r.flight, flight);
            let chunk = vault.flight_chunk(r.flight, r.index).unwrap_or_else(|e| {
                panic!("round {round}: chunk {} reported flushed but: {e}", r.index)
            });
            assert_eq!(
                chunk,
                expected_chunk(r.first, r.count),
                "round {round} chunk {}",
                r.index
            );
            checked_chunks += 1;
        }
        let summary = vault.flight(flight).unwrap();
        assert!(!summary.complete);
        assert!(
            summary.chunks as usize >= reported.len(),
            "metadata lags the chunks: {summary:?}"
        );
        let mut tlog = Vec::new();
        let export = vault.export_flight_tlog(flight, &mut tlog).unwrap();
        assert!(
            export.damaged.is_empty() && export.missing_chunks.is_empty(),
            "{export:?}"
        );
        let listing = vault.flights().unwrap();
        assert!(listing.damaged.is_empty(), "{:?}", listing.damaged);
        assert_eq!(listing.items.len(), round + 1);
        vault.verify_audit().unwrap();
    }
    assert!(kills >= 50);
    assert!(
        checked_chunks >= 100,
        "only {checked_chunks} chunks were flushed before the kills"
    );
    eprintln!(
        "{kills} kills, {checked_chunks} chunks checked, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
