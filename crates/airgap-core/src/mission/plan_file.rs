//! QGroundControl `.plan` files: the JSON document QGroundControl 4.x reads and writes (a
//! mission, its geofence and its rally points), converted to and from a [`Plan`].
//!
//! # Home
//! ArduPilot keeps its home position as mission item 0 and numbers the mission proper from 1;
//! PX4 keeps no home item and numbers from 0. A `.plan` stores neither: it has
//! `plannedHomePosition`, and numbers its items from 1 (`doJumpId`, which DO_JUMP's param1
//! refers to) as if home were item 0. [`HomeItem`] says which convention a [`Plan`] follows:
//! - [`HomeItem::Seq0`] (ArduPilot): reading puts a home item built from
//!   `plannedHomePosition` at `mission[0]` (MAV_CMD_NAV_WAYPOINT, MAV_FRAME_GLOBAL, altitude
//!   above mean sea level: what QGroundControl uploads as item 0); writing takes
//!   `plannedHomePosition` from `mission[0]` and stores the other items. Only the home item's
//!   position survives a round trip.
//! - [`HomeItem::Absent`] (PX4): reading numbers the items from 0 and lowers every DO_JUMP
//!   target by one, as QGroundControl does when it uploads to PX4; writing does the reverse
//!   and takes `plannedHomePosition` from [`PlanMeta::planned_home`].
//!
//! # What a `.plan` does not keep
//! Items are renumbered from their position in each list, and the first item of the mission
//! comes back as the `current` one (QGroundControl marks it so on upload). Fence and rally
//! items keep only their geometry: reading gives them the frames and flags QGroundControl
//! uploads (fence vertices and circles MAV_FRAME_GLOBAL, rally points and the breach return
//! point MAV_FRAME_GLOBAL_RELATIVE_ALT, autocontinue off), and lists polygons, then circles,
//! then the breach return point.
//!
//! # Numbers
//! Params are `f32` on the wire; they are written in their shortest decimal form, so a value
//! read back is the same `f32`. NaN is `null` (QGroundControl's convention), and a null
//! latitude or longitude is INT32_MAX in MISSION_ITEM_INT (MAVLink's "unset").

use num_traits::FromPrimitive;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{MissionItem, Plan};
use crate::dialect::{MavAutopilot, MavCmd, MavFrame, MavMissionType, MavType};

/// Whether a [`Plan`]'s mission list starts with the vehicle's home position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeItem {
    /// `mission[0]` is home (ArduPilot).
    Seq0,
    /// The mission list holds only the mission proper, from seq 0 (PX4).
    Absent,
}

/// A position as MISSION_ITEM_INT carries it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lat_e7: i32,
    pub lon_e7: i32,
    pub alt_m: f32,
}

/// Everything a `.plan` holds besides the items themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanMeta {
    /// The convention of the [`Plan`] this goes with; see the module documentation.
    pub home_item: HomeItem,
    /// `groundStation`: the program that wrote the file.
    pub ground_station: String,
    /// `mission.firmwareType`.
    pub firmware_type: MavAutopilot,
    /// `mission.vehicleType`.
    pub vehicle_type: MavType,
    /// `mission.cruiseSpeed`, the planned speed of fixed-wing vehicles.
    pub cruise_speed_m_s: f64,
    /// `mission.hoverSpeed`, the planned speed of multirotors.
    pub hover_speed_m_s: f64,
    /// `mission.plannedHomePosition`, altitude above mean sea level. When writing with
    /// [`HomeItem::Seq0`] the home item's position is written instead.
    pub planned_home: Option<GeoPoint>,
}

impl Default for PlanMeta {
    fn default() -> Self {
        PlanMeta {
            home_item: HomeItem::Seq0,
            ground_station: "Airgap".to_owned(),
            firmware_type: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            vehicle_type: MavType::MAV_TYPE_QUADROTOR,
            // QGroundControl's defaults for a new plan.
            cruise_speed_m_s: 15.0,
            hover_speed_m_s: 5.0,
            planned_home: None,
        }
    }
}

/// A `.plan` file as read: the items and the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFile {
    pub plan: Plan,
    pub meta: PlanMeta,
}

/// Why a `.plan` file could not be read. Paths name the JSON value at fault the way a reader
/// would look for it: `mission.items[3].params[4]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanFileError {
    #[error("not a JSON document (line {line}, column {column}): {reason}")]
    NotJson {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{path}: missing key \"{key}\"")]
    MissingKey { path: String, key: String },
    #[error("{path}: expected {expected}, found {found}")]
    Malformed {
        path: String,
        expected: String,
        found: String,
    },
    #[error(
        "{path}: complex item \"{complex_item_type}\" carries no flight items \
         (TransectStyleComplexItem.Items), and Airgap does not generate its pattern"
    )]
    UnsupportedComplexItem {
        path: String,
        complex_item_type: String,
    },
    #[error("{path}: DO_JUMP to doJumpId {do_jump_id}, which no item has")]
    UnknownJumpTarget { path: String, do_jump_id: i64 },
    #[error("{list}: {count} items, more than a MAVLink mission can number (65535)")]
    TooManyItems { list: &'static str, count: usize },
}

/// Why a [`Plan`] cannot be written as a `.plan`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanWriteError {
    #[error("{list} item {index}: {reason}")]
    Unrepresentable {
        list: &'static str,
        index: usize,
        reason: String,
    },
}

/// Reads a `.plan` document; `home_item` chooses the convention of the returned [`Plan`].
pub fn read_plan(text: &str, home_item: HomeItem) -> Result<PlanFile, PlanFileError> {
    let root: Value = serde_json::from_str(text).map_err(|e| PlanFileError::NotJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    let root = At::root(&root);

    let file_type = root.key("fileType")?;
    if file_type.str()? != "Plan" {
        return Err(file_type.fail("\"Plan\""));
    }
    let version = root.key("version")?;
    if version.int()? != 1 {
        return Err(version.fail("version 1"));
    }
    let ground_station = match root.opt_key("groundStation")? {
        Some(g) => g.str()?.to_owned(),
        None => String::new(),
    };

    let mission_at = root.key("mission")?;
    let mission_version = mission_at.key("version")?;
    if mission_version.int()? != 2 {
        return Err(mission_version.fail("mission version 2"));
    }
    let defaults = PlanMeta::default();
    let firmware_at = mission_at.key("firmwareType")?;
    let firmware_type = MavAutopilot::from_i64(firmware_at.int()?)
        .ok_or_else(|| firmware_at.fail("a MAV_AUTOPILOT number"))?;
    let vehicle_at = mission_at.key("vehicleType")?;
    let vehicle_type =
        MavType::from_i64(vehicle_at.int()?).ok_or_else(|| vehicle_at.fail("a MAV_TYPE number"))?;
    let cruise_speed_m_s = match mission_at.opt_key("cruiseSpeed")? {
        Some(v) => v.f64()?,
        None => defaults.cruise_speed_m_s,
    };
    let hover_speed_m_s = match mission_at.opt_key("hoverSpeed")? {
        Some(v) => v.f64()?,
        None => defaults.hover_speed_m_s,
    };
    let planned_home = match (mission_at.opt_key("plannedHomePosition")?, home_item) {
        (Some(p), _) => Some(p.lat_lon_alt()?),
        // Without it there is nothing to put at seq 0.
        (None, HomeItem::Seq0) => return Err(mission_at.missing("plannedHomePosition")),
        (None, HomeItem::Absent) => None,
    };

    let mission = read_mission_items(&mission_at, home_item, planned_home)?;
    let fence = match root.opt_key("geoFence")? {
        Some(f) => read_fence(&f)?,
        None => Vec::new(),
    };
    let rally = match root.opt_key("rallyPoints")? {
        Some(r) => read_rally(&r)?,
        None => Vec::new(),
    };
    for (list, items) in [("geoFence", &fence), ("rallyPoints", &rally)] {
        if items.len() > usize::from(u16::MAX) {
            return Err(PlanFileError::TooManyItems {
                list,
                count: items.len(),
            });
        }
    }

    Ok(PlanFile {
        plan: Plan {
            mission,
            fence,
            rally,
        },
        meta: PlanMeta {
            home_item,
            ground_station,
            firmware_type,
            vehicle_type,
            cruise_speed_m_s,
            hover_speed_m_s,
            planned_home,
        },
    })
}

/// Writes `plan` as a `.plan` document in QGroundControl's layout (sorted keys, four-space
/// indent). Fails only for what the format cannot hold: infinite params, and fence or rally
/// items that are not polygons, circles, a breach return point or rally points.
pub fn write_plan(plan: &Plan, meta: &PlanMeta) -> Result<String, PlanWriteError> {
    let (home, proper, jump_offset): (Option<GeoPoint>, &[MissionItem], f32) = match meta.home_item
    {
        HomeItem::Seq0 => match plan.mission.split_first() {
            Some((home, rest)) => (Some(point_of(home)), rest, 0.0),
            None => (meta.planned_home, &[], 0.0),
        },
        HomeItem::Absent => (
            meta.planned_home.or_else(|| {
                plan.mission
                    .iter()
                    .find(|i| frame_scale(i.frame) == LAT_LON_SCALE)
                    .map(point_of)
            }),
            &plan.mission[..],
            1.0,
        ),
    };
    let home = home.unwrap_or(GeoPoint {
        lat_e7: 0,
        lon_e7: 0,
        alt_m: 0.0,
    });

    let mut items = Vec::with_capacity(proper.len());
    for (index, item) in proper.iter().enumerate() {
        let mut params = [item.param1, item.param2, item.param3, item.param4];
        if item.command == MavCmd::MAV_CMD_DO_JUMP {
            params[0] += jump_offset;
        }
        let mut json_params = Vec::with_capacity(7);
        for (n, p) in params.into_iter().enumerate() {
            json_params.push(f32_value(p).ok_or_else(|| infinite("mission", index, n + 1))?);
        }
        json_params.push(opt_number(xy_to_file(item.frame, item.x)));
        json_params.push(opt_number(xy_to_file(item.frame, item.y)));
        json_params.push(f32_value(item.z).ok_or_else(|| infinite("mission", index, 7))?);
        // Keys in QGroundControl's (alphabetical) order.
        let mut o = Map::new();
        o.insert("autoContinue".into(), Value::Bool(item.autocontinue));
        o.insert("command".into(), Value::from(item.command as u32));
        o.insert("doJumpId".into(), Value::from(index + 1));
        o.insert("frame".into(), Value::from(item.frame as u32));
        o.insert("params".into(), Value::Array(json_params));
        o.insert("type".into(), Value::from("SimpleItem"));
        items.push(Value::Object(o));
    }

    let mut mission = Map::new();
    mission.insert(
        "cruiseSpeed".into(),
        number(meta.cruise_speed_m_s).unwrap_or(Value::Null),
    );
    mission.insert(
        "firmwareType".into(),
        Value::from(meta.firmware_type as u32),
    );
    mission.insert(
        "hoverSpeed".into(),
        number(meta.hover_speed_m_s).unwrap_or(Value::Null),
    );
    mission.insert("items".into(), Value::Array(items));
    mission.insert(
        "plannedHomePosition".into(),
        Value::Array(vec![
            lat_lon_number(home.lat_e7),
            lat_lon_number(home.lon_e7),
            f32_value(home.alt_m).unwrap_or(Value::Null),
        ]),
    );
    mission.insert("vehicleType".into(), Value::from(meta.vehicle_type as u32));
    mission.insert("version".into(), Value::from(2));

    let mut root = Map::new();
    root.insert("fileType".into(), Value::from("Plan"));
    root.insert("geoFence".into(), write_fence(&plan.fence)?);
    root.insert(
        "groundStation".into(),
        Value::from(meta.ground_station.as_str()),
    );
    root.insert("mission".into(), Value::Object(mission));
    root.insert("rallyPoints".into(), write_rally(&plan.rally)?);
    root.insert("version".into(), Value::from(1));

    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    Value::Object(root)
        .serialize(&mut ser)
        .expect("serializing a Value into a Vec cannot fail");
    let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
    text.push('\n');
    Ok(text)
}

fn infinite(list: &'static str, index: usize, param: usize) -> PlanWriteError {
    PlanWriteError::Unrepresentable {
        list,
        index,
        reason: format!("param{param} is infinite, which JSON cannot hold"),
    }
}

// ---------------------------------------------------------------------------------------------
// Mission items

/// One simple item as read, before DO_JUMP targets are resolved.
struct RawItem {
    item: MissionItem,
    do_jump_id: Option<i64>,
    path: String,
}

fn read_mission_items(
    mission_at: &At<'_>,
    home_item: HomeItem,
    planned_home: Option<GeoPoint>,
) -> Result<Vec<MissionItem>, PlanFileError> {
    let mut raw = Vec::new();
    for at in mission_at.key("items")?.array()? {
        let type_at = at.key("type")?;
        match type_at.str()? {
            "SimpleItem" => raw.push(read_simple_item(&at)?),
            "ComplexItem" => {
                let complex_item_type = match at.opt_key("complexItemType")? {
                    Some(t) => t.str()?.to_owned(),
                    None => return Err(at.missing("complexItemType")),
                };
                let transect = at.opt_key("TransectStyleComplexItem")?;
                let inner = match transect {
                    Some(t) => t.opt_key("Items")?,
                    None => None,
                };
                let Some(inner) = inner else {
                    return Err(PlanFileError::UnsupportedComplexItem {
                        path: at.path.clone(),
                        complex_item_type,
                    });
                };
                for inner_at in inner.array()? {
                    let inner_type = inner_at.key("type")?;
                    if inner_type.str()? != "SimpleItem" {
                        return Err(inner_type.fail("\"SimpleItem\""));
                    }
                    raw.push(read_simple_item(&inner_at)?);
                }
            }
            _ => return Err(type_at.fail("\"SimpleItem\" or \"ComplexItem\"")),
        }
    }

    let offset = match home_item {
        HomeItem::Seq0 => 1,
        HomeItem::Absent => 0,
    };
    if raw.len() + offset > usize::from(u16::MAX) {
        return Err(PlanFileError::TooManyItems {
            list: "mission",
            count: raw.len() + offset,
        });
    }

    let mut mission = Vec::with_capacity(raw.len() + offset);
    if let (HomeItem::Seq0, Some(home)) = (home_item, planned_home) {
        mission.push(home_item_at(home));
    }
    for r in &raw {
        let mut item = r.item.clone();
        if item.command == MavCmd::MAV_CMD_DO_JUMP {
            // The file's param1 names a doJumpId; the vehicle wants a seq.
            let id = f64::from(item.param1);
            if !(id.is_finite() && id.fract() == 0.0) {
                return Err(PlanFileError::Malformed {
                    path: format!("{}.params[0]", r.path),
                    expected: "the doJumpId of the DO_JUMP target".into(),
                    found: describe_f64(id),
                });
            }
            // In range: checked finite and integral, and an f32 holds no integer beyond i64.
            let id = id as i64;
            let target = raw
                .iter()
                .position(|t| t.do_jump_id == Some(id))
                .ok_or_else(|| PlanFileError::UnknownJumpTarget {
                    path: r.path.clone(),
                    do_jump_id: id,
                })?;
            item.param1 = (target + offset) as f32;
        }
        mission.push(item);
    }
    for (seq, item) in mission.iter_mut().enumerate() {
        item.seq = u16::try_from(seq).expect("count checked against u16::MAX above");
        item.current = seq == 0;
    }
    Ok(mission)
}

fn read_simple_item(at: &At<'_>) -> Result<RawItem, PlanFileError> {
    let command_at = at.key("command")?;
    let command =
        MavCmd::from_i64(command_at.int()?).ok_or_else(|| command_at.fail("a MAV_CMD number"))?;
    let frame_at = at.key("frame")?;
    let frame =
        MavFrame::from_i64(frame_at.int()?).ok_or_else(|| frame_at.fail("a MAV_FRAME number"))?;
    let autocontinue = at.key("autoContinue")?.bool()?;
    let do_jump_id = match at.opt_key("doJumpId")? {
        Some(d) => Some(d.int()?),
        None => None,
    };
    let params_at = at.key("params")?;
    let params = params_at.array()?;
    let [p1, p2, p3, p4, p5, p6, p7] = <[At<'_>; 7]>::try_from(params)
        .map_err(|_| params_at.fail("an array of 7 numbers or nulls"))?;
    let item = MissionItem {
        seq: 0,
        frame,
        command,
        current: false,
        autocontinue,
        param1: p1.param()?,
        param2: p2.param()?,
        param3: p3.param()?,
        param4: p4.param()?,
        x: p5.xy(frame)?,
        y: p6.xy(frame)?,
        z: p7.param()?,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    };
    Ok(RawItem {
        item,
        do_jump_id,
        path: at.path.clone(),
    })
}

/// The home item QGroundControl uploads to ArduPilot as seq 0.
fn home_item_at(home: GeoPoint) -> MissionItem {
    MissionItem {
        seq: 0,
        frame: MavFrame::MAV_FRAME_GLOBAL,
        command: MavCmd::MAV_CMD_NAV_WAYPOINT,
        current: true,
        autocontinue: true,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: home.lat_e7,
        y: home.lon_e7,
        z: home.alt_m,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    }
}

fn point_of(item: &MissionItem) -> GeoPoint {
    GeoPoint {
        lat_e7: item.x,
        lon_e7: item.y,
        alt_m: item.z,
    }
}

// ---------------------------------------------------------------------------------------------
// Geofence and rally points

fn fence_item(command: MavCmd, frame: MavFrame, param1: f32, at: GeoPoint) -> MissionItem {
    MissionItem {
        seq: 0,
        frame,
        command,
        current: false,
        autocontinue: false,
        param1,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: at.lat_e7,
        y: at.lon_e7,
        z: at.alt_m,
        mission_type: MavMissionType::MAV_MISSION_TYPE_FENCE,
    }
}

fn read_fence(at: &At<'_>) -> Result<Vec<MissionItem>, PlanFileError> {
    let version = at.key("version")?;
    if version.int()? != 2 {
        return Err(version.fail("geoFence version 2"));
    }
    let mut items = Vec::new();
    for polygon_at in at.key("polygons")?.array()? {
        let inclusion = polygon_at.key("inclusion")?.bool()?;
        let vertices_at = polygon_at.key("polygon")?;
        let vertices = vertices_at.array()?;
        if vertices.len() < 3 {
            return Err(vertices_at.fail("a polygon of at least 3 [lat, lon] vertices"));
        }
        let command = if inclusion {
            MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
        } else {
            MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
        };
        let count = vertices.len() as f32;
        for v in &vertices {
            let (lat_e7, lon_e7) = v.lat_lon()?;
            items.push(fence_item(
                command,
                MavFrame::MAV_FRAME_GLOBAL,
                count,
                GeoPoint {
                    lat_e7,
                    lon_e7,
                    alt_m: 0.0,
                },
            ));
        }
    }
    for circle_at in at.key("circles")?.array()? {
        let inclusion = circle_at.key("inclusion")?.bool()?;
        let circle = circle_at.key("circle")?;
        let (lat_e7, lon_e7) = circle.key("center")?.lat_lon()?;
        let radius_at = circle.key("radius")?;
        let radius_m = radius_at.param()?;
        if !(radius_m.is_finite() && radius_m > 0.0) {
            return Err(radius_at.fail("a radius in metres above 0"));
        }
        let command = if inclusion {
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
        } else {
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
        };
        items.push(fence_item(
            command,
            MavFrame::MAV_FRAME_GLOBAL,
            radius_m,
            GeoPoint {
                lat_e7,
                lon_e7,
                alt_m: 0.0,
            },
        ));
    }
    if let Some(breach) = at.opt_key("breachReturn")? {
        items.push(fence_item(
            MavCmd::MAV_CMD_NAV_FENCE_RETURN_POINT,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            0.0,
            breach.lat_lon_alt()?,
        ));
    }
    for (seq, item) in items.iter_mut().enumerate() {
        item.seq = seq as u16; // Wraps only past 65535 items, which read_plan rejects.
    }
    Ok(items)
}

fn read_rally(at: &At<'_>) -> Result<Vec<MissionItem>, PlanFileError> {
    let version = at.key("version")?;
    if version.int()? != 2 {
        return Err(version.fail("rallyPoints version 2"));
    }
    let mut items = Vec::new();
    for (seq, point_at) in at.key("points")?.array()?.into_iter().enumerate() {
        let p = point_at.lat_lon_alt()?;
        items.push(MissionItem {
            seq: seq as u16, // Wraps only past 65535 items, which read_plan rejects.
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            command: MavCmd::MAV_CMD_NAV_RALLY_POINT,
            current: false,
            autocontinue: false,
            param1: 0.0,
            param2: 0.0,
            param3: 0.0,
            param4: 0.0,
            x: p.lat_e7,
            y: p.lon_e7,
            z: p.alt_m,
            mission_type: MavMissionType::MAV_MISSION_TYPE_RALLY,
        });
    }
    Ok(items)
}

fn write_fence(fence: &[MissionItem]) -> Result<Value, PlanWriteError> {
    let bad = |index: usize, reason: String| PlanWriteError::Unrepresentable {
        list: "fence",
        index,
        reason,
    };
    let mut polygons = Vec::new();
    let mut circles = Vec::new();
    let mut breach_return = None;
    let mut i = 0;
    while let Some(item) = fence.get(i) {
        match item.command {
            MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
            | MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION => {
                let count = item.param1;
                if !(count.fract() == 0.0 && count >= 1.0) {
                    return Err(bad(
                        i,
                        format!("vertex count (param1) {count} is not a count"),
                    ));
                }
                // Bounded by the check against the list length below.
                let n = count as usize;
                let Some(vertices) = fence.get(i..i.saturating_add(n)) else {
                    return Err(bad(
                        i,
                        format!(
                            "a polygon of {n} vertices, but only {} items follow",
                            fence.len() - i
                        ),
                    ));
                };
                if let Some(k) = vertices
                    .iter()
                    .position(|v| v.command != item.command || v.param1 != count)
                {
                    return Err(bad(
                        i + k,
                        format!("polygon starting at item {i} ends early: its vertex count is {n}"),
                    ));
                }
                let points = vertices
                    .iter()
                    .map(|v| Value::Array(vec![lat_lon_number(v.x), lat_lon_number(v.y)]))
                    .collect();
                let mut o = Map::new();
                o.insert(
                    "inclusion".into(),
                    Value::Bool(item.command == MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION),
                );
                o.insert("polygon".into(), Value::Array(points));
                o.insert("version".into(), Value::from(1));
                polygons.push(Value::Object(o));
                i += n;
            }
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
            | MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION => {
                let radius = f32_value(item.param1)
                    .filter(|_| item.param1.is_finite())
                    .ok_or_else(|| bad(i, format!("radius {} is not a number", item.param1)))?;
                let mut circle = Map::new();
                circle.insert(
                    "center".into(),
                    Value::Array(vec![lat_lon_number(item.x), lat_lon_number(item.y)]),
                );
                circle.insert("radius".into(), radius);
                let mut o = Map::new();
                o.insert("circle".into(), Value::Object(circle));
                o.insert(
                    "inclusion".into(),
                    Value::Bool(item.command == MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION),
                );
                o.insert("version".into(), Value::from(1));
                circles.push(Value::Object(o));
                i += 1;
            }
            MavCmd::MAV_CMD_NAV_FENCE_RETURN_POINT => {
                if breach_return.is_some() {
                    return Err(bad(i, "a second breach return point".into()));
                }
                let alt = f32_value(item.z).ok_or_else(|| bad(i, "altitude is infinite".into()))?;
                breach_return = Some(Value::Array(vec![
                    lat_lon_number(item.x),
                    lat_lon_number(item.y),
                    alt,
                ]));
                i += 1;
            }
            other => {
                return Err(bad(
                    i,
                    format!("{other:?} is not a fence polygon vertex, circle or return point"),
                ))
            }
        }
    }
    let mut o = Map::new();
    if let Some(b) = breach_return {
        o.insert("breachReturn".into(), b);
    }
    o.insert("circles".into(), Value::Array(circles));
    o.insert("polygons".into(), Value::Array(polygons));
    o.insert("version".into(), Value::from(2));
    Ok(Value::Object(o))
}

fn write_rally(rally: &[MissionItem]) -> Result<Value, PlanWriteError> {
    let mut points = Vec::with_capacity(rally.len());
    for (index, item) in rally.iter().enumerate() {
        if item.command != MavCmd::MAV_CMD_NAV_RALLY_POINT {
            return Err(PlanWriteError::Unrepresentable {
                list: "rally",
                index,
                reason: format!("{:?} is not MAV_CMD_NAV_RALLY_POINT", item.command),
            });
        }
        let alt = f32_value(item.z).ok_or_else(|| PlanWriteError::Unrepresentable {
            list: "rally",
            index,
            reason: "altitude is infinite".into(),
        })?;
        points.push(Value::Array(vec![
            lat_lon_number(item.x),
            lat_lon_number(item.y),
            alt,
        ]));
    }
    let mut o = Map::new();
    o.insert("points".into(), Value::Array(points));
    o.insert("version".into(), Value::from(2));
    Ok(Value::Object(o))
}

// ---------------------------------------------------------------------------------------------
// Numbers, shared with the .waypoints format

/// Degrees × 1e7, MISSION_ITEM_INT's scale for latitude and longitude.
pub(super) const LAT_LON_SCALE: f64 = 1e7;

/// How MISSION_ITEM_INT scales `x`/`y` for `frame`, per the MAVLink spec: degrees × 1e7 in
/// global frames, metres × 1e4 in local ones, and unscaled where they are not positions.
#[allow(deprecated)] // The *_INT global frames still arrive from older vehicles.
pub(super) fn frame_scale(frame: MavFrame) -> f64 {
    use MavFrame::*;
    match frame {
        MAV_FRAME_GLOBAL
        | MAV_FRAME_GLOBAL_RELATIVE_ALT
        | MAV_FRAME_GLOBAL_INT
        | MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
        | MAV_FRAME_GLOBAL_TERRAIN_ALT
        | MAV_FRAME_GLOBAL_TERRAIN_ALT_INT => LAT_LON_SCALE,
        MAV_FRAME_LOCAL_NED
        | MAV_FRAME_LOCAL_ENU
        | MAV_FRAME_LOCAL_OFFSET_NED
        | MAV_FRAME_BODY_NED
        | MAV_FRAME_BODY_OFFSET_NED
        | MAV_FRAME_BODY_FRD
        | MAV_FRAME_LOCAL_FRD
        | MAV_FRAME_LOCAL_FLU => 1e4,
        _ => 1.0,
    }
}

/// `x` or `y` as a file writes it (param5/param6); `None` for MAVLink's "unset" (INT32_MAX).
pub(super) fn xy_to_file(frame: MavFrame, v: i32) -> Option<f64> {
    (v != i32::MAX).then(|| f64::from(v) / frame_scale(frame))
}

/// A file's param5/param6 as `x` or `y`, rounded (never truncated) to the wire's integer;
/// `None` when it does not fit. NaN (a null) is "unset".
pub(super) fn xy_from_file(frame: MavFrame, v: f64) -> Option<i32> {
    if v.is_nan() {
        return Some(i32::MAX);
    }
    let scaled = (v * frame_scale(frame)).round();
    (scaled >= f64::from(i32::MIN) && scaled <= f64::from(i32::MAX)).then_some(scaled as i32)
}

/// The shortest decimal that reads back as the same `f32`, as an `f64`.
pub(super) fn shortest_f64(v: f32) -> f64 {
    // Display prints the shortest round-tripping form; parsing it cannot fail for a finite
    // value, and the fallback keeps non-finite ones as they are.
    format!("{v}").parse().unwrap_or(f64::from(v))
}

/// A JSON number, written as an integer when it is one (as QGroundControl does).
fn number(v: f64) -> Option<Value> {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        return Some(Value::from(v as i64));
    }
    serde_json::Number::from_f64(v).map(Value::Number)
}

/// An `f32` param: NaN is null; `None` for infinities.
fn f32_value(v: f32) -> Option<Value> {
    if v.is_nan() {
        return Some(Value::Null);
    }
    number(shortest_f64(v))
}

fn opt_number(v: Option<f64>) -> Value {
    v.and_then(number).unwrap_or(Value::Null)
}

fn lat_lon_number(v: i32) -> Value {
    opt_number(Some(f64::from(v) / LAT_LON_SCALE))
}

fn describe_f64(v: f64) -> String {
    if v.is_nan() {
        "null".into()
    } else {
        format!("{v}")
    }
}

// ---------------------------------------------------------------------------------------------
// Walking the JSON with a path for errors

/// A JSON value and where it is in the document.
struct At<'a> {
    v: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    fn root(v: &'a Value) -> At<'a> {
        At {
            v,
            path: String::new(),
        }
    }

    fn shown_path(&self) -> String {
        if self.path.is_empty() {
            "(the document)".into()
        } else {
            self.path.clone()
        }
    }

    fn fail(&self, expected: &str) -> PlanFileError {
        PlanFileError::Malformed {
            path: self.shown_path(),
            expected: expected.into(),
            found: describe(self.v),
        }
    }

    fn missing(&self, key: &str) -> PlanFileError {
        PlanFileError::MissingKey {
            path: self.shown_path(),
            key: key.into(),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.into()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn opt_key(&self, key: &str) -> Result<Option<At<'a>>, PlanFileError> {
        let Value::Object(map) = self.v else {
            return Err(self.fail("an object"));
        };
        Ok(map.get(key).map(|v| At {
            v,
            path: self.child_path(key),
        }))
    }

    fn key(&self, key: &str) -> Result<At<'a>, PlanFileError> {
        self.opt_key(key)?.ok_or_else(|| self.missing(key))
    }

    fn array(&self) -> Result<Vec<At<'a>>, PlanFileError> {
        let Value::Array(items) = self.v else {
            return Err(self.fail("an array"));
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| At {
                v,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    fn str(&self) -> Result<&'a str, PlanFileError> {
        self.v.as_str().ok_or_else(|| self.fail("a string"))
    }

    fn bool(&self) -> Result<bool, PlanFileError> {
        self.v.as_bool().ok_or_else(|| self.fail("true or false"))
    }

    fn f64(&self) -> Result<f64, PlanFileError> {
        self.v.as_f64().ok_or_else(|| self.fail("a number"))
    }

    /// An integer, also when written as `2.0`.
    fn int(&self) -> Result<i64, PlanFileError> {
        if let Some(i) = self.v.as_i64() {
            return Ok(i);
        }
        match self.v.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
            _ => Err(self.fail("an integer")),
        }
    }

    /// A float param: a number within `f32` range, or null for NaN.
    fn param(&self) -> Result<f32, PlanFileError> {
        match self.v {
            Value::Null => Ok(f32::NAN),
            Value::Number(n) => {
                let v = n.as_f64().map(|v| v as f32).unwrap_or(f32::INFINITY);
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(self.fail("a number within the range of a 32-bit float"))
                }
            }
            _ => Err(self.fail("a number or null")),
        }
    }

    fn xy(&self, frame: MavFrame) -> Result<i32, PlanFileError> {
        let v = match self.v {
            Value::Null => f64::NAN,
            Value::Number(n) => n.as_f64().unwrap_or(f64::INFINITY),
            _ => return Err(self.fail("a number or null")),
        };
        xy_from_file(frame, v).ok_or_else(|| {
            if frame_scale(frame) == LAT_LON_SCALE {
                self.fail("a coordinate in degrees within ±214.7483647")
            } else {
                self.fail("a number that fits MISSION_ITEM_INT's 32-bit x/y")
            }
        })
    }

    fn degrees(&self, limit: f64, what: &str) -> Result<i32, PlanFileError> {
        let v = self.f64()?;
        if !(-limit..=limit).contains(&v) {
            return Err(self.fail(&format!("a {what} in degrees within ±{limit}")));
        }
        // In range: |v| ≤ 180 so |v × 1e7| < 2^31.
        Ok((v * LAT_LON_SCALE).round() as i32)
    }

    fn lat_lon(&self) -> Result<(i32, i32), PlanFileError> {
        let parts = self.array()?;
        if parts.len() != 2 {
            return Err(self.fail("[latitude, longitude]"));
        }
        Ok((
            parts[0].degrees(90.0, "latitude")?,
            parts[1].degrees(180.0, "longitude")?,
        ))
    }

    fn lat_lon_alt(&self) -> Result<GeoPoint, PlanFileError> {
        let parts = self.array()?;
        if parts.len() != 3 {
            return Err(self.fail("[latitude, longitude, altitude]"));
        }
        let alt_m = parts[2].param()?;
        if alt_m.is_nan() {
            return Err(parts[2].fail("an altitude in metres"));
        }
        Ok(GeoPoint {
            lat_e7: parts[0].degrees(90.0, "latitude")?,
            lon_e7: parts[1].degrees(180.0, "longitude")?,
            alt_m,
        })
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() {
                format!("the string {short:?}…")
            } else {
                format!("the string {short:?}")
            }
        }
        Value::Array(a) => format!("an array of {} values", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QGC_PLAN: &str = include_str!("../../tests/data/formats/qgc_mission.plan");
    const QGC_SURVEY: &str = include_str!("../../tests/data/formats/qgc_survey.plan");

    fn deg(e7: i32) -> f64 {
        f64::from(e7) / 1e7
    }

    #[test]
    fn reads_a_qgroundcontrol_plan_for_ardupilot_with_home_at_seq_0() {
        let file = read_plan(QGC_PLAN, HomeItem::Seq0).expect("valid plan");
        let m = &file.plan.mission;
        let commands: Vec<MavCmd> = m.iter().map(|i| i.command).collect();
        assert_eq!(
            commands,
            [
                MavCmd::MAV_CMD_NAV_WAYPOINT, // home
                MavCmd::MAV_CMD_NAV_TAKEOFF,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavCmd::MAV_CMD_DO_CHANGE_SPEED,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH,
            ]
        );
        let seqs: Vec<u16> = m.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, (0..9).collect::<Vec<u16>>());
        // Home from plannedHomePosition, absolute altitude.
        assert_eq!(m[0].frame, MavFrame::MAV_FRAME_GLOBAL);
        assert_eq!((m[0].x, m[0].y, m[0].z), (-353632621, 1491652374, 584.19));
        assert!(m[0].current && !m[1].current);
        // Takeoff to 20 m relative; its null yaw is NaN.
        assert_eq!(m[1].frame, MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT);
        assert_eq!(m[1].z, 20.0);
        assert!(m[1].param4.is_nan());
        // Waypoint coordinates exact to 1e-7°.
        assert_eq!((m[2].x, m[2].y), (-353625823, 1491647205));
        assert!((deg(m[2].x) - -35.3625823).abs() < 1e-9);
        assert_eq!(m[3].param2, 8.0); // DO_CHANGE_SPEED to 8 m/s
        assert_eq!(m[3].frame, MavFrame::MAV_FRAME_MISSION);
        assert!(m
            .iter()
            .all(|i| i.mission_type == MavMissionType::MAV_MISSION_TYPE_MISSION));

        assert_eq!(
            file.meta.firmware_type,
            MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA
        );
        assert_eq!(file.meta.vehicle_type, MavType::MAV_TYPE_QUADROTOR);
        assert_eq!(file.meta.ground_station, "QGroundControl");
        assert_eq!(file.meta.hover_speed_m_s, 5.0);
    }

    #[test]
    fn reads_the_fence_and_rally_points_as_qgroundcontrol_uploads_them() {
        let plan = read_plan(QGC_PLAN, HomeItem::Seq0)
            .expect("valid plan")
            .plan;
        let f = &plan.fence;
        assert_eq!(f.len(), 5, "4 polygon vertices and a circle");
        for (seq, v) in f[..4].iter().enumerate() {
            assert_eq!(v.seq as usize, seq);
            assert_eq!(
                v.command,
                MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
            );
            assert_eq!(v.param1, 4.0);
            assert_eq!(v.mission_type, MavMissionType::MAV_MISSION_TYPE_FENCE);
            assert_eq!(v.frame, MavFrame::MAV_FRAME_GLOBAL);
        }
        assert_eq!((f[0].x, f[0].y), (-353597064, 1491614269));
        assert_eq!(f[4].command, MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION);
        assert_eq!(f[4].param1, 30.5);
        assert_eq!((f[4].x, f[4].y), (-353620150, 1491650810));

        let r = &plan.rally;
        assert_eq!(r.len(), 2);
        assert!(r
            .iter()
            .all(|p| p.command == MavCmd::MAV_CMD_NAV_RALLY_POINT
                && p.mission_type == MavMissionType::MAV_MISSION_TYPE_RALLY
                && p.frame == MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT));
        assert_eq!(
            (r[1].seq, r[1].x, r[1].y, r[1].z),
            (1, -353611800, 1491682670, 30.0)
        );
    }

    #[test]
    fn without_a_home_item_items_start_at_0_and_jumps_move_down_by_one() {
        let text = plan_with_items(
            r#"{"autoContinue": true, "command": 16, "doJumpId": 1, "frame": 3, "params": [0, 0, 0, null, 47.1, 8.1, 50], "type": "SimpleItem"},
               {"autoContinue": true, "command": 16, "doJumpId": 2, "frame": 3, "params": [0, 0, 0, null, 47.2, 8.2, 50], "type": "SimpleItem"},
               {"autoContinue": true, "command": 177, "doJumpId": 3, "frame": 2, "params": [2, 3, 0, 0, 0, 0, 0], "type": "SimpleItem"}"#,
        );
        let px4 = read_plan(&text, HomeItem::Absent)
            .expect("valid")
            .plan
            .mission;
        assert_eq!(px4.len(), 3);
        assert_eq!(px4[2].param1, 1.0, "doJumpId 2 is seq 1 without home");
        assert!(px4[0].current);
        let ardupilot = read_plan(&text, HomeItem::Seq0)
            .expect("valid")
            .plan
            .mission;
        assert_eq!(ardupilot.len(), 4);
        assert_eq!(ardupilot[3].param1, 2.0, "doJumpId 2 is seq 2 after home");

        // And back: the file numbering is restored from either convention.
        for (mission, home_item) in [(px4, HomeItem::Absent), (ardupilot, HomeItem::Seq0)] {
            let plan = Plan {
                mission,
                ..Plan::default()
            };
            let meta = PlanMeta {
                home_item,
                ..PlanMeta::default()
            };
            let written = write_plan(&plan, &meta).expect("writable");
            let v: Value = serde_json::from_str(&written).expect("JSON");
            assert_eq!(v["mission"]["items"][2]["params"][0], Value::from(2));
            assert_eq!(v["mission"]["items"][2]["doJumpId"], Value::from(3));
        }
    }

    #[test]
    fn survey_complex_items_are_read_from_their_transect_items() {
        let plan = read_plan(QGC_SURVEY, HomeItem::Seq0).expect("valid").plan;
        let m = &plan.mission;
        // home, takeoff, 6 survey items, a DO_JUMP back to the survey's first waypoint, RTL
        assert_eq!(m.len(), 10);
        assert_eq!(m[2].command, MavCmd::MAV_CMD_NAV_WAYPOINT);
        assert_eq!(m[3].command, MavCmd::MAV_CMD_DO_SET_CAM_TRIGG_DIST);
        assert_eq!(m[8].command, MavCmd::MAV_CMD_DO_JUMP);
        assert_eq!(
            m[8].param1, 2.0,
            "doJumpId 2 is the survey's first item, seq 2"
        );
        assert_eq!(m[9].command, MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH);
    }

    #[test]
    fn a_complex_item_without_items_is_refused_by_index_and_type() {
        let text = plan_with_items(
            r#"{"autoContinue": true, "command": 22, "doJumpId": 1, "frame": 3, "params": [0, 0, 0, null, 47.1, 8.1, 50], "type": "SimpleItem"},
               {"complexItemType": "StructureScan", "polygon": [[47.1, 8.1], [47.2, 8.1], [47.2, 8.2]], "type": "ComplexItem", "version": 3}"#,
        );
        let err = read_plan(&text, HomeItem::Seq0).expect_err("structure scans have no items");
        assert_eq!(
            err,
            PlanFileError::UnsupportedComplexItem {
                path: "mission.items[1]".into(),
                complex_item_type: "StructureScan".into()
            }
        );
        assert!(err
            .to_string()
            .starts_with("mission.items[1]: complex item \"StructureScan\""));
    }

    #[test]
    fn errors_name_the_json_path_and_what_was_expected() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"autoContinue": true, "command": 16, "doJumpId": 1, "frame": 3, "params": [0, 0, 0, 0, "x", 8.1, 50], "type": "SimpleItem"}"#,
                "mission.items[0].params[4]: expected a number or null, found the string \"x\"",
            ),
            (
                r#"{"autoContinue": true, "command": 16, "doJumpId": 1, "frame": 3, "params": [0, 0, 0], "type": "SimpleItem"}"#,
                "mission.items[0].params: expected an array of 7 numbers or nulls, found an array of 3 values",
            ),
            (
                r#"{"autoContinue": true, "command": 16, "doJumpId": 1, "frame": 3, "type": "SimpleItem"}"#,
                "mission.items[0]: missing key \"params\"",
            ),
            (
                r#"{"autoContinue": true, "command": 65000, "doJumpId": 1, "frame": 3, "params": [0, 0, 0, 0, 0, 0, 0], "type": "SimpleItem"}"#,
                "mission.items[0].command: expected a MAV_CMD number, found the number 65000",
            ),
            (
                r#"{"autoContinue": 1, "command": 16, "doJumpId": 1, "frame": 3, "params": [0, 0, 0, 0, 0, 0, 0], "type": "SimpleItem"}"#,
                "mission.items[0].autoContinue: expected true or false, found the number 1",
            ),
            (
                r#"{"autoContinue": true, "command": 16, "doJumpId": 1, "frame": 3, "params": [0, 0, 0, 0, 300, 0, 0], "type": "SimpleItem"}"#,
                "mission.items[0].params[4]: expected a coordinate in degrees within ±214.7483647, found the number 300",
            ),
            (
                r#"{"autoContinue": true, "command": 177, "doJumpId": 1, "frame": 2, "params": [9, 1, 0, 0, 0, 0, 0], "type": "SimpleItem"}"#,
                "mission.items[0]: DO_JUMP to doJumpId 9, which no item has",
            ),
            (
                r#"{"type": "Waypoint"}"#,
                "mission.items[0].type: expected \"SimpleItem\" or \"ComplexItem\", found the string \"Waypoint\"",
            ),
        ];
        for (item, message) in cases {
            let err = read_plan(&plan_with_items(item), HomeItem::Seq0).expect_err(message);
            assert_eq!(err.to_string(), *message);
        }

        let not_json = read_plan("{\n  \"fileType\": \"Plan\",\n  oops\n}", HomeItem::Seq0)
            .expect_err("not JSON");
        assert!(
            matches!(not_json, PlanFileError::NotJson { line: 3, .. }),
            "{not_json}"
        );
        let wrong_type = read_plan(r#"{"fileType": "Mission", "version": 1}"#, HomeItem::Seq0)
            .expect_err("not a plan");
        assert_eq!(
            wrong_type.to_string(),
            "fileType: expected \"Plan\", found the string \"Mission\""
        );
        let bad_fence = QGC_PLAN.replacen("\"inclusion\": true", "\"inclusion\": \"yes\"", 1);
        assert_eq!(
            read_plan(&bad_fence, HomeItem::Seq0)
                .expect_err("bad fence")
                .to_string(),
            "geoFence.polygons[0].inclusion: expected true or false, found the string \"yes\""
        );
        let bad_rally = QGC_PLAN.replacen("-35.36118", "-135.36118", 1);
        assert_eq!(
            read_plan(&bad_rally, HomeItem::Seq0)
                .expect_err("bad rally")
                .to_string(),
            "rallyPoints.points[1][0]: expected a latitude in degrees within ±90, found the number -135.36118"
        );
        assert_eq!(
            read_plan("[]", HomeItem::Seq0)
                .expect_err("array")
                .to_string(),
            "(the document): expected an object, found an array of 0 values"
        );
    }

    #[test]
    fn writes_what_it_reads_and_what_qgroundcontrol_wrote() {
        let file = read_plan(QGC_PLAN, HomeItem::Seq0).expect("valid plan");
        let written = write_plan(&file.plan, &file.meta).expect("writable");
        let back = read_plan(&written, HomeItem::Seq0).expect("reads back");
        assert!(same_list(&back.plan.mission, &file.plan.mission));
        assert!(same_list(&back.plan.fence, &file.plan.fence));
        assert!(same_list(&back.plan.rally, &file.plan.rally));
        assert_eq!(back.meta, file.meta);
        // The same JSON as QGroundControl's, coordinates rounded to MISSION_ITEM_INT's 1e-7°,
        // but for optional keys QGroundControl derives when they are absent.
        let ours: Value = serde_json::from_str(&written).expect("JSON");
        let mut theirs: Value = serde_json::from_str(QGC_PLAN).expect("JSON");
        if let Some(m) = theirs["mission"].as_object_mut() {
            m.remove("globalPlanAltitudeMode");
        }
        for item in theirs["mission"]["items"].as_array_mut().expect("items") {
            let o = item.as_object_mut().expect("item");
            for k in ["Altitude", "AltitudeMode", "AMSLAltAboveTerrain"] {
                o.remove(k);
            }
        }
        assert_close("", &ours, &theirs);
        assert!(written.starts_with("{\n    \"fileType\": \"Plan\",\n    \"geoFence\": {"));
    }

    #[test]
    fn fences_that_are_not_polygons_circles_or_a_return_point_are_refused() {
        let plan = read_plan(QGC_PLAN, HomeItem::Seq0)
            .expect("valid plan")
            .plan;
        let mut short = plan.clone();
        short.fence.remove(2);
        let err = write_plan(&short, &PlanMeta::default()).expect_err("3 of 4 vertices");
        assert_eq!(
            err.to_string(),
            "fence item 3: polygon starting at item 0 ends early: its vertex count is 4"
        );
        let mut rally = plan.clone();
        rally.rally[0].command = MavCmd::MAV_CMD_NAV_WAYPOINT;
        assert!(write_plan(&rally, &PlanMeta::default()).is_err());
        let mut infinite = plan;
        infinite.mission[2].param2 = f32::INFINITY;
        assert_eq!(
            write_plan(&infinite, &PlanMeta::default())
                .expect_err("inf")
                .to_string(),
            "mission item 1: param2 is infinite, which JSON cannot hold"
        );
    }

    /// Equal JSON, numbers within half of 1e-7 (MISSION_ITEM_INT's rounding of degrees).
    fn assert_close(path: &str, a: &Value, b: &Value) {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().expect("f64"), y.as_f64().expect("f64"));
                assert!((x - y).abs() <= 0.5e-7 + 1e-12, "{path}: {x} vs {y}");
            }
            (Value::Array(x), Value::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{path}");
                for (i, (x, y)) in x.iter().zip(y).enumerate() {
                    assert_close(&format!("{path}[{i}]"), x, y);
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                let kx: Vec<&String> = x.keys().collect();
                let ky: Vec<&String> = y.keys().collect();
                assert_eq!(kx, ky, "{path}");
                for (k, v) in x {
                    assert_close(&format!("{path}.{k}"), v, &y[k]);
                }
            }
            _ => assert_eq!(a, b, "{path}"),
        }
    }

    fn plan_with_items(items: &str) -> String {
        format!(
            r#"{{"fileType": "Plan", "version": 1, "groundStation": "QGroundControl",
                 "mission": {{"version": 2, "firmwareType": 3, "vehicleType": 2,
                              "plannedHomePosition": [47.0, 8.0, 400], "items": [{items}]}}}}"#
        )
    }

    // ---- properties

    fn same_f32(a: f32, b: f32) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    /// Equality with NaN == NaN, which is what a round trip promises.
    pub(crate) fn same_item(a: &MissionItem, b: &MissionItem) -> bool {
        a.seq == b.seq
            && a.frame == b.frame
            && a.command == b.command
            && a.current == b.current
            && a.autocontinue == b.autocontinue
            && same_f32(a.param1, b.param1)
            && same_f32(a.param2, b.param2)
            && same_f32(a.param3, b.param3)
            && same_f32(a.param4, b.param4)
            && a.x == b.x
            && a.y == b.y
            && same_f32(a.z, b.z)
            && a.mission_type == b.mission_type
    }

    fn param() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => any::<f32>().prop_filter("finite", |v| v.is_finite()),
            2 => (-1000i32..1000).prop_map(|v| v as f32 / 4.0),
            1 => Just(f32::NAN),
        ]
    }

    fn lat() -> impl Strategy<Value = i32> {
        -900_000_000i32..=900_000_000
    }

    fn lon() -> impl Strategy<Value = i32> {
        -1_800_000_000i32..=1_800_000_000
    }

    /// Mission items as a `.plan` keeps them (see the module documentation).
    fn mission_item() -> impl Strategy<Value = MissionItem> {
        let command = prop_oneof![
            Just(MavCmd::MAV_CMD_NAV_WAYPOINT),
            Just(MavCmd::MAV_CMD_NAV_TAKEOFF),
            Just(MavCmd::MAV_CMD_NAV_LOITER_TIME),
            Just(MavCmd::MAV_CMD_DO_CHANGE_SPEED),
            Just(MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH),
            Just(MavCmd::MAV_CMD_NAV_LAND),
        ];
        #[allow(deprecated)]
        let frame = prop_oneof![
            Just(MavFrame::MAV_FRAME_GLOBAL),
            Just(MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT),
            Just(MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT),
            Just(MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT),
            Just(MavFrame::MAV_FRAME_MISSION),
            Just(MavFrame::MAV_FRAME_LOCAL_NED),
        ];
        let xy = prop_oneof![8 => any::<i32>(), 1 => Just(i32::MAX)];
        (
            command,
            frame,
            any::<bool>(),
            [param(), param(), param(), param()],
            (lat(), lon(), xy),
            param(),
        )
            .prop_map(|(command, frame, autocontinue, p, (lat, lon, raw), z)| {
                let global = frame_scale(frame) == LAT_LON_SCALE;
                MissionItem {
                    seq: 0,
                    frame,
                    command,
                    current: false,
                    autocontinue,
                    param1: p[0],
                    param2: p[1],
                    param3: p[2],
                    param4: p[3],
                    x: if global { lat } else { raw },
                    y: if global { lon } else { raw },
                    z,
                    mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
                }
            })
    }

    fn point() -> impl Strategy<Value = GeoPoint> {
        (
            lat(),
            lon(),
            (-1000i32..10_000).prop_map(|a| a as f32 / 8.0),
        )
            .prop_map(|(lat_e7, lon_e7, alt_m)| GeoPoint {
                lat_e7,
                lon_e7,
                alt_m,
            })
    }

    prop_compose! {
        fn a_plan(home_item: HomeItem)(
            items in prop::collection::vec(mission_item(), 0..20),
            home in point(),
            polygons in prop::collection::vec(
                (any::<bool>(), prop::collection::vec((lat(), lon()), 3..8)), 0..3),
            circles in prop::collection::vec(
                (any::<bool>(), lat(), lon(), (1u32..100_000).prop_map(|r| r as f32 / 10.0)), 0..3),
            breach in prop::option::of(point()),
            rally in prop::collection::vec(point(), 0..5),
            jumps in prop::collection::vec(
                (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u16..10), 0..3),
        ) -> (Plan, PlanMeta) {
            let mut mission = Vec::new();
            if home_item == HomeItem::Seq0 {
                mission.push(home_item_at(home));
            }
            let first = mission.len();
            mission.extend(items);
            // DO_JUMPs to items of the mission proper (never to home).
            let proper = mission.len() - first;
            if proper > 0 {
                for (from, to, repeat) in jumps {
                    let item = &mut mission[first + from.index(proper)];
                    item.command = MavCmd::MAV_CMD_DO_JUMP;
                    item.frame = MavFrame::MAV_FRAME_MISSION;
                    item.param1 = (first + to.index(proper)) as f32;
                    item.param2 = f32::from(repeat);
                }
            }
            for (seq, item) in mission.iter_mut().enumerate() {
                item.seq = seq as u16;
                item.current = seq == 0;
            }
            let mut fence = Vec::new();
            for (inclusion, vertices) in polygons {
                let command = if inclusion {
                    MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
                } else {
                    MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
                };
                for (lat_e7, lon_e7) in &vertices {
                    fence.push(fence_item(command, MavFrame::MAV_FRAME_GLOBAL, vertices.len() as f32,
                        GeoPoint { lat_e7: *lat_e7, lon_e7: *lon_e7, alt_m: 0.0 }));
                }
            }
            for (inclusion, lat_e7, lon_e7, radius) in circles {
                let command = if inclusion {
                    MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
                } else {
                    MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
                };
                fence.push(fence_item(command, MavFrame::MAV_FRAME_GLOBAL, radius,
                    GeoPoint { lat_e7, lon_e7, alt_m: 0.0 }));
            }
            if let Some(b) = breach {
                fence.push(fence_item(MavCmd::MAV_CMD_NAV_FENCE_RETURN_POINT,
                    MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT, 0.0, b));
            }
            for (seq, item) in fence.iter_mut().enumerate() {
                item.seq = seq as u16;
            }
            let rally = rally.into_iter().enumerate().map(|(seq, p)| MissionItem {
                seq: seq as u16,
                frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                command: MavCmd::MAV_CMD_NAV_RALLY_POINT,
                current: false,
                autocontinue: false,
                param1: 0.0, param2: 0.0, param3: 0.0, param4: 0.0,
                x: p.lat_e7, y: p.lon_e7, z: p.alt_m,
                mission_type: MavMissionType::MAV_MISSION_TYPE_RALLY,
            }).collect();
            let meta = PlanMeta {
                home_item,
                planned_home: Some(home),
                ..PlanMeta::default()
            };
            (Plan { mission, fence, rally }, meta)
        }
    }

    fn same_list(a: &[MissionItem], b: &[MissionItem]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_item(x, y))
    }

    proptest! {
        #[test]
        fn write_then_read_is_the_same_plan_with_home_at_seq_0((plan, meta) in a_plan(HomeItem::Seq0)) {
            let text = write_plan(&plan, &meta).expect("writable");
            let back = read_plan(&text, HomeItem::Seq0).expect("readable");
            prop_assert!(same_list(&back.plan.mission, &plan.mission), "{:#?}\n{}", back.plan.mission, text);
            prop_assert!(same_list(&back.plan.fence, &plan.fence));
            prop_assert!(same_list(&back.plan.rally, &plan.rally));
            prop_assert_eq!(back.meta, meta);
        }

        #[test]
        fn write_then_read_is_the_same_plan_without_home((plan, meta) in a_plan(HomeItem::Absent)) {
            let text = write_plan(&plan, &meta).expect("writable");
            let back = read_plan(&text, HomeItem::Absent).expect("readable");
            prop_assert!(same_list(&back.plan.mission, &plan.mission));
            prop_assert!(same_list(&back.plan.fence, &plan.fence));
            prop_assert!(same_list(&back.plan.rally, &plan.rally));
            prop_assert_eq!(back.meta.planned_home, meta.planned_home);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = read_plan(&text, HomeItem::Seq0);
            let _ = read_plan(&text, HomeItem::Absent);
        }

        #[test]
        fn arbitrary_json_never_panics(v in arbitrary_json()) {
            let _ = read_plan(&v.to_string(), HomeItem::Seq0);
        }

        #[test]
        fn a_damaged_real_plan_never_panics(
            cuts in prop::collection::vec((0usize..QGC_PLAN.len(), 0usize..30, ".{0,6}"), 1..4),
        ) {
            let mut text = QGC_PLAN.to_owned();
            for (at, len, with) in cuts {
                let start = floor_char_boundary(&text, at.min(text.len()));
                let end = floor_char_boundary(&text, (start + len).min(text.len()));
                text.replace_range(start..end, &with);
            }
            let _ = read_plan(&text, HomeItem::Seq0);
            let _ = read_plan(&text, HomeItem::Absent);
        }

        #[test]
        fn a_real_plan_with_any_value_replaced_never_panics(
            path in prop::collection::vec(0usize..12, 1..7),
            replacement in arbitrary_json(),
        ) {
            let mut v: Value = serde_json::from_str(QGC_PLAN).expect("JSON");
            replace_at(&mut v, &path, replacement);
            let _ = read_plan(&v.to_string(), HomeItem::Seq0);
            let _ = read_plan(&v.to_string(), HomeItem::Absent);
        }
    }

    fn floor_char_boundary(s: &str, mut i: usize) -> usize {
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    /// Walks `path` (indices into arrays and into objects' sorted keys) and replaces the
    /// value it ends on.
    fn replace_at(v: &mut Value, path: &[usize], replacement: Value) {
        let Some((&first, rest)) = path.split_first() else {
            *v = replacement;
            return;
        };
        let next = match v {
            Value::Array(a) if !a.is_empty() => {
                let n = a.len();
                &mut a[first % n]
            }
            Value::Object(o) if !o.is_empty() => {
                let n = o.len();
                let Some(key) = o.keys().nth(first % n).cloned() else {
                    return;
                };
                let Some(next) = o.get_mut(&key) else {
                    return;
                };
                next
            }
            _ => {
                *v = replacement;
                return;
            }
        };
        replace_at(next, rest, replacement);
    }

    pub(crate) fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            prop_oneof![
                Just("Plan".to_owned()),
                Just("SimpleItem".to_owned()),
                Just("ComplexItem".to_owned()),
                ".{0,10}"
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("fileType".to_owned()),
                            Just("version".to_owned()),
                            Just("mission".to_owned()),
                            Just("items".to_owned()),
                            Just("params".to_owned()),
                            Just("type".to_owned()),
                            Just("geoFence".to_owned()),
                            Just("polygons".to_owned()),
                            "[a-z]{1,8}"
                        ],
                        inner
                    ),
                    0..8
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }
}
