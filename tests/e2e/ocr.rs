//! OCR of scans through the real `sillok` binary, with the real tools
//! (tesseract with Korean and English, poppler; `installer/dev-setup.sh`
//! installs them). The scans are made here: pages of the Korean + English
//! fixture PDFs rendered to PNG by `pdftoppm`, used as images and wrapped, as
//! pictures only, in new PDFs.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{Sillok, TestResult, json_lines};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../index/tests/fixtures")
        .join(name)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// Pages `first..=last` of fixture `pdf` at 300 dpi, the top `height`
/// pixels of each, as PNG files' bytes.
fn rendered(pdf: &str, first: u32, last: u32, height: u32) -> AnyResult<Vec<Vec<u8>>> {
    let dir = tempfile::tempdir()?;
    let status = Command::new("pdftoppm")
        .args(["-r", "300", "-gray", "-png"])
        .args(["-f", &first.to_string(), "-l", &last.to_string()])
        .args([
            "-x",
            "0",
            "-y",
            "0",
            "-W",
            "2480",
            "-H",
            &height.to_string(),
        ])
        .arg(fixture(pdf))
        .arg(dir.path().join("p"))
        .status()?;
    if !status.success() {
        return Err(format!("pdftoppm failed: {status}").into());
    }
    let mut files: Vec<_> = fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files.iter().map(fs::read).collect::<Result<Vec<_>, _>>()?)
}

/// A PDF page: a picture (an 8-bit grey or RGB PNG, its compressed rows
/// kept as they are: PDF reads them with the PNG predictor) or one line of
/// Helvetica text.
enum Page<'a> {
    Scan(&'a [u8]),
    Text(&'a str),
}

fn pdf(pages: &[Page<'_>]) -> AnyResult<Vec<u8>> {
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        Vec::new(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let mut kids = Vec::new();
    for page in pages {
        let n = objects.len() + 1;
        kids.push(format!("{n} 0 R"));
        match page {
            Page::Scan(png) => {
                let (width, height, colors, data) = png_rows(png)?;
                let space = if colors == 1 {
                    "DeviceGray"
                } else {
                    "DeviceRGB"
                };
                let (w, h) = (f64::from(width) * 0.24, f64::from(height) * 0.24);
                objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Resources << /XObject << /Im0 {} 0 R >> >> /Contents {} 0 R >>", n + 1, n + 2).into_bytes());
                let mut image = format!("<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /{space} /BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors {colors} /BitsPerComponent 8 /Columns {width} >> /Length {} >>\nstream\n", data.len()).into_bytes();
                image.extend_from_slice(&data);
                image.extend_from_slice(b"\nendstream");
                objects.push(image);
                objects.push(stream(&format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q")));
            }
            Page::Text(text) => {
                objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>", n + 1).into_bytes());
                objects.push(stream(&format!("BT /F1 12 Tf 72 760 Td ({text}) Tj ET")));
            }
        }
    }
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        pages.len()
    )
    .into_bytes();
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    Ok(out)
}

fn stream(content: &str) -> Vec<u8> {
    format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
    .into_bytes()
}

/// Width, height, colour components and joined IDAT data of a PNG.
fn png_rows(png: &[u8]) -> AnyResult<(u32, u32, u32, Vec<u8>)> {
    let mut at = 8;
    let (mut width, mut height, mut colors, mut data) = (0, 0, 1, Vec::new());
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into()?) as usize;
        let body = png.get(at + 8..at + 8 + len).ok_or("png cut short")?;
        match &png[at + 4..at + 8] {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into()?);
                height = u32::from_be_bytes(body[4..8].try_into()?);
                colors = if body[9] == 2 { 3 } else { 1 };
                if body[8] != 8 || !matches!(body[9], 0 | 2) || body[12] != 0 {
                    return Err("not an 8-bit grey or rgb, non-interlaced png".into());
                }
            }
            b"IDAT" => data.extend_from_slice(body),
            _ => {}
        }
        at += 12 + len;
    }
    Ok((width, height, colors, data))
}

/// A PNG signature and header claiming `width` × `height` pixels.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
    out
}

fn search(sillok: &Sillok, query: &str) -> Vec<serde_json::Value> {
    json_lines(&sillok.ok(&["search", query, "-k", "100", "--json"]))
        .pop()
        .and_then(|r| r["hits"].as_array().cloned())
        .unwrap_or_default()
}

fn status(sillok: &Sillok) -> Vec<serde_json::Value> {
    json_lines(&sillok.ok(&["library", "status", "--json"]))
        .pop()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn file<'a>(status: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    status
        .iter()
        .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .unwrap_or(&serde_json::Value::Null)
}

fn events<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["event"] == kind).collect()
}

#[test]
fn scans_are_read_by_ocr_searchable_and_marked() -> TestResult {
    let sillok = Sillok::new();
    let docs = tempfile::tempdir()?;
    let scans = rendered("ko_en_2pages.pdf", 1, 2, 500)?;
    let [page1, page2] = scans.as_slice() else {
        return Err("expected two pages".into());
    };
    fs::write(
        docs.path().join("mixed.pdf"),
        pdf(&[
            Page::Text("Amlodipine lowers blood pressure in older adults."),
            Page::Scan(page1),
        ])?,
    )?;
    fs::write(docs.path().join("photo.png"), page2)?;
    fs::write(docs.path().join("huge.png"), png_header(30_000, 30_000))?;

    let out = json_lines(&sillok.ok(&["ingest", s(docs.path()), "-c", "scans", "--json"]));
    let ocr = events(&out, "ocr");
    assert_eq!(ocr.len(), 2, "{out:?}");
    assert!(
        ocr.iter()
            .all(|e| e["confidence"].as_u64().is_some() && e["low_confidence"] == false),
        "{ocr:?}"
    );
    let done = events(&out, "done");
    let done = done.first().ok_or("no summary")?;
    assert_eq!(
        (
            &done["indexed"],
            &done["failed"],
            &done["ocr_read"],
            &done["needs_ocr"]
        ),
        (&2.into(), &1.into(), &2.into(), &0.into()),
        "{done}"
    );

    // Words read from the scans are found, with the page's confidence.
    let hits = search(&sillok, "metformin");
    let hit = hits.first().ok_or("metformin not found")?;
    assert!(
        hit["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("photo.png")),
        "{hit}"
    );
    assert!(
        hit["ocr_confidence"].as_u64().is_some_and(|c| c >= 60),
        "{hit}"
    );
    assert_eq!(hit["low_confidence"], false);
    assert!(!search(&sillok, "당뇨병").is_empty());
    let hits = search(&sillok, "hypertension");
    let hit = hits.first().ok_or("hypertension not found")?;
    assert!(
        hit["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("mixed.pdf"))
    );
    assert_eq!(hit["page"], 2);
    assert!(hit["ocr_confidence"].as_u64().is_some());
    let hits = search(&sillok, "amlodipine");
    let hit = hits.first().ok_or("the text page is not found")?;
    assert_eq!(
        (&hit["page"], &hit["ocr_confidence"]),
        (&1.into(), &serde_json::Value::Null)
    );
    let human = sillok.ok(&["search", "hypertension"]);
    assert!(human.contains("[OCR, confidence"), "{human}");

    // The status: what OCR read and how well; the huge image refused.
    let files = status(&sillok);
    let mixed = file(&files, "mixed.pdf");
    assert_eq!(mixed["status"], "indexed");
    assert_eq!(mixed["ocr"]["pages_read"], serde_json::json!([2]));
    assert_eq!(mixed["ocr"]["low_confidence_pages"], serde_json::json!([]));
    assert!(mixed["ocr"]["mean_confidence"].as_u64().is_some());
    let huge = file(&files, "huge.png");
    assert_eq!(huge["status"], "failed");
    assert!(
        huge["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("the image is too large for ocr: 30000 × 30000 pixels")),
        "{huge}"
    );
    let human = sillok.ok(&["library", "status"]);
    assert!(
        human.contains("(OCR read pages 2, mean confidence"),
        "{human}"
    );

    // Nothing is read twice.
    let out = json_lines(&sillok.ok(&["ingest", s(docs.path()), "-c", "scans", "--json"]));
    assert!(events(&out, "ocr").is_empty());
    Ok(())
}

#[test]
fn with_ocr_off_a_collection_keeps_its_scans_waiting() -> TestResult {
    let sillok = Sillok::new();
    let docs = tempfile::tempdir()?;
    let scans = rendered("ko_en_2pages.pdf", 2, 2, 500)?;
    let scan = scans.first().ok_or("no page")?;
    fs::write(docs.path().join("fax.pdf"), pdf(&[Page::Scan(scan)])?)?;

    let out = json_lines(&sillok.ok(&[
        "ingest",
        s(docs.path()),
        "-c",
        "faxes",
        "--no-ocr",
        "--json",
    ]));
    assert!(events(&out, "ocr").is_empty());
    assert_eq!(events(&out, "done")[0]["needs_ocr"], 1);
    assert_eq!(file(&status(&sillok), "fax.pdf")["status"], "needs-ocr");
    let listed = json_lines(&sillok.ok(&["collections", "list", "--json"]));
    assert_eq!(listed[0][0]["ocr"], false, "{listed:?}");
    // The switch stays off for later runs.
    let out = json_lines(&sillok.ok(&["ingest", s(docs.path()), "-c", "faxes", "--json"]));
    assert!(events(&out, "ocr").is_empty());
    assert!(search(&sillok, "metformin").is_empty());

    let said = sillok.ok(&["collections", "ocr", "faxes", "on"]);
    assert!(said.contains("OCR on for faxes"), "{said}");
    let out = json_lines(&sillok.ok(&["ingest", s(docs.path()), "-c", "faxes", "--json"]));
    assert_eq!(events(&out, "ocr").len(), 1);
    assert_eq!(file(&status(&sillok), "fax.pdf")["status"], "indexed");
    assert_eq!(search(&sillok, "metformin").len(), 1);
    let err = sillok.fails(2, &["collections", "ocr", "nope", "off"]);
    assert!(err.contains("no collection named nope"), "{err}");
    Ok(())
}

#[test]
fn a_killed_ocr_run_resumes_from_the_next_page_without_duplicates() -> TestResult {
    const PAGES: u64 = 20;
    let sillok = Sillok::new();
    let docs = tempfile::tempdir()?;
    // The first lines of 20 pages: "N쪽 0줄: 고혈압 … Line 0 of page N, English text."
    let scans = rendered("ko_en_100pages.pdf", 1, PAGES as u32, 330)?;
    let pages: Vec<Page<'_>> = scans.iter().map(|p| Page::Scan(p)).collect();
    fs::write(docs.path().join("scan.pdf"), pdf(&pages)?)?;

    let mut child = sillok
        .command()
        .args(["ingest", s(docs.path()), "-c", "scans", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut seen = 0;
    let mut total = 0;
    // Kept open until the kill, so the process never writes to a closed pipe.
    let mut lines = BufReader::new(stdout).lines();
    for line in &mut lines {
        let line: serde_json::Value = serde_json::from_str(&line?)?;
        if line["event"] == "ocr" {
            seen += 1;
            total = line["total"].as_u64().unwrap_or(0);
            if seen == 4 {
                break;
            }
        }
    }
    child.kill()?; // SIGKILL, mid-document
    child.wait()?;
    drop(lines);
    assert_eq!((seen, total), (4, PAGES), "progress counts pages");

    let read_before: BTreeSet<u64> = file(&status(&sillok), "scan.pdf")["ocr"]["pages_read"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default();
    assert!(read_before.len() >= 4, "{read_before:?}");

    let out = json_lines(&sillok.ok(&["ingest", s(docs.path()), "-c", "scans", "--json"]));
    let read_now: BTreeSet<u64> = events(&out, "ocr")
        .iter()
        .filter_map(|e| e["page"].as_u64())
        .collect();
    assert!(
        read_now.is_disjoint(&read_before),
        "pages read again: {:?}",
        read_now.intersection(&read_before).collect::<Vec<_>>()
    );
    let all: BTreeSet<u64> = read_before.union(&read_now).copied().collect();
    assert_eq!(all, (1..=PAGES).collect());
    let record = file(&status(&sillok), "scan.pdf").clone();
    assert_eq!(record["status"], "indexed", "{record}");
    assert_eq!(record["ocr_pages"], serde_json::json!([]));

    // Every page once in the index: no chunk indexed twice.
    let hits = search(&sillok, "English text");
    let keys: Vec<(u64, u64)> = hits
        .iter()
        .filter_map(|h| Some((h["page"].as_u64()?, h["chunk"].as_u64()?)))
        .collect();
    let unique: BTreeSet<(u64, u64)> = keys.iter().copied().collect();
    assert_eq!(keys.len(), unique.len(), "duplicated hits: {keys:?}");
    let pages_hit: BTreeSet<u64> = keys.iter().map(|k| k.0).collect();
    assert_eq!(pages_hit, (1..=PAGES).collect(), "{keys:?}");
    Ok(())
}
