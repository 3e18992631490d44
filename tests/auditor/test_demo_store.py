"""The issue's "done when": from the demo's audit store, one command, every query about a test person found,
one opened, a report and a signed document downloaded that ``xmlsec1 --verify`` accepts."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.audit.test_checkpoint import xmlsec1_verifies
from tests.test_demo import free_port_block
from xroad_vtj.demo import EXAMPLE


@pytest.mark.slow
def test_the_view_over_the_demo_store_yields_verifiable_evidence(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    # in its own process: the demo configures logging for the whole process
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "xroad_vtj",
            "demo",
            "--workdir",
            str(workdir),
            "--port",
            str(free_port_block()),
            "--example-only",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xroad_vtj",
            "audit",
            "ui",
            "--config",
            str(workdir / "config.yaml"),
            "--auditor",
            "Maija Auditor",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        base = url.split("/?", 1)[0]
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        browser.open(url).read()
        today = datetime.now(UTC)
        form = {
            "subject": EXAMPLE["hetu"],
            "from": (today - timedelta(days=1)).date().isoformat(),
            "to": (today + timedelta(days=1)).date().isoformat(),
        }
        html = browser.open(base + "/report", data=urllib.parse.urlencode(form).encode()).read().decode()
        records = re.findall(r'href="(/records/[0-9a-f-]{36})"', html)
        assert len(records) == 1  # the demo's one example query
        assert "found" in html
        report_xml = re.search(r'href="(/report/[^"]+\.xml)"', html)
        assert report_xml
        (tmp_path / "report.xml").write_bytes(browser.open(base + report_xml.group(1)).read())
        page = browser.open(base + records[0]).read().decode()
        assert EXAMPLE["end_user"] in page
        (tmp_path / "proof.xml").write_bytes(browser.open(base + records[0] + "/evidence.xml").read())
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    cert = workdir / "audit-signing.crt"
    assert xmlsec1_verifies(tmp_path / "report.xml", cert)
    assert xmlsec1_verifies(tmp_path / "proof.xml", cert)
