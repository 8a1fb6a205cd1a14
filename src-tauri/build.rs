//! Generates the permissions of the app commands (and nothing else), and
//! refuses to build when the capability file does not grant exactly them.

/// Every app command. `src/commands/mod.rs` registers the same list (a unit
/// test compares them); `capabilities/default.json` must allow each.
const COMMANDS: &[&str] = &[
    "app_status",
    "settings_set",
    "models_list",
    "models_import",
    "models_verify",
    "models_remove",
    "models_set_default",
    "pick_file",
    "library_overview",
    "library_files",
    "library_add_folder",
    "library_reindex",
    "library_cancel",
    "library_set_ocr",
    "embedding_status",
    "library_remove",
    "library_search",
    "pick_folder",
    "document_page",
    "reveal_file",
    "ask",
    "ask_cancel",
    "conversations_list",
    "conversation_get",
    "conversation_rename",
    "conversation_delete",
    "conversation_export",
    "save_text_file",
    "vault_state",
    "vault_locked",
    "vault_lock",
    "vault_unlock",
    "vault_create",
];

fn main() {
    let dist = std::path::Path::new("../ui/dist/index.html");
    if !dist.is_file() {
        panic!(
            "ui/dist is missing: build the web UI first (`npm ci && npm run build` in ui/; installer/dev-setup.sh does it)"
        );
    }
    check_capability();
    println!("cargo:rustc-env=SILLOK_APP_COMMANDS={}", COMMANDS.join(","));
    if let Err(e) = tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    ) {
        panic!("tauri-build failed: {e:#}");
    }
}

fn check_capability() {
    let path = "capabilities/default.json";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut granted: Vec<String> = json["permissions"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no permissions array"))
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect();
    let mut wanted: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    granted.sort();
    wanted.sort();
    if granted != wanted {
        panic!(
            "{path} must grant exactly the app commands: it grants {granted:?}, the app has {wanted:?}"
        );
    }
}
