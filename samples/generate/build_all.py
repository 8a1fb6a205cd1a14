"""Rebuild every generated file in samples/library, confirm the build is reproducible, then check.

    python3 -m venv /tmp/sillok-samples-venv
    /tmp/sillok-samples-venv/bin/pip install -r samples/generate/requirements.txt
    /tmp/sillok-samples-venv/bin/python samples/generate/build_all.py

Needs the Debian packages fonts-nanum (for the NanumGothic PDF) and poppler-utils + poppler-data
(for check.py). Hand-written files (.txt in UTF-8, .md, .html) are not generated; check.py still
verifies them.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = ["make_pdfs.py", "make_docx.py", "make_encoded_txt.py", "make_tables.py"]


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_steps() -> None:
    for step in STEPS:
        subprocess.run([sys.executable, str(HERE / step)], cwd=HERE, check=True)


def main() -> int:
    library = HERE.parent / "library"
    run_steps()
    first = digest(library)
    run_steps()
    second = digest(library)
    changed = [k for k in first if first[k] != second.get(k)]
    if changed:
        print("not reproducible:", changed)
        return 1
    print(f"reproducible: {len(first)} files hash the same on a second build")
    return subprocess.run([sys.executable, str(HERE / "check.py")], cwd=HERE).returncode


if __name__ == "__main__":
    sys.exit(main())
