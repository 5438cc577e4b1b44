//! Fault injection: loss, duplication and corruption of whole frames, decided by a
//! seeded generator so a test run can be repeated exactly.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Probabilities (0 to 1) of what happens to each frame, in each direction.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Drop the frame.
    pub loss: f64,
    /// Send or deliver it twice.
    pub dup: f64,
    /// Flip one byte the checksum covers, so the receiver counts a CRC error.
    pub corrupt: f64,
    pub seed: u64,
}

impl Faults {
    /// No faults; a base for `Faults { loss: 0.3, ..Faults::none(7) }`.
    pub fn none(seed: u64) -> Self {
        Self {
            loss: 0.0,
            dup: 0.0,
            corrupt: 0.0,
            seed,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("dup", self.dup),
            ("corrupt", self.corrupt),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} probability must be within 0..=1, not {p}"));
            }
        }
        Ok(())
    }
}

/// What happens to one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fate {
    pub(crate) drop: bool,
    pub(crate) duplicate: bool,
    /// Corrupt the first copy.
    pub(crate) corrupt: bool,
}

impl Fate {
    pub(crate) const CLEAN: Fate = Fate {
        drop: false,
        duplicate: false,
        corrupt: false,
    };
}

/// One direction's generator.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    faults: Faults,
    rng: StdRng,
}

impl FaultInjector {
    /// `stream` separates the two directions so that each has its own sequence.
    pub(crate) fn new(faults: &Faults, stream: u64) -> Self {
        Self {
            faults: faults.clone(),
            rng: StdRng::seed_from_u64(faults.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    pub(crate) fn fate(&mut self) -> Fate {
        // Always draw all three so one probability does not shift the others' sequence.
        let drop = self.rng.random_bool(self.faults.loss);
        let duplicate = self.rng.random_bool(self.faults.dup);
        let corrupt = self.rng.random_bool(self.faults.corrupt);
        Fate {
            drop,
            duplicate: !drop && duplicate,
            corrupt: !drop && corrupt,
        }
    }

    /// Flip one byte of `raw` that the checksum covers and that leaves the frame's
    /// length and message id alone, so that the receiver sees a bad checksum (CRC-16
    /// detects every single-byte error) rather than a different frame.
    pub(crate) fn corrupt(&mut self, raw: &mut [u8]) {
        let Some(&magic) = raw.first() else { return };
        // Checked ranges: v2 compat flags, seq, sysid, compid; then payload and checksum.
        let (header, body_start) = match magic {
            airgap_core::frame::MAGIC_V2 => (3..7, 10),
            _ => (2..5, 6),
        };
        let payload_len = raw.get(1).map_or(0, |&l| usize::from(l));
        let body = body_start..(body_start + payload_len + 2).min(raw.len());
        let choices = header.len() + body.len();
        if choices == 0 || raw.len() < body_start {
            return;
        }
        let pick = self.rng.random_range(0..choices);
        let index = if pick < header.len() {
            header.start + pick
        } else {
            body.start + pick - header.len()
        };
        let mask: u8 = self.rng.random_range(1..=255);
        raw[index] ^= mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airgap_core::dialect::{MavMessage, HEARTBEAT_DATA};
    use airgap_core::frame::{parse_slice, Frame, FrameError};

    #[test]
    fn same_seed_same_fates() {
        let faults = Faults {
            loss: 0.3,
            dup: 0.2,
            corrupt: 0.1,
            seed: 42,
        };
        let mut a = FaultInjector::new(&faults, 0);
        let mut b = FaultInjector::new(&faults, 0);
        let mut c = FaultInjector::new(&faults, 1);
        let fa: Vec<Fate> = (0..200).map(|_| a.fate()).collect();
        let fb: Vec<Fate> = (0..200).map(|_| b.fate()).collect();
        let fc: Vec<Fate> = (0..200).map(|_| c.fate()).collect();
        assert_eq!(fa, fb);
        assert_ne!(fa, fc);
        let lost = fa.iter().filter(|f| f.drop).count();
        assert!((30..90).contains(&lost), "{lost} of 200 lost at p=0.3");
    }

    #[test]
    fn corruption_always_yields_a_bad_checksum() {
        let mut injector = FaultInjector::new(&Faults::none(1), 0);
        for seq in 0..=255u8 {
            let msg = MavMessage::HEARTBEAT(HEARTBEAT_DATA {
                custom_mode: u32::from(seq),
                ..Default::default()
            });
            let frames = [
                Frame::encode_v2(1, 1, seq, &msg),
                Frame::encode_v1(1, 1, seq, &msg).expect("heartbeat fits v1"),
            ];
            for frame in frames {
                let mut raw = frame.raw.clone();
                injector.corrupt(&mut raw);
                assert_ne!(raw, frame.raw);
                let items: Vec<_> = parse_slice(&raw).collect();
                assert!(
                    items
                        .iter()
                        .all(|i| matches!(i, Err(FrameError::BadCrc { .. }))),
                    "{items:?}"
                );
                assert!(!items.is_empty());
            }
        }
    }

    #[test]
    fn probabilities_are_validated() {
        assert!(Faults::none(0).validate().is_ok());
        let bad = Faults {
            loss: 1.5,
            ..Faults::none(0)
        };
        assert!(bad.validate().unwrap_err().contains("loss"));
        let nan = Faults {
            dup: f64::NAN,
            ..Faults::none(0)
        };
        assert!(nan.validate().is_err());
    }
}
