fn main() {
    // The configuration lives at the repository root; `src-tauri/tauri.conf.json` is a symlink
    // to it, so the paths inside are relative to this directory for cargo and the Tauri CLI alike.
    tauri_build::build();
}
