//! `airgap seal` (status, on, off, selftest), and the seal every verb runs under: read once
//! at start, before anything can touch a network, from the persisted switch and `--sealed`.
//!
//! A sealed command runs behind the egress gate (the app layer) and, on Linux, the OS seal,
//! engaged in `main` before any thread starts; elsewhere every message says the OS layer is
//! not there rather than let "sealed" promise more.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::net::SocketAddr;
use std::time::Duration;

use airgap_engine::airgap_egress::os::{self, SealError};
use airgap_engine::airgap_egress::{
    os_layer, selftest, Gate, OsLayer, Outcome, Refusal, SealState, SealSwitch,
};
use airgap_vault::{AuditEvent, Vault};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::vault;

#[derive(Args)]
pub struct SealArgs {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Show the persisted switch, what this command runs under, and which layers are in place.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Engage the seal: every Airgap command and the desktop app started from now on run
    /// sealed (only loopback addresses and serial devices can be reached).
    ///
    /// Needs no passphrase; recorded in the vault's audit trail when there is a vault.
    On,
    /// Disengage the seal. Needs the vault's passphrase ($AIRGAP_PASSPHRASE_FILE or a
    /// prompt), and is recorded in the vault's audit trail; without a vault it is refused.
    Off,
    /// Check each layer of the seal this command would run under, as PASS, ABSENT or FAIL.
    ///
    /// Exits 0 only when every layer that is claimed passed.
    Selftest {
        #[arg(long)]
        json: bool,
        /// Also try to reach ADDR (IP:PORT) directly, past the gate, with TCP and UDP, from
        /// this process and from a child process: sealed, both must be stopped by the OS.
        #[arg(long, value_name = "ADDR")]
        probe: Option<SocketAddr>,
    },
    /// (For `selftest --probe`: the child process's side.) Tries ADDR and prints what got out.
    #[command(hide = true)]
    Probe { addr: SocketAddr },
}

/// How long a probe's TCP connection may take to be refused or established.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the switch said at start.
enum Switch {
    State(SealState),
    /// The state is unknown (no data directory, an unreadable file): sealed.
    Unknown(String),
}

/// The seal this process runs under, decided once in `main` before any verb starts.
pub struct Startup {
    /// Shared by every engine the verb starts.
    pub gate: Gate,
    /// `--sealed` was given.
    flag: bool,
    switch: Switch,
    data_dir: Option<PathBuf>,
    /// Why the OS seal could not be engaged, when a sealed start tried.
    pub os_failure: Option<SealError>,
}

impl Startup {
    /// Reads the switch (no network is touched before this). Sealed when `--sealed` is given,
    /// when the switch says so, and when it cannot be read: the state is then unknown, and
    /// the only safe reading of an unknown switch is the closed one.
    pub fn read(flag: bool) -> Startup {
        let (data_dir, switch) = match vault::data_dir() {
            Ok(dir) => {
                let switch = match SealSwitch::read(&dir) {
                    Ok(state) => Switch::State(state),
                    Err(e) => Switch::Unknown(e.to_string()),
                };
                (Some(dir), switch)
            }
            Err(e) => (None, Switch::Unknown(format!("{e:#}"))),
        };
        let switch_sealed = match &switch {
            Switch::State(state) => state.is_sealed(),
            Switch::Unknown(_) => true,
        };
        Startup {
            gate: Gate::new(flag || switch_sealed),
            flag,
            switch,
            data_dir,
            os_failure: None,
        }
    }

    /// Engages the OS seal when this command runs sealed. Must be called before any thread
    /// starts; a failure is kept in `os_failure` (the caller refuses to run sealed).
    pub fn engage_os(&mut self) {
        if self.gate.is_sealed() {
            if let Err(e) = os::engage() {
                self.os_failure = Some(e);
            }
        }
    }

    /// Once on stderr, before the verb: that the command runs sealed and which layers hold,
    /// and why when the switch could not be read cleanly.
    pub fn announce(&self) {
        match &self.switch {
            Switch::State(SealState::Damaged { why }) => eprintln!(
                "airgap: warning: the seal switch {} is damaged ({why}); running SEALED. \
                 `airgap seal on` rewrites it sealed, `airgap seal off` online",
                self.switch_path()
            ),
            Switch::Unknown(why) => {
                eprintln!("airgap: warning: the seal switch cannot be read ({why}); running SEALED")
            }
            Switch::State(_) => {}
        }
        if self.gate.is_sealed() {
            eprintln!("airgap: {}", sealed_banner());
        }
    }

    /// Every refusal of the gate goes to the vault's audit trail, when there is a vault.
    /// The vault is opened for each refusal and closed again, so that the verb itself can
    /// open it (`mission save`, `params download --keep`); refusals are rare. `record`
    /// replaces this with its own vault, which it holds open anyway.
    pub fn audit_refusals(&self) {
        let Some(data_dir) = &self.data_dir else {
            return;
        };
        let path = airgap_vault::vault_dir(data_dir);
        if !Vault::exists(&path) {
            return;
        }
        self.gate
            .on_refusal(Box::new(move |refusal| audit_refusal(&path, refusal)));
    }

    fn switch_path(&self) -> String {
        self.data_dir.as_deref().map_or_else(
            || "(no data directory)".to_owned(),
            |d| SealSwitch::path(d).display().to_string(),
        )
    }
}

fn audit_refusal(vault_path: &Path, refusal: &Refusal) {
    let event = AuditEvent::Other {
        kind: "egress_refused".to_owned(),
        detail: refusal.to_string(),
    };
    if let Err(e) = Vault::open(vault_path).and_then(|v| v.audit(event)) {
        eprintln!("airgap: warning: the refusal is not in the vault's audit trail: {e}");
    }
}

/// What a sealed command says about itself: only the layers that are in place.
pub fn sealed_banner() -> String {
    format!("sealed (app level: egress gate; OS seal: {})", os_text())
}

fn os_text() -> String {
    match os_layer() {
        OsLayer::NotAvailable { why } => why.to_owned(),
        OsLayer::Engaged { .. } => "engaged".to_owned(),
    }
}

pub fn run(args: SealArgs, startup: &Startup) -> anyhow::Result<ExitCode> {
    match args.verb {
        Verb::Status { json } => status(startup, json),
        Verb::On => on(),
        Verb::Off => off(),
        Verb::Selftest { json, probe } => self_test(startup, json, probe),
        Verb::Probe { addr } => {
            let reach = os::probe_reach(addr, PROBE_TIMEOUT);
            println!("{}", reach_json(&reach));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// True for the hidden `seal probe`, which must run under its parent's seal only (it tests
/// that a child inherits it) and so must not engage one of its own.
pub fn is_child_probe(args: &SealArgs) -> bool {
    matches!(args.verb, Verb::Probe { .. })
}

fn reach_json(reach: &os::Reach) -> serde_json::Value {
    let one = |r: &Result<(), String>| match r {
        Ok(()) => json!({ "reached": true }),
        Err(e) => json!({ "reached": false, "error": e }),
    };
    let others: serde_json::Map<String, serde_json::Value> = reach
        .others
        .iter()
        .map(|(what, r)| ((*what).to_owned(), one(r)))
        .collect();
    json!({ "tcp": one(&reach.tcp), "udp": one(&reach.udp), "others": others })
}

/// Each attempt of a probe (as [`reach_json`] wrote it) and how it ended, for people.
fn reach_lines(reach: &serde_json::Value) -> Vec<(String, String)> {
    let said = |r: &serde_json::Value| match r["reached"].as_bool() {
        Some(true) => "GOT OUT".to_owned(),
        Some(false) => format!(
            "stopped ({})",
            r["error"].as_str().unwrap_or("no reason given")
        ),
        None => "unknown".to_owned(),
    };
    let mut lines = vec![
        ("TCP connection".to_owned(), said(&reach["tcp"])),
        ("UDP datagram".to_owned(), said(&reach["udp"])),
    ];
    if let Some(others) = reach["others"].as_object() {
        lines.extend(others.iter().map(|(what, r)| (what.clone(), said(r))));
    }
    lines
}

/// Runs `airgap seal probe ADDR` as a child of this process and reads what it found.
fn probe_from_child(addr: SocketAddr) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe().context("cannot find this program to start the child")?;
    let out = std::process::Command::new(exe)
        .args(["seal", "probe", &addr.to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot start the child probe")?;
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the child probe said nothing readable (exit {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

fn status(startup: &Startup, json: bool) -> anyhow::Result<ExitCode> {
    let (switch, problem) = match &startup.switch {
        Switch::State(SealState::Online) => ("online", None),
        Switch::State(SealState::Sealed) => ("sealed", None),
        Switch::State(SealState::Damaged { why }) => ("damaged", Some(why.as_str())),
        Switch::Unknown(why) => ("unreadable", Some(why.as_str())),
    };
    let os = os_layer();
    let os_failure = startup.os_failure.as_ref().map(ToString::to_string);
    if json {
        println!(
            "{}",
            json!({
                "switch": switch,
                "switch_file": startup.data_dir.as_deref().map(SealSwitch::path),
                "problem": problem,
                // What this command runs under: the switch, or `--sealed`.
                "sealed": startup.gate.is_sealed(),
                "sealed_flag": startup.flag,
                "app_layer": { "egress_gate": startup.gate.state().to_string() },
                "os_layer": match &os {
                    OsLayer::Engaged { mechanism } => json!({ "available": true, "mechanism": mechanism }),
                    OsLayer::NotAvailable { why } => json!({ "available": false, "why": why }),
                },
                "os_layer_failure": os_failure,
                "os_refused": os::refused_count(),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    let shown = match &startup.switch {
        Switch::State(state) => state.to_string(),
        Switch::Unknown(why) => format!("SEALED (the switch cannot be read: {why})"),
    };
    println!("switch: {shown} ({})", startup.switch_path());
    let flag = if startup.flag { " (--sealed)" } else { "" };
    println!("this command: {}{flag}", startup.gate.state());
    println!(
        "app level (egress gate): {}",
        if startup.gate.is_sealed() {
            "engaged: only loopback addresses and serial devices can be reached"
        } else {
            "open: every destination may be reached"
        }
    );
    match &os_failure {
        Some(why) => println!("OS seal: FAILED to engage: {why}"),
        None => println!("OS seal: {os}"),
    }
    if let Some(n) = os::refused_count() {
        println!("sockets refused by the OS seal in this process tree: {n}");
    }
    println!(
        "refused egress attempts are counted per process and written to the vault's audit \
         trail (egress_refused)"
    );
    Ok(ExitCode::SUCCESS)
}

fn on() -> anyhow::Result<ExitCode> {
    let dir = vault::data_dir()?;
    let before = SealSwitch::read(&dir).map_or_else(|e| e.to_string(), |s| s.to_string());
    SealSwitch::engage(&dir)?;
    let vault_path = airgap_vault::vault_dir(&dir);
    if Vault::exists(&vault_path) {
        let event = AuditEvent::Other {
            kind: "seal_engaged".to_owned(),
            detail: format!("the seal switch was {before}; now SEALED"),
        };
        // Engaging never waits on the audit: sealing is the safe direction.
        if let Err(e) = Vault::open(&vault_path).and_then(|v| v.audit(event)) {
            eprintln!(
                "airgap: warning: engaged, but not recorded in the vault's audit trail: {}",
                vault::explain(e)
            );
        }
    }
    let os = match os::available_here() {
        Ok(_) => "and the OS seal, engaged as each starts".to_owned(),
        Err(why) => format!("(OS seal: {why})"),
    };
    println!(
        "SEALED: Airgap commands and the desktop app started from now on run behind the \
         egress gate {os}. Commands already running keep their state until restarted."
    );
    Ok(ExitCode::SUCCESS)
}

fn off() -> anyhow::Result<ExitCode> {
    let dir = vault::data_dir()?;
    let vault_path = airgap_vault::vault_dir(&dir);
    if !Vault::exists(&vault_path) {
        anyhow::bail!(
            "disengaging the seal needs the vault's passphrase, and there is no vault at {}; \
             the seal stays engaged",
            vault_path.display()
        );
    }
    let before = SealSwitch::read(&dir);
    if matches!(before, Ok(SealState::Online)) {
        println!("ONLINE already: nothing to disengage");
        return Ok(ExitCode::SUCCESS);
    }
    let before = before.map_or_else(|e| e.to_string(), |s| s.to_string());
    // Proves who asks: a wrong passphrase is refused here (and audited by the vault).
    let vault = vault::open_unlocked().context("the seal stays engaged")?;
    SealSwitch::disengage(&dir)?;
    let event = AuditEvent::Other {
        kind: "seal_disengaged".to_owned(),
        detail: format!("the seal switch was {before}; now ONLINE"),
    };
    if let Err(e) = vault.audit(event) {
        // Disengaging must leave a trace; without one it is undone.
        let undone = SealSwitch::engage(&dir);
        anyhow::bail!(
            "cannot record the change in the vault's audit trail ({}); {}",
            vault::explain(e),
            match undone {
                Ok(()) => "the seal stays engaged".to_owned(),
                Err(e) => format!("and re-engaging failed too: {e}"),
            }
        );
    }
    drop(vault);
    println!(
        "ONLINE: Airgap commands and the desktop app started from now on can reach networks. \
         Commands already running stay sealed until restarted."
    );
    Ok(ExitCode::SUCCESS)
}

fn self_test(startup: &Startup, json: bool, probe: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    // A clone of the gate every verb would use; no audit sink is set for `seal`, so the
    // probe's refusal is counted here and not written to the trail.
    let mut test = selftest(&startup.gate);
    if let Some(why) = &startup.os_failure {
        test.layers.retain(|l| l.layer != "OS seal");
        test.layers.push(airgap_engine::airgap_egress::LayerCheck {
            layer: "OS seal",
            outcome: Outcome::Fail,
            detail: format!("failed to engage: {why}"),
        });
    }
    // Past the gate, from here and from a child: what the OS lets out.
    let reaches = match probe {
        Some(addr) => Some((
            reach_json(&os::probe_reach(addr, PROBE_TIMEOUT)),
            probe_from_child(addr)?,
        )),
        None => None,
    };
    let reached = |v: &serde_json::Value| {
        let others = v["others"].as_object().into_iter().flat_map(|m| m.values());
        ["tcp", "udp"]
            .iter()
            .map(|k| &v[*k])
            .chain(others)
            .any(|r| r["reached"].as_bool().unwrap_or(true))
    };
    // Sealed, anything that got out fails the test; online, the probe only reports.
    let probe_failed = startup.gate.is_sealed()
        && reaches
            .as_ref()
            .is_some_and(|(here, child)| reached(here) || reached(child));
    let passed = test.passed() && !probe_failed;
    if json {
        let layers: Vec<_> = test
            .layers
            .iter()
            .map(|l| {
                json!({
                    "layer": l.layer,
                    "outcome": l.outcome.to_string(),
                    "detail": l.detail,
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "sealed": startup.gate.is_sealed(),
                "passed": passed,
                "layers": layers,
                "probe": reaches.as_ref().map(|(here, child)| json!({
                    "addr": probe.map(|a| a.to_string()),
                    "process": here,
                    "child": child,
                })),
            })
        );
    } else {
        for l in &test.layers {
            println!("{:<12} {:<6} {}", l.layer, l.outcome.to_string(), l.detail);
        }
        if let (Some((here, child)), Some(addr)) = (&reaches, probe) {
            for (from, reach) in [("this process", here), ("a child process", child)] {
                println!("probe {addr} from {from}:");
                for (what, outcome) in reach_lines(reach) {
                    println!("  {what:<32} {outcome}");
                }
            }
        }
        let summary = if !passed {
            "seal self-test FAILED: a layer that is claimed does not hold".to_owned()
        } else if !startup.gate.is_sealed() {
            "nothing is sealed: the switch is ONLINE".to_owned()
        } else if test.layers.iter().any(|l| l.outcome == Outcome::Absent) {
            format!("seal self-test passed: {}", sealed_banner())
        } else {
            "seal self-test passed: every layer holds".to_owned()
        };
        println!("{summary}");
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
