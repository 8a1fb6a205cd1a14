//! The app commands, one module per domain, registered in one place.

pub mod app;
pub mod chat;
pub mod conversations;
pub mod dialogs;
pub mod library;
pub mod models;
pub mod vault;

use crate::error::{AppError, CommandResult};

/// Registers `$module::$command`s and names them, from one list.
macro_rules! app_commands {
    ($($module:ident::$command:ident),* $(,)?) => {
        /// Every registered command's name (build.rs grants the same list).
        #[cfg_attr(not(test), allow(dead_code))]
        pub const NAMES: &[&str] = &[$(stringify!($command)),*];

        /// The invoke handler for every command.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($module::$command),*]
        }
    };
}

app_commands![
    app::app_status,
    app::settings_set,
    models::models_list,
    models::models_import,
    models::models_verify,
    models::models_remove,
    models::models_set_default,
    dialogs::pick_file,
    library::library_overview,
    library::library_files,
    library::library_add_folder,
    library::library_reindex,
    library::library_cancel,
    library::library_set_ocr,
    library::embedding_status,
    library::library_remove,
    library::library_search,
    dialogs::pick_folder,
    library::document_page,
    library::reveal_file,
    chat::ask,
    chat::ask_cancel,
    conversations::conversations_list,
    conversations::conversation_get,
    conversations::conversation_rename,
    conversations::conversation_delete,
    conversations::conversation_export,
    dialogs::save_text_file,
    vault::vault_state,
    vault::vault_locked,
    vault::vault_lock,
    vault::vault_unlock,
    vault::vault_create,
];

/// Runs blocking core work off the async runtime's threads, so the window
/// never waits on an index, a model or a disk.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(AppError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_commands_are_the_ones_build_rs_grants() {
        let mut registered: Vec<&str> = NAMES.to_vec();
        let mut granted: Vec<&str> = env!("SILLOK_APP_COMMANDS").split(',').collect();
        registered.sort_unstable();
        granted.sort_unstable();
        assert_eq!(registered, granted);
    }

    #[test]
    fn the_capability_grants_only_app_commands() {
        let capability: serde_json::Value =
            serde_json::from_str(include_str!("../../capabilities/default.json"))
                .expect("test setup");
        let permissions: Vec<&str> = capability["permissions"]
            .as_array()
            .expect("test setup")
            .iter()
            .map(|p| p.as_str().expect("test setup"))
            .collect();
        assert_eq!(permissions.len(), NAMES.len());
        for permission in permissions {
            let command = permission
                .strip_prefix("allow-")
                .expect("test setup")
                .replace('-', "_");
            assert!(
                NAMES.contains(&command.as_str()),
                "{permission} grants no app command"
            );
        }
        assert_eq!(capability["windows"], serde_json::json!(["main"]));
    }

    #[test]
    fn the_config_has_no_remote_sources_and_no_eval() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("test setup");
        let csp = config["app"]["security"]["csp"]
            .as_str()
            .expect("test setup");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        for forbidden in ["unsafe-eval", "unsafe-inline", "http:", "https:", "*"] {
            let sources = csp.replace("http://ipc.localhost", "");
            assert!(!sources.contains(forbidden), "{forbidden} in {csp}");
        }
        assert_eq!(config["app"]["withGlobalTauri"], false);
    }
}
