//! Process and socket helpers shared by the interop test binaries (interop.rs,
//! interop_protocols.rs): start `airgap` and pymavlink scripts with bounded waits, collect
//! their output, find free loopback ports and scratch directories.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]
// Raw sockets here are test fixtures on 127.0.0.1, not features that need the egress gate.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "free ports and listener checks take raw sockets on 127.0.0.1"
)]

use std::io::Read;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const AIRGAP: &str = env!("CARGO_BIN_EXE_airgap");
/// Generous: two Python interpreters and a Rust binary share two cores with other tests.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(40);
pub const BIND_TIMEOUT: Duration = Duration::from_secs(15);

pub fn python() -> PathBuf {
    match std::env::var_os("AIRGAP_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "AIRGAP_PYTHON is not set: the interop tests need a Python with pymavlink \
             (tests/interop/requirements.txt). Run them through `cargo xtask test`, which makes \
             .venv/ and sets it, or set AIRGAP_PYTHON=/path/to/.venv/bin/python"
        ),
    }
}

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/interop")
        .join(name)
}

/// A child process that is killed if the test ends before it does, with its output collected
/// on threads so a full pipe can never stall it.
pub struct Proc {
    pub name: String,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

pub struct Finished {
    pub stdout: String,
    pub stderr: String,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Self {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
        }
    }

    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the process to exit within `timeout`, whatever its status; a process still
    /// running then is killed and fails the test with its output.
    pub fn wait(mut self, timeout: Duration) -> (ExitStatus, Finished) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => break None,
                Err(e) => panic!("waiting for {}: {e}", self.name),
            }
        };
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let out = self.collect();
        match status {
            Some(status) => (status, out),
            None => panic!(
                "{} did not finish within {timeout:?}\n--- stdout\n{}\n--- stderr\n{}",
                self.name, out.stdout, out.stderr
            ),
        }
    }

    /// Waits for a successful exit within `timeout`; anything else fails the test with the
    /// process's output.
    pub fn finish(self, timeout: Duration) -> Finished {
        let name = self.name.clone();
        let (status, out) = self.wait(timeout);
        if !status.success() {
            panic!(
                "{name} exited with {status}\n--- stdout\n{}\n--- stderr\n{}",
                out.stdout, out.stderr
            );
        }
        out
    }

    /// Kills the process (it is expected to still be running) and returns its output.
    pub fn stop(mut self) -> Finished {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collect()
    }

    pub fn collect(&mut self) -> Finished {
        let join = |h: Option<JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        Finished {
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.has_exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        )
    }
}

pub fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface can bind an ephemeral UDP port")
}

/// Waits until `proc` has bound UDP `port` on loopback, so the peer started next has someone
/// to talk to from its first frame.
pub fn wait_for_udp_listener(proc: &mut Proc, port: u16) {
    let deadline = Instant::now() + BIND_TIMEOUT;
    while Instant::now() < deadline {
        if udp_port_bound(port) {
            return;
        }
        if proc.has_exited() {
            let name = proc.name.clone();
            let out = proc.collect();
            panic!(
                "{name} exited before binding UDP port {port}\n--- stdout\n{}\n--- stderr\n{}",
                out.stdout, out.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{} did not bind UDP port {port} within {BIND_TIMEOUT:?}",
        proc.name
    );
}

/// Whether some socket is bound to 127.0.0.1:`port`. On Linux this reads the kernel's socket
/// table, which cannot disturb the listener; elsewhere it tries to bind the port itself, which
/// only fails while the listener holds it.
fn udp_port_bound(port: u16) -> bool {
    match std::fs::read_to_string("/proc/net/udp") {
        Ok(table) => {
            let wanted = format!(":{port:04X}");
            table.lines().skip(1).any(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|local| local.ends_with(&wanted))
            })
        }
        Err(_) => UdpSocket::bind(("127.0.0.1", port)).is_err(),
    }
}

/// A fresh directory under Cargo's scratch space for integration tests, removed when dropped
/// (kept when the test fails, for a look at the files).
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// `label` must be unique among the tests of one binary, which run in one process.
    pub fn new(label: &str) -> Self {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{label}-{}", std::process::id()));
        // A leftover from an earlier run with the same pid would only hold stale files.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A scratch data directory with a passphrase file, where every `airgap` of a test runs,
/// with cheap key derivation (AIRGAP_KDF=fast).
pub struct Data {
    pub dir: ScratchDir,
    pub data: PathBuf,
    pub pass: PathBuf,
}

impl Data {
    pub fn new(label: &str) -> Data {
        let dir = ScratchDir::new(label);
        let data = dir.join("data");
        let pass = dir.join("pass");
        std::fs::write(&pass, "correct horse battery staple\n").expect("write the passphrase");
        Data { dir, data, pass }
    }

    /// `airgap ARGS…` with this data directory and `pass` as the passphrase file (none when
    /// `None`). Environment from outside the test that could change the outcome is removed.
    pub fn command(&self, args: &[&str], pass: Option<&Path>) -> Command {
        self.command_wrapped(&[], args, pass)
    }

    /// Like [`Data::command`], run through `wrapper` (e.g. `strace …`) when it is not empty.
    pub fn command_wrapped(&self, wrapper: &[&str], args: &[&str], pass: Option<&Path>) -> Command {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(AIRGAP);
                cmd
            }
            None => Command::new(AIRGAP),
        };
        cmd.args(args)
            .env("AIRGAP_DATA_DIR", &self.data)
            .env("AIRGAP_KDF", "fast")
            .env_remove("AIRGAP_PASSPHRASE_FILE")
            .env_remove("AIRGAP_NEW_PASSPHRASE_FILE")
            .env_remove("AIRGAP_BUNDLE_PASSPHRASE_FILE")
            .env_remove("RUST_LOG");
        if let Some(pass) = pass {
            cmd.env("AIRGAP_PASSPHRASE_FILE", pass);
        }
        cmd
    }

    pub fn run_with(&self, args: &[&str], pass: Option<&Path>) -> (ExitStatus, Finished) {
        Proc::spawn(
            &format!("airgap {}", args.join(" ")),
            &mut self.command(args, pass),
        )
        .wait(DATA_CLI_TIMEOUT)
    }

    pub fn run(&self, args: &[&str]) -> (ExitStatus, Finished) {
        self.run_with(args, Some(&self.pass))
    }

    pub fn ok(&self, args: &[&str]) -> Finished {
        let (status, out) = self.run(args);
        assert!(
            status.success(),
            "airgap {args:?} exited with {status}{out:?}"
        );
        out
    }
}

/// How long one `airgap` run of a [`Data`] test may take.
const DATA_CLI_TIMEOUT: Duration = Duration::from_secs(60);
