//! `sillok ingest`, `sillok collections …`, `sillok library status`, `sillok search`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use sillok_core::Sillok;
use std::collections::HashMap;

use sillok_core::index::{DocumentOcr, FileStatus, IngestEvent, LOW_OCR_CONFIDENCE, SearchRequest};

use crate::{CmdResult, Failure};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Folders or files to index.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Collection to add them to (created if new).
    #[arg(long, short)]
    collection: String,
    /// Print one JSON object per file and a summary.
    #[arg(long)]
    json: bool,
    /// Do not read this collection's scanned pages with OCR, now or in later
    /// runs (they stay listed as awaiting OCR); `--ocr` turns it back on.
    #[arg(long, conflicts_with = "ocr")]
    no_ocr: bool,
    /// Read this collection's scanned pages with OCR (the default).
    #[arg(long)]
    ocr: bool,
}

pub fn ingest(sillok: &Sillok, args: &IngestArgs) -> CmdResult {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("indexing [{bar:30}] {pos}/{len} files {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let as_json = args.json;
    if args.no_ocr || args.ocr {
        sillok.set_collection_ocr(&args.collection, args.ocr)?;
    }
    let report = sillok.ingest(&args.collection, &args.paths, &mut |event| match event {
        IngestEvent::Discovered { files } => bar.set_length(*files as u64),
        IngestEvent::File { path, status, done } => {
            bar.set_position(*done as u64);
            if as_json {
                bar.suspend(|| println!("{}", json!({ "event": "file", "path": path, "status": status.as_str(), "detail": detail(status) })));
            } else if let FileStatus::Failed { reason } = status {
                bar.suspend(|| eprintln!("failed   {path}: {reason}"));
            }
        }
        IngestEvent::Committed { .. } => {}
        IngestEvent::Ocr {
            path,
            page,
            confidence,
            failure,
            done,
            total,
            ..
        } => {
            bar.set_message(format!("· OCR {done}/{total} pages"));
            if as_json {
                bar.suspend(|| println!("{}", json!({ "event": "ocr", "path": path, "page": page, "confidence": confidence,
                    "low_confidence": confidence.is_some_and(|c| c < LOW_OCR_CONFIDENCE), "failure": failure, "done": done, "total": total })));
            } else if let Some(why) = failure {
                bar.suspend(|| eprintln!("ocr failed {path} p.{page}: {why}"));
            }
        }
    });
    bar.finish_and_clear();
    let r = report?;
    if let Some(why) = &r.ocr_unavailable {
        eprintln!("note: scanned pages were not read: {why}");
    }
    if as_json {
        println!(
            "{}",
            json!({ "event": "done", "indexed": r.indexed, "unchanged": r.unchanged, "duplicates": r.duplicates,
                    "needs_ocr": r.needs_ocr, "ocr_pages": r.ocr_pages, "failed": r.failed, "removed": r.removed, "chunks": r.chunks,
                    "text_bytes": r.text_bytes, "ocr_read": r.ocr_read, "ocr_low_confidence": r.ocr_low_confidence,
                    "ocr_failed": r.ocr_failed, "ocr_unavailable": r.ocr_unavailable })
        );
    } else {
        println!(
            "{}: {} indexed, {} unchanged, {} duplicates, {} need OCR, {} failed, {} removed ({} chunks)",
            args.collection,
            r.indexed,
            r.unchanged,
            r.duplicates,
            r.needs_ocr,
            r.failed,
            r.removed,
            r.chunks
        );
        if r.ocr_read + r.ocr_failed + r.ocr_pages > 0 {
            println!(
                "OCR: {} pages read ({} low confidence), {} failed, {} await OCR",
                r.ocr_read, r.ocr_low_confidence, r.ocr_failed, r.ocr_pages
            );
        }
    }
    Ok(())
}

fn detail(status: &FileStatus) -> Option<&str> {
    match status {
        FileStatus::Failed { reason } => Some(reason),
        FileStatus::Duplicate { of } => Some(of),
        _ => None,
    }
}

#[derive(Debug, Subcommand)]
pub enum CollectionsCommand {
    /// List collections with file counts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a collection's folders and file states.
    Show {
        /// Collection name.
        name: String,
    },
    /// Remove a collection from the library (the files themselves are untouched).
    Remove {
        /// Collection name.
        name: String,
    },
    /// Turn OCR of a collection's scanned pages on or off (on by default).
    Ocr {
        /// Collection name.
        name: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Rebuild the search index from the collections' folders (after it was
    /// reported damaged or tampered with).
    Rebuild,
}

pub fn collections(sillok: &Sillok, cmd: CollectionsCommand) -> CmdResult {
    if let CollectionsCommand::Rebuild = cmd {
        // The damaged index is never opened: it is cleared first.
        let report = sillok.rebuild_index(&mut |_| {})?;
        println!(
            "search index rebuilt: {} files indexed again",
            report.indexed
        );
        return Ok(());
    }
    let library = sillok.library()?;
    match cmd {
        CollectionsCommand::List { json: as_json } => {
            let mut out = Vec::new();
            for c in library.collections().map_err(sillok_core::Error::from)? {
                let files = library
                    .status(Some(&c.name))
                    .map_err(sillok_core::Error::from)?;
                let indexed = files
                    .iter()
                    .filter(|f| f.status == FileStatus::Indexed)
                    .count();
                if !as_json {
                    println!(
                        "{:<24} {:>5} files ({indexed} indexed{})  {}",
                        c.name,
                        files.len(),
                        if c.ocr { "" } else { ", OCR off" },
                        c.roots.join(", ")
                    );
                }
                out.push(json!({ "name": c.name, "roots": c.roots, "files": files.len(), "indexed": indexed, "ocr": c.ocr }));
            }
            if as_json {
                println!("{}", serde_json::Value::Array(out));
            }
            Ok(())
        }
        CollectionsCommand::Show { name } => {
            let files = library
                .status(Some(&name))
                .map_err(sillok_core::Error::from)?;
            let roots = library
                .collections()
                .map_err(sillok_core::Error::from)?
                .into_iter()
                .find(|c| c.name == name)
                .map(|c| c.roots)
                .unwrap_or_default();
            println!("collection {name}");
            for root in roots {
                println!("  folder {root}");
            }
            let ocr = library.ocr_documents().map_err(sillok_core::Error::from)?;
            print_files(&files, &ocr);
            Ok(())
        }
        CollectionsCommand::Rebuild => Ok(()),
        CollectionsCommand::Remove { name } => {
            let files = sillok.remove_collection(&name)?;
            println!(
                "removed collection {name} ({files} files forgotten; the files themselves are untouched)"
            );
            Ok(())
        }
        CollectionsCommand::Ocr { name, state } => {
            let known = library
                .collections()
                .map_err(sillok_core::Error::from)?
                .iter()
                .any(|c| c.name == name);
            if !known {
                return Err(sillok_core::Error::from(
                    sillok_core::index::Error::UnknownCollection(name),
                )
                .into());
            }
            let on = state == "on";
            sillok.set_collection_ocr(&name, on)?;
            if on {
                println!("OCR on for {name}: scanned pages are read on the next `sillok ingest`");
            } else {
                println!("OCR off for {name}: scanned pages stay unread");
            }
            Ok(())
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// Per-file state: indexed, duplicate, needs OCR, failed (with the reason).
    Status {
        /// Only this collection.
        #[arg(long, short)]
        collection: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Embed every chunk that has no vector for the active embedding model
    /// (hybrid search); resumable: a second run continues where one stopped.
    Embed {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One patient's clinical records (FHIR, C-CDA), oldest first.
    Timeline(crate::timeline::TimelineArgs),
}

pub fn library(sillok: &Sillok, cmd: LibraryCommand) -> CmdResult {
    let (collection, as_json) = match cmd {
        LibraryCommand::Status { collection, json } => (collection, json),
        LibraryCommand::Embed { json } => return crate::embeddings::embed(sillok, json),
        LibraryCommand::Timeline(args) => return crate::timeline::run(sillok, &args),
    };
    let library = sillok.library()?;
    let files = library
        .status(collection.as_deref())
        .map_err(sillok_core::Error::from)?;
    let ocr = library.ocr_documents().map_err(sillok_core::Error::from)?;
    if as_json {
        let list: Vec<_> = files
            .iter()
            .map(|f| {
                let read = f.content_hash.as_ref().and_then(|h| ocr.get(h)).map(|d| {
                    json!({ "pages_read": d.read_pages(), "mean_confidence": d.mean_confidence(),
                            "low_confidence_pages": d.low_confidence_pages(), "blank_pages": d.blank_pages(),
                            "failed": d.failed_pages().iter().map(|(page, why)| json!({ "page": page, "reason": why })).collect::<Vec<_>>(),
                            "note": d.note })
                });
                json!({ "path": f.path, "collection": f.collection, "status": f.status.as_str(), "detail": detail(&f.status),
                        "type": f.doc_type, "chunks": f.chunks, "size": f.size, "sha256": f.content_hash,
                        "ocr_pages": f.ocr_pages, "ocr": read })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        print_files(&files, &ocr);
    }
    Ok(())
}

/// Page numbers with runs shortened: `1–3, 7`.
fn page_list(pages: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &page in pages {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(page) => *end = page,
            _ => runs.push((page, page)),
        }
    }
    runs.iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_files(files: &[sillok_core::index::FileRecord], ocr: &HashMap<String, DocumentOcr>) {
    for f in files {
        let mut detail = detail(&f.status)
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        if let Some(d) = f.content_hash.as_ref().and_then(|h| ocr.get(h)) {
            let read = d.read_pages();
            if let (false, Some(mean)) = (read.is_empty(), d.mean_confidence()) {
                detail.push_str(&format!(
                    " (OCR read pages {}, mean confidence {mean}",
                    page_list(&read)
                ));
                let low = d.low_confidence_pages();
                if !low.is_empty() {
                    detail.push_str(&format!("; low confidence on pages {}", page_list(&low)));
                }
                detail.push(')');
            }
            let blank = d.blank_pages();
            if !blank.is_empty() {
                detail.push_str(&format!(
                    " (OCR found no text on pages {})",
                    page_list(&blank)
                ));
            }
            for (page, why) in d.failed_pages() {
                detail.push_str(&format!(" (OCR failed on page {page}: {why})"));
            }
            if let Some(note) = &d.note {
                detail.push_str(&format!(" ({note})"));
            }
        }
        if !f.ocr_pages.is_empty() {
            detail.push_str(&format!(
                " (pages {} are scans: need OCR)",
                page_list(&f.ocr_pages)
            ));
        }
        println!(
            "  {:<10} {:>4} chunks  {}{detail}",
            f.status.as_str(),
            f.chunks,
            f.path.escape_debug()
        );
    }
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words or "phrases", Korean or English.
    query: String,
    /// Only this collection (repeatable).
    #[arg(long, short)]
    collection: Vec<String>,
    /// Only this document type (pdf, docx, html, md, txt, csv, tsv, fhir, ccda …).
    #[arg(long = "type")]
    doc_type: Option<String>,
    /// Only paths matching this glob (e.g. '**/patients/*.pdf').
    #[arg(long)]
    path: Option<String>,
    /// Only files modified on or after this date (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    modified_after: Option<String>,
    /// Only this patient's clinical records (FHIR Patient.id, C-CDA
    /// recordTarget id), matched exactly.
    #[arg(long, value_name = "ID")]
    patient: Option<String>,
    /// Only clinical records effective on or after this date (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    effective_after: Option<String>,
    /// Only clinical records effective before this date (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    effective_before: Option<String>,
    /// Number of hits.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn search(sillok: &Sillok, args: &SearchArgs) -> CmdResult {
    let date_flag = |flag: &str, value: &Option<String>| match value {
        Some(date) => parse_date(date).map(Some).ok_or_else(|| {
            Failure::User(anyhow::anyhow!("invalid --{flag} {date:?}: use YYYY-MM-DD"))
        }),
        None => Ok(None),
    };
    let request = SearchRequest {
        query: args.query.clone(),
        collections: args.collection.clone(),
        doc_type: args.doc_type.clone(),
        path_glob: args.path.clone(),
        modified_after: date_flag("modified-after", &args.modified_after)?,
        patient: args.patient.clone(),
        effective_after: date_flag("effective-after", &args.effective_after)?,
        effective_before: date_flag("effective-before", &args.effective_before)?,
        limit: args.k,
        ..SearchRequest::default()
    };
    let pending = sillok
        .library()?
        .pending_files()
        .map_err(sillok_core::Error::from)?;
    if pending > 0 {
        eprintln!(
            "note: {pending} files await indexing and are not searched yet: run `sillok ingest` or `sillok watch`"
        );
    }
    let results = sillok.search(&request)?;
    if args.json {
        let hits: Vec<_> = results
            .hits
            .iter()
            .map(|h| {
                json!({ "score": h.score, "collection": h.collection, "path": h.path, "title": h.title, "headings": h.headings,
                        "ocr_confidence": h.ocr_confidence, "low_confidence": h.is_low_confidence(),
                        "page": h.page, "span": [h.span.start, h.span.end], "type": h.doc_type, "language": h.language,
                        "snippet": h.snippet, "highlights": h.highlights.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>(),
                        "sha256": h.content_hash, "chunk": h.chunk_index,
                        "lexical_rank": h.lexical_rank, "dense_rank": h.dense_rank,
                        "patient": h.patient_id, "effective": h.effective })
            })
            .collect();
        println!(
            "{}",
            json!({ "hits": hits, "chunks_searched": results.chunks_searched, "elapsed_ms": results.elapsed.as_secs_f64() * 1000.0 })
        );
        return Ok(());
    }
    if results.hits.is_empty() {
        println!("no matches in {} chunks", results.chunks_searched);
    }
    for (i, h) in results.hits.iter().enumerate() {
        println!(
            "{:>2}. {} (p.{}, chars {}..{}) [{}] score {:.3}{}{}",
            i + 1,
            h.path,
            h.page,
            h.span.start,
            h.span.end,
            h.collection,
            h.score,
            match (h.lexical_rank, h.dense_rank) {
                (None, Some(_)) => "  [found by meaning]",
                _ => "",
            },
            match h.ocr_confidence {
                Some(c) if h.is_low_confidence() => {
                    format!("  [OCR, confidence {c}: low, check the page]")
                }
                Some(c) => format!("  [OCR, confidence {c}]"),
                None => String::new(),
            }
        );
        println!(
            "    {}",
            highlight(&h.snippet, &h.highlights).replace('\n', " ")
        );
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Retrieval quality on a BEIR-layout set (corpus.jsonl, queries.jsonl, qrels/test.tsv).
    Retrieval {
        /// The set's directory.
        dir: PathBuf,
        /// Evaluate only the first N judged queries.
        #[arg(long)]
        max_queries: Option<usize>,
        /// Fuse BM25 with the active embedding model's vectors (the corpus
        /// is embedded first: slow on large sets; the vectors are kept in
        /// <data>/cache/, so an interrupted run goes on and a repeated run
        /// embeds nothing).
        #[arg(long)]
        hybrid: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Grounded answering on a BEIR-layout set: answer and abstention rates,
    /// gold passages retrieved and cited, citation validity, flagged sentences.
    Answers(crate::eval_answers::EvalAnswersArgs),
}

pub fn eval(sillok: &Sillok, cmd: EvalCommand) -> CmdResult {
    let (dir, max_queries, hybrid, as_json) = match cmd {
        EvalCommand::Retrieval {
            dir,
            max_queries,
            hybrid,
            json,
        } => (dir, max_queries, hybrid, json),
        EvalCommand::Answers(args) => return crate::eval_answers::run(sillok, &args),
    };
    let mut last_tenth = 0;
    let cancel = crate::cancel_on_ctrl_c()?;
    let r = sillok.eval_retrieval(&dir, max_queries, hybrid, &cancel, &mut |p| {
        let tenth = ((p.done + p.cached) * 10)
            .checked_div(p.pending)
            .unwrap_or(10);
        if tenth > last_tenth {
            last_tenth = tenth;
            eprintln!(
                "embedding the corpus: {}/{} chunks ({} embedded, {} from the cache)",
                p.done + p.cached,
                p.pending,
                p.done,
                p.cached
            );
        }
    })?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    if as_json {
        println!(
            "{}",
            json!({ "set": dir, "mode": if hybrid { "hybrid" } else { "bm25" }, "documents": r.documents, "chunks": r.chunks, "queries": r.queries,
                    "ndcg@10": r.ndcg_at_10, "recall@10": r.recall_at_10, "recall@100": r.recall_at_100,
                    "mrr@10": r.mrr_at_10, "latency_p50_ms": ms(r.latency_p50), "latency_p95_ms": ms(r.latency_p95),
                    "index_s": r.index_time.as_secs_f64() })
        );
    } else {
        println!(
            "{}: {} documents, {} chunks, {} queries",
            dir.display(),
            r.documents,
            r.chunks,
            r.queries
        );
        println!(
            "nDCG@10 {:.3}  Recall@10 {:.3}  Recall@100 {:.3}  MRR@10 {:.3}",
            r.ndcg_at_10, r.recall_at_10, r.recall_at_100, r.mrr_at_10
        );
        println!(
            "latency p50 {:.1} ms  p95 {:.1} ms  (indexing {:.1} s)",
            ms(r.latency_p50),
            ms(r.latency_p95),
            r.index_time.as_secs_f64()
        );
    }
    Ok(())
}

/// Marks matched ranges with [[ ]] (plain text, no terminal codes). Overlapping
/// ranges (Korean bigrams overlap by a syllable) are merged into one mark.
fn highlight(snippet: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut sorted: Vec<_> = ranges
        .iter()
        .filter(|r| {
            r.start < r.end
                && r.end <= snippet.len()
                && snippet.is_char_boundary(r.start)
                && snippet.is_char_boundary(r.end)
        })
        .cloned()
        .collect();
    sorted.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
    for r in sorted {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let mut out = String::with_capacity(snippet.len() + merged.len() * 4);
    let mut last = 0;
    for r in merged {
        out.push_str(&snippet[last..r.start]);
        out.push_str("[[");
        out.push_str(&snippet[r.start..r.end]);
        out.push_str("]]");
        last = r.end;
    }
    out.push_str(&snippet[last..]);
    out
}

/// `YYYY-MM-DD` → seconds since the Unix epoch (UTC midnight).
fn parse_date(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (y, m, d): (i64, i64, i64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_lists_shorten_runs() {
        assert_eq!(page_list(&[1, 2, 3, 5, 7, 8]), "1–3, 5, 7–8");
        assert_eq!(page_list(&[]), "");
        assert_eq!(page_list(&[u32::MAX]), "4294967295");
    }

    #[test]
    fn dates_parse_to_utc_midnight() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-03-01"), Some(1_709_251_200));
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn highlights_mark_matches_and_skip_bad_ranges() {
        assert_eq!(
            highlight("고혈압 환자", &[3..9, 10..13]),
            "고[[혈압]] [[환]]자"
        );
        assert_eq!(highlight("abc", &[0..1, 1..9]), "[[a]]bc");
    }
}
