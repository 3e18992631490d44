"""Configuration: YAML parsed and validated once at start-up into typed, frozen objects.

An unknown key or an invalid value stops the program with a message naming the key (``server.port``).
Environment variables override file values: ``XROAD_VTJ__<SECTION>__<KEY>[__<KEY>]=value`` (the value is read
as YAML, so ``8080`` is a number and ``true`` a boolean). Every secret may instead be read from a file: the key
with the suffix ``_file`` names it, relative paths being relative to the configuration file's directory.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import socket
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml

from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.errors import ConfigError, InvalidIdentifier
from xroad_vtj.xroad.identifiers import ClientId, ServiceId

ENV_PREFIX = "XROAD_VTJ__"
ROLES = frozenset({"query", "auditor", "operator"})
LOG_LEVELS = ("debug", "info", "warning", "error")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServerTls:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    metrics_port: int | None = 9090
    max_in_flight: int = 256
    max_body_bytes: int = 16384
    client_timeout_seconds: float = 15.0
    shutdown_grace_seconds: float = 20.0
    tls: ServerTls | None = None


@dataclass(frozen=True, slots=True)
class XRoadTls:
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None


@dataclass(frozen=True, slots=True)
class XRoadConfig:
    security_server_url: str
    client: ClientId
    timeout_seconds: float = 10.0
    max_response_bytes: int = 2 * 1024 * 1024
    pool_size: int = 100
    tls: XRoadTls | None = None
    # Seconds between background allowedMethods calls (xroad_vtj/route_probe.py); 0 switches the probe off.
    route_probe_seconds: float = 60.0


VTJ_ROUTES = ("xroad", "direct")
# The VTJ operations (vtj.operations.OPERATIONS), named here so that configuration does not import the protocol.
VTJ_OPERATIONS = (
    "HenkilonTunnusKysely",
    "HenkilonTunnistusKysely",
    "RakennuksenTunnusKysely",
    "RakennuksenTunnistusKysely",
    "KiinteistonTunnusKysely",
    "KiinteistonTunnistusKysely",
    "HaeTuotteenSkeema",
)


@dataclass(frozen=True, slots=True)
class DirectConfig:
    """The direct route (no X-Road): DVV's HTTPS service, reached with the organisation's certificate."""

    url: str
    tls: XRoadTls


@dataclass(frozen=True, slots=True)
class VtjConfig:
    service: ServiceId
    username: str
    password: str = field(repr=False)
    default_product: str = "PERUSSANOMA 1"
    route: str = "xroad"  # xroad | direct
    direct: DirectConfig | None = None
    # Operation name -> service id, for operations whose service is not vtj.service with its own code.
    services: Mapping[str, ServiceId] = field(default_factory=lambda: MappingProxyType({}))
    product_schema_cache_seconds: float = 86400.0

    def service_for(self, operation: str) -> ServiceId:
        """The X-Road service of ``operation``: configured, or vtj.service with the operation as its code."""
        configured = self.services.get(operation)
        if configured is not None:
            return configured
        if operation == self.service.service_code:
            return self.service
        return self.service.with_code(operation, self.service.service_version)


@dataclass(frozen=True, slots=True)
class Quotas:
    """Per-caller limits. ``None`` switches one off. The defaults are deliberately moderate."""

    per_end_user_per_minute: int | None = 20
    per_end_user_per_day: int | None = 300
    per_caller_per_minute: int | None = 1200
    distinct_subjects_per_end_user_per_day: int | None = 200


@dataclass(frozen=True, slots=True)
class CallerConfig:
    name: str
    token_sha256: bytes | None = field(default=None, repr=False)
    cert_subject: str | None = None
    cert_fingerprint_sha256: str | None = None
    roles: frozenset[str] = frozenset({"query"})
    products: tuple[str, ...] = ()
    reveal_protected_addresses: bool = False
    purpose_pattern: re.Pattern[str] | None = None
    quotas: Quotas = field(default_factory=Quotas)
    # The form this caller's end users must have (full match); None: the default rule (no mixed scripts).
    end_user_pattern: re.Pattern[str] | None = None
    non_unique_search: bool = False  # may search by non-unique criteria (a duty by law must allow it)


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig
    xroad: XRoadConfig
    vtj: VtjConfig
    audit: AuditConfig
    callers: tuple[CallerConfig, ...]
    instance_id: str
    log_level: str = "info"
    source: Path | None = None
    warnings: tuple[str, ...] = ()


# --- small typed readers ---------------------------------------------------------------------------------------


# The environment's texts by dotted key, while one configuration is being parsed.
_ENV_TEXTS: ContextVar[Mapping[str, str]] = ContextVar("xroad_vtj_env_texts", default=MappingProxyType({}))


class _Reader:
    """Reads one mapping of the YAML, remembering its dotted path for error messages."""

    def __init__(self, raw: Any, path: str, allowed: set[str], base_dir: Path) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path or 'configuration'}: must be a mapping")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ConfigError(f"unknown configuration key {self._join(path, str(unknown[0]))}")
        self.raw = raw
        self.path = path
        self.base_dir = base_dir

    @staticmethod
    def _join(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def name(self, key: str) -> str:
        return self._join(self.path, key)

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: T | None = None) -> Any:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        env_text = _ENV_TEXTS.get().get(self.name(key))
        if env_text is not None and str in kinds:
            # From the environment, a text key gets the text as written: "0123" stays "0123", "null" is "null".
            return env_text or None
        value = self.raw.get(key, default)
        if value is None:
            return None
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise ConfigError(f"{self.name(key)}: expected {kinds[0].__name__}")
        if not isinstance(value, kinds):
            raise ConfigError(f"{self.name(key)}: expected {kinds[0].__name__}")
        return value

    def required(self, key: str, kind: type[T]) -> T:
        value = self.get(key, kind)
        if value is None or value == "":
            raise ConfigError(f"{self.name(key)}: required")
        return value  # type: ignore[no-any-return]

    def number(self, key: str, default: float, minimum: float, maximum: float | None = None) -> float:
        value = self.get(key, float, default)
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bound = f" and at most {maximum:g}" if maximum is not None else ""
            raise ConfigError(f"{self.name(key)}: must be at least {minimum:g}{bound}")
        return float(value)

    def integer(self, key: str, default: int | None, minimum: int, maximum: int | None = None) -> int | None:
        value = self.get(key, int, default)
        if value is None:
            return None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f" and at most {maximum}" if maximum is not None else ""
            raise ConfigError(f"{self.name(key)}: must be at least {minimum}{bound}")
        return int(value)

    def path_(self, key: str) -> Path | None:
        value = self.get(key, str)
        if not value:
            return None
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    def secret(self, key: str, warnings: list[str], env_keys: set[str]) -> str | None:
        """A secret given inline (``key``) or in a file (``key_file``); inline in the file earns a warning."""
        inline = self.get(key, str)
        file_ = self.path_(f"{key}_file")
        if inline and file_:
            raise ConfigError(f"{self.name(key)}: give either {key} or {key}_file, not both")
        if file_ is not None:
            try:
                return file_.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"{self.name(key + '_file')}: cannot read the file ({exc.strerror})"
                ) from None
        if _file_value(self.name(key)):  # even when the environment overrides it: copies and backups keep it
            overridden = " (the environment overrides it, but the file still holds it)" * (
                self.name(key) in env_keys
            )
            warnings.append(
                f"{self.name(key)} is written in the configuration file{overridden}; "
                f"move it to {key}_file or {ENV_PREFIX}{self.name(key).upper().replace('.', '__')}"
            )
        return inline  # type: ignore[no-any-return]


def _identifier(reader: _Reader, key: str, parse: Callable[[str], T]) -> T:
    text = reader.required(key, str)
    try:
        return parse(text)
    except InvalidIdentifier as exc:
        raise ConfigError(f"{reader.name(key)}: {exc.detail}") from None


# --- sections ----------------------------------------------------------------------------------------------------


def _server(raw: Any, base: Path) -> ServerConfig:
    r = _Reader(
        raw,
        "server",
        {
            "host",
            "port",
            "metrics_port",
            "max_in_flight",
            "max_body_bytes",
            "client_timeout_seconds",
            "shutdown_grace_seconds",
            "tls",
        },
        base,
    )
    tls = None
    if r.raw.get("tls") is not None:
        t = _Reader(r.raw["tls"], "server.tls", {"cert_file", "key_file", "client_ca_file"}, base)
        cert, key = t.path_("cert_file"), t.path_("key_file")
        if cert or key or t.path_("client_ca_file"):
            if cert is None or key is None:
                raise ConfigError("server.tls.cert_file: cert_file and key_file are both required for TLS")
            tls = ServerTls(cert, key, t.path_("client_ca_file"))
    return ServerConfig(
        host=r.get("host", str, "127.0.0.1"),
        port=r.integer("port", 8080, 0, 65535) or 0,
        metrics_port=r.integer("metrics_port", 9090, 0, 65535)
        if "metrics_port" not in r.raw or r.raw["metrics_port"] is not None
        else None,
        max_in_flight=r.integer("max_in_flight", 256, 1) or 1,
        max_body_bytes=r.integer("max_body_bytes", 16384, 256, 1024 * 1024) or 16384,
        client_timeout_seconds=r.number("client_timeout_seconds", 15.0, 0.1),
        shutdown_grace_seconds=r.number("shutdown_grace_seconds", 20.0, 0.0),
        tls=tls,
    )


def _xroad(raw: Any, base: Path) -> XRoadConfig:
    r = _Reader(
        raw,
        "xroad",
        {
            "security_server_url",
            "client",
            "timeout_seconds",
            "max_response_bytes",
            "pool_size",
            "tls",
            "route_probe_seconds",
        },
        base,
    )
    url = r.required("security_server_url", str)
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
        raise ConfigError("xroad.security_server_url: must be an http:// or https:// URL")
    tls = None
    if r.raw.get("tls") is not None:
        t = _Reader(r.raw["tls"], "xroad.tls", {"ca_file", "cert_file", "key_file"}, base)
        tls = XRoadTls(t.path_("ca_file"), t.path_("cert_file"), t.path_("key_file"))
        if (tls.cert_file is None) != (tls.key_file is None):
            raise ConfigError("xroad.tls.cert_file: cert_file and key_file go together")
        if tls == XRoadTls(None, None, None):
            tls = None
    if tls is not None and not url.startswith("https://"):
        raise ConfigError("xroad.tls: TLS settings need an https:// security_server_url")
    return XRoadConfig(
        security_server_url=url,
        client=_identifier(r, "client", ClientId.parse),
        timeout_seconds=r.number("timeout_seconds", 10.0, 0.1, 600),
        max_response_bytes=r.integer("max_response_bytes", 2 * 1024 * 1024, 1024, 64 * 1024 * 1024) or 0,
        pool_size=r.integer("pool_size", 100, 1, 10000) or 1,
        tls=tls,
        route_probe_seconds=_probe_seconds(r),
    )


def _probe_seconds(r: _Reader) -> float:
    seconds = r.number("route_probe_seconds", 60.0, 0.0, 86400)
    if 0 < seconds < 5:
        # A probe every second would be load on the security server, not a watch on the route.
        raise ConfigError("xroad.route_probe_seconds: 0 (off) or at least 5")
    return seconds


def _vtj(raw: Any, base: Path, warnings: list[str], env_keys: set[str]) -> VtjConfig:
    r = _Reader(
        raw,
        "vtj",
        {
            "service",
            "username",
            "password",
            "password_file",
            "default_product",
            "route",
            "direct",
            "services",
            "product_schema_cache_seconds",
        },
        base,
    )
    password = r.secret("password", warnings, env_keys)
    if not password:
        raise ConfigError("vtj.password: required (or vtj.password_file)")
    route = r.get("route", str, "xroad")
    if route not in VTJ_ROUTES:
        raise ConfigError(f"vtj.route: must be one of {', '.join(VTJ_ROUTES)}")
    direct = _direct(r.raw.get("direct"), base) if r.raw.get("direct") is not None else None
    if route == "direct" and direct is None:
        raise ConfigError("vtj.direct: required when vtj.route is direct")
    services_raw = r.get("services", dict, {}) or {}
    services: dict[str, ServiceId] = {}
    for operation, text in services_raw.items():
        if operation not in VTJ_OPERATIONS:
            raise ConfigError(f"unknown configuration key vtj.services.{operation}")
        if not isinstance(text, str):
            raise ConfigError(f"vtj.services.{operation}: expected str")
        try:
            services[operation] = ServiceId.parse(text)
        except InvalidIdentifier as exc:
            raise ConfigError(f"vtj.services.{operation}: {exc.detail}") from None
        if services[operation].service_code != operation:
            # X-Road refuses a body wrapper that is not the service code, and VTJ's wrappers are its operations.
            raise ConfigError(f"vtj.services.{operation}: the service code must be {operation}")
    return VtjConfig(
        service=_identifier(r, "service", ServiceId.parse),
        username=r.required("username", str),
        password=password,
        default_product=r.get("default_product", str, "PERUSSANOMA 1"),
        route=route,
        direct=direct,
        services=MappingProxyType(services),
        product_schema_cache_seconds=r.number("product_schema_cache_seconds", 86400.0, 0.0),
    )


def _direct(raw: Any, base: Path) -> DirectConfig:
    r = _Reader(raw, "vtj.direct", {"url", "tls"}, base)
    url = r.required("url", str)
    if not re.match(r"^https://[^/\s]+(/\S*)?$", url):
        raise ConfigError("vtj.direct.url: must be an https:// URL")
    t = _Reader(r.raw.get("tls"), "vtj.direct.tls", {"ca_file", "cert_file", "key_file"}, base)
    tls = XRoadTls(t.path_("ca_file"), t.path_("cert_file"), t.path_("key_file"))
    if tls.cert_file is None or tls.key_file is None:
        raise ConfigError(
            "vtj.direct.tls.cert_file: the organisation's certificate and key (cert_file, key_file) are required"
        )
    return DirectConfig(url=url, tls=tls)


_QUOTA_KEYS = (
    "per_end_user_per_minute",
    "per_end_user_per_day",
    "per_caller_per_minute",
    "distinct_subjects_per_end_user_per_day",
)


def _caller(raw: Any, index: int, base: Path, warnings: list[str]) -> CallerConfig:
    path = f"callers[{index}]"
    r = _Reader(
        raw,
        path,
        {
            "name",
            "token_sha256",
            "token_sha256_file",
            "cert_subject",
            "cert_fingerprint_sha256",
            "roles",
            "products",
            "reveal_protected_addresses",
            "purpose_pattern",
            "end_user_pattern",
            "quotas",
            "non_unique_search",
        },
        base,
    )
    name = r.required("name", str)
    token_hex = r.secret("token_sha256", [], set())
    if token_hex and r.get("token_sha256", str):
        # Only a hash, but a guessable token can be found from it; and the callers list has no environment
        # override, so the file is the only other place.
        warnings.append(
            f"{path}.token_sha256 is written in the configuration file; move it to token_sha256_file"
        )
    token = None
    if token_hex:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", token_hex):
            raise ConfigError(
                f"{path}.token_sha256: must be 64 hexadecimal characters (SHA-256 of the token)"
            )
        token = bytes.fromhex(token_hex)
    fingerprint = r.get("cert_fingerprint_sha256", str)
    if fingerprint is not None:
        fingerprint = fingerprint.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
            raise ConfigError(f"{path}.cert_fingerprint_sha256: must be a SHA-256 fingerprint in hex")
    subject = r.get("cert_subject", str)
    if token is None and fingerprint is None and subject is None:
        raise ConfigError(f"{path}: needs token_sha256, cert_subject or cert_fingerprint_sha256")
    roles_raw = r.get("roles", list, ["query"])
    if not roles_raw or any(role not in ROLES for role in roles_raw):
        raise ConfigError(f"{path}.roles: each role must be one of {', '.join(sorted(ROLES))}")
    products = r.get("products", list, [])
    if any(not isinstance(p, str) or not p.strip() for p in products):
        raise ConfigError(f"{path}.products: must be a list of product names")
    pattern = _pattern(r, path, "purpose_pattern")
    end_user_pattern = _pattern(r, path, "end_user_pattern")
    q = _Reader(r.raw.get("quotas"), f"{path}.quotas", set(_QUOTA_KEYS), base)
    defaults = Quotas()
    # An explicit null switches a quota off; a missing key keeps the moderate default.
    quotas = Quotas(
        **{
            k: None if k in q.raw and q.raw[k] is None else q.integer(k, getattr(defaults, k), 1)
            for k in _QUOTA_KEYS
        }
    )
    return CallerConfig(
        name=name,
        token_sha256=token,
        cert_subject=subject,
        cert_fingerprint_sha256=fingerprint,
        roles=frozenset(roles_raw),
        products=tuple(products),
        reveal_protected_addresses=bool(r.get("reveal_protected_addresses", bool, False)),
        purpose_pattern=pattern,
        quotas=quotas,
        end_user_pattern=end_user_pattern,
        non_unique_search=bool(r.get("non_unique_search", bool, False)),
    )


def _pattern(r: _Reader, path: str, key: str) -> re.Pattern[str] | None:
    text = r.get(key, str)
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error:
        raise ConfigError(f"{path}.{key}: not a valid regular expression") from None


# --- environment overrides ---------------------------------------------------------------------------------------


def apply_env_overrides(
    raw: dict[str, Any], environ: Mapping[str, str], texts: dict[str, str] | None = None
) -> set[str]:
    """Merge ``XROAD_VTJ__A__B=value`` into ``raw`` (in place); returns the dotted keys that were set.

    ``texts``, when given, receives each variable's text as it was, by dotted key.
    """
    keys: set[str] = set()
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        target = raw
        for part in parts[:-1]:
            child = target.get(part)
            if child is None:
                child = target[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {'.'.join(parts)} cannot be set from the environment")
            target = child
        try:
            value = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            value = text
        # A string is taken verbatim: YAML would drop a " #…" tail as a comment or unquote it, and a secret must
        # arrive exactly as given. Numbers, booleans and null keep their YAML meaning for typed keys.
        target[parts[-1]] = text if isinstance(value, str) else value
        keys.add(".".join(parts))
        if texts is not None:
            texts[".".join(parts)] = text
    return keys


TOP_LEVEL = {"server", "xroad", "vtj", "audit", "callers", "logging", "instance_id"}


def parse_config(
    raw: Any, base_dir: Path, *, environ: Mapping[str, str] | None = None, source: Path | None = None
) -> Config:
    """Validate a configuration mapping (as read from YAML) into a :class:`Config`."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("configuration: the file must hold a mapping")
    file_token = _FILE_RAW.set(raw)  # as written in the file: secret warnings look here
    raw = copy.deepcopy(raw)
    texts: dict[str, str] = {}
    env_keys = apply_env_overrides(raw, os.environ if environ is None else environ, texts)
    token = _ENV_TEXTS.set(texts)
    try:
        return _parse_sections(raw, base_dir, env_keys, source)
    finally:
        _ENV_TEXTS.reset(token)
        _FILE_RAW.reset(file_token)


_FILE_RAW: ContextVar[Mapping[str, Any]] = ContextVar("xroad_vtj_file_raw", default=MappingProxyType({}))


def _file_value(dotted: str) -> Any:
    """The value at ``dotted`` as the configuration file wrote it (before environment overrides)."""
    node: Any = _FILE_RAW.get()
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _parse_sections(raw: dict[str, Any], base_dir: Path, env_keys: set[str], source: Path | None) -> Config:
    top = _Reader(raw, "", TOP_LEVEL, base_dir)
    warnings: list[str] = []
    log = _Reader(raw.get("logging"), "logging", {"level"}, base_dir)
    level = log.get("level", str, "info").lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"logging.level: must be one of {', '.join(LOG_LEVELS)}")
    callers_raw = raw.get("callers") or []
    if not isinstance(callers_raw, list):
        raise ConfigError("callers: must be a list")
    callers = tuple(_caller(c, i, base_dir, warnings) for i, c in enumerate(callers_raw))
    names = [c.name for c in callers]
    if len(set(names)) != len(names):
        raise ConfigError("callers: caller names must be unique")
    tokens = [c.token_sha256 for c in callers if c.token_sha256]
    if len(set(tokens)) != len(tokens):
        raise ConfigError("callers: two callers share one token")
    audit_raw = raw.get("audit") or {}
    if not isinstance(audit_raw, Mapping):
        raise ConfigError("audit: must be a mapping")
    if _dsn_has_password(_file_value("audit.dsn")):
        warnings.append(
            "audit.dsn carries a password in the configuration file"
            + (" (the environment overrides it, but the file still holds it)" * ("audit.dsn" in env_keys))
            + f"; move it to audit.dsn_file or {ENV_PREFIX}AUDIT__DSN"
        )
    server = _server(raw.get("server"), base_dir)
    if (server.tls is None or server.tls.client_ca_file is None) and any(
        c.token_sha256 is None for c in callers
    ):
        raise ConfigError("callers: certificate-only callers need server.tls with client_ca_file")
    instance = top.get("instance_id", str) or f"{socket.gethostname()}-{os.getpid()}"
    vtj = _vtj(raw.get("vtj"), base_dir, warnings, env_keys)
    xroad_raw = raw.get("xroad")
    if vtj.direct is not None and vtj.route == "direct" and isinstance(xroad_raw, Mapping):
        # The direct route has no security server; xroad still gives the client (the organisation named in
        # audit records), the deadline, the answer size cap and the pool size. The direct URL is where queries
        # go, so it wins over a security_server_url left in the file (which would otherwise show in
        # diagnostics and get the plain-http warning for a server never used).
        xroad_raw = {**xroad_raw, "security_server_url": vtj.direct.url}
    return Config(
        server=server,
        xroad=_xroad(xroad_raw, base_dir),
        vtj=vtj,
        audit=parse_audit_config(audit_raw, base_dir),
        callers=callers,
        instance_id=instance,
        log_level=level,
        source=source,
        warnings=tuple(warnings),
    )


_DSN_PASSWORD = re.compile(r"^[a-z0-9+.-]+://[^/@\s]*:[^/@\s]*@|(^|[\s?&])password\s*=", re.IGNORECASE)


def _dsn_has_password(dsn: Any) -> bool:
    """A URL with ``user:password@`` or a key/value DSN with ``password=``; without one the DSN is no secret."""
    return isinstance(dsn, str) and _DSN_PASSWORD.search(dsn) is not None


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the YAML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path} ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"configuration file {path} is not valid YAML{where}") from None
    return parse_config(raw, path.resolve().parent, environ=environ, source=path)


def token_digest(token: str) -> bytes:
    """SHA-256 of a bearer token, the form kept in configuration."""
    return hashlib.sha256(token.encode("utf-8")).digest()
