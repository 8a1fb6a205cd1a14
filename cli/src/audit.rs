//! `sillok audit verify | export | purge`: the audit trail (the core keeps it;
//! this only prints).

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;
use sillok_core::Sillok;

use crate::encrypt::{EncryptArgs, sealed, write_out};
use crate::{CmdResult, Failure};
use zeroize::Zeroizing;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every record's MAC and the chain; names the first bad record
    /// (exit status 3 when the trail fails verification).
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the trail as JSON lines for a privacy review, PHI masked.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Why the trail leaves Sillok (recorded).
        #[arg(long, default_value = "privacy review")]
        reason: String,
        #[command(flatten)]
        encrypt: EncryptArgs,
    },
    /// Remove records older than the retention in settings (default two
    /// years), leaving a signed checkpoint.
    Purge,
}

pub fn run(sillok: &Sillok, cmd: AuditCommand) -> CmdResult {
    match cmd {
        AuditCommand::Verify { json } => verify(sillok, json),
        AuditCommand::Export {
            out,
            reason,
            encrypt,
        } => export(sillok, out, &reason, &encrypt),
        AuditCommand::Purge => {
            let report = sillok.purge_audit()?;
            println!(
                "removed {} records older than {}; {} kept{}",
                report.removed,
                report.before,
                report.kept,
                report
                    .checkpoint_seq
                    .map(|s| format!("; the chain now starts after record {s}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
    }
}

fn verify(sillok: &Sillok, as_json: bool) -> CmdResult {
    let report = sillok.verify_audit()?;
    if as_json {
        let problems: Vec<_> = report
            .problems
            .iter()
            .map(|p| json!({ "kind": p.kind.as_str(), "seq": p.seq, "line": p.line, "detail": p.detail }))
            .collect();
        println!(
            "{}",
            json!({
                "intact": report.is_intact(),
                "records": report.records,
                "first_seq": report.first_seq,
                "last_seq": report.last_seq,
                "checkpoint_seq": report.checkpoint.map(|c| c.0),
                "purged": report.checkpoint.map(|c| c.1),
                "problems": problems,
                "notices": report.notices,
            })
        );
    } else {
        let range = match (report.first_seq, report.last_seq) {
            (Some(first), Some(last)) => format!(" (sequence numbers {first}–{last})"),
            _ => String::new(),
        };
        let purged = report
            .checkpoint
            .map(|(seq, total)| {
                format!("; {total} older records purged behind a checkpoint at record {seq}")
            })
            .unwrap_or_default();
        println!(
            "{} records with a matching MAC{range}{purged}",
            report.records
        );
        for notice in &report.notices {
            println!("note: {notice}");
        }
    }
    match report.problems.first() {
        None => {
            if !as_json {
                println!("the audit trail is intact");
            }
            Ok(())
        }
        Some(first) => {
            if !as_json {
                for problem in report.problems.iter().skip(1) {
                    eprintln!("also: {problem}");
                }
            }
            Err(Failure::Check(anyhow::anyhow!(
                "the audit trail fails verification: first bad record: {first}"
            )))
        }
    }
}

fn export(sillok: &Sillok, out: Option<PathBuf>, reason: &str, encrypt: &EncryptArgs) -> CmdResult {
    let passphrase = encrypt.passphrase()?;
    let report = match (&passphrase, &out) {
        (Some(passphrase), _) => {
            // Encrypted as a whole: the plaintext stays in memory only.
            let mut plain = Zeroizing::new(Vec::new());
            let report = sillok.export_audit(&mut *plain, reason)?;
            write_out(out.as_deref(), &sealed(&plain, Some(passphrase))?)?;
            report
        }
        (None, Some(path)) => {
            let file = std::fs::File::create(path).map_err(|e| {
                Failure::User(
                    anyhow::Error::new(e).context(format!("cannot write {}", path.display())),
                )
            })?;
            let mut writer = std::io::BufWriter::new(file);
            let report = sillok.export_audit(&mut writer, reason)?;
            writer
                .into_inner()
                .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot write: {e}")))?
                .sync_all()
                .map_err(|e| Failure::Internal(e.into()))?;
            report
        }
        (None, None) => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let report = sillok.export_audit(&mut lock, reason)?;
            lock.flush().map_err(|e| Failure::Internal(e.into()))?;
            report
        }
    };
    eprintln!(
        "exported {} records{}{}",
        report.records,
        if report.altered > 0 {
            format!(", {} of them altered (\"intact\": false)", report.altered)
        } else {
            String::new()
        },
        if report.unreadable > 0 {
            format!("; {} unreadable lines left out", report.unreadable)
        } else {
            String::new()
        }
    );
    Ok(())
}
