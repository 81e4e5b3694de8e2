"""End to end: the smoke params through all five notebooks with papermill, and what a run leaves."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from salesutils.pipeline import NOTEBOOKS, RunFailed, run

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


# smoke_run (conftest.py): params/smoke.yaml run once per session, shared with test_browser.py


def test_every_notebook_executed_without_errors(smoke_run):
    for name in NOTEBOOKS:
        nb = nbformat.read(smoke_run / f"{name}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), name
        errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, name
        assert any(c.get("metadata", {}).get("tags") == ["injected-parameters"] for c in nb.cells)


def test_html_full_and_stakeholder(smoke_run):
    for name in NOTEBOOKS:
        full = (smoke_run / f"{name}.html").read_text()
        lean = (smoke_run / f"{name}.stakeholder.html").read_text()
        assert full.count("highlight hl-ipython3") >= 3  # code cells are there for reviewers
        assert "highlight hl-ipython3" not in lean  # and not for stakeholders
        assert "<img" in lean or name == "02-preprocessing" or "<table" in lean
        assert not re.search(r'<script[^>]+src="https?://', lean), "page must open offline"
        assert str(ROOT) not in lean


def test_forecasts_follow_the_contract(smoke_run):
    fc = pd.read_parquet(smoke_run / "artifacts" / "forecasts.parquet")
    panel = pd.read_parquet(smoke_run / "artifacts" / "panel.parquet")
    assert list(fc.columns[:2]) == ["unique_id", "ds"]
    for alias in ["naive", "seasonal_naive", "ets", "croston", "lgbm", "mlp"]:
        assert {alias, f"{alias}-lo-80", f"{alias}-hi-80", f"{alias}-q-10", f"{alias}-q-90"} <= set(fc.columns)
        assert fc[alias].notna().all() and (fc[alias] >= 0).all()
        assert (fc[f"{alias}-lo-80"] <= fc[alias] + 1e-9).all()
    assert set(fc["unique_id"]) == set(panel["unique_id"])
    assert len(fc) == panel["unique_id"].nunique() * 4
    assert fc["ds"].min() == panel["ds"].max() + pd.Timedelta(weeks=1)
    cv = pd.read_parquet(smoke_run / "artifacts" / "backtest.parquet")
    assert cv["cutoff"].nunique() == 2 and (cv["ds"] > cv["cutoff"]).all()


def test_index_links_resolve_and_run_json(smoke_run):
    index = (smoke_run / "index.html").read_text()
    links = re.findall(r'href="([^"]+)"', index)
    assert len(links) >= 5 * 3
    for link in links:
        assert (smoke_run / link).is_file(), link
    assert "data:image/png;base64," in index and "Champion" in index
    info = json.loads((smoke_run / "run.json").read_text())
    assert info["seed"] == 7 and info["params"]["horizon"] == 4
    assert set(info["seconds_per_notebook"]) == set(NOTEBOOKS)
    assert {"pandas", "tensorflow", "statsmodels", "papermill"} <= set(info["versions"])
    head = json.loads((smoke_run / "artifacts" / "headline.json").read_text())
    assert head["champion"] in {"naive", "seasonal_naive", "ets", "croston", "lgbm", "mlp"}
    assert (smoke_run.parent / "index.html").is_file()


def test_a_failing_run_names_notebook_and_cell_and_keeps_the_good_report(smoke_run):
    before = (smoke_run / "run.json").read_text()
    with pytest.raises(RunFailed) as err:
        run(ROOT / "params" / "smoke.yaml", ["model_params={mlp: {bogus: 1}}"], run_name="smoke",
            reports_dir=smoke_run.parent, progress=False,
            notebooks=["01-eda", "02-preprocessing", "04-deep-models"])
    msg = str(err.value)
    assert "notebook 04-deep-models, cell" in msg and "unknown mlp parameter" in msg
    assert (smoke_run / "run.json").read_text() == before
    assert (smoke_run.parent / ".failed" / "smoke" / "04-deep-models.ipynb").is_file()
    assert not list(smoke_run.parent.glob(".tmp-*"))


def test_papermill_cli_runs_one_notebook_with_a_params_file(tmp_path):
    out = tmp_path / "01-eda.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "01-eda.ipynb"), str(out),
         "-f", str(ROOT / "params" / "smoke.yaml"), "-p", "run_dir", str(tmp_path), "--cwd", str(tmp_path),
         "-k", "python3", "--no-progress-bar"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    assert "synthetic" in json.dumps(nb.cells[-1].get("outputs", [])) or len(nb.cells) > 5


def test_cli_reports_bad_params_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("horizn: 3\n")
    proc = subprocess.run([sys.executable, "-m", "salesutils", "run", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {bad}: key 'horizn': unknown key; did you mean 'horizon'?"]
