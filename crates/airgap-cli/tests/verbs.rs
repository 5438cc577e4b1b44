//! The vehicle verbs as a script uses them: `airgap cmd`, `airgap mission` and `airgap
//! params` run as processes against `airgap sim` over loopback UDP, checking exit statuses,
//! the vehicle's reasons on stderr, and the files written.

mod common;

use std::process::{Command, ExitStatus};
use std::time::Duration;

use common::{free_udp_port, wait_for_udp_listener, Finished, Proc, ScratchDir, AIRGAP};

const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// `airgap sim` listening on a free loopback port.
struct Sim {
    _proc: Proc,
    port: u16,
}

impl Sim {
    fn start(extra_args: &[&str]) -> Sim {
        let port = free_udp_port();
        let mut proc = Proc::spawn(
            "airgap sim",
            Command::new(AIRGAP)
                .args(["sim", &format!("udpin:127.0.0.1:{port}")])
                .args(extra_args),
        );
        wait_for_udp_listener(&mut proc, port);
        Sim { _proc: proc, port }
    }

    /// `airgap VERB… ADDRESS REST…` to its end.
    fn run(&self, verb: &[&str], rest: &[&str]) -> (ExitStatus, Finished) {
        Proc::spawn(
            &format!("airgap {}", verb.join(" ")),
            Command::new(AIRGAP)
                .args(verb)
                .arg(format!("udpout:127.0.0.1:{}", self.port))
                .args(["--wait", "20"])
                .args(rest),
        )
        .wait(CLI_TIMEOUT)
    }

    fn ok(&self, verb: &[&str], rest: &[&str]) -> Finished {
        let (status, out) = self.run(verb, rest);
        assert!(
            status.success(),
            "airgap {} {rest:?} exited with {status}{out:?}",
            verb.join(" ")
        );
        out
    }
}

fn airgap(args: &[&str]) -> (ExitStatus, Finished) {
    Proc::spawn(
        &format!("airgap {}", args.join(" ")),
        Command::new(AIRGAP).args(args),
    )
    .wait(CLI_TIMEOUT)
}

#[test]
fn cmd_exits_nonzero_with_the_vehicles_reason_when_refused() {
    // No GPS fix for a minute: arming must be refused with ArduPilot's PreArm text.
    let sim = Sim::start(&["--gps-fix-after", "60"]);
    let (status, out) = sim.run(&["cmd"], &["arm"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("PreArm: Need 3D Fix"), "{out:?}");

    let (status, out) = sim.run(&["cmd"], &["--json", "takeoff", "10"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("--json printed no JSON ({e}){out:?}"));
    assert_eq!(report["result"], "refused", "{report}");
    assert_eq!(report["command"], "MAV_CMD_NAV_TAKEOFF", "{report}");

    // A mode the vehicle does not have is refused before anything is sent.
    let (status, out) = sim.run(&["cmd"], &["mode", "WARP"]);
    assert_eq!(status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("WARP"), "{out:?}");
}

#[test]
fn cmd_flies_the_vehicle_when_it_accepts() {
    let sim = Sim::start(&["--gps-fix-after", "0"]);
    for verb in [&["mode", "GUIDED"][..], &["arm"], &["takeoff", "10"]] {
        let out = sim.ok(&["cmd"], verb);
        assert!(out.stdout.contains("accepted"), "{verb:?}: {out:?}");
    }
    // In the air a plain disarm is refused, as ArduCopter does.
    let (status, out) = sim.run(&["cmd"], &["disarm"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    sim.ok(&["cmd"], &["goto", "-35.3630", "149.1655", "15"]);
    sim.ok(&["cmd"], &["rtl"]);
}

const WAYPOINTS: &str = "QGC WPL 110
0\t1\t0\t16\t0\t0\t0\t0\t-35.3632610\t149.1652300\t584.000000\t1
1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t20.000000\t1
2\t0\t3\t16\t2\t0\t0\t0\t-35.3620000\t149.1650000\t25.000000\t1
3\t0\t3\t16\t0\t0\t0\t0\t-35.3625000\t149.1670000\t30.000000\t1
4\t0\t3\t20\t0\t0\t0\t0\t0\t0\t0.000000\t1
";

#[test]
fn mission_upload_download_clear_and_convert_round_trip() {
    let dir = ScratchDir::new("mission-verbs");
    let waypoints = dir.join("in.waypoints");
    std::fs::write(&waypoints, WAYPOINTS).expect("write the mission");
    // Convert to a .plan, upload that, and read it back as .waypoints.
    let plan = dir.join("in.plan");
    let (status, out) = airgap(&[
        "mission",
        "convert",
        &waypoints.display().to_string(),
        &plan.display().to_string(),
    ]);
    assert!(status.success(), "{out:?}");

    let sim = Sim::start(&[]);
    let out = sim.ok(&["mission", "upload"], &[&plan.display().to_string()]);
    assert!(out.stdout.contains("5 items, verified"), "{out:?}");
    let back = dir.join("back.waypoints");
    sim.ok(
        &["mission", "download"],
        &["-o", &back.display().to_string()],
    );
    let text = std::fs::read_to_string(&back).expect("the download wrote a file");
    // From frame on, as numbers (writers differ in decimals); lat/lon in 1e-7 degrees.
    let rows = |t: &str| -> Vec<Vec<i64>> {
        t.lines()
            .skip(2) // the header, and home (the vehicle's own)
            .map(|l| {
                l.split('\t')
                    .skip(2)
                    .map(|f| {
                        let v: f64 = f.trim().parse().unwrap_or_else(|e| panic!("{f:?}: {e}"));
                        (v * 1e7).round() as i64
                    })
                    .collect()
            })
            .collect()
    };
    assert_eq!(rows(&text), rows(WAYPOINTS), "\n{text}");

    sim.ok(&["mission", "clear"], &["--type", "mission"]);
    sim.ok(
        &["mission", "download"],
        &["-o", &back.display().to_string()],
    );
    let text = std::fs::read_to_string(&back).expect("the download wrote a file");
    assert_eq!(text.lines().count(), 2, "only home is left:\n{text}");
}

#[test]
fn a_malformed_mission_file_names_the_line_and_what_was_expected() {
    let dir = ScratchDir::new("mission-bad");
    let bad = dir.join("bad.waypoints");
    std::fs::write(&bad, WAYPOINTS.replace("-35.3620000", "minus-thirty-five")).expect("write");
    let (status, out) = airgap(&[
        "mission",
        "convert",
        &bad.display().to_string(),
        &dir.join("out.plan").display().to_string(),
    ]);
    assert!(!status.success(), "{out:?}");
    assert!(out.stderr.contains("line 4"), "{out:?}");
    assert!(out.stderr.contains("minus-thirty-five"), "{out:?}");
    // A name that is neither format is refused with the accepted ones.
    let (status, out) = airgap(&["mission", "convert", "a.txt.bak", "b.plan"]);
    assert!(!status.success(), "{out:?}");
    assert!(
        out.stderr.contains(".plan") && out.stderr.contains(".waypoints"),
        "{out:?}"
    );
}

#[test]
fn params_download_set_diff_and_load() {
    let dir = ScratchDir::new("params-verbs");
    let sim = Sim::start(&[]);
    let file = dir.join("vehicle.param");
    let file_arg = file.display().to_string();
    sim.ok(&["params", "download"], &["-o", &file_arg]);
    let text = std::fs::read_to_string(&file).expect("the download wrote a file");
    let rows = text.lines().filter(|l| !l.starts_with('#')).count();
    assert!(rows >= 900, "{rows} parameters");
    assert!(text.lines().any(|l| l.starts_with("RTL_ALT,")), "{text}");

    let out = sim.ok(&["params", "set"], &["RTL_ALT", "2000"]);
    assert_eq!(out.stdout.trim(), "RTL_ALT = 2000");
    // The file still says the old value: a diff shows it, a load puts it back.
    let out = sim.ok(&["params", "diff"], &[&file_arg, "--json"]);
    let diff: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON diff");
    let changed = diff["changed"].as_array().expect("changed list");
    assert_eq!(changed.len(), 1, "{diff}");
    assert_eq!(changed[0]["name"], "RTL_ALT");
    assert_eq!(changed[0]["vehicle"], 2000.0);
    let out = sim.ok(&["params", "load"], &[&file_arg]);
    assert!(out.stdout.contains("1 changed"), "{out:?}");
    let out = sim.ok(&["params", "get"], &["RTL_ALT", "--json"]);
    let got: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    assert_ne!(got["value"], 2000.0, "{got}");
    assert_eq!(got["type"], "MAV_PARAM_TYPE_INT32", "{got}");
}

#[test]
fn params_download_falls_back_to_the_classic_protocol_without_mavftp() {
    let dir = ScratchDir::new("params-no-ftp");
    let sim = Sim::start(&["--no-ftp"]);
    let file = dir.join("vehicle.params");
    sim.ok(
        &["params", "download"],
        &["-o", &file.display().to_string()],
    );
    let text = std::fs::read_to_string(&file).expect("the download wrote a file");
    // QGroundControl's format: sysid, compid, name, value, type.
    let rtl = text
        .lines()
        .find(|l| l.split('\t').nth(2) == Some("RTL_ALT"))
        .unwrap_or_else(|| panic!("no RTL_ALT row:\n{text}"));
    assert!(rtl.starts_with("1\t1\t"), "{rtl}");
}
