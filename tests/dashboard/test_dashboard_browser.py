"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium through the system
chromedriver (Selenium Manager never runs, nothing is downloaded), against the app served by uvicorn on a free
loopback port. Each test asserts what a person sees and keeps a screenshot, checked to be non-blank."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import LIVE_CURRENT, Lab

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')"
)
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"headless browser absent: needs {CHROMIUM} and {CHROMEDRIVER} "
        "(apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )

import uvicorn  # noqa: E402
from PIL import Image  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from harness.dashboard import create_app  # noqa: E402

PAGE_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    """uvicorn serving an app in a thread; stopped the way Ctrl-C stops `cmi-hil serve`."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, name="dashboard", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on 127.0.0.1:{self.port}")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(lab: Lab) -> Iterator[str]:
    with _Server(create_app(lab.db_file, lab.reports)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1366,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


def visible_text(browser: Any, containing: str = "") -> str:
    """The page's visible text once it holds ``containing``; a page still being replaced after a click
    (a stale body element) is read again, up to 10 s."""
    wait = WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))
    text: str = wait.until(
        lambda b: (t := str(b.find_element(By.TAG_NAME, "body").text)) and containing in t and t
    )
    return text


def screenshot(browser: Any, path: Path) -> Path:
    """Full-window screenshot; fails when the page rendered as one flat colour (blank)."""
    assert browser.save_screenshot(str(path)), f"no screenshot written to {path}"
    with Image.open(path) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 8, f"{path.name} is blank: {colours}"
        assert img.size[0] >= 800 and img.size[1] >= 600
    return path


def no_error_text(text: str) -> None:
    for bad in ("Traceback", "Internal Server Error", "jinja2", "Exception"):
        assert bad not in text, f"error text {bad!r} on the page"


def test_runs_page_in_a_browser(browser: Any, base_url: str, lab: Lab, tmp_path: Path) -> None:
    browser.get(base_url + "/")
    text = visible_text(browser)
    no_error_text(text)
    assert browser.title.startswith("Runs")
    for run_id in (lab.pass_run, lab.fail_run, lab.incomplete_run):
        assert run_id in text
    verdicts = {b.text for b in browser.find_elements(By.CSS_SELECTOR, "tr.run .badge")}
    assert {"pass", "fail", "incomplete"} <= verdicts
    screenshot(browser, tmp_path / "runs.png")
    select = browser.find_element(By.ID, "rig-filter")
    select.find_element(By.CSS_SELECTOR, "option[value='bench-b']").click()
    browser.find_element(By.CSS_SELECTOR, "form.filter button").click()
    text = visible_text(browser, containing="Runs on rig bench-b")
    assert "Runs on rig bench-b" in text and lab.other_rig_run in text and lab.pass_run not in text


def test_run_page_in_a_browser(browser: Any, base_url: str, lab: Lab, tmp_path: Path) -> None:
    browser.get(f"{base_url}/runs/{lab.fail_run}")
    text = visible_text(browser)
    no_error_text(text)
    assert browser.find_element(By.ID, "run-verdict").text == "fail"
    matrix = browser.find_element(By.ID, "requirements").text
    for rid in ("PWR-LOAD", "LL-REPLY-WINDOW", "RI-DETECT"):
        assert rid in matrix
    row = browser.find_element(By.CSS_SELECTOR, "#measurements tr[data-measurement='quiescent_current']")
    assert "1.620 mA ± 0.002 mA" in row.text and "≤ 1.5 mA" in row.text and "fail" in row.text
    screenshot(browser, tmp_path / "run.png")


def test_sealed_report_opens_from_the_run_page(browser: Any, base_url: str, lab: Lab, tmp_path: Path) -> None:
    browser.get(f"{base_url}/runs/{lab.pass_run}")
    assert "sealed:" in browser.find_element(By.ID, "seal").text
    browser.find_element(By.ID, "report-link").click()
    assert browser.current_url.endswith(f"/reports/{lab.pass_run}/report.html")
    assert f"Evidence report {lab.pass_run}" in visible_text(browser)
    screenshot(browser, tmp_path / "report.png")


def test_trend_page_shows_its_plot(browser: Any, base_url: str, tmp_path: Path) -> None:
    browser.get(f"{base_url}/trends/quiescent_current")
    no_error_text(visible_text(browser))
    img = browser.find_element(By.ID, "trend-plot")
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while not browser.execute_script("return arguments[0].complete", img) and time.monotonic() < deadline:
        time.sleep(0.1)
    width = browser.execute_script("return arguments[0].naturalWidth", img)
    height = browser.execute_script("return arguments[0].naturalHeight", img)
    assert width >= 600 and height >= 300, (width, height)
    assert "1.23 mA" in browser.find_element(By.ID, "series").text
    path = screenshot(browser, tmp_path / "trend.png")
    with Image.open(path) as shot:
        left, top = img.location["x"], img.location["y"]
        crop = shot.convert("RGB").crop((left, top, left + min(width, 900), top + min(height, 400)))
        assert len(crop.getcolors(maxcolors=1 << 16) or range(9999)) > 50  # a drawn plot, not an empty box


def test_live_view_in_a_browser(browser: Any, base_url: str, lab: Lab, tmp_path: Path) -> None:
    browser.get(f"{base_url}/live")
    text = visible_text(browser)
    no_error_text(text)
    assert browser.find_element(By.ID, "current-test").text == LIVE_CURRENT.split("/")[-1]
    assert browser.find_element(By.ID, "progress-text").text.startswith("3 / 5")
    assert browser.find_element(By.ID, "live-status").text == "running"
    assert "1.250 mA" in browser.find_element(By.ID, "live-measurements").text
    screenshot(browser, tmp_path / "live.png")


def test_missing_database_page_in_a_browser(browser: Any, lab: Lab, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "results.sqlite"
    with _Server(create_app(missing, lab.reports)) as url:
        browser.get(url + "/")
        text = visible_text(browser)
        assert "Results database not available" in text and "cmi-hil run" in text and "--db" in text
        no_error_text(text)
        screenshot(browser, tmp_path / "no-database.png")


def test_screenshots_are_kept(tmp_path: Path) -> None:
    """The screenshot check itself fails on a blank page."""
    blank = tmp_path / "blank.png"
    Image.new("RGB", (1024, 768), "white").save(blank)

    class _Blank:
        def save_screenshot(self, path: str) -> bool:
            shutil.copy(blank, path)
            return True

    with pytest.raises(AssertionError, match="is blank"):
        screenshot(_Blank(), tmp_path / "shot.png")
