//! Running child processes for the tasks: every command is echoed before it runs, gets no
//! stdin (CI has none, and a pipe held open once hung a WebKit run), and a failure becomes an
//! error that names the command.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A command line being built; [`Cmd::run`] runs it with output going straight to the terminal.
pub struct Cmd {
    inner: Command,
    shown: String,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let program = program.as_ref();
        Self {
            inner: Command::new(program),
            shown: quote(program),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&quote(arg.as_ref()));
        self.inner.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.inner.env(key, value);
        self
    }

    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.inner.current_dir(dir);
        self
    }

    /// Runs to completion with stdout/stderr inherited; a non-zero exit is an error.
    pub fn run(self) -> Result<()> {
        let shown = self.shown.clone();
        let status = self.status()?;
        if !status.success() {
            bail!("`{shown}` failed ({status})");
        }
        Ok(())
    }

    /// Runs to completion with stdout/stderr inherited and returns how it ended.
    pub fn status(mut self) -> Result<ExitStatus> {
        println!("    $ {}", self.shown);
        // Our lines must land before the child's, which share the terminal or log file.
        let _ = std::io::stdout().flush();
        self.inner
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("cannot start `{}`", self.shown))
    }

    /// Runs silently and returns stdout, or `None` when the program is missing or fails:
    /// for probes ("is this installed, which version") where failure is an answer.
    pub fn probe(mut self) -> Option<String> {
        let output = self
            .inner
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%^".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `cargo` that started us (so rustup's toolchain choice holds), else the one on PATH.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// npm is a batch file on Windows, which `Command` does not resolve by bare name.
pub fn npm() -> &'static str {
    if cfg!(windows) {
        "npm.cmd"
    } else {
        "npm"
    }
}

/// Finds an executable on PATH (and in cargo's bin dir, which a fresh rustup install may not
/// have put on this shell's PATH yet).
pub fn which(name: &str) -> Option<PathBuf> {
    let exe = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(cargo_bin_dir())
        .map(|dir| dir.join(&exe))
        .find(|candidate| candidate.is_file())
}

/// Where `cargo install` puts binaries.
pub fn cargo_bin_dir() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return Some(PathBuf::from(root).join("bin"));
    }
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Some(PathBuf::from(home).join("bin"));
    }
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(|home| PathBuf::from(home).join(".cargo").join("bin"))
}

/// Prints `==> what`, runs `f`, then prints how long it took and how it went.
pub fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {what}");
    let start = Instant::now();
    let result = f();
    let took = human(start.elapsed());
    match &result {
        Ok(_) => println!("    {what}: done in {took}"),
        Err(e) => println!("    {what}: FAILED after {took}: {e:#}"),
    }
    result
}

pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_shown_bare_and_others_quoted() {
        assert_eq!(quote(OsStr::new("--test-threads=1")), "--test-threads=1");
        assert_eq!(quote(OsStr::new("-screen 0 1x1x24")), "'-screen 0 1x1x24'");
        assert_eq!(quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(quote(OsStr::new("")), "''");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_millis(1520)), "1.5s");
        assert_eq!(human(Duration::from_secs(125)), "2m05s");
    }
}
