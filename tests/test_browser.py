"""The rendered reports as a reader sees them: the smoke run opened in headless Chromium.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``), installed by the
``chromium`` fixture in conftest.py when missing and we are root; elsewhere these tests skip, and
in CI (``CI=true``) they fail instead. Screenshots land in pytest's temporary folder and, when
``SALESUTILS_SCREENSHOTS`` names a folder, are copied there too.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from salesutils.pipeline import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


# What the page loaded: every element with a src or an href, every resource the browser fetched,
# and every <img> with its decoded size.
_PAGE_STATE = """
const attr = (sel, a) => Array.from(document.querySelectorAll(sel), e => e.getAttribute(a));
return {
  resources: [...attr('script[src]', 'src'), ...attr('link[href]', 'href'), ...attr('img[src]', 'src'),
              ...attr('iframe[src]', 'src'), ...attr('source[src]', 'src'), ...attr('video[src]', 'src')],
  fetched: performance.getEntriesByType('resource').map(e => e.name),
  images: Array.from(document.images, i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                             scheme: i.src.split(':')[0]})),
  anchors: Array.from(document.querySelectorAll('a[href]'), a => [a.getAttribute('href'), a.href]),
};
"""

# nbconvert's lab template puts a code cell's source in these (markdown cells also use .jp-InputArea,
# so only those inside .jp-CodeCell count); --no-input leaves none and marks the cell jp-mod-noInput.
# div.input is the classic template's.
_CODE_INPUT = ", ".join([".jp-CodeCell .jp-InputArea", ".jp-CodeCell .jp-Cell-inputWrapper",
                         ".jp-CodeCell:not(.jp-mod-noInput)", ".jp-InputPrompt", ".jp-OutputPrompt",
                         "div.input", ".highlight.hl-ipython3", "pre code.language-python"])
_ERROR_OUTPUT = ", ".join(['[data-mime-type="application/vnd.jupyter.stderr"]',
                           '[data-mime-type="application/vnd.jupyter.error"]', ".jp-OutputArea-error"])


def _open(browser, page: Path) -> dict:
    assert page.is_file(), page
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return browser.execute_script(_PAGE_STATE)


def _assert_offline(state: dict) -> None:
    external = [r for r in state["resources"] if r.startswith(("http:", "https:", "//"))]
    assert not external, f"the page loads from the internet: {external}"
    fetched = [r for r in state["fetched"] if not r.startswith(("file:", "data:"))]
    assert not fetched, f"the browser fetched: {fetched}"


def _assert_images_loaded(state: dict, at_least: int) -> None:
    assert len(state["images"]) >= at_least, state["images"]
    broken = [i["alt"] or "(no alt)" for i in state["images"] if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"figures that did not load: {broken}"
    assert {i["scheme"] for i in state["images"]} <= {"data"}, "figures must be embedded"


def _assert_links_resolve(state: dict, folder: Path) -> list[Path]:
    """Every relative link is a file inside ``folder``; returns the files."""
    targets = []
    for raw, resolved in state["anchors"]:
        if raw.startswith(("#", "mailto:", "http:", "https:")):
            continue
        url = urlparse(resolved)
        assert url.scheme == "file", (raw, resolved)
        target = Path(unquote(url.path))
        assert target.is_file(), f"broken link {raw!r} -> {target}"
        assert folder.resolve() in target.resolve().parents, f"link {raw!r} leaves {folder}"
        targets.append(target)
    return targets


def _pct(x: float, digits: int = 0, sign: str = "") -> str:
    return f"{x:{sign}.{digits}%}"


@pytest.mark.slow
@pytest.mark.browser
def test_run_index_shows_the_headline_offline(browser, screenshot, smoke_run):
    from selenium.webdriver.common.by import By

    head = json.loads((smoke_run / "artifacts" / "headline.json").read_text())
    state = _open(browser, smoke_run / "index.html")
    screenshot("smoke-index")

    title = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())["report"]["title"]
    assert browser.title == head["title"] == title
    assert browser.find_element(By.TAG_NAME, "h1").text == head["title"]
    assert "Run smoke" in browser.find_element(By.CSS_SELECTOR, "p.sub").text

    # Card labels are upper-cased by CSS: compare their source text, and the values as shown.
    cards = {c.find_element(By.CSS_SELECTOR, ".k").get_attribute("textContent"):
             c.find_element(By.CSS_SELECTOR, ".v").text
             for c in browser.find_elements(By.CSS_SELECTOR, ".cards .card")}
    rank = head.get("rank_by", "mase").upper()
    assert cards["Champion model"] == head["champion"]
    score = head["champion_score"]
    assert cards[f"Champion {rank}"] == (f"{score:,.0f}" if abs(score) >= 1000 else f"{score:.3f}")
    assert cards["80% interval coverage"] == _pct(head["coverage_80"])
    assert 0 <= head["coverage_80"] <= 1
    if head.get("gain_vs_seasonal_naive") is not None:
        assert cards["Gain over seasonal naive"] == _pct(head["gain_vs_seasonal_naive"], 1, "+")
    demand = next(v for k, v in cards.items() if k.startswith("Demand next"))
    assert float(demand.replace(",", "")) == pytest.approx(head["forecast_total"], abs=0.5)

    # The leaderboard highlights the champion's row.
    champ_row = browser.find_element(By.CSS_SELECTOR, "tr.champ")
    assert champ_row.find_element(By.TAG_NAME, "td").text == head["champion"]

    _assert_images_loaded(state, at_least=max(1, len(head.get("figures", []))))
    _assert_offline(state)
    linked = _assert_links_resolve(state, smoke_run)
    names = {p.name for p in linked}
    for nb in NOTEBOOKS:
        assert {f"{nb}.stakeholder.html", f"{nb}.html", f"{nb}.ipynb"} <= names, nb
    assert {"forecasts.parquet", "run.json"} <= names


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stakeholder_page_shows_no_code_and_no_errors(browser, screenshot, smoke_run, name):
    from selenium.webdriver.common.by import By

    state = _open(browser, smoke_run / f"{name}.stakeholder.html")
    screenshot(f"smoke-{name}.stakeholder")

    assert browser.title.endswith("(summary)"), browser.title
    code = browser.find_elements(By.CSS_SELECTOR, _CODE_INPUT)
    assert not code, f"{len(code)} code inputs on the page, e.g. {code[0].text[:200]!r}"
    assert browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output"), "no outputs at all"
    assert not browser.find_elements(By.CSS_SELECTOR, _ERROR_OUTPUT), "error or stderr output shown"
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in text
    assert "In [" not in text and "Out[" not in text, "execution prompts shown"
    if name != "02-preprocessing":  # the others all draw at least one figure
        _assert_images_loaded(state, at_least=1)
    _assert_offline(state)
    _assert_links_resolve(state, smoke_run)


@pytest.mark.slow
@pytest.mark.browser
def test_full_page_keeps_the_code_for_reviewers(browser, screenshot, smoke_run):
    from selenium.webdriver.common.by import By

    state = _open(browser, smoke_run / "05-results.html")
    screenshot("smoke-05-results.full")
    inputs = [e for e in browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea")
              if e.is_displayed()]
    assert len(inputs) >= 3
    assert "import" in " ".join(e.text for e in inputs)
    _assert_images_loaded(state, at_least=1)
    _assert_offline(state)


@pytest.mark.slow
@pytest.mark.browser
def test_runs_index_links_to_the_run(browser, screenshot, smoke_run):
    from selenium.webdriver.common.by import By

    reports = smoke_run.parent
    state = _open(browser, reports / "index.html")
    screenshot("runs-index")

    assert browser.find_element(By.TAG_NAME, "h1").text == "Forecast runs"
    targets = _assert_links_resolve(state, reports)
    assert smoke_run / "index.html" in targets
    _assert_offline(state)
    head = json.loads((smoke_run / "artifacts" / "headline.json").read_text())
    row = browser.find_element(By.XPATH, "//tr[td/a[text()='smoke']]")
    assert head["champion"] in [td.text for td in row.find_elements(By.TAG_NAME, "td")]

    row.find_element(By.LINK_TEXT, "smoke").click()
    assert Path(unquote(urlparse(browser.current_url).path)).resolve() == (smoke_run / "index.html").resolve()
    assert browser.find_element(By.TAG_NAME, "h1").text == head["title"]


def test_no_browser_skips_here_and_fails_in_ci(monkeypatch):
    import conftest

    monkeypatch.setattr(conftest.os, "geteuid", lambda: 1000)
    reason = conftest._install_chromium()
    assert reason.startswith("not root")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not root"):
        conftest._unavailable(reason)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI: not root"):
        conftest._unavailable(reason)
