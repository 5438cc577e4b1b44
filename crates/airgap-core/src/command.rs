//! Commands to a vehicle: what the pilot's buttons send ([`Command`] and its builders) and
//! the sans-IO exchange that gets a command acknowledged over a lossy link
//! ([`CommandTransaction`]: COMMAND_LONG / COMMAND_INT until the matching COMMAND_ACK,
//! retried, with the vehicle's STATUSTEXT explanation kept for a refusal).
//!
//! The builders follow ArduPilot's reading of the parameters, and PX4's where it differs
//! (mode numbers, takeoff altitude): see each one.

use std::time::Duration;

use crate::dialect::{
    MavCmd, MavDoRepositionFlags, MavFrame, MavModeFlag, MavResult, MavSeverity, COMMAND_ACK_DATA,
    COMMAND_CANCEL_DATA, COMMAND_INT_DATA, COMMAND_LONG_DATA,
};
use crate::modes::ModeTable;
use crate::MavMessage;

/// param2 of MAV_CMD_COMPONENT_ARM_DISARM that makes ArduPilot and PX4 disarm even in flight.
pub const FORCE_DISARM_MAGIC: f32 = 21196.0;

/// STATUSTEXT lines kept with one command: enough for a page of PreArm failures.
const STATUSTEXT_KEPT: usize = 10;

/// One command as it goes on the wire, minus addressing and the confirmation counter.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Long {
        command: MavCmd,
        params: [f32; 7],
    },
    /// For commands with a position: latitude and longitude as degrees × 1e7 integers keep
    /// centimetre precision, which COMMAND_LONG's floats lose.
    Int {
        command: MavCmd,
        frame: MavFrame,
        params: [f32; 4],
        x: i32,
        y: i32,
        z: f32,
    },
}

/// A command the builders cannot make from what they were given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidCommand {
    #[error("{table:?} has no mode called {name:?}")]
    UnknownMode { name: String, table: ModeTable },
    #[error("{lat_deg}, {lon_deg} is not a position on Earth")]
    BadPosition { lat_deg: f64, lon_deg: f64 },
    #[error("{alt_m} m is not a usable altitude")]
    BadAltitude { alt_m: f32 },
}

impl Command {
    pub fn id(&self) -> MavCmd {
        match self {
            Command::Long { command, .. } | Command::Int { command, .. } => *command,
        }
    }

    /// The message for `target`. `confirmation` counts retransmissions of a COMMAND_LONG
    /// (0 the first time) so the vehicle can tell a retry from a new command; COMMAND_INT
    /// has no such field.
    pub fn to_message(
        &self,
        target_system: u8,
        target_component: u8,
        confirmation: u8,
    ) -> MavMessage {
        match *self {
            Command::Long { command, params: p } => MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
                param1: p[0],
                param2: p[1],
                param3: p[2],
                param4: p[3],
                param5: p[4],
                param6: p[5],
                param7: p[6],
                command,
                target_system,
                target_component,
                confirmation,
            }),
            Command::Int {
                command,
                frame,
                params: p,
                x,
                y,
                z,
            } => MavMessage::COMMAND_INT(COMMAND_INT_DATA {
                param1: p[0],
                param2: p[1],
                param3: p[2],
                param4: p[3],
                x,
                y,
                z,
                command,
                target_system,
                target_component,
                frame,
                current: 0,
                autocontinue: 0,
            }),
        }
    }

    fn long(command: MavCmd, params: [f32; 7]) -> Command {
        Command::Long { command, params }
    }

    pub fn arm() -> Command {
        Command::long(
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
    }

    pub fn disarm() -> Command {
        Command::long(MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, [0.0; 7])
    }

    /// Disarms even in flight: the motors stop and the vehicle falls. Front ends confirm it
    /// with the pilot first.
    pub fn force_disarm() -> Command {
        Command::long(
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [0.0, FORCE_DISARM_MAGIC, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
    }

    /// MAV_CMD_DO_SET_MODE for a mode name of `table`. ArduPilot takes its mode number in
    /// param2; PX4 takes the main mode in param2 and the sub mode in param3. Both need
    /// MAV_MODE_FLAG_CUSTOM_MODE_ENABLED in param1 to read them as custom modes.
    pub fn set_mode(table: ModeTable, name: &str) -> Result<Command, InvalidCommand> {
        let unknown = || InvalidCommand::UnknownMode {
            name: name.to_owned(),
            table,
        };
        let custom_mode = table.number(name).ok_or_else(unknown)?;
        let base = f32::from(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED.bits());
        let params = match table {
            ModeTable::Px4 => {
                // `ModeTable` packs PX4 modes as sub << 24 | main << 16.
                let main = (custom_mode >> 16) & 0xff;
                let sub = (custom_mode >> 24) & 0xff;
                [base, main as f32, sub as f32, 0.0, 0.0, 0.0, 0.0]
            }
            ModeTable::Unknown => return Err(unknown()),
            // ArduPilot mode numbers are small, exact in a float.
            _ => [base, custom_mode as f32, 0.0, 0.0, 0.0, 0.0, 0.0],
        };
        Ok(Command::long(MavCmd::MAV_CMD_DO_SET_MODE, params))
    }

    /// MAV_CMD_NAV_TAKEOFF to `alt_m` above home, as ArduPilot reads param7 (Copter needs
    /// GUIDED mode and armed motors first).
    pub fn takeoff(alt_m: f32) -> Result<Command, InvalidCommand> {
        check_alt(alt_m)?;
        Ok(Command::long(
            MavCmd::MAV_CMD_NAV_TAKEOFF,
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, alt_m],
        ))
    }

    /// MAV_CMD_NAV_TAKEOFF as PX4 reads it: param7 is an altitude above mean sea level, and
    /// NaN yaw and position mean "as now" (zeros would mean 0°N 0°E).
    pub fn takeoff_px4(alt_amsl_m: f32) -> Result<Command, InvalidCommand> {
        check_alt(alt_amsl_m)?;
        Ok(Command::long(
            MavCmd::MAV_CMD_NAV_TAKEOFF,
            [0.0, 0.0, 0.0, f32::NAN, f32::NAN, f32::NAN, alt_amsl_m],
        ))
    }

    /// Land where the vehicle is (ArduPilot switches to LAND, PX4 to Land).
    pub fn land() -> Command {
        Command::long(MavCmd::MAV_CMD_NAV_LAND, [0.0; 7])
    }

    pub fn return_to_launch() -> Command {
        Command::long(MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH, [0.0; 7])
    }

    /// Fly to a point and hold there, `alt_m` above home.
    ///
    /// MAV_CMD_DO_REPOSITION in a COMMAND_INT rather than SET_POSITION_TARGET_GLOBAL_INT:
    /// the command is acknowledged, so the pilot learns whether the vehicle took it, and with
    /// the CHANGE_MODE flag ArduPilot (Copter 4.1+, Plane) and PX4 switch to their guided
    /// mode themselves instead of refusing outside it. Speed -1 and yaw NaN keep the
    /// vehicle's defaults. The altitude is above home for ArduPilot, which honours the
    /// frame; PX4 reads DO_REPOSITION's altitude as above mean sea level whatever the frame,
    /// so for PX4 pass home's altitude plus the height wanted.
    pub fn go_to(lat_deg: f64, lon_deg: f64, alt_m: f32) -> Result<Command, InvalidCommand> {
        let (x, y) = position_e7(lat_deg, lon_deg)?;
        check_alt(alt_m)?;
        let change_mode = MavDoRepositionFlags::MAV_DO_REPOSITION_FLAGS_CHANGE_MODE.bits();
        Ok(Command::Int {
            command: MavCmd::MAV_CMD_DO_REPOSITION,
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            params: [-1.0, f32::from(change_mode), 0.0, f32::NAN],
            x,
            y,
            z: alt_m,
        })
    }

    /// Makes the vehicle's current position its home.
    pub fn set_home_here() -> Command {
        Command::long(
            MavCmd::MAV_CMD_DO_SET_HOME,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
    }

    /// Sets home to a point, `alt_amsl_m` above mean sea level.
    pub fn set_home(
        lat_deg: f64,
        lon_deg: f64,
        alt_amsl_m: f32,
    ) -> Result<Command, InvalidCommand> {
        let (x, y) = position_e7(lat_deg, lon_deg)?;
        check_alt(alt_amsl_m)?;
        Ok(Command::Int {
            command: MavCmd::MAV_CMD_DO_SET_HOME,
            frame: MavFrame::MAV_FRAME_GLOBAL,
            params: [0.0; 4],
            x,
            y,
            z: alt_amsl_m,
        })
    }
}

fn check_alt(alt_m: f32) -> Result<(), InvalidCommand> {
    // Beyond ±100 km is a typo or a unit mix-up, not a flight.
    if alt_m.is_finite() && alt_m.abs() <= 100_000.0 {
        Ok(())
    } else {
        Err(InvalidCommand::BadAltitude { alt_m })
    }
}

/// Degrees to the degrees × 1e7 integers of the wire, rounded (not truncated) so a point
/// survives the round trip.
fn position_e7(lat_deg: f64, lon_deg: f64) -> Result<(i32, i32), InvalidCommand> {
    let valid = lat_deg.is_finite()
        && lon_deg.is_finite()
        && (-90.0..=90.0).contains(&lat_deg)
        && (-180.0..=180.0).contains(&lon_deg);
    if !valid {
        return Err(InvalidCommand::BadPosition { lat_deg, lon_deg });
    }
    // In range, so both fit an i32 (1.8e9 < 2.1e9).
    Ok((
        (lat_deg * 1e7).round() as i32,
        (lon_deg * 1e7).round() as i32,
    ))
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandConfig {
    /// Transmissions in all before [`CommandError::Timeout`].
    pub attempts: u8,
    /// Wait this long for an ACK before sending again.
    pub retry_interval: Duration,
    /// After an IN_PROGRESS ack, wait this long for the next ack (progress or final) before
    /// giving up. Nothing is re-sent then: that would start the command again.
    pub in_progress_timeout: Duration,
    /// Our own (system, component). When set, an ACK addressed to another ground station
    /// (its target fields set and not ours) is not taken for the answer to ours.
    pub own_id: Option<(u8, u8)>,
}

impl Default for CommandConfig {
    fn default() -> Self {
        CommandConfig {
            // At 30 % loss each way a round trip fails half the time: three attempts leave a
            // 13 % chance of a false timeout, five leave 3 % (measured in the tests below).
            attempts: 5,
            retry_interval: Duration::from_secs(1),
            in_progress_timeout: Duration::from_secs(10),
            own_id: None,
        }
    }
}

/// The vehicle did the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The command-specific extra result of COMMAND_ACK (0 if the vehicle sent none).
    pub result_param2: i32,
}

/// Why a command was not done. Refusals carry the STATUSTEXT lines (warning or worse) the
/// vehicle sent between the command and its answer: the "PreArm: …" that says why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("denied by the vehicle{}", because(statustext))]
    Denied { statustext: Vec<String> },
    #[error(
        "temporarily rejected by the vehicle; try again{}",
        because(statustext)
    )]
    TemporarilyRejected { statustext: Vec<String> },
    #[error("the vehicle does not support this command{}", because(statustext))]
    Unsupported { statustext: Vec<String> },
    #[error("the vehicle failed to do the command{}", because(statustext))]
    Failed { statustext: Vec<String> },
    #[error("the vehicle cancelled the command{}", because(statustext))]
    CancelledByVehicle { statustext: Vec<String> },
    /// A result this module gives no name of its own (COMMAND_INT_ONLY, NOT_IN_CONTROL, …).
    #[error("refused by the vehicle ({result:?}){}", because(statustext))]
    Refused {
        result: MavResult,
        statustext: Vec<String>,
    },
    #[error("no answer from the vehicle after {attempts} attempts{}", if *in_progress { " (it had started)" } else { "" })]
    Timeout {
        attempts: u8,
        /// The vehicle had reported IN_PROGRESS, then went quiet.
        in_progress: bool,
    },
    #[error("cancelled")]
    Cancelled,
}

impl CommandError {
    /// The vehicle's own words about the refusal, if it sent any.
    pub fn statustext(&self) -> &[String] {
        match self {
            CommandError::Denied { statustext }
            | CommandError::TemporarilyRejected { statustext }
            | CommandError::Unsupported { statustext }
            | CommandError::Failed { statustext }
            | CommandError::CancelledByVehicle { statustext }
            | CommandError::Refused { statustext, .. } => statustext,
            CommandError::Timeout { .. } | CommandError::Cancelled => &[],
        }
    }
}

fn because(statustext: &[String]) -> String {
    if statustext.is_empty() {
        String::new()
    } else {
        format!(": {}", statustext.join("; "))
    }
}

/// Where a command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandProgress {
    /// Sent `attempt` times, no answer yet.
    Sent {
        attempt: u8,
    },
    /// The vehicle is working on it (MAV_RESULT_IN_PROGRESS); percent when it says.
    InProgress {
        progress_pct: Option<u8>,
    },
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Sending {
        sent_at: Duration,
    },
    InProgress {
        progress_pct: Option<u8>,
        heard_at: Duration,
    },
    Done,
}

/// One command sent to one vehicle until it answers; see the module documentation.
#[derive(Debug, Clone)]
pub struct CommandTransaction {
    target_system: u8,
    /// 0 (all components) takes the answer from any component of the target system.
    target_component: u8,
    command: Command,
    config: CommandConfig,
    state: State,
    attempts_sent: u8,
    statustext: Vec<String>,
    /// (id, chunk_seq) of the last line kept, to join a STATUSTEXT sent in chunks.
    last_chunk: Option<(u16, u8)>,
    outcome: Option<Result<Accepted, CommandError>>,
}

impl CommandTransaction {
    pub fn new(
        target_system: u8,
        target_component: u8,
        command: Command,
        config: CommandConfig,
    ) -> Self {
        CommandTransaction {
            target_system,
            target_component,
            command,
            config,
            state: State::Sending {
                sent_at: Duration::ZERO,
            },
            attempts_sent: 0,
            statustext: Vec::new(),
            last_chunk: None,
            outcome: None,
        }
    }

    pub fn command(&self) -> &Command {
        &self.command
    }

    pub fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        vec![self.send(now)]
    }

    pub fn handle(
        &mut self,
        now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if self.outcome.is_some() || sysid != self.target_system {
            return Vec::new();
        }
        match msg {
            // Lines from any component of the vehicle: a refusal may be explained by the
            // autopilot while a companion computer answers, or the other way round.
            MavMessage::STATUSTEXT(s)
                if (s.severity as u8) <= (MavSeverity::MAV_SEVERITY_WARNING as u8) =>
            {
                self.keep_statustext(s.id, s.chunk_seq, &s.text[..]);
            }
            MavMessage::COMMAND_ACK(ack) if self.is_our_ack(compid, ack) => self.on_ack(now, ack),
            _ => {}
        }
        Vec::new()
    }

    pub fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        match self.state {
            State::Sending { sent_at } => {
                if now.saturating_sub(sent_at) < self.config.retry_interval {
                    Vec::new()
                } else if self.attempts_sent < self.config.attempts {
                    vec![self.send(now)]
                } else {
                    self.finish(Err(CommandError::Timeout {
                        attempts: self.attempts_sent,
                        in_progress: false,
                    }));
                    Vec::new()
                }
            }
            State::InProgress { heard_at, .. } => {
                if now.saturating_sub(heard_at) >= self.config.in_progress_timeout {
                    self.finish(Err(CommandError::Timeout {
                        attempts: self.attempts_sent,
                        in_progress: true,
                    }));
                }
                Vec::new()
            }
            State::Done => Vec::new(),
        }
    }

    /// Stops waiting. A command the vehicle reported as in progress is also cancelled on the
    /// vehicle (COMMAND_CANCEL, returned here to send).
    pub fn cancel(&mut self) -> Vec<MavMessage> {
        if self.outcome.is_some() {
            return Vec::new();
        }
        let was_in_progress = matches!(self.state, State::InProgress { .. });
        self.finish(Err(CommandError::Cancelled));
        if was_in_progress {
            vec![MavMessage::COMMAND_CANCEL(COMMAND_CANCEL_DATA {
                command: self.command.id(),
                target_system: self.target_system,
                target_component: self.target_component,
            })]
        } else {
            Vec::new()
        }
    }

    pub fn outcome(&self) -> Option<&Result<Accepted, CommandError>> {
        self.outcome.as_ref()
    }

    pub fn progress(&self) -> CommandProgress {
        match self.state {
            State::Sending { .. } => CommandProgress::Sent {
                attempt: self.attempts_sent,
            },
            State::InProgress { progress_pct, .. } => CommandProgress::InProgress { progress_pct },
            State::Done => CommandProgress::Done,
        }
    }

    fn send(&mut self, now: Duration) -> MavMessage {
        let confirmation = self.attempts_sent;
        self.attempts_sent = self.attempts_sent.saturating_add(1);
        self.state = State::Sending { sent_at: now };
        self.command
            .to_message(self.target_system, self.target_component, confirmation)
    }

    fn is_our_ack(&self, compid: u8, ack: &COMMAND_ACK_DATA) -> bool {
        if ack.command != self.command.id() {
            return false;
        }
        if self.target_component != 0 && compid != self.target_component {
            return false;
        }
        match self.config.own_id {
            // MAVLink 1 acks and older firmware leave the target fields zero.
            Some(own) if ack.target_system != 0 => (ack.target_system, ack.target_component) == own,
            _ => true,
        }
    }

    fn on_ack(&mut self, now: Duration, ack: &COMMAND_ACK_DATA) {
        let statustext = || self.statustext.clone();
        let result = match ack.result {
            MavResult::MAV_RESULT_ACCEPTED => Ok(Accepted {
                result_param2: ack.result_param2,
            }),
            MavResult::MAV_RESULT_IN_PROGRESS => {
                self.state = State::InProgress {
                    // 255 is "unknown" on the wire.
                    progress_pct: (ack.progress <= 100).then_some(ack.progress),
                    heard_at: now,
                };
                return;
            }
            MavResult::MAV_RESULT_DENIED => Err(CommandError::Denied {
                statustext: statustext(),
            }),
            MavResult::MAV_RESULT_TEMPORARILY_REJECTED => Err(CommandError::TemporarilyRejected {
                statustext: statustext(),
            }),
            MavResult::MAV_RESULT_UNSUPPORTED => Err(CommandError::Unsupported {
                statustext: statustext(),
            }),
            MavResult::MAV_RESULT_FAILED => Err(CommandError::Failed {
                statustext: statustext(),
            }),
            MavResult::MAV_RESULT_CANCELLED => Err(CommandError::CancelledByVehicle {
                statustext: statustext(),
            }),
            other => Err(CommandError::Refused {
                result: other,
                statustext: statustext(),
            }),
        };
        self.finish(result);
    }

    fn finish(&mut self, result: Result<Accepted, CommandError>) {
        self.state = State::Done;
        self.outcome = Some(result);
    }

    fn keep_statustext(&mut self, id: u16, chunk_seq: u8, raw: &[u8]) {
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let text = String::from_utf8_lossy(&raw[..end]);
        // MAVLink 2 sends a long line in chunks sharing an id (non-zero), numbered from 0.
        if id != 0 && self.last_chunk == Some((id, chunk_seq.wrapping_sub(1))) {
            if let Some(last) = self.statustext.last_mut() {
                last.push_str(&text);
                self.last_chunk = Some((id, chunk_seq));
                return;
            }
        }
        if self.statustext.len() == STATUSTEXT_KEPT {
            // The first lines name the first failing checks; later ones add little.
            return;
        }
        self.statustext.push(text.into_owned());
        self.last_chunk = (id != 0).then_some((id, chunk_seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::STATUSTEXT_DATA;

    const V: (u8, u8) = (1, 1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn long(msg: &MavMessage) -> &COMMAND_LONG_DATA {
        match msg {
            MavMessage::COMMAND_LONG(c) => c,
            other => panic!("not a COMMAND_LONG: {other:?}"),
        }
    }

    fn params(c: &Command) -> [f32; 7] {
        match c {
            Command::Long { params, .. } => *params,
            other => panic!("not long: {other:?}"),
        }
    }

    fn ack(command: MavCmd, result: MavResult) -> MavMessage {
        MavMessage::COMMAND_ACK(COMMAND_ACK_DATA {
            command,
            result,
            progress: 0,
            result_param2: 0,
            target_system: 255,
            target_component: 190,
        })
    }

    fn progress_ack(command: MavCmd, progress: u8) -> MavMessage {
        MavMessage::COMMAND_ACK(COMMAND_ACK_DATA {
            progress,
            ..match ack(command, MavResult::MAV_RESULT_IN_PROGRESS) {
                MavMessage::COMMAND_ACK(a) => a,
                _ => unreachable!("built just above"),
            }
        })
    }

    fn text(severity: MavSeverity, s: &str, id: u16, chunk_seq: u8) -> MavMessage {
        MavMessage::STATUSTEXT(STATUSTEXT_DATA {
            severity,
            text: s.into(),
            id,
            chunk_seq,
        })
    }

    const ARM: MavCmd = MavCmd::MAV_CMD_COMPONENT_ARM_DISARM;

    fn arm_tx() -> CommandTransaction {
        CommandTransaction::new(V.0, V.1, Command::arm(), CommandConfig::default())
    }

    // ---- builders ----------------------------------------------------------------------

    #[test]
    fn arm_disarm_and_force_disarm() {
        assert_eq!(Command::arm().id(), ARM);
        assert_eq!(params(&Command::arm())[..2], [1.0, 0.0]);
        assert_eq!(params(&Command::disarm())[..2], [0.0, 0.0]);
        assert_eq!(params(&Command::force_disarm())[..2], [0.0, 21196.0]);
    }

    #[test]
    fn set_mode_by_name_for_ardupilot_and_px4() {
        let c = Command::set_mode(ModeTable::ArduCopter, "guided").unwrap();
        assert_eq!(c.id(), MavCmd::MAV_CMD_DO_SET_MODE);
        assert_eq!(params(&c)[..3], [1.0, 4.0, 0.0]);
        let c = Command::set_mode(ModeTable::ArduPlane, "RTL").unwrap();
        assert_eq!(params(&c)[..2], [1.0, 11.0]);
        // PX4: main mode AUTO (4), sub mode RTL (5).
        let c = Command::set_mode(ModeTable::Px4, "Return").unwrap();
        assert_eq!(params(&c)[..3], [1.0, 4.0, 5.0]);
        let c = Command::set_mode(ModeTable::Px4, "position").unwrap();
        assert_eq!(params(&c)[..3], [1.0, 3.0, 0.0]);
        assert_eq!(
            Command::set_mode(ModeTable::ArduCopter, "WARP"),
            Err(InvalidCommand::UnknownMode {
                name: "WARP".into(),
                table: ModeTable::ArduCopter
            })
        );
        assert!(Command::set_mode(ModeTable::Unknown, "GUIDED").is_err());
        assert_eq!(
            Command::set_mode(ModeTable::ArduCopter, "WARP")
                .unwrap_err()
                .to_string(),
            "ArduCopter has no mode called \"WARP\""
        );
    }

    #[test]
    fn takeoff_land_rtl() {
        let c = Command::takeoff(25.0).unwrap();
        assert_eq!(c.id(), MavCmd::MAV_CMD_NAV_TAKEOFF);
        assert_eq!(params(&c)[6], 25.0);
        assert!(params(&c)[..6].iter().all(|p| *p == 0.0));
        let px4 = params(&Command::takeoff_px4(512.0).unwrap());
        assert!(px4[3].is_nan() && px4[4].is_nan() && px4[5].is_nan());
        assert_eq!(px4[6], 512.0);
        assert!(matches!(
            Command::takeoff(f32::NAN),
            Err(InvalidCommand::BadAltitude { .. })
        ));
        assert!(Command::takeoff(1e6).is_err());
        assert_eq!(Command::land().id(), MavCmd::MAV_CMD_NAV_LAND);
        assert_eq!(
            Command::return_to_launch().id(),
            MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH
        );
    }

    #[test]
    fn go_to_is_a_reposition_in_guided_with_exact_coordinates() {
        let c = Command::go_to(-35.363_261_5, 149.165_230_4, 40.0).unwrap();
        match &c {
            Command::Int {
                command,
                frame,
                params,
                x,
                y,
                z,
            } => {
                assert_eq!(*command, MavCmd::MAV_CMD_DO_REPOSITION);
                assert_eq!(*frame, MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT);
                assert_eq!(params[..3], [-1.0, 1.0, 0.0]);
                assert!(params[3].is_nan());
                // Rounded, not truncated.
                assert_eq!((*x, *y, *z), (-353_632_615, 1_491_652_304, 40.0));
            }
            other => panic!("{other:?}"),
        }
        match c.to_message(1, 1, 3) {
            MavMessage::COMMAND_INT(m) => assert_eq!(
                (m.target_system, m.target_component, m.x),
                (1, 1, -353_632_615)
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Command::go_to(91.0, 0.0, 10.0),
            Err(InvalidCommand::BadPosition { .. })
        ));
        assert!(Command::go_to(0.0, f64::NAN, 10.0).is_err());
        assert!(Command::go_to(0.0, 180.0, 10.0).is_ok());
    }

    #[test]
    fn set_home_here_or_at_a_point() {
        assert_eq!(params(&Command::set_home_here())[0], 1.0);
        match Command::set_home(51.5, -0.1, 35.0).unwrap() {
            Command::Int {
                command,
                frame,
                params,
                x,
                y,
                z,
            } => {
                assert_eq!(command, MavCmd::MAV_CMD_DO_SET_HOME);
                assert_eq!(frame, MavFrame::MAV_FRAME_GLOBAL);
                assert_eq!(params[0], 0.0);
                assert_eq!((x, y, z), (515_000_000, -1_000_000, 35.0));
            }
            other => panic!("{other:?}"),
        }
    }

    // ---- the exchange --------------------------------------------------------------------

    #[test]
    fn accepted_on_the_first_ack() {
        let mut t = arm_tx();
        let out = t.start(ms(0));
        let c = long(&out[0]);
        assert_eq!(
            (c.target_system, c.target_component, c.confirmation),
            (1, 1, 0)
        );
        assert_eq!(c.command, ARM);
        assert_eq!(t.progress(), CommandProgress::Sent { attempt: 1 });
        t.handle(ms(80), V.0, V.1, &ack(ARM, MavResult::MAV_RESULT_ACCEPTED));
        assert_eq!(t.outcome(), Some(&Ok(Accepted { result_param2: 0 })));
        assert_eq!(t.progress(), CommandProgress::Done);
        assert!(t.poll(ms(5000)).is_empty());
    }

    #[test]
    fn a_lost_command_is_retried_with_the_confirmation_counted_then_times_out() {
        let config = CommandConfig {
            attempts: 3,
            ..CommandConfig::default()
        };
        let mut t = CommandTransaction::new(V.0, V.1, Command::arm(), config);
        let mut sent = t.start(ms(0));
        let mut now = ms(0);
        while t.outcome().is_none() {
            now += ms(10);
            sent.extend(t.poll(now));
        }
        let confirmations: Vec<u8> = sent.iter().map(|m| long(m).confirmation).collect();
        assert_eq!(confirmations, [0, 1, 2]);
        assert_eq!(now, ms(3000));
        let err = t.outcome().unwrap().as_ref().unwrap_err();
        assert_eq!(
            err,
            &CommandError::Timeout {
                attempts: 3,
                in_progress: false
            }
        );
        assert_eq!(
            err.to_string(),
            "no answer from the vehicle after 3 attempts"
        );
    }

    #[test]
    fn a_lost_ack_is_recovered_by_the_retry() {
        let mut t = arm_tx();
        t.start(ms(0));
        assert!(t.poll(ms(999)).is_empty());
        let retry = t.poll(ms(1000));
        assert_eq!(long(&retry[0]).confirmation, 1);
        t.handle(
            ms(1100),
            V.0,
            V.1,
            &ack(ARM, MavResult::MAV_RESULT_ACCEPTED),
        );
        assert!(matches!(t.outcome(), Some(Ok(_))));
    }

    #[test]
    fn command_int_is_resent_unchanged() {
        let go = Command::go_to(1.0, 2.0, 30.0).unwrap();
        let mut t = CommandTransaction::new(V.0, V.1, go, CommandConfig::default());
        let first = t.start(ms(0));
        // Debug text, because the NaN yaw makes the messages unequal to themselves.
        assert_eq!(format!("{:?}", t.poll(ms(1000))), format!("{first:?}"));
    }

    #[test]
    fn acks_for_other_commands_senders_or_stations_are_not_ours() {
        let config = CommandConfig {
            own_id: Some((255, 190)),
            ..CommandConfig::default()
        };
        let mut t = CommandTransaction::new(V.0, V.1, Command::arm(), config);
        t.start(ms(0));
        t.handle(
            ms(10),
            V.0,
            V.1,
            &ack(MavCmd::MAV_CMD_DO_SET_MODE, MavResult::MAV_RESULT_DENIED),
        );
        t.handle(ms(10), 2, 1, &ack(ARM, MavResult::MAV_RESULT_DENIED));
        t.handle(ms(10), V.0, 154, &ack(ARM, MavResult::MAV_RESULT_DENIED));
        let mut to_other = ack(ARM, MavResult::MAV_RESULT_DENIED);
        if let MavMessage::COMMAND_ACK(a) = &mut to_other {
            a.target_system = 254;
        }
        t.handle(ms(10), V.0, V.1, &to_other);
        assert!(t.outcome().is_none());
        // Zero target fields (older firmware) are taken as ours.
        let mut untargeted = ack(ARM, MavResult::MAV_RESULT_ACCEPTED);
        if let MavMessage::COMMAND_ACK(a) = &mut untargeted {
            a.target_system = 0;
            a.target_component = 0;
        }
        t.handle(ms(20), V.0, V.1, &untargeted);
        assert!(matches!(t.outcome(), Some(Ok(_))));
    }

    #[test]
    fn a_refusal_comes_with_the_vehicles_reasons() {
        let mut t = arm_tx();
        t.start(ms(0));
        let crit = MavSeverity::MAV_SEVERITY_CRITICAL;
        t.handle(ms(5), V.0, V.1, &text(crit, "PreArm: GPS 1: Bad fix", 0, 0));
        // A long line in two chunks becomes one.
        t.handle(
            ms(6),
            V.0,
            V.1,
            &text(crit, "PreArm: Battery 1 below minimum arming voltage", 7, 0),
        );
        t.handle(ms(7), V.0, V.1, &text(crit, " (10.2 V)", 7, 1));
        // Chatter and other vehicles' words are not reasons.
        t.handle(
            ms(8),
            V.0,
            V.1,
            &text(
                MavSeverity::MAV_SEVERITY_INFO,
                "EKF3 IMU0 is using GPS",
                0,
                0,
            ),
        );
        t.handle(ms(8), 9, 1, &text(crit, "PreArm: not me", 0, 0));
        t.handle(ms(9), V.0, V.1, &ack(ARM, MavResult::MAV_RESULT_FAILED));
        let err = t.outcome().unwrap().as_ref().unwrap_err();
        assert_eq!(
            err.statustext(),
            [
                "PreArm: GPS 1: Bad fix",
                "PreArm: Battery 1 below minimum arming voltage (10.2 V)"
            ]
        );
        assert_eq!(
            err.to_string(),
            "the vehicle failed to do the command: PreArm: GPS 1: Bad fix; \
             PreArm: Battery 1 below minimum arming voltage (10.2 V)"
        );
    }

    #[test]
    fn every_result_maps_to_its_outcome() {
        let cases = [
            (
                MavResult::MAV_RESULT_DENIED,
                CommandError::Denied { statustext: vec![] },
            ),
            (
                MavResult::MAV_RESULT_TEMPORARILY_REJECTED,
                CommandError::TemporarilyRejected { statustext: vec![] },
            ),
            (
                MavResult::MAV_RESULT_UNSUPPORTED,
                CommandError::Unsupported { statustext: vec![] },
            ),
            (
                MavResult::MAV_RESULT_FAILED,
                CommandError::Failed { statustext: vec![] },
            ),
            (
                MavResult::MAV_RESULT_CANCELLED,
                CommandError::CancelledByVehicle { statustext: vec![] },
            ),
            (
                MavResult::MAV_RESULT_COMMAND_INT_ONLY,
                CommandError::Refused {
                    result: MavResult::MAV_RESULT_COMMAND_INT_ONLY,
                    statustext: vec![],
                },
            ),
        ];
        for (result, expected) in cases {
            let mut t = arm_tx();
            t.start(ms(0));
            t.handle(ms(1), V.0, V.1, &ack(ARM, result));
            assert_eq!(t.outcome(), Some(&Err(expected)));
        }
    }

    #[test]
    fn in_progress_waits_for_the_final_ack_without_resending() {
        let cal = Command::long(
            MavCmd::MAV_CMD_PREFLIGHT_CALIBRATION,
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        );
        let mut t = CommandTransaction::new(V.0, V.1, cal, CommandConfig::default());
        t.start(ms(0));
        t.handle(
            ms(100),
            V.0,
            V.1,
            &progress_ack(MavCmd::MAV_CMD_PREFLIGHT_CALIBRATION, 255),
        );
        assert_eq!(
            t.progress(),
            CommandProgress::InProgress { progress_pct: None }
        );
        // Long past the retry interval: nothing re-sent.
        assert!(t.poll(ms(5000)).is_empty());
        t.handle(
            ms(6000),
            V.0,
            V.1,
            &progress_ack(MavCmd::MAV_CMD_PREFLIGHT_CALIBRATION, 40),
        );
        assert_eq!(
            t.progress(),
            CommandProgress::InProgress {
                progress_pct: Some(40)
            }
        );
        // Each progress ack restarts the wait.
        assert!(t.poll(ms(15_000)).is_empty());
        assert!(t.outcome().is_none());
        t.handle(
            ms(15_500),
            V.0,
            V.1,
            &ack(
                MavCmd::MAV_CMD_PREFLIGHT_CALIBRATION,
                MavResult::MAV_RESULT_ACCEPTED,
            ),
        );
        assert!(matches!(t.outcome(), Some(Ok(_))));
    }

    #[test]
    fn in_progress_then_silence_times_out() {
        let mut t = arm_tx();
        t.start(ms(0));
        t.handle(ms(100), V.0, V.1, &progress_ack(ARM, 10));
        t.poll(ms(10_099));
        assert!(t.outcome().is_none());
        t.poll(ms(10_100));
        assert_eq!(
            t.outcome(),
            Some(&Err(CommandError::Timeout {
                attempts: 1,
                in_progress: true
            }))
        );
    }

    #[test]
    fn duplicate_acks_after_the_outcome_change_nothing() {
        let mut t = arm_tx();
        t.start(ms(0));
        t.handle(ms(10), V.0, V.1, &ack(ARM, MavResult::MAV_RESULT_ACCEPTED));
        t.handle(ms(11), V.0, V.1, &ack(ARM, MavResult::MAV_RESULT_DENIED));
        assert!(matches!(t.outcome(), Some(Ok(_))));
    }

    #[test]
    fn cancel_tells_the_vehicle_only_when_it_had_started() {
        let mut t = arm_tx();
        t.start(ms(0));
        assert!(t.cancel().is_empty());
        assert_eq!(t.outcome(), Some(&Err(CommandError::Cancelled)));

        let mut t = arm_tx();
        t.start(ms(0));
        t.handle(ms(10), V.0, V.1, &progress_ack(ARM, 5));
        match &t.cancel()[..] {
            [MavMessage::COMMAND_CANCEL(c)] => assert_eq!(
                (c.command, c.target_system, c.target_component),
                (ARM, 1, 1)
            ),
            other => panic!("{other:?}"),
        }
        assert!(t.cancel().is_empty());
    }

    /// 30 % loss each way, 30 ms latency, a vehicle that acks every command it hears: with
    /// the default five attempts almost every command gets its answer.
    #[test]
    fn commands_at_30_percent_loss() {
        let mut rng: u64 = 0x5eed;
        let mut lost = move || {
            // splitmix64
            rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % 100) < 30
        };
        let runs = 500;
        let mut timeouts = 0;
        let mut total = Duration::ZERO;
        for _ in 0..runs {
            let mut t = arm_tx();
            let mut in_flight: Vec<(Duration, MavMessage)> = Vec::new();
            let mut now = ms(0);
            for m in t.start(now) {
                if !lost() {
                    in_flight.push((now + ms(30), m));
                }
            }
            while t.outcome().is_none() {
                now += ms(10);
                let (due, later): (Vec<_>, Vec<_>) =
                    in_flight.into_iter().partition(|(at, _)| *at <= now);
                in_flight = later;
                for (_, m) in due {
                    match m {
                        // The vehicle answers; the answer travels back.
                        MavMessage::COMMAND_LONG(c) if !lost() => {
                            in_flight.push((
                                now + ms(30),
                                ack(c.command, MavResult::MAV_RESULT_ACCEPTED),
                            ));
                        }
                        MavMessage::COMMAND_ACK(_) => {
                            t.handle(now, V.0, V.1, &m);
                        }
                        _ => {}
                    }
                }
                for m in t.poll(now) {
                    if !lost() {
                        in_flight.push((now + ms(30), m));
                    }
                }
            }
            match t.outcome() {
                Some(Ok(_)) => total += now,
                Some(Err(CommandError::Timeout { .. })) => timeouts += 1,
                other => panic!("{other:?}"),
            }
        }
        let mean = total / (runs - timeouts);
        println!("commands at 30 % loss: {timeouts} timeouts in {runs}, mean time to ack {mean:?}");
        // Expected 0.51^5 = 3.5 %; 3 attempts would give 13 %.
        assert!(timeouts <= runs / 15, "{timeouts} timeouts in {runs}");
    }
}
