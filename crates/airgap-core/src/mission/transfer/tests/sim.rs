//! Seeded simulations: the machines against a small model of ArduPilot's mission server
//! over a link that loses, delays (and optionally duplicates and reorders) messages, all on
//! a simulated clock.
//!
//! The vehicle model follows ArduPilot's MissionItemProtocol: it requests items with the
//! old MISSION_REQUEST, re-asks after 1 s, cancels after 8 s of silence, answers an item
//! out of sequence with INVALID_SEQUENCE and an item after the upload ended with ERROR,
//! refuses more than its capacity with NO_SPACE, keeps a partial upload, serves downloads
//! statelessly, denies lists while receiving, and reports its home position as item 0.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::super::*;
use super::{items, ms, VEHICLE};
use crate::dialect::{
    MavMissionResult, MavMissionType, MISSION_ACK_DATA, MISSION_COUNT_DATA, MISSION_REQUEST_DATA,
};
use crate::mission::MissionItem;
use crate::MavMessage;

const GCS: (u8, u8) = (255, 190);
const HOME_LAT_E7: i32 = -353_632_621;
const RE_ASK: Duration = Duration::from_millis(1000);
const GIVE_UP: Duration = Duration::from_millis(8000);

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
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

struct Receiving {
    mission_type: MavMissionType,
    request_i: u16,
    last: u16,
    last_receive: Duration,
    last_request: Duration,
}

pub(super) struct SimVehicle {
    capacity: usize,
    stored: HashMap<u8, Vec<MissionItem>>,
    receiving: Option<Receiving>,
}

fn type_key(t: MavMissionType) -> u8 {
    t as u8
}

impl SimVehicle {
    pub(super) fn new(capacity: usize) -> SimVehicle {
        SimVehicle {
            capacity,
            stored: HashMap::new(),
            receiving: None,
        }
    }

    fn ack(result: MavMissionResult, mission_type: MavMissionType) -> MavMessage {
        MavMessage::MISSION_ACK(MISSION_ACK_DATA {
            target_system: GCS.0,
            target_component: GCS.1,
            mavtype: result,
            mission_type,
            ..MISSION_ACK_DATA::DEFAULT
        })
    }

    fn request(seq: u16, mission_type: MavMissionType) -> MavMessage {
        MavMessage::MISSION_REQUEST(MISSION_REQUEST_DATA {
            seq,
            target_system: GCS.0,
            target_component: GCS.1,
            mission_type,
        })
    }

    fn list(&mut self, t: MavMissionType) -> &mut Vec<MissionItem> {
        self.stored.entry(type_key(t)).or_default()
    }

    pub(super) fn stored(&self, t: MavMissionType) -> &[MissionItem] {
        self.stored.get(&type_key(t)).map_or(&[], Vec::as_slice)
    }

    pub(super) fn handle(&mut self, now: Duration, msg: &MavMessage) -> Vec<MavMessage> {
        match msg {
            MavMessage::MISSION_COUNT(m) => {
                let t = m.mission_type;
                if self.receiving.as_ref().is_some_and(|r| r.mission_type != t) {
                    return vec![Self::ack(MavMissionResult::MAV_MISSION_DENIED, t)];
                }
                self.receiving = None;
                if usize::from(m.count) > self.capacity {
                    return vec![Self::ack(MavMissionResult::MAV_MISSION_NO_SPACE, t)];
                }
                self.list(t).truncate(usize::from(m.count));
                if m.count == 0 {
                    return vec![Self::ack(MavMissionResult::MAV_MISSION_ACCEPTED, t)];
                }
                self.receiving = Some(Receiving {
                    mission_type: t,
                    request_i: 0,
                    last: m.count - 1,
                    last_receive: now,
                    last_request: now,
                });
                vec![Self::request(0, t)]
            }
            MavMessage::MISSION_ITEM_INT(m) => {
                let t = m.mission_type;
                let Some(r) = self.receiving.as_mut().filter(|r| r.mission_type == t) else {
                    return vec![Self::ack(MavMissionResult::MAV_MISSION_ERROR, t)];
                };
                if m.seq != r.request_i {
                    return vec![Self::ack(MavMissionResult::MAV_MISSION_INVALID_SEQUENCE, t)];
                }
                r.last_receive = now;
                r.request_i += 1;
                let done = r.request_i > r.last;
                let next = r.request_i;
                r.last_request = now;
                let item = MissionItem::from_wire(m);
                let list = self.list(t);
                match usize::from(m.seq).cmp(&list.len()) {
                    std::cmp::Ordering::Less => list[usize::from(m.seq)] = item,
                    std::cmp::Ordering::Equal => list.push(item),
                    std::cmp::Ordering::Greater => {
                        self.receiving = None;
                        return vec![Self::ack(MavMissionResult::MAV_MISSION_ERROR, t)];
                    }
                }
                if done {
                    self.receiving = None;
                    vec![Self::ack(MavMissionResult::MAV_MISSION_ACCEPTED, t)]
                } else {
                    vec![Self::request(next, t)]
                }
            }
            MavMessage::MISSION_REQUEST_LIST(m) => {
                if self.receiving.is_some() {
                    return vec![Self::ack(
                        MavMissionResult::MAV_MISSION_DENIED,
                        m.mission_type,
                    )];
                }
                let n = self.stored(m.mission_type).len();
                vec![MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
                    count: u16::try_from(n).expect("capacity fits u16"),
                    target_system: GCS.0,
                    target_component: GCS.1,
                    mission_type: m.mission_type,
                    ..MISSION_COUNT_DATA::DEFAULT
                })]
            }
            MavMessage::MISSION_REQUEST_INT(m) => {
                if self.receiving.is_some() {
                    return vec![Self::ack(
                        MavMissionResult::MAV_MISSION_DENIED,
                        m.mission_type,
                    )];
                }
                let Some(stored) = self.stored(m.mission_type).get(usize::from(m.seq)) else {
                    return vec![Self::ack(
                        MavMissionResult::MAV_MISSION_INVALID_SEQUENCE,
                        m.mission_type,
                    )];
                };
                let mut item = stored.clone();
                if m.mission_type == MavMissionType::MAV_MISSION_TYPE_MISSION && m.seq == 0 {
                    item.x = HOME_LAT_E7;
                }
                vec![MavMessage::MISSION_ITEM_INT(item.to_wire(GCS.0, GCS.1))]
            }
            MavMessage::MISSION_CLEAR_ALL(m) => {
                if self.receiving.is_some() {
                    return vec![Self::ack(
                        MavMissionResult::MAV_MISSION_ERROR,
                        m.mission_type,
                    )];
                }
                self.list(m.mission_type).clear();
                vec![Self::ack(
                    MavMissionResult::MAV_MISSION_ACCEPTED,
                    m.mission_type,
                )]
            }
            // ArduPilot ignores a GCS's MISSION_ACK (and so a cancel): it times out instead.
            _ => Vec::new(),
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Duration> {
        self.receiving
            .as_ref()
            .map(|r| (r.last_request + RE_ASK).min(r.last_receive + GIVE_UP))
    }

    pub(super) fn tick(&mut self, now: Duration) -> Vec<MavMessage> {
        let Some(r) = self.receiving.as_mut() else {
            return Vec::new();
        };
        if now >= r.last_receive + GIVE_UP {
            let t = r.mission_type;
            self.receiving = None;
            return vec![Self::ack(
                MavMissionResult::MAV_MISSION_OPERATION_CANCELLED,
                t,
            )];
        }
        if now >= r.last_request + RE_ASK {
            r.last_request = now;
            return vec![Self::request(r.request_i, r.mission_type)];
        }
        Vec::new()
    }
}

#[derive(Clone, Copy)]
pub(super) struct LinkModel {
    loss: f64,
    delay: Duration,
    /// Extra random delay up to this, which reorders messages.
    jitter: Duration,
    duplicate: f64,
}

impl LinkModel {
    pub(super) fn lossy(loss: f64) -> LinkModel {
        LinkModel {
            loss,
            delay: ms(20),
            jitter: Duration::ZERO,
            duplicate: 0.0,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dir {
    ToVehicle,
    ToGcs,
}

/// Both directions of the link, messages in flight keyed by (arrival, sequence).
pub(super) struct Net {
    model: LinkModel,
    rng: Rng,
    in_flight: BTreeMap<(Duration, u64), (Dir, MavMessage)>,
    sent: u64,
    pub(super) frames_sent: u64,
}

impl Net {
    pub(super) fn new(model: LinkModel, seed: u64) -> Net {
        Net {
            model,
            rng: Rng(seed),
            in_flight: BTreeMap::new(),
            sent: 0,
            frames_sent: 0,
        }
    }

    fn send(&mut self, now: Duration, dir: Dir, msgs: Vec<MavMessage>) {
        for msg in msgs {
            self.frames_sent += 1;
            let copies = if self.rng.chance(self.model.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                if self.rng.chance(self.model.loss) {
                    continue;
                }
                let jitter_us = self.model.jitter.as_micros() as u64;
                let extra = if jitter_us == 0 {
                    Duration::ZERO
                } else {
                    Duration::from_micros(self.rng.next_u64() % jitter_us)
                };
                self.sent += 1;
                self.in_flight.insert(
                    (now + self.model.delay + extra, self.sent),
                    (dir, msg.clone()),
                );
            }
        }
    }
}

/// Run one machine against the vehicle until it finishes; returns its outcome. `now`
/// carries the simulated clock from one operation to the next.
pub(super) fn run<T: MissionTransfer>(
    machine: &mut T,
    vehicle: &mut SimVehicle,
    net: &mut Net,
    now: &mut Duration,
) -> Result<T::Output, TransferError> {
    let out = machine.start(*now);
    net.send(*now, Dir::ToVehicle, out);
    let limit = *now + Duration::from_secs(3600);
    loop {
        if let Some(outcome) = machine.outcome() {
            // Let the last messages (our final ACK) reach the vehicle.
            while let Some((&(at, key), _)) = net.in_flight.iter().next() {
                if let Some((dir, msg)) = net.in_flight.remove(&(at, key)) {
                    *now = (*now).max(at);
                    if dir == Dir::ToVehicle {
                        vehicle.handle(at, &msg);
                    }
                }
            }
            return outcome;
        }
        let next_msg = net.in_flight.keys().next().map(|k| k.0);
        let next = [next_msg, machine.next_deadline(), vehicle.next_deadline()]
            .into_iter()
            .flatten()
            .min()
            .expect("a running machine always has a deadline");
        assert!(next < limit, "simulation ran away");
        *now = (*now).max(next);
        if next_msg == Some(next) {
            let key = *net.in_flight.keys().next().expect("just looked");
            let (dir, msg) = net.in_flight.remove(&key).expect("just looked");
            match dir {
                Dir::ToVehicle => {
                    let out = vehicle.handle(*now, &msg);
                    net.send(*now, Dir::ToGcs, out);
                }
                Dir::ToGcs => {
                    let out = machine.handle(
                        *now,
                        u32::from(VEHICLE.system_id),
                        VEHICLE.component_id,
                        &msg,
                    );
                    net.send(*now, Dir::ToVehicle, out);
                }
            }
        }
        let out = machine.poll(*now);
        net.send(*now, Dir::ToVehicle, out);
        let out = vehicle.tick(*now);
        net.send(*now, Dir::ToGcs, out);
    }
}

struct RoundTrip {
    upload: Duration,
    download: Duration,
}

fn round_trip(model: LinkModel, seed: u64, mission_type: MavMissionType, n: u16) -> RoundTrip {
    let plan = items(n, mission_type);
    let mut vehicle = SimVehicle::new(650);
    let mut net = Net::new(model, seed);
    let mut now = Duration::ZERO;
    let config = TransferConfig::default();

    let mut up = Upload::new(VEHICLE, mission_type, plan.clone(), config.clone()).expect("fits");
    let outcome = run(&mut up, &mut vehicle, &mut net, &mut now);
    assert_eq!(outcome, Ok(()), "seed {seed}: upload");
    let upload = now;
    assert_eq!(
        vehicle.stored(mission_type).len(),
        plan.len(),
        "seed {seed}"
    );

    let seeded = TransferConfig {
        initial_timeout: up.rtt().timeout(),
        ..config
    };
    let mut down = Download::new(VEHICLE, mission_type, seeded);
    let got = run(&mut down, &mut vehicle, &mut net, &mut now)
        .unwrap_or_else(|e| panic!("seed {seed}: download failed: {e}"));
    assert_eq!(verify(mission_type, &plan, &got), Vec::new(), "seed {seed}");
    if mission_type == MavMissionType::MAV_MISSION_TYPE_MISSION && n > 0 {
        assert_eq!(got[0].x, HOME_LAT_E7, "the model rewrites home");
    }
    RoundTrip {
        upload,
        download: now - upload,
    }
}

fn summary(label: &str, mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!(
        "{label}: median {:.2} s, max {:.2} s, min {:.2} s over {} runs",
        median.as_secs_f64(),
        max.as_secs_f64(),
        times[0].as_secs_f64(),
        times.len()
    );
    (median, max)
}

#[test]
fn round_trip_650_items_at_30_percent_loss_completes_every_time() {
    let mut uploads = Vec::new();
    let mut downloads = Vec::new();
    let mut totals = Vec::new();
    for seed in 0..50 {
        let rt = round_trip(
            LinkModel::lossy(0.3),
            seed,
            MavMissionType::MAV_MISSION_TYPE_MISSION,
            650,
        );
        uploads.push(rt.upload);
        downloads.push(rt.download);
        totals.push(rt.upload + rt.download);
    }
    summary("upload   650 @30%", uploads);
    summary("download 650 @30%", downloads);
    let (_, max) = summary("round trip 650 @30%", totals);
    // Generous, but a regression to waiting out the vehicle's 1 s re-ask (≈ 5 minutes) fails.
    assert!(max < Duration::from_secs(120), "slowest round trip {max:?}");
}

#[test]
fn round_trip_without_loss_is_quick() {
    let rt = round_trip(
        LinkModel::lossy(0.0),
        1,
        MavMissionType::MAV_MISSION_TYPE_MISSION,
        650,
    );
    // 650 request/item round trips of 40 ms, and a windowed download.
    assert!(rt.upload < Duration::from_secs(27), "{:?}", rt.upload);
    assert!(rt.download < Duration::from_secs(5), "{:?}", rt.download);
}

#[test]
fn fence_and_rally_round_trip_through_loss_duplication_and_reordering() {
    let model = LinkModel {
        loss: 0.3,
        delay: ms(20),
        jitter: ms(60),
        duplicate: 0.1,
    };
    for seed in 0..20 {
        round_trip(
            model,
            1000 + seed,
            MavMissionType::MAV_MISSION_TYPE_FENCE,
            40,
        );
        round_trip(
            model,
            2000 + seed,
            MavMissionType::MAV_MISSION_TYPE_RALLY,
            10,
        );
        round_trip(
            model,
            3000 + seed,
            MavMissionType::MAV_MISSION_TYPE_MISSION,
            60,
        );
    }
}

#[test]
fn more_than_the_vehicle_holds_is_no_space_over_a_lossy_link() {
    for seed in 0..10 {
        let mut vehicle = SimVehicle::new(650);
        let mut net = Net::new(LinkModel::lossy(0.3), seed);
        let mut now = Duration::ZERO;
        let mission = MavMissionType::MAV_MISSION_TYPE_MISSION;
        let mut up = Upload::new(
            VEHICLE,
            mission,
            items(651, mission),
            TransferConfig::default(),
        )
        .expect("fits");
        assert_eq!(
            run(&mut up, &mut vehicle, &mut net, &mut now),
            Err(TransferError::NoSpace)
        );
    }
}

#[test]
fn clear_and_empty_upload_over_a_lossy_link() {
    for seed in 0..20 {
        let mission = MavMissionType::MAV_MISSION_TYPE_MISSION;
        let mut vehicle = SimVehicle::new(650);
        let mut net = Net::new(LinkModel::lossy(0.3), seed);
        let mut now = Duration::ZERO;
        let mut up = Upload::new(
            VEHICLE,
            mission,
            items(5, mission),
            TransferConfig::default(),
        )
        .expect("fits");
        assert_eq!(run(&mut up, &mut vehicle, &mut net, &mut now), Ok(()));
        let mut clear = Clear::new(VEHICLE, mission, TransferConfig::default());
        assert_eq!(run(&mut clear, &mut vehicle, &mut net, &mut now), Ok(()));
        assert!(vehicle.stored(mission).is_empty());
        let mut up =
            Upload::new(VEHICLE, mission, Vec::new(), TransferConfig::default()).expect("fits");
        assert_eq!(run(&mut up, &mut vehicle, &mut net, &mut now), Ok(()));
        let mut down = Download::new(VEHICLE, mission, TransferConfig::default());
        assert_eq!(
            run(&mut down, &mut vehicle, &mut net, &mut now),
            Ok(Vec::new())
        );
    }
}

#[test]
fn a_vehicle_that_hears_nothing_cancels_and_we_say_so_or_time_out() {
    // Everything we send is lost; the vehicle never even hears the COUNT, so we time out.
    let model = LinkModel::lossy(1.0);
    let mut vehicle = SimVehicle::new(650);
    let mut net = Net::new(model, 7);
    let mut now = Duration::ZERO;
    let mission = MavMissionType::MAV_MISSION_TYPE_MISSION;
    let mut up = Upload::new(
        VEHICLE,
        mission,
        items(5, mission),
        TransferConfig::default(),
    )
    .expect("fits");
    assert!(matches!(
        run(&mut up, &mut vehicle, &mut net, &mut now),
        Err(TransferError::Timeout {
            step: Step::Count,
            ..
        })
    ));
    assert!(now < Duration::from_secs(10), "{now:?}");
}
