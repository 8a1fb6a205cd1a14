//! `sillok`: the headless Sillok command. Thin: it parses flags, calls the
//! core, and prints. Exit status: 0 success, 2 a user error (bad input, bad
//! flag, wrong file), 1 an internal failure, 130 cancelled with Ctrl-C.

mod ask;
mod audit;
mod bench;
mod conversations;
mod embeddings;
mod encrypt;
mod eval_answers;
mod generate;
mod library;
mod models;
mod progress;
mod timeline;
mod vault;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sillok_core::models::EngineOptions;
use sillok_core::phi::{MaskedWriter, SharedMasker};
use sillok_core::vault::PASSPHRASE_ENV;
use sillok_core::{DataDir, Sillok};
use zeroize::Zeroizing;

#[derive(Debug, Parser)]
#[command(
    name = "sillok",
    version,
    about = "Private, on-premise document assistant (headless)"
)]
struct Cli {
    /// Data directory (default: $SILLOK_DATA_DIR, else ~/.local/share/sillok).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Answer a question from the library, with verified citations.
    Ask(ask::AskArgs),
    /// Ask questions one per line, with follow-ups; saved as a conversation.
    Chat(conversations::ChatArgs),
    /// Saved conversations.
    #[command(subcommand)]
    Conversations(conversations::ConversationsCommand),
    /// Manage installed models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Generate text from a prompt, streamed.
    Generate(generate::GenerateArgs),
    /// Embed texts with the embedding model (prints dimensions and similarities).
    Embed(generate::EmbedArgs),
    /// Index folders or files into a collection.
    Ingest(library::IngestArgs),
    /// Keep collections indexed as their folders change (until Ctrl-C).
    Watch(watch::WatchArgs),
    /// Manage collections.
    #[command(subcommand)]
    Collections(library::CollectionsCommand),
    /// Library state.
    #[command(subcommand)]
    Library(library::LibraryCommand),
    /// Search the library.
    Search(library::SearchArgs),
    /// Measure retrieval quality.
    #[command(subcommand)]
    Eval(library::EvalCommand),
    /// Measure performance.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The audit trail: verify, export for a privacy review, purge.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The vault holding the key that encrypts the library.
    #[command(subcommand)]
    Vault(vault::VaultCommand),
    /// Decrypt an export made with `--encrypt` (as `age -d` does).
    DecryptExport(encrypt::DecryptArgs),
}

/// Engine settings shared by commands that load a model.
#[derive(Debug, Args)]
struct EngineArgs {
    /// Model name (default: the default model for the role).
    #[arg(long, short)]
    model: Option<String>,
    /// CPU threads (default: leaves a core free on small machines).
    #[arg(long)]
    threads: Option<u32>,
    /// Context length in tokens.
    #[arg(long = "ctx", value_name = "TOKENS")]
    n_ctx: Option<u32>,
    /// Layers to offload to a GPU (GPU builds only).
    #[arg(long, default_value_t = 0)]
    gpu_layers: u32,
}

impl EngineArgs {
    fn options(&self) -> EngineOptions {
        EngineOptions {
            threads: self.threads,
            n_ctx: self.n_ctx,
            n_gpu_layers: self.gpu_layers,
        }
    }
}

/// Why a command failed, for the exit status.
#[derive(Debug)]
enum Failure {
    User(anyhow::Error),
    Internal(anyhow::Error),
    Cancelled,
    /// A check found something wrong (the audit trail fails verification).
    Check(anyhow::Error),
}

impl From<sillok_core::Error> for Failure {
    fn from(e: sillok_core::Error) -> Self {
        if matches!(e, sillok_core::Error::Cancelled) {
            Failure::Cancelled
        } else if e.is_user_error() {
            Failure::User(e.into())
        } else {
            Failure::Internal(e.into())
        }
    }
}

impl From<sillok_core::models::Error> for Failure {
    fn from(e: sillok_core::models::Error) -> Self {
        sillok_core::Error::from(e).into()
    }
}

type CmdResult = Result<(), Failure>;

/// A cancel token that Ctrl-C (or SIGTERM) sets.
fn cancel_on_ctrl_c() -> Result<sillok_core::models::CancelToken, Failure> {
    let cancel = sillok_core::models::CancelToken::default();
    let on_interrupt = cancel.clone();
    ctrlc::set_handler(move || on_interrupt.cancel()).map_err(|e| {
        Failure::Internal(anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
    })?;
    Ok(cancel)
}

fn main() -> ExitCode {
    let passphrase_env = take_passphrase_env();
    let cli = Cli::parse();
    let log_masker = init_logging();
    // Before any key or document is in memory: a crash must not write them
    // to a core file.
    if let Err(e) = sillok_core::disable_core_dumps() {
        tracing::warn!(error = %e, "core dumps stay enabled");
    }
    match run(cli, log_masker, passphrase_env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Cancelled) => {
            eprintln!("cancelled");
            ExitCode::from(130)
        }
        Err(Failure::User(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("internal error: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::Check(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// The passphrase in [`PASSPHRASE_ENV`], removed from the environment so
/// that no child process (the OCR tools) inherits it.
fn take_passphrase_env() -> Option<Zeroizing<String>> {
    let value = std::env::var_os(PASSPHRASE_ENV)?;
    // SAFETY: called first thing in `main`, before any other thread exists,
    // so nothing reads the environment concurrently.
    #[allow(unsafe_code)]
    unsafe {
        std::env::remove_var(PASSPHRASE_ENV);
    }
    value.into_string().ok().map(Zeroizing::new)
}

fn run(cli: Cli, log_masker: SharedMasker, passphrase_env: Option<Zeroizing<String>>) -> CmdResult {
    // Opening an export needs no library, vault or data directory.
    if let Command::DecryptExport(args) = &cli.command {
        return encrypt::decrypt_export(args);
    }
    let data_dir = match cli.data_dir {
        Some(dir) => DataDir::at(dir),
        None => DataDir::resolve()?,
    };
    let mut sillok = Sillok::open(data_dir)?;
    sillok.set_passphrase_source(vault::passphrase_source(passphrase_env));
    mask_logs_with(&sillok, log_masker);
    match cli.command {
        Command::Ask(args) => ask::run(&sillok, &args),
        Command::Chat(args) => conversations::chat(&sillok, &args),
        Command::Conversations(cmd) => conversations::conversations(&sillok, cmd),
        Command::Models(cmd) => models::run(&mut sillok, cmd),
        Command::Generate(args) => generate::run(&sillok, &args),
        Command::Embed(args) => generate::embed(&sillok, &args),
        Command::Ingest(args) => library::ingest(&sillok, &args),
        Command::Watch(args) => watch::run(&sillok, &args),
        Command::Collections(cmd) => library::collections(&sillok, cmd),
        Command::Library(cmd) => library::library(&sillok, cmd),
        Command::Search(args) => library::search(&sillok, &args),
        Command::Eval(cmd) => library::eval(&sillok, cmd),
        Command::Bench(cmd) => bench::run(&sillok, cmd),
        Command::Audit(cmd) => audit::run(&sillok, cmd),
        Command::Vault(cmd) => vault::run(&sillok, cmd),
        Command::DecryptExport(args) => encrypt::decrypt_export(&args),
    }
}

/// Logs go to stderr at `warn` (llama.cpp's and lopdf's own at `error`: their
/// warnings are about the input file, not actionable, and per-file statuses say it) unless `SILLOK_LOG` says
/// otherwise. Document text, prompts and file names are only logged at debug,
/// and every line is PHI-masked (registration numbers, phones, e-mails from
/// the start; MRN patterns and patient names once the data directory is open).
fn init_logging() -> SharedMasker {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SILLOK_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,llama-cpp-2=error,lopdf=error")
    });
    let masker = SharedMasker::default();
    let writer_masker = masker.clone();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || MaskedWriter::new(std::io::stderr(), writer_masker.clone()))
        .init();
    masker
}

/// Masks logs with this data directory's MRN patterns and patient names too.
/// Best effort: without them, logs keep the built-in detectors.
fn mask_logs_with(sillok: &Sillok, masker: SharedMasker) {
    match sillok.log_masker() {
        Ok(full) => masker.set(full),
        Err(e) => tracing::debug!(error = %e, "logs are masked with the built-in detectors only"),
    }
}
