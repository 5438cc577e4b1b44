//! The client machines against [`Server`] (the vehicle side, ArduPilot's behaviour) with a
//! fake clock: scripted exchanges for one protocol situation each, then seeded simulations
//! over a link that loses, duplicates and reorders frames.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use super::server::{FtpFiles, Server};
use super::*;
use crate::dialect::{MavCmd, MavFrame, MavMissionType, MavParamType};
use crate::mission::MissionItem;
use crate::params::Param;
use crate::MavMessage;

const VEHICLE: Target = Target {
    system_id: 1,
    component_id: 1,
};
const GCS: (u8, u8) = (255, 190);

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[derive(Default)]
struct MemFiles {
    files: HashMap<String, Vec<u8>>,
    refuse_writes: bool,
}

impl FtpFiles for MemFiles {
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        self.files.get(path).cloned()
    }
    fn write(&mut self, path: &str, data: Vec<u8>) -> Result<(), String> {
        if self.refuse_writes {
            return Err("refused".into());
        }
        self.files.insert(path.to_string(), data);
        Ok(())
    }
}

fn files_with(path: &str, data: Vec<u8>) -> MemFiles {
    let mut f = MemFiles::default();
    f.files.insert(path.to_string(), data);
    f
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn payload(msg: &MavMessage) -> Payload {
    match msg {
        MavMessage::FILE_TRANSFER_PROTOCOL(m) => Payload::from_message(m).expect("valid payload"),
        other => panic!("not FTP: {other:?}"),
    }
}

/// "OpenFileRO", "ReadFile@239", "Ack BurstReadFile@0 239", "Nak ReadFile Eof" ...
fn said(msgs: &[MavMessage]) -> Vec<String> {
    msgs.iter()
        .map(|m| {
            let p = payload(m);
            match p.opcode {
                Opcode::Ack => format!("Ack {:?}@{} {}", p.req_opcode, p.offset, p.data.len()),
                Opcode::Nak => format!("Nak {:?} {:?}", p.req_opcode, p.nak_error().map(|e| e.0)),
                Opcode::ReadFile | Opcode::BurstReadFile | Opcode::WriteFile => {
                    format!("{:?}@{}", p.opcode, p.offset)
                }
                op => format!("{op:?}"),
            }
        })
        .collect()
}

/// The vehicle answers each message.
fn vehicle(server: &mut Server, files: &mut MemFiles, msgs: &[MavMessage]) -> Vec<MavMessage> {
    msgs.iter()
        .flat_map(|m| match m {
            MavMessage::FILE_TRANSFER_PROTOCOL(d) => server.handle(GCS, d, files),
            _ => Vec::new(),
        })
        .map(MavMessage::FILE_TRANSFER_PROTOCOL)
        .collect()
}

fn deliver<T: FtpTransfer>(t: &mut T, now: Duration, msgs: &[MavMessage]) -> Vec<MavMessage> {
    msgs.iter().flat_map(|m| t.handle(now, 1, 1, m)).collect()
}

// ---- reads -------------------------------------------------------------------------------

#[test]
fn read_happy_path_is_open_burst_terminate() {
    let data = pattern(600);
    let mut files = files_with("a.bin", data.clone());
    let mut server = Server::new();
    let mut rd = ReadFile::new(VEHICLE, "a.bin", FtpConfig::default());
    let out = rd.start(ms(0));
    assert_eq!(said(&out), ["OpenFileRO"]);
    let ack = vehicle(&mut server, &mut files, &out);
    assert_eq!(said(&ack), ["Ack OpenFileRO@0 4"]);
    let out = deliver(&mut rd, ms(20), &ack);
    assert_eq!(said(&out), ["BurstReadFile@0"]);
    let burst = vehicle(&mut server, &mut files, &out);
    assert_eq!(
        said(&burst),
        [
            "Ack BurstReadFile@0 239",
            "Ack BurstReadFile@239 239",
            "Ack BurstReadFile@478 122",
            "Nak BurstReadFile Some(Eof)"
        ]
    );
    let out = deliver(&mut rd, ms(40), &burst);
    assert_eq!(said(&out), ["TerminateSession"]);
    assert_eq!(rd.outcome(), Some(Ok(data)));
    assert_eq!(rd.progress().bytes, 600);
    assert_eq!(rd.next_deadline(), None);
    vehicle(&mut server, &mut files, &out);
    assert!(!server.session_open());
}

#[test]
fn read_rerequests_only_what_the_burst_lost_in_any_order() {
    let data = pattern(239 * 5 + 10);
    let mut files = files_with("a.bin", data.clone());
    let mut server = Server::new();
    let mut rd = ReadFile::new(VEHICLE, "a.bin", FtpConfig::default());
    let out = rd.start(ms(0));
    let out = deliver(&mut rd, ms(20), &vehicle(&mut server, &mut files, &out));
    let mut burst = vehicle(&mut server, &mut files, &out);
    assert_eq!(burst.len(), 7);
    // Lose chunks 1 and 3 and the EOF NAK; the rest arrive backwards, one twice.
    burst.remove(6);
    burst.remove(3);
    burst.remove(1);
    burst.reverse();
    burst.push(burst[0].clone());
    assert!(deliver(&mut rd, ms(40), &burst).is_empty());
    // The burst goes quiet. The short last chunk fixed the length: only the gaps are read.
    let deadline = rd.next_deadline().expect("running");
    let out = rd.poll(deadline);
    assert_eq!(said(&out), ["ReadFile@239", "ReadFile@717"]);
    let replies = vehicle(&mut server, &mut files, &out);
    let out = deliver(&mut rd, deadline + ms(20), &replies);
    assert_eq!(said(&out), ["TerminateSession"]);
    assert_eq!(rd.outcome(), Some(Ok(data)));
}

#[test]
fn read_of_a_whole_number_of_blocks_finds_the_end_after_a_lost_eof() {
    let data = pattern(239 * 2);
    let mut files = files_with("a.bin", data.clone());
    let mut server = Server::new();
    let mut rd = ReadFile::new(VEHICLE, "a.bin", FtpConfig::default());
    let out = rd.start(ms(0));
    let out = deliver(&mut rd, ms(20), &vehicle(&mut server, &mut files, &out));
    let mut burst = vehicle(&mut server, &mut files, &out);
    burst.pop(); // the EOF NAK
    assert!(deliver(&mut rd, ms(40), &burst).is_empty());
    // The burst goes quiet; the end is unknown, so the machine reads past what it holds.
    let deadline = rd.next_deadline().expect("running");
    let out = rd.poll(deadline);
    assert_eq!(said(&out)[0], "ReadFile@478");
    let replies = vehicle(&mut server, &mut files, &out);
    assert_eq!(said(&replies)[0], "Nak ReadFile Some(Eof)");
    let out = deliver(&mut rd, deadline + ms(20), &replies);
    assert_eq!(said(&out), ["TerminateSession"]);
    assert_eq!(rd.outcome(), Some(Ok(data)));
}

#[test]
fn read_resends_a_lost_open_with_the_same_seq_and_gets_the_cached_ack() {
    let mut files = files_with("a.bin", pattern(10));
    let mut server = Server::new();
    let mut rd = ReadFile::new(VEHICLE, "a.bin", FtpConfig::default());
    let first = rd.start(ms(0));
    // The vehicle opened the file but its ack was lost.
    vehicle(&mut server, &mut files, &first);
    let deadline = rd.next_deadline().expect("running");
    assert_eq!(deadline, ms(125));
    let again = rd.poll(deadline);
    assert_eq!(payload(&again[0]).seq, payload(&first[0]).seq);
    let ack = vehicle(&mut server, &mut files, &again);
    assert_eq!(said(&ack), ["Ack OpenFileRO@0 4"]);
    let out = deliver(&mut rd, deadline + ms(20), &ack);
    let burst = vehicle(&mut server, &mut files, &out);
    deliver(&mut rd, deadline + ms(40), &burst);
    assert_eq!(rd.outcome(), Some(Ok(pattern(10))));
}

#[test]
fn read_resets_a_session_the_vehicle_still_holds() {
    let mut files = files_with("a.bin", pattern(10));
    let mut server = Server::new();
    // An earlier read whose close was lost.
    let mut old = ReadFile::new(VEHICLE, "a.bin", FtpConfig::default());
    vehicle(&mut server, &mut files, &old.start(ms(0)));
    assert!(server.session_open());
    // Numbered on from the earlier transfer, as the engine does.
    let config = FtpConfig {
        first_seq: old.next_seq(),
        ..FtpConfig::default()
    };
    let mut rd = ReadFile::new(VEHICLE, "a.bin", config);
    let out = rd.start(ms(0));
    let nak = vehicle(&mut server, &mut files, &out);
    assert_eq!(said(&nak), ["Nak OpenFileRO Some(NoSessionsAvailable)"]);
    let out = deliver(&mut rd, ms(20), &nak);
    assert_eq!(said(&out), ["ResetSessions"]);
    let out = deliver(&mut rd, ms(40), &vehicle(&mut server, &mut files, &out));
    assert_eq!(said(&out), ["OpenFileRO"]);
    let out = deliver(&mut rd, ms(60), &vehicle(&mut server, &mut files, &out));
    deliver(&mut rd, ms(80), &vehicle(&mut server, &mut files, &out));
    assert_eq!(rd.outcome(), Some(Ok(pattern(10))));
}

#[test]
fn a_vehicle_that_never_answers_is_unavailable_within_two_seconds() {
    let mut rd = ReadFile::new(VEHICLE, "@PARAM/param.pck", FtpConfig::default());
    let mut sent = rd.start(ms(0)).len();
    let mut now = ms(0);
    while let Some(d) = rd.next_deadline() {
        now = d;
        sent += rd.poll(now).len();
    }
    assert_eq!(rd.outcome(), Some(Err(FtpError::Unavailable)));
    assert_eq!(sent, 12);
    assert!(now <= ms(2000), "gave up after {now:?}");
}

#[test]
fn open_refusals_are_distinct_errors() {
    let mut server = Server::new();
    let mut files = MemFiles::default();
    let mut rd = ReadFile::new(VEHICLE, "nope", FtpConfig::default());
    let out = rd.start(ms(0));
    deliver(&mut rd, ms(20), &vehicle(&mut server, &mut files, &out));
    assert_eq!(rd.outcome(), Some(Err(FtpError::NotFound("nope".into()))));

    // A vehicle that knows FILE_TRANSFER_PROTOCOL but not the opcode.
    let mut rd = ReadFile::new(VEHICLE, "x", FtpConfig::default());
    let out = rd.start(ms(0));
    let req = payload(&out[0]);
    let nak = Payload::nak(&req, FtpErrorCode::UnknownCommand, None).to_message(255, 190);
    deliver(&mut rd, ms(20), &[nak]);
    assert_eq!(rd.outcome(), Some(Err(FtpError::Unavailable)));

    let mut rd = ReadFile::new(VEHICLE, "", FtpConfig::default());
    assert!(rd.start(ms(0)).is_empty());
    assert_eq!(rd.outcome(), Some(Err(FtpError::BadPath)));
}

#[test]
fn replies_from_elsewhere_or_stale_are_ignored() {
    let mut files = files_with("a.bin", pattern(10));
    let mut server = Server::new();
    let mut rd = ReadFile::new(VEHICLE, "a.bin", FtpConfig::default());
    let out = rd.start(ms(0));
    let ack = vehicle(&mut server, &mut files, &out);
    // Another vehicle, and an ack to a request we never sent.
    assert!(rd.handle(ms(10), 2, 1, &ack[0]).is_empty());
    let mut stale = payload(&ack[0]);
    stale.seq = stale.seq.wrapping_add(40);
    assert!(deliver(&mut rd, ms(10), &[stale.to_message(255, 190)]).is_empty());
    assert_eq!(said(&deliver(&mut rd, ms(20), &ack)), ["BurstReadFile@0"]);
}

#[test]
fn cancelling_a_read_closes_the_session() {
    let mut files = files_with("a.bin", pattern(1000));
    let mut server = Server::new();
    let mut rd = ReadFile::new(VEHICLE, "a.bin", FtpConfig::default());
    let out = rd.start(ms(0));
    deliver(&mut rd, ms(20), &vehicle(&mut server, &mut files, &out));
    let out = rd.cancel(ms(30));
    assert_eq!(said(&out), ["TerminateSession"]);
    assert_eq!(rd.outcome(), Some(Err(FtpError::Cancelled)));
    vehicle(&mut server, &mut files, &out);
    assert!(!server.session_open());
}

// ---- writes ------------------------------------------------------------------------------

#[test]
fn write_keeps_several_chunks_in_flight_and_resends_the_unacked() {
    let data = pattern(239 * 6 + 1);
    let mut files = MemFiles::default();
    let mut server = Server::new();
    let mut wr = WriteFile::new(VEHICLE, "out.bin", data.clone(), FtpConfig::default());
    let out = wr.start(ms(0));
    assert_eq!(said(&out), ["CreateFile"]);
    let out = deliver(&mut wr, ms(20), &vehicle(&mut server, &mut files, &out));
    assert_eq!(
        said(&out),
        [
            "WriteFile@0",
            "WriteFile@239",
            "WriteFile@478",
            "WriteFile@717"
        ]
    );
    let mut acks = vehicle(&mut server, &mut files, &out);
    acks.remove(1); // lost
    let out = deliver(&mut wr, ms(40), &acks);
    assert_eq!(
        said(&out),
        ["WriteFile@956", "WriteFile@1195", "WriteFile@1434"]
    );
    let acks = vehicle(&mut server, &mut files, &out);
    assert!(deliver(&mut wr, ms(60), &acks).is_empty());
    let deadline = wr.next_deadline().expect("running");
    let out = wr.poll(deadline);
    assert_eq!(said(&out), ["WriteFile@239"]);
    let out = deliver(
        &mut wr,
        deadline + ms(20),
        &vehicle(&mut server, &mut files, &out),
    );
    assert_eq!(said(&out), ["TerminateSession"]);
    assert!(
        files.files.is_empty(),
        "nothing is written before the close"
    );
    // The close's ack is lost; the re-sent close draws the same answer.
    vehicle(&mut server, &mut files, &out);
    let deadline = wr.next_deadline().expect("running");
    let again = wr.poll(deadline);
    assert_eq!(said(&again), ["TerminateSession"]);
    let ack = vehicle(&mut server, &mut files, &again);
    deliver(&mut wr, deadline + ms(20), &ack);
    assert_eq!(wr.outcome(), Some(Ok(())));
    assert_eq!(files.files.get("out.bin"), Some(&data));
    assert_eq!(wr.progress().bytes, 239 * 6 + 1);
}

#[test]
fn a_refused_close_is_the_vehicle_rejecting_the_file() {
    let mut files = MemFiles {
        refuse_writes: true,
        ..MemFiles::default()
    };
    let mut server = Server::new();
    let mut wr = WriteFile::new(VEHICLE, "m.dat", vec![1, 2, 3], FtpConfig::default());
    let mut out = wr.start(ms(0));
    for t in 1..5 {
        out = deliver(&mut wr, ms(t * 20), &vehicle(&mut server, &mut files, &out));
    }
    assert_eq!(
        wr.outcome(),
        Some(Err(FtpError::Refused {
            op: Opcode::TerminateSession,
            code: FtpErrorCode::FailErrno,
            errno: Some(22)
        }))
    );
}

#[test]
fn cancelling_a_write_discards_it() {
    let mut files = MemFiles::default();
    let mut server = Server::new();
    let mut wr = WriteFile::new(VEHICLE, "m.dat", pattern(2000), FtpConfig::default());
    let out = wr.start(ms(0));
    let out = deliver(&mut wr, ms(20), &vehicle(&mut server, &mut files, &out));
    vehicle(&mut server, &mut files, &out);
    let out = wr.cancel(ms(30));
    assert_eq!(said(&out), ["ResetSessions"]);
    vehicle(&mut server, &mut files, &out);
    assert!(files.files.is_empty());
    assert!(!server.session_open());
    assert_eq!(wr.outcome(), Some(Err(FtpError::Cancelled)));
}

// ---- the server on its own ---------------------------------------------------------------

#[test]
fn server_naks_what_it_does_not_do() {
    let mut server = Server::new();
    let mut files = files_with("@PARAM/param.pck", vec![1; 5]);
    let req = Payload::request(3, 0, Opcode::Rename, 0);
    let r = server.handle_payload(GCS, &req, &mut files);
    assert_eq!(r[0].nak_error(), Some((FtpErrorCode::UnknownCommand, None)));
    assert_eq!(r[0].seq, 4);
    let read = Payload::request(5, 9, Opcode::ReadFile, 0);
    let r = server.handle_payload(GCS, &read, &mut files);
    assert_eq!(r[0].nak_error(), Some((FtpErrorCode::InvalidSession, None)));
    let mut list = Payload::request(7, 0, Opcode::ListDirectory, 0);
    list.data = b"@PARAM".to_vec();
    let r = server.handle_payload(GCS, &list, &mut files);
    assert_eq!(r[0].data, b"Fparam.pck\t5\0");
    list.seq = 8;
    list.offset = 1;
    let r = server.handle_payload(GCS, &list, &mut files);
    assert_eq!(r[0].nak_error(), Some((FtpErrorCode::Eof, None)));
}

// ---- parameters and missions -------------------------------------------------------------

/// splitmix64: small, seedable, good enough to drop packets.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// About 1,350 parameters named like ArduCopter's, sorted as the vehicle lists them.
fn vehicle_params() -> Vec<Param> {
    const GROUPS: &[&str] = &[
        "ACRO", "AHRS", "ARMING", "ATC", "BARO", "BATT", "BATT2", "BRD", "CAN", "CIRCLE",
        "COMPASS", "EK3", "FENCE", "FLTMODE", "FS", "GPS", "INS", "LOG", "LOIT", "MNT1", "MOT",
        "NTF", "PILOT", "PSC", "RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RCMAP",
        "RNGFND1", "RTL", "SCHED", "SERIAL", "SERVO1", "SERVO2", "SERVO3", "SERVO4", "SIM", "SR0",
        "SR1", "TERRAIN", "WPNAV",
    ];
    const WORDS: &[&str] = &[
        "ENABLE", "TYPE", "P", "I", "D", "FF", "IMAX", "FLTT", "FLTE", "FLTD", "RATE", "ACCEL",
        "SPEED", "MIN", "MAX", "TRIM", "REV", "DZ", "FUNCTION", "OPTIONS", "OFS_X", "OFS_Y",
        "OFS_Z", "SCALING", "ALT", "RADIUS", "TIMEOUT", "GAIN", "ORIENT", "DELAY",
    ];
    let mut rng = Rng(7);
    let mut names = std::collections::BTreeSet::new();
    while names.len() < 1354 {
        let g = GROUPS[rng.below(GROUPS.len() as u64) as usize];
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        let name = match rng.below(3) {
            0 => format!("{g}_{w}"),
            1 => format!("{g}_{}_{w}", rng.below(9) + 1),
            _ => format!("{g}_RAT_{w}"),
        };
        if name.len() <= 16 {
            names.insert(name);
        }
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let (value, param_type) = match i % 4 {
                0 => (
                    f64::from((i % 100) as i8),
                    MavParamType::MAV_PARAM_TYPE_INT8,
                ),
                1 => (f64::from(i as i16 * 3), MavParamType::MAV_PARAM_TYPE_INT16),
                2 => (i as f64 * 1000.0 - 7.0, MavParamType::MAV_PARAM_TYPE_INT32),
                _ => (
                    f64::from(i as f32 * 0.013),
                    MavParamType::MAV_PARAM_TYPE_REAL32,
                ),
            };
            Param {
                name,
                value,
                param_type,
            }
        })
        .collect()
}

fn mission(n: u16) -> Vec<MissionItem> {
    (0..n)
        .map(|seq| MissionItem {
            seq,
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            command: if seq % 10 == 9 {
                MavCmd::MAV_CMD_DO_CHANGE_SPEED
            } else {
                MavCmd::MAV_CMD_NAV_WAYPOINT
            },
            current: false,
            autocontinue: true,
            param1: f32::from(seq % 5),
            param2: 2.0,
            param3: 0.0,
            param4: 0.0,
            x: -353_632_621 + i32::from(seq) * 911,
            y: 1_491_652_374 - i32::from(seq) * 577,
            z: 30.0 + f32::from(seq % 40),
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        })
        .collect()
}

#[derive(Clone, Copy)]
struct LinkModel {
    loss: f64,
    latency: Duration,
    /// Extra random delay up to this, which reorders frames.
    jitter: Duration,
    duplicate: f64,
}

const LOSSY: LinkModel = LinkModel {
    loss: 0.3,
    latency: Duration::from_millis(10),
    jitter: Duration::ZERO,
    duplicate: 0.0,
};

/// Frames in flight: (arrival, tie-break, towards the vehicle, index into `bodies`).
struct Net {
    queue: BinaryHeap<Reverse<(Duration, usize, bool, usize)>>,
    bodies: Vec<MavMessage>,
    link: LinkModel,
}

impl Net {
    fn send(&mut self, rng: &mut Rng, now: Duration, to_vehicle: bool, msgs: Vec<MavMessage>) {
        for m in msgs {
            let copies = if rng.chance(self.link.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                if rng.chance(self.link.loss) {
                    continue;
                }
                let jitter = Duration::from_micros(rng.below(self.link.jitter.as_micros() as u64));
                self.bodies.push(m.clone());
                let idx = self.bodies.len() - 1;
                self.queue.push(Reverse((
                    now + self.link.latency + jitter,
                    idx,
                    to_vehicle,
                    idx,
                )));
            }
        }
    }
}

/// Drive `t` against the server over the link model; returns the simulated time it took.
fn simulate<T: FtpTransfer>(
    t: &mut T,
    server: &mut Server,
    files: &mut MemFiles,
    link: LinkModel,
    seed: u64,
) -> Duration {
    let mut rng = Rng(seed);
    let mut net = Net {
        queue: BinaryHeap::new(),
        bodies: Vec::new(),
        link,
    };
    let start = ms(1000);
    let mut now = start;
    let first = t.start(now);
    net.send(&mut rng, now, true, first);
    let mut finished_at = None;
    loop {
        let next_msg = net.queue.peek().map(|Reverse((at, ..))| *at);
        // A deadline may already have passed (a shorter timeout after a new round-trip
        // sample): the actor then polls at once.
        let poll_at = t
            .next_deadline()
            .filter(|d| next_msg.is_none_or(|a| *d < a))
            .map(|d| d.max(now));
        if let Some(at) = poll_at {
            now = at;
            let out = t.poll(now);
            net.send(&mut rng, now, true, out);
        } else if let Some(Reverse((at, _, to_vehicle, idx))) = net.queue.pop() {
            now = at;
            let msg = net.bodies[idx].clone();
            if to_vehicle {
                let MavMessage::FILE_TRANSFER_PROTOCOL(d) = &msg else {
                    continue;
                };
                let replies = server
                    .handle(GCS, d, files)
                    .into_iter()
                    .map(MavMessage::FILE_TRANSFER_PROTOCOL)
                    .collect();
                net.send(&mut rng, now, false, replies);
            } else {
                let out = t.handle(now, 1, 1, &msg);
                net.send(&mut rng, now, true, out);
            }
        } else {
            break;
        }
        if finished_at.is_none() && t.outcome().is_some() {
            finished_at = Some(now);
        }
        assert!(now < start + ms(600_000), "simulation ran away");
    }
    finished_at.unwrap_or(now) - start
}

fn median_max(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

#[test]
fn param_fetch_decodes_the_vehicle_list() {
    let params = vehicle_params();
    let bytes = param_pck::encode(&params, param_pck::BLOCK_SIZE).expect("packs");
    let mut files = files_with(fetch::PARAM_PATH, bytes);
    let mut server = Server::new();
    let mut f = ParamFetch::new(VEHICLE, FtpConfig::default());
    let clean = LinkModel { loss: 0.0, ..LOSSY };
    let took = simulate(&mut f, &mut server, &mut files, clean, 1);
    assert_eq!(f.outcome(), Some(Ok(params)));
    assert!(took < ms(200), "{took:?} on a clean link");
}

#[test]
fn a_bad_param_file_is_a_typed_error() {
    let mut files = files_with(fetch::PARAM_PATH, vec![0xAB; 100]);
    let mut server = Server::new();
    let mut f = ParamFetch::new(VEHICLE, FtpConfig::default());
    simulate(
        &mut f,
        &mut server,
        &mut files,
        LinkModel { loss: 0.0, ..LOSSY },
        1,
    );
    assert_eq!(
        f.outcome(),
        Some(Err(FtpError::BadParamFile(
            param_pck::ParamPckError::BadMagic(0xABAB)
        )))
    );
}

#[test]
fn params_over_thirty_percent_loss_fifty_seeds() {
    let params = vehicle_params();
    let bytes = param_pck::encode(&params, param_pck::BLOCK_SIZE).expect("packs");
    let size = bytes.len();
    let mut times = Vec::new();
    for seed in 0..50 {
        let mut files = files_with(fetch::PARAM_PATH, bytes.clone());
        let mut server = Server::new();
        let mut f = ParamFetch::new(VEHICLE, FtpConfig::default());
        let took = simulate(&mut f, &mut server, &mut files, LOSSY, seed);
        assert_eq!(f.outcome(), Some(Ok(params.clone())), "seed {seed}");
        times.push(took);
    }
    let (median, max) = median_max(times);
    println!(
        "param.pck {} params, {size} bytes, 30 % loss each way, 10 ms latency: median {median:?}, max {max:?}",
        params.len()
    );
    assert!(max < Duration::from_secs(5), "max {max:?}");
    // A real ArduCopter's file is larger (~30 kB: longer names, fewer shared prefixes).
    let big = pattern(30_000);
    let mut times = Vec::new();
    for seed in 0..50 {
        let mut files = files_with(fetch::PARAM_PATH, big.clone());
        let mut server = Server::new();
        let mut rd = ReadFile::new(VEHICLE, fetch::PARAM_PATH, FtpConfig::default());
        let took = simulate(&mut rd, &mut server, &mut files, LOSSY, seed + 500);
        assert_eq!(rd.outcome(), Some(Ok(big.clone())), "seed {seed}");
        times.push(took);
    }
    let (median, max) = median_max(times);
    println!("30,000-byte read, 30 % loss each way: median {median:?}, max {max:?}");
    assert!(max < Duration::from_secs(5), "max {max:?}");
}

#[test]
fn mission_round_trip_over_thirty_percent_loss_fifty_seeds() {
    let items = mission(650);
    let t = MavMissionType::MAV_MISSION_TYPE_MISSION;
    let mut times = Vec::new();
    for seed in 0..50 {
        let mut files = MemFiles::default();
        let mut server = Server::new();
        let mut store =
            MissionStore::new(VEHICLE, t, &items, FtpConfig::default()).expect("650 fit");
        let up = simulate(&mut store, &mut server, &mut files, LOSSY, seed);
        assert_eq!(store.outcome(), Some(Ok(())), "seed {seed} upload");
        let config = FtpConfig {
            first_seq: store.next_seq(),
            ..FtpConfig::default()
        };
        let mut fetch = MissionFetch::new(VEHICLE, t, config);
        let down = simulate(&mut fetch, &mut server, &mut files, LOSSY, seed + 1000);
        assert_eq!(
            fetch.outcome(),
            Some(Ok(items.clone())),
            "seed {seed} download"
        );
        times.push(up + down);
    }
    let (median, max) = median_max(times);
    println!(
        "mission.dat 650 items round trip, 30 % loss each way: median {median:?}, max {max:?}"
    );
    assert!(max < Duration::from_secs(12), "max {max:?}");
}

#[test]
fn transfers_survive_duplicates_and_reordering() {
    let link = LinkModel {
        loss: 0.2,
        latency: ms(10),
        jitter: ms(30),
        duplicate: 0.2,
    };
    let params = vehicle_params();
    let bytes = param_pck::encode(&params, param_pck::BLOCK_SIZE).expect("packs");
    let items = mission(300);
    let t = MavMissionType::MAV_MISSION_TYPE_FENCE;
    for seed in 0..20 {
        let mut files = files_with(fetch::PARAM_PATH, bytes.clone());
        let mut server = Server::new();
        let mut f = ParamFetch::new(VEHICLE, FtpConfig::default());
        simulate(&mut f, &mut server, &mut files, link, seed);
        assert_eq!(f.outcome(), Some(Ok(params.clone())), "seed {seed}");
        let mut store = MissionStore::new(VEHICLE, t, &items, FtpConfig::default()).expect("fit");
        simulate(&mut store, &mut server, &mut files, link, seed + 50);
        assert_eq!(store.outcome(), Some(Ok(())), "seed {seed} upload");
        let mut fetch = MissionFetch::new(VEHICLE, t, FtpConfig::default());
        simulate(&mut fetch, &mut server, &mut files, link, seed + 100);
        let got = fetch.outcome().expect("finished").expect("read back");
        assert_eq!(got.len(), 300);
        assert!(got.iter().all(|i| i.mission_type == t));
        assert_eq!(got[17].x, items[17].x);
    }
}

#[test]
fn a_silent_vehicle_ends_every_machine_with_unavailable() {
    let t = MavMissionType::MAV_MISSION_TYPE_RALLY;
    let mut machines: Vec<Box<dyn FtpTransfer<Output = ()>>> = vec![Box::new(
        MissionStore::new(VEHICLE, t, &mission(3), FtpConfig::default()).expect("fit"),
    )];
    for m in machines.iter_mut() {
        m.start(ms(0));
        while let Some(d) = m.next_deadline() {
            m.poll(d);
        }
        assert_eq!(m.outcome(), Some(Err(FtpError::Unavailable)));
    }
    let mut f = MissionFetch::new(VEHICLE, t, FtpConfig::default());
    f.start(ms(0));
    while let Some(d) = f.next_deadline() {
        f.poll(d);
    }
    assert_eq!(f.outcome(), Some(Err(FtpError::Unavailable)));
}
