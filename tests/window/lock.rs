//! The idle lock and the lock screen in the real window: after the idle
//! time the core drops the data key and the window shows only the lock
//! screen (no answer, no question, no source page); one click unlocks with
//! the OS keychain; "lock now" locks again. The audit trail records each
//! lock and unlock, and the webview's storage holds no document text.
//!
//! The idle time is 8 seconds through `SILLOK_TEST_IDLE_LOCK_SECS`, which
//! only debug builds read (settings count in minutes). Needs the keychain:
//! run under `installer/with-keyring.sh`, as the test command does.

use std::time::Duration;

use crate::harness::{App, samples, within};
use crate::testid;

const MINUTE: Duration = Duration::from_secs(60);
const IDLE_SECS: u64 = 8;
const ANSWER: &str = "로사르탄 50 mg을 추가했다 [1].";

/// Everything the page shows, and everything in its web storage.
const PAGE_AND_STORAGE: &str = "return [document.body.innerText, JSON.stringify(Object.assign({}, localStorage)), JSON.stringify(Object.assign({}, sessionStorage))];";

async fn page_and_storage(app: &App) -> (String, String, String) {
    let v = app.js(PAGE_AND_STORAGE).await;
    let part = |i: usize| v[i].as_str().unwrap_or_default().to_owned();
    (part(0), part(1), part(2))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_idle_lock_hides_documents_and_the_keychain_unlocks() {
    within(5 * MINUTE, idle_lock_scenario()).await;
}

async fn idle_lock_scenario() {
    let data = tempfile::tempdir().expect("webdriver or file operation");
    let work = tempfile::tempdir().expect("webdriver or file operation");
    let folder = work.path().join("notes");
    std::fs::create_dir_all(&folder).expect("webdriver or file operation");
    std::fs::copy(
        samples().join("patients/note-kim-htn-2024-03.pdf"),
        folder.join("kim.pdf"),
    )
    .expect("webdriver or file operation");
    let idle = IDLE_SECS.to_string();
    let app = App::launch(
        data.path(),
        &[
            ("LANG", "en_US.UTF-8"),
            ("SILLOK_TEST_SCRIPTED_ANSWER", ANSWER),
            ("SILLOK_TEST_IDLE_LOCK_SECS", &idle),
        ],
        &testid("nav-chat"),
    )
    .await;
    app.click("nav-library").await;
    app.type_into("collection-name-input", "notes").await;
    app.type_into("folder-path-input", &folder.display().to_string())
        .await;
    app.click("folder-add").await;
    app.wait_for(&testid("ingest-done"), MINUTE).await;
    app.click("nav-chat").await;
    let question = "김가상 환자에게 재진 때 추가한 혈압약은?";
    app.type_into("question-input", question).await;
    app.click("send").await;
    app.wait_js(
        "document.querySelector('[data-testid=answer]:last-of-type')?.dataset.status === 'answered'",
        MINUTE,
    )
    .await;
    let (shown, _, _) = page_and_storage(&app).await;
    assert!(shown.contains("로사르탄"), "{shown}");

    // Nothing used for the idle time: the core locks, the window follows.
    let waited = app
        .wait_js(
            "document.querySelector('[data-testid=lock-screen]') !== null",
            Duration::from_secs(IDLE_SECS + 30),
        )
        .await;
    println!("lock screen {waited:?} after the answer");
    app.screenshot("lock-01-idle").await;
    let (shown, local, session) = page_and_storage(&app).await;
    for text in ["로사르탄", "김가상", "kim.pdf", question] {
        assert!(
            !shown.contains(text),
            "{text:?} shown while locked: {shown}"
        );
        assert!(
            !local.contains(text) && !session.contains(text),
            "{text:?} in web storage"
        );
    }
    assert!(app.all(&testid("nav-chat")).await.is_empty());

    // One click with the keychain.
    app.click("unlock-keychain").await;
    app.wait_for(&testid("nav-chat"), MINUTE).await;
    assert!(app.all(&testid("lock-screen")).await.is_empty());

    // Lock now, by hand.
    app.click("lock-now").await;
    app.wait_for(&testid("lock-screen"), MINUTE).await;
    app.click("unlock-keychain").await;
    app.wait_for(&testid("nav-chat"), MINUTE).await;
    let (_, local, session) = page_and_storage(&app).await;
    assert_eq!((local.as_str(), session.as_str()), ("{}", "{}"));
    app.close().await;

    let log = std::fs::read_to_string(data.path().join("audit/audit.jsonl"))
        .expect("the audit trail exists");
    let events: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| ["lock", "unlock"].contains(&r["action"].as_str().unwrap_or_default()))
        .map(|r| {
            format!(
                "{}:{}",
                r["action"].as_str().unwrap_or_default(),
                r["objects"]["reason"]
                    .as_str()
                    .or(r["objects"]["method"].as_str())
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            "lock:idle",
            "unlock:keychain",
            "lock:user",
            "unlock:keychain"
        ],
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_keychain_a_passphrase_makes_the_vault_and_opens_it_next_time() {
    within(5 * MINUTE, passphrase_only_scenario()).await;
}

/// No Secret Service on the session bus: the first start offers a
/// passphrase-only vault instead of an error; the next start asks for it.
async fn passphrase_only_scenario() {
    const PASSPHRASE: &str = "correct horse battery staple";
    let data = tempfile::tempdir().expect("webdriver or file operation");
    let env = [
        ("LANG", "en_US.UTF-8"),
        ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
    ];
    let app = App::launch(data.path(), &env, &testid("new-vault")).await;
    assert!(app.all(&testid("unlock-keychain")).await.is_empty());
    app.screenshot("lock-02-no-keychain").await;
    app.type_into("new-vault-passphrase", PASSPHRASE).await;
    app.type_into("new-vault-confirm", "correct horse battery stapler")
        .await;
    app.click("new-vault-submit").await;
    app.wait_js(
        "document.querySelector('[data-testid=new-vault-error]')?.innerText.includes('differ')",
        MINUTE,
    )
    .await;
    app.type_into("new-vault-confirm", PASSPHRASE).await;
    app.click("new-vault-submit").await;
    app.wait_for(&testid("new-vault-recovery-key"), MINUTE)
        .await;
    let key = app
        .js("return document.querySelector('[data-testid=new-vault-recovery-key]').innerText.trim();")
        .await;
    let groups: Vec<&str> = key.as_str().unwrap_or_default().split('-').collect();
    assert_eq!(groups.len(), 9, "{key}");
    app.click("new-vault-recovery-done").await;
    app.wait_for(&testid("nav-chat"), MINUTE).await;
    assert!(app.all(&testid("new-vault-recovery-key")).await.is_empty());
    app.close().await;

    let vault: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.path().join("vault.json")).expect("the vault file exists"),
    )
    .expect("the vault file is JSON");
    let kinds: Vec<&str> = vault["slots"]
        .as_array()
        .map(|slots| slots.iter().filter_map(|s| s["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["passphrase", "recovery-key"], "{vault}");

    // The next start: the passphrase opens it.
    let app = App::launch(data.path(), &env, &testid("unlock-passphrase")).await;
    app.type_into("unlock-passphrase", PASSPHRASE).await;
    app.click("unlock-passphrase-submit").await;
    app.wait_for(&testid("nav-chat"), MINUTE).await;
    app.close().await;
}
