//! End-to-end tests of the desktop app in a real WebKitGTK window (Xvfb +
//! tauri-driver + WebKitWebDriver), with the real model, index and files.
//! WebDriver cannot drive GTK file dialogs and Xvfb has no Hangul input
//! method: folders and files are typed into the path fields, and IME
//! composition is dispatched as DOM composition events; everything else goes
//! through the real UI. Screenshots land in `<target>/sillok-screenshots/`.

mod egress;
mod harness;
mod library_ocr;
mod lock;
#[path = "../e2e/trace.rs"]
mod trace;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use harness::{App, model_file, samples, within};

const GEMMA: &str = "gemma-3-270m-q4_k_m";
const MINUTE: Duration = Duration::from_secs(60);

fn testid(id: &str) -> String {
    format!("[data-testid={id}]")
}

/// The newest answer block's `data-status`.
const LAST_STATUS: &str = "(() => { const a = document.querySelectorAll('[data-testid=answer]'); return a.length ? a[a.length - 1].dataset.status : null; })()";

/// A folder with the samples and one broken PDF.
fn library_folder(root: &Path) -> std::path::PathBuf {
    let folder = root.join("library");
    copy_dir(&samples(), &folder);
    std::fs::write(
        folder.join("broken-scan.pdf"),
        b"%PDF-1.7\n1 0 obj << /Type /Catalog",
    )
    .expect("webdriver or file operation");
    folder
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("webdriver or file operation");
    for entry in std::fs::read_dir(from).expect("webdriver or file operation") {
        let entry = entry.expect("webdriver or file operation");
        let target = to.join(entry.file_name());
        if entry
            .file_type()
            .expect("webdriver or file operation")
            .is_dir()
        {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("webdriver or file operation");
        }
    }
}

async fn ask(app: &App, question: &str) -> usize {
    let before = app.all(&testid("answer")).await.len();
    app.type_into("question-input", question).await;
    app.click("send").await;
    app.wait_js(
        &format!("document.querySelectorAll('[data-testid=answer]').length > {before}"),
        Duration::from_secs(10),
    )
    .await;
    before + 1
}

/// The citations shown with the newest answer: chips on its sentences or, when
/// the model's own sentences are unbacked (a small base model), the numbered
/// verbatim evidence.
async fn citations_of_last_answer(app: &App) -> Vec<fantoccini::elements::Element> {
    let answers = app.all(&testid("answer")).await;
    let Some(last) = answers.last() else {
        return Vec::new();
    };
    let css = fantoccini::Locator::Css(
        "[data-testid=citation-chip]:not([disabled]), [data-testid=evidence-source]:not([disabled])",
    );
    let mut shown = Vec::new();
    for element in last.find_all(css).await.unwrap_or_default() {
        if element.is_displayed().await.unwrap_or(false) {
            shown.push(element);
        }
    }
    shown
}

/// Imports the default model by its path (as a user with a USB stick would)
/// and waits until it is loaded.
async fn import_default_model(app: &App) {
    let model = model_file(&format!("{GEMMA}.gguf"));
    app.type_into("model-path-input", &model.display().to_string())
        .await;
    app.click("model-import").await;
    app.wait_js(
        "document.querySelector('[data-testid=model-state]').textContent.trim() === 'ready'",
        2 * MINUTE,
    )
    .await;
}

async fn wait_done(app: &App, timeout: Duration) -> String {
    app.wait_js(
        &format!("{LAST_STATUS} && {LAST_STATUS} !== 'streaming'"),
        timeout,
    )
    .await;
    app.js(&format!("return {LAST_STATUS};"))
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The whole first-run story with the real model: no model → import it → add
/// a folder → ask in Korean and English → open a citation → not found →
/// stop → IME → language switch.
#[tokio::test(flavor = "multi_thread")]
async fn first_run_to_cited_answers_in_a_real_window() {
    within(
        20 * MINUTE,
        first_run_to_cited_answers_in_a_real_window_scenario(),
    )
    .await;
}

async fn first_run_to_cited_answers_in_a_real_window_scenario() {
    let data = tempfile::tempdir().expect("webdriver or file operation");
    let work = tempfile::tempdir().expect("webdriver or file operation");
    let folder = library_folder(work.path());
    let app = App::launch(
        data.path(),
        &[("LANG", "ko_KR.UTF-8")],
        &testid("first-run"),
    )
    .await;
    println!("launch to first screen: {:?}", app.launch_to_ui);
    let state = app.wait_for(&testid("model-state"), MINUTE).await;
    assert_eq!(
        state
            .text()
            .await
            .expect("webdriver or file operation")
            .trim(),
        "none"
    );
    app.screenshot("01-first-run").await;

    // Import the default model from disk, as a user with a USB stick would.
    import_default_model(&app).await;
    app.click("nav-models").await;
    app.wait_for(
        &format!("[data-testid=model-row][data-name='{GEMMA}']"),
        MINUTE,
    )
    .await;
    app.screenshot("02-models").await;

    // Add a folder and watch the progress finish.
    app.click("nav-library").await;
    app.type_into("collection-name-input", "samples").await;
    app.type_into("folder-path-input", &folder.display().to_string())
        .await;
    app.click("folder-add").await;
    app.wait_for(&testid("ingest-done"), 3 * MINUTE).await;
    app.click("collection-row").await;
    let failed = app
        .wait_for("[data-testid=file-row][data-status=failed]", MINUTE)
        .await;
    let reason = failed
        .find(fantoccini::Locator::Css(&testid("file-reason")))
        .await
        .expect("a failed file shows its reason")
        .text()
        .await
        .expect("webdriver or file operation");
    assert!(!reason.trim().is_empty(), "the failure reason is empty");
    let indexed = app
        .all("[data-testid=file-row][data-status=indexed]")
        .await
        .len();
    assert!(indexed >= 20, "only {indexed} sample files indexed");
    app.screenshot("03-library").await;

    // A Korean question, answered with citations.
    app.click("nav-chat").await;
    ask(&app, "김가상 환자에게 재진 때 추가한 혈압약은?").await;
    let status = wait_done(&app, 5 * MINUTE).await;
    app.screenshot("04-answer-ko").await;
    assert_eq!(status, "answered", "{}", app.log_tail());
    let chips = citations_of_last_answer(&app).await;
    assert!(!chips.is_empty(), "the Korean answer shows no citation");

    // Click a citation: the page opens with the cited span highlighted.
    chips[0].click().await.expect("webdriver or file operation");
    let highlight = app.wait_for(&testid("source-highlight"), MINUTE).await;
    let highlighted = highlight.text().await.expect("webdriver or file operation");
    assert!(
        highlighted.chars().count() > 10,
        "highlight too short: {highlighted:?}"
    );
    let path = app
        .wait_for(&testid("source-path"), MINUTE)
        .await
        .text()
        .await
        .expect("webdriver or file operation");
    assert!(path.contains(&*folder.display().to_string()), "{path}");
    app.screenshot("05-source").await;

    // An English question.
    ask(
        &app,
        "What was Jordan Sample's peak expiratory flow at the 2024-02-06 visit?",
    )
    .await;
    let status = wait_done(&app, 5 * MINUTE).await;
    app.screenshot("06-answer-en").await;
    assert_eq!(status, "answered");
    assert!(
        !citations_of_last_answer(&app).await.is_empty(),
        "the English answer shows no citation"
    );

    // Not in the documents: "not found" with the search receipts.
    ask(
        &app,
        "What is the recommended first-line antiretroviral regimen for HIV?",
    )
    .await;
    let status = wait_done(&app, MINUTE).await;
    assert_eq!(status, "not-found");
    app.wait_for(
        &format!("[data-testid=answer]:last-of-type {}", testid("not-found")),
        MINUTE,
    )
    .await;
    app.wait_for(&testid("receipts"), MINUTE).await;
    app.screenshot("07-not-found").await;

    // Stop a long answer: the stop takes effect within a few seconds.
    ask(&app, "김가상 환자의 혈압 목표는?").await;
    app.wait_for(&testid("stop"), Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let clicked = Instant::now();
    app.click("stop").await;
    let status = wait_done(&app, MINUTE).await;
    let took = clicked.elapsed();
    println!("stop took effect after {took:?}");
    assert_eq!(status, "cancelled");
    assert!(took < Duration::from_secs(10), "stop took {took:?}");

    // Hangul IME: Enter while composing must not send; the composed text is sent once.
    let before = app.all(&testid("answer")).await.len();
    app.js(IME_COMPOSE_AND_ENTER).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        app.all(&testid("answer")).await.len(),
        before,
        "Enter during composition sent"
    );
    app.js(IME_COMMIT_AND_ENTER).await;
    app.wait_js(
        &format!(
            "document.querySelectorAll('[data-testid=answer]').length === {}",
            before + 1
        ),
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        app.all(&testid("answer")).await.len(),
        before + 1,
        "sent twice"
    );
    // Esc stops it.
    app.js("document.querySelector('[data-testid=question-input]').dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));").await;
    let status = wait_done(&app, MINUTE).await;
    assert!(
        ["cancelled", "not-found", "answered"].contains(&status.as_str()),
        "{status}"
    );

    // Switch the UI language.
    let nav_text = "return document.querySelector('[data-testid=nav-chat]').textContent.trim();";
    let korean = app.js(nav_text).await.as_str().unwrap_or("").to_owned();
    app.click("nav-settings").await;
    // The settings screen re-renders once its data arrives: retry a stale select.
    let mut selected = false;
    for _ in 0..20 {
        let select = app
            .client
            .find(fantoccini::Locator::Css(&testid("language-select")))
            .await;
        if let Ok(select) = select
            && select.select_by_value("en").await.is_ok()
        {
            selected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(selected, "could not choose English in the language menu");
    app.wait_js(
        &format!("document.querySelector('[data-testid=nav-chat]').textContent !== {korean:?}"),
        Duration::from_secs(10),
    )
    .await;
    let english = app.js(nav_text).await.as_str().unwrap_or("").to_owned();
    assert!(english.contains("Chat"), "{english}");
    assert!(
        korean.chars().any(|c| ('가'..='힣').contains(&c)),
        "{korean}"
    );
    app.screenshot("08-settings-en").await;
    let delays = app
        .js("return window.__sillokMetrics.firstTokenDelaysMs;")
        .await;
    println!("first token on screen after the core sent it (ms): {delays}");
    app.close().await;
}

/// The app's performance figures (run by the heavy check with a release
/// build in `SILLOK_APP_BINARY`; printed, not asserted): launch to a usable
/// window, memory without a model, and the longest frame while 1,000 files
/// are indexed.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: installer/heavy-check.sh runs it"]
async fn bench_app_window() {
    within(40 * MINUTE, bench_app_window_scenario()).await;
}

async fn bench_app_window_scenario() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let folder = work.path().join("many");
    let sources: Vec<std::path::PathBuf> = walk(&samples());
    for i in 0..1000 {
        let source = &sources[i % sources.len()];
        let sub = folder.join(format!("{:02}", i / 50));
        std::fs::create_dir_all(&sub).expect("folder");
        let name = format!(
            "{i:04}-{}",
            source.file_name().and_then(|n| n.to_str()).unwrap_or("f")
        );
        std::fs::copy(source, sub.join(name)).expect("copy");
        // Each copy differs, so none is skipped as a duplicate.
        if source.extension().is_some_and(|e| e == "md" || e == "txt") {
            let mut text = std::fs::read(source).expect("read");
            text.extend_from_slice(format!("\n\n사본 {i}\n").as_bytes());
            std::fs::write(sub.join(format!("{i:04}-copy.md")), text).expect("write");
        }
    }
    let app = App::launch(
        data.path(),
        &[("LANG", "ko_KR.UTF-8")],
        &testid("first-run"),
    )
    .await;
    println!("launch to usable window: {:?}", app.launch_to_ui);
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let Some((rss, pss)) = harness::app_memory_mib() {
        println!(
            "memory without a model: app RSS {rss:.0} MiB; app + WebKit processes PSS {pss:.0} MiB"
        );
    }
    app.click("nav-library").await;
    app.type_into("collection-name-input", "many").await;
    app.type_into("folder-path-input", &folder.display().to_string())
        .await;
    app.js(FRAME_PROBE).await;
    let started = Instant::now();
    app.click("folder-add").await;
    app.wait_for(&testid("ingest-done"), 30 * MINUTE).await;
    let took = started.elapsed();
    let frames = app.js("window.__probe.stop = true; return [window.__probe.frames, window.__probe.longest, window.__probe.over100];").await;
    println!(
        "indexing {} files took {took:?}; frames, longest frame (ms), frames over 100 ms: {frames}",
        walk(&folder).len()
    );
    app.screenshot("10-bench-library").await;

    // The first token's way from the core to the screen, with the real model.
    app.click("nav-models").await;
    import_default_model(&app).await;
    app.click("nav-chat").await;
    for question in [
        "김가상 환자에게 재진 때 추가한 혈압약은?",
        "김가상 환자의 혈압 목표는?",
    ] {
        ask(&app, question).await;
        wait_done(&app, 5 * MINUTE).await;
    }
    let delays = app
        .js("return window.__sillokMetrics.firstTokenDelaysMs;")
        .await;
    println!("first token on screen after the core sent it (ms): {delays}");
    app.close().await;
}

/// Records the gap between animation frames until `__probe.stop` is set.
const FRAME_PROBE: &str = r#"
window.__probe = { frames: 0, longest: 0, over100: 0, stop: false, last: performance.now() };
const tick = (now) => {
  const p = window.__probe;
  const gap = now - p.last;
  p.last = now; p.frames += 1; p.longest = Math.max(p.longest, gap); if (gap > 100) p.over100 += 1;
  if (!p.stop) requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"#;

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

const IME_COMPOSE_AND_ENTER: &str = r#"
const box = document.querySelector('[data-testid=question-input]');
box.focus();
box.value = '';
box.dispatchEvent(new CompositionEvent('compositionstart', {data: '', bubbles: true}));
box.value = '혈압';
box.dispatchEvent(new CompositionEvent('compositionupdate', {data: '혈압', bubbles: true}));
box.dispatchEvent(new InputEvent('input', {data: '혈압', isComposing: true, bubbles: true}));
box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', isComposing: true, keyCode: 229, bubbles: true, cancelable: true}));
"#;

const IME_COMMIT_AND_ENTER: &str = r#"
const box = document.querySelector('[data-testid=question-input]');
box.dispatchEvent(new CompositionEvent('compositionend', {data: '혈압', bubbles: true}));
box.dispatchEvent(new InputEvent('input', {data: '혈압', bubbles: true}));
box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', keyCode: 13, bubbles: true, cancelable: true}));
"#;

/// A model that writes markup must not run or load anything: the debug build
/// replays a scripted answer (`SILLOK_TEST_SCRIPTED_ANSWER`) with a script
/// tag and an image from a local server that counts requests.
#[tokio::test(flavor = "multi_thread")]
async fn model_markup_renders_inert() {
    within(5 * MINUTE, model_markup_renders_inert_scenario()).await;
}

async fn model_markup_renders_inert_scenario() {
    let server = TcpListener::bind("127.0.0.1:0").expect("webdriver or file operation");
    let port = server
        .local_addr()
        .expect("webdriver or file operation")
        .port();
    server
        .set_nonblocking(true)
        .expect("webdriver or file operation");
    let hostile = format!(
        "로사르탄 50 mg을 추가했다 [1]. <script>window.__pwned = 1</script><img src=\"http://127.0.0.1:{port}/x.png\" onerror=\"window.__pwned = 2\"> **끝**"
    );
    let data = tempfile::tempdir().expect("webdriver or file operation");
    let work = tempfile::tempdir().expect("webdriver or file operation");
    let folder = work.path().join("notes");
    std::fs::create_dir_all(&folder).expect("webdriver or file operation");
    std::fs::copy(
        samples().join("patients/note-kim-htn-2024-03.pdf"),
        folder.join("kim.pdf"),
    )
    .expect("webdriver or file operation");
    let app = App::launch(
        data.path(),
        &[
            ("LANG", "en_US.UTF-8"),
            ("SILLOK_TEST_SCRIPTED_ANSWER", &hostile),
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
    ask(&app, "김가상 환자에게 재진 때 추가한 혈압약은?").await;
    let status = wait_done(&app, MINUTE).await;
    assert_eq!(status, "answered");
    app.screenshot("09-markup-inert").await;
    let injected = app
        .js("return [window.__pwned === undefined, document.querySelectorAll('img[src^=\"http\"]').length, Array.from(document.scripts).filter(s => !s.src).length];")
        .await;
    assert_eq!(
        injected,
        serde_json::json!([true, 0, 0]),
        "markup came alive"
    );
    // Anything the page tried to load from the server would be waiting to be accepted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let remote_requests = std::iter::from_fn(|| server.accept().ok()).count();
    assert_eq!(remote_requests, 0, "the window requested a remote image");
    app.close().await;
}

/// First run to a usable window of the app in `SILLOK_APP_BINARY` (the files
/// of the built .deb: installer/first-window-time.sh); printed, not asserted.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement: installer/first-window-time.sh runs it"]
async fn first_run_window_of_the_package() {
    within(5 * MINUTE, async {
        let data = tempfile::tempdir().expect("data dir");
        let app = App::launch(data.path(), &[], &testid("first-run")).await;
        println!("launch to usable window: {:?}", app.launch_to_ui);
    })
    .await;
}
