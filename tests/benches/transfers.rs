//! Transfer benchmark: the engine against `airgap-sim` over loopback TCP with frames lost
//! both ways, over MAVFTP and the classic protocols. For each combination it times a full
//! parameter download and a 650-item mission round trip (upload, verify by reading back),
//! checks every result is complete and correct, and prints median and worst times.
//!
//! `cargo bench -p airgap-tests --bench transfers [-- RUNS]` (default 5 runs per cell).
//! Not a test: it asserts correctness, never time.

use std::time::{Duration, Instant};

use airgap_core::dialect::MavMissionType;
use airgap_core::mission::transfer::verify;
use airgap_engine::VehicleKey;
use airgap_tests::{sample_mission, Rig};

const VEHICLE: VehicleKey = VehicleKey {
    sysid: 1,
    compid: 1,
};
const MISSION_ITEMS: u16 = 650;

async fn params(loss: f64, ftp: bool, seed: u64) -> anyhow::Result<Duration> {
    let rig = Rig::lossy(loss, ftp, ftp, seed).await?;
    let started = Instant::now();
    let params = rig.engine.params_download(VEHICLE).await?;
    let took = started.elapsed();
    anyhow::ensure!(params.len() >= 900, "only {} parameters", params.len());
    Ok(took)
}

async fn mission(loss: f64, ftp: bool, seed: u64) -> anyhow::Result<Duration> {
    let rig = Rig::lossy(loss, ftp, ftp, seed).await?;
    let engine = &rig.engine;
    let items = sample_mission(MISSION_ITEMS);
    let started = Instant::now();
    let report = engine
        .mission_upload(
            VEHICLE,
            MavMissionType::MAV_MISSION_TYPE_MISSION,
            items.clone(),
            true,
        )
        .await?;
    let took = started.elapsed();
    anyhow::ensure!(report.verified, "not verified");
    let back = engine
        .mission_download(VEHICLE, MavMissionType::MAV_MISSION_TYPE_MISSION)
        .await?;
    anyhow::ensure!(
        verify(MavMissionType::MAV_MISSION_TYPE_MISSION, &items, &back).is_empty(),
        "the vehicle's mission differs"
    );
    Ok(took)
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    format!(
        "median {:>6.2} s  max {:>6.2} s",
        median.as_secs_f64(),
        max.as_secs_f64()
    )
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a bare number is the run count.
    let runs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Runtime::new()?;
    println!("{runs} runs per cell; all transfers complete and verified, or the bench fails");
    for loss in [0.0, 0.1, 0.3] {
        for ftp in [true, false] {
            let mut p = Vec::new();
            let mut m = Vec::new();
            for seed in 1..=runs {
                p.push(rt.block_on(params(loss, ftp, seed))?);
                m.push(rt.block_on(mission(loss, ftp, seed))?);
            }
            let how = if ftp { "MAVFTP " } else { "classic" };
            println!(
                "loss {:>2.0} % {how}  params: {}   {MISSION_ITEMS}-item mission round trip: {}",
                loss * 100.0,
                summary(p),
                summary(m)
            );
        }
    }
    Ok(())
}
