//! The web view's lockdown (the seal's second layer, always on, sealed or not): the page may
//! show only the app's own origin. Navigating anywhere else is refused here, and so is every
//! new window (`window.open`): the main window is built here (tauri.conf.json describes it
//! with `"create": false`) with a handler that denies them, on every platform. Remote
//! fetches and images are refused by the CSP in tauri.conf.json; map tiles come through the
//! `tile` protocol, served by Rust.

use tauri::plugin::{Builder, TauriPlugin};
use tauri::webview::NewWindowResponse;
use tauri::{AppHandle, Runtime, Url, WebviewWindowBuilder};

/// The origins the app's own pages are served from: `tauri://localhost` (Linux, macOS),
/// `http(s)://tauri.localhost` (Windows), and Vite's dev server in debug builds.
pub fn is_own_page(url: &Url) -> bool {
    match (url.scheme(), url.host_str()) {
        ("tauri", Some("localhost")) => true,
        ("http" | "https", Some("tauri.localhost")) => true,
        ("http", Some("localhost")) => cfg!(debug_assertions) && url.port() == Some(1420),
        ("about", _) => url.as_str() == "about:blank",
        _ => false,
    }
}

/// A plugin that refuses every navigation away from the app's own pages.
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    Builder::new("lockdown")
        .on_navigation(|_webview, url| {
            let allowed = is_own_page(url);
            if !allowed {
                tracing::warn!(%url, "the page tried to navigate away; refused");
            }
            allowed
        })
        .build()
}

/// Builds the main window as tauri.conf.json describes it, denying every new window.
pub fn main_window<R: Runtime>(app: &AppHandle<R>) -> anyhow::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .first()
        .ok_or_else(|| anyhow::anyhow!("tauri.conf.json describes no window"))?
        .clone();
    WebviewWindowBuilder::from_config(app, &config)?
        .on_new_window(|url, _| {
            tracing::warn!(%url, "the page tried to open a window; refused");
            NewWindowResponse::Deny
        })
        .build()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apps_own_origins_are_pages() {
        let own = [
            "tauri://localhost/index.html",
            "http://tauri.localhost/",
            "about:blank",
        ];
        for url in own {
            assert!(is_own_page(&Url::parse(url).expect("a URL")), "{url}");
        }
        let foreign = [
            "http://10.200.0.2:8080/",
            "https://tile.openstreetmap.org/1/1/1.png",
            "http://localhost:8080/",
            "tauri://evil.example/",
            "file:///etc/passwd",
            "http://tauri.localhost.evil.example/",
        ];
        for url in foreign {
            assert!(!is_own_page(&Url::parse(url).expect("a URL")), "{url}");
        }
    }
}
