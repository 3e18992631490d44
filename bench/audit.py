"""Audit appends/s and ``audit verify`` records/s: delegated to ``bench/audit_bench.py`` when it is present.

That script belongs to the audit store's owner; this module only runs it in its own process and passes its
output on. When it prints a JSON object on its last line, the figures are shown in the table.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from bench.common import PYTHON, REPO

SCRIPT = REPO / "bench" / "audit_bench.py"


@dataclass
class AuditResult:
    present: bool
    ok: bool = False
    output: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


def run(extra_args: list[str] | None = None, timeout: float = 1800) -> AuditResult:
    if not SCRIPT.exists():
        return AuditResult(present=False)
    done = subprocess.run(
        [PYTHON, str(SCRIPT), *(extra_args or [])],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    figures: dict[str, Any] = {}
    lines = done.stdout.strip().splitlines()
    if lines:
        try:
            parsed = json.loads(lines[-1])
            if isinstance(parsed, dict):
                figures = parsed
        except ValueError:
            pass
    return AuditResult(present=True, ok=done.returncode == 0, output=output, figures=figures)
