"""Shared fixtures: small hand-made panels, the smoke run and a headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn
from unittest import mock

import numpy as np
import pandas as pd
import pytest


def make_panel(n_series: int = 3, periods: int = 60, freq: str = "W-MON", seed: int = 0,
               start: str = "2022-01-03") -> pd.DataFrame:
    """Poisson demand with a yearly cycle, one level per series."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        ds = pd.date_range(start, periods=periods, freq=freq)
        level = 20 * (i + 1)
        mu = level * (1 + 0.4 * np.sin(2 * np.pi * ds.day_of_year / 365.25))
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds,
                                    "y": rng.poisson(mu).astype(float)}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def panel() -> pd.DataFrame:
    return make_panel()


# --- the smoke run, shared by test_pipeline.py and test_browser.py -------------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """params/smoke.yaml through all five notebooks, once per test session (~1 minute)."""
    from salesutils.pipeline import run

    reports = tmp_path_factory.mktemp("reports")
    return run(ROOT / "params" / "smoke.yaml", run_name="smoke", reports_dir=reports, progress=False)


# --- a headless Chromium for the browser tests ---------------------------------------------------

CHROMIUM_PACKAGES = ["chromium", "chromium-driver"]  # Debian; /usr/bin/chromium and /usr/bin/chromedriver


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine; fail in CI, where the browser tests must run."""
    if _in_ci():
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"no headless Chromium: {reason}")


def _chromium_paths() -> tuple[str | None, str | None]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    return browser, shutil.which("chromedriver")


def _install_chromium() -> str | None:
    """``apt-get install chromium chromium-driver`` when we are root on Debian; None, or why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root, so cannot apt-get install " + " ".join(CHROMIUM_PACKAGES)
    if not shutil.which("apt-get"):
        return "no apt-get on this machine to install " + " ".join(CHROMIUM_PACKAGES)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [["apt-get", "update"],
             ["apt-get", "install", "-y", "--no-install-recommends",
              "-o", "APT::Keep-Downloaded-Packages=false", *CHROMIUM_PACKAGES]]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"`{' '.join(cmd)}` did not finish: {err}"
        if proc.returncode:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(cmd)}` exited {proc.returncode}: {' | '.join(tail)}"
    return None


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """(browser, chromedriver) paths, installing the Debian packages first where they are missing."""
    browser, driver = _chromium_paths()
    if not (browser and driver):
        reason = _install_chromium()
        browser, driver = _chromium_paths()
        if not (browser and driver):
            _unavailable(reason or "installed " + " ".join(CHROMIUM_PACKAGES)
                         + " but chromium/chromedriver are still not on PATH")
    return browser, driver


@pytest.fixture(scope="session")
def browser(chromium, tmp_path_factory):
    """A headless Chromium driven by Selenium through the Debian chromedriver.

    The driver path is passed explicitly, and Selenium Manager is patched to raise, so nothing is
    ever downloaded at run time. The profile lives in pytest's temporary folder.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.selenium_manager import SeleniumManager
    except ImportError as err:
        _unavailable(f"selenium is not installed ({err}); run `make setup`")
    binary, driver_path = chromium
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ["--headless=new", "--window-size=1280,2400", "--hide-scrollbars",
                "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync", "--allow-file-access-from-files",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        opts.add_argument(arg)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")  # Chromium refuses to start as root with its sandbox

    manager_calls = []

    def no_download(self, args):
        manager_calls.append(args)
        raise RuntimeError("Selenium Manager must not run: the driver path is given explicitly")

    with mock.patch.object(SeleniumManager, "binary_paths", no_download):
        try:
            drv = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
        except Exception as err:  # noqa: BLE001 - a browser that will not start is "unavailable"
            assert not manager_calls, f"Selenium Manager was asked for a browser: {manager_calls}"
            _unavailable(f"{binary} with {driver_path} did not start: {str(err).splitlines()[0]}")
    assert not manager_calls, f"Selenium Manager was asked for a browser: {manager_calls}"
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="session")
def screenshot(browser, tmp_path_factory):
    """``screenshot(name) -> Path``: a PNG of the current page, 1280 px wide and as tall as the page
    (up to 16000 px), saved in pytest's temporary folder and copied to $SALESUTILS_SCREENSHOTS."""
    shots = tmp_path_factory.mktemp("screenshots")
    extra = os.environ.get("SALESUTILS_SCREENSHOTS")

    def take(name: str) -> Path:
        browser.set_window_size(1280, 800)  # measure the page, not the window
        height, frame = browser.execute_script(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]")
        browser.set_window_size(1280, min(int(height) + int(frame), 16000))  # GPU texture limit
        target = shots / f"{name}.png"
        assert browser.save_screenshot(str(target)), f"no screenshot for {name}"
        browser.set_window_size(1280, 2400)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, Path(extra) / target.name)
        return target

    return take
