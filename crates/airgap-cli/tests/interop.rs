//! Interop with pymavlink, a MAVLink implementation that is not ours, over real loopback UDP:
//! a pymavlink vehicle watched by `airgap watch`, and `airgap sim` heard by a pymavlink ground
//! station. Encoder and decoder bugs that a round trip through our own code would hide (CRC
//! extras, field order, truncated MAVLink 2 payloads, scaling) show up here.
//!
//! The Python side is tests/interop/*.py, run by the interpreter named in `AIRGAP_PYTHON`
//! (`cargo xtask test` makes `.venv/` with the pinned pymavlink and sets it).

mod common;

use std::process::Command;

use common::{
    free_udp_port, python, script, wait_for_udp_listener, Finished, Proc, AIRGAP, PROCESS_TIMEOUT,
};
use serde_json::Value;

fn known_values() -> Value {
    let out = Proc::spawn(
        "vehicle.py --print-known",
        Command::new(python())
            .arg(script("vehicle.py"))
            .arg("--print-known"),
    )
    .finish(PROCESS_TIMEOUT);
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("vehicle.py --print-known printed no JSON ({e}): {out:?}"))
}

/// Every line `airgap watch --json` printed, each of which must be a JSON object.
fn watch_lines(out: &Finished) -> Vec<Value> {
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("watch printed a line that is not JSON ({e}): {l}"));
            assert!(v.is_object(), "watch printed a JSON non-object: {l}");
            v
        })
        .collect()
}

fn number(state: &Value, path: &[&str]) -> f64 {
    let mut v = state;
    for key in path {
        v = &v[key];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{} is {v}, not a number, in {state}", path.join(".")))
}

#[track_caller]
fn assert_near(state: &Value, field: &str, expected: f64, tolerance: f64) {
    let got = number(state, &[field]);
    assert!(
        (got - expected).abs() <= tolerance,
        "{field}: expected {expected} ± {tolerance}, got {got}, in {state}"
    );
}

/// Runs a pymavlink vehicle against `airgap watch` and returns the newest state line for it
/// and the number of lines about it.
fn watch_pymavlink_vehicle(extra_vehicle_args: &[&str]) -> (Value, usize) {
    let port = free_udp_port();
    let mut watch = Proc::spawn(
        "airgap watch",
        Command::new(AIRGAP).args([
            "watch",
            &format!("udpin:127.0.0.1:{port}"),
            "--json",
            "--duration",
            "6",
        ]),
    );
    wait_for_udp_listener(&mut watch, port);
    let vehicle = Proc::spawn(
        "vehicle.py",
        Command::new(python())
            .arg(script("vehicle.py"))
            .args(["--out", &format!("udpout:127.0.0.1:{port}")])
            .args(["--sysid", "7", "--duration", "8", "--json"])
            .args(extra_vehicle_args),
    );
    let watched = watch.finish(PROCESS_TIMEOUT);
    let vehicle = vehicle.finish(PROCESS_TIMEOUT);

    let lines = watch_lines(&watched);
    let about_7: Vec<&Value> = lines.iter().filter(|v| v["sysid"] == 7).collect();
    let newest = about_7.last().copied().cloned().unwrap_or_else(|| {
        panic!("watch printed nothing about sysid 7\nwatch:{watched:?}\nvehicle.py:{vehicle:?}")
    });
    (newest, about_7.len())
}

fn check_vehicle_state(state: &Value, lines: usize) {
    let known = known_values();
    let k = |field: &str| number(&known, &[field]);

    // At least once a second over ~6 s, allowing for start-up.
    assert!(
        lines >= 3,
        "only {lines} state lines for sysid 7; newest: {state}"
    );
    assert_eq!(state["mode"], known["mode"], "mode in {state}");
    assert_eq!(state["armed"], Value::Bool(true), "armed in {state}");
    for field in ["compid", "autopilot", "vehicle_type"] {
        assert!(!state[field].is_null(), "{field} is null in {state}");
    }

    // MAVLink carries attitude as f32 radians: a few micro-degrees of rounding.
    for field in ["roll_deg", "pitch_deg"] {
        assert_near(state, field, k(field), 0.01);
    }
    let yaw = number(state, &["yaw_deg"]).rem_euclid(360.0);
    assert!(
        (yaw - k("yaw_deg")).abs() <= 0.01,
        "yaw_deg {yaw} in {state}"
    );

    // Positions are 1e-7 degrees and millimetres on the wire.
    assert_near(state, "lat_deg", k("lat_deg"), 1e-6);
    assert_near(state, "lon_deg", k("lon_deg"), 1e-6);
    assert_near(state, "alt_msl_m", k("alt_msl_m"), 0.01);
    assert_near(state, "alt_rel_m", k("alt_rel_m"), 0.01);
    assert_near(state, "groundspeed_m_s", k("groundspeed_m_s"), 0.05);
    assert_near(state, "battery_v", k("battery_v"), 0.01);
    assert_near(state, "battery_pct", k("battery_pct"), 0.5);
    assert_near(state, "satellites", k("satellites"), 0.0);

    match &state["gps_fix"] {
        Value::Number(n) => assert_eq!(n.as_f64(), Some(k("gps_fix")), "gps_fix in {state}"),
        Value::String(s) => assert!(
            s.to_ascii_lowercase().contains("3d"),
            "gps_fix {s:?} does not say 3D in {state}"
        ),
        other => panic!("gps_fix is {other} in {state}"),
    }

    let text = known["statustext"].as_str().unwrap_or_default();
    let got = match &state["statustext"] {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("text").and_then(Value::as_str).unwrap_or_default(),
        _ => "",
    };
    assert!(
        got.contains(text),
        "statustext should contain {text:?}, in {state}"
    );

    assert!(
        number(state, &["link", "rx_frames"]) > 0.0,
        "link.rx_frames in {state}"
    );
    assert_eq!(
        number(state, &["link", "crc_errors"]),
        0.0,
        "pymavlink's frames must all pass our CRC check, in {state}"
    );
}

#[test]
fn airgap_watch_decodes_a_pymavlink_vehicle() {
    let (state, lines) = watch_pymavlink_vehicle(&[]);
    check_vehicle_state(&state, lines);
}

#[test]
fn airgap_watch_decodes_a_pymavlink_vehicle_speaking_mavlink1() {
    let (state, lines) = watch_pymavlink_vehicle(&["--mavlink1"]);
    check_vehicle_state(&state, lines);
}

/// Runs `airgap sim` against a pymavlink ground station and returns its JSON summary.
fn pymavlink_gcs_hears_sim(sim_args: &[&str]) -> Value {
    let port = free_udp_port();
    let mut gcs = Proc::spawn(
        "gcs.py",
        Command::new(python())
            .arg(script("gcs.py"))
            .args(["--connect", &format!("udpin:127.0.0.1:{port}")])
            .args(["--duration", "8", "--json"]),
    );
    wait_for_udp_listener(&mut gcs, port);
    let sim = Proc::spawn(
        "airgap sim",
        Command::new(AIRGAP)
            .args(["sim", &format!("udpout:127.0.0.1:{port}")])
            .args(sim_args),
    );
    let heard = gcs.finish(PROCESS_TIMEOUT);
    let sim = sim.stop();
    serde_json::from_str(heard.stdout.trim()).unwrap_or_else(|e| {
        panic!("gcs.py printed no JSON summary ({e})\ngcs.py:{heard:?}\nairgap sim:{sim:?}")
    })
}

fn check_heard_from(summary: &Value, sysid: u8) {
    let key = sysid.to_string();
    let count = |message: &str| summary["by_sysid"][&key][message].as_u64().unwrap_or(0);
    assert_eq!(
        summary["sysids"],
        serde_json::json!([sysid]),
        "only sysid {sysid} should be heard: {summary}"
    );
    assert!(
        count("HEARTBEAT") >= 3,
        "HEARTBEATs from {sysid}: {summary}"
    );
    assert!(count("ATTITUDE") >= 1, "ATTITUDEs from {sysid}: {summary}");
    assert_eq!(
        summary["bad_data"], 0,
        "pymavlink could not parse some of our frames: {summary}"
    );
    let heartbeat = &summary["last_heartbeat"];
    assert_eq!(heartbeat["sysid"], sysid, "{summary}");
    let attitude = &summary["last_attitude"];
    for field in ["roll_deg", "pitch_deg", "yaw_deg"] {
        let v = attitude[field].as_f64().unwrap_or(f64::NAN);
        assert!(
            v.is_finite() && v.abs() <= 360.0,
            "ATTITUDE {field} = {v}: {summary}"
        );
    }
}

#[test]
fn pymavlink_gcs_hears_airgap_sim() {
    let summary = pymavlink_gcs_hears_sim(&[]);
    check_heard_from(&summary, 1);
}

#[test]
fn pymavlink_gcs_hears_airgap_sim_with_another_sysid() {
    let summary = pymavlink_gcs_hears_sim(&["--sysid", "42"]);
    check_heard_from(&summary, 42);
}
