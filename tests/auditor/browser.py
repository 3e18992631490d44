"""Headless Chromium driven by selenium, with every URL it requests recorded.

Where chromium or chromedriver is missing the browser tests skip, except under CI (``CI`` set), where they
fail: the pipeline installs Debian's ``chromium`` and ``chromium-driver``."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots" / "auditor"


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.isfile(name) and os.access(name, os.X_OK) else None)
        if found:
            return found
    return None


def chromium_paths() -> tuple[str, str]:
    browser = _find(("chromium", "chromium-browser", "/usr/bin/chromium", "google-chrome"))
    driver = _find(("chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"))
    try:
        import selenium  # noqa: F401
    except ImportError:
        browser = None
    if browser is None or driver is None:
        if os.environ.get("CI"):
            pytest.fail("chromium, chromium-driver and selenium are required in CI")
        pytest.skip("chromium / chromedriver / selenium not installed")
    return browser, driver


class Browser:
    def __init__(self, driver: Any, downloads: Path) -> None:
        self.driver = driver
        self.downloads = downloads
        self.visited: list[str] = []

    def get(self, url: str) -> None:
        self.driver.get(url)
        self.note()

    def note(self) -> None:
        self.visited.append(self.driver.current_url)

    def follow(self, element: Any) -> None:
        """Click a link or a submit button and wait until the next page has replaced this one."""
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.driver.find_element("tag name", "html")
        element.click()
        WebDriverWait(self.driver, 20).until(expected_conditions.staleness_of(page))
        WebDriverWait(self.driver, 20).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        self.note()

    def requested_urls(self) -> list[str]:
        """Every URL the browser asked for so far (from Chrome's network log), plus the pages it showed."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.visited.append(message["params"]["request"]["url"])
        return list(self.visited)

    def screenshot(self, name: str, *, media: str = "screen") -> Path:
        """A full-page PNG under var/screenshots/auditor (kept as a test artefact, not committed); with
        ``media="print"`` the page as the print stylesheet lays it out."""
        import base64

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1366, "height": max(int(size["height"]), 700), "deviceScaleFactor": 1, "mobile": False},
        )
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def print_pdf(self, name: str) -> Path:
        """The page as printed (the print stylesheet), as Chrome's PDF."""
        import base64

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        result = self.driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})
        path = SCREENSHOTS / f"{name}.pdf"
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    def download(self, name_prefix: str, timeout: float = 20.0) -> Path:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [
                p
                for p in self.downloads.iterdir()
                if p.name.startswith(name_prefix) and not p.name.endswith(".crdownload")
            ]
            if done:
                return done[0]
            time.sleep(0.1)
        raise AssertionError(f"no download starting with {name_prefix}")


@contextmanager
def chromium(downloads: Path) -> Iterator[Browser]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser_path, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1366,900",
        "--lang=en-US",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.implicitly_wait(5)
    try:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield Browser(driver, downloads)
    finally:
        driver.quit()
