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


def test_the_readme_shows_the_test_command_ci_runs_in_the_quick_start_and_under_tests() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = CODE_BLOCK.findall(readme)
    assert sum(README_TEST_COMMAND in block for block in blocks) == 2
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]'" in ci
    assert re.search(r"/bin/python -m pytest\s*$", ci, re.MULTILINE), ".ci/run no longer runs the plain test command"


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move reference to docs/"
