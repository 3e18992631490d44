"""The ``audit:`` section of the configuration, parsed and validated once into :class:`AuditConfig`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xroad_vtj.errors import ConfigError

BACKENDS = ("sqlite", "postgresql")
MIN_RETENTION_YEARS = 5

_KEYS = frozenset(
    {
        "backend",
        "sqlite_path",
        "dsn",
        "dsn_file",
        "data_key_file",
        "previous_data_key_files",
        "signing_key_file",
        "signing_cert_file",
        "previous_signing_cert_files",
        "checkpoint_dir",
        "checkpoint_interval_seconds",
        "retention_years",
    }
)


@dataclass(frozen=True, slots=True)
class AuditConfig:
    backend: str = "sqlite"
    sqlite_path: Path | None = None
    dsn: str | None = None
    data_key_file: Path | None = None
    previous_data_key_files: tuple[Path, ...] = ()
    signing_key_file: Path | None = None
    signing_cert_file: Path | None = None
    previous_signing_cert_files: tuple[Path, ...] = ()  # checkpoints signed before a key change still verify
    checkpoint_dir: Path | None = None
    checkpoint_interval_seconds: float = 300.0
    retention_years: int = MIN_RETENTION_YEARS

    def __repr__(self) -> str:
        # the DSN may carry a password
        return f"AuditConfig(backend={self.backend!r}, sqlite_path={self.sqlite_path!r}, dsn=<hidden>)"

    def with_defaults(self) -> AuditConfig:
        """Fill in the SQLite defaults: key files, certificate and checkpoint directory next to the database.

        PostgreSQL needs them all configured (checked by :func:`parse_audit_config`), so it is returned as is.
        """
        if self.backend != "sqlite" or self.sqlite_path is None:
            return self
        here = self.sqlite_path.parent
        return dataclasses.replace(
            self,
            data_key_file=self.data_key_file or here / "audit-data.key",
            signing_key_file=self.signing_key_file or here / "audit-signing.key",
            signing_cert_file=self.signing_cert_file or here / "audit-signing.crt",
            checkpoint_dir=self.checkpoint_dir or here / "audit-checkpoints",
        )


def _path(raw: Mapping[str, Any], key: str, base_dir: Path) -> Path | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"audit.{key} must be a non-empty path")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir / p


def _paths(raw: Mapping[str, Any], key: str, base_dir: Path) -> tuple[Path, ...]:
    values = raw.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError(f"audit.{key} must be a list of paths")
    return tuple(p if p.is_absolute() else base_dir / p for p in (Path(v).expanduser() for v in values))


def parse_audit_config(raw: Mapping[str, Any] | None, base_dir: Path) -> AuditConfig:
    """Validate the ``audit`` mapping of the YAML configuration; relative paths start at ``base_dir``."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ConfigError("audit must be a mapping")
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(f"audit.{key} is not a known configuration key")

    backend = raw.get("backend", "sqlite")
    if backend not in BACKENDS:
        raise ConfigError(f"audit.backend must be one of {', '.join(BACKENDS)}")

    sqlite_path = _path(raw, "sqlite_path", base_dir)
    if backend == "sqlite" and sqlite_path is None:
        sqlite_path = base_dir / "var" / "audit.sqlite3"

    dsn = raw.get("dsn")
    if dsn is not None and (not isinstance(dsn, str) or not dsn.strip()):
        raise ConfigError("audit.dsn must be a non-empty string")
    dsn_file = _path(raw, "dsn_file", base_dir)
    if dsn is not None and dsn_file is not None:
        raise ConfigError("audit.dsn_file cannot be given together with audit.dsn")
    if dsn_file is not None:
        try:
            dsn = dsn_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"audit.dsn_file cannot be read ({e.strerror})") from None
        if not dsn:
            raise ConfigError("audit.dsn_file is empty")

    previous = _paths(raw, "previous_data_key_files", base_dir)

    interval = raw.get("checkpoint_interval_seconds", 300)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval > 0:
        raise ConfigError("audit.checkpoint_interval_seconds must be a positive number")

    years = raw.get("retention_years", MIN_RETENTION_YEARS)
    if isinstance(years, bool) or not isinstance(years, int):
        raise ConfigError("audit.retention_years must be a whole number of years")
    if years < MIN_RETENTION_YEARS:
        raise ConfigError(f"audit.retention_years must be at least {MIN_RETENTION_YEARS}")

    config = AuditConfig(
        backend=backend,
        sqlite_path=sqlite_path,
        dsn=dsn,
        data_key_file=_path(raw, "data_key_file", base_dir),
        previous_data_key_files=previous,
        signing_key_file=_path(raw, "signing_key_file", base_dir),
        signing_cert_file=_path(raw, "signing_cert_file", base_dir),
        previous_signing_cert_files=_paths(raw, "previous_signing_cert_files", base_dir),
        checkpoint_dir=_path(raw, "checkpoint_dir", base_dir),
        checkpoint_interval_seconds=float(interval),
        retention_years=years,
    )
    if backend == "postgresql":
        for key in ("dsn", "data_key_file", "signing_key_file", "signing_cert_file", "checkpoint_dir"):
            if getattr(config, key) is None:
                raise ConfigError(f"audit.{key} is required with audit.backend postgresql")
    return config
