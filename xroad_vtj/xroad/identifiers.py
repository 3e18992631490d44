"""X-Road client and service identifiers and their slash-separated text form.

PR-MESS 2.7 (since 4.0.25) limits every identifier part to ``A-Z a-z 0-9 ' ( ) + , - . = ?``, so ``/`` can
never occur inside a part and ``INSTANCE/CLASS/CODE[/SUBSYSTEM]`` is unambiguous. Every instance is checked
when it is made, so an identifier that exists is a valid one (also those read from messages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xroad_vtj.errors import InvalidIdentifier

__all__ = ["ALLOWED_CHARACTERS", "ClientId", "ServiceId"]

ALLOWED_CHARACTERS = "A-Z a-z 0-9 ' ( ) + , - . = ?"
_PART = re.compile(r"[A-Za-z0-9'()+,\-.=?]+")


def _check(part_name: str, value: str) -> None:
    if not isinstance(value, str) or _PART.fullmatch(value) is None:
        if not value:
            raise InvalidIdentifier(f"X-Road identifier part {part_name} is empty", part=part_name)
        raise InvalidIdentifier(
            f"X-Road identifier part {part_name} contains a character outside {ALLOWED_CHARACTERS}",
            part=part_name,
        )


@dataclass(frozen=True, slots=True)
class ClientId:
    """A member (``subsystem is None``) or one of its subsystems, the party that sends a request."""

    instance: str
    member_class: str
    member_code: str
    subsystem: str | None = None

    def __post_init__(self) -> None:
        _check("xRoadInstance", self.instance)
        _check("memberClass", self.member_class)
        _check("memberCode", self.member_code)
        if self.subsystem is not None:
            _check("subsystemCode", self.subsystem)

    @property
    def object_type(self) -> str:
        """The ``id:objectType`` attribute value: ``SUBSYSTEM`` or ``MEMBER``."""
        return "MEMBER" if self.subsystem is None else "SUBSYSTEM"

    @classmethod
    def parse(cls, text: str) -> ClientId:
        """Read ``INSTANCE/CLASS/CODE/SUBSYSTEM`` (a subsystem) or ``INSTANCE/CLASS/CODE`` (a member)."""
        parts = text.split("/")
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2])
        if len(parts) == 4:
            return cls(parts[0], parts[1], parts[2], parts[3])
        raise InvalidIdentifier(
            "an X-Road client identifier has the form INSTANCE/CLASS/CODE[/SUBSYSTEM]", part="client"
        )

    def __str__(self) -> str:
        base = f"{self.instance}/{self.member_class}/{self.member_code}"
        return base if self.subsystem is None else f"{base}/{self.subsystem}"


@dataclass(frozen=True, slots=True)
class ServiceId:
    """A service of a provider subsystem, optionally pinned to a version.

    ``subsystem`` may be ``None`` only for legacy member-level services read from a message; the text form
    always names a subsystem (``INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE[/VERSION]``), because with an optional
    subsystem *and* an optional version a five-part string would be ambiguous.
    """

    instance: str
    member_class: str
    member_code: str
    subsystem: str | None
    service_code: str
    service_version: str | None = None

    def __post_init__(self) -> None:
        _check("xRoadInstance", self.instance)
        _check("memberClass", self.member_class)
        _check("memberCode", self.member_code)
        if self.subsystem is not None:
            _check("subsystemCode", self.subsystem)
        _check("serviceCode", self.service_code)
        if self.service_version is not None:
            _check("serviceVersion", self.service_version)

    @property
    def object_type(self) -> str:
        return "SERVICE"

    @property
    def provider(self) -> ClientId:
        """The member or subsystem that offers the service."""
        return ClientId(self.instance, self.member_class, self.member_code, self.subsystem)

    @classmethod
    def parse(cls, text: str) -> ServiceId:
        """Read ``INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE[/VERSION]`` (five or six parts)."""
        parts = text.split("/")
        if len(parts) == 5:
            return cls(parts[0], parts[1], parts[2], parts[3], parts[4])
        if len(parts) == 6:
            return cls(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
        raise InvalidIdentifier(
            "an X-Road service identifier has the form INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE[/VERSION]",
            part="service",
        )

    def __str__(self) -> str:
        # A member-level service (no subsystem) renders without that part; such a string is for reading
        # only and does not parse back (see the class docstring).
        parts = [self.instance, self.member_class, self.member_code]
        if self.subsystem is not None:
            parts.append(self.subsystem)
        parts.append(self.service_code)
        if self.service_version is not None:
            parts.append(self.service_version)
        return "/".join(parts)

    def with_code(self, service_code: str, service_version: str | None = None) -> ServiceId:
        """The same provider's other service, e.g. the ``listMethods`` metaservice."""
        return ServiceId(
            self.instance, self.member_class, self.member_code, self.subsystem, service_code, service_version
        )
