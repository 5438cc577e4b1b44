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

/// A mission of `n` items (n ≥ 3) around ArduPilot SITL's home, as ArduPilot numbers it:
/// item 0 is home, then a takeoff, waypoints on a spiral, and a return to launch.
pub fn sample_mission(n: u16) -> Vec<airgap_core::mission::MissionItem> {
    use airgap_core::dialect::{MavCmd, MavFrame, MavMissionType};
    use airgap_core::mission::MissionItem;
    let home = (-353_632_610i32, 1_491_652_300i32);
    let item = |seq: u16, command: MavCmd, frame: MavFrame, x: i32, y: i32, z: f32| MissionItem {
        seq,
        frame,
        command,
        current: false,
        autocontinue: true,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x,
        y,
        z,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    };
    let n = n.max(3);
    (0..n)
        .map(|seq| match seq {
            0 => item(
                seq,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavFrame::MAV_FRAME_GLOBAL,
                home.0,
                home.1,
                584.0,
            ),
            1 => item(
                seq,
                MavCmd::MAV_CMD_NAV_TAKEOFF,
                MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                0,
                0,
                20.0,
            ),
            s if s == n - 1 => item(
                seq,
                MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH,
                MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                0,
                0,
                0.0,
            ),
            s => {
                let angle = f64::from(s) * 0.3;
                let radius_e7 = 2_000.0 + 50.0 * f64::from(s);
                let mut it = item(
                    seq,
                    MavCmd::MAV_CMD_NAV_WAYPOINT,
                    MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                    home.0 + (radius_e7 * angle.cos()) as i32,
                    home.1 + (radius_e7 * angle.sin()) as i32,
                    20.0 + f32::from(s % 7),
                );
                it.param1 = f32::from(s % 3); // hold time, so items differ in params too
                it
            }
        })
        .collect()
}

/// Runs `fut` with a deadline, so a hung vehicle or engine fails the test instead of CI.
pub async fn within<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!("did not finish within {limit:?}"),
    }
}

/// A simulator serving over TCP on loopback and an engine connected to it that has met the
/// vehicle. Dropping it stops both.
pub struct Rig {
    pub engine: EngineHandle,
    pub sim: airgap_sim::Sim,
    cancel: CancellationToken,
}

impl Rig {
    /// `loss` is the share of frames dropped each way (0 for none); `sim_ftp` whether the
    /// vehicle offers MAVFTP, `engine_ftp` whether the engine uses it.
    pub async fn lossy(
        loss: f64,
        sim_ftp: bool,
        engine_ftp: bool,
        seed: u64,
    ) -> anyhow::Result<Rig> {
        let config = airgap_sim::SimConfig {
            faults: (loss > 0.0).then_some(airgap_link::Faults {
                loss,
                dup: 0.0,
                corrupt: 0.0,
                seed,
            }),
            ftp: sim_ftp,
            seed,
            ..airgap_sim::SimConfig::default()
        };
        Rig::start(
            config,
            EngineConfig {
                use_ftp: engine_ftp,
                ..EngineConfig::default()
            },
        )
        .await
    }

    pub async fn start(sim: airgap_sim::SimConfig, engine: EngineConfig) -> anyhow::Result<Rig> {
        let cancel = CancellationToken::new();
        let listen: airgap_link::Address = "tcpin:127.0.0.1:0".parse()?;
        let sim = airgap_sim::Sim::start(&listen, sim, cancel.clone()).await?;
        let port = sim
            .local_addr()
            .ok_or_else(|| anyhow::anyhow!("the simulator has no local address"))?
            .port();
        let engine = EngineHandle::start(engine, cancel.clone());
        engine
            .connect(
                format!("tcp:127.0.0.1:{port}").parse()?,
                airgap_link::LinkOptions::default(),
            )
            .await?;
        engine.wait_for_vehicle(Duration::from_secs(20)).await?;
        Ok(Rig {
            engine,
            sim,
            cancel,
        })
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
