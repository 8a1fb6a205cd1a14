//! AFL target for the document parsers: `parse <kind>` (`pdf`, `docx`, …,
//! `image`, or `detect`) runs that parser on each input AFL feeds it.
//!
//! The parser runs unguarded (not through `parse_bytes`, which turns panics
//! into a failure status), so a panic that escapes a parser aborts and AFL
//! records a crash. Panics a parser catches itself (the PDF reader's per-page
//! guard) are not crashes: `fuzz_nohook!` leaves the panic hook alone.

use std::hint::black_box;
use std::time::Duration;

use sillok_index::parse::{DocKind, Limits, detect, parser_for};

/// Names the `detect` mode tries with each input: one per extension family.
const NAMES: &[&str] = &[
    "a.pdf", "a.docx", "a.xlsx", "a.pptx", "a.hwp", "a.hwpx", "a.txt", "a.md", "a.html", "a.csv",
    "a.ndjson", "a.png", "a.bin",
];

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let kind = DocKind::ALL
        .iter()
        .chain([DocKind::Image].iter())
        .copied()
        .find(|k| k.as_str() == name);
    if kind.is_none() && name != "detect" {
        eprintln!(
            "usage: parse <kind>|detect, kind one of the DocKind names (pdf, docx, …, image)"
        );
        std::process::exit(2);
    }
    // Tighter than the defaults, so one input stays within AFL's time and
    // memory per run; the limits themselves are what is being exercised.
    let limits = Limits {
        max_pages: 200,
        max_decompressed_bytes: 32 * 1024 * 1024,
        max_zip_entries: 1000,
        max_cells: 200_000,
        max_parse_time: Duration::from_secs(5),
        ..Limits::default()
    };
    afl::fuzz_nohook!(|data: &[u8]| {
        match kind {
            Some(kind) => {
                drop(black_box(parser_for(kind).parse(data, &limits)));
            }
            None => {
                for name in NAMES {
                    black_box(detect(name, data));
                }
            }
        }
    });
}
