//! `cargo xtask run`: from a fresh Debian/Ubuntu machine to the desktop app flying the built-in
//! simulated vehicle: system packages, the UI bundle, the debug build, then the app.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Result};

use crate::setup;
use crate::shell::{self, timed, Cmd};
use crate::test::target_dir;

pub struct Options {
    pub setup: bool,
    /// Passed on to `airgap-gcs` after `--sim`.
    pub app_args: Vec<OsString>,
}

/// The exact command that gives the app a display when there is none.
pub const HEADLESS_HINT: &str =
    r#"xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- cargo xtask run"#;

pub fn run(root: &Path, options: &Options) -> Result<i32> {
    let headless = cfg!(target_os = "linux") && !has_display();
    if headless {
        println!("==> no display (neither DISPLAY nor WAYLAND_DISPLAY is set): building only");
    }
    if options.setup {
        timed("installing system packages", || {
            setup::system_packages(setup::RUN_PACKAGES)
        })?;
        timed("checking Node", setup::check_node)?;
        timed("installing UI dependencies (npm ci)", || {
            setup::npm_ci(root)
        })?;
    }
    timed("building the UI (npm run build)", || {
        setup::npm_run(root, "build")
    })?;
    timed("building airgap-gcs and airgap (debug)", || {
        Cmd::new(shell::cargo())
            .args(["build", "-p", "airgap-gcs", "-p", "airgap-cli"])
            .dir(root)
            .run()
    })?;

    if headless {
        println!("==> cannot open a window: this machine has no display.");
        println!("    To run the app on a virtual display:");
        println!("    {HEADLESS_HINT}");
        return Ok(1);
    }

    let app = target_dir(root)
        .join("debug")
        .join(format!("airgap-gcs{}", std::env::consts::EXE_SUFFIX));
    if !app.is_file() {
        bail!("the build finished but {} is missing", app.display());
    }
    println!("==> launching the app against the simulated vehicle (close its window to stop)");
    let status = Cmd::new(&app)
        .arg("--sim")
        .args(&options.app_args)
        .dir(root)
        .status()?;
    Ok(status.code().unwrap_or(1))
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}
