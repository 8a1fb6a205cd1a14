//! Running `sillok` in a fresh data directory, and finding the test models.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub const GEMMA: &str = "gemma-3-270m-q4_k_m.gguf";
pub const SMOLLM: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const MINILM: &str = "all-MiniLM-L6-v2.gguf";
pub const CHUNK_TOKENIZER: &str = "chunk-tokenizer.json";

/// The folder holding the fetched model files (`SILLOK_MODEL_FILES`, else
/// `~/.cache/sillok/model-files`). Missing files fail the test: the suite
/// is meant to run with the real models.
pub fn model_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("SILLOK_MODEL_FILES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
        })
        .unwrap_or_default();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run installer/fetch-models.sh (the test command does)",
        path.display()
    );
    path
}

/// Tests that run a model take this lock: two llama.cpp runs on a 2-core
/// machine slow each other tenfold.
pub fn model_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A fresh data directory and a way to run `sillok` against it.
pub struct Sillok {
    pub dir: tempfile::TempDir,
}

impl Sillok {
    pub fn new() -> Self {
        Sillok {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sillok"));
        cmd.env("SILLOK_DATA_DIR", self.dir.path())
            .env("SILLOK_CHUNK_TOKENIZER", model_file(CHUNK_TOKENIZER))
            .env_remove("SILLOK_LOG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run sillok: {e}"))
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sillok {args:?} failed ({:?}):\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and requires the given exit code; returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "sillok {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn import(&self, file: &str) {
        let path = model_file(file);
        self.ok(&["models", "import", path.to_str().unwrap_or_default()]);
    }

    pub fn models_dir(&self) -> PathBuf {
        self.dir.path().join("models")
    }
}

/// The JSON lines a `--json` command printed.
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Copies the tree under `from` into `to`.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
