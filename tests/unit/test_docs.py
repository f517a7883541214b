"""The README and docs/ name only what exists: link targets and their headings, modules, scripts and files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REPOSITORY_PATH = re.compile(r"(?:bench|controller|docs|emulator|harness|lambda|stack|terraform|tests|\.ci)/[\w./-]*")
# Made by a build or a run, never committed.
GENERATED = ("lambda/payload.zip", "terraform/terraform.tfstate", "terraform/terraform.tfstate.d/emulator/")
README_TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_BLOCK = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
PYTHON_MODULE = re.compile(r"python3? -m ([A-Za-z_][\w.]*)")
STANDARD_MODULES = {"venv", "pytest", "pip"}


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = CODE_BLOCK.sub("", page.read_text(encoding="utf-8"))
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def _links(page: Path) -> list[str]:
    text = CODE_BLOCK.sub("", page.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def _commands(page: Path) -> str:
    """Every piece of code the page shows, blocks and inline."""
    text = page.read_text(encoding="utf-8")
    return "\n".join(CODE_BLOCK.findall(text) + INLINE_CODE.findall(CODE_BLOCK.sub("", text)))


def _module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def _named_paths(page: Path) -> set[str]:
    """Repository paths the page names in code: `controller/web/api.py`, `bench/`, `./build_and_run.sh`."""
    named = set()
    for code in INLINE_CODE.findall(page.read_text(encoding="utf-8")) + CODE_BLOCK.findall(page.read_text()):
        for word in code.split():
            path = REPOSITORY_PATH.fullmatch(word.removeprefix("./").partition("::")[0].rstrip(",;:)"))
            if path:
                named.add(path.group())
    return named


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_reaches_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in _links(page):
        file, _, anchor = target.partition("#")
        destination = (page.parent / file).resolve() if file else page
        if not destination.exists() or (destination.suffix == ".md" and anchor and anchor not in _anchors(destination)):
            broken.append(target)
    assert not broken, f"{page.name} links to what does not exist: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_python_module_a_page_runs_exists(page: Path) -> None:
    modules = set(PYTHON_MODULE.findall(_commands(page))) - STANDARD_MODULES
    missing = sorted(module for module in modules if not _module_exists(module))
    assert not missing, f"{page.name} runs modules that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_repository_path_a_page_names_exists(page: Path) -> None:
    missing = sorted(
        path for path in _named_paths(page) if not path.startswith(GENERATED) and not (ROOT / path).exists()
    )
    assert not missing, f"{page.name} names paths that do not exist: {missing}"


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in _links(ROOT / "README.md")}
    unlinked = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


def test_ci_runs_the_readmes_test_command_word_for_word_on_the_pythons_the_readme_names() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sum(README_TEST_COMMAND in block for block in CODE_BLOCK.findall(readme)) == 2  # quick start and tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f'README_TEST_COMMAND="{README_TEST_COMMAND}"' in ci
    versions = re.search(r"^PYTHONS=\((.*)\)$", ci, re.MULTILINE)
    assert versions, ".ci/run no longer names its Pythons"
    oldest, newest = versions.group(1).split()
    assert f"Python {oldest} to {newest}" in readme  # the quick start's requirement
    assert re.search(rf"checked by CI: Python {oldest} and\s+{newest}\b", readme)  # under "Run the tests"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'requires-python = ">={oldest}"' in pyproject


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move reference to docs/"


def test_every_benchmark_runs_as_a_module_without_touching_sys_path() -> None:
    hacks = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "bench").rglob("*.py")
        if re.search(r"sys\.path\.(insert|append)", path.read_text(encoding="utf-8"))
    ]
    assert not hacks, f"run these as `python -m bench.<name>` instead of changing sys.path: {hacks}"


MERGE_MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)
SOURCE_SUFFIXES = {".md", ".py", ".tf", ".tpl", ".json", ".yaml", ".toml", ".sh", ".html", ".js", ".css"}


def test_no_file_keeps_the_conflict_markers_of_a_merge() -> None:
    """A merge resolved in haste leaves both sides and its markers behind, in prose where no tool notices."""
    files = [
        path
        for path in ROOT.rglob("*")
        if path.suffix in SOURCE_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") or part == "node_modules" for part in path.relative_to(ROOT).parts)
    ]
    marked = [str(path.relative_to(ROOT)) for path in files if MERGE_MARKER.search(path.read_text(errors="replace"))]

    assert len(files) > 100 and not marked, marked
