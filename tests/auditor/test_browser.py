"""The auditor's whole errand in a real browser (headless Chromium), against the real ``audit ui`` command.

Open the printed token URL, read the overview, search a test person, open a query, produce the report and
download its CSV and signed XML and the query's evidence; then check that no subject ever appeared in a URL,
that the pages refuse a browser without the session, and that every view left an ``audit_access`` event.
Screenshots land in ``var/screenshots/auditor/``."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.audit.test_checkpoint import xmlsec1_verifies
from tests.auditor.browser import Browser, chromium, chromium_paths
from tests.auditor.data import SUBJECT, SUBJECT_QUERIES, append_forged_intent, config_for, populated_store
from tests.auditor.events import access_events
from xroad_vtj.audit.store import open_store

AUDITOR = "Aila Auditor"


class RunningView:
    def __init__(self, config: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xroad_vtj",
                "audit",
                "ui",
                "--config",
                str(config),
                "--auditor",
                AUDITOR,
                "--port",
                "0",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()  # the one line: the token URL
        assert self.url.startswith("http://127.0.0.1:"), (
            self.process.stderr.read() if not self.url else self.url
        )
        parts = urllib.parse.urlsplit(self.url)
        self.base = f"{parts.scheme}://{parts.netloc}"

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, err
        return err


@pytest.fixture
def view(tmp_path: Path) -> Iterator[tuple[RunningView, Path, list[str]]]:
    chromium_paths()  # skip (or fail in CI) before doing any work
    config, ids = asyncio.run(populated_store(tmp_path))
    running = RunningView(config)
    try:
        yield running, config, ids
    finally:
        if running.process.poll() is None:
            running.stop()


def _status(url: str, cookie: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request) as response:  # our own loopback server
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def _set_date(browser: Browser, name: str, value: str) -> None:
    # typing into a date input depends on the browser's locale; the form itself needs no script
    element = browser.driver.find_element("name", name)
    browser.driver.execute_script("arguments[0].value = arguments[1]", element, value)


def _events(config: Path) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        store = open_store(config_for(config), instance="t")
        await store.open(checkpoints=False)
        try:
            return await access_events(store)
        finally:
            await store.close()

    return asyncio.run(read())


def test_an_auditor_finds_every_query_about_a_person_and_downloads_signed_evidence(
    view: tuple[RunningView, Path, list[str]], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    running, config, ids = view
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with chromium(downloads) as browser:
        d = browser.driver
        # a browser without the session is refused
        browser.get(running.base + "/")
        assert "Open the address the command printed" in d.page_source
        browser.screenshot("00-refused")

        # the token URL sets the cookie and lands on the overview, without the token
        browser.get(running.url)
        assert d.current_url == running.base + "/"
        assert d.find_element(By.TAG_NAME, "h1").text == "Overview"
        assert d.find_elements(By.CSS_SELECTOR, "svg.chart rect")
        browser.screenshot("01-overview")

        # search the person: POST; every query about them is listed
        browser.follow(d.find_element(By.LINK_TEXT, "Search"))
        d.find_element(By.ID, "subject").send_keys(SUBJECT)
        browser.follow(d.find_element(By.ID, "search-submit"))
        browser.screenshot("02-search")
        rows = d.find_elements(By.CSS_SELECTOR, "table.results tbody tr")
        assert len(rows) == SUBJECT_QUERIES
        links = {
            a.get_attribute("href").rsplit("/", 1)[1]
            for a in d.find_elements(By.CSS_SELECTOR, "table.results td:first-child a")
        }
        assert links == set(ids)
        browser.screenshot("02-search")

        # open one query: intent and outcome side by side, its evidence downloads
        browser.follow(d.find_element(By.CSS_SELECTOR, "table.results td:first-child a"))
        assert SUBJECT in d.page_source
        assert "Position in the hash chain" in d.page_source
        browser.screenshot("03-record")
        d.find_element(By.ID, "evidence-download").click()
        proof = browser.download("audit-proof-")

        # the report: POST, printable, with CSV and signed XML
        browser.follow(d.find_element(By.LINK_TEXT, "Report"))
        d.find_element(By.ID, "subject").send_keys(SUBJECT)
        _set_date(browser, "from", "2000-01-01")
        _set_date(browser, "to", "2100-12-31")
        browser.follow(d.find_element(By.ID, "report-submit"))
        assert len(d.find_elements(By.CSS_SELECTOR, "table.results tbody tr")) == SUBJECT_QUERIES
        browser.screenshot("04-report")
        browser.screenshot("04-report-print", media="print")
        browser.print_pdf("04-report-print")
        d.find_element(By.ID, "csv-download").click()
        report_csv = browser.download("audit-report-", timeout=20)
        d.find_element(By.ID, "xml-download").click()
        browser.download("audit-report-")
        xml = next(p for p in _wait_for(downloads, ".xml", 2) if p.name.startswith("audit-report-"))

        # Finnish-less browser, same view: the overview now lists this auditor's own access
        browser.get(running.base + "/")
        assert AUDITOR in d.page_source
        browser.screenshot("05-overview-after")

        urls = browser.requested_urls()
        d.delete_all_cookies()
        browser.get(running.base + "/search")
        assert "Open the address the command printed" in d.page_source

    # no subject in any URL the browser visited or fetched (downloads included)
    assert len(urls) > 10
    forms = {SUBJECT, SUBJECT.lower(), urllib.parse.quote(SUBJECT), SUBJECT.replace("-", "")}
    for url in urls:
        assert not any(f in url for f in forms), url
    # pages without the session are refused (the browser was shown the same page as above)
    assert _status(running.base + "/") == 401
    assert _status(running.base + "/records/" + ids[0]) == 401

    # the downloads are what they claim
    cert = config_for(config).with_defaults().signing_cert_file
    assert cert is not None
    assert xmlsec1_verifies(xml, cert)
    assert xmlsec1_verifies(proof, cert)
    assert report_csv.read_bytes().decode("utf-8-sig").count(SUBJECT) == SUBJECT_QUERIES

    running.stop()
    # every view of a subject left an audit_access event with the auditor's name and no subject in clear
    events = _events(config)
    pages = [e["page"] for e in events]
    assert pages == ["search", "record", "proof", "report", "report_csv", "report_xml"]
    assert all(e["auditor"] == AUDITOR for e in events)
    assert all(SUBJECT not in str(e) for e in events)


def _wait_for(directory: Path, suffix: str, count: int, timeout: float = 20.0) -> list[Path]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in directory.iterdir() if p.suffix == suffix]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} {suffix} downloads in {directory}")


def test_in_finnish_a_fault_and_a_refusal_read_clearly(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    chromium_paths()
    config, _ = asyncio.run(populated_store(tmp_path))
    running = RunningView(config, "--lang", "fi")
    try:
        with chromium(tmp_path) as browser:
            d = browser.driver
            browser.get(running.url)
            assert d.find_element(By.TAG_NAME, "h1").text == "Yleiskuva"
            assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fi"
            browser.screenshot("10-fi-overview")

            browser.follow(d.find_element(By.LINK_TEXT, "Haku"))
            d.find_element(By.NAME, "xroad_id").send_keys("msg-5")
            browser.follow(d.find_element(By.ID, "search-submit"))
            browser.follow(d.find_element(By.CSS_SELECTOR, "table.results td:first-child a"))
            assert "Server.ServerProxy.ServiceFailed" in d.page_source
            assert (
                "4f9a2c1e-7b3d-4e8a-9c2f-1a2b3c4d5e6f" in d.page_source
            )  # the security server's faultDetail
            browser.screenshot("11-fi-fault-record")

            browser.follow(d.find_element(By.LINK_TEXT, "Haku"))
            d.find_element(By.NAME, "end_user").send_keys("officer-1")
            d.find_element(By.NAME, "caller").send_keys("caseapp")
            browser.follow(d.find_element(By.ID, "search-submit"))
            browser.screenshot("12-fi-search")
            refused = d.find_elements(By.XPATH, "//tr[.//span[contains(@class, 'pill-refused')]]//td[1]/a")
            assert refused
            browser.follow(refused[0])
            assert "Torjuttu pyyntö" in d.page_source
            browser.screenshot("13-fi-refusal-record")
    finally:
        running.stop()


def test_a_forged_record_is_flagged_where_an_auditor_sees_it(
    view: tuple[RunningView, Path, list[str]],
) -> None:
    from selenium.webdriver.common.by import By

    running, config, _ = view
    path = config_for(config).sqlite_path
    assert path is not None
    append_forged_intent(path)
    with chromium(Path(path).parent) as browser:
        d = browser.driver
        browser.get(running.url)
        browser.follow(d.find_element(By.LINK_TEXT, "Search"))
        d.find_element(By.NAME, "caller").send_keys("forger")
        browser.follow(d.find_element(By.ID, "search-submit"))
        assert d.find_element(By.CSS_SELECTOR, "table.results .flag-bad").text == "MAC FAILED"
        browser.screenshot("06-forged-search")
        browser.follow(d.find_element(By.CSS_SELECTOR, "table.results td:first-child a"))
        assert "authentication code does not match" in d.find_element(By.ID, "record-mac").text
        assert not d.find_elements(By.ID, "evidence-download")  # the service would refuse to sign it
        browser.screenshot("07-forged-record")
