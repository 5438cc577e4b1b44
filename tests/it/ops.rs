//! The engine flies the simulated vehicle: commands with their refusals, missions and
//! parameters over MAVFTP and the classic protocols, with frames lost both ways.

use std::time::{Duration, Instant};

use airgap_core::command::Command;
use airgap_core::dialect::{MavCmd, MavFrame, MavMissionType};
use airgap_core::mission::transfer::verify;
use airgap_core::mission::MissionItem;
use airgap_engine::{EngineConfig, OpError, VehicleKey};
use airgap_link::Faults;
use airgap_sim::SimConfig;
use airgap_tests::{sample_mission, vehicle, wait_for, within, Rig};

const LIMIT: Duration = Duration::from_secs(150);

const VEHICLE: VehicleKey = VehicleKey {
    sysid: 1,
    compid: 1,
};

async fn rig(loss: f64, sim_ftp: bool, engine_ftp: bool, seed: u64) -> anyhow::Result<Rig> {
    Rig::lossy(loss, sim_ftp, engine_ftp, seed).await
}

fn fence() -> Vec<MissionItem> {
    let corner = |seq: u16, dlat: i32, dlon: i32| MissionItem {
        seq,
        frame: MavFrame::MAV_FRAME_GLOBAL,
        command: MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        current: false,
        autocontinue: true,
        param1: 4.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: -353_632_610 + dlat,
        y: 1_491_652_300 + dlon,
        z: 0.0,
        mission_type: MavMissionType::MAV_MISSION_TYPE_FENCE,
    };
    vec![
        corner(0, 20_000, -20_000),
        corner(1, 20_000, 20_000),
        corner(2, -20_000, 20_000),
        corner(3, -20_000, -20_000),
    ]
}

/// Upload with verify, then download again and compare: at 0 % and 30 % loss, over MAVFTP
/// and over the classic protocol.
async fn mission_round_trip(loss: f64, ftp: bool) -> anyhow::Result<()> {
    let rig = rig(loss, true, ftp, 11).await?;
    let mission = sample_mission(80);
    let started = Instant::now();
    let report = rig
        .engine
        .mission_upload(
            VEHICLE,
            MavMissionType::MAV_MISSION_TYPE_MISSION,
            mission.clone(),
            true,
        )
        .await?;
    assert!(report.verified);
    assert_eq!(report.items, 80);
    let back = rig
        .engine
        .mission_download(VEHICLE, MavMissionType::MAV_MISSION_TYPE_MISSION)
        .await?;
    assert_eq!(
        verify(MavMissionType::MAV_MISSION_TYPE_MISSION, &mission, &back),
        vec![]
    );
    let fence = fence();
    rig.engine
        .mission_upload(
            VEHICLE,
            MavMissionType::MAV_MISSION_TYPE_FENCE,
            fence.clone(),
            true,
        )
        .await?;
    let back = rig
        .engine
        .mission_download(VEHICLE, MavMissionType::MAV_MISSION_TYPE_FENCE)
        .await?;
    assert_eq!(
        verify(MavMissionType::MAV_MISSION_TYPE_FENCE, &fence, &back),
        vec![]
    );
    eprintln!(
        "mission round trip, loss {:.0} %, ftp {ftp}: {:.1} s",
        loss * 100.0,
        started.elapsed().as_secs_f64()
    );
    // The vehicle reports the mission it now holds.
    wait_for(
        &rig.engine,
        Duration::from_secs(10),
        "MISSION_CURRENT with 79 items (home is not counted)",
        |t| (vehicle(t, 1)?.state.mission_total == Some(79)).then_some(()),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mission_round_trip_over_ftp() -> anyhow::Result<()> {
    within(LIMIT, mission_round_trip(0.0, true)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mission_round_trip_classic() -> anyhow::Result<()> {
    within(LIMIT, mission_round_trip(0.0, false)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mission_round_trip_over_ftp_at_30_percent_loss() -> anyhow::Result<()> {
    within(LIMIT, mission_round_trip(0.3, true)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mission_round_trip_classic_at_30_percent_loss() -> anyhow::Result<()> {
    within(LIMIT, mission_round_trip(0.3, false)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mission_larger_than_the_vehicle_holds_is_refused_with_no_space() -> anyhow::Result<()> {
    within(LIMIT, async {
        let rig = rig(0.0, false, false, 3).await?;
        let too_many = sample_mission(3000);
        let error = rig
            .engine
            .mission_upload(
                VEHICLE,
                MavMissionType::MAV_MISSION_TYPE_MISSION,
                too_many,
                true,
            )
            .await
            .expect_err("3,000 items is more than the simulator holds");
        assert!(
            matches!(
                error,
                OpError::Mission(airgap_core::mission::transfer::TransferError::NoSpace)
            ),
            "{error:?}"
        );
        Ok(())
    })
    .await
}

async fn params_download(loss: f64, sim_ftp: bool, engine_ftp: bool) -> anyhow::Result<()> {
    let rig = rig(loss, sim_ftp, engine_ftp, 5).await?;
    let started = Instant::now();
    let params = rig.engine.params_download(VEHICLE).await?;
    eprintln!(
        "parameter download, loss {:.0} %, vehicle ftp {sim_ftp}, engine ftp {engine_ftp}: {} params in {:.1} s",
        loss * 100.0,
        params.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(params.len() >= 900, "only {} parameters", params.len());
    let mut names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), params.len(), "every parameter once");
    let rtl = params
        .iter()
        .find(|p| p.name == "RTL_ALT")
        .expect("RTL_ALT");
    // Set it, see it confirmed, and read it back.
    let wanted = rtl.value + 100.0;
    let set = rig.engine.param_set(VEHICLE, "RTL_ALT", wanted).await?;
    assert_eq!(set.value, wanted);
    let read = rig.engine.param_get(VEHICLE, "RTL_ALT").await?;
    assert_eq!(read.value, wanted);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_over_ftp() -> anyhow::Result<()> {
    within(LIMIT, params_download(0.0, true, true)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_fall_back_to_classic_when_the_vehicle_has_no_ftp() -> anyhow::Result<()> {
    within(LIMIT, params_download(0.0, false, true)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_over_ftp_at_30_percent_loss() -> anyhow::Result<()> {
    within(LIMIT, params_download(0.3, true, true)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_classic_at_30_percent_loss() -> anyhow::Result<()> {
    within(LIMIT, params_download(0.3, false, false)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_value_its_type_cannot_hold_is_refused_before_sending() -> anyhow::Result<()> {
    within(LIMIT, async {
        let rig = rig(0.0, true, true, 2).await?;
        // FLTMODE1 is an INT8 on ArduCopter.
        let error = rig
            .engine
            .param_set(VEHICLE, "FLTMODE1", 1000.0)
            .await
            .expect_err("1000 does not fit an INT8");
        assert!(matches!(error, OpError::Param(_)), "{error:?}");
        let error = rig
            .engine
            .param_get(VEHICLE, "NO_SUCH_PARAM")
            .await
            .expect_err("an unknown name gets no answer");
        assert!(matches!(error, OpError::Param(_)), "{error:?}");
        Ok(())
    })
    .await
}

/// Arming is refused until the GPS has a fix, with the vehicle's reason; then the vehicle
/// takes off and climbs; an unknown mode is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_confirmed_or_refused_with_the_vehicles_reason() -> anyhow::Result<()> {
    within(LIMIT, async {
        // 10 % loss each way, and a GPS that takes 6 s to get its fix: long enough that the
        // first arm certainly comes before it.
        let config = SimConfig {
            faults: Some(Faults {
                loss: 0.1,
                dup: 0.0,
                corrupt: 0.0,
                seed: 9,
            }),
            gps_fix_after_s: 6.0,
            ..SimConfig::default()
        };
        let rig = Rig::start(config, EngineConfig::default()).await?;
        match rig.engine.command(VEHICLE, Command::arm()).await {
            Err(OpError::Command(e)) => assert!(
                e.statustext()
                    .iter()
                    .any(|l| l.contains("PreArm: Need 3D Fix")),
                "refused without the PreArm reason: {e:?}"
            ),
            other => panic!("arming before the GPS fix: {other:?}"),
        }
        // An unknown mode never reaches the vehicle.
        let table = airgap_core::modes::ModeTable::ArduCopter;
        assert!(Command::set_mode(table, "NOT_A_MODE").is_err());
        wait_for(&rig.engine, Duration::from_secs(15), "a 3D GPS fix", |t| {
            (vehicle(t, 1)?.state.gps_fix? as u8 >= 3).then_some(())
        })
        .await?;
        let (t, _) = rig.engine.telemetry(None).await?;
        assert_eq!(vehicle(&t, 1).expect("vehicle").state.mode_table(), table);
        rig.engine
            .command(VEHICLE, Command::set_mode(table, "GUIDED")?)
            .await?;
        rig.engine.command(VEHICLE, Command::arm()).await?;
        rig.engine.command(VEHICLE, Command::takeoff(15.0)?).await?;
        wait_for(
            &rig.engine,
            Duration::from_secs(30),
            "the climb past 10 m",
            |t| (vehicle(t, 1)?.state.alt_rel_m? > 10.0).then_some(()),
        )
        .await?;
        // In flight, a plain disarm is refused by the vehicle.
        let refused = rig.engine.command(VEHICLE, Command::disarm()).await;
        assert!(matches!(refused, Err(OpError::Command(_))), "{refused:?}");
        rig.engine.command(VEHICLE, Command::land()).await?;
        Ok(())
    })
    .await
}
