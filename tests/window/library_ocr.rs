//! The OCR switch of a collection in the real window: turned off, a scan
//! added later stays awaiting OCR, and the switch is still off after the app
//! restarts; turned on again, the next re-index reads the scan and the file
//! shows what OCR read.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{App, samples, within};
use crate::testid;

const MINUTE: Duration = Duration::from_secs(60);
const TOGGLE: &str = "[data-testid=collection-ocr-toggle][data-name=faxes]";

/// Off, then a restart, then on again. (A re-index clicked while the switch
/// was still being stored once raced it and ran with OCR off: the row's
/// buttons now wait for the stored state.)
#[tokio::test(flavor = "multi_thread")]
async fn the_ocr_switch_holds_across_a_restart_and_on_again_reads_the_scan() {
    within(10 * MINUTE, the_ocr_switch_scenario()).await;
}

/// A page of a sample PDF as a scanned picture (no text layer).
fn scan_of_sample(out_without_extension: &Path) {
    let status = Command::new("pdftoppm")
        .args([
            "-png",
            "-r",
            "150",
            "-gray",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
        ])
        .arg(samples().join("patients/note-kim-htn-2024-03.pdf"))
        .arg(out_without_extension)
        .status()
        .expect("pdftoppm (installer/dev-setup.sh installs poppler-utils)");
    assert!(status.success(), "pdftoppm failed: {status}");
}

async fn switch_is_on(app: &App) -> bool {
    app.wait_for(TOGGLE, MINUTE).await;
    app.js(&format!(
        "return document.querySelector({TOGGLE:?}).checked;"
    ))
    .await
    .as_bool()
    .expect("the switch is a checkbox")
}

/// Opens the library with the collection's files listed.
async fn open_faxes(app: &App) {
    app.click("nav-library").await;
    app.wait_for("[data-testid=collection-row][data-name=faxes]", MINUTE)
        .await;
    app.js("document.querySelector('[data-testid=collection-row][data-name=faxes] .collection-open').click();")
        .await;
    app.wait_for(&testid("file-row"), MINUTE).await;
}

async fn the_ocr_switch_scenario() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let folder = work.path().join("faxes");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(
        samples().join("patients/note-jung-penicillin-allergy-2023-11.txt"),
        folder.join("note.txt"),
    )
    .expect("copy a sample");
    let env = [("LANG", "en_US.UTF-8")];

    let app = App::launch(data.path(), &env, &testid("nav-chat")).await;
    app.click("nav-library").await;
    app.type_into("collection-name-input", "faxes").await;
    app.type_into("folder-path-input", &folder.display().to_string())
        .await;
    app.click("folder-add").await;
    app.wait_for(&testid("ingest-done"), 2 * MINUTE).await;
    assert!(
        switch_is_on(&app).await,
        "OCR starts on for a new collection"
    );

    // Off: the shell stores it and the row says so.
    app.click("collection-ocr-toggle").await;
    app.wait_js(
        &format!(
            "!document.querySelector({TOGGLE:?}).checked && document.querySelector('[data-testid=collection-row][data-name=faxes]').textContent.includes('OCR off')"
        ),
        MINUTE,
    )
    .await;

    // A scan added now stays awaiting OCR on re-index.
    scan_of_sample(&folder.join("scan"));
    open_faxes(&app).await;
    app.click("collection-reindex").await;
    app.wait_for(
        "[data-testid=file-row][data-status=needs-ocr][data-path$='scan.png']",
        2 * MINUTE,
    )
    .await;
    app.screenshot("11-ocr-off").await;
    app.close().await;

    // The switch is still off after a restart.
    let app = App::launch(data.path(), &env, &testid("nav-chat")).await;
    open_faxes(&app).await;
    assert!(
        !switch_is_on(&app).await,
        "OCR came back on after a restart"
    );
    app.wait_for(
        "[data-testid=file-row][data-status=needs-ocr][data-path$='scan.png']",
        MINUTE,
    )
    .await;

    // On again: the next re-index reads the scan, and the file shows it.
    app.click("collection-ocr-toggle").await;
    app.wait_js(
        &format!(
            "document.querySelector({TOGGLE:?}).checked && !document.querySelector('[data-testid=collection-row][data-name=faxes]').textContent.includes('OCR off')"
        ),
        MINUTE,
    )
    .await;
    app.click("collection-reindex").await;
    let read = app
        .wait_for(
            "[data-testid=file-row][data-status=indexed][data-path$='scan.png'] [data-testid=file-ocr]",
            3 * MINUTE,
        )
        .await
        .text()
        .await
        .expect("the OCR line");
    assert!(read.contains("mean confidence"), "{read}");
    app.screenshot("12-ocr-read").await;
    app.close().await;
}
