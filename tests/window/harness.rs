//! Runs the real app binary in a real WebKitGTK window: its own Xvfb display,
//! tauri-driver (which starts WebKitWebDriver and the app), and a fantoccini
//! WebDriver session. Everything is torn down when the `App` drops.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// The app under test: `SILLOK_APP_BINARY` (a release build, for the
/// benchmark), else the one cargo built for this test run.
pub fn app_binary() -> PathBuf {
    std::env::var_os("SILLOK_APP_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sillok-desktop")))
}

/// Resident memory of the app process alone and proportional memory (PSS) of
/// the app with its WebKit helpers, in MiB, from `/proc/*/smaps_rollup`.
pub fn app_memory_mib() -> Option<(f64, f64)> {
    let binary = app_binary().canonicalize().ok()?;
    let app = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&binary)
        })?;
    let rollup = |pid: u32, key: &str| -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let children = |pid: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect()
    };
    let mut tree = vec![app];
    let mut at = 0;
    while at < tree.len() {
        let more = children(tree[at]);
        tree.extend(more);
        at += 1;
    }
    let pss = tree.iter().map(|pid| rollup(*pid, "Pss:")).sum();
    Some((rollup(app, "Rss:"), pss))
}

/// A model file fetched by installer/fetch-models.sh.
pub fn model_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("SILLOK_MODEL_FILES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
        })
        .expect("SILLOK_MODEL_FILES or HOME");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run installer/dev-setup.sh",
        path.display()
    );
    path
}

/// The repository's sample library.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/library")
}

/// Where screenshots go: `<target>/sillok-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("sillok-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A process group, SIGTERMed on drop (SIGKILL leaves WebKitWebDriver holding
/// its output open and the run hangs: docs/tauri-feasibility.md).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = self.0.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.0.wait();
    }
}

fn spawn_group(command: &mut Command, log: &Path) -> Group {
    let log = std::fs::File::create(log).expect("log file");
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {command:?}: {e} (installer/dev-setup.sh installs it)")
        });
    Group(child)
}

/// A display of its own, so tests never need a desktop session.
struct Display {
    _xvfb: Group,
    name: String,
}

impl Display {
    /// Starts Xvfb on a free display it picks itself; `-displayfd` reports the
    /// number only once the server accepts clients (a socket file left by an
    /// earlier server would not prove that).
    fn start(logs: &Path) -> Display {
        use std::io::BufRead;
        let log = std::fs::File::create(logs.join("xvfb.log")).expect("log file");
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start Xvfb: {e} (installer/dev-setup.sh installs it)")
            });
        let stdout = child.stdout.take().expect("Xvfb's stdout");
        let xvfb = Group(child);
        let mut number = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut number)
            .expect("Xvfb reports its display");
        let number = number.trim();
        assert!(!number.is_empty(), "Xvfb did not start: see its log");
        Display {
            _xvfb: xvfb,
            name: format!(":{number}"),
        }
    }
}

/// Runs a window scenario with an overall limit: a WebDriver call into a hung
/// webview never returns, and a hung test must fail, not stall CI. Dropping
/// the scenario drops its `App`, which stops the driver, app and display.
pub async fn within<T>(limit: Duration, scenario: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(limit, scenario).await {
        Ok(value) => value,
        Err(_) => panic!("the window scenario did not finish within {limit:?}"),
    }
}

/// Polls `ready` every 50 ms until it holds; panics after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One window at a time: two apps with models on 2 cores slow each other
/// tenfold, and each test's display number comes from the process id.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the one-window turn without opening a window here: for a test that
/// opens its window in another process (the contained egress test).
pub async fn one_window() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_WINDOW.lock().await
}

/// The app in its window, driven over WebDriver.
pub struct App {
    /// The WebDriver session.
    pub client: Client,
    /// Launch (session request) to the first UI element, measured.
    pub launch_to_ui: Duration,
    _driver: Group,
    _display: Display,
    /// Logs of Xvfb and tauri-driver (the app's stderr included).
    pub logs: tempfile::TempDir,
    _exclusive: tokio::sync::MutexGuard<'static, ()>,
}

/// Starts tauri-driver (which starts WebKitWebDriver, which starts the app)
/// on `display`; returns it and its port once it listens.
fn start_driver(
    display: &Display,
    data_dir: &Path,
    env: &[(&str, &str)],
    logs: &Path,
) -> (Group, u16) {
    let port = free_port();
    let native_port = free_port();
    let mut command = Command::new("tauri-driver");
    command
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("DISPLAY", &display.name)
        .env("SILLOK_DATA_DIR", data_dir)
        .env_remove("WAYLAND_DISPLAY");
    for (key, value) in env {
        command.env(key, value);
    }
    let driver = spawn_group(&mut command, &logs.join("tauri-driver.log"));
    wait_until(Duration::from_secs(15), "tauri-driver to listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (driver, port)
}

impl App {
    /// Starts the app over `data_dir` with `env` added, and waits for `ready_css`.
    pub async fn launch(data_dir: &Path, env: &[(&str, &str)], ready_css: &str) -> App {
        let exclusive = ONE_WINDOW.lock().await;
        // A session that fails to start (the driver dropped the request) is
        // retried once on a fresh display and driver; the second failure counts.
        let mut failure = String::new();
        for _attempt in 0..2 {
            let logs = tempfile::tempdir().expect("log folder");
            let display = Display::start(logs.path());
            let (driver, port) = start_driver(&display, data_dir, env, logs.path());
            let mut caps = serde_json::Map::new();
            caps.insert(
                "tauri:options".into(),
                serde_json::json!({ "application": app_binary() }),
            );
            let started = Instant::now();
            let session = ClientBuilder::native()
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            let client = match session {
                Ok(client) => client,
                Err(e) => {
                    let log = std::fs::read_to_string(logs.path().join("tauri-driver.log"))
                        .unwrap_or_default();
                    failure = format!("{e}\n{log}");
                    eprintln!("the WebDriver session did not start, retrying: {failure}");
                    continue;
                }
            };
            let app = App {
                client,
                launch_to_ui: Duration::ZERO,
                _driver: driver,
                _display: display,
                logs,
                _exclusive: exclusive,
            };
            app.wait_for(ready_css, Duration::from_secs(30)).await;
            return App {
                launch_to_ui: started.elapsed(),
                ..app
            };
        }
        panic!("no WebDriver session with the app: {failure}");
    }

    /// The element matching `css`, waiting up to `timeout` for it to appear.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let start = Instant::now();
        loop {
            let found = self
                .client
                .wait()
                .at_most(timeout.saturating_sub(start.elapsed()))
                .every(Duration::from_millis(50))
                .for_element(Locator::Css(css))
                .await;
            match found {
                Ok(element) => return element,
                // A lookup racing a re-render fails with another error than a timeout: retry.
                Err(_) if start.elapsed() < timeout => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    self.screenshot(&format!(
                        "failed-{}",
                        css.replace(|c: char| !c.is_alphanumeric(), "_")
                    ))
                    .await;
                    panic!(
                        "{css} did not appear within {timeout:?}: {e}\n{}",
                        self.log_tail()
                    );
                }
            }
        }
    }

    /// Elements matching `css` now.
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
    }

    /// Clicks the element with `data-testid`. Screens re-render when their
    /// data arrives, so a click on an element replaced meanwhile is retried.
    pub async fn click(&self, testid: &str) {
        let css = format!("[data-testid={testid}]");
        let mut last = String::new();
        for _ in 0..50 {
            let element = self.wait_for(&css, Duration::from_secs(10)).await;
            match element.click().await {
                Ok(()) => return,
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("click {testid}: {last}");
    }

    /// Types into the input with `data-testid`, replacing its value (retried
    /// like [`App::click`]).
    pub async fn type_into(&self, testid: &str, text: &str) {
        let css = format!("[data-testid={testid}]");
        let mut last = String::new();
        for _ in 0..50 {
            let element = self.wait_for(&css, Duration::from_secs(10)).await;
            match element.clear().await {
                Ok(()) => match element.send_keys(text).await {
                    Ok(()) => return,
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("type into {testid}: {last}");
    }

    /// Runs `script` in the page and returns its value.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits until `script` (an expression) is truthy in the page.
    pub async fn wait_js(&self, script: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let value = self.js(&format!("return !!({script});")).await;
            if value == serde_json::Value::Bool(true) {
                return start.elapsed();
            }
            if start.elapsed() > timeout {
                self.screenshot("failed-wait").await;
                panic!(
                    "timed out after {timeout:?} waiting for {script}\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a screenshot of the window as `<name>.png` in the screenshot folder.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(screenshot_dir().join(format!("{name}.png")), png);
        }
    }

    /// The last lines of tauri-driver's log (the app's stderr is in it).
    pub fn log_tail(&self) -> String {
        let text =
            std::fs::read_to_string(self.logs.path().join("tauri-driver.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Ends the session (the drop then stops driver and display).
    pub async fn close(self) {
        let App { client, .. } = self;
        let _ = client.close().await;
    }
}
