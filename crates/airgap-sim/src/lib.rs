//! Simulated ArduCopter-like vehicles: a real MAVLink peer over real sockets and ptys.
//!
//! [`vehicle`] is the sans-IO model of one vehicle (`tick(now)`, `handle(now, from, msg)`),
//! which holds [`params`], serves plans through [`missions`] and files through [`ftp`];
//! this module serves one or more of them over an `airgap-link` [`Link`]: one task
//! per [`Sim`] ticks the vehicles every 10 ms, sends what they produce, and routes each
//! received frame to the vehicle it targets. Fault injection (loss, duplication,
//! corruption) is the link's, configured through [`SimConfig::faults`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use airgap_core::mavlink::Message;
use airgap_core::MavMessage;
use airgap_link::{Address, Faults, Link, LinkError, LinkEvent, LinkOptions, LinkSender};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::vehicle::EARTH_RADIUS_M;

pub mod ftp;
pub mod missions;
pub mod mode;
pub mod params;
pub mod streams;
pub mod vehicle;

pub use missions::{MissionCapacity, MissionConfig};
pub use mode::CopterMode;
pub use params::DEFAULT_PARAM_RATE_HZ;
pub use vehicle::{
    Location, Vehicle, VehicleConfig, AUTOPILOT_COMPID, DEFAULT_HOME_ALT_M, DEFAULT_HOME_LAT_DEG,
    DEFAULT_HOME_LON_DEG,
};

/// How often the serving task advances the vehicles. Fast enough for 10 Hz ATTITUDE
/// without jitter a GCS would notice.
pub const TICK: Duration = Duration::from_millis(10);

/// How long [`Sim::stop`] waits for the link to let go of its socket or pty.
const LINK_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Vehicle N's home is N times this far north-east of vehicle 0's, so they do not sit
/// on one spot and differ in both latitude and longitude.
pub const VEHICLE_SPACING_M: f64 = 20.0;

/// What to simulate and how the link misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// System id of the first vehicle; vehicle N is `sysid + N`.
    pub sysid: u8,
    /// How many vehicles share the link.
    pub vehicles: u8,
    /// Frame loss, duplication and corruption, applied by the link both ways.
    pub faults: Option<Faults>,
    /// Every vehicle arms, takes off and circles by itself (see [`VehicleConfig::autofly`]).
    pub autofly: bool,
    /// Only HEARTBEAT until a GCS asks for streams (see [`VehicleConfig`]).
    pub wait_for_stream_request: bool,
    /// Seeds the vehicles' noise; vehicle N gets its own seed derived from it.
    pub seed: u64,
    /// Home of the first vehicle.
    pub home_lat_deg: f64,
    pub home_lon_deg: f64,
    pub home_alt_m: f64,
    /// Serve MAVFTP (parameters as `@PARAM/param.pck`, plans as `@MISSION/mission.dat`,
    /// `fence.dat`, `rally.dat`) and advertise it in AUTOPILOT_VERSION. Off, the vehicles
    /// behave like firmware without FTP, so a GCS must fall back to the classic protocols.
    pub ftp: bool,
    /// Plan capacities (beyond them an upload gets MAV_MISSION_NO_SPACE) and the mission
    /// protocol's request style and timeouts.
    pub mission: MissionConfig,
    /// PARAM_VALUEs per second when answering PARAM_REQUEST_LIST.
    pub param_rate_hz: f64,
    /// Seconds after start before the GPS has a fix (see [`VehicleConfig::gps_fix_after_s`]).
    pub gps_fix_after_s: f64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            sysid: 1,
            vehicles: 1,
            faults: None,
            autofly: false,
            wait_for_stream_request: false,
            seed: 0,
            home_lat_deg: DEFAULT_HOME_LAT_DEG,
            home_lon_deg: DEFAULT_HOME_LON_DEG,
            home_alt_m: DEFAULT_HOME_ALT_M,
            ftp: true,
            mission: MissionConfig::default(),
            param_rate_hz: DEFAULT_PARAM_RATE_HZ,
            gps_fix_after_s: vehicle::DEFAULT_GPS_FIX_AFTER_S,
        }
    }
}

impl SimConfig {
    /// The configuration of each vehicle, or why there can be none.
    pub fn vehicle_configs(&self) -> Result<Vec<VehicleConfig>, SimError> {
        if self.vehicles == 0 {
            return Err(SimError::NoVehicles);
        }
        let last = u16::from(self.sysid) + u16::from(self.vehicles) - 1;
        // 0 is the broadcast address and 255 the usual ground station.
        if self.sysid == 0 || last > 254 {
            return Err(SimError::BadSysids {
                first: self.sysid,
                vehicles: self.vehicles,
            });
        }
        let metres_per_deg_lat = EARTH_RADIUS_M.to_radians();
        let metres_per_deg_lon = metres_per_deg_lat * self.home_lat_deg.to_radians().cos();
        let step_m = VEHICLE_SPACING_M * std::f64::consts::FRAC_1_SQRT_2;
        let configs = (0..self.vehicles)
            .map(|n| VehicleConfig {
                sysid: self.sysid + n,
                home_lat_deg: self.home_lat_deg + f64::from(n) * step_m / metres_per_deg_lat,
                home_lon_deg: self.home_lon_deg + f64::from(n) * step_m / metres_per_deg_lon,
                home_alt_m: self.home_alt_m,
                // Distinct per vehicle, and unlike `seed + n` never equal to another
                // run's vehicle 0.
                seed: self.seed ^ (u64::from(n) << 32),
                autofly: self.autofly,
                wait_for_stream_request: self.wait_for_stream_request,
                ftp: self.ftp,
                mission: self.mission,
                param_rate_hz: self.param_rate_hz,
                gps_fix_after_s: self.gps_fix_after_s,
            })
            .collect();
        Ok(configs)
    }
}

/// Why a simulator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("a simulator needs at least one vehicle")]
    NoVehicles,
    #[error("{vehicles} vehicle(s) from system id {first} do not fit system ids 1–254")]
    BadSysids { first: u8, vehicles: u8 },
    #[error("cannot open the link: {0}")]
    Open(#[source] LinkError),
    #[error("cannot send on the link: {0}")]
    Send(#[source] LinkError),
    #[error("the link ended: {reason}")]
    LinkEnded { reason: String },
    #[error("the simulator task panicked")]
    Panicked,
}

/// A running simulator. Dropping it stops the simulation (without waiting for it).
#[derive(Debug)]
pub struct Sim {
    local_addr: Option<SocketAddr>,
    sysids: Vec<u8>,
    cancel: CancellationToken,
    task: Option<JoinHandle<Result<(), SimError>>>,
}

impl Sim {
    /// Opens `address` and starts serving. `cancel` (or [`Sim::stop`]) stops it.
    pub async fn start(
        address: &Address,
        config: SimConfig,
        cancel: CancellationToken,
    ) -> Result<Sim, SimError> {
        let vehicles = config.vehicle_configs()?;
        let cancel = cancel.child_token();
        let link = Link::open(address, link_options(&config), cancel.clone())
            .await
            .map_err(SimError::Open)?;
        Ok(Sim::spawn(link, vehicles, cancel))
    }

    /// Serves on a new pseudo-terminal and returns its path, for serial-link tests.
    pub async fn start_pty(
        config: SimConfig,
        cancel: CancellationToken,
    ) -> Result<(Sim, PathBuf), SimError> {
        let vehicles = config.vehicle_configs()?;
        let cancel = cancel.child_token();
        let (link, path) = Link::open_pty(link_options(&config), cancel.clone())
            .await
            .map_err(SimError::Open)?;
        Ok((Sim::spawn(link, vehicles, cancel), path))
    }

    fn spawn(link: Link, configs: Vec<VehicleConfig>, cancel: CancellationToken) -> Sim {
        let local_addr = link.local_addr();
        let sysids = configs.iter().map(|c| c.sysid).collect();
        let vehicles = configs.into_iter().map(Vehicle::new).collect();
        let task = tokio::spawn(serve(link, vehicles, cancel.clone()));
        Sim {
            local_addr,
            sysids,
            cancel,
            task: Some(task),
        }
    }

    /// The socket address the link is bound to (the real port when asked for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The system ids of the simulated vehicles.
    pub fn sysids(&self) -> &[u8] {
        &self.sysids
    }

    /// Stops the simulation and waits until its link is closed.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        let Some(task) = self.task.take() else {
            return;
        };
        // The caller wants it gone, not a verdict; still, a failure is worth a log line.
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "sim: had already stopped"),
            Err(join_error) => tracing::error!(%join_error, "sim: the task did not finish"),
        }
    }

    /// Runs until cancelled (`Ok`) or until the link fails.
    pub async fn wait(mut self) -> Result<(), SimError> {
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(result) => result,
            Err(join_error) if join_error.is_panic() => Err(SimError::Panicked),
            // Only a runtime shutting down cancels the task: that is a stop, not a failure.
            Err(_) => Ok(()),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn link_options(config: &SimConfig) -> LinkOptions {
    LinkOptions {
        faults: config.faults.clone(),
    }
}

/// The serving loop: tick, send, route, until cancelled or the link ends.
async fn serve(
    mut link: Link,
    mut vehicles: Vec<Vehicle>,
    cancel: CancellationToken,
) -> Result<(), SimError> {
    let sender = link.sender();
    let boot = Instant::now();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                close(link).await;
                return Ok(());
            }
            _ = ticks.tick() => {
                let now_s = boot.elapsed().as_secs_f64();
                for vehicle in &mut vehicles {
                    let msgs = vehicle.tick(now_s);
                    send_all(&sender, vehicle.sysid(), &msgs)?;
                }
            }
            event = link.recv() => match event {
                Some(LinkEvent::Frame { frame, .. }) => {
                    let now_s = boot.elapsed().as_secs_f64();
                    let target = frame.msg.target_system_id();
                    for vehicle in &mut vehicles {
                        if target.is_some_and(|t| t != 0 && t != vehicle.sysid()) {
                            continue;
                        }
                        let replies =
                            vehicle.handle(now_s, frame.sysid(), frame.compid(), &frame.msg);
                        send_all(&sender, vehicle.sysid(), &replies)?;
                    }
                }
                Some(LinkEvent::Up { peer }) => tracing::debug!(%peer, "sim: peer up"),
                Some(LinkEvent::Down { reason }) => tracing::debug!(%reason, "sim: peer down"),
                Some(LinkEvent::Ended { reason }) => {
                    return if cancel.is_cancelled() {
                        Ok(())
                    } else {
                        Err(SimError::LinkEnded { reason })
                    };
                }
                None => {
                    return if cancel.is_cancelled() {
                        Ok(())
                    } else {
                        Err(SimError::LinkEnded { reason: "closed".to_owned() })
                    };
                }
            },
        }
    }
}

/// Waits for the link's own task to see the cancellation and end, so that when
/// [`Sim::stop`] returns the port is free again (a restart on the same port works).
async fn close(mut link: Link) {
    let drained = tokio::time::timeout(LINK_CLOSE_TIMEOUT, async {
        while link.recv().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("sim: the link did not close within {LINK_CLOSE_TIMEOUT:?}");
    }
}

fn send_all(sender: &LinkSender, sysid: u8, msgs: &[MavMessage]) -> Result<(), SimError> {
    for msg in msgs {
        sender
            .send(sysid, AUTOPILOT_COMPID, msg)
            .map_err(SimError::Send)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vehicles_get_consecutive_sysids_own_seeds_and_homes_20_m_apart() {
        let config = SimConfig {
            sysid: 10,
            vehicles: 3,
            seed: 5,
            ..SimConfig::default()
        };
        let vehicles = config.vehicle_configs().expect("valid");
        let sysids: Vec<u8> = vehicles.iter().map(|v| v.sysid).collect();
        assert_eq!(sysids, [10, 11, 12]);
        assert_eq!(vehicles[0].seed, 5);
        assert_ne!(vehicles[1].seed, vehicles[2].seed);
        for pair in vehicles.windows(2) {
            let north_m =
                (pair[1].home_lat_deg - pair[0].home_lat_deg).to_radians() * EARTH_RADIUS_M;
            let east_m = (pair[1].home_lon_deg - pair[0].home_lon_deg).to_radians()
                * EARTH_RADIUS_M
                * config.home_lat_deg.to_radians().cos();
            assert!(
                north_m > 10.0 && east_m > 10.0,
                "{north_m} m N, {east_m} m E"
            );
            let apart_m = north_m.hypot(east_m);
            assert!(
                (apart_m - VEHICLE_SPACING_M).abs() < 0.01,
                "{apart_m} m apart"
            );
        }
    }

    #[test]
    fn sysids_must_fit_between_broadcast_and_the_gcs() {
        let config = |sysid, vehicles| SimConfig {
            sysid,
            vehicles,
            ..SimConfig::default()
        };
        assert!(config(254, 1).vehicle_configs().is_ok());
        assert!(matches!(
            config(250, 6).vehicle_configs(),
            Err(SimError::BadSysids { .. })
        ));
        assert!(matches!(
            config(0, 1).vehicle_configs(),
            Err(SimError::BadSysids { .. })
        ));
        assert!(matches!(
            config(1, 0).vehicle_configs(),
            Err(SimError::NoVehicles)
        ));
    }
}
