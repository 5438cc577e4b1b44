//! Bringing a fresh machine up to what the app and the tests need: system packages (Debian/
//! Ubuntu; on macOS and Windows only a check with advice), Node for the UI, `tauri-driver`,
//! and the Python venv holding pymavlink. Each step is a no-op when its work is already done,
//! so running a task twice costs seconds.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::shell::{self, Cmd};

/// What building and running the desktop app needs on Debian/Ubuntu.
pub const RUN_PACKAGES: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "build-essential",
    "curl",
    "wget",
    "file",
    "libxdo-dev",
    "libssl-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libudev-dev",
    "pkg-config",
];

/// What the tests need on top: a virtual display and session bus for the app, the WebKit
/// WebDriver, screenshots, Python venvs, `ip` for the network-namespace tests and `strace`,
/// with which the seal tests check that a refused destination is never even named in a
/// system call.
pub const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "dbus",
    "dbus-x11",
    "at-spi2-core",
    "imagemagick",
    "python3-venv",
    "iproute2",
    "strace",
    "tcpdump",
];

/// The newest 2.x (3.x is an alpha that pairs with Tauri 3). Pinned so a new release cannot
/// change a CI run; bump deliberately.
pub const TAURI_DRIVER_VERSION: &str = "2.1.0";

/// vite 8 (the UI's bundler) refuses older Node.
const NODE_MIN: (u32, u32) = (20, 19);

/// Installs whatever of `packages` is missing (Debian/Ubuntu), or says what the platform needs.
pub fn system_packages(packages: &[&str]) -> Result<()> {
    if cfg!(target_os = "macos") {
        return macos_prerequisites();
    }
    if cfg!(windows) {
        windows_prerequisites();
        return Ok(());
    }
    if shell::which("dpkg-query").is_none() {
        println!(
            "    not a Debian/Ubuntu system: install your distribution's equivalents of: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        println!("    all {} packages present", packages.len());
        return Ok(());
    }
    println!("    missing: {}", missing.join(" "));
    let use_sudo = if is_root() {
        false
    } else if shell::which("sudo").is_some() {
        true
    } else {
        bail!(
            "not root and no sudo: install these as root: apt-get install {}",
            missing.join(" ")
        );
    };
    // `env VAR=…` rather than Command::env so the variable survives sudo's environment reset.
    let apt = |args: &[&str]| {
        let cmd = if use_sudo {
            Cmd::new("sudo").arg("env")
        } else {
            Cmd::new("env")
        };
        cmd.args(["DEBIAN_FRONTEND=noninteractive", "apt-get"])
            .args(args)
            .run()
    };
    apt(&["update"])?;
    apt(&[&["install", "-y", "--no-install-recommends"][..], &missing].concat())
}

fn dpkg_installed(package: &str) -> bool {
    Cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .probe()
        .is_some_and(|status| status.contains("install ok installed"))
}

fn is_root() -> bool {
    Cmd::new("id")
        .arg("-u")
        .probe()
        .is_some_and(|uid| uid.trim() == "0")
}

fn macos_prerequisites() -> Result<()> {
    if Cmd::new("xcode-select").arg("-p").probe().is_none() {
        bail!("the Xcode Command Line Tools are missing: run `xcode-select --install`, then retry");
    }
    println!("    Xcode Command Line Tools present; the system WebView (WKWebView) needs nothing");
    Ok(())
}

fn windows_prerequisites() {
    const WEBVIEW2: &str = r"Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}";
    let found = [
        format!(r"HKLM\SOFTWARE\WOW6432Node\{WEBVIEW2}"),
        format!(r"HKLM\SOFTWARE\{WEBVIEW2}"),
        format!(r"HKCU\Software\{WEBVIEW2}"),
    ]
    .iter()
    .any(|key| {
        Cmd::new("reg")
            .args(["query", key, "/v", "pv"])
            .probe()
            .is_some()
    });
    if found {
        println!("    WebView2 runtime present");
    } else {
        println!(
            "    WebView2 runtime not found: install Microsoft's Evergreen WebView2 Runtime \
             (Windows 11 ships it); building also needs the MSVC build tools"
        );
    }
}

/// Fails with advice when Node/npm are missing or too old for the UI's toolchain.
pub fn check_node() -> Result<()> {
    let Some(version) = Cmd::new("node").arg("--version").probe() else {
        bail!(
            "Node.js {}.{}+ with npm is needed for the UI and was not found on PATH: install it \
             from nodejs.org or with a version manager (nvm, fnm, volta)",
            NODE_MIN.0,
            NODE_MIN.1
        );
    };
    let version = version.trim();
    match parse_node_version(version) {
        Some(v) if v >= NODE_MIN => {
            println!("    node {version}");
            Ok(())
        }
        _ => bail!(
            "Node.js {version} is too old: the UI's toolchain needs {}.{}+",
            NODE_MIN.0,
            NODE_MIN.1
        ),
    }
}

fn parse_node_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim().trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// `npm ci` when node_modules is missing or older than package-lock.json.
pub fn npm_ci(root: &Path) -> Result<()> {
    let ui = root.join("ui");
    let lock = ui.join("package-lock.json");
    // npm writes this file on every install, so its age is the age of node_modules' contents.
    let installed = ui.join("node_modules").join(".package-lock.json");
    let lock_time = fs::metadata(&lock)
        .and_then(|m| m.modified())
        .with_context(|| format!("cannot read {}", lock.display()))?;
    let fresh = fs::metadata(&installed)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= lock_time);
    if fresh {
        println!("    ui/node_modules is up to date with package-lock.json");
        return Ok(());
    }
    Cmd::new(shell::npm())
        .args(["ci", "--no-audit", "--no-fund"])
        .dir(&ui)
        .run()
}

pub fn npm_run(root: &Path, script: &str) -> Result<()> {
    Cmd::new(shell::npm())
        .args(["run", script])
        .dir(root.join("ui"))
        .run()
}

/// Installs the pinned `tauri-driver` unless cargo already records that version, and returns
/// its path. (`tauri-driver` itself has no `--version` flag: it rejects unknown arguments.)
pub fn tauri_driver() -> Result<PathBuf> {
    let wanted = format!("tauri-driver v{TAURI_DRIVER_VERSION}:");
    let recorded = Cmd::new(shell::cargo())
        .args(["install", "--list"])
        .probe()
        .is_some_and(|list| list.lines().any(|l| l.trim() == wanted));
    match shell::which("tauri-driver") {
        Some(path) if recorded => {
            println!(
                "    tauri-driver {TAURI_DRIVER_VERSION} present at {}",
                path.display()
            );
            return Ok(path);
        }
        _ => {}
    }
    Cmd::new(shell::cargo())
        .args(["install", "tauri-driver", "--locked", "--version"])
        .arg(format!("={TAURI_DRIVER_VERSION}"))
        .run()?;
    shell::which("tauri-driver").context("tauri-driver was installed but is not on PATH")
}

/// Makes `.venv/` with the pinned packages of tests/interop/requirements.txt and returns its
/// Python. Reinstalls when the requirements change or pymavlink does not import.
pub fn python_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join(".venv");
    let python = venv_python(&venv);
    let requirements_path = root.join("tests").join("interop").join("requirements.txt");
    let requirements = fs::read_to_string(&requirements_path)
        .with_context(|| format!("cannot read {}", requirements_path.display()))?;
    let stamp = venv.join("airgap-requirements.txt");

    let usable = python.is_file() && Cmd::new(&python).args(["-c", "pass"]).probe().is_some();
    if !usable {
        if venv.exists() {
            // A venv whose base interpreter went away (pyenv upgrade, moved checkout).
            println!("    {} is broken: recreating it", venv.display());
            fs::remove_dir_all(&venv)
                .with_context(|| format!("cannot remove {}", venv.display()))?;
        }
        let base = base_python()?;
        Cmd::new(&base).args(["-m", "venv"]).arg(&venv).run()?;
    }

    let pinned = fs::read_to_string(&stamp).is_ok_and(|s| s == requirements);
    if !(pinned && pymavlink_imports(&python)) {
        Cmd::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&requirements_path)
            .run()?;
        if !pymavlink_imports(&python) {
            bail!("pymavlink was installed but `from pymavlink import mavutil` fails");
        }
        fs::write(&stamp, &requirements)
            .with_context(|| format!("cannot write {}", stamp.display()))?;
    }
    println!("    {} has pymavlink", python.display());
    Ok(python)
}

pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn base_python() -> Result<PathBuf> {
    ["python3", "python"]
        .iter()
        .filter_map(|name| shell::which(name))
        .find(|p| {
            Cmd::new(p)
                .args(["-c", "import sys, venv; assert sys.version_info >= (3, 8)"])
                .probe()
                .is_some()
        })
        .context(
            "no Python 3.8+ with the venv module on PATH (Debian: apt-get install python3-venv)",
        )
}

fn pymavlink_imports(python: &Path) -> bool {
    Cmd::new(python)
        .args(["-c", "from pymavlink import mavutil"])
        .probe()
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_parse_and_compare() {
        assert_eq!(parse_node_version("v20.20.2\n"), Some((20, 20)));
        assert!(parse_node_version("v20.18.0").is_some_and(|v| v < NODE_MIN));
        assert!(parse_node_version("v22.1.0").is_some_and(|v| v >= NODE_MIN));
        assert_eq!(parse_node_version("garbage"), None);
    }
}
