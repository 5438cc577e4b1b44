//! Simulated ArduCopter-like vehicles: a real MAVLink peer over real sockets and ptys.
//!
//! [`vehicle`] is the sans-IO model of one vehicle; the serving half that drives
//! vehicles over an `airgap-link` comes on top of it.

pub mod mode;
pub mod streams;
pub mod vehicle;

pub use mode::CopterMode;
pub use vehicle::{Location, Vehicle, VehicleConfig};
