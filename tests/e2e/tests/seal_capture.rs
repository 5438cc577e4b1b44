//! The seal on the wire, desktop side (issue 5; the CLI's half is tests/it/seal_capture.rs).
//! The real app runs under WebDriver inside a "host" network namespace joined by a veth to an
//! "internet" host (10.200.0.2) with listeners, `tcpdump` on the veth, and two vehicles: the
//! built-in simulator on loopback and a CLI simulator on a pty. The page tries the internet
//! with `fetch()` and an `<img>` (through WebKit's network process, a child of the app), and
//! the pilot adds a forward to the internet host in the link settings. Each run has a vault
//! whose tile source is the internet host's HTTP listener; the pilot unlocks it and the Fly
//! map asks the app's `tile` scheme for the tiles around the vehicle. Sealed: both links stay
//! up, the forward and the tiles are refused (no tile loads, the basemap shows), the listeners
//! hear nothing and the capture holds zero packets. Online, the same run's forward and tile
//! requests reach the listeners and the capture sees them, so the test can fail.
//!
//! Needs root (namespaces, veth, capture); CI runs as root.

#[path = "../../netns.rs"]
mod netns;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use airgap_e2e::{cli_bin, run_app_test_with, testid, CliData, Deadline, Launch, Ui};
use anyhow::{bail, ensure, Context, Result};
use netns::{Net, INTERNET};
use nix::sched::{setns, CloneFlags};

/// Runs in the page: a fetch and an image from the internet host; says how each ended.
const PAGE_TRIES_THE_INTERNET: &str = r#"
const done = arguments[arguments.length - 1];
const out = {};
let pending = 2;
const timer = setTimeout(() => done(JSON.stringify(out)), 8000);
const finish = () => { if (--pending === 0) { clearTimeout(timer); done(JSON.stringify(out)); } };
fetch("http://10.200.0.2:8080/page-fetch")
  .then(r => { out.fetch = "status " + r.status; finish(); },
        e => { out.fetch = "error: " + e; finish(); });
const img = new Image();
img.onload = () => { out.img = "loaded"; finish(); };
img.onerror = () => { out.img = "error"; finish(); };
img.src = "http://10.200.0.2:8080/page-img.png";
document.body.appendChild(img);
"#;

/// The vault passphrase of each run's data dir.
const PASSPHRASE: &str = "sealed tiles stay home 9";

/// The Fly map's tile images from the app's scheme: how many, and how many loaded.
const TILE_IMAGES: &str = r#"
const imgs = [...document.querySelectorAll('[data-testid="fly-map"] img.leaflet-tile')]
  .filter(i => (i.getAttribute('src') || '').startsWith('tile://localhost/'));
return JSON.stringify({ all: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length });
"#;

/// Runs in the page: tries to leave the app, by a new window and by navigating away.
const PAGE_TRIES_TO_LEAVE: &str = r#"
const opened = window.open("http://10.200.0.2:8080/page-popup", "_blank");
setTimeout(() => { window.location.href = "http://10.200.0.2:8080/page-navigate"; }, 0);
return opened === null ? "no window" : "a window opened";
"#;

/// What one run saw.
struct Seen {
    packets: Vec<String>,
    heard: u64,
    heard_text: String,
    /// Requests the internet host's HTTP listener (the tile server) received, so far.
    http_requests: u64,
    page: String,
}

#[tokio::test(flavor = "current_thread")]
async fn the_sealed_desktop_app_sends_nothing_while_its_vehicle_links_work() {
    if !netns::is_root() {
        eprintln!(
            "SKIPPED: the packet-capture test needs root (namespaces, veth, tcpdump); CI runs it as root"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("scratch dir");
    let net = Net::create();
    let counts = dir.path().join("counts.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/internet_host.py");
    let _internet = netns::internet_host(&net, &script, &counts);
    // This thread (the whole test: a current-thread runtime) joins the host namespace, so that
    // the WebDriver session reaches tauri-driver on that namespace's loopback.
    let ns = std::fs::File::open(format!("/run/netns/{}", net.host)).expect("the namespace");
    setns(&ns, CloneFlags::CLONE_NEWNET).expect("joining the host namespace");

    let sealed = run(&net, dir.path(), &counts, true).await;
    assert!(sealed.page.contains("\"fetch\":\"error"), "{}", sealed.page);
    assert!(sealed.page.contains("\"img\":\"error\""), "{}", sealed.page);
    assert_eq!(
        sealed.heard, 0,
        "sealed, the internet host heard: {}",
        sealed.heard_text
    );
    assert_eq!(
        sealed.http_requests, 0,
        "sealed, the tile server was asked: {}",
        sealed.heard_text
    );
    assert!(
        sealed.packets.is_empty(),
        "sealed, {} packets left on the veth: {:#?}",
        sealed.packets.len(),
        sealed.packets
    );

    let online = run(&net, dir.path(), &counts, false).await;
    // The page's own attempts are stopped by the content security policy either way.
    assert!(online.page.contains("\"fetch\":\"error"), "{}", online.page);
    assert!(online.page.contains("\"img\":\"error\""), "{}", online.page);
    assert_eq!(
        from_page(&online),
        0,
        "online, the page's own fetch, img, window or navigation reached the internet: {}",
        online.heard_text
    );
    assert!(
        online.heard > sealed.heard,
        "online, the forward never arrived: {}",
        online.heard_text
    );
    assert!(
        online.http_requests > 0,
        "online, the map's tiles never reached the tile server: {}",
        online.heard_text
    );
    assert!(
        online.packets.len() > 10,
        "online, only {} packets were captured: the capture cannot see what it should",
        online.packets.len()
    );
    eprintln!(
        "desktop sealed: 0 packets; online: {} packets, listeners {}",
        online.packets.len(),
        online.heard_text
    );
}

/// Requests the page itself got to the internet host (fetch, img, window, navigation).
fn from_page(seen: &Seen) -> u64 {
    let counts: serde_json::Value = serde_json::from_str(&seen.heard_text).unwrap_or_default();
    counts["http_from_page"].as_u64().unwrap_or(u64::MAX)
}

async fn run(net: &Net, dir: &Path, counts: &Path, sealed: bool) -> Seen {
    let name = if sealed { "sealed" } else { "online" };
    let pcap = dir.join(format!("desktop-{name}.pcap"));
    let capture = netns::capture(net, &pcap);
    let cli = cli_bin().expect("the airgap CLI is built");
    let (_pty_sim, line) = netns::spawn_until(
        net.command(&net.host, &cli, &["sim", "--pty"]),
        "/dev/",
        "airgap sim --pty",
    );
    let pty = line
        .split_whitespace()
        .find(|w| w.starts_with("/dev/"))
        .expect("the sim prints its pty")
        .to_owned();
    let serial = format!("serial:{pty}");
    let mut args = vec!["--sim", "--connect", serial.as_str()];
    if sealed {
        args.insert(0, "--sealed");
    }
    let data = vault_with_tile_source(&format!("seal-capture-{name}"))
        .expect("a vault whose tiles come from the internet host");
    let launch = Launch {
        data_dir: Some(data.data_dir()),
        driver_prefix: ["ip", "netns", "exec", net.host.as_str()]
            .map(str::to_owned)
            .to_vec(),
        ..Launch::default()
    };
    let (tx, rx) = mpsc::channel();
    run_app_test_with(
        &format!("seal_capture_{name}"),
        &args,
        &launch,
        move |ui, _| exercise(ui, sealed, tx),
    )
    .await;
    // Stragglers land, then the capture stops.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(capture);
    let (heard, heard_text) = netns::heard(counts);
    let http_requests = serde_json::from_str::<serde_json::Value>(&heard_text)
        .ok()
        .and_then(|v| v["http_requests"].as_u64())
        .unwrap_or(0);
    Seen {
        packets: netns::packets_in(&pcap),
        heard,
        heard_text,
        http_requests,
        page: rx.try_recv().unwrap_or_default(),
    }
}

/// A vault (made by the CLI) whose tile source is the internet host.
fn vault_with_tile_source(label: &str) -> Result<CliData> {
    let data = CliData::new(label, PASSPHRASE)?;
    let template = format!("http://{INTERNET}:8080/{{z}}/{{x}}/{{y}}.png");
    data.airgap(&["vault", "init"])?;
    data.airgap(&["tiles", "source", "set", &template])?;
    Ok(data)
}

/// Unlocks the vault and shows the Fly map; sealed, its tiles are asked for and none loads;
/// online, they load from the internet host through the gate.
async fn show_the_map(ui: &Ui, sealed: bool) -> Result<()> {
    let second = Duration::from_secs(1);
    ui.click(&testid("view-vault")).await?;
    ui.wait_present(
        &format!("{}[data-state=\"locked\"]", testid("vault-gate")),
        "the unlock screen",
        20 * second,
    )
    .await?;
    ui.type_into(&testid("vault-pass"), PASSPHRASE).await?;
    ui.click(&testid("vault-unlock")).await?;
    ui.wait_present(&testid("vault-contents"), "the open vault", 20 * second)
        .await?;
    ui.click(&testid("view-fly")).await?;
    let mut deadline = Deadline::new(
        if sealed {
            "the map asking for tiles, none of them loading"
        } else {
            "the map's tiles from the internet host"
        },
        30 * second,
    );
    let mut quiet = 0;
    loop {
        let value = ui.client().execute(TILE_IMAGES, vec![]).await?;
        let counts: serde_json::Value =
            serde_json::from_str(value.as_str().unwrap_or("{}")).unwrap_or_default();
        let all = counts["all"].as_u64().unwrap_or(0);
        let loaded = counts["loaded"].as_u64().unwrap_or(0);
        if sealed {
            ensure!(loaded == 0, "sealed, {loaded} of {all} tiles loaded");
            quiet = if all > 0 { quiet + 1 } else { 0 };
            if quiet >= 30 {
                break;
            }
        } else if loaded > 0 {
            break;
        }
        deadline
            .tick(format!("{loaded} of {all} tiles loaded"))
            .await?;
    }
    deadline.done();
    Ok(())
}

async fn exercise(ui: Ui, sealed: bool, page: mpsc::Sender<String>) -> Result<()> {
    let second = Duration::from_secs(1);
    both_links_up(&ui, 20 * second).await?;
    show_the_map(&ui, sealed).await?;

    let tried = ui
        .client()
        .execute_async(PAGE_TRIES_THE_INTERNET, vec![])
        .await
        .context("running the page's fetch and img")?;
    let _ = page.send(tried.as_str().unwrap_or_default().to_owned());

    // Leaving the app: no new window, and the navigation is refused (the page stays ours).
    let left = ui
        .client()
        .execute(PAGE_TRIES_TO_LEAVE, vec![])
        .await
        .context("running the page's window.open and navigation")?;
    if left.as_str() != Some("no window") {
        bail!("window.open was not refused: {left}");
    }
    tokio::time::sleep(2 * second).await;
    let here = ui
        .client()
        .execute("return window.location.href;", vec![])
        .await
        .context("reading the page's location")?;
    let here = here.as_str().unwrap_or_default();
    if !here.starts_with("tauri://localhost") {
        bail!("the page navigated away to {here}");
    }

    ui.type_into(
        &testid("forward-address"),
        &format!("udpout:{INTERNET}:14550"),
    )
    .await?;
    ui.click(&testid("forward-add")).await?;
    if sealed {
        ui.wait_text(
            &testid("forward-error"),
            "the forward's refusal",
            10 * second,
            |s| s.contains("refused"),
        )
        .await?;
    } else {
        ui.wait_number(
            &testid("forward-tx"),
            "frames forwarded",
            15 * second,
            |n| n >= 10.0,
        )
        .await?;
    }
    // The vehicle links are unaffected by whatever was refused.
    both_links_up(&ui, 10 * second).await
}

/// Waits until two links are listed and both are up, with telemetry moving.
async fn both_links_up(ui: &Ui, timeout: Duration) -> Result<()> {
    let selector = format!("{} {}", testid("link-row"), testid("link-state"));
    let mut deadline = Deadline::new("the loopback and pty links both up", timeout);
    loop {
        let mut states = Vec::new();
        for state in ui.all(&selector).await? {
            states.push(state.text().await.unwrap_or_default().to_lowercase());
        }
        if states.len() == 2 && states.iter().all(|s| s == "up") {
            deadline.done();
            return Ok(());
        }
        if states.len() > 2 {
            bail!("more links than expected: {states:?}");
        }
        deadline.tick(format!("{states:?}")).await?;
    }
}
