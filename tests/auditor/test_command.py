"""``xroad-vtj audit ui`` as an operator runs it: one line on stdout, errors as one line on stderr."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import signal
import sqlite3
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
import trustme

from tests.auditor.data import SUBJECT, config_for, populated_store, write_config
from tests.auditor.events import access_events
from xroad_vtj.audit.store import open_store
from xroad_vtj.auditor.serve import exposure_warning, is_loopback, serve


def _ui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xroad_vtj", "audit", "ui", *args], capture_output=True, text=True, timeout=60
    )


def test_the_auditor_name_is_required(tmp_path: Path) -> None:
    result = _ui("--config", str(write_config(tmp_path)))
    assert result.returncode == 2
    assert "--auditor" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "cannot load --tls-cert/--tls-key"),
    ],
)
def test_bad_tls_options_are_one_line_on_stderr(tmp_path: Path, extra: list[str], message: str) -> None:
    asyncio.run(populated_store(tmp_path))
    result = _ui("--config", str(tmp_path / "config.yaml"), "--auditor", "A", "--port", "0", *extra)
    assert result.returncode == 2
    assert result.stderr.strip() == f"xroad-vtj audit ui: {message}"
    assert result.stdout == ""


def test_a_missing_configuration_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = _ui("--config", str(tmp_path / "nope.yaml"), "--auditor", "A")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot read the configuration file" in result.stderr


def test_only_loopback_goes_without_a_warning() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert exposure_warning("127.0.0.1", tls=False) is None
    assert exposure_warning("192.0.2.10", tls=True) is None
    warning = exposure_warning("192.0.2.10", tls=False)
    assert warning is not None and "without TLS" in warning


def test_a_missing_sqlite_store_is_refused_not_created(tmp_path: Path) -> None:
    result = _ui("--config", str(write_config(tmp_path)), "--auditor", "A", "--port", "0")
    assert result.returncode == 2
    assert "no audit store" in result.stderr
    assert not (tmp_path / "audit.sqlite3").exists() and not (tmp_path / "audit-data.key").exists()


def test_with_tls_the_url_is_https_and_the_cookie_is_secure(tmp_path: Path) -> None:
    asyncio.run(populated_store(tmp_path))
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "view.pem"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xroad_vtj",
            "audit",
            "ui",
            "--config",
            str(write_config(tmp_path)),
            "--auditor",
            "A",
            "--port",
            "0",
            "--tls-cert",
            str(tmp_path / "view.pem"),
            "--tls-key",
            str(tmp_path / "view.pem"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:") and "?token=" in url
        context = ssl.create_default_context()
        ca.configure_trust(context)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(url)
        assert answer.value.code == 303
        cookie = answer.value.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err == ""  # nothing logged: no access log, no token in a log line


@pytest.mark.parametrize("missing", ["audit-data.key", "audit-signing.key", "audit-signing.crt"])
def test_missing_keys_are_refused_not_created(tmp_path: Path, missing: str) -> None:
    asyncio.run(populated_store(tmp_path))
    (tmp_path / missing).unlink()
    result = _ui("--config", str(tmp_path / "config.yaml"), "--auditor", "A", "--port", "0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "creates none" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / missing).exists()


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*")}


def _checkpoints(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return int(db.execute("SELECT count(*) FROM audit_checkpoint").fetchone()[0])


async def test_the_view_writes_its_events_and_no_checkpoint(tmp_path: Path) -> None:
    config_path, _ = await populated_store(tmp_path)
    before = _checkpoints(tmp_path / "audit.sqlite3")
    files_before = _files(tmp_path)
    out, err, stop = io.StringIO(), io.StringIO(), asyncio.Event()
    args = argparse.Namespace(
        auditor="A", host="127.0.0.1", port=0, tls_cert=None, tls_key=None, lang="en", config=config_path
    )
    task = asyncio.create_task(serve(args, config_for(config_path), out=out, err=err, stop=stop))
    for _ in range(200):
        if out.getvalue():
            break
        await asyncio.sleep(0.05)
    url = out.getvalue().strip()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # an IP host
        async with session.get(url) as response:
            assert response.status == 200
        async with session.post(url.split("/?")[0] + "/search", data={"subject": SUBJECT}) as response:
            assert response.status == 200
    stop.set()
    assert await task == 0
    assert _checkpoints(tmp_path / "audit.sqlite3") == before
    store = open_store(config_for(config_path), instance="check")
    await store.open(checkpoints=False)
    try:
        assert [e["page"] for e in await access_events(store)] == ["search"]
    finally:
        await store.close()
    assert not {
        name for name in _files(tmp_path) - files_before if "checkpoint" in name or name.endswith(".xml")
    }
