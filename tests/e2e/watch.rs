//! `sillok watch`: folder changes reach search within a bound users feel.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::{Sillok, TestResult, json_lines};

/// Generous bound on change → searchable (debounce 700 ms + ingest + commit).
const BOUND: Duration = Duration::from_secs(10);

fn hits(sillok: &Sillok, query: &str) -> usize {
    json_lines(&sillok.ok(&["search", query, "--json"]))
        .pop()
        .and_then(|v| v["hits"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Polls search from a second process until `query` has `want` hits.
fn wait_for(sillok: &Sillok, query: &str, want: usize) -> Result<Duration, String> {
    let start = Instant::now();
    while start.elapsed() < BOUND {
        if hits(sillok, query) == want {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    Err(format!(
        "{query:?} did not reach {want} hits within {BOUND:?}"
    ))
}

fn interrupt(child: &Child) -> TestResult {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    Ok(())
}

#[test]
fn watched_folders_reach_search_within_seconds_and_ctrl_c_stops() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    let root = dir.path().to_str().ok_or("path")?;
    fs::write(
        dir.path().join("old.txt"),
        "Hydrochlorothiazide 12.5 mg daily.",
    )?;
    sillok.ok(&["ingest", root, "--collection", "w"]);

    let mut child = sillok
        .command()
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The initial pass comes first, then "watching".
    loop {
        let line = lines
            .recv_timeout(BOUND)
            .map_err(|_| "watch never started")?;
        if line.contains("\"watching\"") {
            break;
        }
    }

    // The watcher holds the writer: another writer is refused, search works.
    let err = sillok.fails(2, &["ingest", root, "--collection", "w"]);
    assert!(err.contains("library in use by process"), "{err}");

    fs::create_dir(dir.path().join("new"))?;
    fs::write(
        dir.path().join("new/가.txt"),
        "고혈압 환자: montelukast 10 mg.",
    )?;
    let added = wait_for(&sillok, "montelukast", 1)?;
    fs::remove_file(dir.path().join("old.txt"))?;
    let removed = wait_for(&sillok, "hydrochlorothiazide", 0)?;
    eprintln!("watch: added searchable after {added:?}, removal after {removed:?}");
    assert_eq!(hits(&sillok, "혈압"), 1);

    interrupt(&child)?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        assert!(start.elapsed() < BOUND, "watch did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The lock is released: ingestion works again.
    sillok.ok(&["ingest", root, "--collection", "w"]);
    Ok(())
}
