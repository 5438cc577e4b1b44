//! ArduPilot's mission files over MAVFTP: `@MISSION/mission.dat`, `fence.dat` and
//! `rally.dat`. A 10-byte little-endian header — `magic: u16` (0x763d), `mission_type: u16`
//! (MAV_MISSION_TYPE), `options: u16` (bit 0: do not clear the stored list first),
//! `start: u16` (first item written, 0 for a whole list), `num_items: u16` — then each item
//! as the 38-byte MISSION_ITEM_INT payload in its wire order (param1–4, x, y, z, seq,
//! command, target system/component, frame, current, autocontinue, mission_type).
//!
//! Reading a mission from ArduPilot this way yields item 0 as home, exactly as the classic
//! download does.

use num_traits::FromPrimitive;

use crate::dialect::{MavCmd, MavFrame, MavMissionType};
use crate::mission::MissionItem;

const MAGIC: u16 = 0x763d;
pub const HEADER_LEN: usize = 10;
/// MISSION_ITEM_INT's payload with its `mission_type` extension.
pub const ITEM_LEN: usize = 38;
/// Header `options` bit: keep the stored items and overwrite from `start` on.
pub const OPTION_NO_CLEAR: u16 = 1;

/// The MAVFTP path that holds a mission type's list.
pub fn path(mission_type: MavMissionType) -> &'static str {
    match mission_type {
        MavMissionType::MAV_MISSION_TYPE_FENCE => "@MISSION/fence.dat",
        MavMissionType::MAV_MISSION_TYPE_RALLY => "@MISSION/rally.dat",
        _ => "@MISSION/mission.dat",
    }
}

/// A decoded file: its header fields and items.
#[derive(Debug, Clone, PartialEq)]
pub struct MissionFile {
    pub mission_type: MavMissionType,
    pub options: u16,
    pub start: u16,
    pub items: Vec<MissionItem>,
}

/// Why bytes are not a mission file, or items cannot be written as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissionDatError {
    #[error("mission file is {0} bytes, shorter than its 10-byte header")]
    TooShort(usize),
    #[error("mission file starts with magic {0:#06x}, expected 0x763d")]
    BadMagic(u16),
    #[error("mission file has unknown mission type {0}")]
    BadMissionType(u16),
    #[error("mission file header says {expected} items, {found} bytes of items follow ({ITEM_LEN} each)")]
    Truncated { expected: u16, found: usize },
    #[error("mission file item {index} has unknown {field} {value}")]
    BadItem {
        index: usize,
        field: &'static str,
        value: u16,
    },
    #[error("{0} items is more than the file format can count (65535)")]
    TooManyItems(usize),
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Read a mission file. Bytes after the last item are ignored (a read may end on padding).
pub fn decode(bytes: &[u8]) -> Result<MissionFile, MissionDatError> {
    if bytes.len() < HEADER_LEN {
        return Err(MissionDatError::TooShort(bytes.len()));
    }
    let magic = u16_at(bytes, 0);
    if magic != MAGIC {
        return Err(MissionDatError::BadMagic(magic));
    }
    let raw_type = u16_at(bytes, 2);
    let mission_type = u8::try_from(raw_type)
        .ok()
        .and_then(MavMissionType::from_u8)
        .ok_or(MissionDatError::BadMissionType(raw_type))?;
    let options = u16_at(bytes, 4);
    let start = u16_at(bytes, 6);
    let num_items = u16_at(bytes, 8);
    let body = &bytes[HEADER_LEN..];
    if body.len() < usize::from(num_items) * ITEM_LEN {
        return Err(MissionDatError::Truncated {
            expected: num_items,
            found: body.len(),
        });
    }
    let items = body
        .chunks_exact(ITEM_LEN)
        .take(usize::from(num_items))
        .enumerate()
        .map(|(index, b)| {
            let command = u16_at(b, 30);
            let frame = b[34];
            Ok(MissionItem {
                param1: f32_at(b, 0),
                param2: f32_at(b, 4),
                param3: f32_at(b, 8),
                param4: f32_at(b, 12),
                x: i32_at(b, 16),
                y: i32_at(b, 20),
                z: f32_at(b, 24),
                seq: u16_at(b, 28),
                command: MavCmd::from_u16(command).ok_or(MissionDatError::BadItem {
                    index,
                    field: "command",
                    value: command,
                })?,
                frame: MavFrame::from_u8(frame).ok_or(MissionDatError::BadItem {
                    index,
                    field: "frame",
                    value: u16::from(frame),
                })?,
                current: b[35] != 0,
                autocontinue: b[36] != 0,
                // The header's type is the file's; ArduPilot leaves the per-item byte 0.
                mission_type,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MissionFile {
        mission_type,
        options,
        start,
        items,
    })
}

/// A whole-list file (options 0, start 0) for `items`, renumbered from 0 in order.
pub fn encode(
    mission_type: MavMissionType,
    items: &[MissionItem],
) -> Result<Vec<u8>, MissionDatError> {
    let count =
        u16::try_from(items.len()).map_err(|_| MissionDatError::TooManyItems(items.len()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + items.len() * ITEM_LEN);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(mission_type as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for (seq, it) in (0u16..).zip(items) {
        for v in [it.param1, it.param2, it.param3, it.param4] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&it.x.to_le_bytes());
        out.extend_from_slice(&it.y.to_le_bytes());
        out.extend_from_slice(&it.z.to_le_bytes());
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&(it.command as u16).to_le_bytes());
        out.extend_from_slice(&[
            0,
            0,
            it.frame as u8,
            u8::from(it.current),
            u8::from(it.autocontinue),
            mission_type as u8,
        ]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(seq: u16, t: MavMissionType) -> MissionItem {
        MissionItem {
            seq,
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            command: MavCmd::MAV_CMD_NAV_WAYPOINT,
            current: seq == 0,
            autocontinue: true,
            param1: 1.5,
            param2: 0.0,
            param3: -2.0,
            param4: f32::NAN.min(7.0),
            x: -353_632_621 + i32::from(seq),
            y: 1_491_652_374 - i32::from(seq),
            z: 20.0 + f32::from(seq),
            mission_type: t,
        }
    }

    #[test]
    fn layout_matches_ardupilot() {
        let bytes = encode(
            MavMissionType::MAV_MISSION_TYPE_MISSION,
            &[item(0, MavMissionType::MAV_MISSION_TYPE_MISSION)],
        )
        .expect("one item");
        assert_eq!(bytes.len(), HEADER_LEN + ITEM_LEN);
        assert_eq!(&bytes[..HEADER_LEN], &[0x3d, 0x76, 0, 0, 0, 0, 0, 0, 1, 0]);
        // Offsets as ArduPilot's struct puts them: x at 16, command at 30, frame at 34.
        assert_eq!(i32_at(&bytes[HEADER_LEN..], 16), -353_632_621);
        assert_eq!(u16_at(&bytes[HEADER_LEN..], 30), 16);
        assert_eq!(bytes[HEADER_LEN + 34], 3);
    }

    #[test]
    fn round_trip_each_type_renumbered() {
        for t in [
            MavMissionType::MAV_MISSION_TYPE_MISSION,
            MavMissionType::MAV_MISSION_TYPE_FENCE,
            MavMissionType::MAV_MISSION_TYPE_RALLY,
        ] {
            let items: Vec<_> = (0..650).map(|s| item(s + 3, t)).collect();
            let file = decode(&encode(t, &items).expect("fits")).expect("valid");
            assert_eq!(file.mission_type, t);
            assert_eq!(file.items.len(), 650);
            for (i, (got, sent)) in file.items.iter().zip(&items).enumerate() {
                assert_eq!(usize::from(got.seq), i);
                assert_eq!(
                    MissionItem {
                        seq: sent.seq,
                        ..got.clone()
                    },
                    *sent
                );
            }
        }
        assert_eq!(
            path(MavMissionType::MAV_MISSION_TYPE_FENCE),
            "@MISSION/fence.dat"
        );
    }

    #[test]
    fn bad_files_are_typed_errors() {
        assert_eq!(decode(&[0x3d]), Err(MissionDatError::TooShort(1)));
        assert_eq!(
            decode(&[0x1b, 0x67, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(MissionDatError::BadMagic(0x671b))
        );
        assert_eq!(
            decode(&[0x3d, 0x76, 9, 0, 0, 0, 0, 0, 0, 0]),
            Err(MissionDatError::BadMissionType(9))
        );
        let t = MavMissionType::MAV_MISSION_TYPE_MISSION;
        let mut bytes = encode(t, &[item(0, t), item(1, t)]).expect("fits");
        bytes.truncate(bytes.len() - 1);
        assert_eq!(
            decode(&bytes),
            Err(MissionDatError::Truncated {
                expected: 2,
                found: 75
            })
        );
        let mut bytes = encode(t, &[item(0, t)]).expect("fits");
        bytes[HEADER_LEN + 30] = 0xFF;
        bytes[HEADER_LEN + 31] = 0xFF;
        assert!(matches!(
            decode(&bytes),
            Err(MissionDatError::BadItem {
                field: "command",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
