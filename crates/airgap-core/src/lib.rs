//! Airgap's sans-IO core: it owns the MAVLink vocabulary and everything that can be
//! computed from messages alone. Nothing here does I/O, spawns, or reads a clock:
//! callers pass time in, so tests drive it with messages and a fake clock.

pub use mavlink;
/// The dialect every link speaks (ardupilotmega includes common).
pub use mavlink::dialects::ardupilotmega as dialect;
pub use mavlink::dialects::ardupilotmega::MavMessage;

pub mod command;
pub mod frame;
pub mod ftp;
pub mod mission;
pub mod modes;
pub mod params;
pub mod series;
pub mod state;
pub mod throughput;
pub mod tlog;
