//! `sillok library timeline --patient ID`: one patient's clinical records
//! (FHIR resources, C-CDA sections) oldest first. The query and ordering are
//! the index crate's (`Library::patient_timeline`); this only prints.

use clap::Args;
use serde_json::json;
use sillok_core::Sillok;

use crate::{CmdResult, Failure};

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// The patient's id as the records spell it (FHIR Patient.id, C-CDA
    /// recordTarget id); matched exactly.
    #[arg(long, value_name = "ID")]
    patient: String,
    /// Only this collection (repeatable).
    #[arg(long, short)]
    collection: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(sillok: &Sillok, args: &TimelineArgs) -> CmdResult {
    let entries = sillok.patient_timeline(&args.patient, &args.collection)?;
    if entries.is_empty() {
        return Err(Failure::User(anyhow::anyhow!(
            "no indexed records of patient {:?}; ids are matched exactly, as the records spell them (see `sillok search --json`)",
            args.patient
        )));
    }
    if args.json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({ "effective": e.effective, "date": e.effective_utc(), "collection": e.collection,
                        "path": e.path, "title": e.title, "page": e.page, "headings": e.headings,
                        "span": [e.span.start, e.span.end], "type": e.doc_type, "chunk": e.chunk_index,
                        "text": e.text })
            })
            .collect();
        println!("{}", json!({ "patient": args.patient, "entries": list }));
        return Ok(());
    }
    println!("patient {}: {} entries", args.patient, entries.len());
    for e in &entries {
        let date = e
            .effective_utc()
            .map(|d| d.replace('T', " ").trim_end_matches('Z').to_owned())
            .unwrap_or_else(|| "(undated)".to_owned());
        let what = if e.headings.is_empty() {
            &e.title
        } else {
            &e.headings
        };
        println!(
            "{date:<19}  {what}  ({} p.{})",
            e.path.escape_debug(),
            e.page
        );
        for line in e.text.lines().filter(|l| !l.trim().is_empty()) {
            println!("    {line}");
        }
    }
    Ok(())
}
