//! The seal switch and what the seal can say about itself: the persisted SEALED/ONLINE
//! choice in the data directory, the operating-system layer's status, and the self-test
//! that gates a SEALED badge.
//!
//! The switch is read at start-up, before anything may touch a network, and fails closed: a
//! damaged or unknown switch file reads as sealed. It is written atomically (temporary file,
//! fsync, rename, fsync of the directory) so that a crash leaves the old state or the new
//! one, never half a file.
//!
//! The operating-system seal is not built yet on any system, and [`os_layer`] says so: a
//! front end shows what [`selftest`] found and must never claim a layer that is absent.

use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use crate::{Destination, Gate, Permit, RefusalReason};

/// The switch file's name inside the data directory.
pub const SWITCH_FILE: &str = "seal";
/// The switch file's first line: its format and version.
const HEADER: &str = "airgap-seal 1";
/// Anything larger is not a switch file; reading stops there.
const MAX_FILE_BYTES: u64 = 4096;

/// What the persisted switch says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealState {
    /// Never engaged, or disengaged (no file means online).
    Online,
    Sealed,
    /// The file is there but is not a switch this version can read: sealed, because the
    /// only safe reading of an unknown switch is the closed one.
    Damaged {
        why: String,
    },
}

impl SealState {
    /// True unless the switch clearly says online.
    pub fn is_sealed(&self) -> bool {
        !matches!(self, SealState::Online)
    }
}

impl fmt::Display for SealState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealState::Online => f.write_str("ONLINE"),
            SealState::Sealed => f.write_str("SEALED"),
            SealState::Damaged { why } => write!(f, "SEALED (the switch file is damaged: {why})"),
        }
    }
}

/// The switch file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// Reading failed for a reason other than the file being absent (permissions, a
    /// directory in its place). Callers start sealed: the state is unknown.
    #[error("cannot read the seal switch {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The new state is not on disk; the old one is still in force.
    #[error("cannot write the seal switch {path}: {source}")]
    Unwritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The persisted switch, `<data dir>/seal`: a version line, then `sealed` or `online`.
#[derive(Debug, Clone, Copy)]
pub struct SealSwitch;

impl SealSwitch {
    /// Where the switch lives in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(SWITCH_FILE)
    }

    /// The persisted state. No file is [`SealState::Online`]; a file that does not parse is
    /// [`SealState::Damaged`]: sealed, and the front end warns the pilot with its `why`.
    pub fn read(data_dir: &Path) -> Result<SealState, SwitchError> {
        let path = Self::path(data_dir);
        let unreadable = |source| SwitchError::Unreadable {
            path: path.clone(),
            source,
        };
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SealState::Online),
            Err(e) => return Err(unreadable(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        Ok(parse(&bytes))
    }

    /// Persist SEALED: every later start is sealed.
    pub fn engage(data_dir: &Path) -> Result<(), SwitchError> {
        write_atomically(data_dir, "sealed")
    }

    /// Persist ONLINE. Who may do this (the vault passphrase) is the caller's to check.
    pub fn disengage(data_dir: &Path) -> Result<(), SwitchError> {
        write_atomically(data_dir, "online")
    }
}

fn parse(bytes: &[u8]) -> SealState {
    let damaged = |why: &str| SealState::Damaged {
        why: why.to_owned(),
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return damaged("larger than a switch file can be");
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return damaged("not text");
    };
    let mut lines = text.lines().map(str::trim_end);
    match lines.next() {
        Some(HEADER) => {}
        Some(other) if other.starts_with("airgap-seal ") => {
            return damaged("written by a newer version of Airgap");
        }
        _ => return damaged("no `airgap-seal 1` header"),
    }
    let state = match lines.next() {
        Some("sealed") => SealState::Sealed,
        Some("online") => SealState::Online,
        Some(_) => return damaged("the state is neither `sealed` nor `online`"),
        None => return damaged("no state line"),
    };
    if lines.any(|l| !l.is_empty()) {
        return damaged("unexpected lines after the state");
    }
    state
}

/// Temporary file, fsync, rename over the switch, fsync of the directory: after a crash the
/// switch holds the old state or the new one, and once this returns the new one survives a
/// power cut.
fn write_atomically(data_dir: &Path, state: &str) -> Result<(), SwitchError> {
    let path = SealSwitch::path(data_dir);
    let unwritable = |source| SwitchError::Unwritable {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(unwritable)?;
    // The process id keeps two writers from sharing a temporary file; the rename decides
    // which state wins.
    let temp = data_dir.join(format!(".{SWITCH_FILE}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(format!("{HEADER}\n{state}\n").as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(unwritable(e));
    }
    sync_dir(data_dir).map_err(unwritable)
}

/// Makes the rename durable. Windows cannot open a directory as a file, and NTFS journals
/// the rename itself.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The operating-system layer of the seal (DESIGN.md, "The network seal", layer 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OsLayer {
    /// Installed in this process and inherited by its children. Only the module that
    /// installs the OS seal may report this.
    Engaged { mechanism: &'static str },
    /// Not in place; `why` is said to the pilot as is.
    NotAvailable { why: &'static str },
}

impl fmt::Display for OsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OsLayer::Engaged { mechanism } => write!(f, "engaged ({mechanism})"),
            OsLayer::NotAvailable { why } => write!(f, "not available: {why}"),
        }
    }
}

/// The OS seal in this process: engaged at start ([`crate::os::engage`]) or why not.
pub fn os_layer() -> OsLayer {
    crate::os::layer()
}

/// One layer's self-test outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// In place and doing what it claims.
    Pass,
    /// Not in place, and not claimed.
    Absent,
    /// Claimed, and not doing it: the seal must not be shown as engaged.
    Fail,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Absent => "ABSENT",
            Outcome::Fail => "FAIL",
        })
    }
}

/// What the self-test found about one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCheck {
    /// "egress gate", "OS seal".
    pub layer: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

/// What the self-test found, layer by layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfTest {
    pub layers: Vec<LayerCheck>,
}

impl SelfTest {
    /// True when no layer that is claimed failed. Absent layers do not fail the test; they
    /// must be shown as absent.
    pub fn passed(&self) -> bool {
        self.layers.iter().all(|l| l.outcome != Outcome::Fail)
    }
}

/// The probe: TEST-NET-1 (RFC 5737), an address reserved for documentation. The gate decides
/// on it before any socket exists, so nothing is ever sent to it.
pub const PROBE: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 9));

/// Checks each layer of the seal that is in place in this process: a sealed `gate` must
/// refuse [`PROBE`] and still let loopback and serial through (so the vehicle keeps its link);
/// the OS layer is reported as [`os_layer`] says. The probe's refusal is a real one: it is
/// counted by the gate and reaches its audit sink, if one is set.
pub fn selftest(gate: &Gate) -> SelfTest {
    selftest_with(gate, os_layer())
}

fn selftest_with(gate: &Gate, os: OsLayer) -> SelfTest {
    SelfTest {
        layers: vec![check_gate(gate), check_os(&os)],
    }
}

fn check_gate(gate: &Gate) -> LayerCheck {
    let check = |outcome, detail: String| LayerCheck {
        layer: "egress gate",
        outcome,
        detail,
    };
    if !gate.is_sealed() {
        return check(
            Outcome::Absent,
            "not engaged: the switch is ONLINE, every destination may be reached".to_owned(),
        );
    }
    let loopback = Destination::Socket(SocketAddr::from((Ipv4Addr::LOCALHOST, 14550)));
    let serial = Destination::Serial("/dev/ttyUSB0".to_owned());
    for local in [&loopback, &serial] {
        if gate.check_for("seal self-test", local) != Ok(Permit::Local) {
            return check(
                Outcome::Fail,
                format!("{local} is refused: a vehicle link there would not work"),
            );
        }
    }
    match gate.check_for("seal self-test", &Destination::Socket(PROBE)) {
        Err(refused) if refused.reason() == RefusalReason::Sealed => check(
            Outcome::Pass,
            format!(
                "{PROBE} (TEST-NET-1) refused before any socket exists; loopback and serial \
                 allowed"
            ),
        ),
        Err(refused) => check(
            Outcome::Fail,
            format!(
                "{PROBE} refused for an unexpected reason: {}",
                refused.reason()
            ),
        ),
        Ok(_) => check(Outcome::Fail, format!("{PROBE} would be reached")),
    }
}

fn check_os(os: &OsLayer) -> LayerCheck {
    check_os_with(os, &crate::os::probes())
}

/// A claimed OS layer passes only if every one of its probes, run just now, passed.
fn check_os_with(os: &OsLayer, probes: &[crate::os::Probe]) -> LayerCheck {
    let check = |outcome, detail| LayerCheck {
        layer: "OS seal",
        outcome,
        detail,
    };
    match os {
        OsLayer::NotAvailable { why } => check(Outcome::Absent, (*why).to_owned()),
        OsLayer::Engaged { mechanism } => {
            let failed: Vec<String> = probes
                .iter()
                .filter(|p| !p.passed)
                .map(|p| format!("{} FAILED ({})", p.what, p.detail))
                .collect();
            if probes.is_empty() {
                check(
                    Outcome::Fail,
                    format!("{mechanism} is claimed, but nothing checked it"),
                )
            } else if failed.is_empty() {
                let passed: Vec<&str> = probes.iter().map(|p| p.what).collect();
                check(
                    Outcome::Pass,
                    format!("{mechanism}; checked: {}", passed.join(", ")),
                )
            } else {
                check(Outcome::Fail, failed.join("; "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(label: &str) -> TempDir {
            let path = std::env::temp_dir().join(format!(
                "airgap-egress-switch-{label}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("the temporary directory is writable");
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn read(dir: &Path) -> SealState {
        SealSwitch::read(dir).expect("the switch is readable")
    }

    #[test]
    fn no_file_is_online_and_the_switch_round_trips() {
        let dir = TempDir::new("round-trip");
        assert_eq!(read(&dir.0), SealState::Online);
        SealSwitch::engage(&dir.0).expect("engage");
        assert_eq!(read(&dir.0), SealState::Sealed);
        assert_eq!(
            std::fs::read_to_string(SealSwitch::path(&dir.0)).expect("the file is there"),
            "airgap-seal 1\nsealed\n"
        );
        SealSwitch::disengage(&dir.0).expect("disengage");
        assert_eq!(read(&dir.0), SealState::Online);
        SealSwitch::engage(&dir.0).expect("engage again");
        assert!(read(&dir.0).is_sealed());
        let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
            .expect("list the directory")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .filter(|n| n != SWITCH_FILE)
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn engaging_creates_the_data_directory() {
        let dir = TempDir::new("create");
        let nested = dir.0.join("a").join("b");
        SealSwitch::engage(&nested).expect("engage in a new directory");
        assert_eq!(read(&nested), SealState::Sealed);
    }

    #[test]
    fn anything_but_a_clean_switch_reads_as_sealed() {
        let dir = TempDir::new("damaged");
        let cases: &[(&[u8], &str)] = &[
            (b"", "header"),
            (b"airgap-seal 1\n", "no state"),
            (b"airgap-seal 1\nonline\nsealed\n", "after the state"),
            (b"airgap-seal 1\nONLINE\n", "neither"),
            (b"airgap-seal 1\nonl", "neither"),
            (b"airgap-seal 2\nonline\n", "newer version"),
            (b"online\n", "header"),
            (b"\xff\xfe\x00", "not text"),
            (&[b'x'; 5000], "larger"),
        ];
        for (content, why_part) in cases {
            std::fs::write(SealSwitch::path(&dir.0), content).expect("write the file");
            let state = read(&dir.0);
            assert!(state.is_sealed(), "{content:?} read as {state}");
            match &state {
                SealState::Damaged { why } => assert!(why.contains(why_part), "{why}"),
                other => panic!("{content:?} read as {other:?}"),
            }
            assert!(state
                .to_string()
                .starts_with("SEALED (the switch file is damaged"));
        }
        // Line endings and trailing blank lines a text editor may add are still the switch.
        for content in ["airgap-seal 1\r\nonline\r\n", "airgap-seal 1\nonline\n\n"] {
            std::fs::write(SealSwitch::path(&dir.0), content).expect("write the file");
            assert_eq!(read(&dir.0), SealState::Online, "{content:?}");
        }
    }

    #[test]
    fn an_unreadable_switch_is_an_error_not_online() {
        let dir = TempDir::new("unreadable");
        // A directory where the file should be cannot be read as one.
        std::fs::create_dir(SealSwitch::path(&dir.0)).expect("make the directory");
        match SealSwitch::read(&dir.0) {
            Err(SwitchError::Unreadable { path, .. }) => {
                assert_eq!(path, SealSwitch::path(&dir.0))
            }
            other => panic!("expected Unreadable, got {other:?}"),
        }
        // And it cannot be replaced by a rename either: the old state stays in force.
        assert!(matches!(
            SealSwitch::disengage(&dir.0),
            Err(SwitchError::Unwritable { .. })
        ));
    }

    #[test]
    fn the_os_layer_is_not_claimed_in_a_process_that_did_not_engage_it() {
        // The test process never engages the seal (that would seal the test runner).
        assert!(matches!(os_layer(), OsLayer::NotAvailable { .. }));
        assert!(os_layer().to_string().starts_with("not available: "));
        assert!(crate::os::probes().is_empty());
    }

    #[test]
    fn selftest_of_a_sealed_gate_passes_the_gate_and_reports_the_os_layer_absent() {
        let gate = Gate::new(true);
        let test = selftest(&gate);
        assert!(test.passed(), "{test:?}");
        assert_eq!(test.layers.len(), 2);
        assert_eq!(test.layers[0].layer, "egress gate");
        assert_eq!(test.layers[0].outcome, Outcome::Pass, "{test:?}");
        assert!(test.layers[0].detail.contains("192.0.2.1:9"));
        assert_eq!(test.layers[1].layer, "OS seal");
        assert_eq!(test.layers[1].outcome, Outcome::Absent);
        assert_eq!(
            gate.refused_count(),
            1,
            "the probe is a real, counted refusal"
        );
    }

    #[test]
    fn selftest_of_an_online_gate_claims_nothing() {
        let gate = Gate::new(false);
        let test = selftest(&gate);
        assert!(test.passed());
        assert!(test.layers.iter().all(|l| l.outcome == Outcome::Absent));
        assert_eq!(gate.refused_count(), 0);
    }

    #[test]
    fn a_claimed_os_layer_without_a_check_fails() {
        let test = selftest_with(
            &Gate::new(true),
            OsLayer::Engaged {
                mechanism: "seccomp",
            },
        );
        assert!(!test.passed());
        assert_eq!(test.layers[1].outcome, Outcome::Fail);
        assert_eq!(Outcome::Fail.to_string(), "FAIL");
    }

    #[test]
    fn a_claimed_os_layer_passes_only_when_every_probe_passed() {
        let os = OsLayer::Engaged {
            mechanism: "seccomp",
        };
        let probe = |what, passed| crate::os::Probe {
            what,
            passed,
            detail: "d".into(),
        };
        let ok = check_os_with(&os, &[probe("filter", true), probe("udp refused", true)]);
        assert_eq!(ok.outcome, Outcome::Pass);
        let bad = check_os_with(&os, &[probe("filter", true), probe("udp refused", false)]);
        assert_eq!(bad.outcome, Outcome::Fail);
        assert!(bad.detail.contains("udp refused FAILED"), "{}", bad.detail);
    }
}
