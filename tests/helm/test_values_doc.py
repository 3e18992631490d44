"""The chart's README values table and the schema's descriptions are made from values.yaml, and current."""

from __future__ import annotations

import json
from types import ModuleType

from tests.helm.chart import CHART_DIR, load_script


def _tool() -> ModuleType:
    return load_script("chart-values-table")


VALUES = (CHART_DIR / "values.yaml").read_text()
SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())


def test_readme_values_table_and_schema_descriptions_are_current() -> None:
    assert _tool().main(["--check"]) == 0, "run scripts/chart-values-table"


def test_a_changed_comment_makes_the_readme_stale() -> None:
    tool = _tool()
    readme = (CHART_DIR / "README.md").read_text()
    changed = VALUES.replace("# Replaces the chart name in object names.", "# Something else.")
    assert tool.readme(readme, VALUES) == readme
    assert tool.readme(readme, changed) != readme
    assert tool.schema(SCHEMA, changed)["properties"]["nameOverride"]["description"] == "Something else."


def test_every_top_level_value_is_described_in_the_schema_and_the_table() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    for name, node in SCHEMA["properties"].items():
        assert node.get("description"), name
        assert f"| `{name}` |" in readme or f"| `{name}." in readme, name


def test_comment_blocks_attach_to_the_key_below_and_a_blank_line_ends_them() -> None:
    text = (
        "# section note\n\n# the port\nport: 1  # TCP\nmap:\n  # inner\n  key: x\n"
        "#  - example: commented out\n\nnext: 2\n"
    )
    found = {".".join(e.path): e.description for e in _tool().entries(text)}
    assert found == {"port": "the port TCP", "map": "", "map.key": "inner", "next": ""}


def test_a_hash_inside_quotes_is_no_comment() -> None:
    found = {".".join(e.path): e.description for e in _tool().entries('pattern: "^#x$"  # real\n')}
    assert found == {"pattern": "real"}
