//! The sealed format round-trips at every size and range, and every kind of
//! tampering fails authentication; then a sealed library against a
//! plaintext one on the sample library.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use tantivy::directory::TerminatingWrite;
use tantivy::{Directory, HasLen, TantivyError};

use super::*;
use crate::library::Storage;
use crate::test_support::chunk_tokenizer;
use crate::{Error, IngestReport, IngestSettings, Library, SearchRequest, TokenCounter};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// 1 KiB blocks: many blocks from little data.
const SMALL_BLOCKS: u8 = 10;
const SMALL: usize = 1 << SMALL_BLOCKS;

fn key(byte: u8) -> IndexKey {
    IndexKey::from_bytes(&[byte; KEY_LEN])
}

fn open(path: &Path, cache: usize) -> crate::Result<SealedDirectory> {
    SealedDirectory::open(path, &key(7), cache, SMALL_BLOCKS)
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 7)) as u8)
        .collect()
}

/// Writes `bytes` in uneven pieces, as tantivy's serializers do.
fn write(dir: &SealedDirectory, name: &str, bytes: &[u8]) -> TestResult {
    let mut writer = dir.open_write(Path::new(name))?;
    let mut rest = bytes;
    let mut piece = 1;
    while !rest.is_empty() {
        let n = piece.min(rest.len());
        writer.write_all(&rest[..n])?;
        rest = &rest[n..];
        piece = piece * 3 % 1500 + 1;
    }
    writer.flush()?;
    writer.terminate()?;
    Ok(())
}

/// What reading a file whole through a fresh handle gave.
#[derive(Debug, PartialEq)]
enum Outcome {
    Read(Vec<u8>),
    Damaged(PathBuf),
    Failed(String),
}

fn classify(err: TantivyError) -> Outcome {
    match damaged_file(&err) {
        Some(file) => Outcome::Damaged(file),
        None => Outcome::Failed(err.to_string()),
    }
}

fn read_back(dir: &SealedDirectory, name: &str) -> Outcome {
    let slice = match dir.open_read(Path::new(name)) {
        Ok(slice) => slice,
        Err(e) => return classify(e.into()),
    };
    match slice.read_bytes() {
        Ok(bytes) => Outcome::Read(bytes.as_slice().to_vec()),
        Err(e) => classify(e.into()),
    }
}

/// Puts `contents` in place of `name` and reads it back with a fresh
/// directory (so no block cached from before can answer).
fn replace_and_read(
    root: &Path,
    name: &str,
    contents: &[u8],
) -> Result<Outcome, Box<dyn std::error::Error>> {
    std::fs::write(root.join(name), contents)?;
    Ok(read_back(&open(root, 1 << 20)?, name))
}

fn damaged_as(name: &str) -> Outcome {
    Outcome::Damaged(PathBuf::from(name))
}

#[test]
fn round_trips_at_every_size_and_range() -> TestResult {
    let tmp = tempfile::tempdir()?;
    for cache in [0, 3 * SMALL, 1 << 20] {
        let dir = open(tmp.path(), cache)?;
        for len in [
            0,
            1,
            SMALL - 1,
            SMALL,
            SMALL + 1,
            2 * SMALL,
            3000,
            5 * SMALL + 1,
        ] {
            let name = format!("f{len}-{cache}.bin");
            let bytes = data(len);
            write(&dir, &name, &bytes)?;
            let on_disk = std::fs::metadata(tmp.path().join(&name))?.len();
            assert_eq!(on_disk as usize, sealed_len(len, SMALL_BLOCKS));
            let file = dir.open_read(Path::new(&name))?;
            assert_eq!(file.len(), len);
            assert_eq!(file.read_bytes()?.as_slice(), &bytes[..]);
            for start in (0..=len).step_by(97) {
                for end in (start..=len).step_by(211) {
                    assert_eq!(
                        file.read_bytes_slice(start..end)?.as_slice(),
                        &bytes[start..end],
                        "{len} bytes, {start}..{end}"
                    );
                }
            }
            assert!(dir.stats().cache_bytes <= cache);
            // A read beyond the end is an error, never a panic.
            let handle = dir.get_file_handle(Path::new(&name))?;
            assert!(handle.read_bytes(0..len + 1).is_err());
        }
    }
    Ok(())
}

#[test]
fn atomic_files_are_sealed_whole() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = open(tmp.path(), 1 << 20)?;
    for len in [0, 10, SMALL, 4000] {
        let bytes = data(len);
        dir.atomic_write(Path::new("meta.json"), &bytes)?;
        assert_eq!(dir.atomic_read(Path::new("meta.json"))?, bytes);
        let raw = std::fs::read(tmp.path().join("meta.json"))?;
        assert!(looks_sealed(&raw));
        assert_eq!(raw.len(), sealed_len(len, SMALL_BLOCKS));
    }
    let mut raw = std::fs::read(tmp.path().join("meta.json"))?;
    raw[HEADER_LEN + 5] ^= 1;
    std::fs::write(tmp.path().join("meta.json"), &raw)?;
    let err = TantivyError::from(
        open(tmp.path(), 0)?
            .atomic_read(Path::new("meta.json"))
            .err()
            .ok_or("read")?,
    );
    assert_eq!(damaged_file(&err), Some(PathBuf::from("meta.json")));
    Ok(())
}

#[test]
fn nothing_written_is_readable_on_disk() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = open(tmp.path(), 1 << 20)?;
    let text = "zqxvmarker 홍길동표식 ".repeat(300);
    write(&dir, "a.store", text.as_bytes())?;
    write(&dir, "b.store", text.as_bytes())?;
    dir.atomic_write(Path::new("meta.json"), text.as_bytes())?;
    let a = std::fs::read(tmp.path().join("a.store"))?;
    let b = std::fs::read(tmp.path().join("b.store"))?;
    assert_ne!(
        a[HEADER_LEN..],
        b[HEADER_LEN..],
        "each file gets its own nonces"
    );
    for entry in std::fs::read_dir(tmp.path())? {
        let raw = std::fs::read(entry?.path())?;
        for marker in ["zqxvmarker", "홍길동"] {
            assert!(!contains(&raw, marker.as_bytes()));
        }
    }
    assert_eq!(read_back(&dir, "a.store"), Outcome::Read(text.into_bytes()));
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn every_edited_byte_is_detected() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let bytes = data(2 * SMALL + 452);
    write(&open(tmp.path(), 0)?, "x.idx", &bytes)?;
    let sealed = std::fs::read(tmp.path().join("x.idx"))?;
    for at in 0..sealed.len() {
        let mut edited = sealed.clone();
        edited[at] ^= 0x20;
        assert_eq!(
            replace_and_read(tmp.path(), "x.idx", &edited)?,
            damaged_as("x.idx"),
            "byte {at}"
        );
    }
    assert_eq!(
        replace_and_read(tmp.path(), "x.idx", &sealed)?,
        Outcome::Read(bytes)
    );
    Ok(())
}

#[test]
fn truncated_and_extended_files_are_detected() -> TestResult {
    let tmp = tempfile::tempdir()?;
    write(&open(tmp.path(), 0)?, "x.pos", &data(3 * SMALL))?;
    let sealed = std::fs::read(tmp.path().join("x.pos"))?;
    for len in 0..sealed.len() {
        assert_eq!(
            replace_and_read(tmp.path(), "x.pos", &sealed[..len])?,
            damaged_as("x.pos"),
            "cut to {len} bytes"
        );
    }
    for extra in [1, TAG_LEN, TAG_LEN + 1, SMALL + TAG_LEN] {
        let mut longer = sealed.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        assert_eq!(
            replace_and_read(tmp.path(), "x.pos", &longer)?,
            damaged_as("x.pos"),
            "{extra} bytes added"
        );
    }
    Ok(())
}

#[test]
fn moved_blocks_and_swapped_files_are_detected() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = open(tmp.path(), 0)?;
    write(&dir, "a.store", &data(3 * SMALL + 100))?;
    write(&dir, "b.store", &data(3 * SMALL + 100))?;
    let a = std::fs::read(tmp.path().join("a.store"))?;
    let b = std::fs::read(tmp.path().join("b.store"))?;
    let stride = SMALL + TAG_LEN;
    let block = |file: &[u8], i: usize| {
        file[HEADER_LEN + i * stride..HEADER_LEN + (i + 1) * stride].to_vec()
    };
    let with_blocks = |blocks: &[Vec<u8>], tail: &[u8]| {
        let mut out = a[..HEADER_LEN].to_vec();
        for b in blocks {
            out.extend_from_slice(b);
        }
        out.extend_from_slice(tail);
        out
    };
    let tail = &a[HEADER_LEN + 3 * stride..];
    let cases = [
        (
            "two blocks swapped",
            with_blocks(&[block(&a, 1), block(&a, 0), block(&a, 2)], tail),
        ),
        (
            "a block repeated",
            with_blocks(&[block(&a, 0), block(&a, 0), block(&a, 2)], tail),
        ),
        (
            "a block left out",
            with_blocks(&[block(&a, 0), block(&a, 2)], tail),
        ),
        (
            "another file's block",
            with_blocks(&[block(&a, 0), block(&b, 1), block(&a, 2)], tail),
        ),
        (
            "the last block marked full",
            with_blocks(&[block(&a, 0), block(&a, 1)], &block(&a, 2)),
        ),
        ("another file under this name", b.clone()),
    ];
    for (what, contents) in cases {
        assert_eq!(
            replace_and_read(tmp.path(), "a.store", &contents)?,
            damaged_as("a.store"),
            "{what}"
        );
    }
    // Two files swapped: each fails under the other's name.
    std::fs::write(tmp.path().join("a.store"), &b)?;
    std::fs::write(tmp.path().join("b.store"), &a)?;
    let fresh = open(tmp.path(), 0)?;
    assert_eq!(read_back(&fresh, "a.store"), damaged_as("a.store"));
    assert_eq!(read_back(&fresh, "b.store"), damaged_as("b.store"));
    Ok(())
}

#[test]
fn a_wrong_key_is_told_apart_from_damage() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = open(tmp.path(), 0)?;
    dir.atomic_write(Path::new("meta.json"), b"{}")?;
    drop(dir);
    let wrong = SealedDirectory::open(tmp.path(), &key(8), 0, SMALL_BLOCKS);
    assert!(matches!(wrong, Err(Error::WrongKey)), "{wrong:?}");
    assert!(open(tmp.path(), 0).is_ok());
    // Without its key check, a sealed index is damaged, not new.
    std::fs::remove_file(tmp.path().join(KEY_CHECK_FILE))?;
    let r = open(tmp.path(), 0);
    assert!(
        matches!(&r, Err(Error::Tampered { file }) if file == Path::new(KEY_CHECK_FILE)),
        "{r:?}"
    );
    // A plaintext index is never taken for a new sealed one.
    std::fs::write(tmp.path().join("meta.json"), b"{}")?;
    assert!(matches!(open(tmp.path(), 0), Err(Error::NotEncrypted)));
    assert_eq!(sealing_of(tmp.path())?, Sealing::Plain);
    Ok(())
}

#[test]
fn the_block_cache_stays_within_its_budget() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let budget = 4 * SMALL + 100;
    let dir = open(tmp.path(), budget)?;
    let bytes = data(64 * SMALL);
    write(&dir, "big.idx", &bytes)?;
    let file = dir.open_read(Path::new("big.idx"))?;
    let mut at = 12345usize;
    for _ in 0..500 {
        at = (at * 7919 + 13) % (bytes.len() - 700);
        let len = at % 700;
        assert_eq!(
            file.read_bytes_slice(at..at + len)?.as_slice(),
            &bytes[at..at + len]
        );
        let stats = dir.stats();
        assert!(stats.cache_bytes <= budget, "{stats:?}");
        assert!(stats.cache_blocks <= 4, "{stats:?}");
    }
    // A cached block is not decrypted again.
    file.read_bytes_slice(10..20)?;
    let before = dir.stats();
    file.read_bytes_slice(30..40)?;
    let after = dir.stats();
    assert_eq!(after.decrypted_bytes, before.decrypted_bytes);
    assert_eq!(after.hits, before.hits + 1);
    // A read far larger than the cache does not flush it.
    assert_eq!(file.read_bytes()?.as_slice(), &bytes[..]);
    let whole = dir.stats();
    assert_eq!(whole.cache_bytes, after.cache_bytes);
    assert!(whole.decrypted_bytes >= after.decrypted_bytes + bytes.len() as u64 - 5 * SMALL as u64);
    Ok(())
}

#[test]
fn a_damaged_block_surfaces_as_tampered() {
    let io = || damaged(Path::new("a.idx"));
    for err in [
        TantivyError::from(io()),
        TantivyError::from(OpenReadError::wrap_io_error(io(), PathBuf::from("a.idx"))),
    ] {
        let err = Error::from(err);
        assert!(
            matches!(&err, Error::Tampered { file } if file == Path::new("a.idx")),
            "{err:?}"
        );
        assert!(err.to_string().contains("rebuild"), "{err}");
    }
    let other = Error::from(TantivyError::from(io::Error::other("disk on fire")));
    assert!(matches!(other, Error::Tantivy(_)));
}

// ---- The library, sealed ---------------------------------------------------

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/library")
}

/// The sample QA set's keywords, plus a few English words and a phrase.
fn queries() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let qa =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/qa.jsonl"))?;
    let mut queries = BTreeSet::new();
    for line in qa.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line)?;
        if let Some(keyword) = entry["keyword"].as_str() {
            queries.insert(keyword.to_owned());
        }
    }
    for q in [
        "amlodipine",
        "hypertension",
        "\"blood pressure\"",
        "환자 혈압",
        "losartan 50 mg",
    ] {
        queries.insert(q.to_owned());
    }
    Ok(queries.into_iter().collect())
}

fn sealed_storage(cache_bytes: usize) -> Storage {
    Storage::Sealed {
        key: key(7),
        cache_bytes,
        block_log2: SMALL_BLOCKS,
    }
}

fn ingest(library: &Library, docs: &Path) -> crate::Result<IngestReport> {
    let counter = TokenCounter::from_file(&chunk_tokenizer())?;
    let mut writer = library.writer(counter, IngestSettings::default())?;
    let report = writer.ingest("c", &[docs.to_owned()], &mut |_| {})?;
    drop(writer);
    library.reload()?;
    Ok(report)
}

/// One query's hits as what a user sees of them.
type Seen = Vec<(String, u32, std::ops::Range<usize>, String)>;

fn search(library: &Library, query: &str) -> crate::Result<Seen> {
    Ok(library
        .search(&SearchRequest {
            query: query.to_owned(),
            limit: 10,
            ..Default::default()
        })?
        .hits
        .into_iter()
        .map(|h| (h.path, h.page, h.span, h.snippet))
        .collect())
}

fn search_all(library: &Library, queries: &[String]) -> crate::Result<Vec<Seen>> {
    queries.iter().map(|q| search(library, q)).collect()
}

#[test]
fn a_sealed_library_finds_what_a_plaintext_one_finds() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let queries = queries()?;
    let plain = Library::open(&tmp.path().join("plain"))?;
    let report = ingest(&plain, &samples())?;
    let budget = 256 << 10;
    let sealed = Library::open_with(&tmp.path().join("sealed"), &sealed_storage(budget))?;
    assert_eq!(ingest(&sealed, &samples())?, report);
    assert!(report.indexed > 20, "{report:?}");

    let expected = search_all(&plain, &queries)?;
    assert!(expected.iter().filter(|hits| !hits.is_empty()).count() >= queries.len() / 2);
    assert_eq!(search_all(&sealed, &queries)?, expected);
    let stats = sealed.sealed_stats().ok_or("sealed")?;
    assert!(
        stats.decrypted_bytes > 0 && stats.cache_bytes <= budget,
        "{stats:?}"
    );
    assert!(plain.sealed_stats().is_none());
    assert_eq!(sealed.verify_index()?, Vec::<PathBuf>::new());
    // A second pass through the sealed writer (recovery reads the terms)
    // finds nothing to do.
    assert_eq!(
        ingest(&sealed, &samples())?.unchanged,
        report.indexed + report.duplicates + report.failed
    );
    drop(sealed);

    // Reopened with the product's settings (64 KiB blocks for new files,
    // any block size read), cold cache: the same hits.
    let sealed = Library::open_sealed(&tmp.path().join("sealed"), &key(7))?;
    assert_eq!(search_all(&sealed, &queries)?, expected);
    Ok(())
}

#[test]
fn the_index_folder_holds_no_plaintext() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs)?;
    std::fs::write(
        docs.join("note.txt"),
        "zqxvmarker: 홍길동표식 환자는 zqxvmarker 고혈압으로 내원하였다. 홍길동표식 혈압 150/95.",
    )?;
    std::fs::copy(
        samples().join("patients/진료기록_가상환자.txt"),
        docs.join("rrn.txt"),
    )?;
    let mut found = Vec::new();
    for sealed in [false, true] {
        let dir = tmp.path().join(if sealed { "sealed" } else { "plain" });
        let library = if sealed {
            Library::open_sealed(&dir, &key(3))?
        } else {
            Library::open(&dir)?
        };
        ingest(&library, &docs)?;
        assert!(!search(&library, "zqxvmarker")?.is_empty());
        assert!(!search(&library, "홍길동표식")?.is_empty());
        drop(library);
        let mut hits = Vec::new();
        for entry in walkdir::WalkDir::new(dir.join("tantivy")) {
            let entry = entry?;
            if !entry.file_type().is_file() {
                continue;
            }
            let raw = std::fs::read(entry.path())?;
            for marker in ["zqxvmarker", "홍길동", "900101-1234567"] {
                if contains(&raw, marker.as_bytes()) {
                    hits.push((entry.path().to_owned(), marker));
                }
            }
        }
        found.push(hits);
    }
    assert!(
        !found[0].is_empty(),
        "the plaintext index shows the markers"
    );
    assert_eq!(found[1], Vec::new(), "the sealed index shows none");
    Ok(())
}

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) -> TestResult {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry?;
        let target = to.join(entry.path().strip_prefix(from)?);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Opens the sealed library, runs every query and verifies the index;
/// the first error, or `None`. Hits that come back before it must be the
/// untouched index's: nothing altered is ever returned.
fn first_error(
    dir: &Path,
    queries: &[String],
    expected: &[Seen],
) -> Result<Option<Error>, Box<dyn std::error::Error>> {
    let library = match Library::open_sealed(dir, &key(7)) {
        Ok(library) => library,
        Err(e) => return Ok(Some(e)),
    };
    for (query, expected) in queries.iter().zip(expected) {
        match search(&library, query) {
            Ok(hits) => assert_eq!(&hits, expected, "{query}"),
            Err(e) => return Ok(Some(e)),
        }
    }
    match library.verify_index() {
        Ok(damaged) if damaged.is_empty() => Ok(None),
        Ok(damaged) => Err(format!("crc failures only: {damaged:?}").into()),
        Err(e) => Ok(Some(e)),
    }
}

#[test]
fn tampering_with_any_index_file_is_reported_as_corruption() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let queries = queries()?;
    let original = tmp.path().join("original");
    let library = Library::open_with(&original, &sealed_storage(1 << 20))?;
    ingest(&library, &samples())?;
    let expected = search_all(&library, &queries)?;
    drop(library);

    let tantivy = original.join("tantivy");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&tantivy)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".lock") && entry.metadata()?.len() > 0 {
            files.push((name, entry.metadata()?.len() as usize));
        }
    }
    files.sort();
    let kinds: BTreeSet<&str> = files
        .iter()
        .map(|(name, _)| name.rsplit('.').next().unwrap_or(""))
        .collect();
    for kind in [
        "idx",
        "pos",
        "term",
        "store",
        "fast",
        "fieldnorm",
        "json",
        "keycheck",
    ] {
        assert!(kinds.contains(kind), "no .{kind} file among {files:?}");
    }

    type Edit = fn(&mut Vec<u8>);
    let edits: [(&str, Edit); 4] = [
        ("a byte in the first block", |f| f[HEADER_LEN + 3] ^= 1),
        ("a byte in the middle", |f| {
            let at = f.len() / 2;
            f[at] ^= 0x80;
        }),
        ("the last byte", |f| {
            if let Some(b) = f.last_mut() {
                *b ^= 1;
            }
        }),
        ("cut in half", |f| f.truncate(f.len() / 2)),
    ];
    let mut case = 0;
    for (name, _) in &files {
        for (what, edit) in &edits {
            case += 1;
            let copy = tmp.path().join(format!("case{case}"));
            copy_tree(&original, &copy)?;
            let path = copy.join("tantivy").join(name);
            let mut contents = std::fs::read(&path)?;
            edit(&mut contents);
            std::fs::write(&path, &contents)?;
            let err = first_error(&copy, &queries, &expected)?;
            match (&err, name.as_str()) {
                (Some(Error::WrongKey), KEY_CHECK_FILE) => {}
                (Some(Error::Tampered { file }), _) if file == Path::new(name) => {}
                _ => return Err(format!("{name}, {what}: {err:?}").into()),
            }
            std::fs::remove_dir_all(&copy)?;
        }
    }

    // Two blocks of the largest file swapped; two files of one segment swapped.
    let (largest, len) = files
        .iter()
        .filter(|(name, _)| {
            name.ends_with(".store") || name.ends_with(".idx") || name.ends_with(".pos")
        })
        .max_by_key(|(_, len)| *len)
        .ok_or("no segment file")?;
    assert!(
        *len > HEADER_LEN + 3 * (SMALL + TAG_LEN),
        "{largest} has {len} bytes"
    );
    let copy = tmp.path().join("swap-blocks");
    copy_tree(&original, &copy)?;
    let path = copy.join("tantivy").join(largest);
    let mut contents = std::fs::read(&path)?;
    let stride = SMALL + TAG_LEN;
    let (first, second) = contents[HEADER_LEN..HEADER_LEN + 2 * stride].split_at_mut(stride);
    first.swap_with_slice(second);
    std::fs::write(&path, &contents)?;
    let err = first_error(&copy, &queries, &expected)?;
    assert!(
        matches!(&err, Some(Error::Tampered { file }) if file == Path::new(largest)),
        "{err:?}"
    );

    let copy = tmp.path().join("swap-files");
    copy_tree(&original, &copy)?;
    let segment = largest.split('.').next().ok_or("segment")?;
    let (idx, pos) = (
        copy.join("tantivy").join(format!("{segment}.idx")),
        copy.join("tantivy").join(format!("{segment}.pos")),
    );
    let (a, b) = (std::fs::read(&idx)?, std::fs::read(&pos)?);
    std::fs::write(&idx, b)?;
    std::fs::write(&pos, a)?;
    let err = first_error(&copy, &queries, &expected)?;
    assert!(matches!(&err, Some(Error::Tampered { .. })), "{err:?}");
    Ok(())
}

#[test]
fn keys_are_checked_and_never_mixed_with_plaintext() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let docs = samples().join("patients");
    let sealed_dir = tmp.path().join("sealed");
    let library = Library::open_sealed(&sealed_dir, &key(1))?;
    ingest(&library, &docs)?;
    let expected = search(&library, "혈압")?;
    assert!(!expected.is_empty());
    drop(library);

    let wrong = Library::open_sealed(&sealed_dir, &key(2));
    assert!(matches!(wrong, Err(Error::WrongKey)), "{wrong:?}");
    let plain = Library::open(&sealed_dir);
    assert!(matches!(plain, Err(Error::Encrypted)), "{plain:?}");
    // Neither attempt touched the index.
    assert_eq!(
        search(&Library::open_sealed(&sealed_dir, &key(1))?, "혈압")?,
        expected
    );

    let plain_dir = tmp.path().join("plain");
    let library = Library::open(&plain_dir)?;
    ingest(&library, &docs)?;
    drop(library);
    let sealed = Library::open_sealed(&plain_dir, &key(1));
    assert!(matches!(sealed, Err(Error::NotEncrypted)), "{sealed:?}");
    let library = Library::open(&plain_dir)?;
    assert_eq!(search(&library, "혈압")?, expected);
    let seq = library.commit_seq()?;
    drop(library);

    // A plaintext library is encrypted in place by the migration (the
    // journal with it); the commit sequence and the results are kept.
    assert!(crate::migrate::encrypt_library(
        &plain_dir,
        &key(1),
        &mut |_| Ok(())
    )?);
    let library = Library::open_sealed(&plain_dir, &key(1))?;
    assert_eq!(library.commit_seq()?, seq);
    assert_eq!(search(&library, "혈압")?, expected);
    assert!(matches!(Library::open(&plain_dir), Err(Error::Encrypted)));
    Ok(())
}

#[test]
fn a_tampered_index_is_rebuilt_from_its_folders() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("library");
    let library = Library::open_sealed(&dir, &key(5))?;
    let first = ingest(&library, &samples())?;
    let expected = search(&library, "혈압")?;
    let seq = library.commit_seq()?;
    drop(library);
    let store = std::fs::read_dir(dir.join("tantivy"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "store"))
        .ok_or("no store file")?;
    let mut contents = std::fs::read(&store)?;
    contents[HEADER_LEN + 100] ^= 4;
    std::fs::write(&store, &contents)?;
    let r = Library::open_sealed(&dir, &key(5)).and_then(|l| search(&l, "혈압"));
    assert!(matches!(r, Err(Error::Tampered { .. })), "{r:?}");

    let pending = Library::rebuild_index(&dir, Some(&key(5)))?;
    assert_eq!(pending, first.indexed);
    let library = Library::open_sealed(&dir, &key(5))?;
    assert!(
        search(&library, "혈압")?.is_empty(),
        "nothing until the next ingest"
    );
    assert_eq!(ingest(&library, &samples())?.indexed, first.indexed);
    assert_eq!(search(&library, "혈압")?, expected);
    assert!(library.commit_seq()? > seq, "the commit sequence goes on");
    Ok(())
}

#[test]
fn a_library_keeps_its_cache_within_budget() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let queries = queries()?;
    let budget = 8 * SMALL;
    let library = Library::open_with(&tmp.path().join("library"), &sealed_storage(budget))?;
    ingest(&library, &samples())?;
    for query in &queries {
        search(&library, query)?;
        let stats = library.sealed_stats().ok_or("sealed")?;
        assert!(stats.cache_bytes <= budget, "{stats:?}");
    }
    let stats = library.sealed_stats().ok_or("sealed")?;
    assert!(
        stats.hits > 0 && stats.misses > 0 && stats.encrypted_bytes > 0,
        "{stats:?}"
    );
    Ok(())
}
