//! The desktop app reaches nothing remote and leaves no copies of patient
//! data. The desktop workflow (launch, add a folder of synthetic canary
//! records, search, ask) runs inside an empty network namespace under
//! `strace -f`, and in it the webview is made to `fetch` remote URLs and load
//! remote images: the CSP must block each (a violation is reported, the fetch
//! rejects, the image errors, a loopback listener sees no request). Then, from
//! the trace: no process (the app, its WebKit processes, the driver, the test
//! itself) connects, binds or sends to a non-loopback address; the app and its
//! descendants wrote only into the redirected HOME/XDG/runtime/TMPDIR
//! directories; and none of those (WebKit's own data and caches included)
//! holds a canary marker outside the data directory's document stores, nor
//! does the app's log.
//!
//! The test runs itself again inside the namespace: the WebDriver client must
//! share the namespace's loopback with tauri-driver. The outer copy sets up
//! the namespace and reads the trace; the inner one drives the window.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{App, one_window, within};
use crate::trace::{
    CANARY_QUESTION, MARKERS, calls, canary_problems, contained, descendants_of,
    non_loopback_network_calls, write_canary_records, written_paths,
};
use crate::{MINUTE, ask, testid, wait_done};

/// Set in the copy of this test that runs inside the namespace.
const INSIDE: &str = "SILLOK_EGRESS_INSIDE";

/// This test's name for `--exact`.
const NAME: &str = "egress::desktop_in_an_empty_network_namespace_reaches_nothing_remote";

/// What the page tries to reach: a documentation-range address (nothing
/// answers there, and in the namespace there is no route to it) and a
/// listener on loopback that would see any request the CSP let through.
const PROBE: &str = r#"
const urls = arguments[0];
const probe = { violations: [], fetches: {}, images: {} };
window.__egress = probe;
document.addEventListener('securitypolicyviolation', (e) => probe.violations.push(e.violatedDirective + ' ' + e.blockedURI));
for (const url of urls) {
  fetch(url).then(() => 'loaded', (e) => 'rejected: ' + e.name).then((r) => { probe.fetches[url] = r; });
  const img = document.createElement('img');
  img.onload = () => { probe.images[url] = 'loaded'; };
  img.onerror = () => { probe.images[url] = 'error'; };
  img.src = url + 'pixel.png';
  document.body.appendChild(img);
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn desktop_in_an_empty_network_namespace_reaches_nothing_remote() {
    if std::env::var_os(INSIDE).is_some() {
        within(6 * MINUTE, inside_scenario()).await;
        return;
    }
    let _window = one_window().await;
    tokio::task::spawn_blocking(contained_run_and_checks)
        .await
        .expect("the contained run");
}

/// The outer copy: sets up the directories and the namespace, runs the inner
/// copy, and reads what it left.
fn contained_run_and_checks() {
    let root = tempfile::tempdir().expect("temporary folder");
    let dir = |name: &str| {
        let path = root.path().join(name);
        std::fs::create_dir_all(&path).expect("folder");
        path
    };
    let (home, runtime, tmp, out) = (dir("home"), dir("runtime"), dir("tmp"), dir("out"));
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("runtime dir");
    let source = root.path().join("source");
    write_canary_records(&source).expect("canary records");

    let started = Instant::now();
    let mut command = contained(
        &out.join("strace.log"),
        420,
        &std::env::current_exe().expect("this test binary"),
    );
    command
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .current_dir(&tmp)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("TMPDIR", &tmp)
        .env("SOURCE", &source)
        .env("OUT", &out)
        .env(INSIDE, "1");
    for passed in [
        "CARGO_TARGET_DIR",
        "SILLOK_APP_BINARY",
        "SILLOK_CHUNK_TOKENIZER",
        "RUST_BACKTRACE",
        // The keychain's session bus (installer/with-keyring.sh): a socket file.
        "DBUS_SESSION_BUS_ADDRESS",
    ] {
        if let Some(value) = std::env::var_os(passed) {
            command.env(passed, value);
        }
    }
    let status = command
        .status()
        .expect("unshare and strace (installer/dev-setup.sh installs them)");
    println!("contained desktop run took {:?}", started.elapsed());
    assert!(
        status.success(),
        "the contained desktop run failed: {status:?}"
    );

    let log = std::fs::read_to_string(out.join("strace.log")).expect("the trace");
    let calls = calls(&log);
    let app = descendants_of(&calls, "/sillok-desktop");
    let programs: Vec<&str> = calls
        .iter()
        .filter(|c| {
            app.contains(&c.pid) && c.text.starts_with("execve(") && c.text.ends_with(" = 0")
        })
        .filter_map(|c| c.text.split('"').nth(1))
        .collect();
    assert!(
        programs.iter().any(|p| p.contains("WebKitWebProcess")),
        "the trace did not follow the app into its web process: {programs:?}"
    );
    println!(
        "trace: {} calls, {} of them by the app's {} processes and threads, which ran {programs:?}",
        calls.len(),
        calls.iter().filter(|c| app.contains(&c.pid)).count(),
        app.len()
    );

    // No process reached for anything but loopback.
    let external = non_loopback_network_calls(&calls);
    assert!(
        external.is_empty(),
        "network calls to non-loopback addresses:\n{external:#?}"
    );

    // The app and its WebKit processes wrote only into the per-user folders.
    let roots = [home.as_path(), runtime.as_path(), tmp.as_path()];
    let written: Vec<PathBuf> = written_paths(&calls, &tmp)
        .into_iter()
        .filter(|(pid, _)| app.contains(pid))
        .map(|(_, path)| path)
        .collect();
    let data = home.join(".local/share/sillok");
    assert!(
        written.iter().any(|p| p.starts_with(&data)),
        "the trace shows no write into the data directory: {written:?}"
    );
    let stray: Vec<&PathBuf> = written
        .iter()
        .filter(|p| {
            !(p.as_path() == Path::new("/dev/null") || roots.iter().any(|r| p.starts_with(r)))
        })
        .collect();
    println!("the app wrote {} files", written.len());
    assert!(
        stray.is_empty(),
        "the app wrote outside its folders: {stray:#?}"
    );

    // No canary marker anywhere the app wrote, WebKit's data included, the
    // plaintext document stores aside; none in the app's log.
    let problems = canary_problems(&roots, &data);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let app_log = std::fs::read_to_string(out.join("app.log")).expect("the app's log");
    for marker in MARKERS {
        assert!(
            !app_log.contains(marker),
            "the app logged {marker}:\n{app_log}"
        );
    }
}

/// The inner copy, in the namespace: the desktop workflow and the CSP probe.
async fn inside_scenario() {
    let var = |name: &str| PathBuf::from(std::env::var_os(name).unwrap_or_default());
    let data = var("XDG_DATA_HOME").join("sillok");
    let (source, out) = (var("SOURCE"), var("OUT"));
    let server = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    server.set_nonblocking(true).expect("non-blocking listener");
    let port = server.local_addr().expect("listener address").port();
    // The debug build's scripted "model" answers with the canary's details,
    // so they pass through the answer stream, the DOM and the conversation.
    let answer = "탁문휘 환자의 진단명은 Quorvanthic nephropathy이다 [1].";
    let app = App::launch(
        &data,
        &[
            ("LANG", "en_US.UTF-8"),
            ("SILLOK_TEST_SCRIPTED_ANSWER", answer),
        ],
        &testid("nav-chat"),
    )
    .await;

    app.click("nav-library").await;
    app.type_into("collection-name-input", "canary").await;
    app.type_into("folder-path-input", &source.display().to_string())
        .await;
    app.click("folder-add").await;
    app.wait_for(&testid("ingest-done"), 2 * MINUTE).await;
    app.type_into("search-input", "Quorvanthic nephropathy")
        .await;
    app.wait_for(&testid("search-hit"), MINUTE).await;

    app.click("nav-chat").await;
    ask(&app, CANARY_QUESTION).await;
    assert_eq!(
        wait_done(&app, MINUTE).await,
        "answered",
        "{}",
        app.log_tail()
    );

    // The page tries to reach out; the CSP must stop every attempt.
    let urls = [
        "http://203.0.113.1/".to_owned(),
        "https://203.0.113.1/".to_owned(),
        format!("http://127.0.0.1:{port}/"),
    ];
    app.client
        .execute(PROBE, vec![serde_json::json!(urls)])
        .await
        .expect("the probe script");
    app.wait_js(
        &format!(
            "window.__egress && Object.keys(window.__egress.fetches).length === {n} && Object.keys(window.__egress.images).length === {n}",
            n = urls.len()
        ),
        Duration::from_secs(30),
    )
    .await;
    let probe = app.js("return window.__egress;").await;
    for url in &urls {
        let fetched = probe["fetches"][url].as_str().unwrap_or_default();
        assert!(fetched.starts_with("rejected"), "fetch {url}: {probe}");
        assert_eq!(probe["images"][url], "error", "image {url}: {probe}");
    }
    let violations = probe["violations"].to_string();
    for directive in ["connect-src", "img-src"] {
        assert!(
            violations.contains(&format!("{directive} http://203.0.113.1")),
            "no {directive} violation reported: {probe}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = std::iter::from_fn(|| server.accept().ok()).count();
    assert_eq!(requests, 0, "the page reached the loopback listener");
    app.screenshot("11-egress-blocked").await;

    std::fs::copy(
        app.logs.path().join("tauri-driver.log"),
        Path::new(&out).join("app.log"),
    )
    .expect("keeping the app's log");
    app.close().await;
}
