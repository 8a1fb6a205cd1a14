"""Verify the sample library and the QA set; write samples/manifest.json.

Checks: sizes and names; every generated file's text survives extraction (pdftotext for PDFs,
python-docx for DOCX, strict decoding for the CP949 / UTF-16 files); the HTML decoys live only
in <script>/<style>/comments; the CSV/TSV are rectangular; each QA answer's evidence strings are
on the cited page; the "compound" keywords never stand alone in their file; the not-found topics
appear nowhere; README's QA table lists every entry; the only resident-registration-number-like
string is the fake 900101-1234567.

Run from anywhere with the generator venv: python samples/generate/check.py
Needs pdftotext/pdfinfo (Debian package poppler-utils, with poppler-data for the CID fonts).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

from docx import Document

import make_docx
import make_encoded_txt
import make_pdfs
from common import LIB, SAMPLES

MAX_FILE = 100 * 1024
MAX_TOTAL = 2 * 1024 * 1024

# path: format, encoding, line endings, language, pages (PDF only), what it is.
MANIFEST: dict[str, dict] = {
    "patients/note-kim-htn-2024-03.pdf": dict(format="pdf", lang="ko", pages=2, font="CID HYGothic-Medium (UniKS-UCS2-H, not embedded, no ToUnicode)", about="외래 진료기록 + 경과기록, 고혈압 (김가상)"),
    "patients/progress-note-lee-t2dm-2024-05.docx": dict(format="docx", lang="ko", about="경과기록, 제2형 당뇨병 (이가상); table, footer"),
    "patients/clinic-note-sample-asthma-2024-02.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="en", about="Pulmonology clinic note, asthma (Jordan Sample); pure ASCII"),
    "patients/discharge-park-ckd-2024-06.pdf": dict(format="pdf", lang="ko+en", pages=1, font="embedded TrueType subsets of NanumGothic with ToUnicode", about="퇴원요약, AKI on CKD 3b, NSAID 금지 (박가상)"),
    "patients/note-choi-af-warfarin-2024-01.md": dict(format="md", encoding="utf-8", line_endings="lf", lang="ko+en", about="항응고 클리닉 경과기록, 심방세동 와파린 (최가상); pipe tables"),
    "patients/clinic-note-placeholder-af-apixaban-2024-04.docx": dict(format="docx", lang="en", about="Cardiology note, AF on apixaban (Alex Placeholder); Word auto-numbered list"),
    "patients/note-jung-penicillin-allergy-2023-11.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="ko", about="진료기록, 페니실린 아나필락시스 + 인두염 (정가상)"),
    "patients/진료기록_가상환자.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="ko", about="진료기록, 이상지질혈증 (홍길동); NFC Korean file name; the one fake RRN 900101-1234567"),
    "patients/note-han-hypothyroid-2024-07-utf16.txt": dict(format="txt", encoding="utf-16le", bom=True, line_endings="lf", lang="ko+en", about="내분비내과 경과기록, 갑상선기능저하증 (한가상)"),
    "patients/discharge-example-pneumonia-2024-08.html": dict(format="html", encoding="utf-8", line_endings="lf", lang="en", about="Discharge summary, pneumonia with penicillin allergy (Casey Example); script/style/comment decoys"),
    "patients/progress-note-yoon-htn-dm-2024-09.pdf": dict(format="pdf", lang="en", pages=1, font="Helvetica + CID HYGothic-Medium for the Korean name", about="Progress note in English, hypertension + diabetes (윤가상)"),
    "patients/discharge-kang-heart-failure-2024-10.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="ko", about="퇴원요약, 심부전 HFrEF (강가상)"),
    "guidelines/hypertension-guideline-en.md": dict(format="md", encoding="utf-8", line_endings="lf", lang="en", about="Sillok sample hypertension guideline (not an official guideline)"),
    "guidelines/hypertension-guideline-ko.pdf": dict(format="pdf", lang="ko", pages=2, font="CID HYSMyeongJo-Medium (UniKS-UCS2-H, not embedded, no ToUnicode)", about="고혈압 진료지침 요약 (샘플 지침, 공식 지침 아님)"),
    "papers/abstract-sodium-reduction-bp-2023.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="en", about="Synthetic abstract: low-sodium diet RCT"),
    "papers/abstract-asthma-maintenance-reliever-2021.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="en", about="Synthetic abstract: budesonide-formoterol MART trial"),
    "papers/abstract-penicillin-allergy-delabeling-2022.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="en", about="Synthetic abstract: oral amoxicillin challenge"),
    "papers/abstract-sglt2-ckd-cohort-ko-2024.txt": dict(format="txt", encoding="utf-8", line_endings="lf", lang="ko", about="가상 초록: SGLT2 억제제와 만성콩팥병 진행"),
    "papers/abstract-apixaban-warfarin-elderly-2023.md": dict(format="md", encoding="utf-8", line_endings="lf", lang="en", about="Synthetic abstract: apixaban vs warfarin, age 75+"),
    "papers/abstract-korean-note-deidentification-2024.md": dict(format="md", encoding="utf-8", line_endings="lf", lang="ko", about="가상 초록: 한국어 진료기록 비식별화"),
    "papers/abstract-metformin-ckd-cohort-2022.pdf": dict(format="pdf", lang="en", pages=1, font="Helvetica (standard 14, not embedded)", about="Synthetic abstract: metformin at eGFR 30-44"),
    "papers/abstract-home-bp-telemonitoring-ko-en-2024.docx": dict(format="docx", lang="ko+en", about="가상 초록 (국문 + English): 가정혈압 원격 모니터링"),
    "admin/lab-safety-rules-cp949.txt": dict(format="txt", encoding="cp949", line_endings="crlf", lang="ko", about="연구실 안전 수칙 (가상 기관); legacy CP949, contains 똠 (outside KS X 1001)"),
    "admin/clinical-trial-consent-summary-ko.docx": dict(format="docx", lang="ko", about="임상시험 대상자 설명문 및 동의서 양식 요약 (가상 SILLOK-HTN-01); footer, bullets"),
    "admin/patient-data-handling-policy-ko.md": dict(format="md", encoding="utf-8", line_endings="lf", lang="ko", about="환자정보 보호 및 비식별화 지침 (가상 내부 규정)"),
    "tables/medications.csv": dict(format="csv", encoding="utf-8", bom=True, line_endings="crlf", lang="ko+en", about="Medication list: drug, class, usual/max dose, notes (English and Korean columns)"),
    "tables/lab-results.tsv": dict(format="tsv", encoding="utf-8", line_endings="lf", lang="ko+en", about="Synthetic lab results for the sample patients"),
}

FAILURES: list[str] = []


def fail(msg: str) -> None:
    FAILURES.append(msg)
    print("FAIL:", msg)


def squash(text: str) -> str:
    """NFC, all whitespace removed: robust comparison across line wrapping."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text))


# ---------------------------------------------------------------------------- extraction
def pdf_pages(path: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [
        subprocess.run(["pdftotext", "-enc", "UTF-8", "-f", str(i), "-l", str(i), str(path), "-"],
                       capture_output=True, check=True).stdout.decode("utf-8")
        for i in range(1, count + 1)
    ]


def docx_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    for section in doc.sections:
        parts.extend(p.text for p in section.header.paragraphs)
        parts.extend(p.text for p in section.footer.paragraphs)
    return "\n".join(parts)


class _HtmlText(HTMLParser):
    SKIP = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def decode(rel: str, raw: bytes) -> str:
    meta = MANIFEST[rel]
    enc = meta.get("encoding", "utf-8")
    if enc == "utf-16le":
        if not raw.startswith(b"\xff\xfe"):
            fail(f"{rel}: missing UTF-16LE BOM")
        return raw[2:].decode("utf-16-le")
    if enc == "cp949":
        try:
            raw.decode("euc_kr")
            fail(f"{rel}: expected a byte sequence that strict EUC-KR cannot decode")
        except UnicodeDecodeError:
            pass
        return raw.decode("cp949")
    has_bom = raw.startswith(b"\xef\xbb\xbf")
    if has_bom != bool(meta.get("bom")):
        fail(f"{rel}: BOM presence {has_bom}, manifest says {bool(meta.get('bom'))}")
    return raw.decode("utf-8-sig")


def extract(rel: str) -> list[str]:
    """Text of the file, one string per page (a single 'page' for unpaginated formats)."""
    path = LIB / rel
    fmt = MANIFEST[rel]["format"]
    if fmt == "pdf":
        return pdf_pages(path)
    if fmt == "docx":
        return [docx_text(path)]
    text = decode(rel, path.read_bytes())
    if fmt == "html":
        parser = _HtmlText()
        parser.feed(text)
        return ["".join(parser.parts)]
    if fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="," if fmt == "csv" else "\t"))
        return ["\n".join("\t".join(r) for r in rows)]
    return [text]


# ---------------------------------------------------------------------------- checks
def check_files() -> None:
    found = sorted(p.relative_to(LIB).as_posix() for p in LIB.rglob("*") if p.is_file())
    if sorted(MANIFEST) != found:
        fail(f"manifest/library mismatch: only in library {set(found) - set(MANIFEST)}, "
             f"only in manifest {set(MANIFEST) - set(found)}")
    total = 0
    for rel in found:
        size = (LIB / rel).stat().st_size
        total += size
        if size > MAX_FILE:
            fail(f"{rel}: {size} bytes > {MAX_FILE}")
        name = rel.split("/")[-1]
        if not unicodedata.is_normalized("NFC", rel):
            fail(f"{rel}: file name not NFC")
        if not name.isascii() and rel != "patients/진료기록_가상환자.txt":
            fail(f"{rel}: non-ASCII name")
        if name.isascii() and name != name.lower():
            fail(f"{rel}: name not lowercase")
    if total > MAX_TOTAL:
        fail(f"library is {total} bytes > {MAX_TOTAL}")
    print(f"files: {len(found)}, total {total} bytes")


def check_line_endings(rel: str, text: str) -> None:
    want = MANIFEST[rel].get("line_endings")
    if not want:
        return
    crlf = text.count("\r\n")
    lf = text.count("\n")
    if want == "crlf" and crlf != lf:
        fail(f"{rel}: expected CRLF everywhere ({crlf} CRLF of {lf} LF)")
    if want == "lf" and crlf:
        fail(f"{rel}: expected LF only, found {crlf} CRLF")


def check_sources(texts: dict[str, list[str]]) -> None:
    """Everything the generators wrote must come back out of the files."""
    make_pdfs.WRITE = False
    make_docx.WRITE = False
    make_pdfs.register_fonts()
    for build in make_pdfs.BUILDERS + make_docx.BUILDERS:
        build()
    for rel, items in make_pdfs.SOURCES.items():
        whole = squash("".join(texts[rel]))
        for kind, *payload in items:
            if kind in ("break", "space"):
                continue
            if kind == "table":
                strings = [str(c) for row in payload[0] for c in row]
            elif kind == "raw":
                strings = [re.sub(r"<[^>]+>", "", payload[0])]
            else:
                strings = [payload[0]]
            for s in strings:
                if squash(s) not in whole:
                    fail(f"{rel}: pdftotext lost {s!r}")
    for rel, strings in make_docx.SOURCES.items():
        whole = squash("".join(texts[rel]))
        for s in strings:
            if squash(s) not in whole:
                fail(f"{rel}: python-docx lost {s!r}")
    for rel, source in make_encoded_txt.SOURCES.items():
        if texts[rel][0].replace("\r\n", "\n") != source:
            fail(f"{rel}: decoded text differs from the generator's source")


def check_html(rel: str, text: str) -> None:
    raw = (LIB / rel).read_text(encoding="utf-8")
    for decoy in ("SCRIPT-DECOY", "SCRIPT-DECOY-2", "STYLE-DECOY", "COMMENT-DECOY"):
        if decoy not in raw:
            fail(f"{rel}: decoy {decoy} missing from the raw file")
        if decoy in text:
            fail(f"{rel}: decoy {decoy} leaked into the extracted text")
    for want in ("levofloxacin 750\u00a0mg", "36.8\u00a0°C", "SpO2", "×103/µL", "≥ 38\u00a0°C"):
        if want not in text:
            fail(f"{rel}: extracted text lacks {want!r}")


def check_tables(texts: dict[str, list[str]]) -> None:
    for rel, delim, cols in (("tables/medications.csv", ",", 8), ("tables/lab-results.tsv", "\t", 10)):
        raw = decode(rel, (LIB / rel).read_bytes())
        rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter=delim))
        bad = [i for i, r in enumerate(rows) if len(r) != cols]
        if bad:
            fail(f"{rel}: rows {bad} do not have {cols} columns")
        print(f"{rel}: {len(rows) - 1} rows x {cols} columns")


def check_safety(texts: dict[str, list[str]]) -> None:
    rrn = re.compile(r"\d{6}-[1-8]\d{6}")
    phone = re.compile(r"01[016789]-\d{3,4}-\d{4}")
    for rel, pages in texts.items():
        text = "\n".join(pages)
        for m in rrn.findall(text):
            if (m, rel) != ("900101-1234567", "patients/진료기록_가상환자.txt"):
                fail(f"{rel}: RRN-like string {m}")
        for m in phone.findall(text):
            if m != "010-0000-0000":
                fail(f"{rel}: phone-like string {m}")
        if rel.startswith("patients/") and not re.search(r"가상|synthetic", text, re.I):
            fail(f"{rel}: no synthetic-record notice")
    everything = "\n".join("\n".join(p) for p in texts.values())
    if everything.count("900101-1234567") != 1:
        fail("the fake RRN must appear exactly once")


def standalone_tokens(text: str) -> set[str]:
    return set(re.findall(r"[0-9A-Za-z\u3131-\u318e\uac00-\ud7a3]+", text))


def check_qa(texts: dict[str, list[str]]) -> None:
    lines = (SAMPLES / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    everything = "\n".join("\n".join(p) for p in texts.values()).lower()
    ids = set()
    for n, line in enumerate(lines, 1):
        q = json.loads(line)
        for key in ("id", "question", "lang", "answer", "file", "page"):
            if key not in q:
                fail(f"qa line {n}: missing {key}")
        if q["id"] in ids:
            fail(f"qa {q['id']}: duplicate id")
        ids.add(q["id"])
        if q["lang"] not in ("ko", "en"):
            fail(f"qa {q['id']}: lang {q['lang']}")
        if "not_found" in q.get("tags", []):
            if q["file"] is not None or q["answer"]:
                fail(f"qa {q['id']}: not_found entries have no file and an empty answer")
            for term in q["absent_terms"]:
                if term.lower() in everything:
                    fail(f"qa {q['id']}: not-found term {term!r} appears in the library")
            continue
        rel = q["file"]
        if rel not in texts:
            fail(f"qa {q['id']}: unknown file {rel}")
            continue
        pages = texts[rel]
        if MANIFEST[rel]["format"] == "pdf":
            if not isinstance(q["page"], int) or not 1 <= q["page"] <= len(pages):
                fail(f"qa {q['id']}: bad page {q['page']} for {rel}")
                continue
            evidence = pages[q["page"] - 1]
        else:
            if q["page"] is not None:
                fail(f"qa {q['id']}: page must be null for unpaginated {rel}")
            evidence = pages[0]
        for s in q.get("must_contain", []):
            if squash(s) not in squash(evidence):
                fail(f"qa {q['id']}: {s!r} not found in {rel} page {q['page']}")
        for other in q.get("also_in", []):
            if other not in texts:
                fail(f"qa {q['id']}: also_in names unknown file {other}")
        keyword = q.get("keyword")
        if keyword:
            whole = "\n".join(pages)
            if keyword not in whole:
                fail(f"qa {q['id']}: keyword {keyword!r} not even a substring of {rel}")
            if keyword in standalone_tokens(whole):
                fail(f"qa {q['id']}: keyword {keyword!r} stands alone in {rel}")
            if keyword not in q["question"]:
                fail(f"qa {q['id']}: keyword {keyword!r} not in the question")
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for line in lines:
        q = json.loads(line)
        row = f"| {q['id']} | {q['lang']} | {q['question'].replace('*', chr(92) + '*')} |"
        if row not in readme:
            fail(f"qa {q['id']}: README's evaluation table has no row starting {row!r}")
    print(f"qa.jsonl: {len(lines)} entries")


def write_manifest() -> None:
    entries = []
    for rel, meta in sorted(MANIFEST.items()):
        entries.append({"path": rel, **meta})
    path = SAMPLES / "manifest.json"
    path.write_text(json.dumps({"root": "library", "files": entries}, ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")
    print("wrote", path)


def main() -> int:
    check_files()
    texts: dict[str, list[str]] = {}
    for rel, meta in MANIFEST.items():
        texts[rel] = extract(rel)
        if meta["format"] == "pdf" and len(texts[rel]) != meta["pages"]:
            fail(f"{rel}: {len(texts[rel])} pages, manifest says {meta['pages']}")
        if meta["format"] not in ("pdf", "docx"):
            check_line_endings(rel, decode(rel, (LIB / rel).read_bytes()))
    check_sources(texts)
    check_html("patients/discharge-example-pneumonia-2024-08.html",
               texts["patients/discharge-example-pneumonia-2024-08.html"][0])
    check_tables(texts)
    check_safety(texts)
    check_qa(texts)
    write_manifest()
    if FAILURES:
        print(f"{len(FAILURES)} problem(s)")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
