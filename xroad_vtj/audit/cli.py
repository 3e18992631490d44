"""``xroad-vtj audit …``: search, verify, checkpoint, export, prove, migrate, retention, ui.

Every subcommand takes ``--config FILE`` and sets ``args.func``: a callable ``(args) -> exit code``. Errors
are one line on stderr and a non-zero exit (2 for usage or configuration errors, 1 for a failed
verification).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import yaml

from xroad_vtj.audit import sqlite_store
from xroad_vtj.audit.chain import parse_when
from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.config import _dsn_has_password, apply_env_overrides
from xroad_vtj.errors import AuditUnavailable, ConfigError, XRoadVtjError
from xroad_vtj.vtj.identifiers import canonical_subject


def _load_audit_config(path: Path) -> AuditConfig:
    """The ``audit`` section of the service's configuration file, with the same environment overrides.

    Only that section is validated, so that an auditor's copy of the file needs no VTJ or X-Road secrets.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"cannot read the configuration file ({e.strerror})") from None
    except yaml.YAMLError:
        raise ConfigError("the configuration file is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError("the configuration file must hold a mapping")
    apply_env_overrides(raw, os.environ)
    return parse_audit_config(raw.get("audit") or {}, path.resolve().parent)


def _instance() -> str:
    return f"cli-{socket.gethostname()}-{os.getpid()}"


def _when(text: str) -> datetime:
    """ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        return parse_when(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO 8601 date or date-time") from None


def _run(args: argparse.Namespace, work: Callable[[AuditStore], Awaitable[int]]) -> int:
    async def go() -> int:
        store = open_store(_load_audit_config(args.config), instance=_instance())
        await store.open(checkpoints=False)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except XRoadVtjError as e:
        print(f"xroad-vtj audit: {e.detail}", file=sys.stderr)
        return 2


def _cmd_search(args: argparse.Namespace) -> int:
    async def work(store: AuditStore) -> int:
        rows = await store.search(
            xroad_id=args.xroad_id,
            end_user=args.end_user,
            caller=args.caller,
            subject=canonical_subject(args.subject) if args.subject else None,
            since=args.since,
            until=args.until,
            limit=args.limit,
        )
        out = sys.stdout
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0

    return _run(args, work)


def _cmd_verify(args: argparse.Namespace) -> int:
    async def work(store: AuditStore) -> int:
        report = await store.verify(checkpoint_dir=args.checkpoints)
        if report.ok:
            print(report.summary())
            return 0
        print(f"xroad-vtj audit verify: FAILED: {report.problem}", file=sys.stderr)
        return 1

    return _run(args, work)


def _cmd_checkpoint(args: argparse.Namespace) -> int:
    async def work(store: AuditStore) -> int:
        cp = await store.checkpoint()
        assert cp is not None
        print(f"checkpoint written: record {cp.seq}, head {cp.head_hash.hex()}")
        return 0

    return _run(args, work)


def _cmd_export(args: argparse.Namespace) -> int:
    async def work(store: AuditStore) -> int:
        document = await store.export(args.since, args.until)
        await asyncio.to_thread(args.out.write_bytes, document)
        print(f"evidence written to {args.out}")
        return 0

    return _run(args, work)


def _cmd_prove(args: argparse.Namespace) -> int:
    async def work(store: AuditStore) -> int:
        document = await store.prove(args.xroad_id)
        await asyncio.to_thread(args.out.write_bytes, document)
        print(f"proof written to {args.out}")
        return 0

    return _run(args, work)


ADMIN_DSN_ENV = "XROAD_VTJ_AUDIT_ADMIN_DSN"


OWNER_NEEDED = (
    "the schema owner's DSN is needed: pass --admin-dsn-file FILE (or set "
    f"${ADMIN_DSN_ENV}; --admin-dsn only without a password)"
)


def _admin_dsn(args: argparse.Namespace, config: AuditConfig) -> str | None:
    """The schema owner's DSN: ``--admin-dsn-file``, ``--admin-dsn`` (without a password: the command line is
    visible to every user in ``ps``), else ``$XROAD_VTJ_AUDIT_ADMIN_DSN``, else ``audit.dsn``."""
    if args.admin_dsn_file is not None:
        try:
            text: str = args.admin_dsn_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"--admin-dsn-file cannot be read ({getattr(e, 'strerror', None) or 'not UTF-8'})"
            ) from None
        if not text:
            raise ConfigError("--admin-dsn-file is empty")
        return text
    if args.admin_dsn is not None and _dsn_has_password(args.admin_dsn):
        raise ConfigError(
            "--admin-dsn must not carry a password (every user sees it in ps): use --admin-dsn-file FILE "
            f"or ${ADMIN_DSN_ENV}"
        )
    dsn: str | None = args.admin_dsn or os.environ.get(ADMIN_DSN_ENV) or config.dsn
    return dsn


def _cmd_migrate(args: argparse.Namespace) -> int:
    try:
        config = _load_audit_config(args.config)
        dsn = _admin_dsn(args, config)  # refuses a password on the command line whatever the backend
        if config.backend == "postgresql":
            import psycopg  # only for PostgreSQL: a SQLite deployment starts without loading it

            from xroad_vtj.audit import pg_schema

            assert dsn is not None  # the configuration requires audit.dsn
            try:
                version = pg_schema.migrate(dsn, app_role=args.app_role)
            except psycopg.Error as e:
                state = f" ({e.sqlstate})" if e.sqlstate else ""
                print(f"xroad-vtj audit migrate: {type(e).__name__}{state}", file=sys.stderr)
                return 2
            role = f", application role {args.app_role} granted SELECT and INSERT" if args.app_role else ""
            print(f"audit schema at version {version} (postgresql{role})")
            return 0
    except XRoadVtjError as e:
        print(f"xroad-vtj audit: {e.detail}", file=sys.stderr)
        return 2

    async def work(store: AuditStore) -> int:
        print(f"audit schema at version {sqlite_store.SCHEMA_VERSION} (sqlite {config.sqlite_path})")
        return 0

    return _run(args, work)


def _cmd_ui(args: argparse.Namespace) -> int:
    from xroad_vtj.auditor.serve import run_view

    return run_view(args, _load_audit_config)


def _cmd_retention(args: argparse.Namespace) -> int:
    async def work(store: AuditStore) -> int:
        try:
            result = await store.apply_retention(admin_dsn=_admin_dsn(args, store.config))
        except AuditUnavailable as e:
            if "42501" not in e.detail:  # insufficient_privilege: the application role may not remove periods
                raise
            raise AuditUnavailable(
                f"retention: the role may not remove audit periods; {OWNER_NEEDED}"
            ) from None
        print(result.summary())
        return 0

    return _run(args, work)


def add_audit_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    audit = subparsers.add_parser("audit", help="search and verify the audit trail")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, func: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", type=Path, required=True, metavar="FILE")
        p.set_defaults(func=func)
        parser: argparse.ArgumentParser = p
        return parser

    search = command("search", "print matching queries as JSON lines", _cmd_search)
    search.add_argument("--xroad-id", help="X-Road message id")
    search.add_argument("--end-user")
    search.add_argument("--caller")
    search.add_argument(
        "--subject",
        help="henkilötunnus, SATU, building or property identifier in any written form (blind index)",
    )
    search.add_argument("--from", dest="since", type=_when, help="requested at or after (ISO 8601)")
    search.add_argument("--to", dest="until", type=_when, help="requested before (ISO 8601)")
    search.add_argument("--limit", type=int, default=1000)

    verify = command("verify", "check every record, the chain and the checkpoints", _cmd_verify)
    verify.add_argument(
        "--checkpoints", type=Path, metavar="DIR", help="exported checkpoints (default: audit.checkpoint_dir)"
    )
    command("checkpoint", "write a signed checkpoint now", _cmd_checkpoint)
    export = command("export", "signed XML evidence of a period", _cmd_export)
    export.add_argument("--from", dest="since", type=_when, required=True)
    export.add_argument("--to", dest="until", type=_when, required=True)
    export.add_argument("--out", type=Path, required=True)
    prove = command("prove", "signed XML evidence of one query and its place in the log", _cmd_prove)
    prove.add_argument("--xroad-id", required=True)
    prove.add_argument("--out", type=Path, required=True)
    migrate = command("migrate", "create or upgrade the database schema", _cmd_migrate)
    migrate.add_argument(
        "--app-role", help="PostgreSQL role the service connects as: granted SELECT and INSERT"
    )
    retention = command("retention", "remove whole months older than audit.retention_years", _cmd_retention)
    from xroad_vtj.auditor.serve import add_ui_arguments

    add_ui_arguments(command("ui", "the auditor's read-only web view (prints its URL)", _cmd_ui))

    for owner in (migrate, retention):
        dsn = owner.add_mutually_exclusive_group()
        dsn.add_argument(
            "--admin-dsn-file",
            type=Path,
            metavar="FILE",
            help=f"file holding the schema owner's DSN (default: ${ADMIN_DSN_ENV}, then audit.dsn)",
        )
        dsn.add_argument(
            "--admin-dsn", metavar="DSN", help="schema owner's DSN without a password (libpq finds it)"
        )


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (``prog: message``), exit 2; ``--help`` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry for ``python -m xroad_vtj.audit.cli`` (the service CLI mounts the same commands)."""
    parser = OneLineParser(prog="xroad-vtj")
    add_audit_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
