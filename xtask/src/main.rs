//! Developer tasks, so that a fresh clone needs exactly two commands:
//! `cargo xtask run` (install, build, launch the app on the simulated vehicle) and
//! `cargo xtask test` (install, then every check CI runs). Only `std` and `anyhow`, so the
//! tasks themselves compile in seconds on a cold machine.

mod run;
mod setup;
mod shell;
mod test;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  run [--no-setup] [-- APP_ARGS...]
        install what is missing (Debian/Ubuntu packages, UI dependencies), build the UI and
        the debug binaries, then launch `airgap-gcs --sim APP_ARGS...`
  test [--no-setup] [--skip-e2e] [--only STEP[,STEP...]]...
        install what the tests need, run every check, end with `xtask: N passed, N failed`
        steps: system-packages tauri-driver python-venv npm-ci ui-build fmt clippy test
               ui-check ui-test e2e-build e2e

options:
  --no-setup   install nothing; use what is already there
  --skip-e2e   leave out the WebDriver tests of the desktop app (they need Xvfb)
  --only STEP  run just these checks (and the setup they need); repeatable
";

fn main() -> ExitCode {
    match dispatch(std::env::args_os().skip(1).collect()) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: Vec<OsString>) -> Result<i32> {
    let root = repo_root();
    let mut args = args.into_iter();
    let task = args.next();
    match task.as_ref().and_then(|t| t.to_str()) {
        Some("run") => {
            let mut options = run::Options {
                setup: true,
                app_args: Vec::new(),
            };
            let mut rest = args.peekable();
            while let Some(arg) = rest.peek() {
                match arg.to_str() {
                    Some("--no-setup") => options.setup = false,
                    Some("--") => {
                        rest.next();
                        break;
                    }
                    // Anything else is the app's: `cargo xtask run --connect udpin:…` works too.
                    _ => break,
                }
                rest.next();
            }
            options.app_args = rest.collect();
            run::run(&root, &options)
        }
        Some("test") => {
            let mut options = test::Options {
                setup: true,
                only: Vec::new(),
                e2e: true,
            };
            while let Some(arg) = args.next() {
                match arg.to_str() {
                    Some("--no-setup") => options.setup = false,
                    Some("--skip-e2e") => options.e2e = false,
                    Some("--only") => {
                        let Some(steps) = args.next() else {
                            bail!("--only needs a step name\n\n{USAGE}");
                        };
                        options.only.extend(
                            steps
                                .to_string_lossy()
                                .split(',')
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned),
                        );
                    }
                    _ => bail!("unknown option {arg:?} for `test`\n\n{USAGE}"),
                }
            }
            let passed = test::run(&root, &options)?;
            Ok(if passed { 0 } else { 1 })
        }
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(0)
        }
        Some(other) => bail!("unknown task `{other}`\n\n{USAGE}"),
        None => {
            print!("{USAGE}");
            Ok(2)
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits directly inside the workspace root")
        .to_path_buf()
}
