"""A built page in headless Chromium (Selenium): what the tests, the benchmark and the docs'
screenshot see.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) and the
``selenium`` package; :func:`missing` says what is absent.  Nothing here is imported by the
pipeline.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--mute-audio",
)


def _binaries() -> tuple[str | None, str | None]:
    return (
        shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome"),
        shutil.which("chromedriver"),
    )


def missing() -> str:
    """Why a browser cannot be started here ("" when it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install selenium)"
    browser, driver = _binaries()
    if not browser or not driver:
        return "Chromium or chromedriver not found (apt-get install chromium chromium-driver)"
    return ""


@contextmanager
def chromium(width: int = 1400, height: int = 1000):
    """A headless Chromium WebDriver with a fresh profile, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = _binaries()
    with tempfile.TemporaryDirectory(prefix="deepdx-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        try:
            yield driver
        finally:
            driver.quit()


def open_page(driver, path: str | Path) -> dict:
    """Open a page from disk and wait for its load event; returns the navigation timing in ms
    (``load``: start to the end of the load event; ``dom_to_load``: DOMContentLoaded to load)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(path).resolve().as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd > 0;"
        )
    )
    return driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return {load: n.loadEventEnd, dom: n.domContentLoadedEventEnd,"
        " dom_to_load: n.loadEventEnd - n.domContentLoadedEventStart};"
    )


# Loads every <audio> (a few at a time) and reports its duration, or its error code.
_AUDIO_JS = """
const done = arguments[arguments.length - 1];
const players = [...document.querySelectorAll('audio')];
const one = a => new Promise(resolve => {
  const finish = () => resolve({src: a.getAttribute('src'), duration: a.duration, error: a.error && a.error.code});
  a.addEventListener('loadedmetadata', finish, {once: true});
  a.addEventListener('error', finish, {once: true});
  a.preload = 'metadata';
  a.load();
});
(async () => {
  const out = [];
  for (let i = 0; i < players.length; i += 8) out.push(...await Promise.all(players.slice(i, i + 8).map(one)));
  done(out);
})();
"""


def audio_report(driver) -> list[dict]:
    """Every player's source, duration (s) and error code (None when it loaded)."""
    driver.set_script_timeout(300)
    return driver.execute_async_script(_AUDIO_JS)


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
