//! The bad-input conformance suite, written once and run against every
//! [`Parser`]: empty, random, truncated and NUL-riddled input, size and time
//! limits. Also the sample documents and builders the per-format tests share.
//! Format-specific behaviour is tested next to each parser.

use std::io::{Cursor, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::{DocKind, Limits, ParseFailure, ParsedDocument, parse_bytes, parser_for};

type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) const SENTENCE: &str = "고혈압 환자의 혈압 목표는 130/80 mmHg";

pub(crate) const PDF_2_PAGES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/ko_en_2pages.pdf"
));

/// Minimal [Content_Types].xml so the package is a real Word document.
const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;

/// Wraps body XML (the children of `w:body`) in a document part.
pub(crate) fn document_xml(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>{body}</w:body></w:document>"#
    )
}

/// A .docx package holding `parts` (name, content), deflated, behind a
/// [Content_Types].xml, built the way Word lays one out.
pub(crate) fn docx_bytes(parts: &[(&str, &str)]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", options)?;
    zip.write_all(CONTENT_TYPES.as_bytes())?;
    for (name, content) in parts {
        zip.start_file(*name, options)?;
        zip.write_all(content.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}

/// A small valid document of each kind, with Korean and English text.
fn sample(kind: DocKind) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(match kind {
        DocKind::Text => format!("{SENTENCE}\n\nSecond paragraph in English.\n").into_bytes(),
        DocKind::Markdown => {
            format!("# 제목\n\n{SENTENCE}\n\n- item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
                .into_bytes()
        }
        DocKind::Html => format!(
            "<!doctype html><html><head><title>t</title></head><body><h1>제목</h1><p>{SENTENCE}</p>\
             <table><tr><td>a</td><td>b</td></tr></table></body></html>"
        )
        .into_bytes(),
        DocKind::Pdf => PDF_2_PAGES.to_vec(),
        DocKind::Docx => docx_bytes(&[(
            "word/document.xml",
            &document_xml(&format!(
                "<w:p><w:r><w:t>{SENTENCE}</w:t></w:r></w:p>\
                 <w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
            )),
        )])?,
        DocKind::Csv => format!("진단,목표\n고혈압,\"{SENTENCE}\"\n").into_bytes(),
        DocKind::Tsv => format!("진단\t목표\n고혈압\t{SENTENCE}\n").into_bytes(),
        DocKind::Xlsx => super::xlsx::fixtures::sample(SENTENCE)?,
        DocKind::Pptx => super::pptx::fixtures::sample(SENTENCE)?,
        DocKind::Hwp => super::hwp::fixtures::sample(SENTENCE)?,
        DocKind::Hwpx => super::hwpx::fixtures::sample(SENTENCE)?,
        DocKind::Fhir => format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"fullUrl":"urn:uuid:p1","resource":{{"resourceType":"Patient","id":"p1","name":[{{"text":"김철수"}}],"gender":"male","birthDate":"1960-01-02"}}}},{{"resource":{{"resourceType":"Observation","status":"final","code":{{"text":"혈압 목표"}},"subject":{{"reference":"urn:uuid:p1"}},"effectiveDateTime":"2024-03-01","valueString":"{SENTENCE}"}}}}]}}"#
        )
        .into_bytes(),
        DocKind::Ccda => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>진료 요약</title><recordTarget><patientRole><id root="1.2.410.100" extension="P-1"/></patientRole></recordTarget><component><structuredBody><component><section><title>Problems</title><text><paragraph>{SENTENCE}</paragraph><table><tr><td>a</td><td>b</td></tr></table></text></section></component></structuredBody></component></ClinicalDocument>"#
        )
        .into_bytes(),
        // Kinds whose readers are not in `DocKind::ALL` yet have no sample.
        other => return Err(format!("no sample for {other}").into()),
    })
}

fn file_name(kind: DocKind) -> String {
    format!("sample.{}", kind.as_str())
}

/// Runs the parser directly (not through `parse_bytes`), so a panic in our
/// own code fails the test instead of being turned into a failure.
fn parse_unguarded(
    kind: DocKind,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Result<ParsedDocument, ParseFailure>, String> {
    catch_unwind(AssertUnwindSafe(|| parser_for(kind).parse(bytes, limits)))
        .map_err(|_| format!("{kind} parser panicked"))
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn is_binary(kind: DocKind) -> bool {
    matches!(
        kind,
        DocKind::Pdf | DocKind::Docx | DocKind::Xlsx | DocKind::Pptx | DocKind::Hwp | DocKind::Hwpx
    )
}

#[test]
fn every_kind_has_a_parser_that_reads_its_sample() -> TestResult {
    for &kind in DocKind::ALL {
        let parser = parser_for(kind);
        assert_eq!(parser.kind(), kind);
        let doc = parser.parse(&sample(kind)?, &Limits::default())?;
        assert_eq!(doc.kind, kind);
        assert!(!doc.pages.is_empty(), "{kind}");
        let all: String = doc.pages.iter().map(|p| p.text()).collect();
        assert!(all.contains(SENTENCE), "{kind}: {all}");
        for page in &doc.pages {
            assert!(page.number >= 1);
            assert!(
                page.blocks.iter().all(|b| !b.text.trim().is_empty()),
                "{kind}"
            );
        }
        // And the same through detection by name.
        let via_name = parse_bytes(&file_name(kind), &sample(kind)?, &Limits::default())?;
        assert_eq!(via_name, doc);
    }
    Ok(())
}

#[test]
fn empty_input_is_empty() {
    for &kind in DocKind::ALL {
        assert_eq!(
            parser_for(kind).parse(b"", &Limits::default()),
            Err(ParseFailure::Empty),
            "{kind}"
        );
        assert_eq!(
            parse_bytes(&file_name(kind), b"", &Limits::default()),
            Err(ParseFailure::Empty),
            "{kind}"
        );
    }
}

#[test]
fn garbage_never_panics() -> TestResult {
    let limits = Limits::default();
    for &kind in DocKind::ALL {
        for (seed, len) in [(1, 1), (2, 17), (3, 1000), (4, 65_536)] {
            let noise = garbage(seed, len);
            // Also behind each binary format's signature, to get past the
            // first check into the real parsing.
            for prefix in [&b""[..], b"%PDF-1.7\n", b"PK\x03\x04"] {
                let bytes = [prefix, &noise].concat();
                let result = parse_unguarded(kind, &bytes, &limits)?;
                if is_binary(kind) {
                    assert!(result.is_err(), "{kind} read garbage as {result:?}");
                }
            }
        }
    }
    Ok(())
}

#[test]
fn truncated_input_never_panics() -> TestResult {
    let limits = Limits::default();
    for &kind in DocKind::ALL {
        let whole = sample(kind)?;
        for cut in [
            1,
            2,
            whole.len() / 4,
            whole.len() / 2,
            whole.len() * 3 / 4,
            whole.len() - 1,
        ] {
            let part = &whole[..cut];
            match parse_unguarded(kind, part, &limits)? {
                Ok(doc) => assert_eq!(doc.kind, kind),
                Err(failure) => assert!(
                    matches!(
                        failure,
                        ParseFailure::Empty
                            | ParseFailure::Malformed { .. }
                            | ParseFailure::NeedsOcr
                    ),
                    "{kind} cut at {cut}: {failure:?}"
                ),
            }
            // The guarded entry point agrees (and also never panics).
            let guarded = parse_bytes(&file_name(kind), part, &limits);
            assert!(!matches!(guarded, Err(ParseFailure::TimedOut)), "{kind}");
        }
    }
    Ok(())
}

#[test]
fn nul_bytes_are_tolerated() -> TestResult {
    let limits = Limits::default();
    for &kind in DocKind::ALL {
        let mut bytes = sample(kind)?;
        if is_binary(kind) {
            // Damage the middle of the file with NULs.
            let mid = bytes.len() / 2;
            let end = (mid + 64).min(bytes.len());
            bytes[mid..end].fill(0);
            parse_unguarded(kind, &bytes, &limits)?.ok();
            continue;
        }
        let mut with_nuls = b"\0\0".to_vec();
        for chunk in bytes.chunks(7) {
            with_nuls.extend_from_slice(chunk);
            with_nuls.push(0);
        }
        let doc = parse_unguarded(kind, &with_nuls, &limits)??;
        for page in &doc.pages {
            assert!(!page.text().contains('\0'), "{kind}");
        }
        let only_nuls = parse_unguarded(kind, &[0; 100], &limits)?;
        assert_eq!(only_nuls, Err(ParseFailure::Empty), "{kind}");
    }
    Ok(())
}

#[test]
fn over_the_size_limit_is_too_large() -> TestResult {
    let limits = Limits {
        max_file_bytes: 64,
        ..Limits::default()
    };
    for &kind in DocKind::ALL {
        let bytes = sample(kind)?;
        assert_eq!(
            parse_bytes(&file_name(kind), &bytes, &limits),
            Err(ParseFailure::TooLarge {
                size: bytes.len() as u64,
                max: 64
            }),
            "{kind}"
        );
    }
    Ok(())
}

#[test]
fn no_time_left_is_timed_out() -> TestResult {
    let limits = Limits {
        max_parse_time: Duration::ZERO,
        ..Limits::default()
    };
    for &kind in DocKind::ALL {
        let bytes = sample(kind)?;
        // Our own deadline checks stop the parser itself…
        assert_eq!(
            parse_unguarded(kind, &bytes, &limits)?,
            Err(ParseFailure::TimedOut),
            "{kind}"
        );
        // …and the guarded entry point stops waiting.
        assert_eq!(
            parse_bytes(&file_name(kind), &bytes, &limits),
            Err(ParseFailure::TimedOut),
            "{kind}"
        );
    }
    Ok(())
}

#[test]
fn garbage_through_detection_is_a_status() {
    for &kind in DocKind::ALL {
        let result = parse_bytes(&file_name(kind), &garbage(9, 4096), &Limits::default());
        if is_binary(kind) {
            assert!(
                matches!(result, Err(ParseFailure::Malformed { .. })),
                "{kind}: {result:?}"
            );
        }
    }
}
