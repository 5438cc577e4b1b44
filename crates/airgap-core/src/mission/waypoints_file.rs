//! Mission Planner's `.waypoints` files (QGC WPL 110): a `QGC WPL 110` header, then one
//! tab-separated line per item, `seq current frame command p1 p2 p3 p4 lat lon alt
//! autocontinue`, where line 0 is home.
//!
//! Line 0 is the vehicle's home position, as in ArduPilot's mission. [`HomeItem`] says whether
//! the mission list keeps it: with [`HomeItem::Seq0`] line 0 is `mission[0]`; with
//! [`HomeItem::Absent`] it is returned apart as [`WaypointsFile::home`] and the items are
//! numbered from 0, their DO_JUMP targets one lower (and the reverse when writing).
//!
//! Writing follows Mission Planner: params and latitude/longitude with 8 decimals, altitude
//! with 6, so coordinates are exact to MISSION_ITEM_INT's 1e-7°; a param that 8 decimals
//! would not give back as the same `f32` is written in full. NaN is `NaN`; a latitude or
//! longitude of INT32_MAX (MAVLink's "unset") is written and read as `NaN` too.

use std::fmt::Write as _;

use num_traits::FromPrimitive;

use super::plan_file::{frame_scale, shortest_f64, xy_from_file, xy_to_file, GeoPoint, HomeItem};
use super::MissionItem;
use crate::dialect::{MavCmd, MavFrame, MavMissionType};

/// The first line of every file.
pub const HEADER: &str = "QGC WPL 110";

/// A `.waypoints` file as read.
#[derive(Debug, Clone, PartialEq)]
pub struct WaypointsFile {
    /// With [`HomeItem::Seq0`], home is `mission[0]`.
    pub mission: Vec<MissionItem>,
    /// Line 0's position (altitude above mean sea level); `None` when the file has no items.
    pub home: Option<GeoPoint>,
}

/// Why a `.waypoints` file could not be read. Lines are numbered from 1, as editors show them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WaypointsFileError {
    #[error("the file is empty; expected the header \"QGC WPL 110\"")]
    Empty,
    #[error("line {line}: expected the header \"QGC WPL 110\", found {found:?}")]
    NotWaypoints { line: usize, found: String },
    #[error("line {line}: expected 12 tab-separated fields (seq current frame command p1 p2 p3 p4 lat lon alt autocontinue), found {found}")]
    WrongFieldCount { line: usize, found: usize },
    #[error("line {line}, field {field}: expected {expected}, found {found:?}")]
    Malformed {
        line: usize,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("line {line}: seq {seq}, expected {expected}: items are numbered in order from 0")]
    OutOfOrder {
        line: usize,
        seq: u64,
        expected: usize,
    },
    #[error("line {line}: more items than a MAVLink mission can number (65535)")]
    TooManyItems { line: usize },
    #[error("line {line}: DO_JUMP to item 0, the home position, which a mission without a home item cannot hold")]
    JumpToHome { line: usize },
}

const FIELDS: [&str; 12] = [
    "seq",
    "current",
    "frame",
    "command",
    "param1",
    "param2",
    "param3",
    "param4",
    "latitude/x",
    "longitude/y",
    "altitude/z",
    "autocontinue",
];

/// Reads a `.waypoints` file; `home_item` chooses what becomes of line 0.
pub fn read(text: &str, home_item: HomeItem) -> Result<WaypointsFile, WaypointsFileError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let (line, header) = lines.next().ok_or(WaypointsFileError::Empty)?;
    // Mission Planner on Windows may start the file with a byte-order mark.
    let header = header.trim_start_matches('\u{feff}');
    if header.split_whitespace().collect::<Vec<_>>() != ["QGC", "WPL", "110"] {
        return Err(WaypointsFileError::NotWaypoints {
            line,
            found: header.chars().take(40).collect(),
        });
    }

    let mut items: Vec<(usize, MissionItem)> = Vec::new();
    for (line, text) in lines {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let Ok(fields) = <[&str; 12]>::try_from(fields.as_slice()) else {
            return Err(WaypointsFileError::WrongFieldCount {
                line,
                found: fields.len(),
            });
        };
        let bad = |i: usize, expected: &'static str| WaypointsFileError::Malformed {
            line,
            field: FIELDS[i],
            expected,
            found: fields[i].chars().take(40).collect(),
        };
        let int = |i: usize| {
            fields[i]
                .parse::<u64>()
                .map_err(|_| bad(i, "a whole number"))
        };
        let flag = |i: usize| match fields[i] {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(bad(i, "0 or 1")),
        };
        let float = |i: usize| fields[i].parse::<f64>().map_err(|_| bad(i, "a number"));
        let param = |i: usize| {
            let v = float(i)? as f32;
            if v.is_infinite() {
                return Err(bad(i, "a number within the range of a 32-bit float"));
            }
            Ok(v)
        };

        let seq = int(0)?;
        if seq != items.len() as u64 {
            return Err(WaypointsFileError::OutOfOrder {
                line,
                seq,
                expected: items.len(),
            });
        }
        let seq = u16::try_from(seq).map_err(|_| WaypointsFileError::TooManyItems { line })?;
        let current = flag(1)?;
        let frame = MavFrame::from_u64(int(2)?).ok_or_else(|| bad(2, "a MAV_FRAME number"))?;
        let command = MavCmd::from_u64(int(3)?).ok_or_else(|| bad(3, "a MAV_CMD number"))?;
        let xy = |i: usize| {
            xy_from_file(frame, float(i)?).ok_or_else(|| {
                if frame_scale(frame) == 1e7 {
                    bad(i, "a coordinate in degrees within ±214.7483647")
                } else {
                    bad(i, "a number that fits MISSION_ITEM_INT's 32-bit x/y")
                }
            })
        };
        let item = MissionItem {
            seq,
            frame,
            command,
            current,
            autocontinue: flag(11)?,
            param1: param(4)?,
            param2: param(5)?,
            param3: param(6)?,
            param4: param(7)?,
            x: xy(8)?,
            y: xy(9)?,
            z: param(10)?,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        };
        items.push((line, item));
    }

    let home = items.first().map(|(_, h)| GeoPoint {
        lat_e7: h.x,
        lon_e7: h.y,
        alt_m: h.z,
    });
    let mission = match home_item {
        HomeItem::Seq0 => items.into_iter().map(|(_, item)| item).collect(),
        HomeItem::Absent => {
            let mut mission = Vec::with_capacity(items.len().saturating_sub(1));
            for (line, mut item) in items.into_iter().skip(1) {
                item.seq -= 1; // Line 0 was skipped, so seq ≥ 1.
                if item.command == MavCmd::MAV_CMD_DO_JUMP {
                    if item.param1 < 1.0 {
                        return Err(WaypointsFileError::JumpToHome { line });
                    }
                    item.param1 -= 1.0; // NaN (no target) stays NaN.
                }
                mission.push(item);
            }
            mission
        }
    };
    Ok(WaypointsFile { mission, home })
}

/// Writes a `.waypoints` file. With [`HomeItem::Seq0`], `mission[0]` is line 0 and `home` is
/// not used; with [`HomeItem::Absent`], line 0 is `home` (or 0, 0, 0 when unknown, as Mission
/// Planner writes before it has a position).
pub fn write(mission: &[MissionItem], home_item: HomeItem, home: Option<GeoPoint>) -> String {
    let mut out = String::with_capacity(64 * (mission.len() + 2));
    out.push_str(HEADER);
    out.push('\n');
    let (offset, jump_offset) = match home_item {
        HomeItem::Seq0 => (0, 0.0),
        HomeItem::Absent => {
            let h = home.unwrap_or(GeoPoint {
                lat_e7: 0,
                lon_e7: 0,
                alt_m: 0.0,
            });
            let home_line = MissionItem {
                seq: 0,
                frame: MavFrame::MAV_FRAME_GLOBAL,
                command: MavCmd::MAV_CMD_NAV_WAYPOINT,
                current: true,
                autocontinue: true,
                param1: 0.0,
                param2: 0.0,
                param3: 0.0,
                param4: 0.0,
                x: h.lat_e7,
                y: h.lon_e7,
                z: h.alt_m,
                mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
            };
            write_line(&mut out, 0, &home_line, 0.0);
            (1, 1.0)
        }
    };
    for (i, item) in mission.iter().enumerate() {
        write_line(&mut out, i + offset, item, jump_offset);
    }
    out
}

fn write_line(out: &mut String, seq: usize, item: &MissionItem, jump_offset: f32) {
    let param1 = if item.command == MavCmd::MAV_CMD_DO_JUMP {
        item.param1 + jump_offset
    } else {
        item.param1
    };
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{seq}\t{}\t{}\t{}",
        u8::from(item.current),
        item.frame as u32,
        item.command as u32
    );
    for p in [param1, item.param2, item.param3, item.param4] {
        out.push('\t');
        out.push_str(&fixed_f32(p, 8));
    }
    for v in [item.x, item.y] {
        out.push('\t');
        match xy_to_file(item.frame, v) {
            Some(v) => {
                let _ = write!(out, "{v:.8}");
            }
            None => out.push_str("NaN"),
        }
    }
    out.push('\t');
    out.push_str(&fixed_f32(item.z, 6));
    let _ = writeln!(out, "\t{}", u8::from(item.autocontinue));
}

/// `v` with `decimals` decimals when that reads back as the same `f32`, else in full.
fn fixed_f32(v: f32, decimals: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    let fixed = format!("{:.*}", decimals, shortest_f64(v));
    if fixed.parse::<f64>().map(|f| f as f32) == Ok(v) {
        fixed
    } else {
        format!("{}", shortest_f64(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MISSION_PLANNER: &str =
        include_str!("../../tests/data/formats/mission_planner.waypoints");
    const QGC_PLAN: &str = include_str!("../../tests/data/formats/qgc_mission.plan");

    #[test]
    fn reads_a_mission_planner_file_with_home_at_line_0() {
        let file = read(MISSION_PLANNER, HomeItem::Seq0).expect("valid");
        let m = &file.mission;
        assert_eq!(m.len(), 9);
        assert_eq!(m[0].command, MavCmd::MAV_CMD_NAV_WAYPOINT);
        assert!(m[0].current, "Mission Planner marks home current");
        // Mission Planner writes home with 6 decimals only.
        assert_eq!((m[0].x, m[0].y, m[0].z), (-353632620, 1491652370, 584.19));
        assert_eq!(m[1].command, MavCmd::MAV_CMD_NAV_TAKEOFF);
        assert_eq!(m[1].z, 20.0);
        assert_eq!((m[2].x, m[2].y), (-353625823, 1491647205));
        assert_eq!(m[3].command, MavCmd::MAV_CMD_DO_CHANGE_SPEED);
        assert_eq!((m[3].param1, m[3].param2, m[3].param3), (1.0, 8.0, -1.0));
        assert_eq!(m[8].command, MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH);
        assert!(m
            .iter()
            .enumerate()
            .all(|(i, item)| usize::from(item.seq) == i));
        assert_eq!(
            file.home,
            Some(GeoPoint {
                lat_e7: -353632620,
                lon_e7: 1491652370,
                alt_m: 584.19
            })
        );
    }

    #[test]
    fn the_same_mission_from_qgroundcontrol_and_mission_planner_is_the_same_plan() {
        let from_mp = read(MISSION_PLANNER, HomeItem::Seq0)
            .expect("valid")
            .mission;
        let from_qgc = super::super::plan_file::read_plan(QGC_PLAN, HomeItem::Seq0)
            .expect("valid")
            .plan
            .mission;
        assert_eq!(from_mp.len(), from_qgc.len());
        // Home differs in Mission Planner's 6 decimals; frames differ because Mission Planner
        // gives every item the grid's altitude frame; and QGroundControl writes NaN where
        // Mission Planner writes 0 (an unused yaw).
        for (a, b) in from_mp.iter().zip(&from_qgc).skip(1) {
            assert_eq!(
                (a.seq, a.command, a.x, a.y, a.z, a.param2),
                (b.seq, b.command, b.x, b.y, b.z, b.param2)
            );
        }
    }

    #[test]
    fn writes_mission_planner_s_layout() {
        let file = read(MISSION_PLANNER, HomeItem::Seq0).expect("valid");
        let written = write(&file.mission, HomeItem::Seq0, None);
        let expected: String = MISSION_PLANNER.replace("\r\n", "\n");
        // Line for line, but for home, which we write with 8 decimals like the other lines.
        let ours: Vec<&str> = written.lines().collect();
        let theirs: Vec<&str> = expected.lines().collect();
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours[0], theirs[0]);
        assert_eq!(
            ours[1],
            "0\t1\t0\t16\t0.00000000\t0.00000000\t0.00000000\t0.00000000\t-35.36326200\t149.16523700\t584.190000\t1"
        );
        assert_eq!(ours[2..], theirs[2..]);
    }

    #[test]
    fn without_a_home_item_line_0_is_set_apart_and_jumps_move() {
        let text = "QGC WPL 110\n\
            0\t1\t0\t16\t0\t0\t0\t0\t47.0\t8.0\t400\t1\n\
            1\t0\t3\t16\t0\t0\t0\t0\t47.1\t8.1\t50\t1\n\
            2\t0\t3\t16\t0\t0\t0\t0\t47.2\t8.2\t50\t1\n\
            3\t0\t2\t177\t2\t1\t0\t0\t0\t0\t0\t1\n";
        let file = read(text, HomeItem::Absent).expect("valid");
        assert_eq!(file.mission.len(), 3);
        assert_eq!(file.mission[0].seq, 0);
        assert_eq!(file.mission[2].param1, 1.0);
        assert_eq!(
            file.home,
            Some(GeoPoint {
                lat_e7: 470_000_000,
                lon_e7: 80_000_000,
                alt_m: 400.0
            })
        );
        let written = write(&file.mission, HomeItem::Absent, file.home);
        assert_eq!(
            read(&written, HomeItem::Seq0).expect("valid").mission[3].param1,
            2.0
        );
        assert_eq!(read(&written, HomeItem::Absent).expect("valid"), file);

        let to_home = text.replace("177\t2\t", "177\t0\t");
        assert_eq!(
            read(&to_home, HomeItem::Absent).expect_err("jump to home"),
            WaypointsFileError::JumpToHome { line: 5 }
        );
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        let good = "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t47.0\t8.0\t400\t1\n";
        let cases: &[(&str, &str)] = &[
            ("", "the file is empty; expected the header \"QGC WPL 110\""),
            (
                "QGC WPL 100\n",
                "line 1: expected the header \"QGC WPL 110\", found \"QGC WPL 100\"",
            ),
            (
                "\n\nQGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t47.0\t8.0\t400\n",
                "line 4: expected 12 tab-separated fields (seq current frame command p1 p2 p3 p4 lat lon alt autocontinue), found 11",
            ),
            (
                "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t47,0\t8.0\t400\t1\n",
                "line 2, field latitude/x: expected a number, found \"47,0\"",
            ),
            (
                "QGC WPL 110\n0\t2\t0\t16\t0\t0\t0\t0\t47.0\t8.0\t400\t1\n",
                "line 2, field current: expected 0 or 1, found \"2\"",
            ),
            (
                "QGC WPL 110\n0\t1\t0\t99999\t0\t0\t0\t0\t47.0\t8.0\t400\t1\n",
                "line 2, field command: expected a MAV_CMD number, found \"99999\"",
            ),
            (
                "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t47.0\t8.0\t400\t1\n2\t0\t3\t16\t0\t0\t0\t0\t47.0\t8.0\t40\t1\n",
                "line 3: seq 2, expected 1: items are numbered in order from 0",
            ),
            (
                "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t247.0\t8.0\t400\t1\n",
                "line 2, field latitude/x: expected a coordinate in degrees within ±214.7483647, found \"247.0\"",
            ),
            (
                "QGC WPL 110\n0\t1\t0\t16\t1e39\t0\t0\t0\t47.0\t8.0\t400\t1\n",
                "line 2, field param1: expected a number within the range of a 32-bit float, found \"1e39\"",
            ),
        ];
        assert!(read(good, HomeItem::Seq0).is_ok());
        for (text, message) in cases {
            let err = read(text, HomeItem::Seq0).expect_err(message);
            assert_eq!(err.to_string(), *message);
        }
    }

    #[test]
    fn reads_crlf_a_byte_order_mark_and_space_separated_fields() {
        let text =
            "\u{feff}QGC WPL 110\r\n0 1 0 16 0 0 0 0 -35.36326208 149.16523742 584.190000 1\r\n";
        let file = read(text, HomeItem::Seq0).expect("valid");
        assert_eq!(file.mission[0].x, -353632621);
    }

    fn same_f32(a: f32, b: f32) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    fn same(a: &MissionItem, b: &MissionItem) -> bool {
        (
            a.seq,
            a.frame,
            a.command,
            a.current,
            a.autocontinue,
            a.x,
            a.y,
            a.mission_type,
        ) == (
            b.seq,
            b.frame,
            b.command,
            b.current,
            b.autocontinue,
            b.x,
            b.y,
            b.mission_type,
        ) && same_f32(a.param1, b.param1)
            && same_f32(a.param2, b.param2)
            && same_f32(a.param3, b.param3)
            && same_f32(a.param4, b.param4)
            && same_f32(a.z, b.z)
    }

    fn param() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => any::<f32>().prop_filter("finite", |v| v.is_finite()),
            2 => (-100_000i32..100_000).prop_map(|v| v as f32 / 100.0),
            1 => Just(f32::NAN),
        ]
    }

    fn item() -> impl Strategy<Value = MissionItem> {
        #[allow(deprecated)]
        let frame = prop_oneof![
            Just(MavFrame::MAV_FRAME_GLOBAL),
            Just(MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT),
            Just(MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT),
            Just(MavFrame::MAV_FRAME_MISSION),
            Just(MavFrame::MAV_FRAME_LOCAL_NED),
        ];
        let command = prop_oneof![
            Just(MavCmd::MAV_CMD_NAV_WAYPOINT),
            Just(MavCmd::MAV_CMD_NAV_TAKEOFF),
            Just(MavCmd::MAV_CMD_DO_CHANGE_SPEED),
            Just(MavCmd::MAV_CMD_NAV_LOITER_UNLIM),
            Just(MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH),
        ];
        let xy = prop_oneof![8 => any::<i32>(), 1 => Just(i32::MAX)];
        (
            frame,
            command,
            any::<(bool, bool)>(),
            [param(), param(), param(), param(), param()],
            (xy.clone(), xy),
        )
            .prop_map(
                |(frame, command, (current, autocontinue), p, (x, y))| MissionItem {
                    seq: 0,
                    frame,
                    command,
                    current,
                    autocontinue,
                    param1: p[0],
                    param2: p[1],
                    param3: p[2],
                    param4: p[3],
                    x,
                    y,
                    z: p[4],
                    mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
                },
            )
    }

    fn numbered(mut items: Vec<MissionItem>) -> Vec<MissionItem> {
        for (seq, item) in items.iter_mut().enumerate() {
            item.seq = seq as u16;
        }
        items
    }

    proptest! {
        #[test]
        fn write_then_read_is_the_same_mission(items in prop::collection::vec(item(), 1..30)) {
            let mission = numbered(items);
            let text = write(&mission, HomeItem::Seq0, None);
            let back = read(&text, HomeItem::Seq0).expect("readable");
            prop_assert_eq!(back.mission.len(), mission.len());
            for (a, b) in back.mission.iter().zip(&mission) {
                prop_assert!(same(a, b), "{:?} != {:?}\n{}", a, b, text);
            }
        }

        #[test]
        fn write_then_read_without_home_is_the_same_mission(
            items in prop::collection::vec(item(), 0..30),
            jumps in prop::collection::vec(
                (any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..3),
            lat_e7 in -900_000_000i32..=900_000_000,
            lon_e7 in -1_800_000_000i32..=1_800_000_000,
        ) {
            let mut mission = numbered(items);
            if !mission.is_empty() {
                for (from, to) in jumps {
                    let target = to.index(mission.len()) as f32;
                    let from = from.index(mission.len());
                    let item = &mut mission[from];
                    item.command = MavCmd::MAV_CMD_DO_JUMP;
                    item.param1 = target;
                }
            }
            let home = GeoPoint { lat_e7, lon_e7, alt_m: 123.25 };
            let text = write(&mission, HomeItem::Absent, Some(home));
            let back = read(&text, HomeItem::Absent).expect("readable");
            prop_assert_eq!(back.home, Some(home));
            prop_assert_eq!(back.mission.len(), mission.len());
            for (a, b) in back.mission.iter().zip(&mission) {
                prop_assert!(same(a, b), "{:?} != {:?}\n{}", a, b, text);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "(QGC WPL 110\n)?[0-9a-zA-Z.\t \n-]{0,300}") {
            let _ = read(&text, HomeItem::Seq0);
            let _ = read(&text, HomeItem::Absent);
        }

        #[test]
        fn any_unicode_never_panics(text in ".{0,300}") {
            let _ = read(&text, HomeItem::Seq0);
        }

        #[test]
        fn a_damaged_real_file_never_panics(
            cuts in prop::collection::vec((0usize..MISSION_PLANNER.len(), 0usize..20, "[0-9.\t\n -]{0,4}"), 1..4),
        ) {
            let mut text = MISSION_PLANNER.to_owned();
            for (at, len, with) in cuts {
                let start = at.min(text.len());
                let end = (start + len).min(text.len());
                text.replace_range(start..end, &with);
            }
            let _ = read(&text, HomeItem::Seq0);
            let _ = read(&text, HomeItem::Absent);
        }
    }
}
