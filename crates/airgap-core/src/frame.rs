//! MAVLink 1 and 2 framing, sans-IO. This module owns the wire format: where a frame
//! starts and ends, its checksum, how a byte stream with noise in it resynchronises,
//! and how a message is encoded into a frame. It does no I/O; transports push bytes in
//! ([`FrameParser`]) or hand over a whole buffer ([`parse_slice`]).
//!
//! Resynchronisation: a candidate that turns out not to be a frame is abandoned after
//! its first byte only, so a marker byte (0xFD/0xFE) inside noise never costs the
//! frame that follows. A frame whose message id the dialect lacks cannot have its
//! checksum verified; it is taken as a real (unknown) frame only when another marker,
//! or the end of a datagram, follows it directly, otherwise it counts as noise.
//!
//! A stream parser cannot tell a partial frame from a marker byte in noise that claims
//! a long frame until enough bytes arrive. On a quiet link that could hold back good
//! frames for seconds, so transports call [`FrameParser::flush`] when the stream has
//! been idle for a while: a frame is never sent with pauses inside it.

use core::fmt;

use mavlink::{MavHeader, MavlinkVersion, Message, MessageData};

use crate::{dialect, MavMessage};

/// First byte of a MAVLink 1 frame.
pub const MAGIC_V1: u8 = 0xFE;
/// First byte of a MAVLink 2 frame.
pub const MAGIC_V2: u8 = 0xFD;
/// MAVLink 2 incompatibility flag: a 13-byte signature follows the checksum.
pub const IFLAG_SIGNED: u8 = 0x01;
/// Longest possible frame on the wire (signed MAVLink 2, 255-byte payload).
pub const MAX_FRAME_LEN: usize = V2_HEADER_LEN + 255 + CRC_LEN + SIGNATURE_LEN;

/// Magic, length, seq, sysid, compid, msgid.
const V1_HEADER_LEN: usize = 6;
/// Magic, length, incompat, compat, seq, sysid, compid, msgid (3 bytes).
const V2_HEADER_LEN: usize = 10;
const CRC_LEN: usize = 2;
const SIGNATURE_LEN: usize = 13;
/// Compact the stream buffer once this many consumed bytes sit at its front, so a
/// long-lived parser neither grows without bound nor moves bytes on every frame.
const COMPACT_AT: usize = 16 * 1024;

/// One MAVLink frame: the decoded message plus the exact bytes it arrived as.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub version: MavlinkVersion,
    /// `system_id` always fits a `u8`: frames with 32-bit system ids are not accepted.
    pub header: MavHeader,
    pub msg: MavMessage,
    /// The frame exactly as on the wire (signature included), for recording and forwarding.
    pub raw: Vec<u8>,
}

/// A [`Frame`] whose bytes are borrowed from the buffer it was parsed from, so bulk
/// parsing (tlog files, datagrams) copies nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRef<'a> {
    pub version: MavlinkVersion,
    pub header: MavHeader,
    pub msg: MavMessage,
    pub raw: &'a [u8],
}

macro_rules! frame_accessors {
    () => {
        /// Sender system id.
        pub fn sysid(&self) -> u8 {
            // The parser and the encoders only produce 8-bit system ids.
            self.header.system_id as u8
        }

        /// Sender component id.
        pub fn compid(&self) -> u8 {
            self.header.component_id
        }

        /// Sequence number the sender gave this frame.
        pub fn seq(&self) -> u8 {
            self.header.sequence
        }

        /// MAVLink message id.
        pub fn msg_id(&self) -> u32 {
            self.msg.message_id()
        }

        /// Whether the frame carries a MAVLink 2 signature (not verified here).
        pub fn is_signed(&self) -> bool {
            self.version == MavlinkVersion::V2 && self.raw[2] & IFLAG_SIGNED != 0
        }
    };
}

impl Frame {
    frame_accessors!();

    /// Encode a MAVLink 2 frame (unsigned).
    pub fn encode_v2(sysid: u8, compid: u8, seq: u8, msg: &MavMessage) -> Frame {
        let header = MavHeader {
            system_id: sysid.into(),
            component_id: compid,
            sequence: seq,
        };
        let mut raw = mavlink::MAVLinkV2MessageRaw::new();
        raw.serialize_message(header, msg);
        Frame {
            version: MavlinkVersion::V2,
            header,
            msg: msg.clone(),
            raw: raw.raw_bytes().to_vec(),
        }
    }

    /// Encode a MAVLink 1 frame; `None` when the message id does not fit MAVLink 1
    /// (above 255). Extension fields are not part of MAVLink 1 and are dropped.
    pub fn encode_v1(sysid: u8, compid: u8, seq: u8, msg: &MavMessage) -> Option<Frame> {
        if msg.message_id() > u32::from(u8::MAX) {
            return None;
        }
        let header = MavHeader {
            system_id: sysid.into(),
            component_id: compid,
            sequence: seq,
        };
        let mut raw = mavlink::MAVLinkV1MessageRaw::new();
        raw.serialize_message(header, msg);
        Some(Frame {
            version: MavlinkVersion::V1,
            header,
            msg: msg.clone(),
            raw: raw.raw_bytes().to_vec(),
        })
    }

    /// Borrow this frame as a [`FrameRef`] (clones the message, not the bytes).
    pub fn to_ref(&self) -> FrameRef<'_> {
        FrameRef {
            version: self.version,
            header: self.header,
            msg: self.msg.clone(),
            raw: &self.raw,
        }
    }
}

impl FrameRef<'_> {
    frame_accessors!();

    /// Copy the bytes out into an owned [`Frame`].
    pub fn into_frame(self) -> Frame {
        Frame {
            version: self.version,
            header: self.header,
            msg: self.msg,
            raw: self.raw.to_vec(),
        }
    }
}

/// Why a candidate frame was not delivered.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The checksum did not match: a corrupted frame, or a marker byte inside noise.
    #[error("bad checksum on a frame claiming message id {msg_id}")]
    BadCrc { msg_id: u32 },
    /// A well-formed frame whose message id is not in the dialect.
    #[error("unknown message id {msg_id}")]
    UnknownMessage { msg_id: u32 },
    /// The checksum matched but the payload does not decode (e.g. an enum value out of range).
    #[error("message id {msg_id} does not decode: {reason}")]
    Malformed { msg_id: u32, reason: String },
}

/// Counters kept by a parser. `junk_bytes` counts every byte that was skipped while
/// looking for a frame, including the first byte of each rejected candidate.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ParserStats {
    pub frames: u64,
    pub crc_errors: u64,
    pub unknown: u64,
    pub malformed: u64,
    pub junk_bytes: u64,
}

impl ParserStats {
    /// Field-wise `self - earlier`, to fold a parser's progress into other counters.
    pub fn since(&self, earlier: &ParserStats) -> ParserStats {
        ParserStats {
            frames: self.frames.wrapping_sub(earlier.frames),
            crc_errors: self.crc_errors.wrapping_sub(earlier.crc_errors),
            unknown: self.unknown.wrapping_sub(earlier.unknown),
            malformed: self.malformed.wrapping_sub(earlier.malformed),
            junk_bytes: self.junk_bytes.wrapping_sub(earlier.junk_bytes),
        }
    }
}

/// Incremental parser for a byte stream (TCP, serial, pty).
///
/// ```
/// use airgap_core::frame::{Frame, FrameParser};
/// use airgap_core::dialect::{MavMessage, HEARTBEAT_DATA};
///
/// let frame = Frame::encode_v2(1, 1, 0, &MavMessage::HEARTBEAT(HEARTBEAT_DATA::default()));
/// let mut parser = FrameParser::new();
/// parser.push(&frame.raw[..5]);
/// assert!(parser.next_frame().is_none()); // needs the rest
/// parser.push(&frame.raw[5..]);
/// assert_eq!(parser.next_frame(), Some(Ok(frame)));
/// ```
#[derive(Debug, Default, Clone)]
pub struct FrameParser {
    buf: Vec<u8>,
    /// Bytes before `start` are consumed.
    start: usize,
    stats: ParserStats,
    /// Set by [`flush`](Self::flush): judge the buffered bytes as if nothing follows them.
    flushing: bool,
}

impl FrameParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.flushing = false;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= COMPACT_AT {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next frame or rejected candidate; `None` means more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        self.next_frame_ref().map(|r| r.map(FrameRef::into_frame))
    }

    /// Like [`next_frame`](Self::next_frame) without copying the frame's bytes.
    pub fn next_frame_ref(&mut self) -> Option<Result<FrameRef<'_>, FrameError>> {
        let (consumed, item) = scan(&self.buf[self.start..], self.flushing, &mut self.stats);
        self.start += consumed;
        if item.is_none() {
            self.flushing = false;
        }
        item
    }

    /// The stream has gone quiet, so the buffered bytes are all there is for now:
    /// the following [`next_frame`](Self::next_frame) calls, until one returns `None`,
    /// give up on partial candidates (counting them as junk) instead of waiting, so
    /// that complete frames behind a stray marker byte come out.
    pub fn flush(&mut self) {
        self.flushing = true;
    }

    /// Bytes received but not yet consumed (at most a partial frame after `next_frame` returned `None`).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn stats(&self) -> ParserStats {
        self.stats
    }
}

/// Parse every frame in a complete buffer, such as one UDP datagram or a file of
/// concatenated frames. A partial frame at the end counts as junk.
pub fn parse_slice(buf: &[u8]) -> SliceFrames<'_> {
    SliceFrames {
        buf,
        pos: 0,
        stats: ParserStats::default(),
    }
}

/// Iterator returned by [`parse_slice`].
#[derive(Debug, Clone)]
pub struct SliceFrames<'a> {
    buf: &'a [u8],
    pos: usize,
    stats: ParserStats,
}

impl SliceFrames<'_> {
    /// Counters so far (complete once the iterator has returned `None`).
    pub fn stats(&self) -> ParserStats {
        self.stats
    }
}

impl<'a> Iterator for SliceFrames<'a> {
    type Item = Result<FrameRef<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (consumed, item) = scan(&self.buf[self.pos..], true, &mut self.stats);
        self.pos += consumed;
        item
    }
}

/// What the bytes at a marker turn out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Candidate {
    /// Too few bytes to judge.
    Incomplete,
    /// Cannot start a frame (e.g. incompatibility flags we do not understand).
    NotAFrame,
    BadCrc {
        msg_id: u32,
    },
    /// Well-formed `len` bytes, but the dialect lacks the id so the checksum is unverifiable.
    Unknown {
        msg_id: u32,
        len: usize,
    },
    /// Checksum verified.
    Valid(ValidFrame),
}

/// Where a checksum-verified frame lies in its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidFrame {
    pub(crate) version: MavlinkVersion,
    pub(crate) header: MavHeader,
    pub(crate) msg_id: u32,
    pub(crate) payload_start: usize,
    pub(crate) payload_len: usize,
    /// Whole frame, signature included.
    pub(crate) len: usize,
}

/// Judge the candidate frame at the start of `buf`; `buf[0]` must be a marker byte.
#[inline]
pub(crate) fn examine(buf: &[u8]) -> Candidate {
    let (version, header_len, sig_len) = match buf.first() {
        Some(&MAGIC_V2) => {
            let Some(&incompat) = buf.get(2) else {
                return Candidate::Incomplete;
            };
            // Unknown incompatibility flags mean we cannot even tell the length (the
            // spec says drop the frame); 32-bit system ids are not MAVLink.
            if incompat & !IFLAG_SIGNED != 0 {
                return Candidate::NotAFrame;
            }
            let sig_len = if incompat & IFLAG_SIGNED != 0 {
                SIGNATURE_LEN
            } else {
                0
            };
            (MavlinkVersion::V2, V2_HEADER_LEN, sig_len)
        }
        Some(&MAGIC_V1) => (MavlinkVersion::V1, V1_HEADER_LEN, 0),
        _ => return Candidate::NotAFrame,
    };
    let Some(&payload_len) = buf.get(1) else {
        return Candidate::Incomplete;
    };
    let payload_len = usize::from(payload_len);
    let crc_at = header_len + payload_len;
    let len = crc_at + CRC_LEN + sig_len;
    if buf.len() < len {
        return Candidate::Incomplete;
    }
    let (header, msg_id) = match version {
        MavlinkVersion::V1 => (
            MavHeader {
                sequence: buf[2],
                system_id: buf[3].into(),
                component_id: buf[4],
            },
            u32::from(buf[5]),
        ),
        MavlinkVersion::V2 => (
            MavHeader {
                sequence: buf[4],
                system_id: buf[5].into(),
                component_id: buf[6],
            },
            u32::from_le_bytes([buf[7], buf[8], buf[9], 0]),
        ),
    };
    let Some(extra) = extra_crc(msg_id) else {
        return Candidate::Unknown { msg_id, len };
    };
    let crc = crc_finish(crc_accumulate(CRC_INIT, &buf[1..crc_at]), extra);
    if crc.to_le_bytes() != [buf[crc_at], buf[crc_at + 1]] {
        return Candidate::BadCrc { msg_id };
    }
    Candidate::Valid(ValidFrame {
        version,
        header,
        msg_id,
        payload_start: header_len,
        payload_len,
        len,
    })
}

/// Decode the payload of a frame [`examine`] found valid; `buf` starts at the frame.
#[inline]
pub(crate) fn decode_valid(buf: &[u8], valid: ValidFrame) -> Result<FrameRef<'_>, FrameError> {
    let payload = &buf[valid.payload_start..valid.payload_start + valid.payload_len];
    match MavMessage::parse(valid.version, valid.msg_id, payload) {
        Ok(msg) => Ok(FrameRef {
            version: valid.version,
            header: valid.header,
            msg,
            raw: &buf[..valid.len],
        }),
        Err(e) => Err(FrameError::Malformed {
            msg_id: valid.msg_id,
            reason: e.to_string(),
        }),
    }
}

#[inline]
pub(crate) fn is_magic(byte: u8) -> bool {
    byte == MAGIC_V2 || byte == MAGIC_V1
}

/// One step of the stream policy over `buf`: returns how many bytes are consumed and
/// the item found, if any. `None` means more bytes are needed (or, with `at_end`, that
/// the buffer is exhausted). With `at_end`, no bytes follow `buf`.
#[inline]
fn scan<'a>(
    buf: &'a [u8],
    at_end: bool,
    stats: &mut ParserStats,
) -> (usize, Option<Result<FrameRef<'a>, FrameError>>) {
    let mut pos = 0;
    loop {
        match buf[pos..].iter().position(|&b| is_magic(b)) {
            Some(skip) => {
                stats.junk_bytes += skip as u64;
                pos += skip;
            }
            None => {
                stats.junk_bytes += (buf.len() - pos) as u64;
                return (buf.len(), None);
            }
        }
        let candidate_buf = &buf[pos..];
        match examine(candidate_buf) {
            Candidate::Valid(valid) => {
                let item = decode_valid(candidate_buf, valid);
                match item {
                    Ok(_) => stats.frames += 1,
                    Err(_) => stats.malformed += 1,
                }
                return (pos + valid.len, Some(item));
            }
            Candidate::BadCrc { msg_id } => {
                stats.crc_errors += 1;
                stats.junk_bytes += 1;
                return (pos + 1, Some(Err(FrameError::BadCrc { msg_id })));
            }
            Candidate::Unknown { msg_id, len } => match candidate_buf.get(len) {
                None if !at_end => return (pos, None),
                Some(&next) if !is_magic(next) => {
                    stats.junk_bytes += 1;
                    pos += 1;
                }
                // An unverifiable frame must not swallow one that verifies: noise that
                // looks like an unknown id can span a real frame up to the end of a buffer.
                _ if hides_a_valid_frame(candidate_buf, len) => {
                    stats.junk_bytes += 1;
                    pos += 1;
                }
                _ => {
                    stats.unknown += 1;
                    return (pos + len, Some(Err(FrameError::UnknownMessage { msg_id })));
                }
            },
            Candidate::Incomplete if !at_end => return (pos, None),
            Candidate::Incomplete | Candidate::NotAFrame => {
                stats.junk_bytes += 1;
                pos += 1;
            }
        }
    }
}

/// Whether a frame with a good CRC starts within the first `len` bytes of `buf`, after
/// the first.
fn hides_a_valid_frame(buf: &[u8], len: usize) -> bool {
    (1..len.min(buf.len()))
        .any(|i| is_magic(buf[i]) && matches!(examine(&buf[i..]), Candidate::Valid(_)))
}

/// The dialect's CRC_EXTRA for `msg_id`, `None` if the dialect lacks the message.
#[inline]
pub fn extra_crc(msg_id: u32) -> Option<u8> {
    let extra = MavMessage::extra_crc(msg_id);
    // The generated lookup answers 0 for unknown ids; the one real message whose
    // CRC_EXTRA is 0 is told apart by id (a test checks this against the dialect).
    if extra != 0 || msg_id == ZERO_EXTRA_CRC_ID {
        Some(extra)
    } else {
        None
    }
}

/// COMPONENT_INFORMATION: deprecated, but still in the dialect and still on the wire.
#[allow(deprecated)]
const ZERO_EXTRA_CRC_ID: u32 = <dialect::COMPONENT_INFORMATION_DATA as MessageData>::ID;

const CRC_INIT: u16 = 0xFFFF;

/// CRC-16/MCRF4XX (X.25 polynomial, reflected) as MAVLink uses it. Slicing-by-8
/// tables: `CRC_TABLES[0]` is the classic byte table, `CRC_TABLES[k]` advances a byte
/// that is followed by `k` more, so eight lookups are independent of each other. The
/// byte-at-a-time loop is one long dependency chain and was the parser's hot spot.
const CRC_TABLES: [[u16; 256]; 8] = {
    let mut tables = [[0u16; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
};

#[inline]
fn crc_accumulate(mut crc: u16, data: &[u8]) -> u16 {
    let t = &CRC_TABLES;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let [lo, hi] = crc.to_le_bytes();
        crc = t[7][usize::from(c[0] ^ lo)]
            ^ t[6][usize::from(c[1] ^ hi)]
            ^ t[5][usize::from(c[2])]
            ^ t[4][usize::from(c[3])]
            ^ t[3][usize::from(c[4])]
            ^ t[2][usize::from(c[5])]
            ^ t[1][usize::from(c[6])]
            ^ t[0][usize::from(c[7])];
    }
    for &byte in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][usize::from((crc as u8) ^ byte)];
    }
    crc
}

#[inline]
fn crc_finish(crc: u16, extra: u8) -> u16 {
    crc_accumulate(crc, &[extra])
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} from {}/{} seq {}",
            self.msg.message_name(),
            self.sysid(),
            self.compid(),
            self.seq()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{self, MavAutopilot, MavModeFlag, MavState, MavType};
    use proptest::prelude::*;

    fn heartbeat(custom_mode: u32) -> MavMessage {
        MavMessage::HEARTBEAT(dialect::HEARTBEAT_DATA {
            custom_mode,
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
            system_status: MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        })
    }

    fn attitude(roll: f32) -> MavMessage {
        MavMessage::ATTITUDE(dialect::ATTITUDE_DATA {
            time_boot_ms: 1234,
            roll,
            pitch: -0.25,
            yaw: 3.0,
            rollspeed: 0.0,
            pitchspeed: 0.0,
            yawspeed: 0.5,
        })
    }

    fn param_value(index: u16) -> MavMessage {
        let mut param_id = [0u8; 16];
        param_id[..7].copy_from_slice(b"RTL_ALT");
        MavMessage::PARAM_VALUE(dialect::PARAM_VALUE_DATA {
            param_value: 1500.0,
            param_count: 1372,
            param_index: index,
            param_id: param_id.into(),
            param_type: dialect::MavParamType::MAV_PARAM_TYPE_REAL32,
        })
    }

    fn all_frames(bytes: &[u8]) -> (Vec<Result<Frame, FrameError>>, ParserStats) {
        let mut it = parse_slice(bytes);
        let items = it.by_ref().map(|r| r.map(FrameRef::into_frame)).collect();
        (items, it.stats())
    }

    #[test]
    fn crc_matches_the_reference_check_value() {
        // CRC-16/MCRF4XX check value from the CRC catalogue.
        assert_eq!(crc_accumulate(CRC_INIT, b"123456789"), 0x6F91);
    }

    #[test]
    fn known_ids_match_the_dialect() {
        for id in (0..=u32::from(u16::MAX)).chain([1 << 16, 1 << 20, (1 << 24) - 1]) {
            assert_eq!(
                extra_crc(id).is_some(),
                MavMessage::default_message_from_id(id).is_some(),
                "message id {id}"
            );
        }
    }

    #[test]
    fn every_default_message_round_trips_v2_and_v1() {
        let mut kinds = 0;
        for id in 0..=u32::from(u16::MAX) {
            let Some(msg) = MavMessage::default_message_from_id(id) else {
                continue;
            };
            kinds += 1;
            let v2 = Frame::encode_v2(42, 190, (id % 256) as u8, &msg);
            let (items, stats) = all_frames(&v2.raw);
            assert_eq!(items, vec![Ok(v2.clone())], "v2 {}", msg.message_name());
            assert_eq!(stats.frames, 1);
            if let Some(v1) = Frame::encode_v1(42, 190, 7, &msg) {
                assert_eq!(v1.version, MavlinkVersion::V1);
                let (items, _) = all_frames(&v1.raw);
                // MAVLink 1 carries no extension fields: they decode to their zero value,
                // which need not be the default the message was built with. The frame
                // itself must come back byte for byte.
                let [Ok(parsed)] = items.as_slice() else {
                    panic!("v1 {}: {items:?}", msg.message_name());
                };
                assert_eq!((parsed.version, parsed.header), (v1.version, v1.header));
                assert_eq!(parsed.raw, v1.raw, "v1 {}", msg.message_name());
            }
        }
        assert!(kinds > 300, "only {kinds} message kinds in the dialect");
    }

    #[test]
    fn non_default_messages_round_trip() {
        for msg in [heartbeat(5), attitude(0.125), param_value(17)] {
            let frame = Frame::encode_v2(1, 1, 200, &msg);
            assert_eq!(frame.sysid(), 1);
            assert_eq!(frame.seq(), 200);
            assert_eq!(frame.msg_id(), msg.message_id());
            let mut parser = FrameParser::new();
            parser.push(&frame.raw);
            assert_eq!(parser.next_frame(), Some(Ok(frame)));
            assert_eq!(parser.next_frame(), None);
            assert_eq!(parser.buffered(), 0);
        }
    }

    #[test]
    fn v2_payload_is_truncated_and_still_decodes() {
        // Trailing zero bytes are cut from MAVLink 2 payloads on the wire.
        let msg = MavMessage::ATTITUDE(dialect::ATTITUDE_DATA {
            time_boot_ms: 99,
            roll: 0.5,
            ..Default::default()
        });
        let frame = Frame::encode_v2(1, 1, 0, &msg);
        let full = dialect::ATTITUDE_DATA::ENCODED_LEN;
        assert!(usize::from(frame.raw[1]) < full);
        let (items, _) = all_frames(&frame.raw);
        assert_eq!(items, vec![Ok(frame)]);
    }

    #[test]
    fn signed_frames_are_accepted_with_their_signature() {
        let mut frame = Frame::encode_v2(1, 1, 3, &heartbeat(0));
        let mut raw = frame.raw.clone();
        raw[2] |= IFLAG_SIGNED;
        // The checksum covers the flags, so recompute it before appending a signature.
        let crc_at = raw.len() - CRC_LEN;
        let extra = extra_crc(0).expect("heartbeat is in the dialect");
        let crc = crc_finish(crc_accumulate(CRC_INIT, &raw[1..crc_at]), extra);
        raw[crc_at..].copy_from_slice(&crc.to_le_bytes());
        raw.extend_from_slice(&[7; SIGNATURE_LEN]);
        let mut stream = raw.clone();
        stream.extend_from_slice(&frame.raw);

        let (items, stats) = all_frames(&stream);
        frame.raw = raw;
        let signed = items[0].clone().expect("signed frame accepted");
        assert!(signed.is_signed());
        assert_eq!(signed, frame);
        assert!(items[1].as_ref().is_ok_and(|f| !f.is_signed()));
        assert_eq!(stats.frames, 2);
        assert_eq!(stats.junk_bytes, 0);
    }

    #[test]
    fn flipped_byte_is_bad_crc_and_next_frame_survives() {
        let first = Frame::encode_v2(1, 1, 0, &attitude(0.5));
        let second = Frame::encode_v2(1, 1, 1, &heartbeat(4));
        let mut stream = first.raw.clone();
        stream[12] ^= 0x40; // inside the payload
        stream.extend_from_slice(&second.raw);
        let (items, stats) = all_frames(&stream);
        assert_eq!(
            items.first(),
            Some(&Err(FrameError::BadCrc {
                msg_id: first.msg_id()
            }))
        );
        assert_eq!(items.last(), Some(&Ok(second)));
        assert_eq!(stats.crc_errors as usize, items.len() - 1);
        assert_eq!(stats.frames, 1);
        assert_eq!(stats.junk_bytes, first.raw.len() as u64);
    }

    #[test]
    fn junk_between_frames_is_counted_and_markers_in_junk_lose_nothing() {
        let a = Frame::encode_v2(1, 1, 0, &heartbeat(1));
        let b = Frame::encode_v2(1, 1, 1, &heartbeat(2));
        let c = Frame::encode_v1(1, 1, 2, &heartbeat(3)).expect("v1 heartbeat");
        // Markers in the junk claim long frames that would swallow `b` if the parser
        // skipped whole candidates.
        let junk = [0x00, MAGIC_V2, 200, 0, 0, 0x11, MAGIC_V1, 250, 0x42];
        let mut stream = a.raw.clone();
        stream.extend_from_slice(&junk);
        stream.extend_from_slice(&b.raw);
        stream.extend_from_slice(b"noise");
        stream.extend_from_slice(&c.raw);

        let mut parser = FrameParser::new();
        parser.push(&stream);
        let mut got = Vec::new();
        while let Some(item) = parser.next_frame() {
            got.push(item);
        }
        // The stray 0xFD claims 212 bytes: a stream parser waits for them...
        assert_eq!(got, vec![Ok(a.clone())]);
        // ...until the link says the stream went quiet.
        parser.flush();
        while let Some(item) = parser.next_frame() {
            got.push(item);
        }
        assert_eq!(got, vec![Ok(a.clone()), Ok(b.clone()), Ok(c.clone())]);
        assert_eq!(parser.buffered(), 0);
        assert_eq!(parser.stats(), all_frames(&stream).1);
        let stats = parser.stats();
        assert_eq!(stats.junk_bytes, (junk.len() + 5) as u64);
        assert_eq!(stats.frames, 3);
        assert_eq!(stats.crc_errors, 0);
    }

    #[test]
    fn unknown_message_id_is_counted_and_skipped() {
        // A structurally valid frame with an id no dialect uses.
        let mut unknown = vec![MAGIC_V2, 3, 0, 0, 9, 1, 1, 0x34, 0x12, 0xAB, 1, 2, 3];
        let crc = crc_finish(crc_accumulate(CRC_INIT, &unknown[1..]), 0);
        unknown.extend_from_slice(&crc.to_le_bytes());
        let known = Frame::encode_v2(1, 1, 10, &heartbeat(0));
        let mut stream = unknown.clone();
        stream.extend_from_slice(&known.raw);
        stream.extend_from_slice(&unknown);

        let (items, stats) = all_frames(&stream);
        let unknown_err = Err(FrameError::UnknownMessage { msg_id: 0xAB1234 });
        assert_eq!(items, vec![unknown_err.clone(), Ok(known), unknown_err]);
        assert_eq!(stats.unknown, 2);
        assert_eq!(stats.junk_bytes, 0);

        // In a stream, an unknown frame is judged once the byte after it arrives.
        let mut parser = FrameParser::new();
        parser.push(&unknown);
        assert_eq!(parser.next_frame(), None);
        parser.push(&[MAGIC_V2]);
        assert_eq!(
            parser.next_frame(),
            Some(Err(FrameError::UnknownMessage { msg_id: 0xAB1234 }))
        );
    }

    #[test]
    fn malformed_payload_is_reported_with_its_id() {
        // HEARTBEAT with an out-of-range MAV_TYPE and a valid checksum.
        let mut raw = Frame::encode_v2(1, 1, 0, &heartbeat(0)).raw;
        raw[10 + 4] = 250;
        let crc_at = raw.len() - CRC_LEN;
        let crc = crc_finish(crc_accumulate(CRC_INIT, &raw[1..crc_at]), 50);
        raw[crc_at..].copy_from_slice(&crc.to_le_bytes());
        let (items, stats) = all_frames(&raw);
        assert!(matches!(
            items.as_slice(),
            [Err(FrameError::Malformed { msg_id: 0, .. })]
        ));
        assert_eq!(stats.malformed, 1);
    }

    #[test]
    fn truncated_tail_of_a_slice_is_junk() {
        let frame = Frame::encode_v2(1, 1, 0, &heartbeat(0));
        let cut = &frame.raw[..frame.raw.len() - 1];
        let (items, stats) = all_frames(cut);
        assert!(items.is_empty());
        assert_eq!(stats.junk_bytes, cut.len() as u64);
    }

    #[test]
    fn unsupported_incompat_flags_are_not_a_frame() {
        let mut raw = Frame::encode_v2(1, 1, 0, &heartbeat(0)).raw;
        raw[2] = 0x02;
        let (items, stats) = all_frames(&raw);
        assert!(items.iter().all(|i| i.is_err()));
        assert_eq!(stats.frames, 0);
    }

    #[test]
    fn buffer_is_compacted_in_long_streams() {
        let frame = Frame::encode_v2(1, 1, 0, &heartbeat(0));
        let mut parser = FrameParser::new();
        for _ in 0..10_000 {
            parser.push(&frame.raw[..3]);
            parser.push(&frame.raw[3..]);
            parser.push(&frame.raw[..1]);
            assert!(parser.next_frame().is_some_and(|r| r.is_ok()));
            parser.push(&frame.raw[1..]);
            assert!(parser.next_frame().is_some_and(|r| r.is_ok()));
            assert!(parser.buf.len() < COMPACT_AT + 2 * MAX_FRAME_LEN);
        }
        assert_eq!(parser.stats().frames, 20_000);
    }

    fn arb_message() -> impl Strategy<Value = MavMessage> {
        prop_oneof![
            any::<u32>().prop_map(heartbeat),
            any::<f32>()
                .prop_filter("NaN breaks equality", |f| !f.is_nan())
                .prop_map(attitude),
            any::<u16>().prop_map(param_value),
        ]
    }

    fn arb_stream() -> impl Strategy<Value = (Vec<Frame>, Vec<u8>)> {
        prop::collection::vec((arb_message(), any::<u8>(), any::<bool>()), 1..20).prop_map(|msgs| {
            let frames: Vec<Frame> = msgs
                .iter()
                .map(|(msg, seq, v1)| {
                    if *v1 {
                        Frame::encode_v1(3, 1, *seq, msg).expect("ids below 256")
                    } else {
                        Frame::encode_v2(3, 1, *seq, msg)
                    }
                })
                .collect();
            let bytes = frames.iter().flat_map(|f| f.raw.clone()).collect();
            (frames, bytes)
        })
    }

    proptest! {
        #[test]
        fn crc_matches_the_mavlink_crate(
            data in prop::collection::vec(any::<u8>(), 0..300),
            extra in any::<u8>(),
        ) {
            prop_assert_eq!(
                crc_finish(crc_accumulate(CRC_INIT, &data), extra),
                mavlink::calculate_crc(&data, extra)
            );
        }

        #[test]
        fn any_chunking_yields_the_same_frames(
            (frames, bytes) in arb_stream(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            cuts.push(0);
            cuts.push(bytes.len());
            cuts.sort_unstable();
            let mut parser = FrameParser::new();
            let mut got = Vec::new();
            for pair in cuts.windows(2) {
                parser.push(&bytes[pair[0]..pair[1]]);
                while let Some(item) = parser.next_frame() {
                    got.push(item.expect("clean stream"));
                }
            }
            prop_assert_eq!(got, frames);
            prop_assert_eq!(parser.stats().junk_bytes, 0);
            prop_assert_eq!(parser.buffered(), 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_are_fully_accounted(
            bytes in prop::collection::vec(any::<u8>(), 0..2000)
        ) {
            let mut it = parse_slice(&bytes);
            let mut frame_bytes = 0;
            for frame in it.by_ref().flatten() {
                frame_bytes += frame.raw.len();
            }
            let stats = it.stats();
            // Unknown and malformed frames are consumed whole; without them, every
            // byte is either in a frame or junk.
            if stats.unknown == 0 && stats.malformed == 0 {
                prop_assert_eq!(frame_bytes as u64 + stats.junk_bytes, bytes.len() as u64);
            }
        }

        #[test]
        // Noise could in theory end in a well-formed unknown-id frame that ends exactly
        // where the real frame starts (see the module docs); random noise will not.
        fn noise_before_a_frame_does_not_hide_it(
            noise in prop::collection::vec(any::<u8>(), 0..300),
            custom_mode in any::<u32>(),
        ) {
            let frame = Frame::encode_v2(1, 1, 0, &heartbeat(custom_mode));
            let mut stream = noise.clone();
            stream.extend_from_slice(&frame.raw);
            let found = parse_slice(&stream).filter_map(Result::ok).any(|f| f.raw == frame.raw.as_slice());
            prop_assert!(found);
        }
    }
}
