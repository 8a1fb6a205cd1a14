"""Shared helpers for the Sillok sample-library generators."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent
LIB = SAMPLES / "library"

# Every generated file carries this timestamp so rebuilding gives byte-identical output.
FIXED_DATETIME = datetime(2024, 11, 1, 0, 0, 0, tzinfo=timezone.utc)
FIXED_ZIP_TIME = (2024, 11, 1, 0, 0, 0)

SYNTHETIC_KO = "실록 샘플 라이브러리 — 가상 환자 기록 (실제 환자 아님)"
SYNTHETIC_EN = "Sillok sample library - synthetic record, not a real patient"


def out(rel: str) -> Path:
    path = LIB / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def normalize_zip(path: Path) -> None:
    """Rewrite a ZIP container (DOCX) with fixed entry timestamps, same entry order."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
