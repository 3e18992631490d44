import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xroad_vtj.errors import InvalidIdentifier
from xroad_vtj.xroad import ClientId, ServiceId

ALLOWED = string.ascii_letters + string.digits + "'()+,-.=?"
parts = st.text(alphabet=ALLOWED, min_size=1, max_size=20)


def test_subsystem_client_round_trips_through_slash_form() -> None:
    client = ClientId.parse("FI-TEST/MUN/0101263-6/caseapp")
    assert client == ClientId("FI-TEST", "MUN", "0101263-6", "caseapp")
    assert client.object_type == "SUBSYSTEM"
    assert str(client) == "FI-TEST/MUN/0101263-6/caseapp"


def test_member_client_has_three_parts_and_object_type_member() -> None:
    client = ClientId.parse("FI-TEST/MUN/0101263-6")
    assert client.subsystem is None
    assert client.object_type == "MEMBER"
    assert str(client) == "FI-TEST/MUN/0101263-6"


def test_service_with_and_without_version_round_trips() -> None:
    plain = ServiceId.parse("FI/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely")
    versioned = ServiceId.parse("FI/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1")
    assert plain.subsystem == "VTJkysely"
    assert plain.service_version is None
    assert versioned.service_version == "v1"
    assert str(plain) == "FI/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely"
    assert str(versioned) == "FI/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1"


def test_with_code_names_another_service_of_the_same_provider() -> None:
    service = ServiceId.parse("FI/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1")
    meta = service.with_code("listMethods")
    assert meta == ServiceId("FI", "GOV", "0245437-2", "VTJkysely", "listMethods")
    assert meta.provider == ClientId("FI", "GOV", "0245437-2", "VTJkysely")


@pytest.mark.parametrize("text", ["", "FI", "FI/GOV", "FI/GOV/1/a/b", "FI/GOV/1/a/b/c/d"])
def test_client_with_wrong_number_of_parts_is_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier, match="INSTANCE/CLASS/CODE"):
        ClientId.parse(text)


@pytest.mark.parametrize("text", ["FI/GOV/1/a", "FI/GOV/1/a/b/c/d", "FI", ""])
def test_service_with_wrong_number_of_parts_is_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier, match="INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE"):
        ServiceId.parse(text)


FORBIDDEN = sorted(set(' \t\n:;/\\_@#!$%&*[]{}<>"|~`^äöåÄÖ€\x00\u200b') - set(ALLOWED))


@pytest.mark.parametrize("char", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
def test_every_character_outside_pr_mess_2_7_is_refused_and_the_part_is_named(char: str) -> None:
    with pytest.raises(InvalidIdentifier, match="memberCode") as info:
        ClientId("FI", "MUN", f"01{char}01")
    assert info.value.extra["part"] == "memberCode"
    assert f"01{char}01" not in info.value.detail  # the message names the part, not the value


@pytest.mark.parametrize(
    ("kwargs", "part"),
    [
        ({"instance": ""}, "xRoadInstance"),
        ({"member_class": "G V"}, "memberClass"),
        ({"subsystem": ""}, "subsystemCode"),
        ({"service_code": "get/State"}, "serviceCode"),
        ({"service_version": "v 1"}, "serviceVersion"),
    ],
)
def test_invalid_service_part_is_named(kwargs: dict[str, str], part: str) -> None:
    fields = {
        "instance": "FI",
        "member_class": "GOV",
        "member_code": "0245437-2",
        "subsystem": "VTJ",
        "service_code": "HenkilonTunnusKysely",
        "service_version": None,
    }
    fields.update(kwargs)
    with pytest.raises(InvalidIdentifier) as info:
        ServiceId(**fields)  # type: ignore[arg-type]
    assert info.value.extra["part"] == part


def test_every_allowed_character_is_accepted() -> None:
    assert ClientId("FI", "MUN", ALLOWED).member_code == ALLOWED


@given(parts, parts, parts, st.one_of(st.none(), parts))
def test_any_valid_client_round_trips(instance: str, cls: str, code: str, subsystem: str | None) -> None:
    client = ClientId(instance, cls, code, subsystem)
    assert ClientId.parse(str(client)) == client


@given(parts, parts, parts, parts, parts, st.one_of(st.none(), parts))
def test_any_valid_service_round_trips(
    instance: str, cls: str, code: str, subsystem: str, service: str, version: str | None
) -> None:
    service_id = ServiceId(instance, cls, code, subsystem, service, version)
    assert ServiceId.parse(str(service_id)) == service_id
