"""Start-up to ready: from spawning ``xroad-vtj serve`` to the first ``GET /readyz`` answered 200.

Measured per repeat: on a fresh directory ("first start": the SQLite store and its default key files are
created, including a signing key pair) and on that directory again ("restart", the usual case: the store
exists and is checked). With ``fill``, also restarts on a store holding ``fill`` records of the last day
(intent + outcome pairs, ``bench.quotas``'s fill), never swept before: the worst case for the sweep of
unfinished queries, which runs in the background after the store opens; its own duration (from the service's
``unfinished_sweep_finished`` log line) is reported beside. The median of the repeats is reported. /readyz is
polled every 2 ms.

    python -m bench.startup [--fill 1000000] [--repeats 5] [--pg-dsn DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.common import free_port, service_config, start_service, start_simulator


@dataclass(frozen=True)
class StartupResult:
    first_start_seconds: float
    restart_seconds: float
    samples_first: tuple[float, ...]
    samples_restart: tuple[float, ...]
    fill: int = 0
    filled_restart_seconds: float | None = None  # to ready, on a store holding ``fill`` records of the day
    filled_sweep_seconds: float | None = None  # the background sweep's own duration there
    samples_filled: tuple[float, ...] = ()
    backend: str = "sqlite"


def _once(config: Path, port: int, log: Path) -> float:
    child = start_service(config, port, log)
    try:
        assert child.ready_seconds is not None
        return child.ready_seconds
    finally:
        child.stop()


def _sweep_seconds(log: Path, give_up: float = 300) -> float | None:
    """The first sweep's duration, from the service's log (it goes on after ready)."""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if '"unfinished_sweep_finished"' in line:
                return float(json.loads(line)["seconds"])
        time.sleep(0.05)
    return None


def _filled_once(config: Path, port: int, log: Path) -> tuple[float, float | None]:
    child = start_service(config, port, log)
    try:
        assert child.ready_seconds is not None
        return child.ready_seconds, _sweep_seconds(log)
    finally:
        child.stop()


def _filled_store(
    home: Path, port: int, sim_port: int, fill: int, pg_dsn: str | None
) -> tuple[Path, str | None]:
    """A service configuration whose store holds ``fill`` records of the last day (no sweep event yet), and
    the PostgreSQL database made for it (to drop)."""
    from bench.quotas import _create, audit_section, fill_pg, fill_sqlite, pg_database
    from xroad_vtj.audit.config import parse_audit_config
    from xroad_vtj.audit.keys import Keyring, read_key_file

    config = service_config(home, port=port, simulator_port=sim_port)
    raw = yaml.safe_load(config.read_text())
    name = dsn = None
    if pg_dsn is not None:
        name, dsn = pg_database(pg_dsn)
    raw["audit"] = audit_section(home, "postgresql" if dsn else "sqlite", dsn)
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    audit = parse_audit_config(raw["audit"], home)
    assert audit.data_key_file is not None
    keyring = Keyring(read_key_file(audit.data_key_file, "data key"))
    if dsn is None:
        asyncio.run(_create(audit))  # the schema, as the service would
        assert audit.sqlite_path is not None
        fill_sqlite(audit.sqlite_path, fill, keyring)
    else:
        fill_pg(dsn, fill, keyring)
    return config, name


def _filled_runs(
    workdir: Path,
    sim_port: int,
    fill: int,
    pg_dsn: str | None,
    repeats: int,
    filled: list[float],
    sweeps: list[float],
) -> None:
    """Restarts on a filled store. SQLite: each from a copy of the store as filled (never swept: every
    sample is the worst case), kept in ``workdir`` for the next run of the bench with the same fill."""
    home = workdir / "service-filled"
    template = workdir / f"filled-{fill}.sqlite3"
    port = free_port()
    if pg_dsn is None and template.exists() and (home / "config.yaml").exists():
        config, database = service_config_with_port(home / "config.yaml", port), None
    else:
        shutil.rmtree(home, ignore_errors=True)
        config, database = _filled_store(home, port, sim_port, fill, pg_dsn)
        if pg_dsn is None:
            shutil.copyfile(home / "audit.sqlite3", template)
    try:
        for i in range(repeats):
            if pg_dsn is None:
                for extra in home.glob("audit.sqlite3-*"):
                    extra.unlink()
                shutil.copyfile(template, home / "audit.sqlite3")
                os.sync()  # not measuring the write-back of the copy
            ready, sweep = _filled_once(config, port, workdir / f"service-filled-{i}.log")
            filled.append(ready)
            if sweep is not None and (pg_dsn is None or i == 0):  # PostgreSQL: only the first is unswept
                sweeps.append(sweep)
    finally:
        if pg_dsn is not None and database is not None:
            from bench.quotas import drop_pg

            drop_pg(pg_dsn, database)


def service_config_with_port(path: Path, port: int) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw["server"]["port"] = port
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(workdir: Path, *, repeats: int = 5, fill: int = 0, pg_dsn: str | None = None) -> StartupResult:
    simulator, sim_port = start_simulator(workdir)
    first: list[float] = []
    again: list[float] = []
    filled: list[float] = []
    sweeps: list[float] = []
    try:
        for i in range(repeats):
            home = workdir / f"service-{i}"
            shutil.rmtree(home, ignore_errors=True)
            port = free_port()
            config = service_config(home, port=port, simulator_port=sim_port)
            first.append(_once(config, port, workdir / f"service-{i}-first.log"))
            again.append(_once(config, port, workdir / f"service-{i}-restart.log"))
        if fill:
            _filled_runs(workdir, sim_port, fill, pg_dsn, repeats, filled, sweeps)
    finally:
        simulator.stop()
    return StartupResult(
        statistics.median(first),
        statistics.median(again),
        tuple(first),
        tuple(again),
        fill,
        statistics.median(filled) if filled else None,
        statistics.median(sweeps) if sweeps else None,
        tuple(filled),
        "postgresql" if pg_dsn else "sqlite",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--fill", type=int, default=1_000_000, help="records of the last day in the filled store"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pg-dsn", default=None, help="a superuser DSN: the filled store is PostgreSQL")
    parser.add_argument("--workdir", type=Path, default=None, help="keep (and reuse) the filled store here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xroad-vtj-startup-") as tmp:
        workdir = args.workdir or Path(tmp)
        r = run(workdir, repeats=args.repeats, fill=args.fill, pg_dsn=args.pg_dsn)
    print(f"first start to ready (median of {args.repeats}): {r.first_start_seconds * 1000:.0f} ms")
    print(f"restart to ready, empty store: {r.restart_seconds * 1000:.0f} ms")
    if r.filled_restart_seconds is not None:
        print(
            f"restart to ready, {r.backend} store of {r.fill:,} records: {r.filled_restart_seconds * 1000:.0f} ms"
        )
        print(f"  samples: {', '.join(f'{s * 1000:.0f}' for s in r.samples_filled)} ms")
    if r.filled_sweep_seconds is not None:
        print(f"  its background sweep of the day's intents (after ready): {r.filled_sweep_seconds:.2f} s")


if __name__ == "__main__":
    main()
