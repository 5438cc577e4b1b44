//! A real ArduCopter SITL flight replayed through the engine.

use std::time::Duration;

use airgap_engine::{EngineEvent, LinkState};
use airgap_link::{Address, LinkOptions};
use airgap_tests::{engine, fixture_tlog, vehicle, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_flight_replays_to_the_right_vehicles_counts_and_final_state(
) -> anyhow::Result<()> {
    let (engine, _c) = engine();
    let mut events = engine.subscribe();
    let address: Address = format!("replay:{}@max", fixture_tlog().display()).parse()?;
    engine.connect(address, LinkOptions::default()).await?;
    wait_for(&engine, Duration::from_secs(30), "the replay to end", |t| {
        (t.links[0].state == LinkState::Closed).then_some(())
    })
    .await?;
    let (t, _) = engine.telemetry(None).await?;

    // Only the autopilot is a vehicle: the ground station's own frames (255/190, 255/230)
    // and the routed parameter replies are not.
    let keys: Vec<String> = t.vehicles.iter().map(|v| v.key.to_string()).collect();
    assert_eq!(keys, vec!["1/1"]);

    let stats = t.links[0].stats;
    assert_eq!(stats.rx_frames, 16_896, "every frame of the log");
    assert_eq!(stats.crc_errors, 0);

    let v = vehicle(&t, 1).expect("vehicle 1/1");
    let s = &v.state;
    // Counted independently with pymavlink on the same file (pymavlink 2.4.50, `recv_match` over the whole file).
    assert_eq!(s.counts.get(0), HEARTBEAT_FROM_1_1, "HEARTBEAT from 1/1");
    assert_eq!(s.counts.get(30), ATTITUDE_FROM_1_1, "ATTITUDE from 1/1");
    assert_eq!(s.counts.total(), ALL_FROM_1_1, "every message from 1/1");
    assert_eq!(s.armed, Some(false), "the flight ends disarmed");
    assert_eq!(s.autopilot_name(), Some("ArduPilot"));
    assert_eq!(s.vehicle_type_name(), Some("Quadrotor"));
    let (lat, lon) = (s.lat_deg.expect("lat"), s.lon_deg.expect("lon"));
    let north_m = (lat - HOME.0) * 111_320.0;
    let east_m = (lon - HOME.1) * 111_320.0 * HOME.0.to_radians().cos();
    let from_home_m = (north_m * north_m + east_m * east_m).sqrt();
    assert!(
        from_home_m < 10.0,
        "lands back near home, {from_home_m:.1} m away"
    );
    assert!(s.alt_rel_m.expect("alt") < 1.0, "on the ground");

    let mut statustexts = 0;
    while let Ok(e) = events.try_recv() {
        if let EngineEvent::StatusText { .. } = e {
            statustexts += 1;
        }
    }
    assert!(statustexts > 0, "STATUSTEXT events were emitted");
    Ok(())
}

const HOME: (f64, f64) = (-35.363261, 149.165230);
const HEARTBEAT_FROM_1_1: u64 = 141;
const ATTITUDE_FROM_1_1: u64 = 549;
const ALL_FROM_1_1: u64 = 15_374;
