//! The engine records every link session into the vault: frames as received, the vehicle
//! and its arming in the flight's metadata, on disk within a chunk period, and still while
//! the vault is locked.

use std::sync::Arc;
use std::time::Duration;

use airgap_core::tlog::for_each_frame;
use airgap_engine::airgap_vault::{KdfParams, SecretString, Vault, VaultConfig};
use airgap_engine::{EngineConfig, EngineEvent, EngineHandle, RecordTo};
use airgap_link::{Address, LinkOptions};
use airgap_sim::{Sim, SimConfig};
use airgap_tests::{vehicle, wait_for, within};
use tokio_util::sync::CancellationToken;

fn passphrase() -> SecretString {
    SecretString::from("correct horse battery staple".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_session_is_recorded_even_while_the_vault_is_locked() -> anyhow::Result<()> {
    within(Duration::from_secs(90), async {
        let dir = tempfile::tempdir()?;
        let vault = Arc::new(Vault::create(
            dir.path(),
            &passphrase(),
            VaultConfig {
                kdf: KdfParams::INSECURE_FAST,
            },
        )?);
        let cancel = CancellationToken::new();
        let sim_config = SimConfig {
            autofly: true,
            gps_fix_after_s: 0.0,
            ..SimConfig::default()
        };
        let listen: Address = "udpin:127.0.0.1:0".parse()?;
        let sim = Sim::start(&listen, sim_config, cancel.clone()).await?;
        let port = sim.local_addr().expect("bound").port();
        let engine = EngineHandle::start(
            EngineConfig {
                record_to: Some(RecordTo {
                    vault: Arc::clone(&vault),
                    chunk_period: Duration::from_millis(250),
                }),
                ..EngineConfig::default()
            },
            cancel.clone(),
        );
        let mut events = engine.subscribe();
        engine
            .connect(
                format!("udpout:127.0.0.1:{port}").parse()?,
                LinkOptions::default(),
            )
            .await?;
        // Recording while unlocked, until the vehicle has armed by itself (autofly)...
        wait_for(&engine, Duration::from_secs(20), "the vehicle armed", |t| {
            (vehicle(t, 1)?.state.armed == Some(true)).then_some(())
        })
        .await?;
        // ...then locked: the recording goes on without any secret.
        vault.lock()?;
        assert!(vault.held_key_material().secrets.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (t, _) = engine.telemetry(None).await?;
        let received = t.links[0].stats.rx_frames;
        let flight = t.links[0].flight.expect("the link is being recorded");
        engine.shutdown_gracefully(Duration::from_secs(2)).await;
        sim.stop().await;

        let mut stopped = None;
        while let Ok(event) = events.try_recv() {
            if let EngineEvent::RecordingStopped {
                flight: f, frames, ..
            } = event
            {
                stopped = Some((f, frames));
            }
        }
        let (stopped_flight, frames) = stopped.expect("a RecordingStopped event");
        assert_eq!(stopped_flight, flight);
        // Every frame received up to the snapshot was recorded (a few more came after it).
        assert!(frames >= received, "{frames} recorded, {received} received");

        // Locked, nothing can be read; unlocked, all of it.
        assert!(vault.flights().is_err());
        vault.unlock(&passphrase())?;
        let listing = vault.flights()?;
        assert!(listing.damaged.is_empty(), "{:?}", listing.damaged);
        let summary = listing
            .items
            .iter()
            .find(|f| f.id == flight)
            .expect("the flight is listed");
        assert_eq!(summary.sysids, vec![1]);
        assert!(summary.armed_ever);
        assert!(summary.complete);
        assert_eq!(summary.frames, frames);
        let mut tlog = Vec::new();
        let report = vault.export_flight_tlog(flight, &mut tlog)?;
        assert!(report.damaged.is_empty() && report.missing_chunks.is_empty());
        let mut heartbeats = 0;
        let mut total = 0u64;
        let stats = for_each_frame(&tlog, |_, frame| {
            total += 1;
            if frame.sysid() == 1 && frame.msg_id() == 0 {
                heartbeats += 1;
            }
        });
        assert_eq!(stats.bad_records, 0);
        assert_eq!(total, frames);
        assert!(heartbeats >= 2, "{heartbeats} heartbeats");
        Ok(())
    })
    .await
}

/// A vault created mid-session records the links already open from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_can_start_on_a_link_already_open() -> anyhow::Result<()> {
    within(Duration::from_secs(60), async {
        let dir = tempfile::tempdir()?;
        let cancel = CancellationToken::new();
        let listen: Address = "udpin:127.0.0.1:0".parse()?;
        let sim = Sim::start(&listen, SimConfig::default(), cancel.clone()).await?;
        let port = sim.local_addr().expect("bound").port();
        let engine = EngineHandle::start(EngineConfig::default(), cancel.clone());
        engine
            .connect(
                format!("udpout:127.0.0.1:{port}").parse()?,
                LinkOptions::default(),
            )
            .await?;
        wait_for(&engine, Duration::from_secs(10), "the vehicle", |t| {
            vehicle(t, 1).map(|_| ())
        })
        .await?;
        let (t, _) = engine.telemetry(None).await?;
        assert_eq!(t.links[0].flight, None, "nothing to record into yet");

        let vault = Arc::new(Vault::create(
            dir.path(),
            &passphrase(),
            VaultConfig {
                kdf: KdfParams::INSECURE_FAST,
            },
        )?);
        engine
            .set_record_to(Some(RecordTo::new(Arc::clone(&vault))))
            .await?;
        let (t, _) = engine.telemetry(None).await?;
        let flight = t.links[0].flight.expect("the open link is recorded now");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        engine.shutdown_gracefully(Duration::from_secs(2)).await;
        sim.stop().await;
        let summary = vault.flight(flight)?;
        assert!(summary.frames > 0 && summary.complete, "{summary:?}");
        assert_eq!(summary.sysids, vec![1]);
        Ok(())
    })
    .await
}

/// While sealed, a refused egress is counted and lands in the audit trail, even with the
/// vault locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_egress_is_written_to_the_audit_trail() -> anyhow::Result<()> {
    within(Duration::from_secs(30), async {
        let dir = tempfile::tempdir()?;
        let vault = Arc::new(Vault::create(
            dir.path(),
            &passphrase(),
            VaultConfig {
                kdf: KdfParams::INSECURE_FAST,
            },
        )?);
        vault.lock()?;
        let gate = airgap_engine::airgap_egress::Gate::new(true);
        airgap_engine::audit_refusals(&gate, Arc::clone(&vault));
        let engine = EngineHandle::start(
            EngineConfig {
                gate: gate.clone(),
                ..EngineConfig::default()
            },
            CancellationToken::new(),
        );
        // TEST-NET-1: the gate refuses before any socket exists, so nothing is ever sent.
        let refused = engine.add_forward("udpout:192.0.2.1:14550".parse()?).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(gate.refused_count(), 1);
        engine.shutdown();
        vault.unlock(&passphrase())?;
        let entries = vault.audit_entries()?.items;
        let refusal = entries
            .iter()
            .find_map(|e| match &e.event {
                airgap_engine::airgap_vault::AuditEvent::Other { kind, detail }
                    if kind == "egress_refused" =>
                {
                    Some(detail.clone())
                }
                _ => None,
            })
            .expect("the refusal is in the audit trail");
        assert!(refusal.contains("192.0.2.1"), "{refusal}");
        Ok(())
    })
    .await
}
