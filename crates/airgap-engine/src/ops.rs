//! Operations on one vehicle that take more than one message: commands, parameter and
//! mission transfers. Each wraps a sans-IO machine from `airgap-core`; the actor feeds it the
//! vehicle's messages and its deadlines, sends what it returns on the vehicle's link, and
//! hands the outcome to whoever asked.
//!
//! Operations that would confuse each other on the wire run one at a time per vehicle: a
//! PARAM_VALUE from a download would read as the answer to a PARAM_SET, and two mission
//! transfers share one set of MISSION_* messages. Those queue ([`Resource`]); commands have a
//! queue of their own. An operation whose requester has gone (the future was dropped) is
//! cancelled on the wire, so closing a dialog or pressing Ctrl-C stops a transfer.

use std::time::Duration;

use airgap_core::command::{Accepted, Command, CommandConfig, CommandError, CommandTransaction};
use airgap_core::dialect::MavMissionType;
use airgap_core::ftp::{self, FtpConfig, FtpError, FtpTransfer};
use airgap_core::mission::transfer::{
    self, Clear, Difference, Download, MissionTransfer, SetCurrent, SetCurrentMethod, Target,
    TransferConfig, TransferError, Upload,
};
use airgap_core::mission::MissionItem;
use airgap_core::params::protocol::{
    DownloadConfig, DownloadError, Encoding, ParamDownload, ParamError, ParamGet, ParamSet,
    SingleConfig,
};
use airgap_core::params::Param;
use airgap_core::MavMessage;
use tokio::sync::oneshot;

use crate::VehicleKey;

/// Machines without a deadline of their own (commands, single parameters) are polled this
/// often; their retry intervals are hundreds of milliseconds.
const POLL_PERIOD: Duration = Duration::from_millis(50);

/// What an operation is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpKind {
    Command,
    ParamDownload,
    ParamGet,
    ParamSet,
    MissionUpload(MavMissionType),
    /// Reading the mission back after an upload to compare it.
    MissionVerify(MavMissionType),
    MissionDownload(MavMissionType),
    MissionClear(MavMissionType),
    MissionSetCurrent,
}

/// How far an operation has got: `done` of `total` items (parameters, mission items) or, over
/// MAVFTP, bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpProgress {
    pub key: VehicleKey,
    pub kind: OpKind,
    pub done: u32,
    /// Unknown until the vehicle has said how many there are.
    pub total: Option<u32>,
    pub unit: ProgressUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressUnit {
    Items,
    /// A MAVFTP transfer: parameters and missions move as one file.
    Bytes,
}

/// Why an operation did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    #[error("no vehicle {0} has been heard on any link")]
    NoVehicle(VehicleKey),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    ParamDownload(#[from] DownloadError),
    #[error("{0}")]
    Mission(#[from] TransferError),
    #[error("MAVFTP: {0}")]
    Ftp(#[from] FtpError),
    #[error("the vehicle's copy differs from what was uploaded: {}", describe(.0))]
    VerifyFailed(Vec<Difference>),
    #[error("cancelled")]
    Cancelled,
    #[error("the engine has stopped")]
    Stopped,
}

fn describe(differences: &[Difference]) -> String {
    let mut parts: Vec<String> = differences
        .iter()
        .take(3)
        .map(|d| match d {
            Difference::Count {
                uploaded,
                downloaded,
            } => format!("{uploaded} items sent, {downloaded} stored"),
            Difference::Item { seq, fields, .. } => {
                format!("item {seq} differs in {}", fields.join(", "))
            }
        })
        .collect();
    if differences.len() > 3 {
        parts.push(format!("and {} more", differences.len() - 3));
    }
    parts.join("; ")
}

/// What a successful upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadReport {
    pub items: usize,
    /// The mission was read back and matched.
    pub verified: bool,
}

/// What must not run twice at once on one vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Commands,
    /// Parameter and mission transfers.
    Transfers,
}

/// A sans-IO machine, seen the same way whatever it computes.
pub(crate) trait Machine: Send + 'static {
    type Output: Send + 'static;
    fn start(&mut self, now: Duration) -> Vec<MavMessage>;
    fn handle(&mut self, now: Duration, sysid: u8, compid: u8, msg: &MavMessage)
        -> Vec<MavMessage>;
    fn poll(&mut self, now: Duration) -> Vec<MavMessage>;
    fn cancel(&mut self, now: Duration) -> Vec<MavMessage>;
    /// When `poll` next has work, for machines that know (`None`: poll it every
    /// [`POLL_PERIOD`]).
    fn deadline(&self) -> Option<Duration>;
    fn progress(&self) -> Option<Step>;
    fn take_outcome(&mut self) -> Option<Result<Self::Output, OpError>>;
    /// Where MAVFTP numbering continues after this machine (`None`: it used none).
    fn next_ftp_seq(&self) -> Option<u16> {
        None
    }
}

/// A machine's progress: what it is doing, `done` of `total` in `unit`.
pub(crate) type Step = (OpKind, u32, Option<u32>, ProgressUnit);

/// A machine chosen at run time (MAVFTP or the classic protocol).
pub(crate) type BoxedMachine<T> = Box<dyn Machine<Output = T>>;

impl<T: Send + 'static> Machine for BoxedMachine<T> {
    type Output = T;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        (**self).start(now)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        (**self).handle(now, sysid, compid, msg)
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        (**self).poll(now)
    }

    fn cancel(&mut self, now: Duration) -> Vec<MavMessage> {
        (**self).cancel(now)
    }

    fn deadline(&self) -> Option<Duration> {
        (**self).deadline()
    }

    fn progress(&self) -> Option<Step> {
        (**self).progress()
    }

    fn take_outcome(&mut self) -> Option<Result<T, OpError>> {
        (**self).take_outcome()
    }

    fn next_ftp_seq(&self) -> Option<u16> {
        (**self).next_ftp_seq()
    }
}

/// One operation in the actor's hands.
pub(crate) trait Op: Send {
    fn key(&self) -> VehicleKey;
    fn resource(&self) -> Resource;
    fn start(&mut self, now: Duration) -> Vec<MavMessage>;
    fn handle(&mut self, now: Duration, sysid: u8, compid: u8, msg: &MavMessage)
        -> Vec<MavMessage>;
    fn poll(&mut self, now: Duration) -> Vec<MavMessage>;
    /// When to poll next: the machine's own deadline, and at least every [`POLL_PERIOD`].
    fn deadline(&self) -> Duration;
    fn progress(&self) -> Option<OpProgress>;
    /// Hands over the outcome once there is one, or cancels the operation when its requester
    /// has gone; returns whether the operation is over, and what cancelling sends.
    fn settle(&mut self, now: Duration) -> (bool, Vec<MavMessage>);
    /// Ends the operation without it having started (the vehicle went away, the engine stops).
    fn abandon(&mut self, error: OpError);
    fn next_ftp_seq(&self) -> Option<u16>;
}

pub(crate) struct Running<M: Machine> {
    key: VehicleKey,
    resource: Resource,
    machine: M,
    reply: Option<oneshot::Sender<Result<M::Output, OpError>>>,
    /// When the machine was started or last polled.
    polled_at: Duration,
}

impl<M: Machine> Running<M> {
    pub(crate) fn boxed(
        key: VehicleKey,
        resource: Resource,
        machine: M,
        reply: oneshot::Sender<Result<M::Output, OpError>>,
    ) -> Box<dyn Op> {
        Box::new(Running {
            key,
            resource,
            machine,
            reply: Some(reply),
            polled_at: Duration::ZERO,
        })
    }
}

impl<M: Machine> Op for Running<M> {
    fn key(&self) -> VehicleKey {
        self.key
    }

    fn resource(&self) -> Resource {
        self.resource
    }

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        self.polled_at = now;
        self.machine.start(now)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        self.machine.handle(now, sysid, compid, msg)
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        self.polled_at = now;
        self.machine.poll(now)
    }

    fn deadline(&self) -> Duration {
        let period = self.polled_at + POLL_PERIOD;
        self.machine.deadline().map_or(period, |d| d.min(period))
    }

    fn progress(&self) -> Option<OpProgress> {
        self.machine
            .progress()
            .map(|(kind, done, total, unit)| OpProgress {
                key: self.key,
                kind,
                done,
                total,
                unit,
            })
    }

    fn settle(&mut self, now: Duration) -> (bool, Vec<MavMessage>) {
        let Some(reply) = self.reply.as_ref() else {
            return (true, Vec::new());
        };
        let mut out = Vec::new();
        if reply.is_closed() {
            out = self.machine.cancel(now);
        }
        match self.machine.take_outcome() {
            Some(outcome) => {
                if let Some(reply) = self.reply.take() {
                    // The requester may have gone in the meantime: nobody to tell.
                    let _ = reply.send(outcome);
                }
                (true, out)
            }
            None => (false, out),
        }
    }

    fn abandon(&mut self, error: OpError) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(error));
        }
    }

    fn next_ftp_seq(&self) -> Option<u16> {
        self.machine.next_ftp_seq()
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---- commands ----

pub(crate) struct CommandOp {
    tx: CommandTransaction,
    taken: bool,
}

impl CommandOp {
    pub(crate) fn new(key: VehicleKey, command: Command, own_id: (u8, u8)) -> CommandOp {
        let config = CommandConfig {
            own_id: Some(own_id),
            ..CommandConfig::default()
        };
        CommandOp {
            tx: CommandTransaction::new(key.sysid, key.compid, command, config),
            taken: false,
        }
    }
}

impl Machine for CommandOp {
    type Output = Accepted;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        self.tx.start(now)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        self.tx.handle(now, sysid, compid, msg)
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        self.tx.poll(now)
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        self.tx.cancel()
    }

    fn deadline(&self) -> Option<Duration> {
        None
    }

    fn progress(&self) -> Option<Step> {
        None
    }

    fn take_outcome(&mut self) -> Option<Result<Accepted, OpError>> {
        if self.taken {
            return None;
        }
        let outcome = self.tx.outcome()?.clone().map_err(OpError::from);
        self.taken = true;
        Some(outcome)
    }
}

// ---- parameters ----

pub(crate) struct ParamDownloadOp {
    download: ParamDownload,
}

impl ParamDownloadOp {
    pub(crate) fn new(key: VehicleKey, encoding: Encoding) -> ParamDownloadOp {
        let config = DownloadConfig {
            encoding,
            ..DownloadConfig::default()
        };
        ParamDownloadOp {
            download: ParamDownload::new(key.sysid, key.compid, config),
        }
    }
}

impl Machine for ParamDownloadOp {
    type Output = Vec<Param>;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        self.download.start(now)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        self.download.handle(now, sysid, compid, msg)
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        self.download.poll(now)
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        self.download.cancel();
        Vec::new()
    }

    fn deadline(&self) -> Option<Duration> {
        None
    }

    fn progress(&self) -> Option<Step> {
        let p = self.download.progress();
        Some((
            OpKind::ParamDownload,
            count(p.received),
            p.total.map(count),
            ProgressUnit::Items,
        ))
    }

    fn take_outcome(&mut self) -> Option<Result<Vec<Param>, OpError>> {
        self.download
            .take_outcome()
            .map(|r| r.map_err(OpError::from))
    }
}

/// Single parameter reads and writes are idempotent, so they are retried often and
/// quickly: at 30 % loss each way half the round trips fail, and twelve tries at 0.5 s
/// leave a 0.03 % chance of a false timeout (five at 1 s, the default, 3.5 %).
fn single_config(encoding: Encoding) -> SingleConfig {
    SingleConfig {
        encoding,
        retry_interval: Duration::from_millis(500),
        attempts: 12,
    }
}

pub(crate) struct ParamGetOp {
    get: ParamGet,
    taken: bool,
}

impl ParamGetOp {
    pub(crate) fn new(key: VehicleKey, name: &str, encoding: Encoding) -> Result<Self, OpError> {
        let config = single_config(encoding);
        Ok(ParamGetOp {
            get: ParamGet::new(key.sysid, key.compid, name, config)?,
            taken: false,
        })
    }
}

impl Machine for ParamGetOp {
    type Output = Param;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        self.get.start(now)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        self.get.handle(now, sysid, compid, msg)
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        self.get.poll(now)
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        self.get.cancel();
        Vec::new()
    }

    fn deadline(&self) -> Option<Duration> {
        None
    }

    fn progress(&self) -> Option<Step> {
        None
    }

    fn take_outcome(&mut self) -> Option<Result<Param, OpError>> {
        if self.taken {
            return None;
        }
        let outcome = self.get.outcome()?.clone().map_err(OpError::from);
        self.taken = true;
        Some(outcome)
    }
}

/// Sets a parameter by name: reads it first to learn the type the vehicle declares (a value
/// is encoded differently per type), unless the caller already knows it.
pub(crate) struct ParamSetOp {
    key: VehicleKey,
    value: f64,
    config: SingleConfig,
    phase: SetPhase,
    outcome: Option<Result<Param, OpError>>,
}

enum SetPhase {
    Reading(ParamGet),
    Writing(ParamSet),
    Done,
}

impl ParamSetOp {
    pub(crate) fn new(
        key: VehicleKey,
        name: &str,
        value: f64,
        encoding: Encoding,
    ) -> Result<Self, OpError> {
        let config = single_config(encoding);
        Ok(ParamSetOp {
            key,
            value,
            phase: SetPhase::Reading(ParamGet::new(key.sysid, key.compid, name, config.clone())?),
            config,
            outcome: None,
        })
    }

    /// Moves on when the current step has an outcome; returns what the next step sends.
    fn advance(&mut self, now: Duration) -> Vec<MavMessage> {
        match &self.phase {
            SetPhase::Reading(get) => match get.outcome() {
                None => Vec::new(),
                Some(Err(e)) => {
                    self.finish(Err(e.clone().into()));
                    Vec::new()
                }
                Some(Ok(current)) => {
                    let wanted = Param {
                        value: self.value,
                        ..current.clone()
                    };
                    match ParamSet::new(
                        self.key.sysid,
                        self.key.compid,
                        &wanted,
                        self.config.clone(),
                    ) {
                        Ok(mut set) => {
                            let out = set.start(now);
                            self.phase = SetPhase::Writing(set);
                            out
                        }
                        Err(e) => {
                            self.finish(Err(e.into()));
                            Vec::new()
                        }
                    }
                }
            },
            SetPhase::Writing(set) => {
                if let Some(outcome) = set.outcome() {
                    self.finish(outcome.clone().map_err(OpError::from));
                }
                Vec::new()
            }
            SetPhase::Done => Vec::new(),
        }
    }

    fn finish(&mut self, outcome: Result<Param, OpError>) {
        self.outcome = Some(outcome);
        self.phase = SetPhase::Done;
    }
}

impl Machine for ParamSetOp {
    type Output = Param;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        match &mut self.phase {
            SetPhase::Reading(get) => get.start(now),
            _ => Vec::new(),
        }
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        let mut out = match &mut self.phase {
            SetPhase::Reading(get) => get.handle(now, sysid, compid, msg),
            SetPhase::Writing(set) => set.handle(now, sysid, compid, msg),
            SetPhase::Done => Vec::new(),
        };
        out.extend(self.advance(now));
        out
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        let mut out = match &mut self.phase {
            SetPhase::Reading(get) => get.poll(now),
            SetPhase::Writing(set) => set.poll(now),
            SetPhase::Done => Vec::new(),
        };
        out.extend(self.advance(now));
        out
    }

    fn cancel(&mut self, _now: Duration) -> Vec<MavMessage> {
        if self.outcome.is_none() {
            self.finish(Err(OpError::Cancelled));
        }
        Vec::new()
    }

    fn deadline(&self) -> Option<Duration> {
        None
    }

    fn progress(&self) -> Option<Step> {
        None
    }

    fn take_outcome(&mut self) -> Option<Result<Param, OpError>> {
        self.outcome.take()
    }
}

// ---- missions ----

pub(crate) fn transfer_config(gcs_sysid: u8) -> TransferConfig {
    TransferConfig {
        gcs_system_id: Some(gcs_sysid),
        ..TransferConfig::default()
    }
}

fn target(key: VehicleKey) -> Target {
    Target {
        system_id: key.sysid,
        component_id: key.compid,
    }
}

/// The engine's adapter for a core transfer machine: the mission protocol's and MAVFTP's
/// machines have the same shape (`start`/`handle`/`poll`/`cancel`/`outcome`/`progress`/
/// `next_deadline`) under two traits; this writes the adapter once for each. `$progress`
/// turns the machine's progress into (done, total, unit); `$ftp_seq` says where its MAVFTP
/// numbering stands, if it speaks MAVFTP.
macro_rules! transfer_op {
    ($(#[$doc:meta])* $name:ident: $trait:ident, $progress:expr, $ftp_seq:expr) => {
        $(#[$doc])*
        pub(crate) struct $name<T: $trait> {
            kind: OpKind,
            transfer: T,
            taken: bool,
        }

        impl<T> Machine for $name<T>
        where
            T: $trait + Send + 'static,
            T::Output: Send + 'static,
        {
            type Output = T::Output;

            fn start(&mut self, now: Duration) -> Vec<MavMessage> {
                self.transfer.start(now)
            }

            fn handle(
                &mut self,
                now: Duration,
                sysid: u8,
                compid: u8,
                msg: &MavMessage,
            ) -> Vec<MavMessage> {
                self.transfer.handle(now, u32::from(sysid), compid, msg)
            }

            fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
                self.transfer.poll(now)
            }

            fn cancel(&mut self, now: Duration) -> Vec<MavMessage> {
                self.transfer.cancel(now)
            }

            fn deadline(&self) -> Option<Duration> {
                self.transfer.next_deadline()
            }

            fn progress(&self) -> Option<Step> {
                let (done, total, unit) = $progress(&self.transfer.progress());
                Some((self.kind, done, total, unit))
            }

            fn take_outcome(&mut self) -> Option<Result<T::Output, OpError>> {
                if self.taken {
                    return None;
                }
                let outcome = self.transfer.outcome()?.map_err(OpError::from);
                self.taken = true;
                Some(outcome)
            }

            fn next_ftp_seq(&self) -> Option<u16> {
                $ftp_seq(&self.transfer)
            }
        }
    };
}

transfer_op!(
    /// Any one mission-protocol machine, reporting as `kind`.
    MissionOp: MissionTransfer,
    |p: &transfer::Progress| (
        u32::from(p.done),
        (p.total > 0).then_some(u32::from(p.total)),
        ProgressUnit::Items,
    ),
    |_: &T| None
);

transfer_op!(
    /// Any one MAVFTP machine, reporting as `kind`.
    FtpOp: FtpTransfer,
    |p: &ftp::Progress| (p.bytes, p.total_bytes, ProgressUnit::Bytes),
    |t: &T| Some(t.next_seq())
);

pub(crate) fn mission_download(
    key: VehicleKey,
    mission_type: MavMissionType,
    config: TransferConfig,
) -> MissionOp<Download> {
    MissionOp {
        kind: OpKind::MissionDownload(mission_type),
        transfer: Download::new(target(key), mission_type, config),
        taken: false,
    }
}

pub(crate) fn mission_clear(
    key: VehicleKey,
    mission_type: MavMissionType,
    config: TransferConfig,
) -> MissionOp<Clear> {
    MissionOp {
        kind: OpKind::MissionClear(mission_type),
        transfer: Clear::new(target(key), mission_type, config),
        taken: false,
    }
}

pub(crate) fn mission_set_current(
    key: VehicleKey,
    seq: u16,
    config: TransferConfig,
) -> MissionOp<SetCurrent> {
    MissionOp {
        kind: OpKind::MissionSetCurrent,
        transfer: SetCurrent::new(target(key), seq, SetCurrentMethod::Command, config),
        taken: false,
    }
}

// ---- MAVFTP, and falling back from it ----

/// Tries MAVFTP first and, when the vehicle turns out not to offer it (or the transfer fails
/// for any reason but a cancel), does the same with the classic protocol. MAVFTP is an
/// optimisation: a pilot should never see a transfer fail because of it.
pub(crate) struct Fallback<T: Send + 'static> {
    current: BoxedMachine<T>,
    classic: Option<Box<dyn FnOnce() -> BoxedMachine<T> + Send>>,
    outcome: Option<Result<T, OpError>>,
    /// Where the abandoned MAVFTP attempt left the numbering.
    ftp_seq: Option<u16>,
}

impl<T: Send + 'static> Fallback<T> {
    fn new(
        ftp: BoxedMachine<T>,
        classic: impl FnOnce() -> BoxedMachine<T> + Send + 'static,
    ) -> Fallback<T> {
        Fallback {
            current: ftp,
            classic: Some(Box::new(classic)),
            outcome: None,
            ftp_seq: None,
        }
    }

    fn advance(&mut self, now: Duration) -> Vec<MavMessage> {
        match self.current.take_outcome() {
            None => Vec::new(),
            Some(Err(OpError::Ftp(error))) if error != FtpError::Cancelled => {
                match self.classic.take() {
                    Some(classic) => {
                        tracing::info!(%error, "MAVFTP failed; using the classic protocol");
                        self.ftp_seq = self.current.next_ftp_seq();
                        self.current = classic();
                        self.current.start(now)
                    }
                    None => {
                        self.outcome = Some(Err(OpError::Ftp(error)));
                        Vec::new()
                    }
                }
            }
            Some(outcome) => {
                self.outcome = Some(outcome);
                Vec::new()
            }
        }
    }
}

impl<T: Send + 'static> Machine for Fallback<T> {
    type Output = T;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        self.current.start(now)
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        let mut out = self.current.handle(now, sysid, compid, msg);
        out.extend(self.advance(now));
        out
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        let mut out = self.current.poll(now);
        out.extend(self.advance(now));
        out
    }

    fn cancel(&mut self, now: Duration) -> Vec<MavMessage> {
        self.classic = None;
        let out = self.current.cancel(now);
        self.advance(now);
        out
    }

    fn deadline(&self) -> Option<Duration> {
        self.current.deadline()
    }

    fn progress(&self) -> Option<Step> {
        self.current.progress()
    }

    fn take_outcome(&mut self) -> Option<Result<T, OpError>> {
        self.outcome.take()
    }

    fn next_ftp_seq(&self) -> Option<u16> {
        self.current.next_ftp_seq().or(self.ftp_seq)
    }
}

fn ftp_config(gcs_sysid: u8) -> FtpConfig {
    FtpConfig {
        gcs_system_id: Some(gcs_sysid),
        ..FtpConfig::default()
    }
}

/// How operations reach one vehicle.
#[derive(Clone)]
pub(crate) struct Route {
    key: VehicleKey,
    transfer: TransferConfig,
    /// `None`: the vehicle does not offer MAVFTP (or the pilot turned it off).
    ftp: Option<FtpConfig>,
}

impl Route {
    fn params_download(&self, encoding: Encoding) -> BoxedMachine<Vec<Param>> {
        let key = self.key;
        let classic =
            move || -> BoxedMachine<Vec<Param>> { Box::new(ParamDownloadOp::new(key, encoding)) };
        match &self.ftp {
            Some(config) => Box::new(Fallback::new(
                Box::new(FtpOp {
                    kind: OpKind::ParamDownload,
                    transfer: ftp::ParamFetch::new(target(key), config.clone()),
                    taken: false,
                }),
                classic,
            )),
            None => classic(),
        }
    }

    fn mission_download(
        &self,
        mission_type: MavMissionType,
        kind: OpKind,
    ) -> BoxedMachine<Vec<MissionItem>> {
        let (key, config) = (self.key, self.transfer.clone());
        let classic = move || -> BoxedMachine<Vec<MissionItem>> {
            let mut op = mission_download(key, mission_type, config);
            op.kind = kind;
            Box::new(op)
        };
        match &self.ftp {
            Some(ftp_config) => Box::new(Fallback::new(
                Box::new(FtpOp {
                    kind,
                    transfer: ftp::MissionFetch::new(target(key), mission_type, ftp_config.clone()),
                    taken: false,
                }),
                classic,
            )),
            None => classic(),
        }
    }

    fn mission_upload(
        &self,
        mission_type: MavMissionType,
        items: &[MissionItem],
    ) -> Result<BoxedMachine<()>, OpError> {
        let classic_upload = Upload::new(
            target(self.key),
            mission_type,
            items.to_vec(),
            self.transfer.clone(),
        )?;
        let kind = OpKind::MissionUpload(mission_type);
        let classic = move || -> BoxedMachine<()> {
            Box::new(MissionOp {
                kind,
                transfer: classic_upload,
                taken: false,
            })
        };
        let store = match &self.ftp {
            Some(config) => {
                ftp::MissionStore::new(target(self.key), mission_type, items, config.clone()).ok()
            }
            None => None,
        };
        Ok(match store {
            Some(store) => Box::new(Fallback::new(
                Box::new(FtpOp {
                    kind,
                    transfer: store,
                    taken: false,
                }),
                classic,
            )),
            None => classic(),
        })
    }
}

/// Upload, then — when asked — download and compare.
pub(crate) struct MissionUploadOp {
    route: Route,
    mission_type: MavMissionType,
    items: Vec<MissionItem>,
    verify: bool,
    phase: UploadPhase,
    outcome: Option<Result<UploadReport, OpError>>,
}

enum UploadPhase {
    Uploading(BoxedMachine<()>),
    Verifying(BoxedMachine<Vec<MissionItem>>),
    Done,
}

impl MissionUploadOp {
    fn new(
        route: Route,
        mission_type: MavMissionType,
        items: Vec<MissionItem>,
        verify: bool,
    ) -> Result<MissionUploadOp, OpError> {
        let upload = route.mission_upload(mission_type, &items)?;
        Ok(MissionUploadOp {
            route,
            mission_type,
            items,
            verify,
            phase: UploadPhase::Uploading(upload),
            outcome: None,
        })
    }

    fn advance(&mut self, now: Duration) -> Vec<MavMessage> {
        match &mut self.phase {
            UploadPhase::Uploading(up) => match up.take_outcome() {
                None => Vec::new(),
                Some(Err(e)) => self.finish(Err(e)),
                Some(Ok(())) if !self.verify => self.finish(Ok(UploadReport {
                    items: self.items.len(),
                    verified: false,
                })),
                Some(Ok(())) => {
                    if let (Some(seq), Some(ftp)) = (up.next_ftp_seq(), self.route.ftp.as_mut()) {
                        ftp.first_seq = seq;
                    }
                    let mut down = self.route.mission_download(
                        self.mission_type,
                        OpKind::MissionVerify(self.mission_type),
                    );
                    let out = down.start(now);
                    self.phase = UploadPhase::Verifying(down);
                    out
                }
            },
            UploadPhase::Verifying(down) => match down.take_outcome() {
                None => Vec::new(),
                Some(Err(e)) => self.finish(Err(e)),
                Some(Ok(stored)) => {
                    let differences = transfer::verify(self.mission_type, &self.items, &stored);
                    if differences.is_empty() {
                        self.finish(Ok(UploadReport {
                            items: self.items.len(),
                            verified: true,
                        }))
                    } else {
                        self.finish(Err(OpError::VerifyFailed(differences)))
                    }
                }
            },
            UploadPhase::Done => Vec::new(),
        }
    }

    fn finish(&mut self, outcome: Result<UploadReport, OpError>) -> Vec<MavMessage> {
        let seq = match &self.phase {
            UploadPhase::Uploading(up) => up.next_ftp_seq(),
            UploadPhase::Verifying(down) => down.next_ftp_seq(),
            UploadPhase::Done => None,
        };
        if let (Some(seq), Some(ftp)) = (seq, self.route.ftp.as_mut()) {
            ftp.first_seq = seq;
        }
        self.outcome = Some(outcome);
        self.phase = UploadPhase::Done;
        Vec::new()
    }
}

impl Machine for MissionUploadOp {
    type Output = UploadReport;

    fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        match &mut self.phase {
            UploadPhase::Uploading(up) => up.start(now),
            _ => Vec::new(),
        }
    }

    fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        let mut out = match &mut self.phase {
            UploadPhase::Uploading(up) => up.handle(now, sysid, compid, msg),
            UploadPhase::Verifying(down) => down.handle(now, sysid, compid, msg),
            UploadPhase::Done => Vec::new(),
        };
        out.extend(self.advance(now));
        out
    }

    fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        let mut out = match &mut self.phase {
            UploadPhase::Uploading(up) => up.poll(now),
            UploadPhase::Verifying(down) => down.poll(now),
            UploadPhase::Done => Vec::new(),
        };
        out.extend(self.advance(now));
        out
    }

    fn cancel(&mut self, now: Duration) -> Vec<MavMessage> {
        let out = match &mut self.phase {
            UploadPhase::Uploading(up) => up.cancel(now),
            UploadPhase::Verifying(down) => down.cancel(now),
            UploadPhase::Done => Vec::new(),
        };
        if self.outcome.is_none() {
            self.finish(Err(OpError::Cancelled));
        }
        out
    }

    fn deadline(&self) -> Option<Duration> {
        match &self.phase {
            UploadPhase::Uploading(up) => up.deadline(),
            UploadPhase::Verifying(down) => down.deadline(),
            UploadPhase::Done => None,
        }
    }

    fn progress(&self) -> Option<Step> {
        match &self.phase {
            UploadPhase::Uploading(up) => up.progress(),
            UploadPhase::Verifying(down) => down.progress(),
            UploadPhase::Done => None,
        }
    }

    fn take_outcome(&mut self) -> Option<Result<UploadReport, OpError>> {
        self.outcome.take()
    }

    fn next_ftp_seq(&self) -> Option<u16> {
        match &self.phase {
            UploadPhase::Uploading(up) => up.next_ftp_seq(),
            UploadPhase::Verifying(down) => down.next_ftp_seq(),
            UploadPhase::Done => self.route.ftp.as_ref().map(|f| f.first_seq),
        }
    }
}

// ---- requests ----

/// A request for an operation, with the typed reply its requester waits on.
pub(crate) enum OpRequest {
    Command {
        key: VehicleKey,
        command: Command,
        reply: oneshot::Sender<Result<Accepted, OpError>>,
    },
    ParamDownload {
        key: VehicleKey,
        reply: oneshot::Sender<Result<Vec<Param>, OpError>>,
    },
    ParamGet {
        key: VehicleKey,
        name: String,
        reply: oneshot::Sender<Result<Param, OpError>>,
    },
    ParamSet {
        key: VehicleKey,
        name: String,
        value: f64,
        reply: oneshot::Sender<Result<Param, OpError>>,
    },
    MissionUpload {
        key: VehicleKey,
        mission_type: MavMissionType,
        items: Vec<MissionItem>,
        verify: bool,
        reply: oneshot::Sender<Result<UploadReport, OpError>>,
    },
    MissionDownload {
        key: VehicleKey,
        mission_type: MavMissionType,
        reply: oneshot::Sender<Result<Vec<MissionItem>, OpError>>,
    },
    MissionClear {
        key: VehicleKey,
        mission_type: MavMissionType,
        reply: oneshot::Sender<Result<(), OpError>>,
    },
    MissionSetCurrent {
        key: VehicleKey,
        seq: u16,
        reply: oneshot::Sender<Result<(), OpError>>,
    },
}

/// What the actor knows that shapes an operation.
pub(crate) struct OpContext {
    pub gcs_id: (u8, u8),
    /// How the vehicle encodes parameter values.
    pub encoding: Encoding,
    /// Whether to try MAVFTP for parameter and mission transfers: the vehicle offers it, or
    /// has not said (yet) and the classic protocol remains as a fallback.
    pub ftp: bool,
    /// Where the vehicle's MAVFTP numbering stands.
    pub ftp_seq: u16,
}

fn send_err<T>(reply: oneshot::Sender<Result<T, OpError>>, error: OpError) {
    // The requester may have gone already: nobody to tell.
    let _ = reply.send(Err(error));
}

impl OpRequest {
    pub(crate) fn key(&self) -> VehicleKey {
        match self {
            OpRequest::Command { key, .. }
            | OpRequest::ParamDownload { key, .. }
            | OpRequest::ParamGet { key, .. }
            | OpRequest::ParamSet { key, .. }
            | OpRequest::MissionUpload { key, .. }
            | OpRequest::MissionDownload { key, .. }
            | OpRequest::MissionClear { key, .. }
            | OpRequest::MissionSetCurrent { key, .. } => *key,
        }
    }

    pub(crate) fn resource(&self) -> Resource {
        match self {
            OpRequest::Command { .. } => Resource::Commands,
            _ => Resource::Transfers,
        }
    }

    /// Tells the requester the operation cannot run.
    pub(crate) fn refuse(self, error: OpError) {
        match self {
            OpRequest::Command { reply, .. } => send_err(reply, error),
            OpRequest::ParamDownload { reply, .. } => send_err(reply, error),
            OpRequest::ParamGet { reply, .. } | OpRequest::ParamSet { reply, .. } => {
                send_err(reply, error)
            }
            OpRequest::MissionUpload { reply, .. } => send_err(reply, error),
            OpRequest::MissionDownload { reply, .. } => send_err(reply, error),
            OpRequest::MissionClear { reply, .. } | OpRequest::MissionSetCurrent { reply, .. } => {
                send_err(reply, error)
            }
        }
    }

    /// The operation, or `None` when the request was invalid (its requester has been told).
    pub(crate) fn build(self, ctx: &OpContext) -> Option<Box<dyn Op>> {
        use Resource::{Commands, Transfers};
        let config = transfer_config(ctx.gcs_id.0);
        let route = Route {
            key: self.key(),
            transfer: config.clone(),
            ftp: ctx.ftp.then(|| FtpConfig {
                first_seq: ctx.ftp_seq,
                ..ftp_config(ctx.gcs_id.0)
            }),
        };
        Some(match self {
            OpRequest::Command {
                key,
                command,
                reply,
            } => Running::boxed(
                key,
                Commands,
                CommandOp::new(key, command, ctx.gcs_id),
                reply,
            ),
            OpRequest::ParamDownload { key, reply } => {
                Running::boxed(key, Transfers, route.params_download(ctx.encoding), reply)
            }
            OpRequest::ParamGet { key, name, reply } => {
                match ParamGetOp::new(key, &name, ctx.encoding) {
                    Ok(op) => Running::boxed(key, Transfers, op, reply),
                    Err(e) => {
                        send_err(reply, e);
                        return None;
                    }
                }
            }
            OpRequest::ParamSet {
                key,
                name,
                value,
                reply,
            } => match ParamSetOp::new(key, &name, value, ctx.encoding) {
                Ok(op) => Running::boxed(key, Transfers, op, reply),
                Err(e) => {
                    send_err(reply, e);
                    return None;
                }
            },
            OpRequest::MissionUpload {
                key,
                mission_type,
                items,
                verify,
                reply,
            } => match MissionUploadOp::new(route, mission_type, items, verify) {
                Ok(op) => Running::boxed(key, Transfers, op, reply),
                Err(e) => {
                    send_err(reply, e);
                    return None;
                }
            },
            OpRequest::MissionDownload {
                key,
                mission_type,
                reply,
            } => Running::boxed(
                key,
                Transfers,
                route.mission_download(mission_type, OpKind::MissionDownload(mission_type)),
                reply,
            ),
            OpRequest::MissionClear {
                key,
                mission_type,
                reply,
            } => Running::boxed(
                key,
                Transfers,
                mission_clear(key, mission_type, config),
                reply,
            ),
            OpRequest::MissionSetCurrent { key, seq, reply } => {
                Running::boxed(key, Transfers, mission_set_current(key, seq, config), reply)
            }
        })
    }
}
