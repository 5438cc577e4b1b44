//! Verify after upload: compare the plan sent with the one read back.

use crate::dialect::{MavFrame, MavMissionType};
use crate::mission::MissionItem;

/// One way the vehicle's copy differs from what was uploaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// The vehicle holds a different number of items; the common prefix is still compared.
    Count { uploaded: usize, downloaded: usize },
    /// Item `seq` differs in `fields` (names as in [`MissionItem`]).
    Item {
        seq: u16,
        fields: Vec<&'static str>,
        uploaded: MissionItem,
        downloaded: MissionItem,
    },
}

/// The differences between an uploaded list and the downloaded one, empty when the vehicle
/// kept everything. Integers (coordinates, command, frame) compare exactly and parameters as
/// `f32` (NaN equals NaN: "unset" in several commands). Tolerated, because vehicles rewrite
/// them without changing the plan: item 0 of a mission (ArduPilot stores its home position
/// there), the `current` flag (execution state, not plan), and `_INT` frame variants coming
/// back as their plain twins.
pub fn verify(
    mission_type: MavMissionType,
    uploaded: &[MissionItem],
    downloaded: &[MissionItem],
) -> Vec<Difference> {
    let mut differences = Vec::new();
    if uploaded.len() != downloaded.len() {
        differences.push(Difference::Count {
            uploaded: uploaded.len(),
            downloaded: downloaded.len(),
        });
    }
    let skip_home = usize::from(mission_type == MavMissionType::MAV_MISSION_TYPE_MISSION);
    for (seq, (up, down)) in (0u16..)
        .zip(uploaded.iter().zip(downloaded))
        .skip(skip_home)
    {
        let fields = differing_fields(up, down);
        if !fields.is_empty() {
            differences.push(Difference::Item {
                seq,
                fields,
                uploaded: up.clone(),
                downloaded: down.clone(),
            });
        }
    }
    differences
}

fn differing_fields(a: &MissionItem, b: &MissionItem) -> Vec<&'static str> {
    let same_f32 = |x: f32, y: f32| x == y || (x.is_nan() && y.is_nan());
    let mut fields = Vec::new();
    if plain_frame(a.frame) != plain_frame(b.frame) {
        fields.push("frame");
    }
    if a.command != b.command {
        fields.push("command");
    }
    if a.autocontinue != b.autocontinue {
        fields.push("autocontinue");
    }
    for (name, x, y) in [
        ("param1", a.param1, b.param1),
        ("param2", a.param2, b.param2),
        ("param3", a.param3, b.param3),
        ("param4", a.param4, b.param4),
        ("z", a.z, b.z),
    ] {
        if !same_f32(x, y) {
            fields.push(name);
        }
    }
    if a.x != b.x {
        fields.push("x");
    }
    if a.y != b.y {
        fields.push("y");
    }
    fields
}

/// The `_INT` frames mean the same as their plain twins in MISSION_ITEM_INT; ArduPilot
/// stores one and returns the other.
fn plain_frame(frame: MavFrame) -> MavFrame {
    match frame {
        MavFrame::MAV_FRAME_GLOBAL_INT => MavFrame::MAV_FRAME_GLOBAL,
        MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT => MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT_INT => MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT,
        other => other,
    }
}
