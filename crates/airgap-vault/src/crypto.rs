//! Record encryption: the two record formats (data-key records and records sealed to the
//! vault's public key), key wrapping under the passphrase, and the Argon2id parameters.
//!
//! ```text
//! data-key record:  "AGVR" ‖ version ‖ nonce(12) ‖ ciphertext ‖ tag(16)
//! sealed record:    "AGVS" ‖ version ‖ ephemeral X25519 public key(32) ‖ nonce(12) ‖ ciphertext ‖ tag(16)
//! AAD (both):       magic ‖ version ‖ len(tree) as u8 ‖ tree ‖ len(key) as u32 BE ‖ key
//! ```
//! The AAD binds each record to its tree and key, so a record copied elsewhere fails to
//! open. A sealed record's AES key is HKDF-SHA256 over the X25519 shared secret, with an
//! `info` that binds the same AAD and both public keys.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{AeadInPlace, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey, SharedSecret, StaticSecret};
use zeroize::Zeroizing;

use crate::error::VaultError;

pub(crate) const MAGIC_DATA: &[u8; 4] = b"AGVR";
pub(crate) const MAGIC_SEALED: &[u8; 4] = b"AGVS";
/// Version byte of both record formats.
pub(crate) const RECORD_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const PK_LEN: usize = 32;
const DATA_HEADER_LEN: usize = 4 + 1 + NONCE_LEN;
const SEALED_INFO: &[u8] = b"airgap-vault sealed record v1";

/// A 256-bit key, wiped when dropped.
pub(crate) type Key32 = Zeroizing<[u8; 32]>;

pub(crate) fn random_key() -> Key32 {
    let mut k = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(k.as_mut());
    k
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

fn aad(magic: &[u8; 4], tree: &str, key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(4 + 1 + 1 + tree.len() + 4 + key.len());
    aad.extend_from_slice(magic);
    aad.push(RECORD_VERSION);
    // Tree names are short constants of this crate; `min` only guards the cast.
    aad.push(tree.len().min(255) as u8);
    aad.extend_from_slice(tree.as_bytes());
    aad.extend_from_slice(&(key.len() as u32).to_be_bytes());
    aad.extend_from_slice(key);
    aad
}

/// Which of the two formats a stored value claims to be (before authenticating it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    Data,
    Sealed,
}

pub(crate) fn record_kind(bytes: &[u8]) -> Option<RecordKind> {
    match bytes.get(..4) {
        Some(m) if m == MAGIC_DATA => Some(RecordKind::Data),
        Some(m) if m == MAGIC_SEALED => Some(RecordKind::Sealed),
        _ => None,
    }
}

/// Encrypt `plaintext` under the data key for `tree`/`key`.
pub(crate) fn seal_data(cipher: &Aes256Gcm, tree: &str, key: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random_bytes();
    let mut out = Vec::with_capacity(DATA_HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(MAGIC_DATA);
    out.push(RECORD_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            &aad(MAGIC_DATA, tree, key),
            &mut out[DATA_HEADER_LEN..],
        )
        // Only fails past AES-GCM's 64 GiB message limit; records are bounded far below.
        .expect("record within AES-GCM's length limit");
    out.extend_from_slice(&tag);
    out
}

/// Open a data-key record; any failure is `Corrupt { tree, key }`.
pub(crate) fn open_data(
    cipher: &Aes256Gcm,
    tree: &str,
    key: &[u8],
    record: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let corrupt = || VaultError::corrupt(tree, key);
    if record.len() < DATA_HEADER_LEN + TAG_LEN
        || &record[..4] != MAGIC_DATA
        || record[4] != RECORD_VERSION
    {
        return Err(corrupt());
    }
    let nonce = &record[5..DATA_HEADER_LEN];
    let (body, tag) = record[DATA_HEADER_LEN..].split_at(record.len() - DATA_HEADER_LEN - TAG_LEN);
    let mut plain = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            &aad(MAGIC_DATA, tree, key),
            &mut plain,
            Tag::from_slice(tag),
        )
        .map_err(|_| corrupt())?;
    Ok(plain)
}

fn sealed_cipher(
    shared: &SharedSecret,
    ephemeral: &PublicKey,
    recipient: &PublicKey,
    aad: &[u8],
) -> Aes256Gcm {
    let mut info = Vec::with_capacity(SEALED_INFO.len() + aad.len() + 2 * PK_LEN);
    info.extend_from_slice(SEALED_INFO);
    info.extend_from_slice(aad);
    info.extend_from_slice(ephemeral.as_bytes());
    info.extend_from_slice(recipient.as_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, shared.as_bytes())
        .expand(&info, okm.as_mut())
        // 32 bytes is far below HKDF-SHA256's 8160-byte output limit.
        .expect("HKDF output length is valid");
    Aes256Gcm::new(okm.as_ref().into())
}

/// Seal `plaintext` to `recipient` (the vault's public key) for `tree`/`key`. Needs no secret.
pub(crate) fn seal_to(recipient: &PublicKey, tree: &str, key: &[u8], plaintext: &[u8]) -> Vec<u8> {
    Sealer::new(recipient).seal(tree, key, plaintext)
}

/// Bytes in front of a sealed record's ciphertext: room a buffer keeps so that
/// [`Sealer::seal_in_place`] can turn it into the record where it lies.
pub(crate) const SEALED_HEADER_LEN: usize = 4 + 1 + PK_LEN + NONCE_LEN;

/// One fresh ephemeral key agreement with the vault's public key, for the records written
/// together in one flush (a chunk and its flight's metadata); dropped after them, which wipes
/// the shared secret. Each record still gets its own AES key, since HKDF's `info` binds its
/// tree and key. Holds nothing that opens any record not sealed with it.
pub(crate) struct Sealer {
    recipient: PublicKey,
    ephemeral_pk: PublicKey,
    shared: SharedSecret,
}

impl Sealer {
    /// A new ephemeral key pair and its agreement with `recipient` (two scalar
    /// multiplications: about 80 µs here, more than sealing 64 KiB).
    pub(crate) fn new(recipient: &PublicKey) -> Sealer {
        let ephemeral = EphemeralSecret::random_from_rng(OsRng);
        let ephemeral_pk = PublicKey::from(&ephemeral);
        Sealer {
            recipient: *recipient,
            ephemeral_pk,
            shared: ephemeral.diffie_hellman(recipient),
        }
    }

    #[cfg(test)]
    pub(crate) fn ephemeral_public_key(&self) -> &PublicKey {
        &self.ephemeral_pk
    }

    fn cipher(&self, aad: &[u8]) -> Aes256Gcm {
        sealed_cipher(&self.shared, &self.ephemeral_pk, &self.recipient, aad)
    }

    /// Seal a copy of `plaintext` for `tree`/`key`.
    pub(crate) fn seal(&self, tree: &str, key: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut record = Vec::with_capacity(SEALED_HEADER_LEN + plaintext.len() + TAG_LEN);
        record.resize(SEALED_HEADER_LEN, 0);
        record.extend_from_slice(plaintext);
        self.seal_in_place(tree, key, &mut record);
        record
    }

    /// Turn `buf`, which holds [`SEALED_HEADER_LEN`] bytes of room and then the plaintext,
    /// into the sealed record for `tree`/`key`: the plaintext is encrypted where it lies, so
    /// no copy of it is made and none is left to wipe. Only the tag is appended, after
    /// encryption, so growing the buffer for it frees ciphertext, never plaintext.
    pub(crate) fn seal_in_place(&self, tree: &str, key: &[u8], buf: &mut Vec<u8>) {
        assert!(
            buf.len() >= SEALED_HEADER_LEN,
            "a buffer sealed in place starts with room for the header"
        );
        let aad = aad(MAGIC_SEALED, tree, key);
        let nonce: [u8; NONCE_LEN] = random_bytes();
        let (header, body) = buf.split_at_mut(SEALED_HEADER_LEN);
        header[..4].copy_from_slice(MAGIC_SEALED);
        header[4] = RECORD_VERSION;
        header[5..5 + PK_LEN].copy_from_slice(self.ephemeral_pk.as_bytes());
        header[5 + PK_LEN..].copy_from_slice(&nonce);
        let tag = self
            .cipher(&aad)
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, body)
            // Only fails past AES-GCM's 64 GiB message limit; records are bounded far below.
            .expect("record within AES-GCM's length limit");
        buf.extend_from_slice(&tag);
    }

    /// Undo [`Sealer::seal_in_place`] on the record it just made (when writing it failed):
    /// `buf` is back to header room and plaintext, so the data can be sealed again, with a
    /// fresh sealer, on the next try.
    pub(crate) fn unseal_in_place(&self, tree: &str, key: &[u8], buf: &mut Vec<u8>) {
        let opened = buf
            .len()
            .checked_sub(TAG_LEN)
            .filter(|&body_end| body_end >= SEALED_HEADER_LEN)
            .and_then(|body_end| {
                let aad = aad(MAGIC_SEALED, tree, key);
                let (header, rest) = buf.split_at_mut(SEALED_HEADER_LEN);
                let (body, tag) = rest.split_at_mut(body_end - SEALED_HEADER_LEN);
                self.cipher(&aad)
                    .decrypt_in_place_detached(
                        Nonce::from_slice(&header[5 + PK_LEN..]),
                        &aad,
                        body,
                        Tag::from_slice(tag),
                    )
                    .ok()
                    .map(|()| body_end)
            });
        // The record never left this process: it was sealed by this sealer a moment ago.
        let body_end = opened.expect("a record this sealer just sealed opens");
        buf.truncate(body_end);
    }
}

/// Open a sealed record with the vault's secret key; any failure is `Corrupt { tree, key }`.
pub(crate) fn open_sealed(
    secret: &StaticSecret,
    tree: &str,
    key: &[u8],
    record: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let corrupt = || VaultError::corrupt(tree, key);
    if record.len() < SEALED_HEADER_LEN + TAG_LEN
        || &record[..4] != MAGIC_SEALED
        || record[4] != RECORD_VERSION
    {
        return Err(corrupt());
    }
    let mut pk = [0u8; PK_LEN];
    pk.copy_from_slice(&record[5..5 + PK_LEN]);
    let ephemeral_pk = PublicKey::from(pk);
    let shared = secret.diffie_hellman(&ephemeral_pk);
    // A low-order ephemeral key makes the shared secret all zeros, known to anyone.
    if !shared.was_contributory() {
        return Err(corrupt());
    }
    let recipient = PublicKey::from(secret);
    let aad = aad(MAGIC_SEALED, tree, key);
    let cipher = sealed_cipher(&shared, &ephemeral_pk, &recipient, &aad);
    let nonce = &record[5 + PK_LEN..SEALED_HEADER_LEN];
    let (body, tag) =
        record[SEALED_HEADER_LEN..].split_at(record.len() - SEALED_HEADER_LEN - TAG_LEN);
    let mut plain = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            &aad,
            &mut plain,
            Tag::from_slice(tag),
        )
        .map_err(|_| corrupt())?;
    Ok(plain)
}

/// Argon2id cost parameters, stored in the vault header beside the salt so that a vault
/// reopens with whatever it was created (or last rewrapped) with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// What new vaults use: 64 MiB, 8 passes, 1 lane. Measured here (2 shared cores) at
    /// 0.16 s per unlock with 3 passes, so 8 passes lands near 0.4 s. Memory is capped at
    /// 64 MiB rather than raised because the desktop app's whole process tree has a budget of
    /// a few hundred MiB; passes buy the rest. `cargo bench -p airgap-vault -- unlock`.
    pub const PRODUCTION: KdfParams = KdfParams {
        m_cost_kib: 64 * 1024,
        t_cost: 8,
        p_cost: 1,
    };

    /// Cheap parameters that make tests and CI fast. Offers no protection against
    /// guessing; never use them for a pilot's vault.
    pub const INSECURE_FAST: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    /// A header asking for more than this is treated as damaged: a flipped bit must not make
    /// unlock try to allocate terabytes.
    const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
    const MAX_T_COST: u32 = 1000;
    const MAX_P_COST: u32 = 64;

    fn argon2(&self) -> Result<argon2::Argon2<'static>, VaultError> {
        let invalid = |reason: String| VaultError::InvalidKdfParams { reason };
        if self.m_cost_kib > Self::MAX_M_COST_KIB
            || self.t_cost > Self::MAX_T_COST
            || self.p_cost > Self::MAX_P_COST
        {
            return Err(invalid(format!(
                "{self:?} exceeds the limits (m ≤ {} KiB, t ≤ {}, p ≤ {})",
                Self::MAX_M_COST_KIB,
                Self::MAX_T_COST,
                Self::MAX_P_COST
            )));
        }
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }

    pub(crate) fn validate(&self) -> Result<(), VaultError> {
        self.argon2().map(|_| ())
    }

    /// The key-encryption key for `passphrase` and `salt`.
    pub(crate) fn derive(&self, passphrase: &[u8], salt: &[u8]) -> Result<Key32, VaultError> {
        let mut kek = Zeroizing::new([0u8; 32]);
        self.argon2()?
            .hash_password_into(passphrase, salt, kek.as_mut())
            .map_err(|e| VaultError::InvalidKdfParams {
                reason: e.to_string(),
            })?;
        Ok(kek)
    }
}

/// Wrap a 32-byte key under the key-encryption key; `binding` ties the blob to the header
/// it sits in (its purpose, public key, salt and parameters).
pub(crate) fn wrap(kek: &[u8; 32], binding: &[u8], secret: &[u8; 32]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(kek.into());
    let nonce: [u8; NONCE_LEN] = random_bytes();
    let mut out = Vec::with_capacity(NONCE_LEN + 32 + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(secret);
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), binding, &mut out[NONCE_LEN..])
        .expect("32 bytes is within AES-GCM's length limit");
    out.extend_from_slice(&tag);
    out
}

/// Unwrap; `None` when the key-encryption key is wrong (or the blob or binding changed).
pub(crate) fn unwrap(kek: &[u8; 32], binding: &[u8], blob: &[u8]) -> Option<Key32> {
    if blob.len() != NONCE_LEN + 32 + TAG_LEN {
        return None;
    }
    let cipher = Aes256Gcm::new(kek.into());
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&blob[NONCE_LEN..NONCE_LEN + 32]);
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(&blob[..NONCE_LEN]),
            binding,
            key.as_mut(),
            Tag::from_slice(&blob[NONCE_LEN + 32..]),
        )
        .ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher() -> Aes256Gcm {
        Aes256Gcm::new((&*random_key()).into())
    }

    #[test]
    fn data_record_round_trip_and_binding() {
        let c = cipher();
        let rec = seal_data(&c, "missions", b"k1", b"hello");
        assert_eq!(&*open_data(&c, "missions", b"k1", &rec).unwrap(), b"hello");
        assert!(open_data(&c, "missions", b"k2", &rec).is_err());
        assert!(open_data(&c, "params", b"k1", &rec).is_err());
        assert!(open_data(&cipher(), "missions", b"k1", &rec).is_err());
    }

    #[test]
    fn sealed_record_round_trip_and_binding() {
        let secret = StaticSecret::random_from_rng(OsRng);
        let public = PublicKey::from(&secret);
        let rec = seal_to(&public, "chunks", b"c1", b"frames");
        assert_eq!(
            &*open_sealed(&secret, "chunks", b"c1", &rec).unwrap(),
            b"frames"
        );
        assert!(open_sealed(&secret, "chunks", b"c2", &rec).is_err());
        assert!(open_sealed(&secret, "audit", b"c1", &rec).is_err());
        let other = StaticSecret::random_from_rng(OsRng);
        assert!(open_sealed(&other, "chunks", b"c1", &rec).is_err());
    }

    #[test]
    fn records_sealed_together_open_only_at_their_own_keys() {
        let secret = StaticSecret::random_from_rng(OsRng);
        let sealer = Sealer::new(&PublicKey::from(&secret));
        let a = sealer.seal("chunks", b"c", b"one");
        let b = sealer.seal("flights", b"f", b"two");
        assert_eq!(a[5..37], b[5..37], "one ephemeral key");
        assert_eq!(&*open_sealed(&secret, "chunks", b"c", &a).unwrap(), b"one");
        assert_eq!(&*open_sealed(&secret, "flights", b"f", &b).unwrap(), b"two");
        assert!(open_sealed(&secret, "flights", b"f", &a).is_err());
        assert!(open_sealed(&secret, "chunks", b"c", &b).is_err());
    }

    #[test]
    fn sealers_use_fresh_ephemeral_keys() {
        let public = PublicKey::from(&StaticSecret::random_from_rng(OsRng));
        let a = Sealer::new(&public).seal("chunks", b"c", b"x");
        let b = Sealer::new(&public).seal("chunks", b"c", b"x");
        assert_ne!(a[5..37], b[5..37]);
    }

    #[test]
    fn sealing_in_place_leaves_no_plaintext_and_undoes() {
        let secret = StaticSecret::random_from_rng(OsRng);
        let sealer = Sealer::new(&PublicKey::from(&secret));
        let plain = b"telemetry telemetry telemetry telemetry".repeat(8);
        let mut buf = vec![0u8; SEALED_HEADER_LEN];
        buf.extend_from_slice(&plain);
        sealer.seal_in_place("chunks", b"c", &mut buf);
        assert_eq!(buf.len(), SEALED_HEADER_LEN + plain.len() + TAG_LEN);
        assert!(!buf.windows(16).any(|w| plain.windows(16).any(|p| p == w)));
        assert_eq!(
            &*open_sealed(&secret, "chunks", b"c", &buf).unwrap(),
            &plain[..]
        );
        sealer.unseal_in_place("chunks", b"c", &mut buf);
        assert_eq!(&buf[SEALED_HEADER_LEN..], &plain[..]);
    }

    #[test]
    fn low_order_ephemeral_key_is_rejected() {
        let secret = StaticSecret::random_from_rng(OsRng);
        let mut rec = seal_to(&PublicKey::from(&secret), "chunks", b"c", b"x");
        // The all-zero point has order 1: the shared secret would be all zeros.
        rec[5..37].fill(0);
        assert!(open_sealed(&secret, "chunks", b"c", &rec).is_err());
    }

    #[test]
    fn wrap_unwrap() {
        let kek = random_key();
        let dk = random_key();
        let blob = wrap(&kek, b"bind", &dk);
        assert_eq!(*unwrap(&kek, b"bind", &blob).unwrap(), *dk);
        assert!(unwrap(&kek, b"other", &blob).is_none());
        assert!(unwrap(&random_key(), b"bind", &blob).is_none());
        assert!(unwrap(&kek, b"bind", &blob[1..]).is_none());
    }

    #[test]
    fn absurd_kdf_params_are_refused_not_allocated() {
        let p = KdfParams {
            m_cost_kib: u32::MAX,
            t_cost: 1,
            p_cost: 1,
        };
        assert!(matches!(
            p.validate(),
            Err(VaultError::InvalidKdfParams { .. })
        ));
        let p = KdfParams {
            m_cost_kib: 0,
            t_cost: 0,
            p_cost: 0,
        };
        assert!(p.validate().is_err());
    }

    proptest! {
        #[test]
        fn any_mutation_of_a_data_record_fails(
            plain in proptest::collection::vec(any::<u8>(), 0..64),
            pos in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let c = cipher();
            let mut rec = seal_data(&c, "t", b"k", &plain);
            let i = pos.index(rec.len());
            rec[i] ^= flip;
            prop_assert!(open_data(&c, "t", b"k", &rec).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_open_or_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let c = cipher();
            let secret = StaticSecret::random_from_rng(OsRng);
            prop_assert!(open_data(&c, "t", b"k", &bytes).is_err());
            prop_assert!(open_sealed(&secret, "t", b"k", &bytes).is_err());
        }
    }
}
