//! `sillok models …`

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::bundle::TrustedKey;
use sillok_core::models::{ModelEntry, Provenance};

use crate::{CmdResult, Failure, progress};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List installed models.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a model's facts (from its GGUF header) and memory estimate.
    Info {
        /// Model name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-hash model files against the catalogue (all when no name is given).
    Verify {
        /// Model name.
        name: Option<String>,
    },
    /// Import a GGUF file (copied into the data directory, hashed, validated).
    Import {
        /// The .gguf file.
        path: PathBuf,
        /// Catalogue name (default: the known model's name or the file name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Import the models of a signed model bundle (a USB stick, or the
    /// folder the installer filled), verified with a public key from outside
    /// it; exit status 3 when the bundle is refused.
    ImportBundle {
        /// The bundle folder.
        #[arg(default_value = sillok_core::bundle::SYSTEM_MODELS_DIR)]
        dir: PathBuf,
        /// The release public key (never one inside the bundle).
        #[arg(long, value_name = "KEY", default_value = sillok_core::bundle::RELEASE_KEY_PATH)]
        pubkey: PathBuf,
    },
    /// Remove a model and its file.
    Remove {
        /// Model name.
        name: String,
    },
    /// Make a model the default for its role (chat or embedding).
    Default {
        /// Model name.
        name: String,
    },
}

pub fn run(sillok: &mut Sillok, cmd: ModelsCommand) -> CmdResult {
    match cmd {
        ModelsCommand::List { json } => list(sillok, json),
        ModelsCommand::Info { name, json } => info(sillok, &name, json),
        ModelsCommand::Verify { name } => verify(sillok, name.as_deref()),
        ModelsCommand::Import { path, name } => {
            let bar = progress::bytes("importing");
            let entry = sillok.import_model(&path, name.as_deref(), &mut progress::update(&bar));
            bar.finish_and_clear();
            let entry = entry?;
            println!(
                "imported {} ({}, {} MiB)",
                entry.name,
                entry.info.quantization,
                entry.size >> 20
            );
            println!("sha256 {}", entry.sha256);
            Ok(())
        }
        ModelsCommand::ImportBundle { dir, pubkey } => import_bundle(sillok, &dir, &pubkey),
        ModelsCommand::Remove { name } => {
            sillok.remove_model(&name)?;
            println!("removed {name}");
            Ok(())
        }
        ModelsCommand::Default { name } => {
            let role = sillok.set_default_model(&name)?;
            println!("{name} is now the default {} model", role.as_str());
            Ok(())
        }
    }
}

fn is_default(sillok: &Sillok, entry: &ModelEntry) -> bool {
    sillok.catalogue().default_for(entry.role) == Some(entry.name.as_str())
}

fn entry_json(sillok: &Sillok, entry: &ModelEntry) -> serde_json::Value {
    let i = &entry.info;
    json!({
        "name": entry.name,
        "default": is_default(sillok, entry),
        "role": entry.role.as_str(),
        "file": sillok.catalogue().path_of(entry),
        "size": entry.size,
        "sha256": entry.sha256,
        "license": entry.license,
        "provenance": entry.provenance,
        "prompt_style": entry.prompt_style,
        "architecture": i.architecture,
        "display_name": i.display_name,
        "parameters": i.parameters,
        "context_length": i.context_length,
        "quantization": i.quantization,
        "has_chat_template": i.has_chat_template,
        "layers": i.layers,
        "embedding_length": i.embedding_length,
    })
}

fn list(sillok: &Sillok, as_json: bool) -> CmdResult {
    let models = sillok.catalogue().models();
    if as_json {
        let list: Vec<_> = models.iter().map(|m| entry_json(sillok, m)).collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    if models.is_empty() {
        println!("no models installed; import one with `sillok models import PATH`");
    }
    for m in models {
        println!(
            "{}{:<32} {:<9} {:<8} {:>6} MiB  {}",
            if is_default(sillok, m) { "* " } else { "  " },
            m.name,
            m.role.as_str(),
            m.info.quantization,
            m.size >> 20,
            m.license.as_deref().unwrap_or("licence unknown"),
        );
    }
    Ok(())
}

fn info(sillok: &Sillok, name: &str, as_json: bool) -> CmdResult {
    let entry = sillok.catalogue().get(name).map_err(Failure::from)?;
    let i = &entry.info;
    let n_ctx = sillok_core::models::DEFAULT_CONTEXT
        .min(i.context_length.max(sillok_core::models::MIN_CONTEXT));
    let estimate = i.estimated_bytes(n_ctx);
    let available = sillok_core::models::available_memory_bytes();
    if as_json {
        let mut value = entry_json(sillok, entry);
        value["memory_estimate"] =
            json!({ "n_ctx": n_ctx, "bytes": estimate, "available_bytes": available });
        println!("{value}");
        return Ok(());
    }
    println!("name           {}", entry.name);
    println!(
        "role           {}{}",
        entry.role.as_str(),
        if is_default(sillok, entry) {
            " (default)"
        } else {
            ""
        }
    );
    println!("architecture   {}", i.architecture);
    if let Some(display) = &i.display_name {
        println!("model          {display}");
    }
    println!("parameters     {:.1} M", i.parameters as f64 / 1e6);
    println!("quantization   {}", i.quantization);
    println!("context        {} tokens (trained)", i.context_length);
    println!(
        "chat template  {}",
        if i.has_chat_template {
            "yes"
        } else {
            "no (completion-style prompts)"
        }
    );
    println!(
        "licence        {}",
        entry.license.as_deref().unwrap_or("unknown")
    );
    println!("size           {} MiB", entry.size >> 20);
    println!("sha256         {}", entry.sha256);
    println!(
        "provenance     {}",
        match entry.provenance {
            Provenance::Known => "known model (its hash matches Sillok's list)",
            Provenance::UserImported => "user import (hash recorded at import)",
        }
    );
    println!(
        "memory         ~{} MiB at {} tokens of context; {} MiB available{}",
        estimate >> 20,
        n_ctx,
        available >> 20,
        if estimate > available {
            " — will not fit"
        } else {
            ""
        }
    );
    Ok(())
}

fn verify(sillok: &Sillok, name: Option<&str>) -> CmdResult {
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_owned()],
        None => sillok
            .catalogue()
            .models()
            .iter()
            .map(|m| m.name.clone())
            .collect(),
    };
    let mut failed = None;
    for name in names {
        let bar = progress::bytes(&format!("verifying {name}"));
        let result = sillok.verify_model(&name, &mut progress::update(&bar));
        bar.finish_and_clear();
        match result {
            Ok(()) => println!("ok       {name}"),
            Err(e) => {
                println!("FAILED   {name}: {e}");
                failed = Some(e);
            }
        }
    }
    failed.map_or(Ok(()), |e| Err(Failure::from(e)))
}

fn import_bundle(sillok: &mut Sillok, dir: &Path, pubkey: &Path) -> CmdResult {
    let key = TrustedKey::from_file(pubkey).map_err(sillok_core::Error::from)?;
    eprintln!(
        "trusted key: id {} public key {} (from {})",
        key.key_id(),
        key.public_key(),
        pubkey.display()
    );
    let bar = progress::bytes("importing");
    let report = sillok.import_model_bundle(dir, &key, &mut progress::update(&bar));
    bar.finish_and_clear();
    let report = match report {
        Err(sillok_core::Error::Bundle(e)) if e.is_refusal() => {
            return Err(Failure::Check(
                anyhow::Error::new(e).context("nothing was imported"),
            ));
        }
        other => other?,
    };
    println!("verified model bundle {}", report.version);
    for entry in &report.imported {
        println!("imported {} (sha256 {})", entry.name, entry.sha256);
    }
    for name in &report.already_installed {
        println!("already installed: {name}");
    }
    for path in &report.skipped {
        println!("skipped {path}: not a GGUF model");
    }
    Ok(())
}
