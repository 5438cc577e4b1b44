//! Engaging the seal mid-session, and disengaging it.
//!
//! 1. Online, with the built-in simulated vehicle recording into the vault, the pilot engages
//!    the switch in Settings and confirms. The app finishes the recording and restarts
//!    itself sealed. The WebDriver session loses the app there (the new process is not
//!    WebDriver's), so the restart is checked from outside: the `seal` file in the data dir
//!    says sealed; a new `airgap-gcs --restarted` process runs on the same data dir and says
//!    on stderr (the app log, inherited) that it runs sealed with its self-test passed; and,
//!    once it is stopped, the vault holds the flight recorded before the restart, complete,
//!    and a second flight of the same vehicle that began within seconds of the first's end
//!    (the vehicle link came back).
//! 2. A new session on the same data dir starts sealed (from the switch): a wrong passphrase
//!    cannot disengage it; the right one turns the switch off for the next start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use airgap_e2e::{run_app_test_with, testid, CliData, Deadline, Launch, Ui};
use anyhow::{bail, ensure, Context, Result};

const SECOND: Duration = Duration::from_secs(1);
const PASSPHRASE: &str = "kestrel orbit lantern 42";
/// How long the restarted app records before it is stopped: several chunk periods.
const RECORD_AFTER_RESTART: Duration = Duration::from_secs(8);
/// The vehicle link must be back (and recording) within this after the first flight ends.
const LINK_BACK_WITHIN_S: i64 = 15;

/// What this test reads of a data dir through the CLI.
trait Flights {
    fn flights(&self) -> Result<String>;
    fn switch(&self) -> String;
}

impl Flights for CliData {
    /// `airgap log list --json`, tried again for a few seconds while the vault is still
    /// held: the lock of a process that was just stopped is released a moment after it is
    /// seen gone.
    fn flights(&self) -> Result<String> {
        let start = std::time::Instant::now();
        loop {
            match self.airgap(&["log", "list", "--json"]) {
                Err(e)
                    if e.to_string().contains("open in another Airgap process")
                        && start.elapsed() < 10 * SECOND =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    fn switch(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("seal")).unwrap_or_default()
    }
}

#[tokio::test]
async fn engaging_restarts_sealed_with_the_recording_intact_and_disengaging_needs_the_passphrase() {
    let data = CliData::new("seal-restart", PASSPHRASE).expect("scratch data");
    data.airgap(&["vault", "init"]).expect("a vault");
    let launch = Launch {
        data_dir: Some(data.data_dir()),
        stay_on_vault: false,
        ..Launch::default()
    };
    let data_dir = data.data_dir();
    run_app_test_with("seal_engage", &["--sim"], &launch, move |ui, dir| {
        engage(ui, dir, data_dir)
    })
    .await;
    let flights = data.flights().expect("flights");
    check_flights(&flights).expect("the recording survived the restart");
    run_app_test_with("seal_disengage", &[], &launch, |ui, _| disengage(ui)).await;
    assert_eq!(
        data.switch(),
        "airgap-seal 1\nonline\n",
        "the switch is off after disengaging"
    );
}

/// The pid of a running `airgap-gcs --restarted` on `data_dir`.
fn restarted_process(data_dir: &Path) -> Option<i32> {
    let wanted = data_dir.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        (args.contains(&b"--restarted".as_slice()) && args.contains(&wanted)).then_some(pid)
    })
}

/// Whether `pid` exists and is not a zombie (a zombie has closed its files).
fn is_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|state| !state.trim_start().starts_with('Z'))
    })
}

/// Any process with `data_dir` as an argument (the app before or after the restart), with
/// its command line, for messages.
fn app_on(data_dir: &Path) -> Option<String> {
    let wanted = data_dir.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        cmd.split(|b| *b == 0).any(|a| a == wanted).then(|| {
            format!(
                "pid {}: {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            )
        })
    })
}

async fn engage(ui: Ui, dir: PathBuf, data_dir: PathBuf) -> Result<()> {
    ui.wait_link_state(None, "up", 30 * SECOND).await?;
    ui.wait_text(
        &testid("seal-badge"),
        "the ONLINE badge",
        10 * SECOND,
        |t| t == "ONLINE",
    )
    .await?;
    // A few seconds of flight in the vault before the switch.
    ui.wait_present(&testid("status-recording"), "recording", 10 * SECOND)
        .await?;
    ui.wait_number(
        &testid("link-rx-frames"),
        "a few seconds of telemetry",
        20 * SECOND,
        |n| n > 300.0,
    )
    .await?;

    ui.click(&testid("seal-badge")).await?;
    ui.click(&testid("seal-engage")).await?;
    ui.wait_present(&testid("confirm-dialog"), "the confirmation", 10 * SECOND)
        .await?;
    let dialog = ui.shown(&testid("confirm-dialog")).await;
    ensure!(
        dialog.contains("finishes the recording") && dialog.contains("loopback"),
        "the confirmation says the recording is finished first and what comes back: {dialog:?}"
    );
    let question = ui.shown(&testid("confirm-text")).await;
    ensure!(
        question.contains("restarts sealed"),
        "the question: {question:?}"
    );
    // Not `Ui::confirm`: it waits for the dialog to close, and the window goes with the app.
    ui.click(&testid("confirm-ok")).await?;

    // From here the app this session drove is gone; look from outside.
    let mut sealed = Deadline::new("the switch file to say sealed", 20 * SECOND);
    loop {
        let switch = std::fs::read_to_string(data_dir.join("seal")).unwrap_or_default();
        if switch == "airgap-seal 1\nsealed\n" {
            sealed.done();
            break;
        }
        sealed.tick(format!("{switch:?}")).await?;
    }
    let mut found = Deadline::new("the restarted app", 30 * SECOND);
    let pid = loop {
        if let Some(pid) = restarted_process(&data_dir) {
            found.saw(pid);
            found.done();
            break pid;
        }
        found
            .tick("no airgap-gcs --restarted on this data dir")
            .await?;
    };
    let log = dir.join("app.log");
    let mut said = Deadline::new("the restarted app to say it runs sealed", 30 * SECOND);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let after = text
            .split_once(&format!("restarting as pid {pid}"))
            .map(|(_, after)| after);
        if let Some(line) = after.and_then(|a| a.lines().find(|l| l.contains("airgap-gcs: sealed")))
        {
            ensure!(
                line.contains("self-test passed"),
                "the restarted app's self-test: {line:?}"
            );
            said.saw(line);
            said.done();
            break;
        }
        said.tick("not yet in the app log").await?;
    }

    // Let the restarted app record the reopened link, then stop it (it holds the vault).
    tokio::time::sleep(RECORD_AFTER_RESTART).await;
    ensure!(
        restarted_process(&data_dir) == Some(pid),
        "the restarted app is still running"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .context("stopping the restarted app")?;
    let mut gone = Deadline::new("every app on this data dir to end", 20 * SECOND);
    while let Some(running) = app_on(&data_dir) {
        gone.tick(running).await?;
    }
    // The command line empties as a process starts to exit, before its files (the vault's
    // lock) are closed: wait for the process itself.
    let mut closed = Deadline::new("the restarted app to close its files", 20 * SECOND);
    while is_running(pid) {
        closed.tick("exiting").await?;
    }
    Ok(())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` as UNIX seconds.
fn unix_s(rfc3339: &str) -> Result<i64> {
    let n = |range: std::ops::Range<usize>| -> Result<i64> {
        rfc3339
            .get(range)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{rfc3339:?} is not YYYY-MM-DDTHH:MM:SSZ"))
    };
    Ok(days_from_civil(n(0..4)?, n(5..7)?, n(8..10)?) * 86_400
        + n(11..13)? * 3600
        + n(14..16)? * 60
        + n(17..19)?)
}

fn check_flights(list: &str) -> Result<()> {
    let flights: Vec<serde_json::Value> = list
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("log list --json is one object per line")?;
    eprintln!("[e2e] flights: {flights:?}");
    let [before, after, ..] = flights.as_slice() else {
        bail!("two flights expected (before and after the restart): {list}");
    };
    ensure!(
        before["complete"] == true,
        "the flight recorded before the restart is complete: {before}"
    );
    let duration_s = before["duration_s"].as_f64().context("duration_s")?;
    ensure!(
        duration_s >= 2.0,
        "the flight before the restart spans its seconds: {before}"
    );
    ensure!(
        after["bytes"].as_f64().is_some_and(|b| b > 0.0)
            && after["sysids"] == serde_json::json!([1]),
        "the vehicle was recorded again after the restart: {after}"
    );
    let ended = unix_s(before["start"].as_str().context("start")?)? + duration_s as i64;
    let resumed = unix_s(after["start"].as_str().context("start")?)?;
    ensure!(
        (0..=LINK_BACK_WITHIN_S).contains(&(resumed - ended)),
        "the vehicle link came back {}s after the first flight ended (at most {LINK_BACK_WITHIN_S}s)",
        resumed - ended
    );
    Ok(())
}

async fn disengage(ui: Ui) -> Result<()> {
    ui.wait_text(
        &testid("seal-badge"),
        "SEALED from the switch",
        20 * SECOND,
        |t| t == "SEALED",
    )
    .await?;
    ui.click(&testid("seal-badge")).await?;
    ui.wait_text(&testid("seal-switch"), "the switch", 10 * SECOND, |t| {
        t == "SEALED"
    })
    .await?;
    ui.click(&testid("seal-disengage")).await?;
    // Not now: the session must keep its app to see what happens. (With the OS layer
    // engaged there is no such choice: a restart from a sealed process would inherit it.)
    if ui.exists(&testid("seal-restart-now")).await? {
        ui.click(&testid("seal-restart-now")).await?;
    }
    ui.type_into(&testid("seal-pass"), "not the passphrase")
        .await?;
    ui.click(&testid("seal-disengage-ok")).await?;
    let error = ui
        .wait_text(&testid("seal-error"), "the refusal", 20 * SECOND, |t| {
            !t.is_empty()
        })
        .await?;
    ensure!(
        error.contains("Wrong passphrase"),
        "a wrong passphrase is refused: {error:?}"
    );
    ensure!(
        ui.shown(&testid("seal-switch")).await == "SEALED",
        "the switch stays sealed"
    );
    ui.type_into(&testid("seal-pass"), PASSPHRASE).await?;
    ui.click(&testid("seal-disengage-ok")).await?;
    let pending = ui
        .wait_text(
            &testid("seal-pending"),
            "the next start to be online",
            20 * SECOND,
            |t| t.contains("online after a restart"),
        )
        .await?;
    ensure!(!pending.is_empty());
    ensure!(
        ui.shown(&testid("seal-badge")).await == "SEALED",
        "this run stays sealed until it restarts"
    );
    Ok(())
}
