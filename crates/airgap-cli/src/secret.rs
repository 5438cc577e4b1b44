//! Where a passphrase comes from: the file an environment variable names (scripts, tests),
//! else a prompt without echo on the terminal. Never the command line, where `ps` and shell
//! history would show it. Also the strength hint `vault init` and `vault passwd` print.

use std::io::IsTerminal;
use std::path::Path;

use airgap_vault::SecretString;
use anyhow::Context;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

/// The file holding the vault's passphrase (its first line).
pub const PASSPHRASE_FILE_ENV: &str = "AIRGAP_PASSPHRASE_FILE";
/// The file holding the new passphrase for `vault passwd`.
pub const NEW_PASSPHRASE_FILE_ENV: &str = "AIRGAP_NEW_PASSPHRASE_FILE";

/// The passphrase that opens the vault.
pub fn current() -> anyhow::Result<SecretString> {
    if let Some(path) = file_from_env(PASSPHRASE_FILE_ENV) {
        return read_file(&path, PASSPHRASE_FILE_ENV);
    }
    ensure_terminal(PASSPHRASE_FILE_ENV)?;
    prompt("Vault passphrase: ")
}

/// A passphrase being chosen (`vault init`, `vault passwd`): read from the file `file_env`
/// names, or asked twice on the terminal after `warning`. Prints a strength hint.
pub fn choose(file_env: &str, warning: &str) -> anyhow::Result<SecretString> {
    let chosen = match file_from_env(file_env) {
        Some(path) => read_file(&path, file_env)?,
        None => {
            ensure_terminal(file_env)?;
            eprintln!("{warning}");
            let first = prompt("New passphrase: ")?;
            let again = prompt("Repeat it: ")?;
            if first.expose_secret() != again.expose_secret() {
                anyhow::bail!("the two passphrases differ; nothing was done");
            }
            first
        }
    };
    eprintln!("{}", strength_hint(&chosen));
    Ok(chosen)
}

fn file_from_env(var: &str) -> Option<std::path::PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(Into::into)
}

fn ensure_terminal(file_env: &str) -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    anyhow::bail!(
        "no passphrase: not on a terminal, so none can be asked for; set {file_env} to the path \
         of a file whose first line is the passphrase (a passphrase is never taken from the \
         command line)"
    )
}

fn prompt(text: &str) -> anyhow::Result<SecretString> {
    let typed = Zeroizing::new(
        rpassword::prompt_password(text).context("cannot read the passphrase from the terminal")?,
    );
    non_empty(typed.as_str())
}

/// The file's first line, without its line ending. Everything read is wiped afterwards.
fn read_file(path: &Path, var: &str) -> anyhow::Result<SecretString> {
    let text = Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the passphrase file {} (named by {var})",
            path.display()
        )
    })?);
    let first = text.split('\n').next().unwrap_or_default();
    non_empty(first.strip_suffix('\r').unwrap_or(first))
        .with_context(|| format!("{} (named by {var})", path.display()))
}

fn non_empty(passphrase: &str) -> anyhow::Result<SecretString> {
    if passphrase.is_empty() {
        anyhow::bail!("the passphrase is empty");
    }
    Ok(SecretString::from(passphrase.to_owned()))
}

/// A rough hint, not a meter: length counts most, and a few character classes help.
/// Argon2id makes each guess slow, but a short or common passphrase still falls to a list.
pub fn strength_hint(passphrase: &SecretString) -> String {
    let p = passphrase.expose_secret();
    let chars = p.chars().count();
    let classes = [
        p.chars().any(|c| c.is_lowercase()),
        p.chars().any(|c| c.is_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|&&present| present)
    .count();
    let verdict = match (chars, classes) {
        (0..=9, _) => "weak",
        (10..=13, 0..=2) => "fair",
        (10..=15, _) | (16..=19, 0..=2) => "good",
        _ => "strong",
    };
    format!(
        "passphrase strength: {verdict} ({chars} characters); four or more random words, or 16+ \
         mixed characters, resist guessing best"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(p: &str) -> String {
        let hint = strength_hint(&SecretString::from(p.to_owned()));
        hint.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn the_hint_grows_with_length_and_variety() {
        assert_eq!(verdict("hunter2"), "weak");
        assert_eq!(verdict("abcdefghijk"), "fair");
        assert_eq!(verdict("Abcdefgh1jk"), "good");
        assert_eq!(verdict("long enough pass"), "good");
        assert_eq!(verdict("Long enough pass 4"), "strong");
        assert_eq!(verdict("correct horse battery staple"), "strong");
    }

    #[test]
    fn a_passphrase_file_gives_its_first_line_without_the_line_ending() {
        let dir = std::env::temp_dir().join(format!("airgap-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let path = dir.join("pass");
        for (content, expected) in [
            ("s3cret words\n", Some("s3cret words")),
            ("s3cret words\r\nsecond line\n", Some("s3cret words")),
            ("no newline", Some("no newline")),
            (" spaced \n", Some(" spaced ")),
            ("\nafter an empty line", None),
            ("", None),
        ] {
            std::fs::write(&path, content).expect("temp file is writable");
            let got = read_file(&path, PASSPHRASE_FILE_ENV).ok();
            assert_eq!(
                got.as_ref().map(|s| s.expose_secret()),
                expected,
                "{content:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
