//! The seal switch as a script uses it: `airgap seal status|on|off|selftest` and `airgap
//! --sealed VERB`, as processes on a scratch AIRGAP_DATA_DIR (AIRGAP_KDF=fast for the vault).
//! Engaging and disengaging are checked in the vault's audit trail from this process once the
//! CLI has exited. Vehicle links and forwards to TEST-NET-1 (192.0.2.1) must be refused by
//! the gate before any socket exists: where `strace` is installed, the system calls are
//! traced and must never name that address, and where unprivileged network namespaces work,
//! a refused link runs in an empty one, so a bug could send nothing anywhere.

// The forward's receiver is a raw loopback UDP socket: a test fixture, not a feature that
// needs the egress gate.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the forward's receiver is a raw loopback UDP socket"
)]

mod common;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use airgap_core::frame::parse_slice;
use airgap_vault::{AuditEvent, SecretString, Vault};
use common::{free_udp_port, wait_for_udp_listener, Data, Finished, Proc, ScratchDir};
use serde_json::Value;

const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// What a sealed command says once on stderr (these tests run on Linux, where the OS seal
/// is engaged).
const BANNER: &str = "airgap: sealed (app level: egress gate; OS seal: engaged)";
const REMOTE: &str = "192.0.2.1";

impl Data {
    fn switch_file(&self) -> PathBuf {
        self.data.join("seal")
    }

    fn status(&self) -> Value {
        let out = self.ok(&["seal", "status", "--json"]);
        serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("status is not JSON ({e}){out:?}"))
    }

    /// The `Other` audit entries, read with the vault crate: (kind, written while locked).
    fn audit_kinds(&self) -> Vec<(String, bool)> {
        let vault = Vault::open(&self.data.join("vault")).expect("open the vault");
        vault
            .unlock(&SecretString::from(
                "correct horse battery staple".to_owned(),
            ))
            .expect("unlock the vault");
        let entries = vault.audit_entries().expect("read the audit trail");
        assert!(entries.damaged.is_empty(), "{:?}", entries.damaged);
        let kinds = entries
            .items
            .into_iter()
            .filter_map(|e| match e.event {
                AuditEvent::Other { kind, .. } => Some((kind, e.sealed)),
                _ => None,
            })
            .collect();
        vault.lock().expect("lock the vault");
        kinds
    }
}

fn banners(out: &Finished) -> usize {
    out.stderr.matches(BANNER).count()
}

/// A system-call trace of one command, where `strace` is installed.
struct Trace {
    log: PathBuf,
}

impl Trace {
    fn new(dir: &ScratchDir, label: &str) -> Option<Trace> {
        let works = Command::new("strace")
            .args(["-o", "/dev/null", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !works {
            eprintln!("strace is not available: the system calls are not checked");
            return None;
        }
        Some(Trace {
            log: dir.join(&format!("{label}.strace")),
        })
    }

    fn wrapper(&self) -> Vec<String> {
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=%network",
            "-o",
            &self.log.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).expect("read the strace log")
    }
}

/// `unshare -rn` when unprivileged network namespaces work: the command then runs with no
/// network at all (not even a loopback that is up).
fn empty_netns() -> Option<[&'static str; 2]> {
    let works = Command::new("unshare")
        .args(["-rn", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(["unshare", "-rn"])
}

#[test]
fn on_status_off_round_trip_with_the_passphrase_and_the_audit_trail() {
    let d = Data::new("seal-round-trip");
    let init = d.ok(&["vault", "init"]);
    assert_eq!(banners(&init), 0, "not sealed yet{init:?}");

    let s = d.status();
    assert_eq!(s["switch"], "online", "{s}");
    assert_eq!(s["sealed"], false, "{s}");
    assert_eq!(s["os_layer"]["available"], false, "{s}");
    assert!(!d.switch_file().exists());

    let out = d.ok(&["seal", "on"]);
    assert!(out.stdout.starts_with("SEALED"), "{out:?}");
    assert!(
        out.stdout
            .contains("egress gate and the OS seal, engaged as each starts"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(d.switch_file()).expect("the switch is persisted"),
        "airgap-seal 1\nsealed\n"
    );
    let s = d.status();
    assert_eq!(s["switch"], "sealed", "{s}");
    assert_eq!(s["sealed"], true, "{s}");
    assert_eq!(s["sealed_flag"], false, "{s}");
    assert_eq!(s["app_layer"]["egress_gate"], "SEALED", "{s}");
    // Every later command starts sealed and says so once, with no passphrase.
    let (_, out) = d.run_with(&["vault", "status"], None);
    assert_eq!(banners(&out), 1, "{out:?}");

    // Disengaging proves who asks: no passphrase, or a wrong one, leaves it sealed.
    let (status, out) = d.run_with(&["seal", "off"], None);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("AIRGAP_PASSPHRASE_FILE"), "{out:?}");
    let wrong = d.dir.join("wrong");
    std::fs::write(&wrong, "correct horse battery stable\n").expect("write the wrong one");
    let (status, out) = d.run_with(&["seal", "off"], Some(&wrong));
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("wrong passphrase"), "{out:?}");
    assert!(out.stderr.contains("the seal stays engaged"), "{out:?}");
    assert_eq!(d.status()["switch"], "sealed");

    let out = d.ok(&["seal", "off"]);
    assert!(out.stdout.starts_with("ONLINE"), "{out:?}");
    let s = d.status();
    assert_eq!(s["switch"], "online", "{s}");
    assert_eq!(s["sealed"], false, "{s}");
    // `--sealed` seals one command whatever the switch says, and leaves the switch alone.
    let out = d.ok(&["--sealed", "seal", "status", "--json"]);
    let s: Value = serde_json::from_str(out.stdout.trim()).expect("status JSON");
    assert_eq!(
        (s["switch"].as_str(), s["sealed"].as_bool()),
        (Some("online"), Some(true))
    );
    assert_eq!(s["sealed_flag"], true, "{s}");
    assert_eq!(banners(&out), 1, "{out:?}");

    let kinds = d.audit_kinds();
    assert_eq!(
        kinds,
        vec![
            // Engaged with the vault locked: sealed to its public key.
            ("seal_engaged".to_owned(), true),
            // Disengaged with the vault unlocked by the passphrase that proved who asked.
            ("seal_disengaged".to_owned(), false),
        ],
    );
}

#[test]
fn disengaging_without_a_vault_is_refused() {
    let d = Data::new("seal-no-vault");
    d.ok(&["seal", "on"]);
    let (status, out) = d.run(&["seal", "off"]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("no vault"), "{out:?}");
    assert!(out.stderr.contains("the seal stays engaged"), "{out:?}");
    assert_eq!(d.status()["switch"], "sealed");
}

#[test]
fn a_damaged_or_unreadable_switch_reads_as_sealed() {
    let d = Data::new("seal-damaged");
    std::fs::create_dir_all(&d.data).expect("make the data directory");
    // Half a write, as an older version without the atomic rename could have left it.
    std::fs::write(d.switch_file(), "airgap-seal 1\nonl").expect("damage the switch");
    let (status, out) = d.run(&["seal", "status", "--json"]);
    assert!(status.success(), "{out:?}");
    let s: Value = serde_json::from_str(out.stdout.trim()).expect("status JSON");
    assert_eq!(s["switch"], "damaged", "{s}");
    assert_eq!(s["sealed"], true, "{s}");
    assert!(s["problem"].as_str().is_some_and(|p| !p.is_empty()), "{s}");
    assert!(
        out.stderr.contains("is damaged") && out.stderr.contains("running SEALED"),
        "{out:?}"
    );
    assert_eq!(banners(&out), 1, "{out:?}");

    // `seal on` rewrites it cleanly.
    d.ok(&["seal", "on"]);
    assert_eq!(d.status()["switch"], "sealed");

    // A directory where the file should be cannot be read: sealed too.
    std::fs::remove_file(d.switch_file()).expect("remove the switch");
    std::fs::create_dir(d.switch_file()).expect("put a directory there");
    let s = d.status();
    assert_eq!(s["switch"], "unreadable", "{s}");
    assert_eq!(s["sealed"], true, "{s}");
}

#[test]
fn selftest_reports_each_layer_and_passes_only_what_is_claimed() {
    let d = Data::new("seal-selftest");
    let (status, out) = d.run(&["seal", "selftest"]);
    assert_eq!(status.code(), Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("egress gate") && lines[0].contains("ABSENT"),
        "{out:?}"
    );
    assert!(
        lines[1].starts_with("OS seal") && lines[1].contains("ABSENT"),
        "{out:?}"
    );
    assert!(out.stdout.contains("nothing is sealed"), "{out:?}");

    let (status, out) = d.run(&["--sealed", "seal", "selftest"]);
    assert_eq!(status.code(), Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("egress gate") && lines[0].contains("PASS"),
        "{out:?}"
    );
    assert!(lines[0].contains("192.0.2.1:9"), "{out:?}");
    assert!(
        lines[1].starts_with("OS seal")
            && lines[1].contains("PASS")
            && lines[1].contains("an internet datagram socket is refused")
            && lines[1].contains("TCP sockets are tied to the loopback device"),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("FAIL") && out.stdout.contains("every layer holds"),
        "{out:?}"
    );

    d.ok(&["seal", "on"]);
    let out = d.ok(&["seal", "selftest", "--json"]);
    let t: Value = serde_json::from_str(out.stdout.trim()).expect("selftest JSON");
    assert_eq!(t["sealed"], true, "{t}");
    assert_eq!(t["passed"], true, "{t}");
    let outcomes: Vec<(&str, &str)> = t["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["layer"].as_str().unwrap_or_default(),
                l["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![("egress gate", "PASS"), ("OS seal", "PASS")],
        "{t}"
    );
}

#[test]
fn a_sealed_vehicle_link_to_a_remote_address_is_refused_before_any_socket() {
    let d = Data::new("seal-refused-link");
    d.ok(&["vault", "init"]);
    let remote = format!("udpout:{REMOTE}:14550");
    let netns = empty_netns();
    if netns.is_none() {
        eprintln!("no unprivileged network namespaces: the refused links run in this one");
    }
    // Once with `--sealed`, once with the persisted switch.
    for (round, args) in [
        vec!["--sealed", "watch", remote.as_str(), "--duration", "5"],
        vec!["watch", remote.as_str(), "--duration", "5"],
    ]
    .into_iter()
    .enumerate()
    {
        if round == 1 {
            d.ok(&["seal", "on"]);
        }
        let trace = Trace::new(&d.dir, &format!("refused-{round}"));
        let mut wrapper: Vec<String> = netns.iter().flatten().map(|s| s.to_string()).collect();
        wrapper.extend(trace.iter().flat_map(Trace::wrapper));
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let started = Instant::now();
        let (status, out) = Proc::spawn(
            &format!("airgap {}", args.join(" ")),
            &mut d.command_wrapped(&wrapper, &args, None),
        )
        .wait(CLI_TIMEOUT);
        assert_eq!(status.code(), Some(1), "{out:?}");
        assert!(
            out.stderr.contains(&format!(
                "airgap: cannot open {remote}: vehicle link to {REMOTE}:14550 refused: the \
                 network seal is engaged"
            )),
            "{out:?}"
        );
        assert_eq!(banners(&out), 1, "{out:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused at once, not after the watch's duration"
        );
        if let Some(trace) = &trace {
            let text = trace.text();
            assert!(
                !text.contains(REMOTE),
                "a system call named {REMOTE}:\n{text}"
            );
        }
    }
    let refused = d
        .audit_kinds()
        .into_iter()
        .filter(|(kind, _)| kind == "egress_refused")
        .count();
    assert_eq!(refused, 2, "each refusal is in the audit trail");
}

/// Vehicle frames (sysid 1) that reach `socket` within `limit`, stopping at `enough`.
fn vehicle_frames(socket: &UdpSocket, limit: Duration, enough: usize) -> usize {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 65_536];
    let mut count = 0;
    while count < enough && Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        count += parse_slice(&buf[..n])
            .flatten()
            .filter(|f| f.sysid() == 1)
            .count();
    }
    count
}

#[test]
fn sealed_watch_of_a_loopback_sim_works_and_a_remote_forward_is_refused() {
    let d = Data::new("seal-loopback");
    let port = free_udp_port();
    let mut sim = Proc::spawn(
        "airgap sim",
        &mut d.command(&["sim", &format!("udpin:127.0.0.1:{port}")], None),
    );
    wait_for_udp_listener(&mut sim, port);
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("set a read timeout");
    let receiver_port = receiver.local_addr().expect("bound").port();

    let trace = Trace::new(&d.dir, "loopback");
    let wrapper: Vec<String> = trace.iter().flat_map(Trace::wrapper).collect();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let remote_out = format!("udpout:{REMOTE}:1");
    let local_out = format!("udpout:127.0.0.1:{receiver_port}");
    let args = [
        "--sealed",
        "watch",
        &format!("udpout:127.0.0.1:{port}"),
        "--out",
        &remote_out,
        "--out",
        &local_out,
        "--json",
        "--duration",
        "6",
    ];
    let watch = Proc::spawn(
        "airgap --sealed watch",
        &mut d.command_wrapped(&wrapper, &args, None),
    );
    // A loopback forward works sealed, beside the refused one.
    let forwarded = vehicle_frames(&receiver, Duration::from_secs(20), 20);
    let (status, out) = watch.wait(CLI_TIMEOUT);
    assert!(status.success(), "{out:?}");
    assert!(forwarded >= 20, "only {forwarded} frames forwarded{out:?}");
    assert_eq!(banners(&out), 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "airgap: forwarding to {remote_out} refused: the network seal is engaged"
        )),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("airgap: forwarding to {local_out}")),
        "{out:?}"
    );
    // The vehicle was watched all along.
    let heard = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["sysid"] == 1 && v["mode"].is_string())
        .count();
    assert!(heard >= 3, "the vehicle was not watched{out:?}");
    if let Some(trace) = &trace {
        let text = trace.text();
        assert!(
            !text.contains(REMOTE),
            "a system call named {REMOTE}:\n{text}"
        );
        assert!(
            text.contains("127.0.0.1"),
            "the trace saw no loopback socket either, so it proves nothing:\n{text}"
        );
    }
    drop(sim);
}

/// `airgap --sealed sim` may serve on loopback only: the simulator opens its own socket, so
/// it asks the gate too.
#[test]
fn a_sealed_sim_serves_only_on_loopback() {
    let d = Data::new("seal-sim");
    let remote = format!("udpout:{REMOTE}:14550");
    let (status, out) = d.run(&["--sealed", "sim", remote.as_str()]);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "airgap: cannot serve on {remote}: simulator link to {REMOTE}:14550 refused"
        )),
        "{out:?}"
    );
    assert!(!out.stdout.contains("serving"), "{out:?}");
}

/// Runs `airgap ARGS` from a Python parent that hands it an open UDP socket (as descriptor
/// `pass_fds` does): a socket opened before the seal would escape it.
const WITH_INHERITED_SOCKET: &str = "import socket, subprocess, sys\n\
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
sys.exit(subprocess.run(sys.argv[1:], pass_fds=[s.fileno()]).returncode)\n";

#[test]
fn a_sealed_start_that_cannot_be_sealed_refuses_and_says_why() {
    let d = Data::new("seal-fail-closed");
    let port = common::free_udp_port().to_string();
    let args = [
        "--sealed",
        "watch",
        &format!("udpin:127.0.0.1:{port}"),
        "--duration",
        "1",
    ];
    let python = common::python();
    let python = python.to_str().expect("a UTF-8 path");
    let (status, out) = Proc::spawn(
        "airgap with an inherited socket",
        &mut d.command_wrapped(&[python, "-c", WITH_INHERITED_SOCKET], &args, None),
    )
    .wait(CLI_TIMEOUT);
    assert_eq!(status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("airgap: refusing to run sealed: an IPv4 socket is open as descriptor")
            && out.stderr.contains("an open socket would escape the seal"),
        "{out:?}"
    );
    assert_eq!(banners(&out), 0, "a refused start claims no seal{out:?}");
    assert!(out.stdout.is_empty(), "the verb never ran{out:?}");

    // The same launch unsealed runs: the refusal is the seal's, not the launcher's.
    let args = [
        "watch",
        &format!("udpin:127.0.0.1:{port}"),
        "--duration",
        "1",
    ];
    let (status, out) = Proc::spawn(
        "airgap unsealed with an inherited socket",
        &mut d.command_wrapped(&[python, "-c", WITH_INHERITED_SOCKET], &args, None),
    )
    .wait(CLI_TIMEOUT);
    assert!(status.success(), "{out:?}");

    // `seal status` still runs (gate only) and says the OS seal failed.
    let (status, out) = Proc::spawn(
        "airgap seal status with an inherited socket",
        &mut d.command_wrapped(
            &[python, "-c", WITH_INHERITED_SOCKET],
            &["--sealed", "seal", "status"],
            None,
        ),
    )
    .wait(CLI_TIMEOUT);
    assert!(status.success(), "{out:?}");
    assert!(
        out.stdout
            .contains("OS seal: FAILED to engage: an IPv4 socket is open as descriptor"),
        "{out:?}"
    );
}
