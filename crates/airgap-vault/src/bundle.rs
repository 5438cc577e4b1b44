//! Moving data in and out of the vault: encrypted export bundles (`.agvb`) that only their
//! own passphrase opens, and imports of the plain formats a pilot meets elsewhere (`.tlog`
//! flights, `.plan` / `.waypoints` missions, `.param` / `.params` parameter snapshots).
//! Every export and import is audited.
//!
//! # Bundle format (version 1)
//! ```text
//! bundle  := "AGVB" ‖ version (u8, 1) ‖ m_cost_kib ‖ t_cost ‖ p_cost (u32 BE each) ‖ salt (16)
//!            ‖ record*
//! record  := len (u32 BE) ‖ a data-key record of crypto.rs
//!            ("AGVR" ‖ 1 ‖ nonce ‖ ciphertext ‖ tag), tree "bundle", key = index (u32 BE)
//! key     := HKDF-SHA256(Argon2id(passphrase, salt, params),
//!                        info = "airgap-vault bundle v1" ‖ the 33 header bytes)
//! plaintext of a record := kind (u8) ‖ body
//!   0 manifest      JSON {"entries", "flights", "missions", "snapshots", "created_at_us"}
//!   1 entry header  JSON, tagged by "kind": flight {sysids, armed, start_us, end_us, frames,
//!                   bytes} | mission {name, saved_at_us} | snapshot {sysid, taken_at_us, count}
//!   2 body piece    bytes of the current entry: for a flight, whole tlog records (one piece
//!                   per vault chunk); a mission's `.plan` JSON; a snapshot's parameters (JSON)
//!   3 end           empty
//! ```
//! Record 0 is the manifest, the last record is the end record, and each entry is its header
//! followed by its body pieces. Since every record's index is in its AAD, a record moved,
//! dropped or replayed fails to open; a bundle cut short lacks its end record; the manifest's
//! entry count must match the entries found; bytes after the end record are refused. The
//! header is bound by the key derivation, so a changed salt or parameter makes record 0 fail
//! to open, which reads as [`VaultError::WrongPassphrase`] (nothing tells a wrong passphrase
//! from a damaged header or first record). Everything else wrong is
//! [`VaultError::Bundle`] naming a [`BundleProblem`].
//!
//! Importing reads a bundle twice: the first pass authenticates every record and checks
//! every entry, and only then does the second store anything, so a damaged bundle imports
//! nothing. Imported items get new ids; flights are re-recorded through a [`FlightRecorder`]
//! and export as the same tlog bytes they were exported from.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;

use aes_gcm::aead::KeyInit;
use aes_gcm::Aes256Gcm;
use airgap_core::dialect::MavModeFlag;
use airgap_core::mission::plan_file::{read_plan, HomeItem, PlanMeta};
use airgap_core::mission::{waypoints_file, Plan};
use airgap_core::params::file::{read_param_file, Format};
use airgap_core::params::Param;
use airgap_core::state::is_vehicle_heartbeat;
use airgap_core::MavMessage;
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::crypto::{self, KdfParams};
use crate::error::VaultError;
use crate::flight::{chunk_key, FlightRecorder, FlightSummary, RecorderConfig, TREE_CHUNKS};
use crate::ids::{FlightId, MissionId, SnapshotId};
use crate::mission::MissionSummary;
use crate::params::SnapshotSummary;
use crate::vault::{now_us, Vault};

/// The file name extension of a bundle.
pub const BUNDLE_EXTENSION: &str = "agvb";

const MAGIC: &[u8; 4] = b"AGVB";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const HEADER_LEN: usize = 4 + 1 + 3 * 4 + SALT_LEN;
const LEN_PREFIX: usize = 4;
/// The tree name in each record's AAD.
const TREE_BUNDLE: &str = "bundle";
const KEY_INFO: &[u8] = b"airgap-vault bundle v1";

const KIND_MANIFEST: u8 = 0;
const KIND_ENTRY: u8 = 1;
const KIND_BODY: u8 = 2;
const KIND_END: u8 = 3;

/// What is wrong with a bundle that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleProblem {
    /// The file does not start like a bundle.
    NotABundle,
    /// Written by a newer (or unknown) Airgap.
    UnknownVersion { found: u8, supported: u8 },
    /// The plaintext header holds Argon2id parameters no bundle is written with.
    BadHeader { detail: String },
    /// The file ends before the bundle does; the first `intact_records` records are whole.
    Truncated { intact_records: u32 },
    /// A record failed authentication: flipped bytes, or records moved or replaced.
    RecordDamaged { record: u32 },
    /// A record authenticates but is not what the format allows there (a writer's bug).
    Malformed { record: u32, detail: String },
    /// Bytes follow the end of the bundle.
    TrailingData { bytes: u64 },
}

impl fmt::Display for BundleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleProblem::NotABundle => f.write_str("the file is not an Airgap bundle"),
            BundleProblem::UnknownVersion { found, supported } => write!(
                f,
                "bundle format version {found} is not supported (this build reads version \
                 {supported}); use a newer Airgap"
            ),
            BundleProblem::BadHeader { detail } => write!(f, "its header is damaged: {detail}"),
            BundleProblem::Truncated { intact_records } => write!(
                f,
                "the file is truncated: it ends after {intact_records} intact records, before \
                 the end of the bundle"
            ),
            BundleProblem::RecordDamaged { record } => {
                write!(f, "record {record} is damaged or was tampered with")
            }
            BundleProblem::Malformed { record, detail } => {
                write!(f, "record {record} is malformed: {detail}")
            }
            BundleProblem::TrailingData { bytes } => {
                write!(f, "{bytes} unexpected bytes follow the end of the bundle")
            }
        }
    }
}

fn problem(reason: BundleProblem) -> VaultError {
    VaultError::Bundle { reason }
}

fn malformed(record: u32, detail: impl Into<String>) -> VaultError {
    problem(BundleProblem::Malformed {
        record,
        detail: detail.into(),
    })
}

/// What goes into a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSelection {
    pub flights: Vec<FlightId>,
    pub missions: Vec<MissionId>,
    pub snapshots: Vec<SnapshotId>,
}

impl BundleSelection {
    /// Everything the vault holds that can be read (unlocked only), with an error for each
    /// record left out because it could not be read.
    pub fn everything(vault: &Vault) -> Result<(BundleSelection, Vec<VaultError>), VaultError> {
        let flights = vault.flights()?;
        let missions = vault.missions()?;
        let snapshots = vault.param_snapshots()?;
        let selection = BundleSelection {
            flights: flights.items.iter().map(|f| f.id).collect(),
            missions: missions.items.iter().map(|m| m.id).collect(),
            snapshots: snapshots.items.iter().map(|s| s.id).collect(),
        };
        let mut left_out = flights.damaged;
        left_out.extend(missions.damaged);
        left_out.extend(snapshots.damaged);
        Ok((selection, left_out))
    }

    pub fn is_empty(&self) -> bool {
        self.flights.is_empty() && self.missions.is_empty() && self.snapshots.is_empty()
    }

    fn entries(&self) -> usize {
        self.flights.len() + self.missions.len() + self.snapshots.len()
    }

    /// The same ids once each, in their first order.
    fn deduplicated(&self) -> BundleSelection {
        fn dedup<T: Ord + Copy>(ids: &[T]) -> Vec<T> {
            let mut seen = BTreeSet::new();
            ids.iter().copied().filter(|id| seen.insert(*id)).collect()
        }
        BundleSelection {
            flights: dedup(&self.flights),
            missions: dedup(&self.missions),
            snapshots: dedup(&self.snapshots),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct BundleReport {
    pub flights: usize,
    pub missions: usize,
    pub snapshots: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Flight chunks that did not authenticate in the vault, left out of the bundle (the
    /// flight is exported with a gap, as a `.tlog` export would be).
    pub damaged: Vec<VaultError>,
    /// Chunk indices absent from a flight's sequence in the vault.
    pub missing_chunks: Vec<(FlightId, u32)>,
}

/// What an import added, with the new ids.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    pub flights: Vec<FlightSummary>,
    pub missions: Vec<MissionSummary>,
    pub snapshots: Vec<SnapshotSummary>,
}

/// A mission file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissionFileFormat {
    /// QGroundControl `.plan` (mission, geofence and rally points); kept as written.
    Plan,
    /// QGC WPL 110 `.waypoints`, ArduPilot's convention (home is item 0).
    Waypoints,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    entries: u64,
    flights: u64,
    missions: u64,
    snapshots: u64,
    created_at_us: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum EntryHeader {
    Flight {
        sysids: Vec<u8>,
        armed: bool,
        start_us: u64,
        end_us: u64,
        frames: u64,
        bytes: u64,
    },
    Mission {
        name: String,
        saved_at_us: u64,
    },
    Snapshot {
        sysid: u8,
        taken_at_us: u64,
        count: usize,
    },
}

/// A parameter as a snapshot's body holds it (the type kept, unlike in a `.param` file).
#[derive(Serialize, Deserialize)]
struct BundledParam {
    name: String,
    value: f64,
    param_type: airgap_core::dialect::MavParamType,
}

/// The header bytes and the record cipher they give with `passphrase`.
fn bundle_cipher(
    header: &[u8; HEADER_LEN],
    kdf: &KdfParams,
    passphrase: &SecretString,
) -> Result<Aes256Gcm, VaultError> {
    let kek = kdf.derive(
        passphrase.expose_secret().as_bytes(),
        &header[HEADER_LEN - SALT_LEN..],
    )?;
    let mut info = Vec::with_capacity(KEY_INFO.len() + HEADER_LEN);
    info.extend_from_slice(KEY_INFO);
    info.extend_from_slice(header);
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, kek.as_ref())
        .expand(&info, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Ok(Aes256Gcm::new(key.as_ref().into()))
}

fn write_header(kdf: &KdfParams, salt: &[u8; SALT_LEN]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    for (i, v) in [kdf.m_cost_kib, kdf.t_cost, kdf.p_cost].iter().enumerate() {
        h[5 + 4 * i..9 + 4 * i].copy_from_slice(&v.to_be_bytes());
    }
    h[HEADER_LEN - SALT_LEN..].copy_from_slice(salt);
    h
}

/// Check the plaintext header and return it with its Argon2id parameters.
fn read_header(bytes: &[u8]) -> Result<([u8; HEADER_LEN], KdfParams), VaultError> {
    match bytes.get(..MAGIC.len()) {
        Some(magic) if magic == MAGIC => {}
        // Shorter than the magic but a prefix of it: a bundle cut short.
        None if !bytes.is_empty() && MAGIC.starts_with(bytes) => {
            return Err(problem(BundleProblem::Truncated { intact_records: 0 }))
        }
        _ => return Err(problem(BundleProblem::NotABundle)),
    }
    let Some(&version) = bytes.get(4) else {
        return Err(problem(BundleProblem::Truncated { intact_records: 0 }));
    };
    if version != VERSION {
        return Err(problem(BundleProblem::UnknownVersion {
            found: version,
            supported: VERSION,
        }));
    }
    let Some(header) = bytes
        .get(..HEADER_LEN)
        .and_then(|h| <[u8; HEADER_LEN]>::try_from(h).ok())
    else {
        return Err(problem(BundleProblem::Truncated { intact_records: 0 }));
    };
    let field = |i: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&header[5 + 4 * i..9 + 4 * i]);
        u32::from_be_bytes(b)
    };
    let kdf = KdfParams {
        m_cost_kib: field(0),
        t_cost: field(1),
        p_cost: field(2),
    };
    if let Err(e) = kdf.validate() {
        return Err(problem(BundleProblem::BadHeader {
            detail: e.to_string(),
        }));
    }
    Ok((header, kdf))
}

/// Writes records with consecutive indices.
struct RecordWriter<'a, W: Write> {
    cipher: Aes256Gcm,
    out: &'a mut W,
    next: u32,
    bytes: u64,
}

impl<W: Write> RecordWriter<'_, W> {
    fn record(&mut self, kind: u8, body: &[u8]) -> Result<(), VaultError> {
        let mut plain = Zeroizing::new(Vec::with_capacity(1 + body.len()));
        plain.push(kind);
        plain.extend_from_slice(body);
        let record = crypto::seal_data(&self.cipher, TREE_BUNDLE, &self.next.to_be_bytes(), &plain);
        let len = u32::try_from(record.len()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a bundle record cannot exceed 4 GiB",
            )
        })?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&record)?;
        self.bytes += (LEN_PREFIX + record.len()) as u64;
        self.next = self.next.checked_add(1).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a bundle cannot hold more than 2^32 records",
            )
        })?;
        Ok(())
    }

    fn json<T: Serialize>(&mut self, kind: u8, value: &T) -> Result<(), VaultError> {
        let body = Zeroizing::new(serde_json::to_vec(value).expect("bundle records serialize"));
        self.record(kind, &body)
    }
}

/// One opened record: its index, its kind and its body.
struct Opened {
    index: u32,
    kind: u8,
    body: Zeroizing<Vec<u8>>,
}

/// Reads records in order, authenticating each under its index.
struct RecordReader<'a> {
    cipher: &'a Aes256Gcm,
    bytes: &'a [u8],
    pos: usize,
    index: u32,
}

impl RecordReader<'_> {
    /// The next record's kind and body; `None` at the end of the input.
    fn next(&mut self) -> Result<Option<Opened>, VaultError> {
        let rest = &self.bytes[self.pos..];
        if rest.is_empty() {
            return Ok(None);
        }
        let truncated = || {
            problem(BundleProblem::Truncated {
                intact_records: self.index,
            })
        };
        let len = rest
            .get(..LEN_PREFIX)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(truncated)?;
        let record = usize::try_from(len)
            .ok()
            .and_then(|len| rest.get(LEN_PREFIX..LEN_PREFIX + len))
            .ok_or_else(truncated)?;
        let index = self.index;
        let plain = crypto::open_data(self.cipher, TREE_BUNDLE, &index.to_be_bytes(), record)
            .map_err(|_| problem(BundleProblem::RecordDamaged { record: index }))?;
        let Some(&kind) = plain.first() else {
            return Err(malformed(index, "empty record"));
        };
        let body = Zeroizing::new(plain[1..].to_vec());
        self.pos += LEN_PREFIX + record.len();
        self.index = self.index.saturating_add(1);
        Ok(Some(Opened { index, kind, body }))
    }
}

/// What a walk over a bundle hands its visitor, in order.
enum Event<'a> {
    Entry { record: u32, header: EntryHeader },
    Body { record: u32, bytes: &'a [u8] },
    EntryDone,
}

/// Check a bundle's header and derive its record cipher from `passphrase` (the slow part:
/// Argon2id with the bundle's parameters).
fn open_bundle(bundle: &[u8], passphrase: &SecretString) -> Result<Aes256Gcm, VaultError> {
    let (header, kdf) = read_header(bundle)?;
    bundle_cipher(&header, &kdf, passphrase)
}

/// Authenticate and walk a whole bundle (its header already checked by [`open_bundle`]), checking its structure and calling `on` for each
/// entry, body piece and entry end.
fn walk(
    bundle: &[u8],
    cipher: &Aes256Gcm,
    on: &mut dyn FnMut(Event<'_>) -> Result<(), VaultError>,
) -> Result<Manifest, VaultError> {
    let mut reader = RecordReader {
        cipher,
        bytes: bundle,
        pos: HEADER_LEN,
        index: 0,
    };
    let manifest = match reader.next() {
        Ok(Some(Opened {
            index: record,
            kind: KIND_MANIFEST,
            body,
        })) => serde_json::from_slice::<Manifest>(&body)
            .map_err(|e| malformed(record, format!("manifest: {e}")))?,
        Ok(Some(Opened {
            index: record,
            kind,
            ..
        })) => {
            return Err(malformed(
                record,
                format!("kind {kind} where the manifest belongs"),
            ))
        }
        Ok(None) => return Err(problem(BundleProblem::Truncated { intact_records: 0 })),
        // The first record is the passphrase check: the key is derived from it.
        Err(VaultError::Bundle {
            reason: BundleProblem::RecordDamaged { record: 0 },
        }) => return Err(VaultError::WrongPassphrase),
        Err(e) => return Err(e),
    };
    let mut entries = 0u64;
    let mut in_entry = false;
    loop {
        let Some(Opened {
            index: record,
            kind,
            body,
        }) = reader.next()?
        else {
            return Err(problem(BundleProblem::Truncated {
                intact_records: reader.index,
            }));
        };
        match kind {
            KIND_ENTRY => {
                if in_entry {
                    on(Event::EntryDone)?;
                }
                entries += 1;
                if entries > manifest.entries {
                    return Err(malformed(
                        record,
                        format!("more entries than the {} in the manifest", manifest.entries),
                    ));
                }
                let header = serde_json::from_slice::<EntryHeader>(&body)
                    .map_err(|e| malformed(record, format!("entry header: {e}")))?;
                on(Event::Entry { record, header })?;
                in_entry = true;
            }
            KIND_BODY if in_entry => on(Event::Body {
                record,
                bytes: &body,
            })?,
            KIND_END => {
                if in_entry {
                    on(Event::EntryDone)?;
                }
                if entries != manifest.entries {
                    return Err(malformed(
                        record,
                        format!(
                            "{entries} entries, but the manifest says {}",
                            manifest.entries
                        ),
                    ));
                }
                let trailing = bundle.len() - reader.pos;
                if trailing > 0 {
                    return Err(problem(BundleProblem::TrailingData {
                        bytes: trailing as u64,
                    }));
                }
                return Ok(manifest);
            }
            other => {
                return Err(malformed(
                    record,
                    format!("kind {other} is not allowed here"),
                ))
            }
        }
    }
}

/// Re-records tlog bytes through a recorder, verbatim: each checksum-valid record is pushed
/// together with any unreadable bytes before it, so the flight exports as the same bytes.
/// With `note_vehicles`, vehicles' HEARTBEATs note their system ids and arming. Returns the
/// frames found.
fn record_tlog(
    recorder: &mut FlightRecorder,
    tlog: &[u8],
    note_vehicles: bool,
    last_time_us: &mut u64,
) -> Result<u64, VaultError> {
    let mut cursor = 0usize;
    let mut frames = 0u64;
    for (time_us, frame) in airgap_core::tlog::records(tlog).flatten() {
        // `frame.raw` borrows from `tlog`: its address gives the record's position.
        let start = frame.raw.as_ptr() as usize - tlog.as_ptr() as usize;
        let end = start + frame.raw.len();
        if note_vehicles {
            if let MavMessage::HEARTBEAT(hb) = &frame.msg {
                if is_vehicle_heartbeat(hb.autopilot, hb.mavtype) {
                    recorder.note_vehicle(frame.sysid());
                    if hb
                        .base_mode
                        .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED)
                    {
                        recorder.note_armed();
                    }
                }
            }
        }
        recorder.push_tlog_bytes(time_us, &tlog[cursor..end], 1)?;
        *last_time_us = time_us;
        frames += 1;
        cursor = end;
    }
    recorder.push_tlog_bytes(*last_time_us, &tlog[cursor..], 0)?;
    Ok(frames)
}

fn params_from_body(record: u32, body: &[u8]) -> Result<Vec<Param>, VaultError> {
    let params: Vec<BundledParam> =
        serde_json::from_slice(body).map_err(|e| malformed(record, format!("parameters: {e}")))?;
    Ok(params
        .into_iter()
        .map(|p| Param {
            name: p.name,
            value: p.value,
            param_type: p.param_type,
        })
        .collect())
}

/// One entry being read: its header, the record it started at, and for missions and
/// snapshots the body gathered so far.
struct Pending {
    record: u32,
    header: EntryHeader,
    body: Zeroizing<Vec<u8>>,
    recorder: Option<FlightRecorder>,
    last_time_us: u64,
}

/// Checks (`store: false`) or stores the entries of a bundle as a walk hands them over.
struct Importer<'v> {
    vault: &'v Vault,
    store: bool,
    pending: Option<Pending>,
    report: ImportReport,
}

impl Importer<'_> {
    fn on(&mut self, event: Event<'_>) -> Result<(), VaultError> {
        match event {
            Event::Entry { record, header } => {
                let recorder = match (&header, self.store) {
                    (EntryHeader::Flight { sysids, armed, .. }, true) => {
                        let mut r = self.vault.start_flight(RecorderConfig::default())?;
                        for &sysid in sysids {
                            r.note_vehicle(sysid);
                        }
                        if *armed {
                            r.note_armed();
                        }
                        Some(r)
                    }
                    _ => None,
                };
                self.pending = Some(Pending {
                    record,
                    header,
                    body: Zeroizing::new(Vec::new()),
                    recorder,
                    last_time_us: 0,
                });
            }
            Event::Body { record, bytes } => {
                let Some(p) = self.pending.as_mut() else {
                    return Err(malformed(record, "a body piece outside an entry"));
                };
                match (&p.header, p.recorder.as_mut()) {
                    (EntryHeader::Flight { .. }, Some(recorder)) => {
                        record_tlog(recorder, bytes, false, &mut p.last_time_us)?;
                    }
                    (EntryHeader::Flight { .. }, None) => {}
                    _ => p.body.extend_from_slice(bytes),
                }
            }
            Event::EntryDone => {
                if let Some(p) = self.pending.take() {
                    self.finish(p)?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, p: Pending) -> Result<(), VaultError> {
        match p.header {
            EntryHeader::Flight { .. } => {
                if let Some(recorder) = p.recorder {
                    self.report.flights.push(recorder.finish()?);
                }
            }
            EntryHeader::Mission { name, .. } => {
                let plan_json = std::str::from_utf8(&p.body)
                    .map_err(|_| malformed(p.record, "the mission's .plan is not UTF-8"))?;
                if self.store {
                    let id = self.vault.save_mission(&name, plan_json)?;
                    self.report.missions.push(self.vault.mission(id)?.summary);
                } else {
                    read_plan(plan_json, HomeItem::Absent)
                        .map_err(|e| malformed(p.record, format!("the mission: {e}")))?;
                }
            }
            EntryHeader::Snapshot {
                sysid, taken_at_us, ..
            } => {
                let params = params_from_body(p.record, &p.body)?;
                if self.store {
                    let id = self
                        .vault
                        .save_param_snapshot(sysid, taken_at_us, &params)?;
                    self.report
                        .snapshots
                        .push(self.vault.param_snapshot(id)?.summary);
                }
            }
        }
        Ok(())
    }
}

impl Vault {
    /// Write the selected flights, missions and parameter snapshots as an encrypted bundle
    /// that only `bundle_passphrase` opens (unlocked only; audited as `Exported`). `kdf` is the
    /// Argon2id cost of that passphrase. Every selected id is checked before anything is
    /// written (`NotFound`). Damaged or missing flight chunks are left out and reported.
    pub fn export_bundle(
        &self,
        selection: &BundleSelection,
        bundle_passphrase: &SecretString,
        kdf: KdfParams,
        out: &mut impl Write,
    ) -> Result<BundleReport, VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        kdf.validate()?;
        let selection = selection.deduplicated();
        let flights = selection
            .flights
            .iter()
            .map(|&id| self.flight(id))
            .collect::<Result<Vec<_>, _>>()?;
        for &id in &selection.missions {
            self.mission(id)?;
        }
        for &id in &selection.snapshots {
            self.param_snapshot(id)?;
        }

        let header = write_header(&kdf, &crypto::random_bytes());
        out.write_all(&header)?;
        let mut w = RecordWriter {
            cipher: bundle_cipher(&header, &kdf, bundle_passphrase)?,
            out,
            next: 0,
            bytes: HEADER_LEN as u64,
        };
        let mut report = BundleReport::default();
        w.json(
            KIND_MANIFEST,
            &Manifest {
                entries: selection.entries() as u64,
                flights: selection.flights.len() as u64,
                missions: selection.missions.len() as u64,
                snapshots: selection.snapshots.len() as u64,
                created_at_us: now_us(),
            },
        )?;
        for f in &flights {
            w.json(
                KIND_ENTRY,
                &EntryHeader::Flight {
                    sysids: f.sysids.clone(),
                    armed: f.armed_ever,
                    start_us: f.start_us,
                    end_us: f.end_us,
                    frames: f.frames,
                    bytes: f.bytes,
                },
            )?;
            self.bundle_flight_chunks(f.id, &mut w, &mut report)?;
            report.flights += 1;
        }
        for &id in &selection.missions {
            let m = self.mission(id)?;
            w.json(
                KIND_ENTRY,
                &EntryHeader::Mission {
                    name: m.summary.name,
                    saved_at_us: m.summary.saved_at_us,
                },
            )?;
            w.record(KIND_BODY, m.plan_json.as_bytes())?;
            report.missions += 1;
        }
        for &id in &selection.snapshots {
            let s = self.param_snapshot(id)?;
            w.json(
                KIND_ENTRY,
                &EntryHeader::Snapshot {
                    sysid: s.summary.sysid,
                    taken_at_us: s.summary.taken_at_us,
                    count: s.summary.count,
                },
            )?;
            let params: Vec<BundledParam> = s
                .params
                .into_iter()
                .map(|p| BundledParam {
                    name: p.name,
                    value: p.value,
                    param_type: p.param_type,
                })
                .collect();
            w.json(KIND_BODY, &params)?;
            report.snapshots += 1;
        }
        w.record(KIND_END, &[])?;
        report.bytes = w.bytes;
        w.out.flush()?;
        self.audit(AuditEvent::Exported {
            what: format!(
                "bundle: {} flights, {} missions, {} snapshots",
                report.flights, report.missions, report.snapshots
            ),
        })?;
        Ok(report)
    }

    /// One body piece per readable chunk of a flight, in order.
    fn bundle_flight_chunks<W: Write>(
        &self,
        id: FlightId,
        w: &mut RecordWriter<'_, W>,
        report: &mut BundleReport,
    ) -> Result<(), VaultError> {
        let mut expected = 0u32;
        for entry in self.shared.store.scan_prefix(TREE_CHUNKS, id.as_bytes()) {
            let (key, record) = entry?;
            let Some(index) = key
                .get(16..)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .filter(|&index| key == chunk_key(id, index))
            else {
                report.damaged.push(VaultError::corrupt(TREE_CHUNKS, &key));
                continue;
            };
            report
                .missing_chunks
                .extend((expected..index).map(|missing| (id, missing)));
            expected = index.saturating_add(1);
            match self
                .shared
                .with_secrets(|s| s.open(TREE_CHUNKS, &key, &record))
            {
                Ok(plain) => w.record(KIND_BODY, &plain)?,
                Err(VaultError::Locked) => return Err(VaultError::Locked),
                Err(e) => report.damaged.push(e),
            }
        }
        Ok(())
    }

    /// Import a bundle written by [`Vault::export_bundle`] (unlocked only; audited as
    /// `Imported`). The whole bundle is authenticated and checked first: a wrong passphrase
    /// is `WrongPassphrase`, a damaged, truncated or foreign file is `Bundle { reason }`, and
    /// either way nothing is imported. Imported items get new ids. (Only a storage failure
    /// during the second pass can leave part of a bundle imported.)
    pub fn import_bundle(
        &self,
        bundle_passphrase: &SecretString,
        bundle: &[u8],
    ) -> Result<ImportReport, VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        let mut check = Importer {
            vault: self,
            store: false,
            pending: None,
            report: ImportReport::default(),
        };
        let cipher = open_bundle(bundle, bundle_passphrase)?;
        walk(bundle, &cipher, &mut |e| check.on(e))?;
        let mut import = Importer {
            vault: self,
            store: true,
            pending: None,
            report: ImportReport::default(),
        };
        walk(bundle, &cipher, &mut |e| import.on(e))?;
        let report = import.report;
        self.audit(AuditEvent::Imported {
            what: format!(
                "bundle: {} flights, {} missions, {} snapshots",
                report.flights.len(),
                report.missions.len(),
                report.snapshots.len()
            ),
        })?;
        Ok(report)
    }

    /// Import a `.tlog` as a new flight (unlocked only; audited as `Imported`). The flight
    /// holds the file's bytes as they are (exporting it gives the same file); its vehicles and
    /// arming are taken from the HEARTBEATs of vehicles in it. `NotATlog` when not one
    /// MAVLink frame is found.
    pub fn import_tlog(&self, tlog: &[u8]) -> Result<FlightSummary, VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        if !airgap_core::tlog::records(tlog).any(|r| r.is_ok()) {
            return Err(VaultError::NotATlog);
        }
        let mut recorder = self.start_flight(RecorderConfig::default())?;
        let mut last_time_us = 0;
        record_tlog(&mut recorder, tlog, true, &mut last_time_us)?;
        let summary = recorder.finish()?;
        self.audit(AuditEvent::Imported {
            what: format!(
                "flight {} from a .tlog file ({} frames)",
                summary.id, summary.frames
            ),
        })?;
        Ok(summary)
    }

    /// Import a `.plan` or `.waypoints` file as a saved mission named `name` (unlocked only;
    /// audited as `Imported`). A `.plan` is kept as written.
    pub fn import_mission_file(
        &self,
        name: &str,
        text: &str,
        format: MissionFileFormat,
    ) -> Result<MissionSummary, VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        let (id, ext) = match format {
            MissionFileFormat::Plan => (self.save_mission(name, text)?, "plan"),
            MissionFileFormat::Waypoints => {
                let file = waypoints_file::read(text, HomeItem::Seq0)?;
                let plan = Plan {
                    mission: file.mission,
                    fence: Vec::new(),
                    rally: Vec::new(),
                };
                let meta = PlanMeta {
                    home_item: HomeItem::Seq0,
                    planned_home: file.home,
                    ..PlanMeta::default()
                };
                (self.save_plan(name, &plan, &meta)?, "waypoints")
            }
        };
        self.audit(AuditEvent::Imported {
            what: format!("mission {id} from a .{ext} file"),
        })?;
        Ok(self.mission(id)?.summary)
    }

    /// Import a `.param` or `.params` file as a parameter snapshot (unlocked only; audited as
    /// `Imported`), taken now. The vehicle is `sysid` if given, else the one a `.params` file
    /// names, else its `SYSID_THISMAV`, else 1.
    pub fn import_param_file(
        &self,
        text: &str,
        format: Format,
        sysid: Option<u8>,
    ) -> Result<SnapshotSummary, VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        let file = read_param_file(text, format)?;
        let sysid = sysid
            .or(file.source.map(|s| s.system_id))
            .or_else(|| {
                file.params
                    .iter()
                    .find(|p| p.name == "SYSID_THISMAV")
                    .filter(|p| p.value.fract() == 0.0 && (1.0..=255.0).contains(&p.value))
                    .map(|p| p.value as u8)
            })
            .unwrap_or(1);
        let id = self.save_param_snapshot(sysid, now_us(), &file.params)?;
        let ext = match format {
            Format::MissionPlanner => "param",
            Format::QGroundControl => "params",
        };
        self.audit(AuditEvent::Imported {
            what: format!("parameter snapshot {id} from a .{ext} file"),
        })?;
        Ok(self.param_snapshot(id)?.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn walk_with(bytes: &[u8], passphrase: &str) -> Result<Manifest, VaultError> {
        let cipher = open_bundle(bytes, &pass(passphrase))?;
        walk(bytes, &cipher, &mut |_| Ok(()))
    }

    fn walk_only(bytes: &[u8]) -> Result<Manifest, VaultError> {
        walk_with(bytes, "p")
    }

    #[test]
    fn header_problems_are_named() {
        assert!(matches!(
            walk_only(b"PK\x03\x04 a zip file"),
            Err(VaultError::Bundle {
                reason: BundleProblem::NotABundle
            })
        ));
        assert!(matches!(
            walk_only(b""),
            Err(VaultError::Bundle {
                reason: BundleProblem::NotABundle
            })
        ));
        assert!(matches!(
            walk_only(b"AGV"),
            Err(VaultError::Bundle {
                reason: BundleProblem::Truncated { intact_records: 0 }
            })
        ));
        let mut h = write_header(&KdfParams::INSECURE_FAST, &[7; SALT_LEN]).to_vec();
        assert!(matches!(
            walk_only(&h),
            Err(VaultError::Bundle {
                reason: BundleProblem::Truncated { intact_records: 0 }
            })
        ));
        assert!(matches!(
            walk_only(&h[..20]),
            Err(VaultError::Bundle {
                reason: BundleProblem::Truncated { intact_records: 0 }
            })
        ));
        h[4] = 2;
        assert!(matches!(
            walk_only(&h),
            Err(VaultError::Bundle {
                reason: BundleProblem::UnknownVersion {
                    found: 2,
                    supported: 1
                }
            })
        ));
        h[4] = VERSION;
        h[5] = 0xff; // m_cost far past the limit: refused, not allocated
        assert!(matches!(
            walk_only(&h),
            Err(VaultError::Bundle {
                reason: BundleProblem::BadHeader { .. }
            })
        ));
    }

    #[test]
    fn a_bundle_without_its_end_record_is_truncated() {
        let kdf = KdfParams::INSECURE_FAST;
        let header = write_header(&kdf, &[1; SALT_LEN]);
        let mut out = header.to_vec();
        let mut w = RecordWriter {
            cipher: bundle_cipher(&header, &kdf, &pass("p")).unwrap(),
            out: &mut out,
            next: 0,
            bytes: 0,
        };
        w.json(
            KIND_MANIFEST,
            &Manifest {
                entries: 0,
                flights: 0,
                missions: 0,
                snapshots: 0,
                created_at_us: 0,
            },
        )
        .unwrap();
        assert!(matches!(
            walk_only(&out),
            Err(VaultError::Bundle {
                reason: BundleProblem::Truncated { intact_records: 1 }
            })
        ));
        assert!(matches!(
            walk_with(&out, "q"),
            Err(VaultError::WrongPassphrase)
        ));
        let mut w = RecordWriter {
            cipher: bundle_cipher(&header, &kdf, &pass("p")).unwrap(),
            out: &mut out,
            next: 1,
            bytes: 0,
        };
        // An entry the manifest does not announce.
        w.json(
            KIND_ENTRY,
            &EntryHeader::Mission {
                name: "x".into(),
                saved_at_us: 0,
            },
        )
        .unwrap();
        assert!(matches!(
            walk_only(&out),
            Err(VaultError::Bundle {
                reason: BundleProblem::Malformed { record: 1, .. }
            })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_are_an_error_not_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            prop_assert!(walk_only(&bytes).is_err());
        }

        #[test]
        fn arbitrary_records_after_a_valid_header_are_an_error_not_a_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut bytes = write_header(&KdfParams::INSECURE_FAST, &[3; SALT_LEN]).to_vec();
            bytes.extend_from_slice(&tail);
            prop_assert!(walk_only(&bytes).is_err());
        }
    }
}
