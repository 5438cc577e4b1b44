//! The engine against the simulated vehicle over real sockets and ptys, and against a real
//! ArduCopter log.

mod live;
mod ops;
mod record;
mod replay;
