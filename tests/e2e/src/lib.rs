//! WebDriver harness for the real desktop app: starts `tauri-driver` (which starts
//! WebKitWebDriver, which starts `airgap-gcs`), gives each test its own data dir, offers
//! bounded waits on the UI's `data-testid` contract, saves a screenshot, the page source and
//! the logs when a test fails, and kills every process it started even when a test panics.
//!
//! Needs a display: run through `cargo xtask test`, or
//! `xvfb-run -a dbus-run-session -- cargo test -p airgap-e2e -- --test-threads=1`
//! after `cargo build -p airgap-gcs -p airgap-cli`.

// Raw sockets here are test fixtures on 127.0.0.1, not features that need the egress gate.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the harness finds free loopback ports and waits for listeners with raw sockets"
)]

use std::fmt::Display;
use std::fs::File;
use std::future::Future;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(100);
/// Bound on any single WebDriver command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
/// Starting the app through two drivers, on a busy 2-core machine.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The UI re-renders while it is read: an element found a moment ago can be gone (stale) by
/// the time its text is asked for, so a read finds it again a few times before giving up.
const READ_ATTEMPTS: usize = 3;
/// Bound on a whole test body.
const TEST_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// Locations of things

fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| workspace_root().join(d))
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Where a failed test leaves its screenshot, page source and logs.
pub fn evidence_dir() -> PathBuf {
    target_dir().join("e2e-screenshots")
}

/// A binary named by `var`, else the debug build in target/ if there is one.
fn binary(var: &str, name: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{var}={} does not exist", path.display());
        }
        return Ok(path);
    }
    let built = target_dir().join("debug").join(name);
    if built.is_file() {
        return Ok(built);
    }
    bail!(
        "{var} is not set and {} does not exist: run `cargo xtask test`, or \
         `cargo build -p airgap-gcs -p airgap-cli` first",
        built.display()
    )
}

/// The desktop app under test (`AIRGAP_GCS_BIN`).
pub fn gcs_bin() -> Result<PathBuf> {
    binary("AIRGAP_GCS_BIN", "airgap-gcs")
}

/// The `airgap` CLI, used here for its simulator (`AIRGAP_BIN`).
pub fn cli_bin() -> Result<PathBuf> {
    binary("AIRGAP_BIN", "airgap")
}

fn tauri_driver_bin() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

fn check_display() -> Result<()> {
    let set = |var| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return Ok(());
    }
    bail!(
        "no display: run under `xvfb-run -a -s \"-screen 0 1280x800x24\" dbus-run-session -- \
         cargo test -p airgap-e2e -- --test-threads=1`, or use `cargo xtask test`"
    )
}

// ---------------------------------------------------------------------------------------------
// Ports and processes

/// A loopback TCP port nobody is listening on right now.
pub fn free_tcp_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A loopback UDP port nobody has bound right now.
pub fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether something listens on TCP 127.0.0.1:`port`, read from the kernel's socket table so
/// that asking does not connect to (and use up) the listener.
pub fn tcp_listening(port: u16) -> bool {
    // State 0A is LISTEN.
    socket_table_has("/proc/net/tcp", port, Some("0A"))
}

/// Whether some socket is bound to UDP 127.0.0.1:`port` (or any address).
pub fn udp_bound(port: u16) -> bool {
    socket_table_has("/proc/net/udp", port, None)
}

fn socket_table_has(table: &str, port: u16, state: Option<&str>) -> bool {
    let Ok(table) = std::fs::read_to_string(table) else {
        return false;
    };
    let wanted = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let mut cols = line.split_whitespace();
        let local = cols.nth(1);
        let st = cols.nth(1);
        local.is_some_and(|l| l.ends_with(&wanted)) && state.is_none_or(|s| st == Some(s))
    })
}

/// A child process in its own process group, with its output in a log file. Dropping it kills
/// the whole group: the child and everything it started.
pub struct Spawned {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Spawned {
    pub fn start(name: &str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut *cmd, 0);
        let child = cmd
            // A pipe held open as stdin once hung a WebKit run; nobody types here.
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name} ({cmd:?})"))?;
        eprintln!("[e2e] started {name} (pid {})", child.id());
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log so far, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Kills the child (on Unix its whole process group, at once) and reaps it.
    pub fn kill(&mut self) {
        #[cfg(unix)]
        if let Ok(pid) = i32::try_from(self.child.id()) {
            use nix::sys::signal::{killpg, Signal};
            // The group may already be gone; nothing else to do then.
            let _ = killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `airgap sim ARGS` (the simulated vehicle from the CLI) with its log in `dir`.
pub fn start_sim(dir: &Path, log_name: &str, args: &[&str]) -> Result<Spawned> {
    let cli = cli_bin()?;
    Spawned::start(
        &format!("airgap sim {}", args.join(" ")),
        Command::new(cli).arg("sim").args(args),
        &dir.join(log_name),
    )
}

// ---------------------------------------------------------------------------------------------
// Waiting

/// A deadline for one awaited condition, remembering the last value seen so that a timeout
/// says what was awaited and what the UI showed instead.
pub struct Deadline {
    what: String,
    start: Instant,
    timeout: Duration,
    last_seen: String,
}

impl Deadline {
    pub fn new(what: impl Into<String>, timeout: Duration) -> Self {
        Self {
            what: what.into(),
            start: Instant::now(),
            timeout,
            last_seen: "nothing yet".into(),
        }
    }

    /// Records what was seen last.
    pub fn saw(&mut self, seen: impl Display) {
        self.last_seen = seen.to_string();
    }

    /// Records what was seen; fails once the deadline has passed, else waits one poll period.
    pub async fn tick(&mut self, seen: impl Display) -> Result<()> {
        self.saw(seen);
        if self.start.elapsed() >= self.timeout {
            bail!(
                "timed out after {:?} waiting for {}; last seen: {}",
                self.timeout,
                self.what,
                self.last_seen
            );
        }
        tokio::time::sleep(POLL).await;
        Ok(())
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Logs that the condition held, and how long it took.
    pub fn done(&self) {
        eprintln!(
            "[e2e] {} after {:.1}s ({})",
            self.what,
            self.elapsed().as_secs_f64(),
            self.last_seen
        );
    }
}

async fn bounded<T, E: Into<anyhow::Error>>(
    what: &str,
    fut: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(result) => result.map_err(|e| e.into().context(what.to_owned())),
        Err(_) => bail!("{what}: no answer within {COMMAND_TIMEOUT:?}"),
    }
}

/// The first number in a displayed value: "12.3 m" → 12.3, "−4.0°" → -4.0, "—" → None.
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.replace('\u{2212}', "-");
    let bytes = text.as_bytes();
    let start = (0..bytes.len()).find(|&i| {
        bytes[i].is_ascii_digit()
            || (bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
    })?;
    let len = text[start..]
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(text.len() - start, |(i, _)| i);
    text[start..start + len].parse().ok()
}

/// A CSS selector for the element with this `data-testid`.
pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

// ---------------------------------------------------------------------------------------------
// The UI

/// The app's window as a test sees it: reads and actions on `data-testid` elements, each
/// bounded in time. Cheap to clone.
#[derive(Clone)]
pub struct Ui {
    client: Client,
}

impl Ui {
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// All elements matching a CSS selector (empty when there are none).
    pub async fn all(&self, css: &str) -> Result<Vec<Element>> {
        bounded(
            &format!("finding {css}"),
            self.client.find_all(Locator::Css(css)),
        )
        .await
    }

    /// The first element matching a CSS selector, if any.
    pub async fn first(&self, css: &str) -> Result<Option<Element>> {
        Ok(self.all(css).await?.into_iter().next())
    }

    pub async fn exists(&self, css: &str) -> Result<bool> {
        Ok(!self.all(css).await?.is_empty())
    }

    /// The visible text of the first match, trimmed; `None` when nothing matches.
    pub async fn text(&self, css: &str) -> Result<Option<String>> {
        let mut last_error = None;
        for _ in 0..READ_ATTEMPTS {
            let Some(e) = self.first(css).await? else {
                return Ok(None);
            };
            match bounded(&format!("reading the text of {css}"), e.text()).await {
                Ok(text) => return Ok(Some(text.trim().to_owned())),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("reading the text of {css}")))
    }

    /// An attribute of the first match; `None` when nothing matches or it is absent.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        let mut last_error = None;
        for _ in 0..READ_ATTEMPTS {
            let Some(e) = self.first(css).await? else {
                return Ok(None);
            };
            match bounded(&format!("reading {name} of {css}"), e.attr(name)).await {
                Ok(value) => return Ok(value),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("reading {name} of {css}")))
    }

    /// What the first match shows, for progress messages: its text, `<absent>`, or the error.
    pub async fn shown(&self, css: &str) -> String {
        match self.text(css).await {
            Ok(Some(text)) => text,
            Ok(None) => "<absent>".into(),
            Err(e) => format!("<error: {e:#}>"),
        }
    }

    pub async fn attr_number(&self, css: &str, name: &str) -> Result<Option<f64>> {
        Ok(self
            .attr(css, name)
            .await?
            .as_deref()
            .and_then(parse_number))
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        let e = self.expect(css).await?;
        bounded(&format!("clicking {css}"), e.click()).await
    }

    /// Replaces the content of an input.
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.expect(css).await?;
        bounded(&format!("clearing {css}"), e.clear()).await?;
        bounded(&format!("typing into {css}"), e.send_keys(text)).await
    }

    /// Clicks at (`dx`, `dy`) pixels from the centre of the first match, as a mouse would:
    /// for maps, where where one clicks matters.
    pub async fn click_at(&self, css: &str, dx: f64, dy: f64) -> Result<()> {
        let element = self.expect(css).await?;
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element,
                duration: None,
                x: dx,
                y: dy,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        bounded(
            &format!("clicking {css} at ({dx}, {dy})"),
            self.client.perform_actions(mouse),
        )
        .await?;
        bounded("releasing the mouse", self.client.release_actions()).await
    }

    /// Saves what the window shows as a PNG at `path`.
    pub async fn save_screenshot(&self, path: &Path) -> Result<()> {
        let png = bounded("taking a screenshot", self.client.screenshot()).await?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Chooses the option with this value in the first `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        let e = self.expect(css).await?;
        bounded(
            &format!("choosing {value:?} in {css}"),
            e.select_by_value(value),
        )
        .await
    }

    /// Waits for the confirmation dialog, checks that its question contains `expected`, and
    /// confirms. Returns the question.
    pub async fn confirm(&self, expected: &str) -> Result<String> {
        let question = self
            .wait_text(
                &testid("confirm-text"),
                &format!("a confirmation containing {expected:?}"),
                COMMAND_TIMEOUT,
                |t| t.contains(expected),
            )
            .await?;
        self.click(&testid("confirm-ok")).await?;
        self.wait_absent(
            &testid("confirm-dialog"),
            "the dialog to close",
            COMMAND_TIMEOUT,
        )
        .await?;
        Ok(question)
    }

    async fn expect(&self, css: &str) -> Result<Element> {
        self.first(css)
            .await?
            .ok_or_else(|| anyhow!("no element matches {css}"))
    }

    /// Waits until the first match's text satisfies `ok`, and returns that text.
    pub async fn wait_text(
        &self,
        css: &str,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let mut deadline = Deadline::new(format!("{what} ({css})"), timeout);
        loop {
            match self.text(css).await {
                Ok(Some(text)) if ok(&text) => {
                    deadline.saw(format!("{text:?}"));
                    deadline.done();
                    return Ok(text);
                }
                Ok(Some(text)) => deadline.tick(format!("{text:?}")).await?,
                Ok(None) => deadline.tick("no such element").await?,
                Err(e) => deadline.tick(format!("error: {e:#}")).await?,
            }
        }
    }

    /// Waits until the number shown by the first match satisfies `ok`, and returns it.
    pub async fn wait_number(
        &self,
        css: &str,
        what: &str,
        timeout: Duration,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let text = self
            .wait_text(css, what, timeout, |t| parse_number(t).is_some_and(&ok))
            .await?;
        parse_number(&text).ok_or_else(|| anyhow!("{css} showed {text:?}, not a number"))
    }

    /// Waits until an attribute of the first match parses as a number satisfying `ok`.
    pub async fn wait_attr_number(
        &self,
        css: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let mut deadline = Deadline::new(format!("{what} ({css} {name})"), timeout);
        loop {
            match self.attr(css, name).await {
                Ok(Some(v)) => match parse_number(&v) {
                    Some(n) if ok(n) => {
                        deadline.saw(v);
                        deadline.done();
                        return Ok(n);
                    }
                    _ => deadline.tick(format!("{name}={v:?}")).await?,
                },
                Ok(None) => deadline.tick(format!("no element or no {name}")).await?,
                Err(e) => deadline.tick(format!("error: {e:#}")).await?,
            }
        }
    }

    /// Waits until something matches `css`.
    pub async fn wait_present(&self, css: &str, what: &str, timeout: Duration) -> Result<()> {
        let mut deadline = Deadline::new(format!("{what} ({css} present)"), timeout);
        loop {
            match self.exists(css).await {
                Ok(true) => {
                    deadline.saw("present");
                    deadline.done();
                    return Ok(());
                }
                Ok(false) => deadline.tick("absent").await?,
                Err(e) => deadline.tick(format!("error: {e:#}")).await?,
            }
        }
    }

    /// Waits until nothing matches `css`.
    pub async fn wait_absent(&self, css: &str, what: &str, timeout: Duration) -> Result<()> {
        let mut deadline = Deadline::new(format!("{what} ({css} absent)"), timeout);
        loop {
            match self.exists(css).await {
                Ok(false) => {
                    deadline.saw("absent");
                    deadline.done();
                    return Ok(());
                }
                Ok(true) => deadline.tick("present").await?,
                Err(e) => deadline.tick(format!("error: {e:#}")).await?,
            }
        }
    }

    /// Types an address into the connect box and presses connect.
    pub async fn connect(&self, address: &str) -> Result<()> {
        self.wait_present(
            &testid("connect-address"),
            "the connect box",
            COMMAND_TIMEOUT,
        )
        .await?;
        self.type_into(&testid("connect-address"), address).await?;
        self.click(&testid("connect-button")).await
    }

    /// Waits until the `link-state` of the first link row (or of the row with this id) reads
    /// `state`. Compared ignoring case: WebDriver returns the rendered text, and CSS may
    /// upper-case it.
    pub async fn wait_link_state(
        &self,
        link_id: Option<&str>,
        state: &str,
        timeout: Duration,
    ) -> Result<String> {
        let what = match link_id {
            Some(id) => format!("link {id} `{state}`"),
            None => format!("the link `{state}`"),
        };
        self.wait_text(&Self::link_state(link_id), &what, timeout, |s| {
            s.eq_ignore_ascii_case(state)
        })
        .await
    }

    /// A selector for the `link-state` of the first link row, or of the row with this id.
    pub fn link_state(link_id: Option<&str>) -> String {
        match link_id {
            Some(id) => format!(
                "{}[data-link-id=\"{id}\"] {}",
                testid("link-row"),
                testid("link-state")
            ),
            None => format!("{} {}", testid("link-row"), testid("link-state")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The app under test

/// How to start the app beyond its arguments.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Use this data dir (and the vault in it) instead of a fresh one: for tests that start
    /// the app more than once on the same data. It outlives the app.
    pub data_dir: Option<PathBuf>,
    /// Stay on the vault screen the app opens on, instead of going to the Fly view.
    pub stay_on_vault: bool,
    /// Run tauri-driver (and so the app) through this command, e.g. `ip netns exec NS`
    /// (the seal's capture test); the test's thread must then be in the same namespace.
    pub driver_prefix: Vec<String>,
}

/// Whether a process still runs with `needle` in its command line (an app from an earlier
/// launch on the same data dir, which would still hold the vault's lock).
fn process_with_arg(needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == needle.as_bytes()))
    })
}

/// One running app: tauri-driver and everything under it, a WebDriver session, and the test's
/// own data dir. Dropping it kills the processes; [`App::shutdown`] first ends the session.
pub struct App {
    test: String,
    dir: TempDir,
    driver: Spawned,
    ui: Ui,
}

impl App {
    /// Starts the app with `--data-dir <its own temp dir>` and `args`, on the Fly view.
    pub async fn launch(test: &str, args: &[&str]) -> Result<Self> {
        Self::launch_with(test, args, &Launch::default()).await
    }

    /// Starts the app with `args` as `launch` says. Vaults it creates use the test-only
    /// key derivation (`AIRGAP_KDF=fast`).
    pub async fn launch_with(test: &str, args: &[&str], launch: &Launch) -> Result<Self> {
        check_display()?;
        let gcs = gcs_bin()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("airgap-e2e-{test}-"))
            .tempdir()
            .context("creating the test's temp dir")?;
        let data_dir = match &launch.data_dir {
            Some(d) => d.clone(),
            None => dir.path().join("data"),
        };
        std::fs::create_dir_all(&data_dir)?;
        let data_arg = data_dir.display().to_string();
        let mut previous = Deadline::new(
            "an earlier app on this data dir to end",
            DRIVER_READY_TIMEOUT,
        );
        while process_with_arg(&data_arg) {
            previous.tick("still running").await?;
        }

        // Both ports are held at once so they differ; tauri-driver binds them right after.
        let (port, native_port) = {
            let a = TcpListener::bind("127.0.0.1:0")?;
            let b = TcpListener::bind("127.0.0.1:0")?;
            (a.local_addr()?.port(), b.local_addr()?.port())
        };
        let mut driver_cmd = match launch.driver_prefix.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(tauri_driver_bin());
                cmd
            }
            None => Command::new(tauri_driver_bin()),
        };
        let mut driver = Spawned::start(
            "tauri-driver",
            driver_cmd
                .arg("--port")
                .arg(port.to_string())
                .arg("--native-port")
                .arg(native_port.to_string())
                // Inherited through WebKitWebDriver by the app.
                .env("AIRGAP_DATA_DIR", &data_dir)
                .env("AIRGAP_KDF", "fast"),
            &dir.path().join("app.log"),
        )?;

        // tauri-driver listens first and starts WebKitWebDriver after; a session asked for
        // before the native driver listens fails with a connect error, so wait for both.
        let mut ready = Deadline::new(
            "tauri-driver and WebKitWebDriver to listen",
            DRIVER_READY_TIMEOUT,
        );
        for (who, p) in [("tauri-driver", port), ("WebKitWebDriver", native_port)] {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                if driver.has_exited() {
                    bail!(
                        "tauri-driver exited at start (is it installed? is WebKitWebDriver on PATH?):\n{}",
                        driver.log_tail(40)
                    );
                }
                ready.tick(format!("{who}: nothing on port {p}")).await?;
            }
        }

        let mut app_args = vec!["--data-dir".to_owned(), data_arg];
        app_args.extend(args.iter().map(|a| (*a).to_owned()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": gcs, "args": app_args }),
        );
        let started = Instant::now();
        let session = tokio::time::timeout(
            SESSION_TIMEOUT,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        let client = match session {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => bail!(
                "no WebDriver session with {}: {e}\n--- tauri-driver and app log\n{}",
                gcs.display(),
                driver.log_tail(60)
            ),
            Err(_) => bail!(
                "no WebDriver session within {SESSION_TIMEOUT:?}\n--- tauri-driver and app log\n{}",
                driver.log_tail(60)
            ),
        };
        eprintln!(
            "[e2e] {test}: app up with {args:?} in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let app = Self {
            test: test.to_owned(),
            dir,
            driver,
            ui: Ui { client },
        };
        if !launch.stay_on_vault {
            // The app opens on the vault screen; these tests fly.
            let ui = app.ui();
            let fly = testid("view-fly");
            let went = async {
                ui.wait_present(&fly, "the view tabs", COMMAND_TIMEOUT)
                    .await?;
                ui.click(&fly).await
            };
            if let Err(e) = went.await {
                let log = app.driver.log_tail(40);
                app.shutdown().await;
                bail!("cannot reach the Fly view: {e:#}\n--- app log\n{log}");
            }
        }
        Ok(app)
    }

    pub fn ui(&self) -> Ui {
        self.ui.clone()
    }

    /// The test's scratch dir (sim logs go here; copied next to the screenshot on failure).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Saves a screenshot, the page source and the logs under target/e2e-screenshots/.
    pub async fn save_evidence(&self) -> Vec<PathBuf> {
        let out = evidence_dir();
        let mut saved = Vec::new();
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("[e2e] cannot create {}: {e}", out.display());
            return saved;
        }
        let png = out.join(format!("{}.png", self.test));
        match bounded("taking a screenshot", self.ui.client.screenshot()).await {
            Ok(bytes) => match std::fs::write(&png, bytes) {
                Ok(()) => saved.push(png),
                Err(e) => eprintln!("[e2e] cannot write {}: {e}", png.display()),
            },
            Err(e) => eprintln!("[e2e] no screenshot: {e:#}"),
        }
        let html = out.join(format!("{}.html", self.test));
        match bounded("reading the page source", self.ui.client.source()).await {
            Ok(source) => match std::fs::write(&html, source) {
                Ok(()) => saved.push(html),
                Err(e) => eprintln!("[e2e] cannot write {}: {e}", html.display()),
            },
            Err(e) => eprintln!("[e2e] no page source: {e:#}"),
        }
        // The app's own log and any sim logs.
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "log") {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    let copy = out.join(format!("{}.{}", self.test, name.unwrap_or_default()));
                    if std::fs::copy(&path, &copy).is_ok() {
                        saved.push(copy);
                    }
                }
            }
        }
        saved
    }

    /// Ends the session (WebKitWebDriver closes the app), then kills whatever is left.
    pub async fn shutdown(mut self) {
        let client = self.ui.client.clone();
        if tokio::time::timeout(COMMAND_TIMEOUT, client.close())
            .await
            .is_err()
        {
            eprintln!("[e2e] the session did not close in time; killing the app");
        }
        self.driver.kill();
    }

    pub fn driver_log_tail(&self, lines: usize) -> String {
        self.driver.log_tail(lines)
    }
}

/// A scratch data dir and a passphrase file, for tests that prepare the app's data with the
/// `airgap` CLI (a vault, a tile source) before starting it. Removed when dropped.
pub struct CliData {
    dir: TempDir,
}

impl CliData {
    pub fn new(label: &str, passphrase: &str) -> Result<CliData> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("airgap-e2e-{label}-"))
            .tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        std::fs::write(dir.path().join("pass"), format!("{passphrase}\n"))?;
        Ok(CliData { dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `airgap ARGS` on this data dir, with the passphrase file; its stdout.
    pub fn airgap(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(cli_bin()?)
            .args(args)
            .env("AIRGAP_DATA_DIR", self.data_dir())
            .env("AIRGAP_PASSPHRASE_FILE", self.dir.path().join("pass"))
            .env("AIRGAP_KDF", "fast")
            .output()
            .with_context(|| format!("running airgap {args:?}"))?;
        if !out.status.success() {
            bail!(
                "airgap {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Runs one UI test: launches the app with `args`, runs `body` (bounded in time, with panics
/// caught), and on failure saves evidence before shutting everything down and failing with a
/// message that says what went wrong and where the screenshot is.
pub async fn run_app_test<F, Fut>(test: &str, args: &[&str], body: F)
where
    F: FnOnce(Ui, PathBuf) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    run_app_test_with(test, args, &Launch::default(), body).await;
}

/// [`run_app_test`], started as `launch` says.
pub async fn run_app_test_with<F, Fut>(test: &str, args: &[&str], launch: &Launch, body: F)
where
    F: FnOnce(Ui, PathBuf) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let app = match App::launch_with(test, args, launch).await {
        Ok(app) => app,
        Err(e) => panic!("{test}: could not start the app: {e:#}"),
    };
    let mut task = tokio::spawn(body(app.ui(), app.dir().to_path_buf()));
    let failure = match tokio::time::timeout(TEST_TIMEOUT, &mut task).await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(e))) => Some(format!("{e:#}")),
        Ok(Err(join)) => Some(match join.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "the test panicked".into()),
            Err(e) => format!("the test task failed: {e}"),
        }),
        Err(_) => {
            task.abort();
            Some(format!("the test did not finish within {TEST_TIMEOUT:?}"))
        }
    };
    let Some(failure) = failure else {
        app.shutdown().await;
        return;
    };
    let saved = app.save_evidence().await;
    let log = app.driver_log_tail(40);
    app.shutdown().await;
    let saved: Vec<String> = saved.iter().map(|p| p.display().to_string()).collect();
    panic!(
        "{test} failed: {failure}\n--- saved: {}\n--- app log (tail)\n{log}",
        saved.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_from_displayed_values() {
        assert_eq!(parse_number("12.3 m"), Some(12.3));
        assert_eq!(parse_number("-4.0°"), Some(-4.0));
        assert_eq!(parse_number("\u{2212}4.5°"), Some(-4.5));
        assert_eq!(parse_number("alt 584.1"), Some(584.1));
        assert_eq!(parse_number("12.6 V 87%"), Some(12.6));
        assert_eq!(parse_number("—"), None);
        assert_eq!(parse_number("- 3"), Some(3.0));
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn selectors_name_the_testid() {
        assert_eq!(testid("alt-rel"), "[data-testid=\"alt-rel\"]");
        assert_eq!(
            Ui::link_state(Some("3")),
            "[data-testid=\"link-row\"][data-link-id=\"3\"] [data-testid=\"link-state\"]"
        );
    }

    #[tokio::test]
    async fn a_deadline_reports_what_was_awaited_and_last_seen() {
        let mut deadline = Deadline::new("the answer", Duration::ZERO);
        let Err(e) = deadline.tick("41").await else {
            panic!("a zero deadline has passed");
        };
        let msg = e.to_string();
        assert!(
            msg.contains("the answer") && msg.contains("last seen: 41"),
            "{msg}"
        );
    }

    #[test]
    fn a_listening_port_shows_in_the_socket_table() -> Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        assert!(tcp_listening(port));
        drop(listener);
        assert!(!tcp_listening(port));
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        assert!(udp_bound(socket.local_addr()?.port()));
        Ok(())
    }
}
