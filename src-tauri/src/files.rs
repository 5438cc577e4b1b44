//! The native open/save dialogs. They run on the Rust side, so the web page never gets a
//! dialog or file-system permission: it only receives what a command read from the file the
//! pilot picked.

use std::path::{Path, PathBuf};

use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

use crate::dto::IpcError;

/// A file type offered in a dialog: its name and extensions (without the dot).
pub type Filter = (&'static str, &'static [&'static str]);

/// Asks the pilot for a file to open; `None` when they cancelled.
pub async fn pick_open(
    app: &AppHandle,
    title: &str,
    filters: &[Filter],
) -> Result<Option<PathBuf>, IpcError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file().set_title(title);
    for (name, extensions) in filters {
        dialog = dialog.add_filter(*name, extensions);
    }
    dialog.pick_file(move |path| {
        // The receiver is gone only if the command was dropped; nobody is left to tell.
        let _ = tx.send(path);
    });
    chosen(rx.await)
}

/// Asks the pilot where to save, suggesting `file_name`; `None` when they cancelled.
pub async fn pick_save(
    app: &AppHandle,
    title: &str,
    file_name: &str,
    filters: &[Filter],
) -> Result<Option<PathBuf>, IpcError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app
        .dialog()
        .file()
        .set_title(title)
        .set_file_name(file_name);
    for (name, extensions) in filters {
        dialog = dialog.add_filter(*name, extensions);
    }
    dialog.save_file(move |path| {
        let _ = tx.send(path);
    });
    chosen(rx.await)
}

fn chosen(
    answer: Result<Option<tauri_plugin_dialog::FilePath>, tokio::sync::oneshot::error::RecvError>,
) -> Result<Option<PathBuf>, IpcError> {
    match answer {
        Ok(Some(path)) => path
            .into_path()
            .map(Some)
            .map_err(|e| IpcError::new("file_failed", format!("not a local file: {e}"))),
        Ok(None) => Ok(None),
        Err(_) => Err(IpcError::new(
            "internal",
            "the file dialog closed without an answer",
        )),
    }
}

pub fn read_text(path: &Path) -> Result<String, IpcError> {
    std::fs::read_to_string(path).map_err(|e| {
        IpcError::new(
            "file_failed",
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

pub fn write_text(path: &Path, text: &str) -> Result<(), IpcError> {
    std::fs::write(path, text).map_err(|e| {
        IpcError::new(
            "file_failed",
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

/// The last component of `path`, for display.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `path` with its extension lower-cased, for choosing a format.
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}
