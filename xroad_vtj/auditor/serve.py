"""``xroad-vtj audit ui``: open the audit store, serve the view, print the one URL that gets in.

stdout gets exactly one line, the URL with the access token (so a wrapper can read it); warnings and errors
go to stderr as one line each. aiohttp's access log is off: the token URL must not end up in a log.

The view opens the service's store as it finds it: it refuses to start when the store or its keys are missing
(it never creates them), and it writes nothing but its ``audit_access`` events (no checkpoint at exit).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from aiohttp import web

from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.auditor.app import create_view_app
from xroad_vtj.auditor.i18n import LANGS
from xroad_vtj.auditor.session import Sessions
from xroad_vtj.errors import ConfigError, XRoadVtjError

DEFAULT_PORT = 8090


def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--auditor", required=True, type=_auditor, metavar="NAME", help="your name: recorded with every view"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks one")
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="and this private key")
    parser.add_argument("--lang", choices=LANGS, default="en", help="labels in English or Finnish")


def _auditor(text: str) -> str:
    name = text.strip()
    if not 1 <= len(name) <= 100 or not name.isprintable():
        raise argparse.ArgumentTypeError("1-100 printable characters")
    return name


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, *, tls: bool) -> str | None:
    if tls or is_loopback(host):
        return None
    return (
        f"listening on {host} without TLS: the token and every page cross the network in clear "
        "(give --tls-cert and --tls-key)"
    )


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    if args.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError):
        raise ConfigError("cannot load --tls-cert/--tls-key") from None
    return context


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104  # naming the wildcard, not binding it
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


async def serve(
    args: argparse.Namespace,
    config: AuditConfig,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    stop: asyncio.Event | None = None,
) -> int:
    tls = _tls(args)
    warning = exposure_warning(args.host, tls=tls is not None)
    if warning is not None:
        print(f"xroad-vtj audit ui: warning: {warning}", file=err)
    path = config.with_defaults().sqlite_path
    if config.backend == "sqlite" and path is not None and not path.exists():
        # opening would create an empty store and new keys: an auditor wants the service's log
        raise ConfigError(f"no audit store at {path} (audit.sqlite_path)")
    refuse_missing_keys(config)
    store: AuditStore = open_store(config, instance=f"auditor-{socket.gethostname()}")
    await store.open(checkpoints=False)
    sessions = Sessions()
    app = create_view_app(
        store,
        auditor=args.auditor,
        lang=args.lang,
        sessions=sessions,
        port=args.port,
        secure_cookie=tls is not None,
    )
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    try:
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port, ssl_context=tls)
        try:
            await site.start()
        except OSError as e:
            raise ConfigError(f"cannot listen on {args.host}:{args.port} ({e.strerror})") from None
        port = args.port or _bound_port(runner)
        scheme = "https" if tls else "http"
        print(f"{scheme}://{_url_host(args.host)}:{port}/?token={sessions.token}", file=out, flush=True)
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    finally:
        await runner.cleanup()
        # No checkpoint here: the view writes nothing but its audit_access events; the service's own
        # checkpoints cover them at its next interval.
        await store.close()
    return 0


def refuse_missing_keys(config: AuditConfig) -> None:
    """Refuse to start unless the data key and the signing key and certificate exist.

    Checked before the store is opened: for SQLite, opening creates missing key files, and a view that made
    itself new keys would read nothing of the service's log (and sign with a key nobody trusts).
    """
    config = config.with_defaults()
    for setting, path in (
        ("audit.data_key_file", config.data_key_file),
        ("audit.signing_key_file", config.signing_key_file),
        ("audit.signing_cert_file", config.signing_cert_file),
    ):
        if path is None:
            raise ConfigError(
                f"{setting} is not configured: the view uses the service's keys and creates none"
            )
        if not path.is_file():
            raise ConfigError(f"no {setting} at {path}: the view uses the service's keys and creates none")


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise ConfigError("the view is not listening")


def run_view(args: argparse.Namespace, load: Callable[[Path], AuditConfig]) -> int:
    try:
        return asyncio.run(serve(args, load(args.config)))
    except XRoadVtjError as e:
        print(f"xroad-vtj audit ui: {e.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
