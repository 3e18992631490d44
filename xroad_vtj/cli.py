"""Command line: ``xroad-vtj serve | simulate | demo | check | audit …``.

Errors are one line on stderr and a non-zero exit; nothing personal is printed except what ``audit search``
is asked to show.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from xroad_vtj import __version__
from xroad_vtj.errors import XRoadVtjError
from xroad_vtj.logging import configure_logging

Command = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    from xroad_vtj.api.server import serve
    from xroad_vtj.config import load_config
    from xroad_vtj.logging import configure_logging, get_logger
    from xroad_vtj.secret_warnings import deployment_warnings

    config = load_config(args.config)
    configure_logging(config.log_level)
    log = get_logger("xroad_vtj")
    for warning in config.warnings:
        log.warning("secret_in_config_file", detail=warning)
    for warning in deployment_warnings(config):
        log.warning("deployment_warning", detail=warning)
    asyncio.run(serve(config))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from xroad_vtj.simulator.run import run_simulator

    asyncio.run(
        run_simulator(
            args.host,
            args.port,
            latency=args.latency,
            fault_style=args.fault_style,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            client_ca=args.client_ca,
            vtj_username=args.vtj_username,
            vtj_password=_read_secret_file(args.vtj_password_file)
            if args.vtj_password_file
            else "demo-password",
            route=args.route,
        )
    )
    return 0


def _read_secret_file(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").strip()


def _demo(args: argparse.Namespace) -> int:
    from xroad_vtj.demo import run_demo

    return asyncio.run(run_demo(Path(args.workdir), port=args.port, example_only=args.example_only))


def _check(args: argparse.Namespace) -> int:
    from xroad_vtj.check import run_check

    return asyncio.run(run_check(args.config, out=sys.stdout))


def build_parser() -> argparse.ArgumentParser:
    from xroad_vtj.audit.cli import OneLineParser

    parser = OneLineParser(prog="xroad-vtj", description="Audited VTJ person queries through X-Road.")
    parser.add_argument("--version", action="version", version=f"xroad-vtj {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", required=True, help="YAML configuration file")
    serve.set_defaults(func=_serve)

    sim = commands.add_parser("simulate", help="run the security server + VTJ simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8081)
    sim.add_argument("--latency", type=float, default=0.0, help="added latency per answer, seconds")
    sim.add_argument(
        "--fault-style",
        choices=("modern", "legacy"),
        default="modern",
        help="fault code spelling: X-Road 7.8 (modern) or older (legacy)",
    )
    sim.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    sim.add_argument("--tls-key", help="key of --tls-cert (PEM)")
    sim.add_argument("--client-ca", help="accept client certificates issued by this CA (PEM)")
    sim.add_argument(
        "--vtj-username",
        default="demo-user",
        help="the VTJ user id the simulator accepts (default demo-user)",
    )
    sim.add_argument(
        "--vtj-password-file",
        metavar="FILE",
        help="file holding the VTJ password the simulator accepts (default: demo-password)",
    )
    sim.add_argument(
        "--route",
        choices=("xroad", "direct"),
        default="xroad",
        help="xroad: a security server; direct: DVV's direct HTTPS service (needs --tls-cert/--tls-key)",
    )
    sim.set_defaults(func=_simulate)

    demo = commands.add_parser("demo", help="simulator + service with built-in defaults, one command")
    demo.add_argument(
        "--workdir", default="var/demo", help="where the demo keeps its audit database and keys"
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8080,
        help="API port; the simulator uses port + 1 and the metrics port + 2",
    )
    demo.add_argument("--example-only", action="store_true", help="run the example query, print it and exit")
    demo.set_defaults(func=_demo)

    check = commands.add_parser("check", help="validate the configuration and the route to VTJ")
    check.add_argument("--config", required=True)
    check.set_defaults(func=_check)

    from xroad_vtj.audit.cli import add_audit_commands

    add_audit_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # JSON log lines go to stderr from the start, so that no warning ever mixes into a command's output;
    # `serve` sets its configured level once the configuration is read.
    configure_logging("warning")
    try:
        result: int = args.func(args)
        return result
    except XRoadVtjError as error:
        print(f"xroad-vtj: {error.code}: {error.detail}", file=sys.stderr)
        return 2
    except OSError as error:
        # Typically a port already in use or a file that cannot be read: one line, not a traceback.
        where = f" ({error.filename})" if error.filename else ""
        print(f"xroad-vtj: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
