//! Vault benchmarks: encrypted recording against bare sled inserts of the same bytes in the
//! same run, unlock time with the production Argon2id parameters, and the cost of recording
//! a 50 kB/s radio stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use airgap_core::dialect::{ATTITUDE_DATA, GLOBAL_POSITION_INT_DATA};
use airgap_core::frame::Frame;
use airgap_core::MavMessage;
use airgap_vault::{KdfParams, RecorderConfig, SecretString, Vault, VaultConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Telemetry-like frames (ATTITUDE and GLOBAL_POSITION_INT alternately, ~40 bytes each).
fn frames(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let msg = if i % 2 == 0 {
                MavMessage::ATTITUDE(ATTITUDE_DATA {
                    time_boot_ms: i as u32,
                    roll: 0.1,
                    pitch: -0.05,
                    yaw: 1.2,
                    ..ATTITUDE_DATA::DEFAULT
                })
            } else {
                MavMessage::GLOBAL_POSITION_INT(GLOBAL_POSITION_INT_DATA {
                    time_boot_ms: i as u32,
                    lat: -353_632_616 + i as i32,
                    lon: 1_491_652_336,
                    alt: 600_000,
                    relative_alt: 20_000,
                    ..GLOBAL_POSITION_INT_DATA::DEFAULT
                })
            };
            Frame::encode_v2(1, 1, i as u8, &msg).raw
        })
        .collect()
}

fn pass() -> SecretString {
    SecretString::from("bench passphrase".to_owned())
}

/// 4 MiB of frames, cut into ~64 KiB chunks by timestamps (one chunk per "second").
fn recording(c: &mut Criterion) {
    let frames = frames(100_000);
    let tlog_len: usize = frames.iter().map(|f| f.len() + 8).sum();
    let per_chunk = 64 * 1024 / (tlog_len / frames.len());
    let spacing_us = 1_000_000 / per_chunk as u64;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for group in frames.chunks(per_chunk) {
        let mut chunk = Vec::new();
        for f in group {
            airgap_core::tlog::write_record(&mut chunk, 0, f).unwrap();
        }
        chunks.push(chunk);
    }

    let mut g = c.benchmark_group("recording");
    g.throughput(Throughput::Bytes(tlog_len as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));

    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::create(
        dir.path(),
        &pass(),
        VaultConfig {
            kdf: KdfParams::INSECURE_FAST,
        },
    )
    .unwrap();
    vault.lock().unwrap();
    g.bench_function("vault_recorder_sealed", |b| {
        b.iter(|| {
            let mut rec = vault
                .start_flight(RecorderConfig {
                    chunk_period: Duration::from_secs(1),
                })
                .unwrap();
            for (i, f) in frames.iter().enumerate() {
                rec.push(i as u64 * spacing_us, f).unwrap();
            }
            rec.finish().unwrap()
        })
    });

    let sled_dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(sled_dir.path())
        .cache_capacity(16 * 1024 * 1024)
        .open()
        .unwrap();
    let tree = db.open_tree("bare").unwrap();
    let meta = db.open_tree("bare_meta").unwrap();
    let mut key = 0u64;
    g.bench_function("bare_sled_insert_flush", |b| {
        b.iter(|| {
            for chunk in &chunks {
                key += 1;
                tree.insert(key.to_be_bytes(), chunk.as_slice()).unwrap();
                db.flush().unwrap();
            }
        })
    });
    // The vault's key layout (random flight prefix ‖ chunk index, plus a metadata record
    // rewritten per chunk) with no crypto: separates storage-layout cost from sealing cost.
    let mut flight = 0u64;
    g.bench_function("bare_sled_vault_layout", |b| {
        b.iter(|| {
            flight += 1;
            let prefix = flight.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes();
            for (i, chunk) in chunks.iter().enumerate() {
                let mut k = prefix.to_vec();
                k.extend_from_slice(&(i as u32).to_be_bytes());
                tree.insert(k, chunk.as_slice()).unwrap();
                meta.insert(prefix, &[0u8; 120][..]).unwrap();
                db.flush().unwrap();
            }
        })
    });
    g.finish();
}

fn unlock(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::create(
        dir.path(),
        &pass(),
        VaultConfig {
            kdf: KdfParams::PRODUCTION,
        },
    )
    .unwrap();
    let mut g = c.benchmark_group("unlock");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    // Unlocking an unlocked vault runs the whole derivation and unwrap, without an audit write.
    g.bench_function("argon2id_production", |b| {
        b.iter(|| vault.unlock(&pass()).unwrap())
    });
    g.finish();
}

/// Process CPU time (user + system, all threads) from /proc/self/stat, in seconds.
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// One second of a 50 kB/s stream: ~1,250 frames pushed, one chunk sealed, written, flushed.
fn stream_50k(c: &mut Criterion) {
    let frames = frames(1_300);
    let mut second = Vec::new();
    let mut bytes = 0;
    for f in &frames {
        if bytes >= 50_000 {
            break;
        }
        bytes += f.len() + 8;
        second.push(f.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(
        Vault::create(
            dir.path(),
            &pass(),
            VaultConfig {
                kdf: KdfParams::INSECURE_FAST,
            },
        )
        .unwrap(),
    );
    vault.lock().unwrap();
    let mut rec = vault
        .start_flight(RecorderConfig {
            chunk_period: Duration::from_secs(1),
        })
        .unwrap();
    let step = 1_000_000 / second.len() as u64;
    let mut t = 0u64;
    let mut one_second = |rec: &mut airgap_vault::FlightRecorder| {
        for f in &second {
            rec.push(t, f).unwrap();
            t += step;
        }
        rec.flush_now().unwrap();
    };

    let mut g = c.benchmark_group("stream_50kBps");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(20);
    g.bench_function("one_second_of_data", |b| b.iter(|| one_second(&mut rec)));
    g.finish();

    // CPU share, measured directly: process CPU over N seconds of data, all threads included
    // (sled's flusher too). Wall time includes fsync waits, which cost no CPU.
    let n = 300;
    let (cpu0, wall0) = (process_cpu_s(), Instant::now());
    for _ in 0..n {
        one_second(&mut rec);
    }
    let wall = wall0.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (cpu0, process_cpu_s()) {
        let cpu_per_s = (b - a) / f64::from(n);
        println!(
            "stream_50kBps: {n} s of data ({bytes} B/s): CPU {:.3} ms per second of data = {:.3} % of a core; wall {:.3} ms per second of data",
            cpu_per_s * 1e3,
            cpu_per_s * 100.0,
            wall / f64::from(n) * 1e3
        );
    }
}

/// Where recording's time goes: sealing a 64 KiB chunk, and framing 64 KiB of records.
fn components(c: &mut Criterion) {
    let chunk = vec![0x5Au8; 64 * 1024];
    let pk = airgap_vault::testing::public_key_for(&[7u8; 32]);
    let mut g = c.benchmark_group("components");
    g.throughput(Throughput::Bytes(chunk.len() as u64));
    g.bench_function("seal_64KiB", |b| {
        b.iter(|| airgap_vault::testing::seal_to(&pk, "chunks", b"key", &chunk))
    });
    let frames = frames(1_600);
    g.bench_function("tlog_framing_64KiB", |b| {
        b.iter(|| {
            let mut buf = Vec::with_capacity(70_000);
            for (i, f) in frames.iter().enumerate() {
                airgap_core::tlog::write_record(&mut buf, i as u64, f).unwrap();
            }
            buf
        })
    });
    g.finish();
}

criterion_group!(benches, recording, unlock, stream_50k, components);
criterion_main!(benches);
