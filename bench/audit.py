"""Audit appends/s and ``audit verify`` records/s: delegated to ``bench/audit_bench.py`` when it is present.

That script belongs to the audit store's owner; this module only runs it in its own process and passes its
table on. PostgreSQL is measured when ``XROAD_VTJ_TEST_PG_DSN`` is set or ``scripts/start-postgres`` can start
the local cluster (as ``scripts/test`` does); otherwise the script reports it as skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

from bench.common import PYTHON, REPO

SCRIPT = REPO / "bench" / "audit_bench.py"
START_POSTGRES = REPO / "scripts" / "start-postgres"


@dataclass
class AuditResult:
    present: bool
    ok: bool = False
    output: str = ""
    figures: dict[str, str] = field(default_factory=dict)


def postgres_dsn() -> str | None:
    dsn = os.environ.get("XROAD_VTJ_TEST_PG_DSN")
    if dsn or not START_POSTGRES.exists():
        return dsn
    try:
        done = subprocess.run([str(START_POSTGRES)], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[-1] if done.returncode == 0 and lines else None


def parse_table(output: str) -> dict[str, str]:
    """The rows under the script's ``measure  result`` header."""
    figures: dict[str, str] = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("measure") and i + 1 < len(lines) and lines[i + 1].startswith("---"):
            for row in lines[i + 2 :]:
                parts = re.split(r"\s{2,}", row.strip(), maxsplit=1)
                if len(parts) == 2:
                    figures[parts[0]] = parts[1]
            break
    return figures


def run(extra_args: list[str] | None = None, timeout: float = 3600) -> AuditResult:
    if not SCRIPT.exists():
        return AuditResult(present=False)
    env = dict(os.environ)
    dsn = postgres_dsn()
    if dsn:
        env["XROAD_VTJ_TEST_PG_DSN"] = dsn
    done = subprocess.run(
        [PYTHON, str(SCRIPT), *(extra_args or [])],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    return AuditResult(present=True, ok=done.returncode == 0, output=output, figures=parse_table(done.stdout))
