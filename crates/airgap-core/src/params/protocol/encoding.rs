//! How a parameter's value and name travel in PARAM_VALUE / PARAM_SET: the two value
//! encodings autopilots use for the `float` field, with range checks, and the 16-byte name.

use mavlink::types::CharArray;

use crate::dialect::{MavAutopilot, MavParamType, MavProtocolCapability};

/// The longest parameter name the protocol carries.
pub const NAME_LEN: usize = 16;

/// How an autopilot puts a typed value into the `float param_value` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// The float holds the number itself (`(float)value`): ArduPilot, for every type.
    /// Integers beyond 2^24 in magnitude cannot all be carried exactly.
    #[default]
    CCast,
    /// The integer's bytes are copied into the float's bytes (PX4,
    /// MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE). Exact for every type up to 32 bits.
    Bytewise,
}

/// A value that cannot be carried as the given parameter type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{value} is not a finite number")]
    NotFinite { value: f64 },
    #[error("{value} is not a whole number, but the parameter is {param_type:?}")]
    NotInteger {
        value: f64,
        param_type: MavParamType,
    },
    #[error("{value} is outside the range of {param_type:?} ({min} to {max})")]
    OutOfRange {
        value: f64,
        param_type: MavParamType,
        min: f64,
        max: f64,
    },
    /// The C-cast encoding goes through a 32-bit float, which has 24 bits of mantissa.
    #[error("{value} cannot be sent exactly as a 32-bit float (nearest is {nearest})")]
    NotRepresentable { value: f64, nearest: f64 },
    #[error("{param_type:?} cannot be carried with the {encoding:?} encoding")]
    Unsupported {
        param_type: MavParamType,
        encoding: Encoding,
    },
}

/// A parameter name that PARAM_SET / PARAM_REQUEST_READ cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the parameter name is empty")]
    Empty,
    #[error("parameter name {name:?} is {len} bytes long; at most {NAME_LEN} fit")]
    TooLong { name: String, len: usize },
    #[error("parameter name {name:?} contains a character other than printable ASCII")]
    NotAscii { name: String },
}

impl Encoding {
    /// The encoding an autopilot declares in AUTOPILOT_VERSION.capabilities. With neither
    /// flag set (older firmware) the C cast is assumed, as QGroundControl does.
    pub fn from_capabilities(capabilities: MavProtocolCapability) -> Encoding {
        if capabilities
            .contains(MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE)
        {
            Encoding::Bytewise
        } else {
            Encoding::CCast
        }
    }

    /// A guess from the HEARTBEAT alone, for use until AUTOPILOT_VERSION has arrived.
    pub fn for_autopilot(autopilot: MavAutopilot) -> Encoding {
        match autopilot {
            MavAutopilot::MAV_AUTOPILOT_PX4 => Encoding::Bytewise,
            _ => Encoding::CCast,
        }
    }

    /// The `param_value` float that carries `value` as `param_type`. Fails rather than
    /// wraps, truncates or rounds an integer.
    pub fn encode(self, value: f64, param_type: MavParamType) -> Result<f32, ValueError> {
        use MavParamType::*;
        if !value.is_finite() {
            return Err(ValueError::NotFinite { value });
        }
        let Some((min, max)) = integer_range(param_type) else {
            // Real types: rounding to the float's precision is what a float parameter means.
            if self == Encoding::Bytewise && param_type == MAV_PARAM_TYPE_REAL64 {
                return Err(self.unsupported(param_type));
            }
            if value.abs() > f64::from(f32::MAX) {
                return Err(ValueError::OutOfRange {
                    value,
                    param_type,
                    min: f64::from(f32::MIN),
                    max: f64::from(f32::MAX),
                });
            }
            return Ok(value as f32);
        };
        if value.fract() != 0.0 {
            return Err(ValueError::NotInteger { value, param_type });
        }
        // `as i128` saturates, and every finite whole f64 in the 64-bit ranges converts exactly.
        let whole = value as i128;
        if whole < min || whole > max {
            return Err(ValueError::OutOfRange {
                value,
                param_type,
                min: min as f64,
                max: max as f64,
            });
        }
        match self {
            Encoding::CCast => {
                let wire = value as f32;
                if f64::from(wire) != value {
                    return Err(ValueError::NotRepresentable {
                        value,
                        nearest: f64::from(wire),
                    });
                }
                Ok(wire)
            }
            Encoding::Bytewise => {
                // The integer sits in the low bytes, little-endian like the rest of the frame;
                // the unused bytes are zero.
                let bytes: [u8; 4] = match param_type {
                    MAV_PARAM_TYPE_UINT8 | MAV_PARAM_TYPE_INT8 => [whole as u8, 0, 0, 0],
                    MAV_PARAM_TYPE_UINT16 | MAV_PARAM_TYPE_INT16 => {
                        let [a, b] = (whole as u16).to_le_bytes();
                        [a, b, 0, 0]
                    }
                    MAV_PARAM_TYPE_UINT32 | MAV_PARAM_TYPE_INT32 => (whole as u32).to_le_bytes(),
                    _ => return Err(self.unsupported(param_type)),
                };
                Ok(f32::from_le_bytes(bytes))
            }
        }
    }

    /// The value a `param_value` float carries for `param_type`.
    pub fn decode(self, wire: f32, param_type: MavParamType) -> Result<f64, ValueError> {
        use MavParamType::*;
        let Some((min, max)) = integer_range(param_type) else {
            if self == Encoding::Bytewise && param_type == MAV_PARAM_TYPE_REAL64 {
                return Err(self.unsupported(param_type));
            }
            return Ok(f64::from(wire));
        };
        match self {
            Encoding::CCast => {
                let value = f64::from(wire);
                if !value.is_finite() {
                    return Err(ValueError::NotFinite { value });
                }
                if value.fract() != 0.0 {
                    return Err(ValueError::NotInteger { value, param_type });
                }
                let whole = value as i128;
                if whole < min || whole > max {
                    return Err(ValueError::OutOfRange {
                        value,
                        param_type,
                        min: min as f64,
                        max: max as f64,
                    });
                }
                Ok(value)
            }
            Encoding::Bytewise => {
                let b = wire.to_le_bytes();
                Ok(match param_type {
                    MAV_PARAM_TYPE_UINT8 => f64::from(b[0]),
                    MAV_PARAM_TYPE_INT8 => f64::from(b[0] as i8),
                    MAV_PARAM_TYPE_UINT16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
                    MAV_PARAM_TYPE_INT16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
                    MAV_PARAM_TYPE_UINT32 => f64::from(u32::from_le_bytes(b)),
                    MAV_PARAM_TYPE_INT32 => f64::from(i32::from_le_bytes(b)),
                    _ => return Err(self.unsupported(param_type)),
                })
            }
        }
    }

    fn unsupported(self, param_type: MavParamType) -> ValueError {
        ValueError::Unsupported {
            param_type,
            encoding: self,
        }
    }
}

/// The inclusive range of an integer type, `None` for the real types.
fn integer_range(param_type: MavParamType) -> Option<(i128, i128)> {
    use MavParamType::*;
    Some(match param_type {
        MAV_PARAM_TYPE_UINT8 => (0, u8::MAX.into()),
        MAV_PARAM_TYPE_INT8 => (i8::MIN.into(), i8::MAX.into()),
        MAV_PARAM_TYPE_UINT16 => (0, u16::MAX.into()),
        MAV_PARAM_TYPE_INT16 => (i16::MIN.into(), i16::MAX.into()),
        MAV_PARAM_TYPE_UINT32 => (0, u32::MAX.into()),
        MAV_PARAM_TYPE_INT32 => (i32::MIN.into(), i32::MAX.into()),
        MAV_PARAM_TYPE_UINT64 => (0, u64::MAX.into()),
        MAV_PARAM_TYPE_INT64 => (i64::MIN.into(), i64::MAX.into()),
        MAV_PARAM_TYPE_REAL32 | MAV_PARAM_TYPE_REAL64 => return None,
    })
}

/// The `param_id` field for `name`: NUL-padded, or all 16 bytes with no terminator when the
/// name is exactly 16 long.
pub fn encode_name(name: &str) -> Result<CharArray<NAME_LEN>, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(NameError::NotAscii {
            name: name.to_owned(),
        });
    }
    if name.len() > NAME_LEN {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    Ok(CharArray::from(name))
}

/// The name in a `param_id` field: up to the first NUL, or all 16 bytes. Bytes that are not
/// UTF-8 are replaced rather than dropping the parameter.
pub fn decode_name(id: &CharArray<NAME_LEN>) -> String {
    let bytes: &[u8; NAME_LEN] = id;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use MavParamType::*;

    const INT_TYPES: [MavParamType; 6] = [
        MAV_PARAM_TYPE_UINT8,
        MAV_PARAM_TYPE_INT8,
        MAV_PARAM_TYPE_UINT16,
        MAV_PARAM_TYPE_INT16,
        MAV_PARAM_TYPE_UINT32,
        MAV_PARAM_TYPE_INT32,
    ];

    #[test]
    fn ccast_carries_the_number_itself() {
        assert_eq!(Encoding::CCast.encode(3.0, MAV_PARAM_TYPE_INT8), Ok(3.0));
        assert_eq!(
            Encoding::CCast.encode(-128.0, MAV_PARAM_TYPE_INT8),
            Ok(-128.0)
        );
        assert_eq!(
            Encoding::CCast.encode(0.25, MAV_PARAM_TYPE_REAL32),
            Ok(0.25)
        );
        assert_eq!(
            Encoding::CCast.decode(65535.0, MAV_PARAM_TYPE_UINT16),
            Ok(65535.0)
        );
        assert_eq!(Encoding::CCast.encode(1e9, MAV_PARAM_TYPE_INT64), Ok(1e9));
    }

    #[test]
    fn bytewise_puts_the_integer_bytes_in_the_float() {
        let wire = Encoding::Bytewise
            .encode(1.0, MAV_PARAM_TYPE_INT32)
            .unwrap();
        assert_eq!(wire.to_bits(), 1);
        let wire = Encoding::Bytewise
            .encode(-1.0, MAV_PARAM_TYPE_INT8)
            .unwrap();
        assert_eq!(wire.to_le_bytes(), [0xff, 0, 0, 0]);
        let wire = Encoding::Bytewise
            .encode(-2.0, MAV_PARAM_TYPE_INT16)
            .unwrap();
        assert_eq!(wire.to_le_bytes(), [0xfe, 0xff, 0, 0]);
        let wire = Encoding::Bytewise
            .encode(4_000_000_000.0, MAV_PARAM_TYPE_UINT32)
            .unwrap();
        assert_eq!(wire.to_bits(), 4_000_000_000);
        // A float is a float in both encodings.
        assert_eq!(
            Encoding::Bytewise.encode(1.5, MAV_PARAM_TYPE_REAL32),
            Ok(1.5)
        );
        // What PX4 sends for SYS_AUTOSTART = 4001 (an INT32).
        assert_eq!(
            Encoding::Bytewise.decode(f32::from_bits(4001), MAV_PARAM_TYPE_INT32),
            Ok(4001.0)
        );
        // Only the type's own bytes count.
        assert_eq!(
            Encoding::Bytewise.decode(
                f32::from_le_bytes([7, 0xaa, 0xbb, 0xcc]),
                MAV_PARAM_TYPE_UINT8
            ),
            Ok(7.0)
        );
    }

    #[test]
    fn out_of_range_values_are_errors_not_wraps() {
        for encoding in [Encoding::CCast, Encoding::Bytewise] {
            assert!(matches!(
                encoding.encode(256.0, MAV_PARAM_TYPE_UINT8),
                Err(ValueError::OutOfRange { min, max, .. }) if min == 0.0 && max == 255.0
            ));
            assert!(matches!(
                encoding.encode(-1.0, MAV_PARAM_TYPE_UINT32),
                Err(ValueError::OutOfRange { .. })
            ));
            assert!(matches!(
                encoding.encode(128.0, MAV_PARAM_TYPE_INT8),
                Err(ValueError::OutOfRange { .. })
            ));
            assert!(matches!(
                encoding.encode(2.5, MAV_PARAM_TYPE_INT16),
                Err(ValueError::NotInteger { .. })
            ));
            assert!(matches!(
                encoding.encode(f64::NAN, MAV_PARAM_TYPE_REAL32),
                Err(ValueError::NotFinite { .. })
            ));
            assert!(matches!(
                encoding.encode(1e39, MAV_PARAM_TYPE_REAL32),
                Err(ValueError::OutOfRange { .. })
            ));
        }
        assert!(matches!(
            Encoding::CCast.encode(1e20, MAV_PARAM_TYPE_UINT64),
            Err(ValueError::OutOfRange { .. })
        ));
    }

    #[test]
    fn ccast_refuses_integers_a_float_would_round() {
        assert_eq!(
            Encoding::CCast.encode(16_777_216.0, MAV_PARAM_TYPE_INT32),
            Ok(16_777_216.0)
        );
        assert!(matches!(
            Encoding::CCast.encode(16_777_217.0, MAV_PARAM_TYPE_INT32),
            Err(ValueError::NotRepresentable { nearest, .. }) if nearest == 16_777_216.0
        ));
        // Bytewise has no such limit.
        let wire = Encoding::Bytewise
            .encode(16_777_217.0, MAV_PARAM_TYPE_INT32)
            .unwrap();
        assert_eq!(
            Encoding::Bytewise.decode(wire, MAV_PARAM_TYPE_INT32),
            Ok(16_777_217.0)
        );
    }

    #[test]
    fn bytewise_cannot_carry_64_bit_types() {
        for ty in [
            MAV_PARAM_TYPE_UINT64,
            MAV_PARAM_TYPE_INT64,
            MAV_PARAM_TYPE_REAL64,
        ] {
            assert!(matches!(
                Encoding::Bytewise.encode(1.0, ty),
                Err(ValueError::Unsupported { .. })
            ));
            assert!(matches!(
                Encoding::Bytewise.decode(1.0, ty),
                Err(ValueError::Unsupported { .. })
            ));
        }
    }

    #[test]
    fn ccast_decode_rejects_a_broken_integer() {
        assert!(matches!(
            Encoding::CCast.decode(1.5, MAV_PARAM_TYPE_INT32),
            Err(ValueError::NotInteger { .. })
        ));
        assert!(matches!(
            Encoding::CCast.decode(300.0, MAV_PARAM_TYPE_UINT8),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            Encoding::CCast.decode(f32::NAN, MAV_PARAM_TYPE_UINT8),
            Err(ValueError::NotFinite { .. })
        ));
    }

    #[test]
    fn encoding_follows_the_declared_capability() {
        use MavProtocolCapability as C;
        assert_eq!(
            Encoding::from_capabilities(
                C::MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE | C::MAV_PROTOCOL_CAPABILITY_FTP
            ),
            Encoding::Bytewise
        );
        assert_eq!(
            Encoding::from_capabilities(C::MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST),
            Encoding::CCast
        );
        assert_eq!(Encoding::from_capabilities(C::empty()), Encoding::CCast);
        assert_eq!(
            Encoding::for_autopilot(MavAutopilot::MAV_AUTOPILOT_PX4),
            Encoding::Bytewise
        );
        assert_eq!(
            Encoding::for_autopilot(MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA),
            Encoding::CCast
        );
    }

    #[test]
    fn names_are_nul_padded_unless_exactly_sixteen() {
        let id = encode_name("RTL_ALT").unwrap();
        assert_eq!(&id[..8], b"RTL_ALT\0");
        assert_eq!(decode_name(&id), "RTL_ALT");
        let id = encode_name("ABCDEFGHIJKLMNOP").unwrap();
        assert_eq!(&id[..], b"ABCDEFGHIJKLMNOP");
        assert_eq!(decode_name(&id), "ABCDEFGHIJKLMNOP");
        assert!(matches!(
            encode_name("ABCDEFGHIJKLMNOPQ"),
            Err(NameError::TooLong { len: 17, .. })
        ));
        assert_eq!(encode_name(""), Err(NameError::Empty));
        assert!(matches!(
            encode_name("RTL ALT"),
            Err(NameError::NotAscii { .. })
        ));
        assert!(matches!(
            encode_name("HÖHE"),
            Err(NameError::NotAscii { .. })
        ));
        // Garbage after the terminator is not part of the name.
        assert_eq!(decode_name(&CharArray::new(*b"AB\0CDEFGHIJKLMNO")), "AB");
    }

    proptest! {
        #[test]
        fn every_in_range_integer_round_trips(raw in any::<i64>(), pick in 0usize..6) {
            let ty = INT_TYPES[pick];
            let (min, max) = integer_range(ty).unwrap();
            let value = (i128::from(raw).rem_euclid(max - min + 1) + min) as f64;
            let wire = Encoding::Bytewise.encode(value, ty).unwrap();
            prop_assert_eq!(Encoding::Bytewise.decode(wire, ty), Ok(value));
            match Encoding::CCast.encode(value, ty) {
                Ok(wire) => prop_assert_eq!(Encoding::CCast.decode(wire, ty), Ok(value)),
                Err(ValueError::NotRepresentable { .. }) => prop_assert!(value.abs() > 16_777_216.0),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }

        #[test]
        fn encode_never_panics(value in any::<f64>(), ty in 1u8..=10, bytewise in any::<bool>()) {
            let ty: MavParamType = num_to_type(ty);
            let encoding = if bytewise { Encoding::Bytewise } else { Encoding::CCast };
            if let Ok(wire) = encoding.encode(value, ty) {
                let back = encoding.decode(wire, ty).unwrap();
                if integer_range(ty).is_some() {
                    prop_assert_eq!(back, value);
                }
            }
        }
    }

    fn num_to_type(n: u8) -> MavParamType {
        match n {
            1 => MAV_PARAM_TYPE_UINT8,
            2 => MAV_PARAM_TYPE_INT8,
            3 => MAV_PARAM_TYPE_UINT16,
            4 => MAV_PARAM_TYPE_INT16,
            5 => MAV_PARAM_TYPE_UINT32,
            6 => MAV_PARAM_TYPE_INT32,
            7 => MAV_PARAM_TYPE_UINT64,
            8 => MAV_PARAM_TYPE_INT64,
            9 => MAV_PARAM_TYPE_REAL32,
            _ => MAV_PARAM_TYPE_REAL64,
        }
    }
}
