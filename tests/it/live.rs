//! Engine ↔ simulator over real loopback UDP, TCP and a pty.

use std::time::Duration;

use airgap_engine::{EngineEvent, EngineHandle, LinkState};
use airgap_link::{Address, Faults, LinkOptions};
use airgap_sim::{Sim, SimConfig};
use airgap_tests::{engine, vehicle, wait_for};
use tokio_util::sync::CancellationToken;

const SEEN: Duration = Duration::from_secs(10);

fn addr(s: &str) -> Address {
    s.parse().expect("test address parses")
}

/// A simulator serving on `sim_listen` (port 0) and an engine connected to it with
/// `engine_scheme:127.0.0.1:PORT`. Both stop with the test's runtime.
struct Rig {
    sim: Sim,
    engine: EngineHandle,
    port: u16,
    cancel: CancellationToken,
}

async fn rig(sim_listen: &str, engine_scheme: &str, config: SimConfig) -> anyhow::Result<Rig> {
    let cancel = CancellationToken::new();
    let sim = Sim::start(&addr(sim_listen), config, cancel.clone()).await?;
    let port = sim.local_addr().expect("bound to a port").port();
    let (engine, _) = engine();
    engine
        .connect(
            addr(&format!("{engine_scheme}:127.0.0.1:{port}")),
            LinkOptions::default(),
        )
        .await?;
    Ok(Rig {
        sim,
        engine,
        port,
        cancel,
    })
}

/// Waits until vehicle `sysid` has a mode, attitude, altitude and battery: the GCS asked
/// for telemetry and got it.
async fn sees_flying_data(engine: &EngineHandle, sysid: u8) -> anyhow::Result<()> {
    wait_for(engine, SEEN, "mode, attitude, altitude and battery", |t| {
        let s = &vehicle(t, sysid)?.state;
        (s.mode_name().is_some()
            && s.roll_deg.is_some()
            && s.alt_msl_m.is_some()
            && s.battery_v.is_some())
        .then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_sees_sim_over_udp() -> anyhow::Result<()> {
    // The simulator listens (like SITL on udpin) and the engine sends first: its heartbeat
    // introduces it.
    let rig = rig("udpin:127.0.0.1:0", "udpout", SimConfig::default()).await?;
    sees_flying_data(&rig.engine, 1).await?;
    let (t, _) = rig.engine.telemetry(None).await?;
    let v = vehicle(&t, 1).expect("vehicle 1");
    assert_eq!(v.state.autopilot_name(), Some("ArduPilot"));
    assert_eq!(v.state.vehicle_type_name(), Some("Quadrotor"));
    assert_eq!(v.state.armed, Some(false), "the simulator starts disarmed");
    assert_eq!(t.links[0].state, LinkState::Up);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_sees_sim_over_tcp_and_asks_for_streams() -> anyhow::Result<()> {
    // Like ArduCopter on its TCP port: nothing but HEARTBEAT until the GCS asks.
    let config = SimConfig {
        wait_for_stream_request: true,
        ..SimConfig::default()
    };
    let rig = rig("tcpin:127.0.0.1:0", "tcp", config).await?;
    sees_flying_data(&rig.engine, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_sees_sim_over_a_pty_serial_link() -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let (_sim, path) = Sim::start_pty(SimConfig::default(), cancel.clone()).await?;
    let (engine, _c) = engine();
    engine
        .connect(
            addr(&format!("serial:{}:115200", path.display())),
            LinkOptions::default(),
        )
        .await?;
    sees_flying_data(&engine, 1).await?;
    cancel.cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_vehicles_on_one_link_are_told_apart() -> anyhow::Result<()> {
    let config = SimConfig {
        sysid: 10,
        vehicles: 3,
        ..SimConfig::default()
    };
    let rig = rig("tcpin:127.0.0.1:0", "tcp", config).await?;
    for sysid in [10, 11, 12] {
        sees_flying_data(&rig.engine, sysid).await?;
    }
    // Positions are known once each simulated GPS has its fix (about 3 s after boot).
    let positions = wait_for(&rig.engine, SEEN, "a position for each vehicle", |t| {
        [10, 11, 12]
            .iter()
            .map(|&s| vehicle(t, s).and_then(|v| Some((v.state.lat_deg?, v.state.lon_deg?))))
            .collect::<Option<Vec<_>>>()
    })
    .await?;
    let (t, _) = rig.engine.telemetry(None).await?;
    assert_eq!(
        t.vehicles.len(),
        3,
        "only the three autopilots are vehicles"
    );
    assert!(
        positions[0] != positions[1] && positions[1] != positions[2],
        "each vehicle has its own position: {positions:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_tcp_link_is_lost_then_recovers_when_the_vehicle_returns() -> anyhow::Result<()> {
    let Rig {
        sim,
        engine,
        port,
        cancel,
    } = rig("tcpin:127.0.0.1:0", "tcp", SimConfig::default()).await?;
    let mut events = engine.subscribe();
    sees_flying_data(&engine, 1).await?;

    sim.stop().await;
    wait_for(&engine, SEEN, "the vehicle to be reported lost", |t| {
        let v = vehicle(t, 1)?;
        (v.lost && t.links[0].state != LinkState::Up).then_some(())
    })
    .await?;

    // The same port again, like a SITL restart: the link reconnects by itself.
    let _sim = Sim::start(
        &addr(&format!("tcpin:127.0.0.1:{port}")),
        SimConfig::default(),
        cancel.clone(),
    )
    .await?;
    wait_for(&engine, SEEN, "the vehicle to recover", |t| {
        let v = vehicle(t, 1)?;
        (!v.lost && t.links[0].state == LinkState::Up).then_some(())
    })
    .await?;

    let mut saw = (false, false, false);
    while let Ok(event) = events.try_recv() {
        match event {
            EngineEvent::VehicleLost { .. } => saw.0 = true,
            EngineEvent::VehicleRecovered { .. } => saw.1 = true,
            EngineEvent::LinkDown { .. } => saw.2 = true,
            _ => {}
        }
    }
    assert_eq!(
        saw,
        (true, true, true),
        "lost, recovered and link-down events"
    );
    cancel.cancel();
    engine.shutdown();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_and_lost_frames_are_counted_not_fatal() -> anyhow::Result<()> {
    let config = SimConfig {
        faults: Some(Faults {
            loss: 0.2,
            dup: 0.0,
            corrupt: 0.1,
            seed: 7,
        }),
        ..SimConfig::default()
    };
    let rig = rig("tcpin:127.0.0.1:0", "tcp", config).await?;
    sees_flying_data(&rig.engine, 1).await?;
    let stats = wait_for(
        &rig.engine,
        SEEN,
        "CRC errors and sequence gaps to be counted",
        |t| {
            let s = t.links[0].stats;
            (s.crc_errors >= 5 && s.seq_gaps >= 5 && s.rx_frames >= 100).then_some(s)
        },
    )
    .await?;
    // About a fifth lost (and a tenth corrupted, which also shows as gaps): the counters
    // must say so, within reason.
    let expected = (stats.rx_frames + stats.seq_gaps) as f64;
    let gap_share = stats.seq_gaps as f64 / expected;
    assert!(
        (0.15..0.45).contains(&gap_share),
        "gap share {gap_share} from {stats:?}"
    );
    let (t, _) = rig.engine.telemetry(None).await?;
    assert!(
        t.links[0].quality_pct.is_some_and(|q| q < 95.0),
        "link quality reflects the loss: {:?}",
        t.links[0].quality_pct
    );
    Ok(())
}
