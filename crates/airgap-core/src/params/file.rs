//! Parameter files: Mission Planner's and MAVProxy's `.param` (`NAME,VALUE` or `NAME VALUE`,
//! `#` comments) and QGroundControl's `.params` (`Vehicle-Id Component-Id Name Value Type`,
//! tab-separated, with `#` header lines), read and written; and the difference between two
//! parameter sets, with the tolerance a 32-bit float deserves.
//!
//! A `.param` file holds no types. Its parameters come back as MAV_PARAM_TYPE_REAL32, with
//! whole numbers kept exactly (an INT32 bitmask above 2^24 survives) and fractions rounded to
//! the nearest `f32`, which is what a vehicle would report; [`ParamFile::typed`] is false. The
//! parameter protocol sets a value with the vehicle's own type, so the placeholder type is
//! never sent.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use num_traits::FromPrimitive;

use super::Param;
use crate::dialect::MavParamType;

/// The longest name PARAM_VALUE can carry.
pub const MAX_NAME_LEN: usize = 16;

/// A parameter file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Mission Planner / MAVProxy `.param` (also `.parm`, ArduPilot's own defaults files).
    MissionPlanner,
    /// QGroundControl `.params`.
    QGroundControl,
}

impl Format {
    /// The format a file name's extension says: `.param`/`.parm` or `.params`.
    pub fn from_path(path: &Path) -> Result<Format, ParamFileError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("param") | Some("parm") => Ok(Format::MissionPlanner),
            Some("params") => Ok(Format::QGroundControl),
            _ => Err(ParamFileError::UnknownExtension {
                path: path.display().to_string(),
            }),
        }
    }
}

/// Which vehicle and component a QGroundControl `.params` file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSource {
    pub system_id: u8,
    pub component_id: u8,
}

impl Default for ParamSource {
    /// The first vehicle's autopilot.
    fn default() -> Self {
        ParamSource {
            system_id: 1,
            component_id: 1,
        }
    }
}

/// A parameter file as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamFile {
    /// In file order.
    pub params: Vec<Param>,
    /// Whether the file gave each parameter's type (`.params` does, `.param` does not).
    pub typed: bool,
    /// The vehicle and component of a `.params` file's rows.
    pub source: Option<ParamSource>,
}

/// Why a parameter file could not be read or written. Lines are numbered from 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamFileError {
    #[error("{path}: not a parameter file name; expected .param (Mission Planner, MAVProxy) or .params (QGroundControl)")]
    UnknownExtension { path: String },
    #[error("line {line}: expected {expected}, found {found:?}")]
    Malformed {
        line: usize,
        expected: &'static str,
        found: String,
    },
    #[error("line {line}: parameter name {name:?}: {reason}")]
    BadName {
        line: usize,
        name: String,
        reason: &'static str,
    },
    #[error("line {line}: {name} = {value}: {reason}")]
    BadValue {
        line: usize,
        name: String,
        value: String,
        reason: &'static str,
    },
    #[error("line {line}: {name} again (first on line {first_line})")]
    Duplicate {
        line: usize,
        name: String,
        first_line: usize,
    },
    #[error("line {line}: component {found}, but line {first_line} is component {expected}; a file holds one component's parameters")]
    MixedComponents {
        line: usize,
        found: String,
        expected: String,
        first_line: usize,
    },
    /// Only when writing: the name could not be read back.
    #[error("parameter name {name:?}: {reason}")]
    Unwritable { name: String, reason: &'static str },
}

/// Reads a parameter file in `format`.
pub fn read_param_file(text: &str, format: Format) -> Result<ParamFile, ParamFileError> {
    let mut params = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut source: Option<(ParamSource, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim_start_matches('\u{feff}').trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let param = match format {
            Format::MissionPlanner => read_mission_planner_line(line, content)?,
            Format::QGroundControl => {
                let (param, row_source) = read_qgc_line(line, content)?;
                match source {
                    None => source = Some((row_source, line)),
                    Some((first, first_line)) if first != row_source => {
                        return Err(ParamFileError::MixedComponents {
                            line,
                            found: format!("{}/{}", row_source.system_id, row_source.component_id),
                            expected: format!("{}/{}", first.system_id, first.component_id),
                            first_line,
                        });
                    }
                    Some(_) => {}
                }
                param
            }
        };
        if let Some(&first_line) = seen.get(&param.name) {
            return Err(ParamFileError::Duplicate {
                line,
                name: param.name,
                first_line,
            });
        }
        seen.insert(param.name.clone(), line);
        params.push(param);
    }
    Ok(ParamFile {
        params,
        typed: format == Format::QGroundControl,
        source: source.map(|(s, _)| s),
    })
}

fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("longer than the 16 characters MAVLink allows");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b',' && b != b'#')
    {
        return Err("only printable ASCII without spaces, commas or '#' is allowed");
    }
    Ok(())
}

fn read_mission_planner_line(line: usize, content: &str) -> Result<Param, ParamFileError> {
    // MAVProxy writes a trailing `# comment` after some values; Mission Planner separates
    // with a comma, MAVProxy with spaces or a tab.
    let content = content.split('#').next().unwrap_or_default();
    let fields: Vec<&str> = content
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    let [name, value] = fields[..] else {
        return Err(ParamFileError::Malformed {
            line,
            expected: "NAME,VALUE or NAME VALUE",
            found: content.chars().take(60).collect(),
        });
    };
    check_name(name).map_err(|reason| ParamFileError::BadName {
        line,
        name: name.chars().take(40).collect(),
        reason,
    })?;
    let bad = |reason| ParamFileError::BadValue {
        line,
        name: name.to_owned(),
        value: value.chars().take(40).collect(),
        reason,
    };
    let v: f64 = value.parse().map_err(|_| bad("not a number"))?;
    if !v.is_finite() {
        return Err(bad("not a finite number"));
    }
    // Whole numbers an f64 holds exactly stay exact (integer parameters); anything else can
    // only be a REAL32 here.
    let value = if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        v
    } else {
        f64::from(v as f32)
    };
    Ok(Param {
        name: name.to_owned(),
        value,
        param_type: MavParamType::MAV_PARAM_TYPE_REAL32,
    })
}

fn read_qgc_line(line: usize, content: &str) -> Result<(Param, ParamSource), ParamFileError> {
    let fields: Vec<&str> = content.split_whitespace().collect();
    let [system, component, name, value, type_number] = fields[..] else {
        return Err(ParamFileError::Malformed {
            line,
            expected: "5 tab-separated fields: Vehicle-Id Component-Id Name Value Type",
            found: content.chars().take(60).collect(),
        });
    };
    let id = |field: &str, expected| {
        field.parse::<u8>().map_err(|_| ParamFileError::Malformed {
            line,
            expected,
            found: field.chars().take(20).collect(),
        })
    };
    let source = ParamSource {
        system_id: id(system, "a vehicle id from 0 to 255")?,
        component_id: id(component, "a component id from 0 to 255")?,
    };
    check_name(name).map_err(|reason| ParamFileError::BadName {
        line,
        name: name.chars().take(40).collect(),
        reason,
    })?;
    let param_type = type_number
        .parse::<u32>()
        .ok()
        .and_then(MavParamType::from_u32)
        .ok_or_else(|| ParamFileError::Malformed {
            line,
            expected: "a MAV_PARAM_TYPE number from 1 to 10",
            found: type_number.chars().take(20).collect(),
        })?;
    let bad = |reason| ParamFileError::BadValue {
        line,
        name: name.to_owned(),
        value: value.chars().take(40).collect(),
        reason,
    };
    let v: f64 = value.parse().map_err(|_| bad("not a number"))?;
    let value = typed_value(v, param_type).map_err(bad)?;
    Ok((
        Param {
            name: name.to_owned(),
            value,
            param_type,
        },
        source,
    ))
}

/// `v` as a value of `param_type` holds it, or why it cannot.
fn typed_value(v: f64, param_type: MavParamType) -> Result<f64, &'static str> {
    use MavParamType::*;
    if !v.is_finite() {
        return Err("not a finite number");
    }
    let range = match param_type {
        MAV_PARAM_TYPE_REAL32 => return Ok(f64::from(v as f32)),
        MAV_PARAM_TYPE_REAL64 => return Ok(v),
        MAV_PARAM_TYPE_UINT8 => (0.0, 255.0),
        MAV_PARAM_TYPE_INT8 => (-128.0, 127.0),
        MAV_PARAM_TYPE_UINT16 => (0.0, 65_535.0),
        MAV_PARAM_TYPE_INT16 => (-32_768.0, 32_767.0),
        MAV_PARAM_TYPE_UINT32 => (0.0, 4_294_967_295.0),
        MAV_PARAM_TYPE_INT32 => (-2_147_483_648.0, 2_147_483_647.0),
        MAV_PARAM_TYPE_UINT64 => (0.0, 18_446_744_073_709_551_615.0),
        MAV_PARAM_TYPE_INT64 => (-9_223_372_036_854_775_808.0, 9_223_372_036_854_775_807.0),
    };
    if v.fract() != 0.0 {
        return Err("not a whole number, which its integer type needs");
    }
    if v < range.0 || v > range.1 {
        return Err("out of its integer type's range");
    }
    Ok(v)
}

fn is_integer_type(t: MavParamType) -> bool {
    !matches!(
        t,
        MavParamType::MAV_PARAM_TYPE_REAL32 | MavParamType::MAV_PARAM_TYPE_REAL64
    )
}

/// A value as text that reads back as the same value of its type: integers as integers,
/// REAL32 in the shortest form that gives back the same `f32`.
fn format_value(p: &Param) -> String {
    if p.value.fract() == 0.0 && p.value.abs() < 1e17 {
        // Whole numbers of any type, without a fraction: "1", not "1.0".
        return format!("{}", p.value as i64);
    }
    if p.param_type == MavParamType::MAV_PARAM_TYPE_REAL32 || !is_integer_type(p.param_type) {
        let as_f32 = p.value as f32;
        if f64::from(as_f32) == p.value {
            return format!("{as_f32}");
        }
    }
    format!("{}", p.value)
}

/// Writes `params` in `format`, sorted by name as both programs write them. `source` fills
/// QGroundControl's Vehicle-Id and Component-Id columns.
pub fn write_param_file(
    params: &[Param],
    format: Format,
    source: ParamSource,
) -> Result<String, ParamFileError> {
    let mut sorted: Vec<&Param> = params.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::with_capacity(32 * (params.len() + 8));
    // Writing into a String cannot fail.
    match format {
        Format::MissionPlanner => {
            out.push_str("# Written by Airgap\n");
        }
        Format::QGroundControl => {
            let _ = write!(
                out,
                "# Onboard parameters for Vehicle {}\n#\n# Vehicle-Id Component-Id Name Value Type\n",
                source.system_id
            );
        }
    }
    for p in sorted {
        check_name(&p.name).map_err(|reason| ParamFileError::Unwritable {
            name: p.name.chars().take(40).collect(),
            reason,
        })?;
        if !p.value.is_finite() {
            return Err(ParamFileError::Unwritable {
                name: p.name.clone(),
                reason: "its value is not a finite number",
            });
        }
        let value = format_value(p);
        match format {
            Format::MissionPlanner => {
                let _ = writeln!(out, "{},{value}", p.name);
            }
            Format::QGroundControl => {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{value}\t{}",
                    source.system_id, source.component_id, p.name, p.param_type as u32
                );
            }
        }
    }
    Ok(out)
}

/// A parameter whose value differs between the two sides of a [`diff`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParamChange {
    pub left: Param,
    pub right: Param,
}

/// What differs between two parameter sets, each list sorted by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamDiff {
    pub changed: Vec<ParamChange>,
    pub only_left: Vec<Param>,
    pub only_right: Vec<Param>,
}

impl ParamDiff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.only_left.is_empty() && self.only_right.is_empty()
    }
}

/// Whether two values of a parameter are the same. Where either side is an integer type they
/// must match exactly. Between floats (or untyped `.param` values) they match when they are
/// the same `f32` or within one `f32` step of each other: a REAL32 printed with 7 significant digits
/// (as Mission Planner does) may read back one step away, and that is not a change.
pub fn same_value(a: &Param, b: &Param) -> bool {
    if a.value == b.value || (a.value.is_nan() && b.value.is_nan()) {
        return true;
    }
    let real64 = |p: &Param| p.param_type == MavParamType::MAV_PARAM_TYPE_REAL64;
    // An integer parameter's value is exact on both sides (a `.param` keeps whole numbers).
    if is_integer_type(a.param_type) || is_integer_type(b.param_type) {
        return false;
    }
    let scale = a.value.abs().max(b.value.abs());
    if real64(a) && real64(b) {
        return (a.value - b.value).abs() <= f64::EPSILON * scale;
    }
    (a.value as f32) == (b.value as f32)
        || (a.value - b.value).abs() <= f64::from(f32::EPSILON) * scale
}

/// What differs between `left` (say, the vehicle) and `right` (say, a file). A name present
/// twice on one side counts once, with its last value.
pub fn diff(left: &[Param], right: &[Param]) -> ParamDiff {
    let by_name = |ps: &[Param]| -> BTreeMap<String, Param> {
        ps.iter().map(|p| (p.name.clone(), p.clone())).collect()
    };
    let left = by_name(left);
    let mut right = by_name(right);
    let mut out = ParamDiff::default();
    for (name, l) in left {
        match right.remove(&name) {
            Some(r) if same_value(&l, &r) => {}
            Some(r) => out.changed.push(ParamChange { left: l, right: r }),
            None => out.only_left.push(l),
        }
    }
    out.only_right = right.into_values().collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use MavParamType::*;

    const MP_PARAM: &str = include_str!("../../tests/data/formats/arducopter.param");
    const QGC_PARAMS: &str = include_str!("../../tests/data/formats/arducopter.params");

    fn p(name: &str, value: f64, param_type: MavParamType) -> Param {
        Param {
            name: name.into(),
            value,
            param_type,
        }
    }

    fn value_of(file: &ParamFile, name: &str) -> f64 {
        file.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn format_from_the_extension() {
        assert_eq!(
            Format::from_path(Path::new("/tmp/copter.param")),
            Ok(Format::MissionPlanner)
        );
        assert_eq!(
            Format::from_path(Path::new("copter.PARM")),
            Ok(Format::MissionPlanner)
        );
        assert_eq!(
            Format::from_path(Path::new("copter.params")),
            Ok(Format::QGroundControl)
        );
        assert_eq!(
            Format::from_path(Path::new("copter.txt"))
                .expect_err("not a param file")
                .to_string(),
            "copter.txt: not a parameter file name; expected .param (Mission Planner, MAVProxy) or .params (QGroundControl)"
        );
    }

    #[test]
    fn reads_a_mission_planner_file() {
        let file = read_param_file(MP_PARAM, Format::MissionPlanner).expect("valid");
        assert!(!file.typed);
        assert_eq!(file.source, None);
        assert_eq!(file.params.len(), 12);
        assert_eq!(value_of(&file, "ACRO_BAL_PITCH"), 1.0);
        // Fractions are REAL32 values as the vehicle holds them.
        assert_eq!(value_of(&file, "ATC_ANG_PIT_P"), f64::from(4.5f32));
        assert_eq!(value_of(&file, "ATC_RAT_PIT_I"), f64::from(0.135f32));
        assert_eq!(
            value_of(&file, "INS_GYROFFS_X"),
            f64::from(-0.002_374_612f32)
        );
        assert_eq!(value_of(&file, "LOG_BITMASK"), 176_126.0);
        // An INT32 beyond f32's 2^24 stays exact.
        assert_eq!(value_of(&file, "BRD_SERIAL_NUM"), 16_777_217.0);
        assert!(file
            .params
            .iter()
            .all(|p| p.param_type == MAV_PARAM_TYPE_REAL32));
    }

    #[test]
    fn reads_mavproxy_s_spaces_tabs_and_trailing_comments() {
        let text = "# MAVProxy\nFRAME_CLASS      1\nFRAME_TYPE\t1 # X frame\n\n  RTL_ALT 1500  \n";
        let file = read_param_file(text, Format::MissionPlanner).expect("valid");
        let names: Vec<&str> = file.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["FRAME_CLASS", "FRAME_TYPE", "RTL_ALT"]);
        assert_eq!(value_of(&file, "RTL_ALT"), 1500.0);
    }

    #[test]
    fn reads_a_qgroundcontrol_file_with_types() {
        let file = read_param_file(QGC_PARAMS, Format::QGroundControl).expect("valid");
        assert!(file.typed);
        assert_eq!(
            file.source,
            Some(ParamSource {
                system_id: 1,
                component_id: 1
            })
        );
        assert_eq!(file.params.len(), 12);
        let find = |n: &str| file.params.iter().find(|p| p.name == n).expect(n);
        assert_eq!(find("ACRO_BAL_PITCH").param_type, MAV_PARAM_TYPE_REAL32);
        assert_eq!(find("FRAME_CLASS").param_type, MAV_PARAM_TYPE_INT8);
        assert_eq!(find("LOG_BITMASK").param_type, MAV_PARAM_TYPE_INT32);
        assert_eq!(find("BRD_SERIAL_NUM").value, 16_777_217.0);
        assert_eq!(find("SYSID_THISMAV").param_type, MAV_PARAM_TYPE_INT16);
        assert_eq!(find("INS_GYROFFS_X").value, f64::from(-0.002_374_612f32));
        assert_eq!(find("ATC_RAT_PIT_I").value, f64::from(0.135f32));
    }

    #[test]
    fn the_same_vehicle_in_both_formats_has_no_differences() {
        let mp = read_param_file(MP_PARAM, Format::MissionPlanner).expect("valid");
        let qgc = read_param_file(QGC_PARAMS, Format::QGroundControl).expect("valid");
        let d = diff(&qgc.params, &mp.params);
        assert!(d.is_empty(), "{d:#?}");
    }

    #[test]
    fn diff_reports_changes_and_what_only_one_side_has() {
        let vehicle = [
            p("A_FLOAT", f64::from(0.1f32), MAV_PARAM_TYPE_REAL32),
            p("B_INT", 5.0, MAV_PARAM_TYPE_INT16),
            p("C_FLOAT", 2.5, MAV_PARAM_TYPE_REAL32),
            p("D_ONLY_VEHICLE", 1.0, MAV_PARAM_TYPE_INT8),
        ];
        let file = [
            // 0.1 as written in a file: the same REAL32.
            p("A_FLOAT", 0.1, MAV_PARAM_TYPE_REAL32),
            p("B_INT", 6.0, MAV_PARAM_TYPE_REAL32),
            // One f32 step away: the same, printed with 7 digits.
            p(
                "C_FLOAT",
                f64::from(f32::from_bits(2.5f32.to_bits() + 1)),
                MAV_PARAM_TYPE_REAL32,
            ),
            p("E_ONLY_FILE", 3.0, MAV_PARAM_TYPE_REAL32),
        ];
        let d = diff(&vehicle, &file);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].left.name, "B_INT");
        assert_eq!(
            (d.changed[0].left.value, d.changed[0].right.value),
            (5.0, 6.0)
        );
        assert_eq!(d.only_left, [vehicle[3].clone()]);
        assert_eq!(d.only_right, [file[3].clone()]);

        // Two f32 steps apart is a change; integers must match exactly.
        let two_steps = f64::from(f32::from_bits(2.5f32.to_bits() + 2));
        assert!(!same_value(
            &p("X", 2.5, MAV_PARAM_TYPE_REAL32),
            &p("X", two_steps, MAV_PARAM_TYPE_REAL32)
        ));
        assert!(!same_value(
            &p("X", 16_777_216.0, MAV_PARAM_TYPE_INT32),
            &p("X", 16_777_217.0, MAV_PARAM_TYPE_INT32)
        ));
        assert!(same_value(
            &p("X", 0.0, MAV_PARAM_TYPE_REAL32),
            &p("X", -0.0, MAV_PARAM_TYPE_REAL32)
        ));
    }

    #[test]
    fn writes_both_formats_sorted_and_exact() {
        let params = [
            p("RTL_ALT", 1500.0, MAV_PARAM_TYPE_INT32),
            p("ATC_RAT_PIT_I", f64::from(0.135f32), MAV_PARAM_TYPE_REAL32),
            p("FRAME_CLASS", 1.0, MAV_PARAM_TYPE_INT8),
        ];
        let mp = write_param_file(&params, Format::MissionPlanner, ParamSource::default())
            .expect("writable");
        assert_eq!(
            mp,
            "# Written by Airgap\nATC_RAT_PIT_I,0.135\nFRAME_CLASS,1\nRTL_ALT,1500\n"
        );
        let qgc = write_param_file(
            &params,
            Format::QGroundControl,
            ParamSource {
                system_id: 2,
                component_id: 1,
            },
        )
        .expect("writable");
        assert_eq!(
            qgc,
            "# Onboard parameters for Vehicle 2\n#\n# Vehicle-Id Component-Id Name Value Type\n\
             2\t1\tATC_RAT_PIT_I\t0.135\t9\n2\t1\tFRAME_CLASS\t1\t2\n2\t1\tRTL_ALT\t1500\t6\n"
        );
        let long = [p("A_NAME_LONGER_THAN_16", 1.0, MAV_PARAM_TYPE_INT8)];
        assert!(write_param_file(&long, Format::MissionPlanner, ParamSource::default()).is_err());
        let nan = [p("NAN", f64::NAN, MAV_PARAM_TYPE_REAL32)];
        assert!(write_param_file(&nan, Format::QGroundControl, ParamSource::default()).is_err());
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        let mp: &[(&str, &str)] = &[
            ("A,1\nB\n", "line 2: expected NAME,VALUE or NAME VALUE, found \"B\""),
            ("A,1\nB,1,2\n", "line 2: expected NAME,VALUE or NAME VALUE, found \"B,1,2\""),
            ("\n\nRTL_ALT,high\n", "line 3: RTL_ALT = high: not a number"),
            ("RTL_ALT,inf\n", "line 1: RTL_ALT = inf: not a finite number"),
            (
                "A_NAME_LONGER_THAN_16,1\n",
                "line 1: parameter name \"A_NAME_LONGER_THAN_16\": longer than the 16 characters MAVLink allows",
            ),
            ("A,1\n# c\nA,2\n", "line 3: A again (first on line 1)"),
        ];
        for (text, message) in mp {
            let err = read_param_file(text, Format::MissionPlanner).expect_err(message);
            assert_eq!(err.to_string(), *message);
        }
        let qgc: &[(&str, &str)] = &[
            (
                "1\t1\tA\t1\n",
                "line 1: expected 5 tab-separated fields: Vehicle-Id Component-Id Name Value Type, found \"1\\t1\\tA\\t1\"",
            ),
            ("1\t1\tA\t1\t11\n", "line 1: expected a MAV_PARAM_TYPE number from 1 to 10, found \"11\""),
            ("1\t1\tA\t1.5\t2\n", "line 1: A = 1.5: not a whole number, which its integer type needs"),
            ("1\t1\tA\t300\t1\n", "line 1: A = 300: out of its integer type's range"),
            ("256\t1\tA\t1\t1\n", "line 1: expected a vehicle id from 0 to 255, found \"256\""),
            (
                "1\t1\tA\t1\t1\n1\t100\tB\t1\t1\n",
                "line 2: component 1/100, but line 1 is component 1/1; a file holds one component's parameters",
            ),
        ];
        for (text, message) in qgc {
            let err = read_param_file(text, Format::QGroundControl).expect_err(message);
            assert_eq!(err.to_string(), *message);
        }
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Z][A-Z0-9_]{0,15}"
    }

    fn typed_param() -> impl Strategy<Value = (MavParamType, f64)> {
        prop_oneof![
            any::<u8>().prop_map(|v| (MAV_PARAM_TYPE_UINT8, f64::from(v))),
            any::<i8>().prop_map(|v| (MAV_PARAM_TYPE_INT8, f64::from(v))),
            any::<u16>().prop_map(|v| (MAV_PARAM_TYPE_UINT16, f64::from(v))),
            any::<i16>().prop_map(|v| (MAV_PARAM_TYPE_INT16, f64::from(v))),
            any::<u32>().prop_map(|v| (MAV_PARAM_TYPE_UINT32, f64::from(v))),
            any::<i32>().prop_map(|v| (MAV_PARAM_TYPE_INT32, f64::from(v))),
            any::<f32>()
                .prop_filter("finite", |v| v.is_finite())
                .prop_map(|v| (MAV_PARAM_TYPE_REAL32, f64::from(v))),
            any::<f64>()
                .prop_filter("finite", |v| v.is_finite())
                .prop_map(|v| (MAV_PARAM_TYPE_REAL64, v)),
        ]
    }

    fn param_set() -> impl Strategy<Value = Vec<Param>> {
        prop::collection::btree_map(name(), typed_param(), 0..40).prop_map(|m| {
            m.into_iter()
                .map(|(name, (param_type, value))| Param {
                    name,
                    value,
                    param_type,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn qgroundcontrol_write_then_read_is_the_same_set(params in param_set(), sys in any::<u8>(), comp in any::<u8>()) {
            let source = ParamSource { system_id: sys, component_id: comp };
            let text = write_param_file(&params, Format::QGroundControl, source).expect("writable");
            let back = read_param_file(&text, Format::QGroundControl).expect("readable");
            prop_assert_eq!(&back.params, &params, "{}", text);
            prop_assert_eq!(back.source, (!params.is_empty()).then_some(source));
        }

        #[test]
        fn mission_planner_write_then_read_keeps_every_value(params in param_set()) {
            // The REAL64 values a .param cannot type come back as the nearest REAL32.
            let params: Vec<Param> = params
                .into_iter()
                .filter(|p| p.param_type != MAV_PARAM_TYPE_REAL64)
                .collect();
            let text = write_param_file(&params, Format::MissionPlanner, ParamSource::default())
                .expect("writable");
            let back = read_param_file(&text, Format::MissionPlanner).expect("readable");
            prop_assert_eq!(back.params.len(), params.len());
            for (a, b) in back.params.iter().zip(&params) {
                prop_assert_eq!(&a.name, &b.name);
                prop_assert_eq!(a.value, b.value, "{}", text);
            }
            prop_assert!(diff(&params, &back.params).is_empty());
        }

        #[test]
        fn diff_of_a_set_with_itself_is_empty_and_sides_swap(a in param_set(), b in param_set()) {
            prop_assert!(diff(&a, &a).is_empty());
            let ab = diff(&a, &b);
            let ba = diff(&b, &a);
            prop_assert_eq!(&ab.only_left, &ba.only_right);
            prop_assert_eq!(&ab.only_right, &ba.only_left);
            prop_assert_eq!(ab.changed.len(), ba.changed.len());
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[A-Z0-9_,.#\t \n-]{0,300}") {
            let _ = read_param_file(&text, Format::MissionPlanner);
            let _ = read_param_file(&text, Format::QGroundControl);
        }

        #[test]
        fn any_unicode_never_panics(text in ".{0,300}") {
            let _ = read_param_file(&text, Format::MissionPlanner);
            let _ = read_param_file(&text, Format::QGroundControl);
        }
    }
}
