//! Interop of the mission and parameter protocols with pymavlink playing the vehicle
//! (tests/interop/vehicle_protocols.py, an implementation that is not ours and behaves like
//! ArduPilot), over real loopback UDP: what `airgap mission upload` sends must be what the
//! vehicle stores, what `airgap mission download` and `airgap params download` write must be
//! what the vehicle holds, and `airgap params set` must change exactly what it says, also when
//! the vehicle ignores every 4th message.
//!
//! The vehicle listens (`udpin`) and each `airgap` run connects to it (`udpout`), so several
//! runs can talk to one vehicle in turn; it prints what it holds as JSON once no ground station
//! has spoken for `IDLE_EXIT_S`. Expected values are computed here from the files, not by
//! Airgap's own readers, so a shared misreading cannot hide.

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use common::{
    free_udp_port, python, script, wait_for_udp_listener, Finished, Proc, ScratchDir, AIRGAP,
};
use serde_json::{json, Value};

/// How long the vehicle lingers after the last frame from a ground station: long enough for
/// the next `airgap` run of a test to start, short enough to keep the tests quick.
const IDLE_EXIT_S: &str = "3";
/// The vehicle's own upper bound, below the test's, so a stuck test still gets its JSON.
const VEHICLE_MAX_S: &str = "100";
/// One `airgap` run. With every 4th message ignored an upload with verify waits out
/// re-request timeouts many times over.
const CLI_TIMEOUT: Duration = Duration::from_secs(90);
const VEHICLE_TIMEOUT: Duration = Duration::from_secs(110);
const SYSID: &str = "17";

// MAVLink numbers the expectations are written in (common.xml), spelled out so that the test
// does not lean on the dialect code it checks.
const MAV_CMD_NAV_WAYPOINT: u64 = 16;
const MAV_CMD_NAV_LAND: u64 = 21;
const MAV_CMD_NAV_TAKEOFF: u64 = 22;
const MAV_CMD_DO_CHANGE_SPEED: u64 = 178;
const MAV_CMD_DO_JUMP: u64 = 177;
const MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION: u64 = 5001;
const MAV_CMD_NAV_RALLY_POINT: u64 = 5100;
const MAV_FRAME_GLOBAL: u64 = 0;
const MAV_FRAME_MISSION: u64 = 2;
const MAV_FRAME_GLOBAL_RELATIVE_ALT: u64 = 3;

/// A pymavlink vehicle listening on a free loopback port.
struct Vehicle {
    proc: Proc,
    port: u16,
}

impl Vehicle {
    fn start(extra_args: &[&str]) -> Vehicle {
        let port = free_udp_port();
        let mut proc = Proc::spawn(
            "vehicle_protocols.py",
            Command::new(python())
                .arg(script("vehicle_protocols.py"))
                .args(["--connect", &format!("udpin:127.0.0.1:{port}")])
                .args(["--sysid", SYSID, "--json"])
                .args(["--idle-exit", IDLE_EXIT_S, "--duration", VEHICLE_MAX_S])
                .args(extra_args),
        );
        wait_for_udp_listener(&mut proc, port);
        Vehicle { proc, port }
    }

    fn address(&self) -> String {
        format!("udpout:127.0.0.1:{}", self.port)
    }

    /// Runs `airgap VERB ADDRESS REST…` against this vehicle to its end.
    fn airgap(&self, verb: &[&str], rest: &[&str]) -> (ExitStatus, Finished) {
        let address = self.address();
        Proc::spawn(
            &format!("airgap {}", verb.join(" ")),
            Command::new(AIRGAP)
                .args(verb)
                .arg(&address)
                .args(["--sysid", SYSID, "--wait", "20"])
                .args(rest),
        )
        .wait(CLI_TIMEOUT)
    }

    /// Like [`Vehicle::airgap`], and the run must succeed.
    fn airgap_ok(&self, verb: &[&str], rest: &[&str]) -> Finished {
        let (status, out) = self.airgap(verb, rest);
        assert!(
            status.success(),
            "airgap {} {rest:?} exited with {status}{out:?}",
            verb.join(" ")
        );
        out
    }

    /// Waits for the vehicle to go quiet and exit, and returns what it holds.
    fn held(self) -> Value {
        let out = self.proc.finish(VEHICLE_TIMEOUT);
        serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("vehicle_protocols.py printed no JSON ({e}){out:?}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading JSON without panicking on the wrong shape (a test failure names what was wrong)

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is {v}, not a number"))
}

fn uint(v: &Value, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what} is {v}, not an unsigned integer"))
}

fn int(v: &Value, what: &str) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{what} is {v}, not an integer"))
}

fn array<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is {v}, not an array"))
}

/// Degrees to MISSION_ITEM_INT's 1e-7 degree units, rounded to the nearest as the MAVLink
/// spec asks (never truncated).
fn e7(deg: f64) -> i64 {
    (deg * 1e7).round() as i64
}

/// Whether a file's number and a vehicle's float are the same 32-bit float (the wire type of
/// every mission param and of z); null stands for NaN on both sides.
fn same_f32(file: &Value, held: &Value) -> bool {
    match (file, held) {
        (Value::Null, Value::Null) => true,
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a as f32) == (b as f32),
            _ => false,
        },
    }
}

#[track_caller]
fn assert_f32(file: &Value, held: &Value, what: &str) {
    assert!(
        same_f32(file, held),
        "{what}: the file says {file}, the vehicle holds {held}"
    );
}

// ---------------------------------------------------------------------------------------------
// A .plan and its comparison with what the vehicle holds

/// A QGroundControl plan of 20 mission items (takeoff, waypoints, a speed change, a DO_JUMP,
/// land), a 5-vertex inclusion fence and 2 rally points. Coordinates have more decimals than
/// MISSION_ITEM_INT carries, so rounding (not truncation) to 1e-7 degrees is checked.
fn sample_plan() -> Value {
    let (lat0, lon0) = (-35.363_262_149, 149.165_237_451);
    let mut items = Vec::new();
    for n in 1..=20u32 {
        let k = f64::from(n);
        let (command, frame, params) = match n {
            1 => (
                MAV_CMD_NAV_TAKEOFF,
                MAV_FRAME_GLOBAL_RELATIVE_ALT,
                json!([0, 0, 0, null, 0, 0, 15.5]),
            ),
            8 => (
                MAV_CMD_DO_CHANGE_SPEED,
                MAV_FRAME_MISSION,
                json!([1, 7.25, -1, 0, 0, 0, 0]),
            ),
            // Back to item 3, once: the doJumpId of item 3 is 3, so with home at seq 0 the
            // vehicle's param1 is seq 3.
            15 => (
                MAV_CMD_DO_JUMP,
                MAV_FRAME_MISSION,
                json!([3, 1, 0, 0, 0, 0, 0]),
            ),
            20 => (
                MAV_CMD_NAV_LAND,
                MAV_FRAME_GLOBAL_RELATIVE_ALT,
                json!([0, 0, 0, null, lat0 - 0.000_123_456_78, lon0 + 0.000_2, 0]),
            ),
            _ => (
                MAV_CMD_NAV_WAYPOINT,
                MAV_FRAME_GLOBAL_RELATIVE_ALT,
                json!([
                    0.5 * k,
                    2,
                    0,
                    null,
                    lat0 + 0.000_123_456_789 * k,
                    lon0 - 0.000_234_567_891 * k,
                    20.0 + 1.1 * k
                ]),
            ),
        };
        items.push(json!({
            "autoContinue": true,
            "command": command,
            "doJumpId": n,
            "frame": frame,
            "params": params,
            "type": "SimpleItem",
        }));
    }
    let fence: Vec<Value> = [
        (0.002_000_04, 0.002_1),
        (0.002_1, -0.001_999_96),
        (-0.001_9, -0.002_5),
        (-0.003_123_456_7, 0.0),
        (-0.002, 0.002_500_051),
    ]
    .iter()
    .map(|(dlat, dlon)| json!([lat0 + dlat, lon0 + dlon]))
    .collect();
    json!({
        "fileType": "Plan",
        "version": 1,
        "groundStation": "QGroundControl",
        "mission": {
            "version": 2,
            "firmwareType": 3,
            "vehicleType": 2,
            "cruiseSpeed": 15,
            "hoverSpeed": 5,
            "plannedHomePosition": [lat0, lon0, 584.12],
            "items": items,
        },
        "geoFence": {
            "version": 2,
            "polygons": [{"inclusion": true, "version": 1, "polygon": fence}],
            "circles": [],
        },
        "rallyPoints": {
            "version": 2,
            "points": [
                [lat0 + 0.000_512_345_6, lon0 + 0.000_498_765_4, 30],
                [lat0 - 0.000_5, lon0 - 0.000_712_345_67, 45.5],
            ],
        },
    })
}

/// One item as the vehicle holds it, for messages.
fn show(item: &Value) -> String {
    item.to_string()
}

/// Whether a MAV_FRAME carries latitude and longitude in x and y.
fn is_global(frame: u64) -> bool {
    matches!(frame, 0 | 3 | 5 | 6 | 10 | 11)
}

/// The vehicle's mission list must be the plan's: home from `plannedHomePosition` at seq 0
/// (ArduPilot's convention), then every item in order, with DO_JUMP targets as seqs.
fn check_mission_matches_plan(plan: &Value, held: &Value) {
    let mission = &plan["mission"];
    let file_items = array(&mission["items"], "mission.items");
    let held_items = array(held, "the vehicle's mission");
    assert_eq!(
        held_items.len(),
        file_items.len() + 1,
        "the vehicle should hold home and {} items: {held}",
        file_items.len()
    );
    let home = array(&mission["plannedHomePosition"], "plannedHomePosition");
    let h = &held_items[0];
    assert_eq!(uint(&h["seq"], "seq"), 0);
    assert_eq!(
        uint(&h["command"], "home command"),
        MAV_CMD_NAV_WAYPOINT,
        "{}",
        show(h)
    );
    assert_eq!(
        uint(&h["frame"], "home frame"),
        MAV_FRAME_GLOBAL,
        "{}",
        show(h)
    );
    assert_eq!(int(&h["x"], "home x"), e7(num(&home[0], "home lat")));
    assert_eq!(int(&h["y"], "home y"), e7(num(&home[1], "home lon")));
    assert_f32(&home[2], &h["z"], "home altitude");

    for (i, (file, held)) in file_items.iter().zip(&held_items[1..]).enumerate() {
        let at = format!("mission.items[{i}] vs vehicle item {}", show(held));
        assert_eq!(uint(&held["seq"], "seq"), i as u64 + 1, "{at}");
        let command = uint(&file["command"], "command");
        let frame = uint(&file["frame"], "frame");
        assert_eq!(uint(&held["command"], "command"), command, "{at}");
        assert_eq!(uint(&held["frame"], "frame"), frame, "{at}");
        assert_eq!(
            uint(&held["autocontinue"], "autocontinue") == 1,
            file["autoContinue"] == Value::Bool(true),
            "{at}"
        );
        let fp = array(&file["params"], "params");
        let hp = array(&held["params"], "params");
        for p in 0..4 {
            assert_f32(&fp[p], &hp[p], &format!("{at}: param{}", p + 1));
        }
        if is_global(frame) {
            assert_eq!(int(&held["x"], "x"), e7(num(&fp[4], "lat")), "{at}: lat");
            assert_eq!(int(&held["y"], "y"), e7(num(&fp[5], "lon")), "{at}: lon");
        } else {
            assert_eq!(int(&held["x"], "x"), num(&fp[4], "x") as i64, "{at}: x");
            assert_eq!(int(&held["y"], "y"), num(&fp[5], "y") as i64, "{at}: y");
        }
        assert_f32(&fp[6], &held["z"], &format!("{at}: z"));
    }
}

fn check_fence_matches_plan(plan: &Value, held: &Value) {
    let polygons = array(&plan["geoFence"]["polygons"], "geoFence.polygons");
    let vertices: Vec<&Value> = polygons
        .iter()
        .flat_map(|p| array(&p["polygon"], "polygon"))
        .collect();
    let held = array(held, "the vehicle's fence");
    assert_eq!(
        held.len(),
        vertices.len(),
        "fence items: {}",
        Value::from(held.clone())
    );
    for (i, (v, h)) in vertices.iter().zip(held).enumerate() {
        let at = format!("fence vertex {i} vs vehicle item {}", show(h));
        assert_eq!(uint(&h["seq"], "seq"), i as u64, "{at}");
        assert_eq!(
            uint(&h["command"], "command"),
            MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            "{at}"
        );
        assert_eq!(
            num(&h["params"][0], "vertex count"),
            vertices.len() as f64,
            "{at}"
        );
        assert_eq!(int(&h["x"], "x"), e7(num(&v[0], "lat")), "{at}: lat");
        assert_eq!(int(&h["y"], "y"), e7(num(&v[1], "lon")), "{at}: lon");
    }
}

fn check_rally_matches_plan(plan: &Value, held: &Value) {
    let points = array(&plan["rallyPoints"]["points"], "rallyPoints.points");
    let held = array(held, "the vehicle's rally points");
    assert_eq!(
        held.len(),
        points.len(),
        "rally items: {}",
        Value::from(held.clone())
    );
    for (i, (p, h)) in points.iter().zip(held).enumerate() {
        let at = format!("rally point {i} vs vehicle item {}", show(h));
        assert_eq!(uint(&h["seq"], "seq"), i as u64, "{at}");
        assert_eq!(
            uint(&h["command"], "command"),
            MAV_CMD_NAV_RALLY_POINT,
            "{at}"
        );
        assert_eq!(
            uint(&h["frame"], "frame"),
            MAV_FRAME_GLOBAL_RELATIVE_ALT,
            "{at}"
        );
        assert_eq!(int(&h["x"], "x"), e7(num(&p[0], "lat")), "{at}: lat");
        assert_eq!(int(&h["y"], "y"), e7(num(&p[1], "lon")), "{at}: lon");
        assert_f32(&p[2], &h["z"], &format!("{at}: altitude"));
    }
}

fn check_plan_held(plan: &Value, held: &Value) {
    check_mission_matches_plan(plan, &held["missions"]["mission"]);
    check_fence_matches_plan(plan, &held["missions"]["fence"]);
    check_rally_matches_plan(plan, &held["missions"]["rally"]);
    assert_eq!(
        held["upload_in_progress"],
        Value::Bool(false),
        "an upload was left unfinished: {held}"
    );
}

fn write_json(path: &Path, v: &Value) {
    let text = serde_json::to_string_pretty(v).expect("a Value always serializes");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()))
}

/// Uploads the sample plan to a vehicle started with `vehicle_args` and checks that it holds
/// exactly the plan; returns what it held.
fn upload_sample_plan(label: &str, vehicle_args: &[&str]) -> Value {
    let dir = ScratchDir::new(label);
    let plan = sample_plan();
    let file = dir.join("sample.plan");
    write_json(&file, &plan);

    let vehicle = Vehicle::start(vehicle_args);
    let file_arg = file.display().to_string();
    let out = vehicle.airgap_ok(&["mission", "upload"], &[&file_arg, "--json"]);
    let held = vehicle.held();

    let report: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("mission upload --json printed no JSON ({e}){out:?}"));
    assert_eq!(
        report["uploaded"],
        json!([
            {"type": "mission", "items": 21, "verified": true},
            {"type": "geofence", "items": 5, "verified": true},
            {"type": "rally points", "items": 2, "verified": true},
        ]),
        "{report}"
    );
    check_plan_held(&plan, &held);
    held
}

#[test]
fn mission_upload_of_a_plan_is_what_a_pymavlink_vehicle_stores() {
    let held = upload_sample_plan("upload", &[]);
    // The rounding the comparison relies on, spelled out once: -35.363262149° is
    // -353632621.49 × 1e-7°, which rounds to …621.
    assert_eq!(held["missions"]["mission"][0]["x"], -353_632_621);
    // DO_JUMP's target travels as a seq: doJumpId 3 is seq 3 with home at seq 0.
    let jump = &held["missions"]["mission"][15];
    assert_eq!(jump["command"], MAV_CMD_DO_JUMP, "{jump}");
    assert_eq!(jump["params"][0], 3.0, "{jump}");
    assert_eq!(
        held["item_messages"],
        json!({"MISSION_ITEM_INT": 28}),
        "each item once, as MISSION_ITEM_INT: {held}"
    );
    // Each verify (a download) ends with our MISSION_ACK, the last one just before the CLI
    // exits: a PX4 waits for it.
    assert_eq!(held["received"]["MISSION_ACK"], 3, "{held}");
    // The vehicle said in AUTOPILOT_VERSION that it has no MAVFTP: none was tried.
    assert!(
        held["received"]["FILE_TRANSFER_PROTOCOL"].is_null(),
        "{held}"
    );
}

#[test]
fn mission_upload_answers_the_legacy_mission_request() {
    let held = upload_sample_plan("upload-legacy", &["--legacy-request"]);
    let requested: u64 = held["item_messages"]
        .as_object()
        .map(|o| o.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert_eq!(requested, 28, "each item once: {held}");
}

#[test]
fn mission_upload_completes_when_the_vehicle_ignores_every_4th_message() {
    let held = upload_sample_plan("upload-lossy", &["--drop-every", "4"]);
    let dropped: u64 = held["dropped"]
        .as_object()
        .map(|o| o.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert!(
        dropped >= 10,
        "the vehicle should have ignored a quarter of ~60 messages: {held}"
    );
}

/// Downloads into a .plan from a vehicle preloaded with a mission, a fence and rally points,
/// and checks the file against what the vehicle says it holds.
fn download_preloaded(label: &str, extra_vehicle_args: &[&str]) {
    let dir = ScratchDir::new(label);
    let file = dir.join("downloaded.plan");
    let mut args = vec![
        "--preload-mission",
        "20",
        "--preload-fence",
        "6",
        "--preload-rally",
        "3",
    ];
    args.extend_from_slice(extra_vehicle_args);
    let vehicle = Vehicle::start(&args);
    let file_arg = file.display().to_string();
    vehicle.airgap_ok(&["mission", "download"], &["-o", &file_arg]);
    let held = vehicle.held();
    let plan = read_json(&file);

    assert_eq!(plan["fileType"], "Plan", "{plan}");
    assert_eq!(
        array(&held["missions"]["mission"], "mission").len(),
        21,
        "{held}"
    );
    check_plan_held(&plan, &held);
}

#[test]
fn mission_download_writes_what_a_pymavlink_vehicle_holds() {
    download_preloaded("download", &[]);
}

#[test]
fn mission_download_completes_when_the_vehicle_ignores_every_4th_message() {
    download_preloaded("download-lossy", &["--drop-every", "4"]);
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// A Mission Planner `.param` file: `NAME,VALUE` lines, `#` comments.
fn read_param_file(path: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l
                .split_once(',')
                .unwrap_or_else(|| panic!("{}: line {l:?} is not NAME,VALUE", path.display()));
            let value: f64 = value
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{}: value in {l:?}: {e}", path.display()));
            (name.trim().to_owned(), value)
        })
        .collect()
}

fn held_param<'a>(held: &'a Value, name: &str) -> &'a Value {
    array(&held["params"], "params")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("the vehicle holds no {name}: {held}"))
}

#[test]
fn params_download_writes_every_value_a_pymavlink_vehicle_holds() {
    let dir = ScratchDir::new("params-download");
    let file = dir.join("vehicle.param");
    let vehicle = Vehicle::start(&[]);
    let file_arg = file.display().to_string();
    vehicle.airgap_ok(&["params", "download"], &["-o", &file_arg]);
    let held = vehicle.held();

    let written = read_param_file(&file);
    let params = array(&held["params"], "params");
    assert!(params.len() >= 60, "the vehicle holds ~60: {held}");
    assert_eq!(
        written.len(),
        params.len(),
        "one line per parameter in {}",
        file.display()
    );
    for p in params {
        let name = p["name"].as_str().unwrap_or_default();
        let Some((_, value)) = written.iter().find(|(n, _)| n == name) else {
            panic!("{name} is missing from {}", file.display());
        };
        let expected = num(&p["value"], name);
        match p["type"].as_str() {
            // Integers of up to 24 bits travel exactly in the float, and print as integers.
            Some("INT8" | "INT16" | "INT32") => {
                assert_eq!(*value, expected, "{name} ({})", p["type"])
            }
            Some("REAL32") => assert_eq!(*value as f32, expected as f32, "{name} (REAL32)"),
            other => panic!("{name}: unexpected type {other:?}"),
        }
    }
    let long_name = written.iter().any(|(n, _)| n == "SERVO10_FUNCTION");
    assert!(long_name, "the 16-character name survives the trip");
    let negative = written.iter().find(|(n, _)| n == "NEG_INT8_PARAM");
    assert_eq!(negative.map(|(_, v)| *v), Some(-128.0));
}

#[test]
fn params_set_changes_a_pymavlink_vehicle_and_refuses_out_of_range() {
    let vehicle = Vehicle::start(&[]);
    let out = vehicle.airgap_ok(&["params", "set"], &["FRAME_TYPE", "3", "--json"]);
    let reply: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("params set --json printed no JSON ({e}){out:?}"));
    assert_eq!(reply["value"], 3.0, "{reply}");
    vehicle.airgap_ok(&["params", "set"], &["ATC_RAT_YAW_P", "0.2345"]);
    vehicle.airgap_ok(&["params", "set"], &["NEG_INT8_PARAM", "-7"]);

    // 200 does not fit an INT8: refused before anything is sent.
    let (status, refused) = vehicle.airgap(&["params", "set"], &["FRAME_TYPE", "200"]);
    let held = vehicle.held();

    assert_eq!(
        status.code(),
        Some(1),
        "an out-of-range value is a refusal{refused:?}"
    );
    let message = refused.stderr.to_ascii_lowercase();
    assert!(
        message.contains("frame_type") && message.contains("range") && message.contains("127"),
        "the refusal should name the parameter and its range{refused:?}"
    );
    assert_eq!(held_param(&held, "FRAME_TYPE")["value"], 3, "{held}");
    assert_eq!(held_param(&held, "NEG_INT8_PARAM")["value"], -7, "{held}");
    let yaw_p = num(
        &held_param(&held, "ATC_RAT_YAW_P")["value"],
        "ATC_RAT_YAW_P",
    );
    assert_eq!(yaw_p as f32, 0.2345_f32, "{held}");
    assert_eq!(
        held["received"]["PARAM_SET"], 3,
        "only the three valid values were sent: {held}"
    );
}
