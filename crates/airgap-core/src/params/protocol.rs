//! The MAVLink parameter protocol as sans-IO machines: a full download that fills its gaps
//! on a lossy link ([`ParamDownload`]), reading and setting one parameter ([`ParamGet`],
//! [`ParamSet`]), and the value and name encodings they share ([`Encoding`]).
//!
//! Every machine is driven the same way by its owner: `start(now)` once, then
//! `handle(now, sysid, compid, msg)` for each message received and `poll(now)` on a timer;
//! each returns the messages to send (addressed through their target fields). `outcome()`
//! is `Some` once the machine is done. Time is whatever monotonic clock the caller passes.

pub mod download;
pub mod encoding;
pub mod single;

pub use download::{DownloadConfig, DownloadError, DownloadProgress, DownloadStats, ParamDownload};
pub use encoding::{decode_name, encode_name, Encoding, NameError, ValueError, NAME_LEN};
pub use single::{ParamError, ParamGet, ParamSet, SingleConfig};

#[cfg(test)]
mod tests;
