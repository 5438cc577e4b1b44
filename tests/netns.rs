//! Two network namespaces joined by a veth pair, for the seal's packet-capture tests (the
//! CLI's in tests/it, the desktop app's in tests/e2e): a "host" (10.200.0.1) where Airgap runs
//! and an "internet" host (10.200.0.2), plus the process helpers those tests share. Needs
//! root; only ever these two private addresses, inside namespaces the test creates.

#![allow(dead_code, reason = "each test uses the part it needs")]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const INTERNET: &str = "10.200.0.2";
pub const HOST: &str = "10.200.0.1";

pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

pub fn must(program: &str, args: &[&str]) {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn is_root() -> bool {
    String::from_utf8_lossy(&run("id", &["-u"]).stdout).trim() == "0"
}

/// The two namespaces and the veth between them; removed when dropped.
pub struct Net {
    pub host: String,
    pub internet: String,
    pub veth: String,
}

impl Net {
    pub fn create() -> Net {
        let id = std::process::id();
        let net = Net {
            host: format!("airgap-host-{id}"),
            internet: format!("airgap-inet-{id}"),
            veth: format!("agv{}", id % 100_000),
        };
        let peer = format!("{}i", net.veth);
        must("ip", &["netns", "add", &net.host]);
        must("ip", &["netns", "add", &net.internet]);
        must(
            "ip",
            &[
                "link", "add", &net.veth, "type", "veth", "peer", "name", &peer,
            ],
        );
        must("ip", &["link", "set", &net.veth, "netns", &net.host]);
        must("ip", &["link", "set", &peer, "netns", &net.internet]);
        for (ns, dev, addr) in [
            (&net.host, &net.veth, HOST),
            (&net.internet, &peer, INTERNET),
        ] {
            // IPv6 off: its router solicitations would be packets nobody sent.
            net.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            net.exec(
                ns,
                &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            );
            net.exec(
                ns,
                &["ip", "addr", "add", &format!("{addr}/24"), "dev", dev],
            );
            net.exec(ns, &["ip", "link", "set", dev, "up"]);
            net.exec(ns, &["ip", "link", "set", "lo", "up"]);
        }
        // Everything not local goes to the "internet": a default route like a real machine's.
        net.exec(
            &net.host,
            &["ip", "route", "add", "default", "via", INTERNET],
        );
        net
    }

    pub fn exec(&self, ns: &str, args: &[&str]) {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        must("ip", &full);
    }

    /// `ip netns exec NS program args…`, ready to spawn.
    pub fn command(&self, ns: &str, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(program).args(args);
        cmd
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.host]);
        let _ = run("ip", &["netns", "del", &self.internet]);
    }
}

/// A child killed when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` and waits for a stdout line containing `marker`; returns the child and the
/// line.
pub fn spawn_until(mut cmd: Command, marker: &str, what: &str) -> (Kill, String) {
    // Killed (and waited for) when dropped, a panic below included.
    let mut child = Kill(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}")),
    );
    let out = child.0.stdout.take().expect("piped");
    let err = child.0.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // tcpdump says it is listening on stderr.
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx2.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains(marker) => return (child, line),
            Ok(line) => seen.push(line),
            Err(_) => {
                if let Ok(Some(status)) = child.0.try_wait() {
                    panic!("{what} exited ({status}) before saying {marker:?}: {seen:?}");
                }
            }
        }
    }
    panic!("{what} did not say {marker:?} within 30 s: {seen:?}");
}

pub fn output_of(mut cmd: Command, timeout: Duration, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: o.join().unwrap_or_default(),
        stderr: e.join().unwrap_or_default(),
    }
}

/// Counts the packets in a capture file.
pub fn packets_in(pcap: &Path) -> Vec<String> {
    let path = pcap.to_str().expect("a UTF-8 path");
    let read = run("tcpdump", &["-r", path, "-n"]);
    String::from_utf8_lossy(&read.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Starts `tcpdump` on the host side of the veth, writing to `pcap`; stopped when dropped.
pub fn capture(net: &Net, pcap: &Path) -> Kill {
    let mut tcpdump = Command::new("ip");
    tcpdump.args([
        "netns", "exec", &net.host, "tcpdump", "-i", &net.veth, "-n", "-U",
    ]);
    tcpdump.arg("--immediate-mode").arg("-w").arg(pcap);
    spawn_until(tcpdump, "listening on", "tcpdump").0
}

/// Starts the fake internet host's listeners (`tests/interop/internet_host.py`), which
/// write what they heard to `counts`.
pub fn internet_host(net: &Net, script: &Path, counts: &Path) -> Kill {
    let mut host = Command::new("ip");
    host.args(["netns", "exec", &net.internet, "python3"])
        .arg(script)
        .arg(counts);
    spawn_until(host, "ready", "the internet host").0
}

/// Everything the listeners heard, summed, and what each heard.
pub fn heard(counts: &Path) -> (u64, String) {
    let text = std::fs::read_to_string(counts).unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let total = parsed
        .as_object()
        .map(|m| m.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0);
    (total, text)
}
