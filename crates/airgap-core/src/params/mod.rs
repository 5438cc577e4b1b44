//! Vehicle parameters: the value type shared by the parameter protocol, the parameter files
//! and the simulator.

pub mod file;
pub mod protocol;

use crate::dialect::MavParamType;

/// One parameter with its value as a number and the type the vehicle declared for it.
/// Values are kept as `f64` so every MAV_PARAM_TYPE up to 32 bits is exact.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// At most 16 characters (the PARAM_VALUE field).
    pub name: String,
    pub value: f64,
    pub param_type: MavParamType,
}
