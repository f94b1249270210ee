"""docs/ cannot drift: every number docs/reference.md places in a file is the number that file holds, and every
link between the documents resolves."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_FILE = re.compile(r"`([\w./-]+\.(?:toml|py))`")
_TICKED = re.compile(r"`([^`]+)`")
_KEY_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def _rows(path: Path):
    """(line number, cells) of every table row of a Markdown file that names a repository file and holds a literal."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        where = next((c for c in cells if _FILE.search(c)), None)
        if where is None:
            continue
        literals = [t for c in cells if c is not where for t in re.findall(r"\(`([^`]+)`", c)
                    + re.findall(r", `([^`]+)`\)", c)]
        if literals:
            yield n, where, literals


def _lookup(value, key: str):
    for name, index in _KEY_PART.findall(key):
        value = value[name] if name else value[int(index)]
    return value


def _repo_value(file: str, key: str):
    path = ROOT / file
    if path.suffix == ".toml":
        return _lookup(tomllib.loads(path.read_text()), key)
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        if any(isinstance(t, ast.Name) and t.id == key for t in targets):
            return ast.literal_eval(node.value)
    raise KeyError(f"{file}: no module-level {key}")


def _same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == pytest.approx(b, rel=1e-12, abs=0.0)


CHECKED_PAGES = ("reference.md", "far-range.md")  # the pages whose tables give a value with the file holding it


def _checks(page: str):
    out = []
    for n, where, literals in _rows(DOCS / page):
        file = _FILE.search(where).group(1)
        keys = [t for t in _TICKED.findall(where) if t != file]
        if len(keys) == len(literals):
            out += [(f"{page}:{n}", file, k, lit) for k, lit in zip(keys, literals, strict=True)]
    return out


CHECKS = [c for page in CHECKED_PAGES for c in _checks(page)]


def test_reference_page_checks_a_useful_number_of_values():
    assert len(_checks("reference.md")) >= 60 and len(_checks("far-range.md")) >= 20


@pytest.mark.parametrize(("line", "file", "key", "literal"), CHECKS, ids=[f"{c[1]}:{c[2]}" for c in CHECKS])
def test_reference_number_is_what_its_file_holds(line, file, key, literal):
    documented = tomllib.loads(f"v = {literal}")["v"]
    assert _same(_repo_value(file, key), documented), f"docs/{line}: {file} {key} is not {literal}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")) + [ROOT / "README.md"], ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to missing {target}"


def test_code_and_configuration_cite_the_documents_in_the_repository():
    """Citations point into docs/, never at the shared design documents outside the repository."""
    bare = re.compile(r"(?<![\w/])(REFERENCE|ARCHITECTURE|STYLE)\.md")
    files = [p for pattern in ("*.py", "*.toml", "*.md") for p in ROOT.rglob(pattern)] + [ROOT / "Makefile"]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in files
                 if not p.relative_to(ROOT).parts[0].startswith((".", "build")) and "docs" not in p.parts[:-1]
                 for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if bare.search(line)]
    assert not offenders, f"citations of documents outside the repository: {offenders}"
