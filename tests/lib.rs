//! Shared helpers for the end-to-end tests in `tests/it/`: start an engine, wait for a
//! condition on its telemetry with a deadline, find the fixture.

use std::path::PathBuf;
use std::time::Duration;

use airgap_engine::{EngineConfig, EngineHandle, Telemetry, VehicleKey, VehicleSnapshot};
use tokio_util::sync::CancellationToken;

/// The real ArduCopter SITL log shipped with the tests.
pub fn fixture_tlog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/arducopter-sitl-flight.tlog")
}

/// An engine with a short vehicle timeout, so loss and recovery tests stay quick.
pub fn engine() -> (EngineHandle, CancellationToken) {
    let cancel = CancellationToken::new();
    let config = EngineConfig {
        vehicle_timeout: Duration::from_millis(1500),
        ..EngineConfig::default()
    };
    (EngineHandle::start(config, cancel.clone()), cancel)
}

/// Polls the engine's telemetry every 50 ms until `check` returns `Some`, or fails after
/// `timeout` naming what was awaited and what was last seen.
pub async fn wait_for<T>(
    engine: &EngineHandle,
    timeout: Duration,
    what: &str,
    mut check: impl FnMut(&Telemetry) -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (t, _) = engine.telemetry(None).await?;
        if let Some(v) = check(&t) {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "timed out after {timeout:?} waiting for {what}; last telemetry: {}",
                describe(&t)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn vehicle(t: &Telemetry, sysid: u8) -> Option<&VehicleSnapshot> {
    t.vehicles
        .iter()
        .find(|v| v.key == VehicleKey { sysid, compid: 1 })
}

pub fn describe(t: &Telemetry) -> String {
    let links: Vec<String> = t
        .links
        .iter()
        .map(|l| {
            format!(
                "link {} {} {:?} {:?} rx {} crc {}",
                l.id.0, l.address, l.state, l.detail, l.stats.rx_frames, l.stats.crc_errors
            )
        })
        .collect();
    let vehicles: Vec<String> = t
        .vehicles
        .iter()
        .map(|v| {
            format!(
                "{} lost={} mode={:?} armed={:?} alt={:?}",
                v.key,
                v.lost,
                v.state.mode_name(),
                v.state.armed,
                v.state.alt_rel_m
            )
        })
        .collect();
    format!(
        "links [{}] vehicles [{}]",
        links.join("; "),
        vehicles.join("; ")
    )
}
