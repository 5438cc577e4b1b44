//! The headless runtime every front end drives: it opens links, tracks the vehicles heard on
//! them, keeps the ground station's side of the protocol going (its own heartbeat, stream
//! requests), and answers typed requests through a cloneable [`EngineHandle`].
//!
//! One actor owns all state ([`actor`]); link readers are tasks that only forward events to
//! it. Nothing here knows about Tauri, JSON for the UI, or a terminal.

mod actor;
mod forward;
pub mod gcs;
mod ops;
mod record;

use std::collections::HashMap;
use std::time::Duration;

use airgap_core::series::Group;
use airgap_core::state::VehicleState;
use airgap_link::{Address, LinkOptions, LinkStats};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use airgap_core::series::Group as SeriesGroup;
pub use airgap_egress;
pub use airgap_vault;
pub use airgap_vault::FlightId;
pub use forward::{destination as egress_destination, ForwardId, ForwardInfo, ForwardStats};
pub use ops::{OpError, OpKind, OpProgress, ProgressUnit, UploadReport};
pub use record::{audit_refusals, RecordTo};

use airgap_core::command::{Accepted, Command};
use airgap_core::dialect::MavMissionType;
use airgap_core::mission::MissionItem;
use airgap_core::params::Param;
use ops::OpRequest;

/// How the engine presents itself on the links and how patient it is.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Our system id; 255 is the ground-station convention (MAVProxy, QGroundControl).
    pub gcs_sysid: u8,
    /// Our component id; 190 is MAV_COMP_ID_MISSIONPLANNER, what autopilots expect from a GCS.
    pub gcs_compid: u8,
    pub heartbeat_period: Duration,
    /// A vehicle with no heartbeat for this long is lost (QGroundControl uses 3.5 s).
    pub vehicle_timeout: Duration,
    /// Telemetry rate asked of ArduPilot vehicles per stream group.
    pub stream_rate_hz: u16,
    /// Plot rows kept per vehicle and group.
    pub series_capacity: usize,
    /// Move parameters and missions over MAVFTP when the vehicle offers it (falling back to
    /// the classic protocols when it fails). Off: always the classic protocols.
    pub use_ftp: bool,
    /// Record every link session (except replays) into this vault, from the moment the
    /// link opens until it closes; works whether the vault is locked or not.
    pub record_to: Option<RecordTo>,
    /// Asked before opening a link or a forward to anything but loopback, serial or a replay.
    pub gate: airgap_egress::Gate,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            gcs_sysid: 255,
            gcs_compid: 190,
            heartbeat_period: Duration::from_secs(1),
            vehicle_timeout: Duration::from_secs(3),
            stream_rate_hz: 4,
            series_capacity: airgap_core::series::DEFAULT_CAPACITY,
            use_ftp: true,
            record_to: None,
            gate: airgap_egress::Gate::new(false),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

/// A vehicle is one autopilot component: MAVLink system and component id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VehicleKey {
    pub sysid: u8,
    pub compid: u8,
}

impl std::fmt::Display for VehicleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.sysid, self.compid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Opening, or the transport is down and retrying (TCP/serial reconnect).
    Connecting,
    /// Transport open and a vehicle heartbeat heard within the timeout.
    Up,
    /// Transport open, vehicles were heard, none within the timeout.
    Lost,
    /// Closed by request, or ended (a replay reached its end).
    Closed,
}

#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub id: LinkId,
    pub address: Address,
    pub state: LinkState,
    /// Why the link is not up, in words.
    pub detail: Option<String>,
    pub stats: LinkStats,
    /// Share of frames that arrived over the last few seconds, from sequence gaps (0–100).
    pub quality_pct: Option<f64>,
    /// The flight this link is being recorded into.
    pub flight: Option<FlightId>,
}

#[derive(Debug, Clone)]
pub struct VehicleSnapshot {
    pub key: VehicleKey,
    /// The link it was last heard on.
    pub link: LinkId,
    pub lost: bool,
    pub state: VehicleState,
}

/// Plot rows of one group newer than a cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChunk {
    pub group: Group,
    pub t_us: Vec<u64>,
    /// One vector per column of `group`.
    pub columns: Vec<Vec<f32>>,
}

/// Remembers, per vehicle and group, the newest row a consumer has already received, so
/// each [`EngineHandle::telemetry`] call returns only new rows.
#[derive(Debug, Clone, Default)]
pub struct SeriesCursor {
    seen: HashMap<(VehicleKey, Group), u64>,
    /// For a vehicle and group not seen yet, how much history to send first (`None`: all).
    window: Option<Duration>,
}

impl SeriesCursor {
    /// A cursor whose first reply per vehicle carries only the last `window` of history, so a
    /// page opening mid-flight does not receive a whole flight of rows at once.
    pub fn with_window(window: Duration) -> Self {
        SeriesCursor {
            seen: HashMap::new(),
            window: Some(window),
        }
    }

    pub(crate) fn after(
        &self,
        key: VehicleKey,
        group: Group,
        newest_us: Option<u64>,
    ) -> Option<u64> {
        match (self.seen.get(&(key, group)), self.window, newest_us) {
            (Some(t), _, _) => Some(*t),
            (None, Some(w), Some(newest)) => {
                Some(newest.saturating_sub(u64::try_from(w.as_micros()).unwrap_or(u64::MAX)))
            }
            (None, _, _) => None,
        }
    }

    pub(crate) fn advance(&mut self, key: VehicleKey, group: Group, newest_us: u64) {
        self.seen.insert((key, group), newest_us);
    }
}

#[derive(Debug, Clone)]
pub struct Telemetry {
    pub links: Vec<LinkInfo>,
    pub vehicles: Vec<VehicleSnapshot>,
    /// New plot rows per vehicle (empty unless a cursor was passed).
    pub series: HashMap<VehicleKey, Vec<SeriesChunk>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    LinkUp {
        link: LinkId,
        peer: String,
    },
    LinkDown {
        link: LinkId,
        reason: String,
    },
    LinkClosed {
        link: LinkId,
        reason: String,
    },
    VehicleDiscovered {
        key: VehicleKey,
        link: LinkId,
    },
    VehicleLost {
        key: VehicleKey,
    },
    VehicleRecovered {
        key: VehicleKey,
    },
    StatusText {
        key: VehicleKey,
        severity: u8,
        text: String,
    },
    /// A transfer moved on (at most every 100 ms per operation, and at its last item).
    Progress(OpProgress),
    RecordingStarted {
        link: LinkId,
        flight: FlightId,
    },
    /// The flight is closed and on disk.
    RecordingStopped {
        link: LinkId,
        flight: FlightId,
        frames: u64,
        bytes: u64,
    },
    /// Recording stopped on an error (disk full, vault damaged); the link goes on.
    RecordingFailed {
        link: LinkId,
        error: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Link(#[from] airgap_link::LinkError),
    #[error("no link with id {0}")]
    NoSuchLink(u32),
    #[error("the engine has stopped")]
    Stopped,
    #[error("no vehicle was heard within {} s", .0.as_secs_f32())]
    NoVehicle(Duration),
    /// The egress gate refused the address (the network seal is engaged); nothing was opened.
    #[error(transparent)]
    Refused(#[from] airgap_egress::Refused),
    #[error("no forward with id {0}")]
    NoSuchForward(u32),
    #[error("cannot forward to {0}: a log replay is read, not written")]
    NotForwardable(Address),
}

pub(crate) enum Request {
    Connect {
        address: Address,
        options: LinkOptions,
        reply: oneshot::Sender<Result<LinkId, EngineError>>,
    },
    Disconnect {
        link: LinkId,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    Telemetry {
        cursor: Option<SeriesCursor>,
        reply: oneshot::Sender<(Telemetry, Option<SeriesCursor>)>,
    },
    Series {
        key: VehicleKey,
        reply: oneshot::Sender<Option<Vec<SeriesChunk>>>,
    },
    Op(OpRequest),
    /// Frames queued on all links and not yet handed to their transports.
    Pending {
        reply: oneshot::Sender<usize>,
    },
    /// Close every recorded flight; the reply comes once they are on disk.
    FinishRecordings {
        reply: oneshot::Sender<()>,
    },
    // Telemetry forwarding (forward.rs).
    AddForward {
        address: Address,
        reply: oneshot::Sender<Result<ForwardId, EngineError>>,
    },
    RemoveForward {
        forward: ForwardId,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    Forwards {
        reply: oneshot::Sender<Vec<ForwardInfo>>,
    },
    SetRecordTo {
        to: Option<RecordTo>,
        reply: oneshot::Sender<()>,
    },
}

/// The front ends' way in. Cheap to clone; every call is a message to the engine actor.
#[derive(Clone)]
pub struct EngineHandle {
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<EngineEvent>,
    cancel: CancellationToken,
}

impl EngineHandle {
    /// Starts an engine on the current tokio runtime. It runs until `shutdown` or until
    /// `cancel` is cancelled.
    pub fn start(config: EngineConfig, cancel: CancellationToken) -> EngineHandle {
        let (requests, rx) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        tokio::spawn(actor::run(config, rx, events.clone(), cancel.clone()));
        EngineHandle {
            requests,
            events,
            cancel,
        }
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)
    }

    /// Opens a link. Returns once the transport is set up; TCP clients and serial ports that
    /// are not there yet keep retrying in the background (the link shows `Connecting`).
    pub async fn connect(
        &self,
        address: Address,
        options: LinkOptions,
    ) -> Result<LinkId, EngineError> {
        self.call(|reply| Request::Connect {
            address,
            options,
            reply,
        })
        .await?
    }

    pub async fn disconnect(&self, link: LinkId) -> Result<(), EngineError> {
        self.call(|reply| Request::Disconnect { link, reply })
            .await?
    }

    /// Links, vehicles, and — with a cursor — the plot rows added since that cursor, which
    /// is returned advanced.
    pub async fn telemetry(
        &self,
        cursor: Option<SeriesCursor>,
    ) -> Result<(Telemetry, Option<SeriesCursor>), EngineError> {
        self.call(|reply| Request::Telemetry { cursor, reply })
            .await
    }

    /// The whole plot history of one vehicle.
    pub async fn series(&self, key: VehicleKey) -> Result<Option<Vec<SeriesChunk>>, EngineError> {
        self.call(|reply| Request::Series { key, reply }).await
    }

    async fn op<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, OpError>>) -> OpRequest,
    ) -> Result<T, OpError> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request::Op(make(reply)))
            .await
            .map_err(|_| OpError::Stopped)?;
        rx.await.map_err(|_| OpError::Stopped)?
    }

    /// Sends a command and waits for the vehicle's answer (retrying on silence). Dropping the
    /// future stops waiting, and cancels on the vehicle a command it reported in progress.
    pub async fn command(&self, key: VehicleKey, command: Command) -> Result<Accepted, OpError> {
        self.op(|reply| OpRequest::Command {
            key,
            command,
            reply,
        })
        .await
    }

    /// Every parameter of the vehicle, complete or an error: never a partial list.
    /// Progress comes as [`EngineEvent::Progress`].
    pub async fn params_download(&self, key: VehicleKey) -> Result<Vec<Param>, OpError> {
        self.op(|reply| OpRequest::ParamDownload { key, reply })
            .await
    }

    pub async fn param_get(&self, key: VehicleKey, name: &str) -> Result<Param, OpError> {
        let name = name.to_owned();
        self.op(|reply| OpRequest::ParamGet { key, name, reply })
            .await
    }

    /// Sets a parameter by name and returns it as the vehicle confirmed it. The type is the
    /// one the vehicle declares; a value that type cannot hold is refused before sending.
    pub async fn param_set(
        &self,
        key: VehicleKey,
        name: &str,
        value: f64,
    ) -> Result<Param, OpError> {
        let name = name.to_owned();
        self.op(|reply| OpRequest::ParamSet {
            key,
            name,
            value,
            reply,
        })
        .await
    }

    /// Uploads `items` (seq 0 first; for a mission, item 0 is the home position) and, with
    /// `verify`, reads them back and compares.
    pub async fn mission_upload(
        &self,
        key: VehicleKey,
        mission_type: MavMissionType,
        items: Vec<MissionItem>,
        verify: bool,
    ) -> Result<UploadReport, OpError> {
        self.op(|reply| OpRequest::MissionUpload {
            key,
            mission_type,
            items,
            verify,
            reply,
        })
        .await
    }

    pub async fn mission_download(
        &self,
        key: VehicleKey,
        mission_type: MavMissionType,
    ) -> Result<Vec<MissionItem>, OpError> {
        self.op(|reply| OpRequest::MissionDownload {
            key,
            mission_type,
            reply,
        })
        .await
    }

    pub async fn mission_clear(
        &self,
        key: VehicleKey,
        mission_type: MavMissionType,
    ) -> Result<(), OpError> {
        self.op(|reply| OpRequest::MissionClear {
            key,
            mission_type,
            reply,
        })
        .await
    }

    pub async fn mission_set_current(&self, key: VehicleKey, seq: u16) -> Result<(), OpError> {
        self.op(|reply| OpRequest::MissionSetCurrent { key, seq, reply })
            .await
    }

    /// The first vehicle heard (by heartbeat) on any link, waiting up to `timeout` for one.
    pub async fn wait_for_vehicle(&self, timeout: Duration) -> Result<VehicleKey, EngineError> {
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (telemetry, _) = self.telemetry(None).await?;
            if let Some(v) = telemetry
                .vehicles
                .iter()
                .find(|v| !v.lost && v.state.last_heartbeat_us.is_some())
            {
                return Ok(v.key);
            }
            // Any event may be the one that matters (a heartbeat has no event of its own
            // after discovery), so look again after each, and at least every 100 ms.
            let wait = tokio::time::sleep(Duration::from_millis(100));
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Err(EngineError::NoVehicle(timeout)),
                _ = events.recv() => {}
                _ = wait => {}
            }
        }
    }

    /// Forwards every frame heard on any link, raw, to `address` (MAVProxy's `--out`), and
    /// what comes back from there to the vehicle it is for. The gate is asked first: loopback
    /// and serial always pass, anything else only while online. A refusal or a failure to
    /// open leaves the vehicle links as they were.
    pub async fn add_forward(&self, address: Address) -> Result<ForwardId, EngineError> {
        self.call(|reply| Request::AddForward { address, reply })
            .await?
    }

    pub async fn remove_forward(&self, forward: ForwardId) -> Result<(), EngineError> {
        self.call(|reply| Request::RemoveForward { forward, reply })
            .await?
    }

    /// The open forwards, with what each has carried.
    pub async fn forwards(&self) -> Result<Vec<ForwardInfo>, EngineError> {
        self.call(|reply| Request::Forwards { reply }).await
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    /// Starts (or stops) recording: with a vault, every open link that is not yet recorded
    /// starts a flight now, and links opened later record too (a vault created mid-session
    /// records the session from then on); `None` closes the flights being recorded.
    pub async fn set_record_to(&self, to: Option<RecordTo>) -> Result<(), EngineError> {
        self.call(|reply| Request::SetRecordTo { to, reply }).await
    }

    /// Stops the engine and every link it owns.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Lets what has been sent reach the transports (up to `limit`), then shuts down: the
    /// way a one-shot front end ends, so the last message of a transfer (the MISSION_ACK a
    /// PX4 waits for) is not lost with the process.
    pub async fn shutdown_gracefully(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            match self.call(|reply| Request::Pending { reply }).await {
                Ok(0) | Err(_) => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        // The transport has taken the last frame; give its write a moment to complete.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        // Closing the flights must not be cut short: a recording's last second is on disk
        // only when this returns. The limit is for the links; the disk gets a few seconds.
        let finish = self.call(|reply| Request::FinishRecordings { reply });
        if tokio::time::timeout(remaining + Duration::from_secs(5), finish)
            .await
            .is_err()
        {
            tracing::warn!("recordings did not close in time");
        }
        self.shutdown();
    }
}
