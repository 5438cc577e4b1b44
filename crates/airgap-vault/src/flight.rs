//! Flights: recording a link session's raw telemetry as sealed tlog chunks, and reading,
//! exporting and deleting recorded flights.
//!
//! Keys: a flight's metadata lives in `flights` at its [`FlightId`]; its chunks live in
//! `chunks` at `flight id ‖ chunk index (u32 big-endian)`, so a prefix scan reads them in
//! order. Both are sealed to the vault's public key, so recording never needs the
//! passphrase. The metadata is rewritten with every chunk, in the same flush, so a flight
//! cut short by a crash is listed with what reached the disk.
//!
//! Throughput (`cargo bench -p airgap-vault --bench vault -- recording/ratio`): a chunk's key
//! agreement is prepared on a worker thread while the chunk before it is written, and the
//! chunk is filled in the layout of its record and encrypted where it lies, so what stays
//! between a chunk's last frame and its flush is AES-GCM over its bytes and two small
//! records.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::crypto::{self, Sealer, SEALED_HEADER_LEN};
use crate::error::VaultError;
use crate::ids::FlightId;
use crate::vault::{now_us, Listing, Shared, Vault};

pub const TREE_FLIGHTS: &str = "flights";
pub const TREE_CHUNKS: &str = "chunks";

/// A chunk is written early when it grows past this, so a burst cannot grow the buffer
/// (plaintext held in memory) without bound.
const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// See [`FlightRecorder::push`].
const WALL_CLOCK_EVERY: u64 = 16;

/// What a chunk buffer starts with: about a second of a fast telemetry link.
const INITIAL_CHUNK_CAPACITY: usize = 64 * 1024;

pub fn chunk_key(flight: FlightId, index: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..16].copy_from_slice(flight.as_bytes());
    key[16..].copy_from_slice(&index.to_be_bytes());
    key
}

/// How a recorder cuts chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    /// A chunk is sealed, written and flushed once its frames span this long (by their
    /// timestamps) or this much wall-clock time has passed since it began, whichever is
    /// first. A crash loses at most this much.
    pub chunk_period: Duration,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            chunk_period: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct FlightMeta {
    started_wall_us: u64,
    first_frame_us: Option<u64>,
    last_frame_us: Option<u64>,
    bytes: u64,
    frames: u64,
    chunks: u32,
    sysids: BTreeSet<u8>,
    armed_ever: bool,
    finished: bool,
}

/// A recorded flight as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlightSummary {
    pub id: FlightId,
    /// UNIX µs of the first frame (or of the start of recording if no frame landed yet).
    pub start_us: u64,
    /// UNIX µs of the last frame that reached the disk.
    pub end_us: u64,
    pub duration_s: f64,
    /// tlog bytes (timestamps included) that reached the disk.
    pub bytes: u64,
    pub frames: u64,
    pub chunks: u32,
    /// Vehicle system ids seen, ascending.
    pub sysids: Vec<u8>,
    pub armed_ever: bool,
    /// `false` while recording, or when the recorder died before `finish`.
    pub complete: bool,
}

impl FlightSummary {
    fn new(id: FlightId, meta: &FlightMeta) -> FlightSummary {
        let start_us = meta.first_frame_us.unwrap_or(meta.started_wall_us);
        let end_us = meta.last_frame_us.unwrap_or(start_us).max(start_us);
        FlightSummary {
            id,
            start_us,
            end_us,
            duration_s: (end_us - start_us) as f64 / 1e6,
            bytes: meta.bytes,
            frames: meta.frames,
            chunks: meta.chunks,
            sysids: meta.sysids.iter().copied().collect(),
            armed_ever: meta.armed_ever,
            complete: meta.finished,
        }
    }
}

/// A chunk that is now durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkWritten {
    pub flight: FlightId,
    pub index: u32,
    /// tlog bytes in the chunk.
    pub bytes: usize,
    pub frames: u64,
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct ExportReport {
    pub chunks: u32,
    pub bytes: u64,
    /// Chunks that did not authenticate (`Corrupt`), skipped: a tlog reader resynchronises
    /// across the gap.
    pub damaged: Vec<VaultError>,
    /// Chunk indices absent from the sequence (deleted from the database).
    pub missing_chunks: Vec<u32>,
}

/// Records one flight. Works whether the vault is locked or not: it holds only the vault's
/// public key, the plaintext of the chunk being filled (encrypted in place when sealed) and
/// the ephemeral key agreement made ahead for that chunk, which no written record uses. It
/// runs one worker thread, which makes those key agreements.
///
/// Dropping a recorder without [`FlightRecorder::finish`] writes the pending chunk if it
/// can, ignoring errors; call `finish` to see them.
pub struct FlightRecorder {
    shared: Arc<Shared>,
    id: FlightId,
    meta: FlightMeta,
    period: Duration,
    buf: ChunkBuf,
    sealers: SealersAhead,
    buf_frames: u64,
    buf_first_us: Option<u64>,
    buf_last_us: Option<u64>,
    buf_started: Instant,
    next_index: u32,
    finished: bool,
}

impl FlightRecorder {
    pub fn id(&self) -> FlightId {
        self.id
    }

    /// Add one frame received at `time_us` (UNIX µs). Returns the chunk written, if this
    /// frame completed one.
    pub fn push(
        &mut self,
        time_us: u64,
        raw_mavlink_packet: &[u8],
    ) -> Result<Option<ChunkWritten>, VaultError> {
        if self.buf.is_empty() {
            self.buf_started = Instant::now();
        }
        self.buf.push_tlog_record(time_us, raw_mavlink_packet);
        self.buf_frames += 1;
        let first = *self.buf_first_us.get_or_insert(time_us);
        self.buf_last_us = Some(time_us);
        let spanned = Duration::from_micros(time_us.saturating_sub(first));
        // Reading the clock per frame costs more than the rest of `push` at high rates;
        // every WALL_CLOCK_EVERY frames is often enough for a one-second period.
        let wall_due =
            self.buf_frames % WALL_CLOCK_EVERY == 0 && self.buf_started.elapsed() >= self.period;
        if spanned >= self.period || wall_due || self.buf.len() >= MAX_CHUNK_BYTES {
            self.write_chunk()
        } else {
            Ok(None)
        }
    }

    /// Write the pending chunk if its wall-clock period is over. Call this on a timer so a
    /// link that goes quiet still gets its last frames to disk.
    pub fn flush_if_due(&mut self) -> Result<Option<ChunkWritten>, VaultError> {
        if !self.buf.is_empty() && self.buf_started.elapsed() >= self.period {
            self.write_chunk()
        } else {
            Ok(None)
        }
    }

    /// Write the pending chunk now.
    pub fn flush_now(&mut self) -> Result<Option<ChunkWritten>, VaultError> {
        self.write_chunk()
    }

    /// A vehicle with this system id is on the link (kept in the flight's metadata).
    pub fn note_vehicle(&mut self, sysid: u8) {
        self.meta.sysids.insert(sysid);
    }

    /// A vehicle was seen armed.
    pub fn note_armed(&mut self) {
        self.meta.armed_ever = true;
    }

    /// Write what is pending, mark the flight complete and flush.
    pub fn finish(mut self) -> Result<FlightSummary, VaultError> {
        if self.buf.is_empty() {
            let mut meta = self.meta.clone();
            meta.finished = true;
            self.write_meta(&meta)?;
            self.shared.store.flush()?;
            self.meta = meta;
        } else {
            // The last chunk and the mark of completion share one flush.
            self.write_chunk_marking(true)?;
        }
        self.finished = true;
        Ok(FlightSummary::new(self.id, &self.meta))
    }

    fn write_meta(&self, meta: &FlightMeta) -> Result<(), VaultError> {
        let plain = Zeroizing::new(serde_json::to_vec(meta).expect("flight metadata serializes"));
        let record = crypto::seal_to(
            &self.shared.public_key,
            TREE_FLIGHTS,
            self.id.as_bytes(),
            &plain,
        );
        self.shared
            .store
            .insert(TREE_FLIGHTS, self.id.as_bytes(), &record)?;
        Ok(())
    }

    fn write_chunk(&mut self) -> Result<Option<ChunkWritten>, VaultError> {
        self.write_chunk_marking(false)
    }

    /// Seal, write and flush the pending chunk with the flight's metadata updated to cover
    /// it (and marked complete if `finished`).
    fn write_chunk_marking(&mut self, finished: bool) -> Result<Option<ChunkWritten>, VaultError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let index = self.next_index;
        let key = chunk_key(self.id, index);
        let bytes = self.buf.len();
        let mut meta = self.meta.clone();
        meta.bytes += bytes as u64;
        meta.frames += self.buf_frames;
        meta.chunks = index + 1;
        if meta.first_frame_us.is_none() {
            meta.first_frame_us = self.buf_first_us;
        }
        meta.last_frame_us = self.buf_last_us.or(meta.last_frame_us);
        meta.finished |= finished;
        let meta_plain =
            Zeroizing::new(serde_json::to_vec(&meta).expect("flight metadata serializes"));
        let sealer = self.sealers.take();
        let meta_record = sealer.seal(TREE_FLIGHTS, self.id.as_bytes(), &meta_plain);
        let chunk_record = self.buf.seal(&sealer, TREE_CHUNKS, &key);
        // Chunk then metadata, one flush: durable together, and a metadata record never
        // claims more than the chunks before it.
        let store = &self.shared.store;
        let stored = store
            .insert(TREE_CHUNKS, &key, chunk_record)
            .and_then(|()| store.insert(TREE_FLIGHTS, self.id.as_bytes(), &meta_record))
            .and_then(|()| store.flush());
        if let Err(e) = stored {
            // Keep the frames for the next try, which seals them afresh.
            self.buf.unseal(&sealer, TREE_CHUNKS, &key);
            return Err(e.into());
        }
        let written = ChunkWritten {
            flight: self.id,
            index,
            bytes,
            frames: self.buf_frames,
        };
        self.meta = meta;
        self.next_index += 1;
        self.buf.clear_written();
        self.buf_frames = 0;
        self.buf_first_us = None;
        self.buf_last_us = None;
        Ok(Some(written))
    }
}

impl Drop for FlightRecorder {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort only: Drop cannot report; `finish` is the checked path.
            let _ = self.write_chunk();
        }
    }
}

impl Vault {
    /// Start recording a new flight. Works locked.
    pub fn start_flight(&self, config: RecorderConfig) -> Result<FlightRecorder, VaultError> {
        let recorder = FlightRecorder {
            shared: Arc::clone(&self.shared),
            id: FlightId::random(),
            meta: FlightMeta {
                started_wall_us: now_us(),
                ..FlightMeta::default()
            },
            period: config.chunk_period,
            buf: ChunkBuf::with_capacity(INITIAL_CHUNK_CAPACITY),
            sealers: SealersAhead::start(self.shared.public_key),
            buf_frames: 0,
            buf_first_us: None,
            buf_last_us: None,
            buf_started: Instant::now(),
            next_index: 0,
            finished: false,
        };
        recorder.write_meta(&recorder.meta)?;
        self.shared.store.flush()?;
        Ok(recorder)
    }

    /// Every recorded flight, unordered (unlocked only).
    pub fn flights(&self) -> Result<Listing<FlightSummary>, VaultError> {
        let listing = self.shared.list_json::<FlightMeta>(TREE_FLIGHTS)?;
        let mut out = Listing {
            items: Vec::with_capacity(listing.items.len()),
            damaged: listing.damaged,
        };
        for (key, meta) in listing.items {
            match <[u8; 16]>::try_from(key.as_slice()) {
                Ok(id) => out.items.push(FlightSummary::new(FlightId(id), &meta)),
                Err(_) => out.damaged.push(VaultError::corrupt(TREE_FLIGHTS, &key)),
            }
        }
        out.items.sort_by_key(|f| f.start_us);
        Ok(out)
    }

    /// One flight's summary (unlocked only).
    pub fn flight(&self, id: FlightId) -> Result<FlightSummary, VaultError> {
        let meta: FlightMeta = self
            .shared
            .get_json(TREE_FLIGHTS, id.as_bytes())?
            .ok_or_else(|| not_found(id))?;
        Ok(FlightSummary::new(id, &meta))
    }

    /// The tlog bytes of one chunk (unlocked only).
    pub fn flight_chunk(&self, id: FlightId, index: u32) -> Result<Vec<u8>, VaultError> {
        let key = chunk_key(id, index);
        self.shared
            .get_plain(TREE_CHUNKS, &key)?
            .map(|p| p.to_vec())
            .ok_or(VaultError::NotFound {
                what: "flight chunk",
                id: format!("{id}/{index}"),
            })
    }

    /// Write a flight as a plain `.tlog` (unlocked only; audited as `Exported`). Damaged
    /// or missing chunks are skipped and reported, not fatal.
    pub fn export_flight_tlog(
        &self,
        id: FlightId,
        out: &mut impl Write,
    ) -> Result<ExportReport, VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        let mut report = ExportReport::default();
        let mut expected = 0u32;
        let mut seen_any = self
            .shared
            .store
            .get(TREE_FLIGHTS, id.as_bytes())?
            .is_some();
        for entry in self.shared.store.scan_prefix(TREE_CHUNKS, id.as_bytes()) {
            let (key, record) = entry?;
            seen_any = true;
            let Some(index) = key
                .get(16..)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
            else {
                report.damaged.push(VaultError::corrupt(TREE_CHUNKS, &key));
                continue;
            };
            report.missing_chunks.extend(expected..index);
            expected = index.saturating_add(1);
            match self
                .shared
                .with_secrets(|s| s.open(TREE_CHUNKS, &key, &record))
            {
                Ok(plain) => {
                    out.write_all(&plain)?;
                    report.chunks += 1;
                    report.bytes += plain.len() as u64;
                }
                Err(VaultError::Locked) => return Err(VaultError::Locked),
                Err(e) => report.damaged.push(e),
            }
        }
        if !seen_any {
            return Err(not_found(id));
        }
        out.flush()?;
        self.audit(AuditEvent::Exported {
            what: format!("flight {id} as .tlog"),
        })?;
        Ok(report)
    }

    /// Delete a flight and all its chunks (unlocked only; audited).
    pub fn delete_flight(&self, id: FlightId) -> Result<(), VaultError> {
        if !self.is_unlocked() {
            return Err(VaultError::Locked);
        }
        let store = &self.shared.store;
        let mut found = store.get(TREE_FLIGHTS, id.as_bytes())?.is_some();
        let keys: Vec<Vec<u8>> = store
            .scan_prefix(TREE_CHUNKS, id.as_bytes())
            .map(|e| e.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        found |= !keys.is_empty();
        if !found {
            return Err(not_found(id));
        }
        // Metadata first: a crash midway leaves unlisted chunks, never a listed flight
        // with holes.
        store.remove(TREE_FLIGHTS, id.as_bytes())?;
        for key in keys {
            store.remove(TREE_CHUNKS, &key)?;
        }
        store.flush()?;
        self.audit(AuditEvent::Other {
            kind: "flight_deleted".to_owned(),
            detail: id.to_string(),
        })
    }
}

fn not_found(id: FlightId) -> VaultError {
    VaultError::NotFound {
        what: "flight",
        id: id.to_string(),
    }
}

impl FlightRecorder {
    /// Append bytes that already are tlog records, verbatim (an import): `frames` frames, the
    /// last of them received at `time_us` (UNIX µs). Chunks are cut as [`FlightRecorder::push`]
    /// cuts them, at the boundaries of these calls, so a flight imported from a `.tlog`
    /// exports as the same bytes, unknown messages and damaged stretches included.
    pub fn push_tlog_bytes(
        &mut self,
        time_us: u64,
        tlog: &[u8],
        frames: u64,
    ) -> Result<Option<ChunkWritten>, VaultError> {
        if tlog.is_empty() {
            return Ok(None);
        }
        if self.buf.is_empty() {
            self.buf_started = Instant::now();
        }
        self.buf.extend(tlog);
        self.buf_frames += frames;
        let first = *self.buf_first_us.get_or_insert(time_us);
        self.buf_last_us = Some(time_us);
        let spanned = Duration::from_micros(time_us.saturating_sub(first));
        if spanned >= self.period || self.buf.len() >= MAX_CHUNK_BYTES {
            self.write_chunk()
        } else {
            Ok(None)
        }
    }
}

/// The chunk being filled, laid out as the record it becomes: room for the sealed header,
/// then tlog records. Sealing encrypts the records where they lie, so the plaintext is never
/// copied, and what stays in the buffer between chunks is ciphertext. The buffer grows by
/// copying into a larger one and wiping the old (a plain `Vec` reallocation would free it
/// unwiped), and is wiped whole when dropped.
struct ChunkBuf {
    bytes: Zeroizing<Vec<u8>>,
}

impl ChunkBuf {
    fn with_capacity(plaintext: usize) -> ChunkBuf {
        let mut bytes = Zeroizing::new(Vec::with_capacity(SEALED_HEADER_LEN + plaintext));
        bytes.resize(SEALED_HEADER_LEN, 0);
        ChunkBuf { bytes }
    }

    /// tlog bytes pending.
    fn len(&self) -> usize {
        self.bytes.len() - SEALED_HEADER_LEN
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn reserve(&mut self, additional: usize) {
        if self.bytes.capacity() - self.bytes.len() >= additional {
            return;
        }
        let capacity = (2 * self.bytes.capacity()).max(self.bytes.len() + additional);
        let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
        grown.extend_from_slice(&self.bytes);
        // The old buffer is dropped as `Zeroizing`: wiped, capacity and all.
        drop(std::mem::replace(&mut self.bytes, grown));
    }

    /// Append one tlog record: the format of `airgap_core::tlog::write_record`, written
    /// straight into the buffer (that function stages each record in a stack array, which
    /// costs more than the rest of `push` at high rates).
    fn push_tlog_record(&mut self, time_us: u64, raw: &[u8]) {
        self.reserve(airgap_core::tlog::TIMESTAMP_LEN + raw.len());
        self.bytes.extend_from_slice(&time_us.to_be_bytes());
        self.bytes.extend_from_slice(raw);
    }

    /// Append bytes that already are tlog records.
    fn extend(&mut self, tlog: &[u8]) {
        self.reserve(tlog.len());
        self.bytes.extend_from_slice(tlog);
    }

    /// Seal the pending records in place; the buffer is then the record, until
    /// [`ChunkBuf::clear_written`] or [`ChunkBuf::unseal`].
    fn seal(&mut self, sealer: &Sealer, tree: &str, key: &[u8]) -> &[u8] {
        sealer.seal_in_place(tree, key, &mut self.bytes);
        &self.bytes
    }

    /// Back to the pending records after the sealed record could not be written.
    fn unseal(&mut self, sealer: &Sealer, tree: &str, key: &[u8]) {
        sealer.unseal_in_place(tree, key, &mut self.bytes);
    }

    /// Empty again once the sealed record is written. What stays in the capacity is
    /// ciphertext (and the header), which the next chunk overwrites.
    fn clear_written(&mut self) {
        self.bytes.truncate(SEALED_HEADER_LEN);
    }
}

/// Makes each chunk's [`Sealer`] one chunk ahead, on a worker thread: a key agreement costs
/// more than sealing 64 KiB, and made here it runs while the chunk before is being written,
/// not between a chunk's last frame and its flush. What waits here is a fresh ephemeral key
/// agreement no record has used yet: it opens nothing written. Every chunk still gets its own;
/// a sealer is taken once and dropped (wiped) after its write.
///
/// If the worker cannot be started, or goes, sealers are made inline instead.
struct SealersAhead {
    recipient: x25519_dalek::PublicKey,
    worker: Option<SealerWorker>,
}

struct SealerWorker {
    /// One message per sealer wanted; at most one is outstanding.
    want: SyncSender<()>,
    /// Boxed so that the shared secret stays where it was made, and is wiped there. In a
    /// mutex only so that a recorder stays `Sync`; every use has `&mut` and no lock is taken.
    ready: Mutex<Receiver<Box<Sealer>>>,
    thread: JoinHandle<()>,
}

impl SealersAhead {
    fn start(recipient: x25519_dalek::PublicKey) -> SealersAhead {
        let (want, wanted) = mpsc::sync_channel::<()>(1);
        let (made, ready) = mpsc::sync_channel::<Box<Sealer>>(1);
        let thread = std::thread::Builder::new()
            .name("airgap-vault-sealer".to_owned())
            .spawn(move || {
                for () in wanted {
                    if made.send(Box::new(Sealer::new(&recipient))).is_err() {
                        break;
                    }
                }
            });
        let worker = thread.ok().and_then(|thread| {
            want.send(()).ok()?;
            Some(SealerWorker {
                want,
                ready: Mutex::new(ready),
                thread,
            })
        });
        SealersAhead { recipient, worker }
    }

    /// A sealer for the next write, and the one after it put in the making.
    fn take(&mut self) -> Box<Sealer> {
        if let Some(worker) = &mut self.worker {
            let ready = worker
                .ready
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            if let Ok(sealer) = ready.recv() {
                if worker.want.send(()).is_err() {
                    self.stop();
                }
                return sealer;
            }
            self.stop();
        }
        Box::new(Sealer::new(&self.recipient))
    }

    fn stop(&mut self) {
        if let Some(SealerWorker {
            want,
            ready,
            thread,
        }) = self.worker.take()
        {
            // Closing both channels ends the worker's loop, within one key agreement; a
            // sealer it made and nobody took is dropped (wiped) with `ready`.
            drop(want);
            drop(ready);
            // A panic in the worker has nothing to report here: sealers are made inline.
            let _ = thread.join();
        }
    }
}

impl Drop for SealersAhead {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::OsRng;
    use x25519_dalek::{PublicKey, StaticSecret};

    #[test]
    fn chunk_buffer_holds_tlog_records_across_growth() {
        let mut buf = ChunkBuf::with_capacity(16);
        let mut expected = Vec::new();
        for i in 0..100u8 {
            let raw = vec![i; usize::from(i % 40) + 1];
            buf.push_tlog_record(u64::from(i) << 40 | 7, &raw);
            airgap_core::tlog::write_record(&mut expected, u64::from(i) << 40 | 7, &raw).unwrap();
        }
        buf.extend(b"verbatim");
        expected.extend_from_slice(b"verbatim");
        assert_eq!(buf.len(), expected.len());
        assert_eq!(&buf.bytes[SEALED_HEADER_LEN..], &expected[..]);
    }

    #[test]
    fn chunk_buffer_seals_in_place_and_restores_on_failure() {
        let secret = StaticSecret::random_from_rng(OsRng);
        let sealer = Sealer::new(&PublicKey::from(&secret));
        let mut buf = ChunkBuf::with_capacity(64);
        buf.extend(b"frames of telemetry");
        let record = buf.seal(&sealer, TREE_CHUNKS, b"k").to_vec();
        assert_eq!(
            &*crypto::open_sealed(&secret, TREE_CHUNKS, b"k", &record).unwrap(),
            b"frames of telemetry"
        );
        buf.unseal(&sealer, TREE_CHUNKS, b"k");
        assert_eq!(&buf.bytes[SEALED_HEADER_LEN..], b"frames of telemetry");
        buf.seal(&sealer, TREE_CHUNKS, b"k");
        buf.clear_written();
        assert!(buf.is_empty());
    }

    #[test]
    fn every_sealer_taken_is_a_fresh_key_agreement() {
        let secret = StaticSecret::random_from_rng(OsRng);
        let mut ahead = SealersAhead::start(PublicKey::from(&secret));
        assert!(ahead.worker.is_some(), "the worker started");
        let mut ephemeral_keys = BTreeSet::new();
        for _ in 0..20 {
            let record = ahead.take().seal(TREE_CHUNKS, b"k", b"x");
            assert_eq!(
                &*crypto::open_sealed(&secret, TREE_CHUNKS, b"k", &record).unwrap(),
                b"x"
            );
            assert!(ephemeral_keys.insert(record[5..37].to_vec()));
        }
        // Without the worker, sealers are made inline, still fresh each time.
        ahead.stop();
        let a = ahead.take().seal(TREE_CHUNKS, b"k", b"x");
        let b = ahead.take().seal(TREE_CHUNKS, b"k", b"x");
        assert_ne!(a[5..37], b[5..37]);
        assert!(ephemeral_keys.insert(a[5..37].to_vec()));
    }

    #[test]
    fn the_sealer_made_ahead_matches_no_record_written() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<FlightRecorder>();
        let store: Arc<dyn crate::Store> = Arc::new(crate::MemStore::new());
        let vault = Vault::create_in(
            Arc::clone(&store),
            None,
            &secrecy::SecretString::from("p".to_owned()),
            crate::VaultConfig {
                kdf: crypto::KdfParams::INSECURE_FAST,
            },
        )
        .unwrap();
        vault.lock().unwrap();
        let mut rec = vault.start_flight(RecorderConfig::default()).unwrap();
        for n in 0..4u64 {
            rec.push(n, b"frame").unwrap();
            rec.flush_now().unwrap().expect("a chunk was pending");
        }
        let written: Vec<Vec<u8>> = store
            .scan_prefix(TREE_CHUNKS, rec.id().as_bytes())
            .chain(store.scan_prefix(TREE_FLIGHTS, rec.id().as_bytes()))
            .map(|e| e.unwrap().1[5..37].to_vec())
            .collect();
        assert_eq!(written.len(), 5);
        let chunk_keys: BTreeSet<_> = written[..4].iter().collect();
        assert_eq!(chunk_keys.len(), 4, "one ephemeral key per chunk");
        let ahead = rec.sealers.take();
        assert!(!written
            .iter()
            .any(|k| k == ahead.ephemeral_public_key().as_bytes()));
    }
}
