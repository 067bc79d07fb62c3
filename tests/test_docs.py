"""The docs cannot drift from the code: every command they show parses, every link resolves, the claims
table is current, and nothing cites a file the repository lacks."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from artifact import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "expected" / "README.md", *(ROOT / "docs").glob("*.md")])
COMMAND = re.compile(r"(python -m artifact|\./repro)((?:[ \t]+[^\s`|#<>\[\]()…]+)*)")
# Placeholders the docs use for values, and what stands in for them when the line is parsed.
PLACEHOLDERS = {"P": "smoke", "D": "data", "KEY=VALUE": "train.num_steps=1", "I/N": "0/2"}


def _launcher_verbs() -> set[str]:
    """The verbs ./repro handles itself (its case statement), besides passing the rest to the CLI."""
    text = (ROOT / "repro").read_text()
    return set(re.findall(r"^\s+(\w+)\) shift;", text, flags=re.M))


def _commands():
    for path in DOCS:
        for line_number, line in enumerate(path.read_text().splitlines(), 1):
            for match in COMMAND.finditer(line):
                words = [w.rstrip(".,;:") for w in shlex.split(match.group(2).split(" #")[0])]
                yield pytest.param(match.group(1), words, id=f"{path.name}:{line_number}:{' '.join(words)[:40]}")


def test_the_docs_show_commands():
    assert len(list(_commands())) >= 20  # the extraction itself works


@pytest.mark.parametrize(("program", "words"), list(_commands()))
def test_every_documented_command_parses(program, words):
    if program == "./repro" and words and words[0] in _launcher_verbs():
        return  # test, pytest, nox: the launcher's own verbs, found in its case statement
    if not words or words in (["--help"], ["-h"]) or words[-1] in ("--help", "-h"):
        return
    words = [PLACEHOLDERS.get(w, w) for w in words]
    try:
        cli.build_parser().parse_args(words)
    except SystemExit as error:
        pytest.fail(f"`{program} {' '.join(words)}` does not parse (exit {error.code})")


def test_a_renamed_flag_would_fail():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["reproduce", "--profiles", "cpu"])
    assert "pytest" in _launcher_verbs() and "test" in _launcher_verbs()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if "://" in target or target.startswith("figures/"):  # figures/ exist in an output folder
            continue
        assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"


def _tracked_text_files():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    suffixes = {".py", ".md", ".json", ".sh", ".def", ".toml", ".cff", ".sbatch", ""}
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if path.suffix in suffixes and path.is_file() and "requirements" not in path.parts:
            yield path


def test_nothing_cites_files_the_repository_lacks():
    pattern = re.compile(r"reference/\w+\.md|DESIGN\.md|\.\./shared/")
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in _tracked_text_files()
        if path.name != Path(__file__).name
        for match in [pattern.search(path.read_text(errors="replace"))]
        if match
    ]
    assert not offenders, offenders


def test_the_claims_table_is_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "claims_table.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
