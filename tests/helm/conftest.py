"""Fixtures shared by the chart tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helm.chart import CHART_DIR


@pytest.fixture(scope="session")
def schemaless_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart without values.schema.json: shows that the templates refuse the same values themselves."""
    target = tmp_path_factory.mktemp("chart") / "xroad-vtj"
    shutil.copytree(CHART_DIR, target, ignore=shutil.ignore_patterns("values.schema.json"))
    return target
