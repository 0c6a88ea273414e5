"""A clone alone is enough: nothing reads files from outside the repository, and the specs kept in it are
the unmodified documents their READMEs name."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from whatsapp.tests import contract

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "docs" / "specs"
SKIP_DIRS = {".git", ".venv", "node_modules", "staticfiles", "var", "logs", "htmlcov", "vendor", "specs"}
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".txt",
    ".toml",
    ".ini",
    ".cfg",
    ".yml",
    ".yaml",
    ".sh",
    ".html",
    ".js",
    ".json",
}
TEXT_NAMES = {"Makefile", "Dockerfile", "Procfile", ".env.example", "run"}
# Built from pieces so that this file does not match itself.
OUTSIDE = re.compile(r"\.\./" + "shared|/work/" + r"shared|['\"]shared['\"]\s*/")


def _text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if set(rel.parts[:-1]) & SKIP_DIRS or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            files.append(path)
    return files


def _readme_sha256(folder: Path) -> str:
    match = re.search(r"sha256 \| `([0-9a-f]{64})`", (folder / "README.md").read_text(encoding="utf-8"))
    assert match, f"{folder}/README.md must give the sha256 of the spec"
    return match.group(1)


def test_the_pattern_catches_paths_outside_the_repository():
    for line in (
        "../" + "shared/waha/openapi.json",
        "/work/" + "shared/pix",
        'BASE_DIR.parent / "sha' + 'red" / "waha"',
    ):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search("the shared cache")


def test_nothing_in_the_project_reads_outside_the_repository():
    offenders = []
    for path in _text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_waha_contract_tests_read_the_spec_kept_in_the_repository():
    path = contract.spec_path()
    assert path.resolve().is_relative_to(ROOT)
    assert path == SPECS / "waha" / "openapi.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == _readme_sha256(SPECS / "waha")
    spec = json.loads(path.read_text(encoding="utf-8"))
    assert (spec["openapi"], spec["info"]["version"]) == ("3.1.0", "2026.7.1")
    assert "2026.7.1" in (SPECS / "waha" / "README.md").read_text(encoding="utf-8")


def test_the_pix_spec_is_kept_in_the_repository_unmodified():
    path = SPECS / "pix" / "openapi.yaml"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == _readme_sha256(SPECS / "pix")
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert (spec["openapi"], spec["info"]["version"]) == ("3.0.0", "2.9.0")
    assert {"/cobv/{txid}", "/pix/{e2eid}", "/webhook/{chave}"} <= set(spec["paths"])
