"""Relations and person.extra on the real FI-TEST responses in ``<repo>/../shared/reference`` (eVaka's fixtures).

Skips without the folder, fails in CI without it (see tests/conftest.reference_dir).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import reference_dir
from xroad_vtj.config import CallerConfig
from xroad_vtj.query import VtjQuery, read_person
from xroad_vtj.vtj import Outcome
from xroad_vtj.xroad import parse_message

pytestmark = pytest.mark.conformance

CALLER = CallerConfig(name="conformance", token_sha256=b"x" * 32)


def read(name: str, product: str, hetu: str) -> Any:
    data = (reference_dir("vtj", "evaka", "fixtures") / name).read_bytes()
    message = parse_message(data, "text/xml; charset=UTF-8")
    assert message.body is not None
    query = VtjQuery.person(hetu=hetu, product=product, end_user="conformance", purpose="test")
    return read_person(message.body, query, CALLER)


def test_huoltaja_huollettavat_lists_the_dependants_and_no_guardians() -> None:
    reading = read("huoltajaHuollettavatResponse.xml", "Huoltaja-Huollettavat", "020190-9521")
    assert reading.outcome is Outcome.FOUND
    person = reading.person
    assert person["hetu"] == "020190-9521"
    assert [d["hetu"] for d in person["dependants"]] == [
        "011014A9510",
        "311211A9527",
        "010110A951P",
        "010108A9516",
        "010506A951W",
    ]
    assert person["dependants"][0] == {
        "hetu": "011014A9510",
        "last_name": "Popov",
        "first_names": "Kak Ty",
        "birth_date": None,  # <Syntymaaika/> in the real answer
    }
    assert "guardians" not in person and "children" not in person
    assert "relations" in reading.data_categories


def test_huollettava_huoltajat_lists_the_guardians() -> None:
    reading = read("huollettavaHuoltajaResponse.xml", "Huollettava-Huoltajat", "311211A9527")
    guardians = reading.person["guardians"]
    assert [(g["hetu"], g["last_name"], g["first_names"]) for g in guardians] == [
        ("010181-9533", "Popov", "Andre Olav"),
        ("020190-9521", "Popov", "Anna Alexandra"),
    ]
    assert "dependants" not in reading.person


def test_perussanoma_3_has_no_relation_keys_and_its_unmapped_blocks_in_extra() -> None:
    reading = read("perussanoma3Response.xml", "Perussanoma 3", "020501A999T")
    person = reading.person
    assert not {"guardians", "dependants", "children"} & set(person)
    extra: dict[str, Any] = person.get("extra") or {}
    # Every key of extra is a Henkilo child no typed field maps, and none of them is empty.
    assert all(value not in (None, "", {}, []) for value in extra.values())
    assert extra["Kansalaisuus"] == {
        "Kansalaisuuskoodi3": "246",
        "KansalaisuusS": "Suomi",
        "KansalaisuusR": "Finland",
    }
    assert set(extra) == {"VakinainenAsuinpaikka", "Kansalaisuus"}
