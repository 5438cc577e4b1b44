//! The 251-byte payload of FILE_TRANSFER_PROTOCOL as MAVFTP lays it out
//! (<https://mavlink.io/en/services/ftp.html#payload>): a 12-byte little-endian header, then
//! up to 239 bytes of data. Parsing never panics: a short or inconsistent payload is a
//! [`PayloadError`].

use crate::dialect::FILE_TRANSFER_PROTOCOL_DATA;
use crate::MavMessage;

/// Bytes before `data`: seq (2), session, opcode, size, req_opcode, burst_complete, padding,
/// offset (4).
pub const HEADER_LEN: usize = 12;
/// The most data one payload carries (251 − 12).
pub const MAX_DATA_LEN: usize = 239;
/// The whole payload field of FILE_TRANSFER_PROTOCOL.
pub const PAYLOAD_LEN: usize = HEADER_LEN + MAX_DATA_LEN;

/// What a payload asks for (requests) or is (the two responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    None,
    TerminateSession,
    ResetSessions,
    ListDirectory,
    OpenFileRO,
    ReadFile,
    CreateFile,
    WriteFile,
    RemoveFile,
    CreateDirectory,
    RemoveDirectory,
    OpenFileWO,
    TruncateFile,
    Rename,
    CalcFileCrc32,
    BurstReadFile,
    Ack,
    Nak,
    /// A number no version of the protocol defines; kept so a server can NAK it.
    Unknown(u8),
}

impl From<u8> for Opcode {
    fn from(v: u8) -> Opcode {
        match v {
            0 => Opcode::None,
            1 => Opcode::TerminateSession,
            2 => Opcode::ResetSessions,
            3 => Opcode::ListDirectory,
            4 => Opcode::OpenFileRO,
            5 => Opcode::ReadFile,
            6 => Opcode::CreateFile,
            7 => Opcode::WriteFile,
            8 => Opcode::RemoveFile,
            9 => Opcode::CreateDirectory,
            10 => Opcode::RemoveDirectory,
            11 => Opcode::OpenFileWO,
            12 => Opcode::TruncateFile,
            13 => Opcode::Rename,
            14 => Opcode::CalcFileCrc32,
            15 => Opcode::BurstReadFile,
            128 => Opcode::Ack,
            129 => Opcode::Nak,
            other => Opcode::Unknown(other),
        }
    }
}

impl From<Opcode> for u8 {
    fn from(op: Opcode) -> u8 {
        match op {
            Opcode::None => 0,
            Opcode::TerminateSession => 1,
            Opcode::ResetSessions => 2,
            Opcode::ListDirectory => 3,
            Opcode::OpenFileRO => 4,
            Opcode::ReadFile => 5,
            Opcode::CreateFile => 6,
            Opcode::WriteFile => 7,
            Opcode::RemoveFile => 8,
            Opcode::CreateDirectory => 9,
            Opcode::RemoveDirectory => 10,
            Opcode::OpenFileWO => 11,
            Opcode::TruncateFile => 12,
            Opcode::Rename => 13,
            Opcode::CalcFileCrc32 => 14,
            Opcode::BurstReadFile => 15,
            Opcode::Ack => 128,
            Opcode::Nak => 129,
            Opcode::Unknown(v) => v,
        }
    }
}

/// The first data byte of a NAK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FtpErrorCode {
    None,
    Fail,
    /// The second data byte holds the server's `errno`.
    FailErrno,
    InvalidDataSize,
    InvalidSession,
    NoSessionsAvailable,
    /// Read or list past the end: how a server says "that was all".
    Eof,
    UnknownCommand,
    FileExists,
    FileProtected,
    FileNotFound,
    Unknown(u8),
}

impl From<u8> for FtpErrorCode {
    fn from(v: u8) -> FtpErrorCode {
        match v {
            0 => FtpErrorCode::None,
            1 => FtpErrorCode::Fail,
            2 => FtpErrorCode::FailErrno,
            3 => FtpErrorCode::InvalidDataSize,
            4 => FtpErrorCode::InvalidSession,
            5 => FtpErrorCode::NoSessionsAvailable,
            6 => FtpErrorCode::Eof,
            7 => FtpErrorCode::UnknownCommand,
            8 => FtpErrorCode::FileExists,
            9 => FtpErrorCode::FileProtected,
            10 => FtpErrorCode::FileNotFound,
            other => FtpErrorCode::Unknown(other),
        }
    }
}

impl From<FtpErrorCode> for u8 {
    fn from(e: FtpErrorCode) -> u8 {
        match e {
            FtpErrorCode::None => 0,
            FtpErrorCode::Fail => 1,
            FtpErrorCode::FailErrno => 2,
            FtpErrorCode::InvalidDataSize => 3,
            FtpErrorCode::InvalidSession => 4,
            FtpErrorCode::NoSessionsAvailable => 5,
            FtpErrorCode::Eof => 6,
            FtpErrorCode::UnknownCommand => 7,
            FtpErrorCode::FileExists => 8,
            FtpErrorCode::FileProtected => 9,
            FtpErrorCode::FileNotFound => 10,
            FtpErrorCode::Unknown(v) => v,
        }
    }
}

/// Why bytes are not a MAVFTP payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("an FTP payload needs at least {HEADER_LEN} header bytes, got {0}")]
    TooShort(usize),
    #[error("the FTP header claims {size} data bytes, at most {MAX_DATA_LEN} fit")]
    SizeTooLarge { size: u8 },
    #[error("the FTP header claims {size} data bytes, only {available} follow it")]
    Truncated { size: u8, available: usize },
}

/// One MAVFTP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Requests number themselves; a response carries the request's `seq + 1` (burst
    /// packets count on from there).
    pub seq: u16,
    pub session: u8,
    pub opcode: Opcode,
    /// For responses: the opcode of the request answered.
    pub req_opcode: Opcode,
    /// Set on the last packet of a burst read.
    pub burst_complete: bool,
    pub offset: u32,
    /// At most [`MAX_DATA_LEN`] bytes; the header's `size` is its length.
    pub data: Vec<u8>,
}

impl Payload {
    /// A request with no data.
    pub fn request(seq: u16, session: u8, opcode: Opcode, offset: u32) -> Payload {
        Payload {
            seq,
            session,
            opcode,
            req_opcode: Opcode::None,
            burst_complete: false,
            offset,
            data: Vec::new(),
        }
    }

    /// Read the header and data. Bytes past `size` are ignored (MAVLink 2 trims trailing
    /// zeros on the wire and the decoder restores them, so the field is always 251 long).
    pub fn parse(bytes: &[u8]) -> Result<Payload, PayloadError> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or(PayloadError::TooShort(bytes.len()))?;
        let size = header[4];
        if usize::from(size) > MAX_DATA_LEN {
            return Err(PayloadError::SizeTooLarge { size });
        }
        let available = bytes.len() - HEADER_LEN;
        let data = bytes
            .get(HEADER_LEN..HEADER_LEN + usize::from(size))
            .ok_or(PayloadError::Truncated { size, available })?;
        Ok(Payload {
            seq: u16::from_le_bytes([header[0], header[1]]),
            session: header[2],
            opcode: Opcode::from(header[3]),
            req_opcode: Opcode::from(header[5]),
            burst_complete: header[6] != 0,
            offset: u32::from_le_bytes([header[8], header[9], header[10], header[11]]),
            data: data.to_vec(),
        })
    }

    /// The 251-byte field. Data beyond [`MAX_DATA_LEN`] does not fit and is cut off; the
    /// machines here never build such a payload.
    pub fn to_bytes(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        let len = self.data.len().min(MAX_DATA_LEN);
        out[0..2].copy_from_slice(&self.seq.to_le_bytes());
        out[2] = self.session;
        out[3] = self.opcode.into();
        // `len` ≤ 239 by the `min` above.
        out[4] = u8::try_from(len).unwrap_or(u8::MAX);
        out[5] = self.req_opcode.into();
        out[6] = u8::from(self.burst_complete);
        out[8..12].copy_from_slice(&self.offset.to_le_bytes());
        out[HEADER_LEN..HEADER_LEN + len].copy_from_slice(&self.data[..len]);
        out
    }

    /// The payload of a received message.
    pub fn from_message(msg: &FILE_TRANSFER_PROTOCOL_DATA) -> Result<Payload, PayloadError> {
        Payload::parse(&msg.payload)
    }

    /// This payload in a message addressed to `target_system`/`target_component`.
    pub fn to_data(&self, target_system: u8, target_component: u8) -> FILE_TRANSFER_PROTOCOL_DATA {
        FILE_TRANSFER_PROTOCOL_DATA {
            target_network: 0,
            target_system,
            target_component,
            payload: self.to_bytes(),
        }
    }

    pub fn to_message(&self, target_system: u8, target_component: u8) -> MavMessage {
        MavMessage::FILE_TRANSFER_PROTOCOL(self.to_data(target_system, target_component))
    }

    /// A NAK's error code and, for `FailErrno`, the errno. `None` for anything but a NAK;
    /// a NAK without data reads as `Fail`.
    pub fn nak_error(&self) -> Option<(FtpErrorCode, Option<u8>)> {
        if self.opcode != Opcode::Nak {
            return None;
        }
        let code = self
            .data
            .first()
            .map_or(FtpErrorCode::Fail, |b| FtpErrorCode::from(*b));
        let errno = match code {
            FtpErrorCode::FailErrno => self.data.get(1).copied(),
            _ => None,
        };
        Some((code, errno))
    }

    /// The response to `req` with the given opcode and data (seq + 1, same session).
    pub fn reply_to(req: &Payload, opcode: Opcode, offset: u32, data: Vec<u8>) -> Payload {
        Payload {
            seq: req.seq.wrapping_add(1),
            session: req.session,
            opcode,
            req_opcode: req.opcode,
            burst_complete: false,
            offset,
            data,
        }
    }

    /// A NAK of `req` carrying `code` (and `errno` for `FailErrno`).
    pub fn nak(req: &Payload, code: FtpErrorCode, errno: Option<u8>) -> Payload {
        let mut data = vec![u8::from(code)];
        if let (FtpErrorCode::FailErrno, Some(e)) = (code, errno) {
            data.push(e);
        }
        Payload::reply_to(req, Opcode::Nak, 0, data)
    }

    /// The data read as a path: up to the first NUL, which ArduPilot and PX4 both accept
    /// with or without. `None` when it is not UTF-8.
    pub fn path(&self) -> Option<&str> {
        let end = self
            .data
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(self.data.len());
        std::str::from_utf8(&self.data[..end]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_matches_the_spec() {
        let p = Payload {
            seq: 0x0102,
            session: 3,
            opcode: Opcode::ReadFile,
            req_opcode: Opcode::Unknown(200),
            burst_complete: true,
            offset: 0x0A0B_0C0D,
            data: vec![0xEE; 5],
        };
        let b = p.to_bytes();
        assert_eq!(
            &b[..HEADER_LEN],
            &[0x02, 0x01, 3, 5, 5, 200, 1, 0, 0x0D, 0x0C, 0x0B, 0x0A]
        );
        assert_eq!(&b[12..17], &[0xEE; 5]);
        assert!(b[17..].iter().all(|x| *x == 0));
        assert_eq!(Payload::parse(&b), Ok(p));
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert_eq!(Payload::parse(&[1, 2, 3]), Err(PayloadError::TooShort(3)));
        let mut b = [0u8; PAYLOAD_LEN];
        b[4] = 240;
        assert_eq!(
            Payload::parse(&b),
            Err(PayloadError::SizeTooLarge { size: 240 })
        );
        let mut short = [0u8; 20];
        short[4] = 10;
        assert_eq!(
            Payload::parse(&short),
            Err(PayloadError::Truncated {
                size: 10,
                available: 8
            })
        );
    }

    #[test]
    fn nak_codes() {
        let req = Payload::request(7, 1, Opcode::OpenFileRO, 0);
        let nak = Payload::nak(&req, FtpErrorCode::FailErrno, Some(2));
        assert_eq!(nak.seq, 8);
        assert_eq!(nak.req_opcode, Opcode::OpenFileRO);
        assert_eq!(nak.nak_error(), Some((FtpErrorCode::FailErrno, Some(2))));
        let eof = Payload::nak(&req, FtpErrorCode::Eof, None);
        assert_eq!(eof.nak_error(), Some((FtpErrorCode::Eof, None)));
        assert_eq!(req.nak_error(), None);
    }

    #[test]
    fn path_stops_at_nul() {
        let mut p = Payload::request(0, 0, Opcode::OpenFileRO, 0);
        p.data = b"@PARAM/param.pck\0junk".to_vec();
        assert_eq!(p.path(), Some("@PARAM/param.pck"));
        p.data = vec![0xFF, 0xFE];
        assert_eq!(p.path(), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Payload::parse(&bytes);
        }

        #[test]
        fn round_trip(seq: u16, session: u8, op: u8, req: u8, burst: bool, offset: u32,
                      data in proptest::collection::vec(any::<u8>(), 0..=MAX_DATA_LEN)) {
            let p = Payload { seq, session, opcode: Opcode::from(op), req_opcode: Opcode::from(req),
                              burst_complete: burst, offset, data };
            prop_assert_eq!(Payload::parse(&p.to_bytes()), Ok(p));
        }

        #[test]
        fn codes_round_trip(v: u8) {
            prop_assert_eq!(u8::from(Opcode::from(v)), v);
            prop_assert_eq!(u8::from(FtpErrorCode::from(v)), v);
        }
    }
}
