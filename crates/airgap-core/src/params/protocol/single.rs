//! Reading one parameter by name (PARAM_REQUEST_READ) and setting one (PARAM_SET), each
//! confirmed by the PARAM_VALUE the vehicle answers with and retried when that is lost.

use std::time::Duration;

use mavlink::types::CharArray;

use crate::dialect::{MavParamType, PARAM_REQUEST_READ_DATA, PARAM_SET_DATA};
use crate::params::Param;
use crate::MavMessage;

use super::encoding::{decode_name, encode_name, Encoding, NameError, ValueError, NAME_LEN};

#[derive(Debug, Clone, PartialEq)]
pub struct SingleConfig {
    pub encoding: Encoding,
    /// The request is sent again when no answer came within this long.
    pub retry_interval: Duration,
    /// Requests sent in all before giving up with [`ParamError::Timeout`].
    pub attempts: u32,
}

impl Default for SingleConfig {
    fn default() -> Self {
        SingleConfig {
            encoding: Encoding::CCast,
            retry_interval: Duration::from_secs(1),
            // At 30 % loss each way a round trip fails half the time: five tries leave a
            // 3 % chance of a false timeout, against 12 % with three.
            attempts: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error(transparent)]
    InvalidValue(#[from] ValueError),
    #[error("no answer for parameter {name} after {attempts} attempts")]
    Timeout { name: String, attempts: u32 },
    /// The vehicle answered the PARAM_SET with another value: it refused or clamped ours.
    #[error("the vehicle kept {name} at {actual} instead of {requested}")]
    Rejected {
        name: String,
        requested: f64,
        actual: f64,
    },
    #[error("cancelled")]
    Cancelled,
}

/// What both machines share: whom to ask, which name, when to ask again, how it ended.
#[derive(Debug, Clone)]
struct Exchange {
    target_system: u8,
    target_component: u8,
    name: String,
    id: CharArray<NAME_LEN>,
    config: SingleConfig,
    attempts_sent: u32,
    last_sent: Duration,
    outcome: Option<Result<Param, ParamError>>,
}

impl Exchange {
    fn new(
        target_system: u8,
        target_component: u8,
        name: &str,
        config: SingleConfig,
    ) -> Result<Self, ParamError> {
        Ok(Exchange {
            target_system,
            target_component,
            id: encode_name(name)?,
            name: name.to_owned(),
            config,
            attempts_sent: 0,
            last_sent: Duration::ZERO,
            outcome: None,
        })
    }

    /// True when the request is due again; out of attempts, the exchange times out.
    fn resend_due(&mut self, now: Duration) -> bool {
        if self.outcome.is_some() {
            return false;
        }
        match self.due(now) {
            None => false,
            Some(true) => true,
            Some(false) => {
                self.outcome = Some(Err(self.timeout()));
                false
            }
        }
    }

    fn cancel(&mut self) {
        if self.outcome.is_none() {
            self.outcome = Some(Err(ParamError::Cancelled));
        }
    }

    /// The answer to our request, if `msg` is one: a PARAM_VALUE with our name from the
    /// target, whatever its index (ArduPilot answers a set with index 65535).
    fn answer<'m>(
        &self,
        sysid: u8,
        compid: u8,
        msg: &'m MavMessage,
    ) -> Option<&'m crate::dialect::PARAM_VALUE_DATA> {
        match msg {
            MavMessage::PARAM_VALUE(v)
                if sysid == self.target_system
                    && (self.target_component == 0 || compid == self.target_component)
                    && decode_name(&v.param_id) == self.name =>
            {
                Some(v)
            }
            _ => None,
        }
    }

    /// Whether to send again (`Some(true)`), give up (`Some(false)`) or keep waiting.
    fn due(&self, now: Duration) -> Option<bool> {
        if now.saturating_sub(self.last_sent) < self.config.retry_interval {
            None
        } else {
            Some(self.attempts_sent < self.config.attempts)
        }
    }

    fn timeout(&self) -> ParamError {
        ParamError::Timeout {
            name: self.name.clone(),
            attempts: self.attempts_sent,
        }
    }
}

/// Reads one parameter by name.
#[derive(Debug, Clone)]
pub struct ParamGet {
    exchange: Exchange,
}

impl ParamGet {
    pub fn new(
        target_system: u8,
        target_component: u8,
        name: &str,
        config: SingleConfig,
    ) -> Result<Self, ParamError> {
        Ok(ParamGet {
            exchange: Exchange::new(target_system, target_component, name, config)?,
        })
    }

    pub fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        vec![self.request(now)]
    }

    pub fn handle(
        &mut self,
        _now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if self.exchange.outcome.is_some() {
            return Vec::new();
        }
        if let Some(v) = self.exchange.answer(sysid, compid, msg) {
            let encoding = self.exchange.config.encoding;
            self.exchange.outcome = Some(
                encoding
                    .decode(v.param_value, v.param_type)
                    .map(|value| Param {
                        name: self.exchange.name.clone(),
                        value,
                        param_type: v.param_type,
                    })
                    .map_err(ParamError::from),
            );
        }
        Vec::new()
    }

    pub fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.exchange.resend_due(now) {
            vec![self.request(now)]
        } else {
            Vec::new()
        }
    }

    pub fn cancel(&mut self) {
        self.exchange.cancel();
    }

    pub fn outcome(&self) -> Option<&Result<Param, ParamError>> {
        self.exchange.outcome.as_ref()
    }

    /// Requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.exchange.attempts_sent
    }

    fn request(&mut self, now: Duration) -> MavMessage {
        let e = &mut self.exchange;
        e.attempts_sent += 1;
        e.last_sent = now;
        MavMessage::PARAM_REQUEST_READ(PARAM_REQUEST_READ_DATA {
            // -1: look the parameter up by `param_id`.
            param_index: -1,
            target_system: e.target_system,
            target_component: e.target_component,
            param_id: e.id,
        })
    }
}

/// Sets one parameter and waits for the vehicle to confirm the new value.
///
/// The first PARAM_VALUE with our name after the PARAM_SET decides: the value we asked for
/// is success, any other is [`ParamError::Rejected`]. A PARAM_VALUE of the same name still
/// in flight from a download would read as a rejection, so the caller runs one parameter
/// operation per vehicle at a time.
#[derive(Debug, Clone)]
pub struct ParamSet {
    exchange: Exchange,
    param_type: MavParamType,
    wire_value: f32,
    /// What the vehicle stores if it accepts: the request after the encoding's rounding.
    expected: f64,
}

impl ParamSet {
    /// Fails at once, before anything is sent, when the name or the value cannot be carried.
    pub fn new(
        target_system: u8,
        target_component: u8,
        param: &Param,
        config: SingleConfig,
    ) -> Result<Self, ParamError> {
        let encoding = config.encoding;
        let wire_value = encoding.encode(param.value, param.param_type)?;
        let expected = encoding.decode(wire_value, param.param_type)?;
        Ok(ParamSet {
            exchange: Exchange::new(target_system, target_component, &param.name, config)?,
            param_type: param.param_type,
            wire_value,
            expected,
        })
    }

    pub fn start(&mut self, now: Duration) -> Vec<MavMessage> {
        vec![self.request(now)]
    }

    pub fn handle(
        &mut self,
        _now: Duration,
        sysid: u8,
        compid: u8,
        msg: &MavMessage,
    ) -> Vec<MavMessage> {
        if self.exchange.outcome.is_some() {
            return Vec::new();
        }
        let Some(v) = self.exchange.answer(sysid, compid, msg) else {
            return Vec::new();
        };
        let name = self.exchange.name.clone();
        // The vehicle's own type decides how its echo decodes (it may differ from ours).
        let outcome = match self
            .exchange
            .config
            .encoding
            .decode(v.param_value, v.param_type)
        {
            Ok(actual) if actual == self.expected => Ok(Param {
                name,
                value: actual,
                param_type: v.param_type,
            }),
            Ok(actual) => Err(ParamError::Rejected {
                name,
                requested: self.expected,
                actual,
            }),
            Err(e) => Err(ParamError::InvalidValue(e)),
        };
        self.exchange.outcome = Some(outcome);
        Vec::new()
    }

    pub fn poll(&mut self, now: Duration) -> Vec<MavMessage> {
        if self.exchange.resend_due(now) {
            vec![self.request(now)]
        } else {
            Vec::new()
        }
    }

    pub fn cancel(&mut self) {
        self.exchange.cancel();
    }

    /// The parameter as the vehicle confirmed it, or why not.
    pub fn outcome(&self) -> Option<&Result<Param, ParamError>> {
        self.exchange.outcome.as_ref()
    }

    pub fn attempts(&self) -> u32 {
        self.exchange.attempts_sent
    }

    fn request(&mut self, now: Duration) -> MavMessage {
        let e = &mut self.exchange;
        e.attempts_sent += 1;
        e.last_sent = now;
        // Setting a value twice is harmless, so a lost confirmation is simply retried.
        MavMessage::PARAM_SET(PARAM_SET_DATA {
            param_value: self.wire_value,
            target_system: e.target_system,
            target_component: e.target_component,
            param_id: e.id,
            param_type: self.param_type,
        })
    }
}
