//! The vault as a script uses it: `airgap vault`, `record`, `log` and `mission
//! save|list|export` run as processes on a scratch AIRGAP_DATA_DIR, with passphrases in files
//! and cheap key derivation (AIRGAP_KDF=fast). A flight is recorded from `airgap sim` over
//! loopback UDP, exported, and read back by pymavlink. Files are imported, bundled with
//! `vault export`, and carried into a second data directory with `vault import`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{free_udp_port, python, script, wait_for_udp_listener, Data, Finished, Proc, AIRGAP};
use serde_json::Value;

const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// In the STATUSTEXT the simulated vehicle sends when a ground station connects.
const BANNER: &[u8] = b"ArduCopter";
const RECORD_S: f64 = 4.0;

impl Data {
    fn vault_dir(&self) -> PathBuf {
        self.data.join("vault")
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("write {name}: {e}"));
        path
    }

    fn init(&self) {
        let out = self.ok(&["vault", "init"]);
        assert!(out.stdout.contains("created the vault"), "{out:?}");
    }
}

fn json_lines(out: &Finished) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}{out:?}")))
        .collect()
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn init_status_passwd_and_a_wrong_passphrase() {
    let d = Data::new("vault-passwd");

    // No vault yet: every verb says how to make one.
    let (status, out) = d.run(&["vault", "status", "--json"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    let s: Value = serde_json::from_str(out.stdout.trim()).expect("status JSON");
    assert_eq!(s["exists"], false, "{s}");
    // `record` checks for the vault before it opens the link.
    let nowhere = format!("udpout:127.0.0.1:{}", free_udp_port());
    let record = ["record", nowhere.as_str(), "--duration", "1"];
    for verb in [
        &["log", "list"][..],
        &["mission", "list"],
        &["vault", "lock"],
        &record,
    ] {
        let (status, out) = d.run(verb);
        assert_eq!(status.code(), Some(1), "{verb:?}{out:?}");
        assert!(out.stderr.contains("airgap vault init"), "{verb:?}{out:?}");
    }

    // Without a passphrase file and off a terminal, init refuses and says what to set.
    let (status, out) = d.run_with(&["vault", "init"], None);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("AIRGAP_PASSPHRASE_FILE"), "{out:?}");
    assert!(!d.vault_dir().exists(), "a refused init left files behind");
    // An empty passphrase is refused too.
    let empty = d.file("empty", "\n");
    let (status, out) = d.run_with(&["vault", "init"], Some(&empty));
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("empty"), "{out:?}");

    d.init();
    let (status, out) = d.run(&["vault", "init"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("already exists"), "{out:?}");

    let out = d.ok(&["vault", "status", "--json"]);
    let s: Value = serde_json::from_str(out.stdout.trim()).expect("status JSON");
    assert_eq!(s["exists"], true, "{s}");
    assert_eq!(s["locked"], true, "{s}");
    assert_eq!(s["in_use"], false, "{s}");
    assert_eq!(
        s["kdf"]["m_cost_kib"], 64,
        "AIRGAP_KDF=fast was not used: {s}"
    );
    let out = d.ok(&["vault", "lock"]);
    assert!(out.stdout.contains("is locked"), "{out:?}");

    // The right passphrase opens it; a wrong one is refused with exit status 1.
    d.ok(&["log", "list", "--json"]);
    let wrong = d.file("wrong", "correct horse battery stable\n");
    let (status, out) = d.run_with(&["log", "list"], Some(&wrong));
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("wrong passphrase"), "{out:?}");
    // No passphrase at all: a clear error naming the variable, never a hang on a prompt.
    let (status, out) = d.run_with(&["log", "list"], None);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("AIRGAP_PASSPHRASE_FILE"), "{out:?}");

    // passwd: a wrong current passphrase changes nothing.
    let new = d.file("new", "four random words here\n");
    let mut cmd = d.command(&["vault", "passwd"], Some(&wrong));
    cmd.env("AIRGAP_NEW_PASSPHRASE_FILE", &new);
    let (status, out) = Proc::spawn("airgap vault passwd (wrong)", &mut cmd).wait(CLI_TIMEOUT);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("wrong passphrase"), "{out:?}");
    d.ok(&["log", "list"]);

    let mut cmd = d.command(&["vault", "passwd"], Some(&d.pass));
    cmd.env("AIRGAP_NEW_PASSPHRASE_FILE", &new);
    let out = Proc::spawn("airgap vault passwd", &mut cmd).finish(CLI_TIMEOUT);
    assert!(out.stdout.contains("passphrase changed"), "{out:?}");
    let (status, out) = d.run(&["log", "list"]);
    assert_eq!(
        status.code(),
        Some(1),
        "the old passphrase still opens it{out:?}"
    );
    assert!(out.stderr.contains("wrong passphrase"), "{out:?}");
    let out = Proc::spawn(
        "airgap log list (new passphrase)",
        &mut d.command(&["log", "list", "--json"], Some(&new)),
    )
    .finish(CLI_TIMEOUT);
    assert!(out.stdout.trim().is_empty(), "no flight yet{out:?}");
}

/// `airgap sim` listening on a free loopback port.
fn start_sim() -> (Proc, u16) {
    let port = free_udp_port();
    let mut sim = Proc::spawn(
        "airgap sim",
        Command::new(AIRGAP).args(["sim", &format!("udpin:127.0.0.1:{port}")]),
    );
    wait_for_udp_listener(&mut sim, port);
    (sim, port)
}

/// A flight recorded from the simulator, exported, and counted by pymavlink.
#[test]
fn record_list_and_export_a_flight_that_pymavlink_reads() {
    let d = Data::new("vault-record");
    d.init();
    let (sim, port) = start_sim();

    let duration = RECORD_S.to_string();
    let address = format!("udpout:127.0.0.1:{port}");
    // No passphrase: recording works on the locked vault.
    let mut recorder = Recorder::start(d.command(
        &["record", &address, "--duration", &duration, "--json"],
        None,
    ));
    // Only once the recorder holds the vault: another opener racing it at its start would
    // make it, rightly, fail with "in use".
    recorder.wait_until_recording();

    // While the recorder holds the vault, others are told so, and nobody claims to lock it.
    let out = d.ok(&["vault", "status", "--json"]);
    let s: Value = serde_json::from_str(out.stdout.trim()).expect("status JSON");
    assert_eq!(s["in_use"], true, "{s}");
    let (status, out) = d.run(&["vault", "lock"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("another Airgap process"), "{out:?}");
    let (status, out) = d.run(&["log", "list"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("another Airgap process"), "{out:?}");

    let out = recorder.finish();
    let recorded: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(recorded.len(), 1, "one link, one flight: {out}");
    let recorded = &recorded[0];
    let flight = recorded["flight"].as_str().expect("flight id").to_owned();
    let frames = recorded["frames"].as_u64().expect("frames");
    let bytes = recorded["bytes"].as_u64().expect("bytes");
    assert!(frames > 50, "{recorded}");
    assert_eq!(recorded["sysids"], serde_json::json!([1]), "{recorded}");
    assert_eq!(recorded["complete"], true, "{recorded}");

    let out = d.ok(&["log", "list", "--json"]);
    let flights = json_lines(&out);
    assert_eq!(flights.len(), 1, "{out:?}");
    let f = &flights[0];
    assert_eq!(f["id"], flight.as_str(), "{f}");
    assert_eq!(f["sysids"], serde_json::json!([1]), "{f}");
    assert_eq!(f["frames"], frames, "{f}");
    assert_eq!(f["bytes"], bytes, "{f}");
    assert_eq!(f["complete"], true, "{f}");
    let duration_s = f["duration_s"].as_f64().expect("duration_s");
    assert!(
        (RECORD_S - 2.0..=RECORD_S + 1.0).contains(&duration_s),
        "{f}"
    );
    let start = f["start"].as_str().expect("start");
    assert!(
        start.len() == 20 && start.ends_with('Z') && start.as_bytes()[10] == b'T',
        "not RFC 3339 UTC: {start}"
    );
    // The text listing shows the same flight.
    let out = d.ok(&["log", "list"]);
    assert!(out.stdout.contains(&flight), "{out:?}");

    let tlog = d.dir.join("flight.tlog");
    let out = d.ok(&["log", "export", &flight, "-o", &path_arg(&tlog)]);
    assert!(
        out.stderr.is_empty(),
        "an intact flight exports cleanly{out:?}"
    );
    let exported = std::fs::read(&tlog).expect("the export wrote a file");
    assert_eq!(
        exported.len() as u64,
        bytes,
        "every recorded byte is exported"
    );
    // The control for the plaintext scan below: the vehicle's banner was recorded.
    assert!(
        exported.windows(BANNER.len()).any(|w| w == BANNER),
        "the recording holds no STATUSTEXT banner"
    );

    let counted = Proc::spawn(
        "count_tlog.py",
        Command::new(python())
            .arg(script("count_tlog.py"))
            .arg(&tlog),
    )
    .finish(CLI_TIMEOUT);
    let counts: Value = serde_json::from_str(counted.stdout.trim())
        .unwrap_or_else(|e| panic!("count_tlog.py printed no JSON ({e}){counted:?}"));
    assert_eq!(counts["bad"], 0, "{counts}");
    assert_eq!(
        counts["total"], frames,
        "pymavlink reads every frame: {counts}"
    );
    let vehicle = &counts["by_sysid"]["1"];
    let heartbeats = vehicle["HEARTBEAT"].as_f64().unwrap_or(0.0);
    assert!(
        (heartbeats - RECORD_S).abs() <= 2.0,
        "{heartbeats} heartbeats in {RECORD_S} s: {counts}"
    );
    for kind in ["ATTITUDE", "GLOBAL_POSITION_INT", "SYS_STATUS"] {
        assert!(
            vehicle[kind].as_u64().is_some_and(|n| n > 0),
            "no {kind} from the vehicle: {counts}"
        );
    }
    // The tlog's timestamps span the recording.
    let span_s =
        counts["last_s"].as_f64().unwrap_or(0.0) - counts["first_s"].as_f64().unwrap_or(0.0);
    assert!(
        (duration_s - span_s).abs() < 0.01,
        "{span_s} vs {duration_s}"
    );

    // Unknown and malformed ids.
    let other = "0".repeat(32);
    let (status, out) = d.run(&[
        "log",
        "export",
        &other,
        "-o",
        &path_arg(&d.dir.join("x.tlog")),
    ]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("no flight"), "{out:?}");
    assert!(
        !d.dir.join("x.tlog").exists(),
        "a failed export left a file"
    );
    let (status, out) = d.run(&["log", "export", "nope", "-o", "x.tlog"]);
    assert_eq!(status.code(), Some(2), "{out:?}");

    // Nothing the vault holds is readable in its files: not a mission's name, not the
    // vehicle's banner that was recorded in a STATUSTEXT.
    let name = "Quarry Ridge Survey 7731";
    let plan = d.file("m.waypoints", WAYPOINTS);
    d.ok(&["mission", "save", &path_arg(&plan), "--name", name]);
    let found = scan(&d.vault_dir(), &[name.as_bytes(), BANNER]);
    assert!(
        found.is_empty(),
        "plaintext in the vault's files: {found:?}"
    );
    drop(sim);
}

/// `airgap record` with its stderr read line by line, to know when it is recording.
struct Recorder {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Recorder {
    fn start(mut cmd: Command) -> Recorder {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start airgap record");
        let stdout = child.stdout.take().map(common::drain);
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Recorder {
            child,
            lines,
            stderr: Vec::new(),
            stdout,
        }
    }

    fn wait_until_recording(&mut self) {
        let deadline = Instant::now() + CLI_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let started = line.starts_with("airgap: recording");
                    self.stderr.push(line);
                    if started {
                        return;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "airgap record did not start recording:\n{}",
                        self.stderr.join("\n")
                    );
                }
            }
        }
    }

    /// Waits for a successful exit and returns its stdout.
    fn finish(mut self) -> String {
        let deadline = Instant::now() + CLI_TIMEOUT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    panic!("airgap record did not end within {CLI_TIMEOUT:?}");
                }
            }
        };
        // The pipe closes with the process: this ends.
        self.stderr.extend(self.lines.iter());
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        assert!(
            status.success(),
            "airgap record exited with {status}\n--- stdout\n{stdout}\n--- stderr\n{}",
            self.stderr.join("\n")
        );
        stdout
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Files under `dir` that contain any of `needles`, with the needle.
fn scan(dir: &Path, needles: &[&[u8]]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut files = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for needle in needles {
                if bytes.windows(needle.len()).any(|w| w == *needle) {
                    found.push((path.clone(), String::from_utf8_lossy(needle).into_owned()));
                }
            }
        }
    }
    assert!(files > 0, "no files under {}", dir.display());
    found
}

const WAYPOINTS: &str = "QGC WPL 110
0\t1\t0\t16\t0\t0\t0\t0\t-35.3632610\t149.1652300\t584.000000\t1
1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t20.000000\t1
2\t0\t3\t16\t2\t0\t0\t0\t-35.3620000\t149.1650000\t25.000000\t1
3\t0\t3\t16\t0\t0\t0\t0\t-35.3625000\t149.1670000\t30.000000\t1
4\t0\t3\t20\t0\t0\t0\t0\t0\t0\t0.000000\t1
";

#[test]
fn mission_save_list_and_export_round_trip() {
    let d = Data::new("vault-missions");
    d.init();
    let waypoints = d.file("in.waypoints", WAYPOINTS);
    // Our own writer's spelling of the mission after a trip through a .plan (which keeps
    // only home's position), to compare exports with.
    let normal = d.dir.join("normal.waypoints");
    let plan = d.dir.join("in.plan");
    let file =
        |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    d.ok(&[
        "mission",
        "convert",
        &path_arg(&waypoints),
        &path_arg(&plan),
    ]);
    d.ok(&["mission", "convert", &path_arg(&plan), &path_arg(&normal)]);

    let out = d.ok(&[
        "mission",
        "save",
        &path_arg(&waypoints),
        "--name",
        "Field A",
    ]);
    let wp_id = out.stdout.trim().to_owned();
    assert_eq!(wp_id.len(), 32, "{out:?}");
    let out = d.ok(&["mission", "save", &path_arg(&plan), "--name", "Field B"]);
    let plan_id = out.stdout.trim().to_owned();
    assert_ne!(wp_id, plan_id);

    let out = d.ok(&["mission", "list", "--json"]);
    let missions = json_lines(&out);
    assert_eq!(missions.len(), 2, "{out:?}");
    assert_eq!(missions[0]["name"], "Field A", "{out:?}");
    assert_eq!(missions[0]["id"], wp_id.as_str(), "{out:?}");
    assert_eq!(missions[1]["name"], "Field B", "{out:?}");
    for m in &missions {
        // Four items after home.
        assert_eq!(m["mission"], 4, "{m}");
        assert_eq!(m["fence"], 0, "{m}");
    }
    let out = d.ok(&["mission", "list"]);
    assert!(
        out.stdout.contains("Field A") && out.stdout.contains(&plan_id),
        "{out:?}"
    );

    // A .plan comes back byte for byte; a .waypoints as our writer spells it.
    let back_plan = d.dir.join("back.plan");
    d.ok(&["mission", "export", &plan_id, "-o", &path_arg(&back_plan)]);
    assert_eq!(file(&back_plan), file(&plan));
    for id in [&wp_id, &plan_id] {
        let back = d.dir.join(&format!("{id}.waypoints"));
        let out = d.ok(&["mission", "export", id, "-o", &path_arg(&back)]);
        assert!(out.stdout.contains(&path_arg(&back)), "{out:?}");
        assert_eq!(file(&back), file(&normal), "mission {id}");
    }

    // What cannot be saved or exported is refused before or without touching the vault.
    let (status, out) = d.run(&["mission", "save", &path_arg(&plan), "--name", "  "]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    let bad = d.file("bad.waypoints", &WAYPOINTS.replace("-35.3620000", "north"));
    let (status, out) = d.run(&["mission", "save", &path_arg(&bad), "--name", "Bad"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("north"), "{out:?}");
    let (status, out) = d.run(&[
        "mission",
        "export",
        &"f".repeat(32),
        "-o",
        &path_arg(&back_plan),
    ]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("no mission"), "{out:?}");
    let (status, out) = d.run(&[
        "mission",
        "export",
        &wp_id,
        "-o",
        &path_arg(&d.dir.join("x.kml")),
    ]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert_eq!(json_lines(&d.ok(&["mission", "list", "--json"])).len(), 2);
}

/// A .tlog of `frames` frames from vehicle `sysid`, 100 ms apart: HEARTBEATs (armed from the
/// middle on) and STATUSTEXTs carrying `text`.
fn sample_tlog(sysid: u8, frames: u64, text: &str) -> Vec<u8> {
    use airgap_core::dialect::{
        MavAutopilot, MavModeFlag, MavSeverity, MavState, MavType, HEARTBEAT_DATA, STATUSTEXT_DATA,
    };
    use airgap_core::frame::Frame;
    use airgap_core::MavMessage;
    let mut tlog = Vec::new();
    for i in 0..frames {
        let msg = if i % 3 == 0 {
            MavMessage::STATUSTEXT(STATUSTEXT_DATA {
                severity: MavSeverity::MAV_SEVERITY_INFO,
                text: text.into(),
                ..STATUSTEXT_DATA::DEFAULT
            })
        } else {
            let mut base_mode = MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED;
            if i > frames / 2 {
                base_mode |= MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
            }
            MavMessage::HEARTBEAT(HEARTBEAT_DATA {
                custom_mode: 4,
                mavtype: MavType::MAV_TYPE_QUADROTOR,
                autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
                base_mode,
                system_status: MavState::MAV_STATE_ACTIVE,
                mavlink_version: 3,
            })
        };
        let raw = Frame::encode_v2(sysid, 1, i as u8, &msg).raw;
        airgap_core::tlog::write_record(&mut tlog, 1_700_000_000_000_000 + i * 100_000, &raw)
            .expect("writing to a Vec");
    }
    tlog
}

impl Data {
    /// `airgap ARGS…` with `bundle_pass` as the bundle's passphrase file.
    fn run_bundle(&self, args: &[&str], bundle_pass: &Path) -> (ExitStatus, Finished) {
        let mut cmd = self.command(args, Some(&self.pass));
        cmd.env("AIRGAP_BUNDLE_PASSPHRASE_FILE", bundle_pass);
        Proc::spawn(&format!("airgap {}", args.join(" ")), &mut cmd).wait(CLI_TIMEOUT)
    }

    fn flight_ids(&self) -> Vec<String> {
        json_lines(&self.ok(&["log", "list", "--json"]))
            .iter()
            .map(|f| f["id"].as_str().expect("flight id").to_owned())
            .collect()
    }

    fn export_tlog(&self, id: &str) -> Vec<u8> {
        let path = self.dir.join(&format!("{id}.tlog"));
        self.ok(&["log", "export", id, "-o", &path_arg(&path)]);
        std::fs::read(&path).expect("the export wrote a file")
    }
}

/// The id printed after `kind ` on a line of `vault import`'s output.
fn imported_ids(out: &Finished, kind: &str) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix(kind)?.strip_prefix(' ').map(str::to_owned))
        .collect()
}

#[test]
fn imports_and_a_bundle_carried_to_another_data_dir() {
    let a = Data::new("bundle-a");
    let b = Data::new("bundle-b");
    a.init();
    b.init();

    // A .tlog imports as a flight, by either verb, and exports as the same bytes.
    let tlog_path = a.dir.join("field.tlog");
    let tlog = sample_tlog(6, 40, "Secret banner");
    std::fs::write(&tlog_path, &tlog).expect("write the tlog");
    let out = a.ok(&["vault", "import", &path_arg(&tlog_path)]);
    let flight = imported_ids(&out, "flight");
    assert_eq!(flight.len(), 1, "{out:?}");
    let flight = flight[0].clone();
    let out = a.ok(&["log", "import", &path_arg(&tlog_path)]);
    let second = out.stdout.trim().to_owned();
    assert_eq!(second.len(), 32, "{out:?}");
    assert_ne!(second, flight);
    assert_eq!(
        a.export_tlog(&flight),
        tlog,
        "a .tlog import exports as itself"
    );
    let listed = json_lines(&a.ok(&["log", "list", "--json"]));
    assert_eq!(listed.len(), 2);
    for f in &listed {
        assert_eq!(f["sysids"], serde_json::json!([6]), "{f}");
        assert_eq!(f["armed"], true, "{f}");
        assert_eq!(f["frames"], 40, "{f}");
    }

    // A mission (named after its file) and a parameter file.
    let plan = a.dir.join("plan-source.waypoints");
    std::fs::write(&plan, WAYPOINTS).expect("write waypoints");
    let out = a.ok(&["vault", "import", &path_arg(&plan)]);
    assert_eq!(imported_ids(&out, "mission").len(), 1, "{out:?}");
    let named = a.file("Hill Top.plan", "");
    a.ok(&["mission", "convert", &path_arg(&plan), &path_arg(&named)]);
    a.ok(&["vault", "import", &path_arg(&named)]);
    let params = a.file("vehicle.param", "FENCE_ENABLE,1\nWPNAV_SPEED,550\n");
    let out = a.ok(&["vault", "import", &path_arg(&params), "--sysid", "6"]);
    assert_eq!(imported_ids(&out, "snapshot").len(), 1, "{out:?}");
    let snapshots = json_lines(&a.ok(&["params", "snapshots", "--json"]));
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0]["sysid"], 6);
    assert_eq!(snapshots[0]["count"], 2);
    let missions = json_lines(&a.ok(&["mission", "list", "--json"]));
    let names: Vec<&str> = missions.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["Hill Top", "plan-source"]);

    // What cannot be imported is refused, and says why.
    for (file, said) in [
        (a.file("notes.txt", "hello"), "cannot tell what to import"),
        (a.file("empty.tlog", "not telemetry"), "not a .tlog"),
        (a.file("bad.param", "NOT A PARAM\n"), "line 1"),
    ] {
        let (status, out) = a.run(&["vault", "import", &path_arg(&file)]);
        assert_eq!(status.code(), Some(1), "{out:?}");
        assert!(out.stderr.contains(said), "{said}{out:?}");
    }
    let (status, out) = a.run(&["vault", "import", &path_arg(&tlog_path), "--sysid", "3"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert_eq!(a.flight_ids().len(), 2, "a refused import added a flight");

    // Export: everything, with the bundle's own passphrase.
    let bundle_pass = a.file("bundle-pass", "a different passphrase entirely\n");
    let bundle = a.dir.join("all.agvb");
    let (status, out) = a.run_bundle(
        &["vault", "export", "-o", &path_arg(&bundle), "--all"],
        &bundle_pass,
    );
    assert!(status.success(), "{out:?}");
    assert!(
        out.stdout
            .contains("bundle: 2 flights, 2 missions, 1 snapshots"),
        "{out:?}"
    );
    let bytes = std::fs::read(&bundle).expect("the bundle was written");
    for plaintext in [&b"Secret banner"[..], b"Hill Top", b"WPNAV_SPEED"] {
        assert!(
            !bytes.windows(plaintext.len()).any(|w| w == plaintext),
            "{} in the clear in the bundle",
            String::from_utf8_lossy(plaintext)
        );
    }
    // Nothing selected, or a name import would not recognise: refused, nothing written.
    let one = a.dir.join("one.agvb");
    for args in [
        vec!["vault", "export", "-o", one.to_str().expect("utf-8 path")],
        vec!["vault", "export", "-o", "one.zip", "--all"],
    ] {
        let (status, out) = a.run_bundle(&args, &bundle_pass);
        assert_eq!(status.code(), Some(1), "{out:?}");
        assert!(!one.exists());
    }
    // Export: one flight.
    let (status, out) = a.run_bundle(
        &[
            "vault",
            "export",
            "-o",
            &path_arg(&one),
            "--flight",
            &flight,
        ],
        &bundle_pass,
    );
    assert!(status.success(), "{out:?}");
    assert!(
        out.stdout
            .contains("bundle: 1 flights, 0 missions, 0 snapshots"),
        "{out:?}"
    );

    // Import into the other data directory: a wrong or missing bundle passphrase, then a
    // truncated bundle, import nothing.
    let wrong = b.file("wrong", "not the bundle passphrase\n");
    let (status, out) = b.run_bundle(&["vault", "import", &path_arg(&bundle)], &wrong);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("wrong bundle passphrase"), "{out:?}");
    let (status, out) = b.run(&["vault", "import", &path_arg(&bundle)]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("AIRGAP_BUNDLE_PASSPHRASE_FILE"),
        "{out:?}"
    );
    let cut = b.dir.join("cut.agvb");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).expect("write the cut bundle");
    let (status, out) = b.run_bundle(&["vault", "import", &path_arg(&cut)], &bundle_pass);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("truncated"), "{out:?}");
    assert!(
        b.flight_ids().is_empty(),
        "a refused bundle imported flights"
    );

    let (status, out) = b.run_bundle(&["vault", "import", &path_arg(&bundle)], &bundle_pass);
    assert!(status.success(), "{out:?}");
    assert_eq!(imported_ids(&out, "flight").len(), 2, "{out:?}");
    assert_eq!(imported_ids(&out, "mission").len(), 2, "{out:?}");
    assert_eq!(imported_ids(&out, "snapshot").len(), 1, "{out:?}");
    let flights = b.flight_ids();
    assert_eq!(flights.len(), 2);
    for id in &flights {
        let exported = b.export_tlog(id);
        assert_eq!(
            exported, tlog,
            "flight {id} is not byte-identical after the trip"
        );
    }
    let listed = json_lines(&b.ok(&["log", "list", "--json"]));
    assert!(listed
        .iter()
        .all(|f| f["sysids"] == serde_json::json!([6]) && f["armed"] == true));
    let missions = json_lines(&b.ok(&["mission", "list", "--json"]));
    let names: Vec<&str> = missions.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["Hill Top", "plan-source"]);
    assert_eq!(
        json_lines(&b.ok(&["params", "snapshots", "--json"])).len(),
        1
    );

    // pymavlink reads the flight as it came out of the second vault.
    let path = b.dir.join("check.tlog");
    b.ok(&["log", "export", &flights[0], "-o", &path_arg(&path)]);
    let counted = Proc::spawn(
        "count_tlog.py",
        Command::new(python())
            .arg(script("count_tlog.py"))
            .arg(&path),
    )
    .finish(CLI_TIMEOUT);
    let counts: Value = serde_json::from_str(counted.stdout.trim())
        .unwrap_or_else(|e| panic!("count_tlog.py printed no JSON ({e}){counted:?}"));
    assert_eq!(counts["total"], 40, "{counts}");
    assert_eq!(counts["bad"], 0, "{counts}");
}

/// `params download --keep` keeps the download as a snapshot, and `params snapshot` writes
/// it back out as a file with the same parameters.
#[test]
fn a_kept_parameter_download_exports_as_the_same_file() {
    let data = Data::new("params-keep");
    data.init();
    let (_sim, port) = start_sim();
    let downloaded = data.dir.join("vehicle.param");
    let address = format!("udpout:127.0.0.1:{port}");
    let out = data.ok(&[
        "params",
        "download",
        &address,
        "-o",
        &path_arg(&downloaded),
        "--keep",
    ]);
    assert!(out.stdout.contains("kept as parameter snapshot"), "{out:?}");
    let listed = json_lines(&data.ok(&["params", "snapshots", "--json"]));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["sysid"], 1);
    let id = listed[0]["id"].as_str().expect("an id").to_owned();
    let exported = data.dir.join("snapshot.param");
    data.ok(&["params", "snapshot", &id, "-o", &path_arg(&exported)]);
    // Name → value as the f32 the vehicle holds (writers may print a float differently).
    let read = |p: &Path| -> std::collections::BTreeMap<String, f32> {
        std::fs::read_to_string(p)
            .expect("a parameter file")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (name, value) = l.split_once(',').unwrap_or_else(|| panic!("{l:?}"));
                let value: f64 = value.parse().unwrap_or_else(|e| panic!("{l:?}: {e}"));
                (name.to_owned(), value as f32)
            })
            .collect()
    };
    let (exported, downloaded) = (read(&exported), read(&downloaded));
    assert!(exported.len() > 900, "{} parameters", exported.len());
    assert_eq!(exported, downloaded);
}
