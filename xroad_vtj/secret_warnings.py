"""Warnings about how a deployment keeps its secrets, for ``check`` and the start of ``serve``.

None of these stops the service (a warning names the key and what to do; never a secret's value):

* a secret file (VTJ password, TLS and audit keys, token hashes, a DSN file) readable by others, or by its
  group while this process owns it (a Kubernetes secret volume's 0440, owner root, group fsGroup, is fine);
* ``xroad.security_server_url`` in plain ``http://`` (hetus and the VTJ password travel unencrypted; allowed,
  as many organisations reach their security server inside one network);
* the audit signing key in the same directory as the SQLite database, or readable by others: whoever can
  rewrite the database could then re-sign checkpoints over a rewritten log (docs/audit.md, "Who can do what").

Secrets written into the configuration file itself are warned about where the file is parsed
(:mod:`xroad_vtj.config`), also when the environment overrides them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from xroad_vtj.config import Config, apply_env_overrides

# Keys whose file holds a secret (or, for token hashes, something a guessable token can be found from).
SECRET_FILE_KEYS = frozenset(
    {
        "password_file",
        "key_file",
        "token_sha256_file",
        "dsn_file",
        "data_key_file",
        "previous_data_key_files",
        "signing_key_file",
    }
)


def _secret_files(raw: Any, base: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """``(dotted key, path)`` of every secret file named anywhere in the raw configuration."""
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key in SECRET_FILE_KEYS:
                for i, item in enumerate(value if isinstance(value, list) else [value]):
                    if isinstance(item, str) and item:
                        path = Path(item)
                        label = f"{name}[{i}]" if isinstance(value, list) else name
                        yield label, path if path.is_absolute() else base / path
            else:
                yield from _secret_files(value, base, name)
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            yield from _secret_files(item, base, f"{prefix}[{i}]")


def _exposed(path: Path) -> int | None:
    """The file's permission bits when others, or needlessly its group, may read it (else None).

    Group access is needed, and so not warned about, when this process does not own the file and reads it
    through its group: how Kubernetes mounts secrets (owner root, group ``fsGroup``, mode 0440)."""
    try:
        info = path.stat()
    except OSError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    if mode & stat.S_IROTH or (mode & stat.S_IRGRP and info.st_uid == os.geteuid()):
        return mode
    return None


def file_mode_warnings(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """Secret files readable by group or others, including the audit key files created by default."""
    found: dict[Path, str] = {}
    if config.source is not None:
        try:
            raw = yaml.safe_load(config.source.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            raw = {}
        if isinstance(raw, dict):
            apply_env_overrides(raw, os.environ if environ is None else environ)
            base = config.source.resolve().parent
            for label, path in _secret_files(raw, base):
                found.setdefault(path, label)
    audit = config.audit.with_defaults()
    for label, maybe in (
        ("audit.data_key_file", audit.data_key_file),
        ("audit.signing_key_file", audit.signing_key_file),
    ):
        if maybe is not None:
            found.setdefault(maybe, label)
    out = []
    for path, label in found.items():
        mode = _exposed(path)
        if mode is not None:
            out.append(f"{label} ({path}) is readable by group or others (mode {mode:04o}): chmod 600 it")
    return out


def plain_http_warning(config: Config) -> list[str]:
    if config.xroad.security_server_url.lower().startswith("http://"):
        return [
            "xroad.security_server_url uses plain http://: hetus and the VTJ password travel unencrypted; "
            "use https:// with xroad.tls unless the security server is inside this network"
        ]
    return []


def signing_key_warnings(config: Config) -> list[str]:
    audit = config.audit.with_defaults()
    key = audit.signing_key_file
    if audit.backend != "sqlite" or key is None or audit.sqlite_path is None:
        return []
    if key.resolve().parent == audit.sqlite_path.resolve().parent:
        return [
            f"audit.signing_key_file ({key}) lies in the same directory as the SQLite database: whoever can "
            "rewrite the database can re-sign checkpoints over it; keep the key (audit.signing_key_file) "
            "elsewhere and ship audit.checkpoint_dir to write-once storage"
        ]
    return []


def deployment_warnings(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every warning of this module, in a stable order."""
    return [*plain_http_warning(config), *signing_key_warnings(config), *file_mode_warnings(config, environ)]
