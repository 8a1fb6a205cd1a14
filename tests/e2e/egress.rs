//! Zero egress and no stray copies of patient data, proven on the real CLI
//! workflow: `models import` → `ingest` (the sample library plus synthetic
//! canary records) → `search` → `ask` (the real default model) →
//! `conversations export`, run once inside an empty network namespace
//! (loopback only) and under `strace -f` together, to keep CI time down.
//!
//! Three checks on that one run:
//! - the namespace held nothing but `lo`, and every step succeeded there;
//! - the trace shows no `connect`/`bind`/`sendto`/`sendmsg`/`sendmmsg` to an
//!   AF_INET/AF_INET6 address other than loopback, from any process (AF_UNIX
//!   and netlink are local and allowed);
//! - every file the workflow wrote lies in the redirected HOME, XDG, runtime,
//!   TMPDIR and working directories, and none of them holds a canary marker
//!   outside the data directory's document stores (skipped while they are
//!   plaintext: see `DOCUMENT_STORES_ENCRYPTED` in `trace.rs`); the logs
//!   (stderr at the default level) hold none either.
//!
//! The trace parser and the marker search live in `trace.rs`, with unit
//! tests showing they catch an external connect and a stray copy.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::trace::{
    CANARY_QUESTION, MARKERS, calls, canary_problems, contained, non_loopback_network_calls,
    write_canary_records, written_paths,
};
use crate::util::{
    CHUNK_TOKENIZER, GEMMA, TestResult, copy_dir, json_lines, model_file, model_lock,
};

/// The workflow, run by `sh` under strace inside the namespace. Each step's
/// stdout and stderr land in `$OUT`; the first failure stops the run.
const WORKFLOW: &str = r#"set -u
step() {
  name=$1; shift
  "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" || { echo "step $name failed with status $?" >&2; exit 1; }
}
step links ip -o link show
step import "$SILLOK" models import "$MODEL"
step ingest "$SILLOK" ingest "$SOURCE" -c records
step search "$SILLOK" search "Quorvanthic nephropathy" -k 5 --json
step ask "$SILLOK" ask "$QUESTION" --max-tokens 16 --json
id=$(sed -n 's/.*"event":"conversation","id":\([0-9][0-9]*\).*/\1/p' "$OUT/ask.out")
step export "$SILLOK" conversations export "$id" --reason "zero-egress test" -o "$EXPORTS/conversation.md"
"#;

/// The folders of one contained run.
struct Run {
    _root: tempfile::TempDir,
    /// HOME; XDG config, cache, data and state dirs are under it, so the
    /// data directory is the default one (`$XDG_DATA_HOME/sillok`).
    home: PathBuf,
    runtime: PathBuf,
    tmp: PathBuf,
    /// The working directory of every step.
    work: PathBuf,
    /// The documents (the user's own folder).
    source: PathBuf,
    /// Where the user asked the export to go.
    exports: PathBuf,
    /// The test's own files: the workflow script, the trace, each step's output.
    out: PathBuf,
    data: PathBuf,
    status: std::process::ExitStatus,
    took: std::time::Duration,
}

impl Run {
    fn step(&self, name: &str, stream: &str) -> String {
        std::fs::read_to_string(self.out.join(format!("{name}.{stream}"))).unwrap_or_default()
    }

    /// Every step's stdout and stderr, for failure messages.
    fn transcript(&self) -> String {
        let mut text = String::new();
        for name in ["links", "import", "ingest", "search", "ask", "export"] {
            for stream in ["out", "err"] {
                let body = self.step(name, stream);
                if !body.is_empty() {
                    text.push_str(&format!("--- {name}.{stream}\n{body}\n"));
                }
            }
        }
        text
    }

    /// The roots the app may write to; all are searched for the markers
    /// (except the document stores while they are plaintext).
    fn app_roots(&self) -> [&Path; 4] {
        [&self.home, &self.runtime, &self.tmp, &self.work]
    }
}

fn mkdir(path: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// Runs the workflow once, contained, with every per-user directory
/// redirected into a fresh temporary tree and a clean environment.
fn contained_run() -> Run {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let home = mkdir(root.path().join("home"));
    let runtime = mkdir(root.path().join("runtime"));
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap_or_else(|e| panic!("runtime dir: {e}"));
    let tmp = mkdir(root.path().join("tmp"));
    let work = mkdir(root.path().join("work"));
    let exports = mkdir(root.path().join("exports"));
    let out = mkdir(root.path().join("out"));
    let source = root.path().join("source");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/library"),
        &source.join("samples"),
    )
    .unwrap_or_else(|e| panic!("copying the samples: {e}"));
    write_canary_records(&source.join("canary")).unwrap_or_else(|e| panic!("canary records: {e}"));
    std::fs::write(out.join("workflow.sh"), WORKFLOW).unwrap_or_else(|e| panic!("script: {e}"));

    let started = Instant::now();
    let mut command = contained(&out.join("strace.log"), 600, Path::new("sh"));
    command
        .arg(out.join("workflow.sh"))
        .current_dir(&work)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("TMPDIR", &tmp)
        .env("SILLOK_CHUNK_TOKENIZER", model_file(CHUNK_TOKENIZER))
        .env("SILLOK", env!("CARGO_BIN_EXE_sillok"))
        .env("MODEL", model_file(GEMMA))
        .env("SOURCE", &source)
        .env("EXPORTS", &exports)
        .env("OUT", &out)
        .env("QUESTION", CANARY_QUESTION);
    // The keychain's session bus (installer/with-keyring.sh) is a socket
    // file: AF_UNIX, reachable from inside the namespace.
    if let Some(bus) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        command.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    let status = command.status().unwrap_or_else(|e| {
        panic!("cannot run timeout/unshare/strace: {e} (installer/dev-setup.sh installs them)")
    });
    Run {
        data: home.join(".local/share/sillok"),
        _root: root,
        home,
        runtime,
        tmp,
        work,
        source,
        exports,
        out,
        status,
        took: started.elapsed(),
    }
}

#[test]
fn cli_workflow_in_an_empty_network_namespace_makes_no_connection_and_leaves_no_copies()
-> TestResult {
    let _model = model_lock();
    let run = contained_run();
    println!("contained workflow took {:?}", run.took);
    assert!(
        run.status.success(),
        "the contained workflow failed ({:?}):\n{}",
        run.status,
        run.transcript()
    );

    // 1. The namespace was empty: loopback alone, and the workflow passed in it.
    let links: Vec<String> = run
        .step("links", "out")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0].starts_with("1: lo:"), "{links:?}");
    let search = json_lines(&run.step("search", "out"))
        .pop()
        .unwrap_or_default();
    let hits = &search["hits"];
    let first = hits[0]["path"].as_str().unwrap_or_default();
    assert!(first.contains("canary"), "search: {hits}");
    let answer = json_lines(&run.step("ask", "out"))
        .into_iter()
        .find(|v| v["event"] == "answer")
        .map(|v| v["answer"].clone())
        .unwrap_or_default();
    assert_eq!(answer["status"], "answered", "{}", run.transcript());
    assert_eq!(answer["model"]["name"], "gemma-3-270m-q4_k_m");
    let export = std::fs::read_to_string(run.exports.join("conversation.md"))?;
    assert!(export.contains(CANARY_QUESTION), "{export}");

    // 2. No socket to anything but loopback, from any process.
    let log = std::fs::read_to_string(run.out.join("strace.log"))?;
    assert!(
        log.contains("socket(AF_NETLINK"),
        "the trace missed the control step's netlink socket: is strace following children?"
    );
    let calls = calls(&log);
    let external = non_loopback_network_calls(&calls);
    assert!(
        external.is_empty(),
        "network calls to non-loopback addresses:\n{external:#?}"
    );

    // 3. Every file written lies in a directory the canary scan searches.
    let written: Vec<PathBuf> = written_paths(&calls, &run.work)
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    assert!(
        written.iter().any(|p| p.starts_with(&run.data)),
        "the trace shows no write into the data directory: {written:?}"
    );
    let allowed = |p: &Path| {
        p == Path::new("/dev/null")
            || run.app_roots().iter().any(|r| p.starts_with(r))
            || p.starts_with(&run.out)
            || p.starts_with(&run.exports)
    };
    let stray: Vec<_> = written.iter().filter(|p| !allowed(p)).collect();
    assert!(
        stray.is_empty(),
        "written outside the app's directories: {stray:?}"
    );

    // 4. The canary markers: nowhere the app wrote, the document stores aside
    //    while they are plaintext; nowhere in the logs.
    let problems = canary_problems(&run.app_roots(), &run.data);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for name in ["import", "ingest", "search", "ask", "export"] {
        let err = run.step(name, "err");
        for marker in MARKERS {
            assert!(!err.contains(marker), "{name} logged {marker}: {err}");
        }
    }
    // The markers did flow through the whole workflow, into the export.
    assert!(export.contains("탁문휘"), "{export}");
    assert!(run.source.join("canary").is_dir());
    Ok(())
}
