"""End to end: the smoke params through all five notebooks with papermill, and what a run leaves."""

from __future__ import annotations

import getpass
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from salesutils import pipeline
from salesutils.config import TOP_LEVEL_KEYS
from salesutils.pipeline import (NOTEBOOKS, ResumeRefused, RunFailed, RunInterrupted,
                                 notebook_complete, run)

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


def test_the_hierarchy_section_reconciles_the_categories(smoke_run):
    """smoke.yaml declares hierarchy.columns: [category]: total > category > series in 05."""
    levels = pd.read_parquet(smoke_run / "artifacts" / "hierarchy_levels.parquet")
    assert levels["level"].tolist()[0] == "total" and levels["level"].tolist()[1] == "category"
    assert levels["level"].iloc[-1] == "all levels (M5 WRMSSE)"
    for method in ("base", "bottom_up", "top_down", "wls_struct", "mint_shrink"):
        assert levels[method].notna().all(), method
    fwd = pd.read_parquet(smoke_run / "artifacts" / "forecasts_hierarchy.parquet")
    alias = [c for c in fwd.columns if c not in ("unique_id", "level", "ds") and "-" not in c][0]
    total = fwd[fwd["unique_id"] == "total"].set_index("ds")[alias]
    cats = fwd[fwd["level"] == "category"].groupby("ds")[alias].sum()
    series = fwd[fwd["level"] == fwd["level"].iloc[-1]].groupby("ds")[alias].sum()
    pd.testing.assert_series_equal(total, cats, check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(total, series, check_names=False, rtol=1e-9)
    html = (smoke_run / "05-results.stakeholder.html").read_text()
    assert "Forecasts that add up" in html and "weighted RMSSE per level" in html


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
    assert "continue with --resume smoke" in msg


# --- reports are safe to share --------------------------------------------------------------

def _private_strings() -> dict[str, str]:
    """What must not appear in a shared report: this machine's paths, the user, the environment.

    The user name is looked for where names leak, in paths and addresses (``/ana/``, ``ana@``,
    ``pytest-of-ana``), not as a bare word: "root" is also a CSS selector (``:root``) and
    "runner" (the CI user) is part of "runner-up" in the results.
    """
    found = {"project root": str(ROOT), "home": str(Path.home()), "python prefix": sys.prefix,
             "PATH": os.environ.get("PATH", "")}
    for var, value in os.environ.items():
        for part in value.split(os.pathsep):
            if part.startswith("/") and len(part) >= 8 and not part.startswith(
                    ("/usr/", "/bin", "/sbin", "/etc/", "/lib", "/dev/", "/proc/")):
                found.setdefault(f"${var}", part.rstrip("/"))
    user = getpass.getuser()
    for pattern in (f"/{user}/", f"{user}@", f"-of-{user}"):
        found[f"user in {pattern!r}"] = pattern
    return {k: v for k, v in found.items() if v and v not in ("/", "/tmp")}


def _leaks(folder: Path) -> list[str]:
    private = _private_strings()
    out = []
    for page in [*folder.glob("*.html"), *folder.glob("run.json"), *folder.glob("*.ipynb")]:
        text = page.read_text(encoding="utf-8")
        out += [f"{page.name}: {what} ({value})" for what, value in private.items() if value in text]
    return out


def test_reports_hold_no_paths_users_or_environment(smoke_run):
    assert not _leaks(smoke_run)
    assert not _leaks(smoke_run.parent)  # the runs index
    nb = nbformat.read(smoke_run / "01-eda.ipynb", as_version=4)
    assert nb.metadata.papermill.input_path == "notebooks/01-eda.ipynb"
    assert nb.metadata.papermill.output_path == "01-eda.ipynb"
    assert json.loads((smoke_run / "run.json").read_text())["params_file"] == "params/smoke.yaml"


# --- failures and --resume, on tiny notebooks ---------------------------------------------------

def _notebook(folder: Path, name: str, *code: str) -> None:
    cells = [nbformat.v4.new_markdown_cell(f"# {name}"),
             nbformat.v4.new_code_cell("\n".join(f"{k} = None" for k in TOP_LEVEL_KEYS),
                                       metadata={"tags": ["parameters"]}),
             *[nbformat.v4.new_code_cell(c) for c in code]]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Four tiny notebooks: each appends its name to ``ran.txt``; 03 raises while ``break``
    exists, 02 waits while ``slow`` exists and prints the paths a report must not show. Their
    folder comes from $FAKE_DIR, so that no path of this machine is written in their code."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    monkeypatch.setenv("FAKE_DIR", str(tmp_path))
    log, brk, slow = tmp_path / "ran.txt", tmp_path / "break", tmp_path / "slow"
    mark = ("import os\nfrom pathlib import Path\nhere = Path(os.environ['FAKE_DIR'])\n"
            "with open(here / 'ran.txt', 'a') as fh: fh.write({!r} + '\\n')")
    _notebook(nbs, "01-one", mark.format("01-one"), "Path('artifacts/one.txt').write_text('1')")
    _notebook(nbs, "02-two", mark.format("02-two"), "import sys, time, warnings\n"
              "while (here / 'slow').exists(): time.sleep(0.2)",
              "print(os.getcwd(), Path.home(), sys.prefix)\n"
              "warnings.warn('reading ' + os.path.join(os.getcwd(), 'artifacts/one.txt'))")
    _notebook(nbs, "03-three", mark.format("03-three"),
              "if (here / 'break').exists():\n    raise RuntimeError('broken on purpose')",
              "if (here / 'fill').exists():  # as many bytes as the file says\n"
              "    Path('artifacts/big.bin').write_bytes(bytes(int((here / 'fill').read_text())))")
    _notebook(nbs, "04-four", mark.format("04-four"), "print(Path('artifacts/one.txt').read_text())")

    class Fake:
        folder, reports, names = nbs, tmp_path / "reports", ["01-one", "02-two", "03-three", "04-four"]

        @staticmethod
        def run(**kw):
            args = dict(run_name="fake", reports_dir=Fake.reports, notebooks=Fake.names,
                        notebook_dir=nbs, progress=False)
            return run(ROOT / "params" / "smoke.yaml", kw.pop("overrides", None), **(args | kw))

        @staticmethod
        def ran() -> list[str]:
            lines = log.read_text().splitlines() if log.exists() else []
            log.unlink(missing_ok=True)
            return lines

        broken, slow_flag, fill = brk, slow, tmp_path / "fill"

    return Fake


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_failed_run_then_resume_runs_only_the_rest(fake):
    good = fake.run()
    assert fake.ran() == fake.names
    before = _snapshot(good)
    fake.broken.touch()
    with pytest.raises(RunFailed) as err:
        fake.run()
    msg = str(err.value)
    assert "run failed in notebook 03-three, cell 4: RuntimeError: broken on purpose" in msg
    assert "continue with --resume fake" in msg and "\n" not in msg
    assert _snapshot(good) == before  # the last good report, byte for byte
    kept = fake.reports / ".failed" / "fake"
    assert [notebook_complete(kept / f"{n}.ipynb") for n in fake.names[:3]] == [True, True, False]
    assert fake.ran() == ["01-one", "02-two", "03-three"]
    started_01 = nbformat.read(kept / "01-one.ipynb", as_version=4).metadata.papermill.start_time

    with pytest.raises(ResumeRefused) as err:  # other parameters: refused, keys named
        fake.run(run_name=None, resume=True, overrides=["horizon=6", "model_params.mlp.epochs=2"])
    assert "horizon: 4 -> 6" in str(err.value) and "model_params.mlp.epochs: 8 -> 2" in str(err.value)
    assert kept.is_dir() and fake.ran() == []

    fake.broken.unlink()  # the cause, fixed
    done = fake.run(run_name=None, resume=True)  # the latest failed run of run_name "smoke"
    assert done == good and fake.ran() == ["03-three", "04-four"]
    info = json.loads((done / "run.json").read_text())
    assert info["resumed_from"] == {"folder": ".failed/fake", "kept": ["01-one", "02-two"],
                                    "rerun": ["03-three", "04-four"]}
    assert set(info["seconds_per_notebook"]) == set(fake.names)
    assert nbformat.read(done / "01-one.ipynb", as_version=4).metadata.papermill.start_time \
        == started_01  # kept, not run again
    for name in fake.names:
        assert notebook_complete(done / f"{name}.ipynb")
        assert (done / f"{name}.html").is_file() and (done / f"{name}.stakeholder.html").is_file()
    assert (done / "index.html").is_file() and (done / "artifacts" / "one.txt").is_file()
    assert not (done / "params.json").exists() and not (done / ".running").exists()
    assert not (fake.reports / ".failed" / "fake").exists() and not list(fake.reports.glob(".tmp-*"))
    assert not _leaks(done)  # 02 printed the run folder, home and the Python prefix
    assert "&lt;python&gt;" in (done / "02-two.html").read_text()
    with pytest.raises(ResumeRefused, match="no failed or killed run 'fake'"):
        fake.run(resume="fake")


def test_a_full_disk_while_rendering_keeps_the_good_report_and_resumes(fake, monkeypatch):
    fake.names = fake.names[:2]
    good = fake.run()
    before = _snapshot(good)
    fake.ran()
    real = pipeline.render_html

    def full_disk(notebook, target, *, stakeholder):
        if notebook.stem == "02-two":
            raise OSError(28, "No space left on device")
        return real(notebook, target, stakeholder=stakeholder)

    monkeypatch.setattr(pipeline, "render_html", full_disk)
    with pytest.raises(RunFailed, match="notebook 02-two: saving or rendering it failed: OSError: "
                                        r"\[Errno 28\] No space left on device"):
        fake.run()
    assert _snapshot(good) == before
    monkeypatch.setattr(pipeline, "render_html", real)
    fake.ran()
    done = fake.run(resume="fake")
    assert fake.ran() == []  # every notebook was complete: only rendering again
    assert json.loads((done / "run.json").read_text())["resumed_from"]["kept"] == fake.names


def _mount_small_disk(folder: Path, megabytes: int) -> bool:
    """A tmpfs of that size on ``folder``, where this process may mount one (root with the
    capability): then the disk is really full. False elsewhere."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                           str(folder)], capture_output=True).returncode == 0


def test_a_real_full_disk_keeps_the_good_report_and_resumes(fake, tmp_path):
    """No mock: notebook 03 writes more than the disk holds. On a small tmpfs (where it can be
    mounted) the write fails with ENOSPC; elsewhere the run's processes get a file-size limit
    (RLIMIT_FSIZE) and the write fails with EFBIG. Either way the last good report stays byte for
    byte, the error names the notebook and the OS error, and once space is freed --resume ends
    the run."""
    import resource

    fake.names = fake.names[:3]
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = _mount_small_disk(disk, 16)
    try:
        fake.reports = disk / "reports"
        good = fake.run()
        before = _snapshot(good)
        assert sum(len(b) for b in before.values()) < 4 * 2**20  # room for a second run
        fake.ran()
        fake.fill.write_text(str(32 * 2**20))  # twice the disk, or 4 times the file-size limit
        code = (f"import sys; sys.path[:0] = {sys.path!r}\n"
                "from salesutils.pipeline import run\n"
                f"run({str(ROOT / 'params' / 'smoke.yaml')!r}, run_name='fake', "
                f"reports_dir={str(fake.reports)!r}, notebooks={fake.names!r}, "
                f"notebook_dir={str(fake.folder)!r}, progress=False)")

        def limit_file_size():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
            resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 2**20, resource.RLIM_INFINITY))

        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300, preexec_fn=None if mounted else limit_file_size)
        assert proc.returncode != 0
        last = proc.stderr.strip().splitlines()[-1]
        assert "run failed in notebook 03-three" in last, proc.stderr[-3000:]
        assert ("No space left on device" if mounted else "File too large") in last
        assert "continue with --resume fake" in last
        assert _snapshot(good) == before  # the last good report, byte for byte
        assert fake.ran() == fake.names
        kept = fake.reports / ".failed" / "fake"
        assert notebook_complete(kept / "02-two.ipynb")

        (kept / "artifacts" / "big.bin").unlink(missing_ok=True)  # the user frees space
        fake.fill.unlink()
        done = fake.run(resume="fake")
        assert done == good and fake.ran() == ["03-three"]
        assert json.loads((done / "run.json").read_text())["resumed_from"]["rerun"] == ["03-three"]
        assert not (done / "artifacts" / "big.bin").exists()
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=False)


def test_a_killed_run_leaves_its_folder_for_resume(fake):
    fake.names = fake.names[:2]
    other = fake.reports / ".tmp-someone-else-20260101-000000"  # a stale folder of another run
    other.mkdir(parents=True)
    (other / "keep.txt").write_text("not ours")
    fake.slow_flag.touch()
    code = (f"import sys; sys.path[:0] = {sys.path!r}\n"
            "from salesutils.pipeline import run\n"
            f"run({str(ROOT / 'params' / 'smoke.yaml')!r}, run_name='killed', "
            f"reports_dir={str(fake.reports)!r}, notebooks={fake.names!r}, "
            f"notebook_dir={str(fake.folder)!r}, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    tmp = fake.reports / ".tmp-killed"
    deadline = time.time() + 120
    while not (tmp / "02-two.ipynb").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "run killed (SIGTERM) in notebook 02-two" in stderr and "--resume killed" in stderr
    assert tmp.is_dir() and not (tmp / ".running").exists()
    assert notebook_complete(tmp / "01-one.ipynb") and not notebook_complete(tmp / "02-two.ipynb")
    fake.slow_flag.unlink()
    fake.ran()
    done = fake.run(run_name="killed", resume=True)
    assert fake.ran() == ["02-two"]
    assert json.loads((done / "run.json").read_text())["resumed_from"]["folder"] == ".tmp-killed"
    assert (other / "keep.txt").read_text() == "not ours"  # other runs' leftovers are not ours
    assert "someone-else" not in (fake.reports / "index.html").read_text()


def test_cli_resume_option(monkeypatch):
    from salesutils.__main__ import main

    seen = []
    monkeypatch.setattr(pipeline, "run", lambda *a, **kw: seen.append(kw["resume"]))
    assert main(["run", "params/smoke.yaml", "--resume"]) == 0
    assert main(["run", "params/smoke.yaml", "--resume", "smoke-20260101-000000"]) == 0
    assert main(["run", "params/smoke.yaml"]) == 0
    assert seen == [True, "smoke-20260101-000000", None]


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


def test_index_card_names_the_unit_of_the_target(tmp_path):
    """Rossmann's target is revenue: the demand card says 'EUR of sales', not 'units'."""
    from salesutils.report import write_index

    (tmp_path / "artifacts").mkdir()
    head = {"champion": "lgbm", "rank_by": "mase", "champion_score": 0.2, "horizon": 42,
            "forecast_total": 1234.0, "unit": "EUR of sales"}
    (tmp_path / "artifacts" / "headline.json").write_text(json.dumps(head))
    page = write_index(tmp_path, {"run": "r", "data": {"series": 3}}, []).read_text()
    assert "EUR of sales, all 3 series" in page and "units, all" not in page
