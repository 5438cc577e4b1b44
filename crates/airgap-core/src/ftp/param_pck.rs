//! ArduPilot's packed parameter file, `@PARAM/param.pck`: what a MAVFTP parameter download
//! reads instead of one PARAM_VALUE per parameter.
//!
//! Layout (little-endian): a header `magic: u16` (0x671b, or 0x671c when default values are
//! included), `num_params: u16` (entries in this file), `total_params: u16` (on the vehicle);
//! then one entry per parameter:
//! - byte 0: type in the low nibble (1 int8, 2 int16, 3 int32, 4 float), flags in the high
//!   nibble (bit 0: a default value follows the value; only meaningful with magic 0x671c);
//! - byte 1: `common_len` in the low nibble (leading name bytes shared with the previous
//!   entry's name), `name_len - 1` in the high nibble (the bytes that follow);
//! - the `name_len` new name bytes, the value, then the default if flagged.
//!
//! Zero bytes before an entry are padding (type 0 does not exist): ArduPilot inserts them so
//! no multi-byte value straddles a read-block boundary, which keeps a block re-read after a
//! loss byte-identical even though the vehicle generates the file on the fly.

use crate::dialect::MavParamType;
use crate::params::Param;

const MAGIC: u16 = 0x671b;
const MAGIC_WITH_DEFAULTS: u16 = 0x671c;
const HEADER_LEN: usize = 6;
/// ArduPilot's parameter names are at most 16 bytes.
const MAX_NAME_LEN: usize = 16;
/// The block size MAVFTP reads in, and so the one the padding is computed for.
pub const BLOCK_SIZE: usize = super::payload::MAX_DATA_LEN;

/// A decoded param.pck.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamPack {
    pub params: Vec<Param>,
    /// With magic 0x671c: each parameter's default, in the order of `params` (the value
    /// itself when the file says it is at its default).
    pub defaults: Option<Vec<f64>>,
    /// How many parameters the vehicle has; equals `params.len()` for a whole-file read.
    pub total_params: u16,
}

/// Why bytes are not a param.pck, or parameters cannot be packed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamPckError {
    #[error("param.pck is {0} bytes, shorter than its 6-byte header")]
    TooShort(usize),
    #[error("param.pck starts with magic {0:#06x}, expected 0x671b or 0x671c")]
    BadMagic(u16),
    #[error("param.pck entry {index} at byte {offset} has unknown type {ptype}")]
    BadType {
        index: usize,
        offset: usize,
        ptype: u8,
    },
    #[error("param.pck entry {index} at byte {offset} shares {common_len} name bytes with a {previous_len}-byte name, or its name is longer than 16")]
    BadName {
        index: usize,
        offset: usize,
        common_len: usize,
        previous_len: usize,
    },
    #[error("param.pck is cut off inside entry {index} at byte {offset}")]
    Truncated { index: usize, offset: usize },
    #[error("param.pck header says {expected} parameters, the file holds {found}")]
    CountMismatch { expected: u16, found: usize },
    #[error("parameter {name:?}: {why}")]
    CannotPack { name: String, why: &'static str },
}

/// ArduPilot's own type numbers (`ap_var_type`), the only four param.pck carries.
fn type_info(ptype: u8) -> Option<(usize, MavParamType)> {
    match ptype {
        1 => Some((1, MavParamType::MAV_PARAM_TYPE_INT8)),
        2 => Some((2, MavParamType::MAV_PARAM_TYPE_INT16)),
        3 => Some((4, MavParamType::MAV_PARAM_TYPE_INT32)),
        4 => Some((4, MavParamType::MAV_PARAM_TYPE_REAL32)),
        _ => None,
    }
}

fn read_value(ptype: u8, b: &[u8]) -> f64 {
    match (ptype, b) {
        (1, [a, ..]) => f64::from(i8::from_le_bytes([*a])),
        (2, [a, b2, ..]) => f64::from(i16::from_le_bytes([*a, *b2])),
        (3, [a, b2, c, d, ..]) => f64::from(i32::from_le_bytes([*a, *b2, *c, *d])),
        (4, [a, b2, c, d, ..]) => f64::from(f32::from_le_bytes([*a, *b2, *c, *d])),
        // Callers slice exactly the type's length, checked against `type_info`.
        _ => 0.0,
    }
}

/// Read a param.pck.
pub fn decode(bytes: &[u8]) -> Result<ParamPack, ParamPckError> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or(ParamPckError::TooShort(bytes.len()))?;
    let magic = u16::from_le_bytes([header[0], header[1]]);
    let num_params = u16::from_le_bytes([header[2], header[3]]);
    let total_params = u16::from_le_bytes([header[4], header[5]]);
    let with_defaults = match magic {
        MAGIC => false,
        MAGIC_WITH_DEFAULTS => true,
        other => return Err(ParamPckError::BadMagic(other)),
    };
    let mut params = Vec::with_capacity(usize::from(num_params));
    let mut defaults = with_defaults.then(Vec::new);
    let mut last_name: Vec<u8> = Vec::new();
    let mut pos = HEADER_LEN;
    loop {
        while bytes.get(pos) == Some(&0) {
            pos += 1;
        }
        if pos >= bytes.len() {
            break;
        }
        let index = params.len();
        let offset = pos;
        let truncated = ParamPckError::Truncated { index, offset };
        let &[tf, lens] = bytes.get(pos..pos + 2).ok_or(truncated.clone())? else {
            return Err(truncated);
        };
        let ptype = tf & 0x0F;
        let has_default = with_defaults && (tf >> 4) & 1 != 0;
        let (value_len, param_type) = type_info(ptype).ok_or(ParamPckError::BadType {
            index,
            offset,
            ptype,
        })?;
        let common_len = usize::from(lens & 0x0F);
        let name_len = usize::from(lens >> 4) + 1;
        if common_len > last_name.len() || common_len + name_len > MAX_NAME_LEN {
            return Err(ParamPckError::BadName {
                index,
                offset,
                common_len,
                previous_len: last_name.len(),
            });
        }
        let entry_len = 2 + name_len + value_len * if has_default { 2 } else { 1 };
        let entry = bytes.get(pos..pos + entry_len).ok_or(truncated)?;
        let mut name = last_name[..common_len].to_vec();
        name.extend_from_slice(&entry[2..2 + name_len]);
        let value_at = 2 + name_len;
        let value = read_value(ptype, &entry[value_at..value_at + value_len]);
        if let Some(defaults) = defaults.as_mut() {
            defaults.push(if has_default {
                read_value(ptype, &entry[value_at + value_len..])
            } else {
                value
            });
        }
        params.push(Param {
            name: String::from_utf8_lossy(&name).into_owned(),
            value,
            param_type,
        });
        last_name = name;
        pos += entry_len;
    }
    if params.len() != usize::from(num_params) {
        return Err(ParamPckError::CountMismatch {
            expected: num_params,
            found: params.len(),
        });
    }
    Ok(ParamPack {
        params,
        defaults,
        total_params,
    })
}

/// ArduPilot's type number for a parameter and its value's little-endian bytes.
fn pack_value(p: &Param, value: f64) -> Result<(u8, Vec<u8>), ParamPckError> {
    let err = |why| ParamPckError::CannotPack {
        name: p.name.clone(),
        why,
    };
    let int = |lo: f64, hi: f64| {
        if value.fract() != 0.0 || !(lo..=hi).contains(&value) {
            Err(err("value out of range for its integer type"))
        } else {
            Ok(value)
        }
    };
    // The casts below are exact: `int` checked the value is integral and in range.
    Ok(match p.param_type {
        MavParamType::MAV_PARAM_TYPE_INT8 => (
            1,
            (int(f64::from(i8::MIN), f64::from(i8::MAX))? as i8)
                .to_le_bytes()
                .to_vec(),
        ),
        MavParamType::MAV_PARAM_TYPE_INT16 => (
            2,
            (int(f64::from(i16::MIN), f64::from(i16::MAX))? as i16)
                .to_le_bytes()
                .to_vec(),
        ),
        MavParamType::MAV_PARAM_TYPE_INT32 => (
            3,
            (int(f64::from(i32::MIN), f64::from(i32::MAX))? as i32)
                .to_le_bytes()
                .to_vec(),
        ),
        MavParamType::MAV_PARAM_TYPE_REAL32 => (4, (value as f32).to_le_bytes().to_vec()),
        _ => return Err(err("param.pck carries only int8, int16, int32 and float")),
    })
}

/// Pack parameters as ArduPilot serves them, padded for reads of `block_size` bytes
/// ([`BLOCK_SIZE`] for MAVFTP). `total_params` in the header is `params.len()`.
pub fn encode(params: &[Param], block_size: usize) -> Result<Vec<u8>, ParamPckError> {
    encode_inner(params, None, block_size)
}

/// As [`encode`], with magic 0x671c and each parameter's default (`defaults[i]` for
/// `params[i]`); a default equal to the value is left out, as ArduPilot does.
pub fn encode_with_defaults(
    params: &[Param],
    defaults: &[f64],
    block_size: usize,
) -> Result<Vec<u8>, ParamPckError> {
    encode_inner(params, Some(defaults), block_size)
}

fn encode_inner(
    params: &[Param],
    defaults: Option<&[f64]>,
    block_size: usize,
) -> Result<Vec<u8>, ParamPckError> {
    let count = u16::try_from(params.len()).map_err(|_| ParamPckError::CannotPack {
        name: String::new(),
        why: "more than 65535 parameters",
    })?;
    let magic = if defaults.is_some() {
        MAGIC_WITH_DEFAULTS
    } else {
        MAGIC
    };
    let mut out = Vec::with_capacity(HEADER_LEN + params.len() * 16);
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    let mut last: &[u8] = &[];
    for (i, p) in params.iter().enumerate() {
        let name = p.name.as_bytes();
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains(&0) {
            return Err(ParamPckError::CannotPack {
                name: p.name.clone(),
                why: "a name must be 1 to 16 bytes without NUL",
            });
        }
        let (ptype, value) = pack_value(p, p.value)?;
        let default = match defaults.and_then(|d| d.get(i)) {
            Some(d) if *d != p.value => Some(pack_value(p, *d)?.1),
            _ => None,
        };
        let mut common = name.iter().zip(last).take_while(|(a, b)| a == b).count();
        // At least one new name byte, and the count must fit its nibble.
        common = common.min(name.len() - 1).min(15);
        let new = &name[common..];
        let entry_len = 2 + new.len() + value.len() + default.as_ref().map_or(0, Vec::len);
        if value.len() > 1 && block_size > 0 {
            let end = out.len() + entry_len;
            let into_block = end % block_size;
            if into_block > 0 && into_block < value.len() {
                out.resize(out.len() + value.len() - into_block, 0);
            }
        }
        let flags = u8::from(default.is_some());
        out.push(ptype | flags << 4);
        // `common` ≤ 15 and 1 ≤ `new.len()` ≤ 16, so both fit a nibble.
        out.push(common as u8 | ((new.len() - 1) as u8) << 4);
        out.extend_from_slice(new);
        out.extend_from_slice(&value);
        if let Some(d) = default {
            out.extend_from_slice(&d);
        }
        last = name;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn param(name: &str, value: f64, t: MavParamType) -> Param {
        Param {
            name: name.into(),
            value,
            param_type: t,
        }
    }

    #[test]
    fn decodes_a_hand_built_file() {
        // ACRO_BAL_PITCH (float 1.0) then ACRO_BAL_ROLL (int8 -3): 9 bytes shared.
        let mut b = vec![0x1b, 0x67, 2, 0, 5, 0];
        b.extend_from_slice(&[4, 13 << 4]);
        b.extend_from_slice(b"ACRO_BAL_PITCH");
        b.extend_from_slice(&1.0f32.to_le_bytes());
        b.extend_from_slice(&[0, 0]); // padding
        b.extend_from_slice(&[1, 9 | (3 << 4)]);
        b.extend_from_slice(b"ROLL");
        b.push(0xFD);
        let pack = decode(&b).expect("valid");
        assert_eq!(pack.total_params, 5);
        assert_eq!(pack.defaults, None);
        assert_eq!(
            pack.params,
            [
                param("ACRO_BAL_PITCH", 1.0, MavParamType::MAV_PARAM_TYPE_REAL32),
                param("ACRO_BAL_ROLL", -3.0, MavParamType::MAV_PARAM_TYPE_INT8),
            ]
        );
    }

    #[test]
    fn defaults_flag() {
        let params = [
            param("A", 5.0, MavParamType::MAV_PARAM_TYPE_INT16),
            param("B", 2.5, MavParamType::MAV_PARAM_TYPE_REAL32),
        ];
        let bytes = encode_with_defaults(&params, &[7.0, 2.5], BLOCK_SIZE).expect("packs");
        assert_eq!(&bytes[..2], &[0x1c, 0x67]);
        // Only A carries a default.
        assert_eq!(bytes[6], 2 | 1 << 4);
        let pack = decode(&bytes).expect("valid");
        assert_eq!(pack.params, params);
        assert_eq!(pack.defaults, Some(vec![7.0, 2.5]));
    }

    #[test]
    fn bad_files_are_typed_errors() {
        assert_eq!(decode(&[0x1b]), Err(ParamPckError::TooShort(1)));
        assert_eq!(decode(&[0, 0, 0, 0, 0, 0]), Err(ParamPckError::BadMagic(0)));
        assert!(matches!(
            decode(&[0x1b, 0x67, 1, 0, 1, 0, 7, 0]),
            Err(ParamPckError::BadType { ptype: 7, .. })
        ));
        assert!(matches!(
            decode(&[0x1b, 0x67, 1, 0, 1, 0, 4, 0x30, b'A', b'B', b'C', b'D', 0]),
            Err(ParamPckError::Truncated { index: 0, .. })
        ));
        assert!(matches!(
            decode(&[0x1b, 0x67, 1, 0, 1, 0, 1, 0x03, b'A', 1]),
            Err(ParamPckError::BadName { common_len: 3, .. })
        ));
        assert_eq!(
            decode(&[0x1b, 0x67, 2, 0, 2, 0, 1, 0x00, b'A', 1]),
            Err(ParamPckError::CountMismatch {
                expected: 2,
                found: 1
            })
        );
    }

    #[test]
    fn refuses_what_it_cannot_pack() {
        for p in [
            param("X", 300.0, MavParamType::MAV_PARAM_TYPE_INT8),
            param("X", 1.5, MavParamType::MAV_PARAM_TYPE_INT32),
            param("X", 1.0, MavParamType::MAV_PARAM_TYPE_UINT8),
            param("", 1.0, MavParamType::MAV_PARAM_TYPE_INT8),
            param("SEVENTEEN_CHARS_X", 1.0, MavParamType::MAV_PARAM_TYPE_INT8),
        ] {
            assert!(matches!(
                encode(&[p], BLOCK_SIZE),
                Err(ParamPckError::CannotPack { .. })
            ));
        }
    }

    #[test]
    fn no_value_straddles_a_block() {
        let params: Vec<Param> = (0..2000)
            .map(|i| {
                param(
                    &format!("P{:03}_{}", i / 7, i % 7),
                    f64::from(i),
                    MavParamType::MAV_PARAM_TYPE_INT32,
                )
            })
            .collect();
        let bytes = encode(&params, BLOCK_SIZE).expect("packs");
        // Walk the entries and check every 4-byte value lies within one block.
        let mut pos = HEADER_LEN;
        let mut last_len = 0;
        while pos < bytes.len() {
            while bytes[pos] == 0 {
                pos += 1;
            }
            let name_len = usize::from(bytes[pos + 1] >> 4) + 1;
            let value_at = pos + 2 + name_len;
            assert_eq!(value_at / BLOCK_SIZE, (value_at + 3) / BLOCK_SIZE);
            last_len = name_len;
            pos = value_at + 4;
        }
        assert!(last_len > 0);
        assert_eq!(decode(&bytes).expect("valid").params, params);
    }

    fn arb_param() -> impl Strategy<Value = Param> {
        let name = "[A-Z][A-Z0-9_]{0,15}";
        prop_oneof![
            (name, any::<i8>()).prop_map(|(n, v)| param(
                &n,
                f64::from(v),
                MavParamType::MAV_PARAM_TYPE_INT8
            )),
            (name, any::<i16>()).prop_map(|(n, v)| param(
                &n,
                f64::from(v),
                MavParamType::MAV_PARAM_TYPE_INT16
            )),
            (name, any::<i32>()).prop_map(|(n, v)| param(
                &n,
                f64::from(v),
                MavParamType::MAV_PARAM_TYPE_INT32
            )),
            (name, -1e6f32..1e6f32).prop_map(|(n, v)| param(
                &n,
                f64::from(v),
                MavParamType::MAV_PARAM_TYPE_REAL32
            )),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(mut params in proptest::collection::vec(arb_param(), 0..300),
                      block in 5usize..300) {
            // Sorted, like a vehicle's list, so names share prefixes.
            params.sort_by(|a, b| a.name.cmp(&b.name));
            let bytes = encode(&params, block).expect("packs");
            let pack = decode(&bytes).expect("decodes");
            prop_assert_eq!(pack.params, params);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&bytes);
        }
    }
}
