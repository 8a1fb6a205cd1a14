//! OCR with the real tools (Debian `tesseract-ocr`, `tesseract-ocr-kor`,
//! `tesseract-ocr-eng`, `poppler-utils`, installed by `installer/dev-setup.sh`)
//! on scans made here: pages of the Korean + English fixture PDF rendered to
//! PNG by `pdftoppm` and wrapped, as pictures only, in new PDFs.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::test_support::chunk_tokenizer;
use crate::{IngestSettings, SearchRequest, TokenCounter};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
type AnyResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;
/// A run's report and the OCR events' (page, confidence).
type Ingested = (IngestReport, Vec<(u32, Option<u8>)>);

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The top `height` pixels of page `page` of fixture `pdf`, rendered at 300
/// dpi in grey, as PNG bytes.
fn rendered(pdf: &str, page: u32, height: u32) -> AnyResult<Vec<u8>> {
    rendered_as(pdf, page, height, "png")
}

/// [`rendered`] in `format`: `png`, `jpeg` or `tiff` (pdftoppm's flags;
/// it names the files `.png`, `.jpg`, `.tif`).
fn rendered_as(pdf: &str, page: u32, height: u32, format: &str) -> AnyResult<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("page");
    let page = page.to_string();
    let height = height.to_string();
    let status = Command::new("pdftoppm")
        .args(["-r", "300", "-gray", &format!("-{format}"), "-singlefile"])
        .args(["-f", &page, "-l", &page])
        .args(["-x", "0", "-y", "0", "-W", "2480", "-H", &height])
        .arg(Path::new(FIXTURES).join(pdf))
        .arg(&out)
        .status()?;
    if !status.success() {
        return Err(format!("pdftoppm failed: {status}").into());
    }
    let ext = match format {
        "jpeg" => "jpg",
        "tiff" => "tif",
        other => other,
    };
    Ok(std::fs::read(out.with_extension(ext))?)
}

/// One PDF page: a picture (an 8-bit grey or RGB, non-interlaced PNG whose
/// compressed rows PDF reads as they are, with the PNG predictor) at 300
/// dpi, or a line of Helvetica text.
pub(crate) enum Page<'a> {
    Scan(&'a [u8]),
    Text(&'a str),
}

/// A PDF of `pages`, with a correct cross-reference table.
pub(crate) fn pdf(pages: &[Page<'_>]) -> AnyResult<Vec<u8>> {
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        Vec::new(), // the page tree, once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let mut kids = Vec::new();
    for page in pages {
        let first = objects.len() + 1;
        kids.push(format!("{first} 0 R"));
        match page {
            Page::Scan(png) => {
                let (width, height, colors, data) = png_rows(png)?;
                let space = if colors == 1 {
                    "DeviceGray"
                } else {
                    "DeviceRGB"
                };
                let (w, h) = (width as f64 * 0.24, height as f64 * 0.24);
                objects.push(format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Resources << /XObject << /Im0 {} 0 R >> >> /Contents {} 0 R >>",
                    first + 1, first + 2
                ).into_bytes());
                let mut image = format!(
                    "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /{space} /BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors {colors} /BitsPerComponent 8 /Columns {width} >> /Length {} >>\nstream\n",
                    data.len()
                ).into_bytes();
                image.extend_from_slice(&data);
                image.extend_from_slice(b"\nendstream");
                objects.push(image);
                objects.push(stream(&format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q")));
            }
            Page::Text(text) => {
                objects.push(format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    first + 1
                ).into_bytes());
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

/// A PNG signature and header only: the parser never reads further.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
    out
}

fn stream(content: &str) -> Vec<u8> {
    format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
    .into_bytes()
}

/// Width, height, colour components and the joined IDAT data of an 8-bit
/// grey or RGB PNG (`pdftoppm -gray` writes RGB).
fn png_rows(png: &[u8]) -> AnyResult<(u32, u32, u32, Vec<u8>)> {
    let mut at = 8;
    let (mut width, mut height, mut colors, mut data) = (0, 0, 1, Vec::new());
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into()?) as usize;
        let kind = &png[at + 4..at + 8];
        let body = png.get(at + 8..at + 8 + len).ok_or("cut short")?;
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into()?);
                height = u32::from_be_bytes(body[4..8].try_into()?);
                colors = match body[9] {
                    0 => 1,
                    2 => 3,
                    _ => return Err("not a grey or rgb png".into()),
                };
                if body[8] != 8 || body[12] != 0 {
                    return Err("not an 8-bit, non-interlaced png".into());
                }
            }
            b"IDAT" => data.extend_from_slice(body),
            _ => {}
        }
        at += 12 + len;
    }
    Ok((width, height, colors, data))
}

/// `ko_en_2pages.pdf` page 1 ("고혈압 진료 지침 … hypertension") and page 2
/// ("당뇨병 … metformin") as scans.
fn scans() -> AnyResult<(Vec<u8>, Vec<u8>)> {
    Ok((
        rendered("ko_en_2pages.pdf", 1, 500)?,
        rendered("ko_en_2pages.pdf", 2, 500)?,
    ))
}

fn settings() -> IngestSettings {
    IngestSettings::default()
}

fn counter() -> Result<TokenCounter> {
    TokenCounter::from_file(&chunk_tokenizer())
}

/// Ingests `docs` into collection `c`, collecting the OCR events.
fn ingest(
    library: &Library,
    docs: &Path,
    settings: IngestSettings,
    stop: &AtomicBool,
) -> AnyResult<Ingested> {
    let mut writer = library.writer(counter()?, settings)?;
    let mut pages = Vec::new();
    let report = writer.ingest_until("c", &[docs.to_owned()], stop, &mut |event| {
        if let IngestEvent::Ocr {
            page, confidence, ..
        } = event
        {
            pages.push((*page, *confidence));
        }
    })?;
    drop(writer);
    library.reload()?;
    Ok((report, pages))
}

fn search(library: &Library, query: &str) -> Result<Vec<crate::Hit>> {
    Ok(library
        .search(&SearchRequest {
            query: query.into(),
            limit: 20,
            ..Default::default()
        })?
        .hits)
}

fn status(library: &Library) -> Result<Vec<(String, FileStatus, Vec<u32>)>> {
    Ok(library
        .status(None)?
        .into_iter()
        .map(|r| (file_name(&r.path), r.status, r.ocr_pages))
        .collect())
}

#[test]
fn scans_pdf_pages_and_images_are_read_and_searchable() -> TestResult {
    let (page1, page2) = scans()?;
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(docs.path().join("scan.pdf"), pdf(&[Page::Scan(&page2)])?)?;
    std::fs::write(
        docs.path().join("mixed.pdf"),
        pdf(&[
            Page::Text("Amlodipine lowers blood pressure in older adults."),
            Page::Scan(&page1),
        ])?,
    )?;
    std::fs::write(docs.path().join("photo.png"), &page2)?;
    let library = Library::open(data.path())?;
    let (report, pages) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!(
        (
            report.indexed,
            report.needs_ocr,
            report.ocr_pages,
            report.ocr_read
        ),
        (3, 0, 0, 3),
        "{report:?}"
    );
    assert_eq!(pages.len(), 3);
    assert!(
        pages
            .iter()
            .all(|(_, c)| c.is_some_and(|c| c >= LOW_OCR_CONFIDENCE)),
        "{pages:?}"
    );
    assert!(
        status(&library)?
            .iter()
            .all(|(_, s, p)| *s == FileStatus::Indexed && p.is_empty())
    );

    // Korean and English words on the scanned pages are found, with the
    // page's confidence; the text page has none.
    let hits = search(&library, "metformin")?;
    let mut found: Vec<String> = hits.iter().map(|h| file_name(&h.path)).collect();
    found.sort();
    assert_eq!(found, ["photo.png", "scan.pdf"]);
    assert!(
        hits.iter()
            .all(|h| h.page == 1 && h.ocr_confidence.is_some())
    );
    let hits = search(&library, "당뇨병")?;
    assert!(
        hits.iter().any(|h| h.path.ends_with("scan.pdf")),
        "{hits:?}"
    );
    let hits = search(&library, "hypertension")?;
    let hit = hits.first().ok_or("no hit for hypertension")?;
    assert_eq!(
        (file_name(&hit.path), hit.page),
        ("mixed.pdf".to_owned(), 2)
    );
    assert!(hit.ocr_confidence.is_some() && !hit.is_low_confidence());
    assert!(!search(&library, "고혈압")?.is_empty());
    let hit = search(&library, "amlodipine")?;
    let hit = hit.first().ok_or("no hit for the text page")?;
    assert_eq!((hit.page, hit.ocr_confidence), (1, None));

    // The page as indexed: spans of hits on a read page index its text.
    let hits = search(&library, "hypertension")?;
    let hit = hits.first().ok_or("no hit")?;
    let bytes = std::fs::read(&hit.path)?;
    let doc = library.parse_as_indexed("mixed.pdf", &bytes, &Limits::default())??;
    let text = doc
        .pages
        .iter()
        .find(|p| p.number == 2)
        .map(ParsedPage::text)
        .ok_or("no page 2")?;
    let cited: String = text
        .chars()
        .skip(hit.span.start)
        .take(hit.span.end - hit.span.start)
        .collect();
    assert_eq!(cited, hit.text);

    // What the status shows.
    let ocr = library.ocr_documents()?;
    let read: Vec<Vec<u32>> = ocr.values().map(DocumentOcr::read_pages).collect();
    assert_eq!(read.len(), 3);
    assert!(ocr.values().all(|d| d.low_confidence_pages().is_empty()));

    // A second run reads nothing again.
    let (report, pages) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!((report.unchanged, report.ocr_read, pages.len()), (3, 0, 0));
    Ok(())
}

#[test]
fn jpeg_and_tiff_scans_are_read() -> TestResult {
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(
        docs.path().join("fax.jpg"),
        rendered_as("ko_en_2pages.pdf", 2, 500, "jpeg")?,
    )?;
    std::fs::write(
        docs.path().join("fax.tif"),
        rendered_as("ko_en_2pages.pdf", 1, 500, "tiff")?,
    )?;
    let library = Library::open(data.path())?;
    let (report, pages) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!((report.indexed, report.ocr_read), (2, 2), "{report:?}");
    assert!(pages.iter().all(|(_, c)| c.is_some()), "{pages:?}");
    let hits = search(&library, "metformin")?;
    assert_eq!(
        hits.first().map(|h| file_name(&h.path)).as_deref(),
        Some("fax.jpg")
    );
    let hits = search(&library, "hypertension")?;
    assert_eq!(
        hits.first().map(|h| file_name(&h.path)).as_deref(),
        Some("fax.tif")
    );
    Ok(())
}

#[test]
fn with_ocr_off_pages_wait_and_are_read_once_it_is_on() -> TestResult {
    let (_, page2) = scans()?;
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    let scan = pdf(&[Page::Scan(&page2), Page::Scan(&page2)])?;
    std::fs::write(docs.path().join("scan.pdf"), &scan)?;
    // A copy: read once, recorded as a duplicate once read.
    std::fs::write(docs.path().join("scan copy.pdf"), &scan)?;
    let library = Library::open(data.path())?;
    library
        .writer(counter()?, settings())?
        .set_collection_ocr("c", false)?;
    let (report, pages) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!((report.needs_ocr, pages.len()), (2, 0), "{report:?}");
    assert!(
        status(&library)?
            .iter()
            .all(|(_, s, _)| *s == FileStatus::NeedsOcr)
    );
    assert!(search(&library, "metformin")?.is_empty());
    assert!(library.ocr_documents()?.is_empty());
    assert!(!library.collections()?.iter().any(|c| c.ocr));

    library
        .writer(counter()?, settings())?
        .set_collection_ocr("c", true)?;
    let (report, pages) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!(pages.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(report.ocr_read, 2);
    let statuses: Vec<(String, &str)> = status(&library)?
        .iter()
        .map(|(n, s, _)| (n.clone(), s.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("scan copy.pdf".to_owned(), "indexed"),
            ("scan.pdf".to_owned(), "duplicate")
        ]
    );
    let hits = search(&library, "metformin")?;
    assert_eq!(
        hits.iter().map(|h| h.page).collect::<Vec<_>>().len(),
        2,
        "one hit per page, no copies: {hits:?}"
    );
    Ok(())
}

#[test]
fn a_stopped_run_goes_on_from_the_next_page() -> TestResult {
    let (page1, page2) = scans()?;
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(
        docs.path().join("scan.pdf"),
        pdf(&[Page::Scan(&page1), Page::Scan(&page2), Page::Scan(&page1)])?,
    )?;
    let library = Library::open(data.path())?;
    let stop = AtomicBool::new(false);
    let mut writer = library.writer(counter()?, settings())?;
    let mut first = Vec::new();
    writer.ingest_until("c", &[docs.path().to_owned()], &stop, &mut |event| {
        if let IngestEvent::Ocr { page, .. } = event {
            first.push(*page);
            stop.store(true, Ordering::Relaxed);
        }
    })?;
    drop(writer);
    library.reload()?;
    assert_eq!(first, [1]);
    // What was read is searchable already; the rest waits.
    assert_eq!(
        status(&library)?,
        [("scan.pdf".to_owned(), FileStatus::Indexed, vec![2, 3])]
    );
    assert_eq!(search(&library, "hypertension")?.len(), 1);
    assert!(search(&library, "metformin")?.is_empty());

    let (report, pages) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!(pages.iter().map(|p| p.0).collect::<Vec<_>>(), [2, 3]);
    assert_eq!((report.unchanged, report.ocr_read), (1, 2));
    assert_eq!(
        status(&library)?,
        [("scan.pdf".to_owned(), FileStatus::Indexed, vec![])]
    );
    let pages_hit: Vec<u32> = search(&library, "hypertension")?
        .iter()
        .map(|h| h.page)
        .collect();
    assert_eq!(pages_hit.len(), 2, "pages 1 and 3 once each: {pages_hit:?}");
    assert_eq!(search(&library, "metformin")?.len(), 1);
    Ok(())
}

/// Files under `dir` (recursively) that hold a document or a page image,
/// or sit in a work folder.
fn scratch_files(dir: &Path) -> AnyResult<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.to_string_lossy().into_owned();
        if path.is_dir() {
            if name.ends_with("ocr-work") {
                found.push(name);
            } else {
                found.extend(scratch_files(&path)?);
            }
        } else {
            let bytes = std::fs::read(&path)?;
            if bytes.starts_with(b"%PDF") || bytes.starts_with(b"\x89PNG") {
                found.push(name);
            }
        }
    }
    Ok(found)
}

#[test]
fn ocr_leaves_nothing_of_the_document_on_disk_while_it_runs() -> TestResult {
    let (page1, page2) = scans()?;
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(
        docs.path().join("scan.pdf"),
        pdf(&[Page::Scan(&page1), Page::Scan(&page2)])?,
    )?;
    std::fs::write(docs.path().join("photo.png"), &page2)?;
    let library = Library::open(data.path())?;
    // What a killed run of an older version left goes.
    std::fs::create_dir(data.path().join("ocr-work"))?;
    std::fs::write(data.path().join("ocr-work/page.png"), &page1)?;
    let mut writer = library.writer(counter()?, settings())?;
    let mut checks = Vec::new();
    writer.ingest("c", &[docs.path().to_owned()], &mut |event| {
        if let IngestEvent::Ocr { page, .. } = event {
            // Between pages: the next page's tools start right after.
            checks.push((*page, scratch_files(data.path()).map_err(|e| e.to_string())));
        }
    })?;
    drop(writer);
    library.reload()?;
    assert_eq!(checks.len(), 3, "two pdf pages and the image: {checks:?}");
    assert!(
        checks
            .iter()
            .all(|(_, found)| found.as_ref().is_ok_and(Vec::is_empty)),
        "{checks:?}"
    );
    assert!(scratch_files(data.path())?.is_empty());
    // The text still comes back right through the pipes.
    let mut found: Vec<String> = search(&library, "metformin")?
        .iter()
        .map(|h| file_name(&h.path))
        .collect();
    found.sort();
    assert_eq!(found, ["photo.png", "scan.pdf"]);
    assert!(!search(&library, "고혈압")?.is_empty());
    Ok(())
}

#[test]
fn a_vanished_scan_is_erased_in_the_same_pass() -> TestResult {
    let (_, page2) = scans()?;
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(docs.path().join("scan.pdf"), pdf(&[Page::Scan(&page2)])?)?;
    std::fs::write(
        docs.path().join("keep.txt"),
        "Amlodipine lowers blood pressure.",
    )?;
    let library = Library::open(data.path())?;
    let (report, _) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!((report.indexed, report.ocr_read), (2, 1), "{report:?}");
    let mut pending = library.pending_embeddings("m")?;
    let vectors: Vec<(String, Vec<f32>)> = pending
        .next_batch(100)?
        .into_iter()
        .map(|c| (c.chunk_hash, vec![1.0, 0.0]))
        .collect();
    library.store_embeddings("m", &vectors)?;
    let vector_rows =
        || crate::vectors::VectorStore::open(library.dir(), library.db_key())?.hashes("m");
    assert_eq!(vector_rows()?.len(), 2);
    assert_eq!(library.ocr_documents()?.len(), 1);
    assert_eq!(search(&library, "metformin")?.len(), 1);

    std::fs::remove_file(docs.path().join("scan.pdf"))?;
    let (report, _) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!((report.removed, report.unchanged), (1, 1), "{report:?}");
    // No embedding or OCR pass ran: the ingestion pass erased it all.
    assert!(search(&library, "metformin")?.is_empty());
    assert_eq!(vector_rows()?.len(), 1, "the scan's vector is gone");
    assert!(library.ocr_documents()?.is_empty(), "its OCR text is gone");
    assert_eq!(
        status(&library)?,
        [("keep.txt".to_owned(), FileStatus::Indexed, vec![])],
        "its journal row is gone"
    );
    assert_eq!(search(&library, "amlodipine")?.len(), 1);
    Ok(())
}

#[test]
fn without_the_tools_scans_wait_with_a_clear_reason() -> TestResult {
    let (_, page2) = scans()?;
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(docs.path().join("scan.pdf"), pdf(&[Page::Scan(&page2)])?)?;
    std::fs::write(docs.path().join("photo.png"), &page2)?;
    let library = Library::open(data.path())?;
    let mut settings = settings();
    settings.ocr.tool_path = Some(docs.path().as_os_str().to_owned());
    let (report, _) = ingest(&library, docs.path(), settings, &AtomicBool::new(false))?;
    let reason = report.ocr_unavailable.ok_or("no reason given")?;
    assert!(reason.starts_with("OCR tools not installed"), "{reason}");
    assert!(reason.contains("apt install tesseract-ocr"), "{reason}");
    assert_eq!(
        (report.needs_ocr, report.ocr_pages),
        (2, 1),
        "the image's page"
    );
    assert!(
        status(&library)?
            .iter()
            .all(|(_, s, _)| *s == FileStatus::NeedsOcr)
    );
    let notes: Vec<Option<String>> = library
        .ocr_documents()?
        .into_values()
        .map(|d| d.note)
        .collect();
    assert_eq!(notes, [Some(reason.clone()), Some(reason)]);
    Ok(())
}

#[test]
fn a_page_over_its_time_limit_fails_once_and_is_not_retried() -> TestResult {
    let (page1, _) = scans()?;
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(docs.path().join("scan.pdf"), pdf(&[Page::Scan(&page1)])?)?;
    let library = Library::open(data.path())?;
    let mut settings = settings();
    settings.ocr.page_timeout = Duration::from_millis(1);
    let (report, pages) = ingest(
        &library,
        docs.path(),
        settings.clone(),
        &AtomicBool::new(false),
    )?;
    assert_eq!((report.ocr_failed, report.needs_ocr), (1, 1), "{report:?}");
    assert_eq!(pages, [(1, None)]);
    let ocr = library.ocr_documents()?;
    let failed: Vec<(u32, String)> = ocr
        .values()
        .flat_map(|d| d.failed_pages())
        .map(|(p, why)| (p, why.to_owned()))
        .collect();
    assert_eq!(
        failed,
        [(
            1,
            "rendering the page took longer than 0 s and was stopped".to_owned()
        )]
    );
    let (_, pages) = ingest(&library, docs.path(), settings, &AtomicBool::new(false))?;
    assert!(pages.is_empty());
    assert_eq!(
        status(&library)?,
        [("scan.pdf".to_owned(), FileStatus::NeedsOcr, vec![1])]
    );
    Ok(())
}

#[test]
fn a_huge_image_is_refused_without_ocr() -> TestResult {
    let docs = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(docs.path().join("huge.png"), png_header(30_000, 30_000))?;
    let library = Library::open(data.path())?;
    let (report, pages) = ingest(&library, docs.path(), settings(), &AtomicBool::new(false))?;
    assert_eq!((report.failed, pages.len()), (1, 0));
    let records = library.status(None)?;
    let Some(FileStatus::Failed { reason }) = records.first().map(|r| &r.status) else {
        return Err(format!("{records:?}").into());
    };
    assert!(
        reason.starts_with("the image is too large for ocr"),
        "{reason}"
    );
    Ok(())
}

#[test]
fn merged_pages_keep_text_layers_and_drop_blank_scans() {
    let doc = ParsedDocument {
        kind: DocKind::Pdf,
        title: None,
        pages: vec![
            ParsedPage::new(1, Vec::new()),
            ParsedPage::new(
                2,
                vec![crate::parse::Block {
                    kind: crate::parse::BlockKind::Paragraph,
                    text: "text layer".into(),
                }],
            ),
            ParsedPage::new(3, Vec::new()),
            ParsedPage::new(4, Vec::new()),
        ],
    };
    let read = |text: &str, confidence| PageResult {
        text: text.to_owned(),
        confidence,
        failure: None,
    };
    let results: BTreeMap<u32, PageResult> = [
        (1, read("첫 문단\n둘째 줄\n\n다음 문단", Some(88))),
        (2, read("ignored: page 2 has a text layer", Some(10))),
        (3, read("", None)),
    ]
    .into();
    let Ok(merged) = merge(Ok(doc), &results, None) else {
        panic!("merge failed");
    };
    let pages: Vec<(u32, String, Option<u8>)> = merged
        .pages
        .iter()
        .map(|p| (p.number, p.text(), p.meta.ocr_confidence))
        .collect();
    assert_eq!(
        pages,
        [
            (1, "첫 문단\n둘째 줄\n다음 문단".to_owned(), Some(88)),
            (2, "text layer".to_owned(), None),
            (4, String::new(), None),
        ]
    );
    assert_eq!(merged.pages_needing_ocr(), [4]);
    // A PDF without a text layer: its pages once OCR has counted them.
    let Ok(scan) = merge(Err(ParseFailure::NeedsOcr), &results, Some(5)) else {
        panic!("merge failed");
    };
    assert_eq!(scan.pages_needing_ocr(), [4, 5]);
    assert_eq!(
        merge(Err(ParseFailure::NeedsOcr), &BTreeMap::new(), None),
        Err(ParseFailure::NeedsOcr)
    );
}
