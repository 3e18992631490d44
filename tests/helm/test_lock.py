"""requirements.lock, which the Containerfile installs with --require-hashes, is current with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helm.chart import REPO, load_script
from tests.helm.test_containerfile import STAGES

LOCK = REPO / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\]+) \\$")


def _lock_script() -> ModuleType:
    return load_script("lock-requirements")


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    lines = LOCK.read_text().splitlines()
    for index, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert lines[index + 1].strip().startswith("--hash=sha256:"), line
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def test_the_lock_was_made_from_the_current_dependency_list() -> None:
    first = LOCK.read_text().splitlines()[0]
    assert first == f"# dependencies-sha256: {_lock_script().dependencies_digest()}", (
        "pyproject.toml's dependencies changed: run scripts/lock-requirements"
    )


def test_every_dependency_is_pinned_at_a_version_pyproject_allows() -> None:
    locked = pins()
    for text in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (name, locked[name])
    assert "psycopg-binary" in locked  # psycopg[binary]: the extra's package is locked too


def test_every_pin_has_a_sha256_and_nothing_is_unpinned() -> None:
    body = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    assert len(body) == 2 * len(pins())
    assert all(re.fullmatch(r"    --hash=sha256:[0-9a-f]{64}", line) for line in body[1::2])


def test_the_image_installs_the_lock_with_hashes_required() -> None:
    runs = " ".join(i.argument for i in STAGES[0] if i.keyword == "RUN")
    assert "--require-hashes --no-deps -r requirements.lock" in runs
    assert "pip install --no-deps ." in runs
    copies = " ".join(i.argument for i in STAGES[0] if i.keyword == "COPY")
    assert "requirements.lock" in copies


def test_the_digest_changes_when_a_dependency_changes(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    text = (REPO / "pyproject.toml").read_text()
    pyproject.write_text(text)
    before = _lock_script().dependencies_digest(pyproject)
    pyproject.write_text(text.replace('"lxml>=5.3"', '"lxml>=5.4"'))
    assert _lock_script().dependencies_digest(pyproject) != before
