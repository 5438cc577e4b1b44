//! `cargo xtask test`: installs what the tests need, runs every check as a named step, keeps
//! going after a failure (one run shows every failure), skips only what a failed build makes
//! impossible, and ends with one `xtask: N passed, N failed` line.
//!
//! The steps are ordered so nothing is compiled twice: clippy's check artifacts are its own,
//! `cargo test` builds the debug profile once, and the e2e step reuses those debug binaries.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::setup;
use crate::shell::{self, Cmd};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    System,
    TauriDriver,
    Venv,
    NpmCi,
    UiBuild,
    Fmt,
    Clippy,
    Test,
    UiCheck,
    UiTest,
    E2eBuild,
    E2e,
}

use Step::*;

/// In running order.
const ALL: [Step; 12] = [
    System,
    TauriDriver,
    Venv,
    NpmCi,
    UiBuild,
    Fmt,
    Clippy,
    Test,
    UiCheck,
    UiTest,
    E2eBuild,
    E2e,
];

impl Step {
    fn name(self) -> &'static str {
        match self {
            System => "system-packages",
            TauriDriver => "tauri-driver",
            Venv => "python-venv",
            NpmCi => "npm-ci",
            UiBuild => "ui-build",
            Fmt => "fmt",
            Clippy => "clippy",
            Test => "test",
            UiCheck => "ui-check",
            UiTest => "ui-test",
            E2eBuild => "e2e-build",
            E2e => "e2e",
        }
    }

    /// Setup steps install things; the rest are the checks a user selects with `--only`.
    fn is_setup(self) -> bool {
        matches!(self, System | TauriDriver | Venv | NpmCi)
    }

    /// Steps that must not have failed for this one to be worth running. A step whose
    /// prerequisite was not planned (e.g. `--no-setup`) runs against what is already there.
    fn needs(self) -> &'static [Step] {
        match self {
            System | TauriDriver | Venv | NpmCi | Fmt => &[],
            // Lints and unit tests compile against ui/dist; a stale one is fine for them,
            // so only a missing one (checked at run time) makes a failed UI build block them.
            Clippy | Test => &[],
            UiBuild | UiCheck | UiTest => &[NpmCi],
            E2eBuild => &[UiBuild],
            E2e => &[E2eBuild, TauriDriver],
        }
    }

    /// What a check needs installed or built first, for planning a partial run.
    fn setup_for(self) -> &'static [Step] {
        match self {
            Fmt => &[],
            Clippy => &[System, NpmCi, UiBuild],
            Test => &[System, Venv, NpmCi, UiBuild],
            UiCheck | UiTest => &[NpmCi],
            E2eBuild => &[System, NpmCi, UiBuild],
            E2e => &[System, TauriDriver, NpmCi, UiBuild, E2eBuild],
            System | TauriDriver | Venv | NpmCi | UiBuild => &[],
        }
    }

    fn linux_only(self) -> bool {
        matches!(self, TauriDriver | E2eBuild | E2e)
    }
}

pub struct Options {
    pub setup: bool,
    pub only: Vec<String>,
    pub e2e: bool,
}

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// What earlier steps found that later ones use.
#[derive(Default)]
struct Found {
    python: Option<PathBuf>,
    tauri_driver: Option<PathBuf>,
}

/// Runs the planned steps and returns whether all passed.
pub fn run(root: &Path, options: &Options) -> Result<bool> {
    let plan = plan(options)?;
    println!(
        "==> plan: {}",
        plan.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    );
    let mut found = Found::default();
    let ui_dist = root.join("ui").join("dist").join("index.html");
    let results = run_plan(
        &plan,
        || ui_dist.is_file(),
        |step| run_step(step, root, &mut found),
    );
    let (passed, failed) = report(&results);
    Ok(passed > 0 && failed == 0)
}

struct Ran {
    step: Step,
    outcome: Outcome,
    took: Duration,
}

/// Runs each step through `exec` unless a step it needs did not pass, printing as it goes.
/// `ui_dist_present` is asked when the UI build failed: lints and unit tests can still use an
/// older bundle, but not a missing one.
fn run_plan(
    plan: &[Step],
    ui_dist_present: impl Fn() -> bool,
    mut exec: impl FnMut(Step) -> Result<()>,
) -> Vec<Ran> {
    let mut results: Vec<Ran> = Vec::new();
    for &step in plan {
        let not_passed = |s: Step| {
            results
                .iter()
                .any(|r| r.step == s && !matches!(r.outcome, Outcome::Passed))
        };
        let blocked = step
            .needs()
            .iter()
            .copied()
            .find(|&need| not_passed(need))
            .or_else(|| {
                (matches!(step, Clippy | Test) && not_passed(UiBuild) && !ui_dist_present())
                    .then_some(UiBuild)
            });
        if let Some(need) = blocked {
            let why = format!("{} did not pass", need.name());
            println!("==> {}: skipped ({why})", step.name());
            results.push(Ran {
                step,
                outcome: Outcome::Skipped(why),
                took: Duration::ZERO,
            });
            continue;
        }

        println!("==> {}", step.name());
        let start = Instant::now();
        let outcome = match exec(step) {
            Ok(()) => Outcome::Passed,
            Err(e) => Outcome::Failed(format!("{e:#}")),
        };
        let took = start.elapsed();
        match &outcome {
            Outcome::Passed => println!("    {}: passed in {}", step.name(), shell::human(took)),
            Outcome::Failed(e) => println!(
                "    {}: FAILED after {}: {e}",
                step.name(),
                shell::human(took)
            ),
            Outcome::Skipped(_) => {}
        }
        results.push(Ran {
            step,
            outcome,
            took,
        });
    }
    results
}

/// Prints the table and, last and alone, the line CI reads. A skipped step counts as failed:
/// it did not show that its part works.
fn report(results: &[Ran]) -> (usize, usize) {
    println!("==> summary");
    for r in results {
        let (word, detail) = match &r.outcome {
            Outcome::Passed => ("passed", String::new()),
            Outcome::Failed(e) => ("FAILED", first_line(e)),
            Outcome::Skipped(why) => ("SKIPPED", format!("{why}; counted as failed")),
        };
        let row = format!(
            "    {:<16} {:<8} {:>7}  {detail}",
            r.step.name(),
            word,
            shell::human(r.took)
        );
        println!("{}", row.trim_end());
    }
    let passed = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Passed))
        .count();
    let failed = results.len() - passed;
    // The last line, alone, in the form CI reads.
    println!("xtask: {passed} passed, {failed} failed");
    (passed, failed)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

fn plan(options: &Options) -> Result<Vec<Step>> {
    let linux = cfg!(target_os = "linux");
    let mut chosen: Vec<Step> = if options.only.is_empty() {
        ALL.iter().copied().filter(|s| !s.is_setup()).collect()
    } else {
        let mut chosen = Vec::new();
        for name in &options.only {
            let step = ALL
                .iter()
                .copied()
                .find(|s| s.name() == name)
                .with_context(|| {
                    format!(
                        "unknown step `{name}`; steps are: {}",
                        ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
                    )
                })?;
            chosen.push(step);
        }
        chosen
    };
    if !options.e2e {
        chosen.retain(|s| !matches!(s, E2eBuild | E2e));
    }
    if !linux && chosen.iter().any(|s| s.linux_only()) {
        println!(
            "    the WebDriver tests run on Linux only (WebKitWebDriver under Xvfb): not run here"
        );
        chosen.retain(|s| !s.linux_only());
    }
    let with_setup: Vec<Step> = chosen
        .iter()
        .flat_map(|s| s.setup_for().iter().copied())
        .filter(|s| options.setup || !s.is_setup())
        .chain(chosen.iter().copied())
        .collect();
    let plan: Vec<Step> = ALL
        .iter()
        .copied()
        .filter(|s| with_setup.contains(s))
        .collect();
    if plan.is_empty() {
        bail!("nothing to run");
    }
    Ok(plan)
}

fn run_step(step: Step, root: &Path, found: &mut Found) -> Result<()> {
    let cargo = || Cmd::new(shell::cargo()).dir(root);
    match step {
        System => {
            let packages = [setup::RUN_PACKAGES, setup::TEST_PACKAGES].concat();
            setup::system_packages(&packages)
        }
        TauriDriver => {
            found.tauri_driver = Some(setup::tauri_driver()?);
            Ok(())
        }
        Venv => {
            found.python = Some(setup::python_venv(root)?);
            Ok(())
        }
        NpmCi => {
            setup::check_node()?;
            setup::npm_ci(root)
        }
        UiBuild => setup::npm_run(root, "build"),
        Fmt => cargo().args(["fmt", "--all", "--", "--check"]).run(),
        Clippy => cargo()
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
            .run(),
        Test => {
            let python = found
                .python
                .clone()
                .unwrap_or_else(|| setup::venv_python(&root.join(".venv")));
            // Without it the interop tests fail and say how to set it; the rest still runs.
            // --no-fail-fast: one run reports every failing test binary, not just the first.
            let mut cmd = cargo().args(["test", "--no-fail-fast"]);
            if python.is_file() {
                cmd = cmd.env("AIRGAP_PYTHON", python);
            }
            cmd.run()
        }
        UiCheck => setup::npm_run(root, "check"),
        UiTest => setup::npm_run(root, "test"),
        // `cargo build -p airgap-gcs -p airgap-cli` would resolve features without the
        // dev-dependencies' (tokio's `test-util`), rebuilding tokio and all of tauri above it.
        // Asking for the default members' tests too gives `cargo test`'s exact feature set,
        // so after that step this only links the app.
        E2eBuild => cargo().args(["build", "--bins", "--tests"]).run(),
        E2e => {
            let debug = target_dir(root).join("debug");
            let exe = std::env::consts::EXE_SUFFIX;
            let gcs = debug.join(format!("airgap-gcs{exe}"));
            let cli = debug.join(format!("airgap{exe}"));
            let mut cmd = Cmd::new("xvfb-run")
                .args([
                    "-a",
                    "-s",
                    "-screen 0 1280x800x24",
                    "dbus-run-session",
                    "--",
                ])
                .arg(shell::cargo())
                .args(["test", "--no-fail-fast", "-p", "airgap-e2e"])
                // One app at a time: two WebKit instances on two cores starve each other.
                .args(["--", "--test-threads=1"])
                .dir(root)
                .env("AIRGAP_GCS_BIN", &gcs)
                .env("AIRGAP_BIN", &cli);
            if let Some(driver) = found
                .tauri_driver
                .clone()
                .or_else(|| shell::which("tauri-driver"))
            {
                cmd = cmd.env("TAURI_DRIVER", driver);
            }
            cmd.run()
        }
    }
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` when set, else `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plan: &[Step]) -> Vec<&'static str> {
        plan.iter().map(|s| s.name()).collect()
    }

    fn options(only: &[&str]) -> Options {
        Options {
            setup: true,
            only: only.iter().map(|s| s.to_string()).collect(),
            e2e: true,
        }
    }

    #[test]
    fn a_full_run_sets_up_first_and_ends_with_the_e2e() {
        let plan = plan(&options(&[])).expect("plan");
        assert_eq!(plan.first(), Some(&System));
        if cfg!(target_os = "linux") {
            assert_eq!(plan.last(), Some(&E2e));
            assert_eq!(plan.len(), ALL.len());
        }
    }

    #[test]
    fn only_pulls_in_just_the_setup_a_step_needs() {
        assert_eq!(names(&plan(&options(&["fmt"])).expect("plan")), ["fmt"]);
        assert_eq!(
            names(&plan(&options(&["ui-test"])).expect("plan")),
            ["npm-ci", "ui-test"]
        );
        let no_setup = Options {
            setup: false,
            ..options(&["test"])
        };
        assert_eq!(names(&plan(&no_setup).expect("plan")), ["ui-build", "test"]);
    }

    #[test]
    fn skip_e2e_drops_both_e2e_steps_and_their_driver() {
        let plan = plan(&Options {
            e2e: false,
            ..options(&[])
        })
        .expect("plan");
        assert!(!plan
            .iter()
            .any(|s| matches!(s, E2e | E2eBuild | TauriDriver)));
    }

    fn outcomes(results: &[Ran]) -> Vec<(&'static str, &'static str)> {
        results
            .iter()
            .map(|r| {
                let word = match r.outcome {
                    Outcome::Passed => "passed",
                    Outcome::Failed(_) => "failed",
                    Outcome::Skipped(_) => "skipped",
                };
                (r.step.name(), word)
            })
            .collect()
    }

    #[test]
    fn a_failed_build_skips_only_what_needs_it_and_the_rest_still_runs() {
        let plan = [NpmCi, UiBuild, Fmt, Clippy, Test, UiCheck, E2eBuild, E2e];
        let mut ran = Vec::new();
        let results = run_plan(
            &plan,
            || true,
            |step| {
                ran.push(step);
                match step {
                    UiBuild | Fmt => anyhow::bail!("broken"),
                    _ => Ok(()),
                }
            },
        );
        assert_eq!(
            outcomes(&results),
            [
                ("npm-ci", "passed"),
                ("ui-build", "failed"),
                ("fmt", "failed"),
                ("clippy", "passed"),
                ("test", "passed"),
                ("ui-check", "passed"),
                ("e2e-build", "skipped"),
                ("e2e", "skipped"),
            ]
        );
        assert!(!ran.contains(&E2eBuild) && !ran.contains(&E2e));
        assert_eq!(report(&results), (4, 4));
    }

    #[test]
    fn without_any_ui_bundle_a_failed_ui_build_also_blocks_the_rust_checks() {
        let results = run_plan(
            &[UiBuild, Fmt, Clippy, Test],
            || false,
            |step| match step {
                UiBuild => anyhow::bail!("broken"),
                _ => Ok(()),
            },
        );
        assert_eq!(
            outcomes(&results),
            [
                ("ui-build", "failed"),
                ("fmt", "passed"),
                ("clippy", "skipped"),
                ("test", "skipped"),
            ]
        );
    }

    #[test]
    fn an_unknown_step_is_an_error_listing_the_real_ones() {
        let Err(e) = plan(&options(&["lint"])) else {
            panic!("`lint` is not a step");
        };
        assert!(format!("{e}").contains("clippy"), "{e}");
    }
}
