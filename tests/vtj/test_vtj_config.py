"""The vtj section: service ids per operation, the route, the schema cache; callers' non_unique_search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_config
from xroad_vtj.config import parse_config
from xroad_vtj.errors import ConfigError


def parse(tmp_path: Path, **vtj: Any) -> Any:
    raw = base_config(tmp_path, "https://ss.example.fi/")
    raw["vtj"].update(vtj)
    return parse_config(raw, tmp_path, environ={})


def test_each_operation_is_vtj_service_with_its_own_code_unless_configured(tmp_path: Path) -> None:
    config = parse(
        tmp_path,
        services={"KiinteistonTunnusKysely": "FI-TEST/GOV/0245437-2/VTJkysely2/KiinteistonTunnusKysely/v2"},
    )
    vtj = config.vtj
    assert (
        str(vtj.service_for("HenkilonTunnusKysely"))
        == "FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1"
    )
    assert str(vtj.service_for("RakennuksenTunnusKysely")) == (
        "FI-TEST/GOV/0245437-2/VTJkysely/RakennuksenTunnusKysely/v1"
    )
    assert str(vtj.service_for("KiinteistonTunnusKysely")) == (
        "FI-TEST/GOV/0245437-2/VTJkysely2/KiinteistonTunnusKysely/v2"
    )
    assert (vtj.route, vtj.direct, vtj.product_schema_cache_seconds) == ("xroad", None, 86400.0)


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ({"Tuntematon": "FI-TEST/GOV/0245437-2/VTJkysely/Tuntematon/v1"}, "vtj.services.Tuntematon"),
        ({"RakennuksenTunnusKysely": "not/a/service"}, "vtj.services.RakennuksenTunnusKysely"),
        (
            {"RakennuksenTunnusKysely": "FI-TEST/GOV/0245437-2/VTJkysely/Muu/v1"},
            "must be RakennuksenTunnusKysely",
        ),
        ({"RakennuksenTunnusKysely": 5}, "expected str"),
    ],
)
def test_a_bad_service_entry_stops_the_start_naming_the_key(
    tmp_path: Path, services: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(tmp_path, services=services)
    assert message in caught.value.detail


def test_the_schema_cache_time_and_non_unique_search_are_read(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "https://ss.example.fi/")
    raw["vtj"]["product_schema_cache_seconds"] = 60
    raw["callers"][0]["non_unique_search"] = True
    config = parse_config(raw, tmp_path, environ={})
    assert config.vtj.product_schema_cache_seconds == 60.0
    assert config.callers[0].non_unique_search is True
    assert config.callers[1].non_unique_search is False
    raw["callers"][0]["non_unique_search"] = "yes"
    with pytest.raises(ConfigError):
        parse_config(raw, tmp_path, environ={})
