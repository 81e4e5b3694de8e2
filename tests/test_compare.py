"""compare: the differences between two run folders, as a dict, as text and through the CLI."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from salesutils.__main__ import main
from salesutils.compare import RunFolderError, compare_runs, format_comparison, resolve_run
from salesutils.errors import SalesUtilsError

PARAMS = {
    "run_name": "default", "seed": 42,
    "data": {"source": "online_retail", "freq": "W-MON", "top_n": 200},
    "horizon": 8, "season_length": 52, "level": [80],
    "backtest": {"n_windows": 3, "step": 8},
    "models": ["naive", "seasonal_naive", "ets", "mlp"],
    "model_params": {"mlp": {"epochs": 100, "patience": 10, "lookback": 26,
                             "learning_rate": 0.0003}},
    "run_dir": None,
}

BOARD = [  # champion first, as the pipeline writes it
    {"model": "ets", "mase": 0.8, "rmsse": 0.7, "mae": 3.0, "rmse": 4.0, "bias": -0.5,
     "coverage_80": 0.78, "width_80": 9.0, "pinball": 1.1, "mase_sd": 0.05, "n_series": 200},
    {"model": "mlp", "mase": 0.85, "rmsse": 0.75, "mae": 3.2, "rmse": 4.1, "bias": 0.25,
     "coverage_80": 0.7, "width_80": 8.0, "pinball": 1.2, "mase_sd": 0.06, "n_series": 200},
    {"model": "seasonal_naive", "mase": 1.0, "rmsse": 0.9, "mae": 4.0, "rmse": 5.0, "bias": 0.0,
     "coverage_80": None, "width_80": None, "pinball": 1.5, "mase_sd": 0.1, "n_series": 200},
    {"model": "naive", "mase": 1.1, "rmsse": 1.0, "mae": 4.5, "rmse": 5.5, "bias": 0.1,
     "coverage_80": 0.6, "width_80": 10.0, "pinball": 1.6, "mase_sd": 0.1, "n_series": 200},
]


def make_run(reports: Path, name: str, *, params: dict | None = None, data_end: str = "2011-12-05",
             board: list[dict] | None = None, finished: str = "2026-01-05T07:10:00+01:00",
             seconds: float = 40.0, git: str = "abc123") -> Path:
    """A run folder with the files :func:`salesutils.pipeline.run` and notebook 05 write."""
    run_dir = reports / name
    (run_dir / "artifacts").mkdir(parents=True)
    info = {
        "run": name, "params_file": "params/default.yaml", "overrides": [],
        "params": copy.deepcopy(params or PARAMS), "seed": 42,
        "started": "2026-01-05T07:09:20+01:00", "finished": finished,
        "seconds_total": seconds,
        "seconds_per_notebook": {"01-eda": 5.0, "05-results": seconds - 5},
        "versions": {"python": "3.12.1", "salesutils": "0.1.0", "pandas": "2.2.2"},
        "git": git, "platform": "Linux x86_64",
        "data": {"name": "online_retail", "description": "UCI Online Retail", "freq": "W-MON",
                 "series": 200, "rows": 10000, "start": "2010-12-06", "end": data_end,
                 "total_y": 1e6, "zero_share": 0.1, "roles": {}, "sources": ["online_retail.csv"]},
        "data_checksums": {"online_retail.csv": "f00d"},
    }
    (run_dir / "run.json").write_text(json.dumps(info, indent=2))
    board = copy.deepcopy(board or BOARD)
    with open(run_dir / "artifacts" / "leaderboard.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(board[0]))
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in board)
    head = {"champion": board[0]["model"], "rank_by": "mase", "champion_score": board[0]["mase"],
            "horizon": info["params"]["horizon"], "gain_vs_seasonal_naive": 0.2,
            "coverage_80": board[0]["coverage_80"], "forecast_total": 12345.0,
            "leaderboard": board}
    (run_dir / "artifacts" / "headline.json").write_text(json.dumps(head, indent=2))
    return run_dir


@pytest.fixture
def two_runs(tmp_path):
    """Week 1 and week 2: horizon 8 -> 4, mlp epochs 100 -> 50, data end a week later, mlp's
    metrics moved; everything else (champion, headline, versions) the same."""
    reports = tmp_path / "reports"
    params_b = copy.deepcopy(PARAMS)
    params_b["horizon"] = 4
    params_b["model_params"]["mlp"]["epochs"] = 50
    board_b = copy.deepcopy(BOARD)
    board_b[1].update(mase=0.82, rmsse=0.8, coverage_80=0.75, bias=-0.1)
    a = make_run(reports, "default-20260105-070000")
    b = make_run(reports, "default-20260112-070000", params=params_b, data_end="2011-12-12",
                 board=board_b, finished="2026-01-12T07:11:00+01:00", seconds=44.5)
    # the headline's horizon follows the params, but the compared headline numbers are equal
    return reports, a, b


def test_diff_has_exactly_the_changes(two_runs):
    reports, a, b = two_runs
    diff = compare_runs(a, b)
    assert diff["changes"] == ["data", "params", "metrics"]
    assert diff["a"]["run"] == "default-20260105-070000"
    assert diff["b"]["run"] == "default-20260112-070000"

    assert diff["data"]["changed"] == {"end": {"a": "2011-12-05", "b": "2011-12-12"}}
    assert diff["data"]["checksums"] == "equal"
    assert diff["data"]["checksums_changed"] == {}

    assert diff["params"]["changed"] == {"horizon": {"a": 8, "b": 4},
                                         "model_params.mlp.epochs": {"a": 100, "b": 50}}
    assert diff["params"]["added"] == {} and diff["params"]["removed"] == {}

    champ = diff["champion"]
    assert (champ["a"], champ["b"], champ["has_changes"]) == ("ets", "ets", False)
    assert champ["numbers"]["champion_score"] == {"a": 0.8, "b": 0.8, "delta": 0.0}

    m = diff["metrics"]
    assert m["columns"] == ["mase", "rmsse", "coverage_80", "bias"]
    assert m["changed"] == ["mlp"] and m["only_a"] == [] and m["only_b"] == []
    mlp = m["models"]["mlp"]
    # delta = B - A, by hand: 0.82 - 0.85, 0.80 - 0.75, 0.75 - 0.70, -0.10 - 0.25
    assert mlp["mase"]["a"] == 0.85 and mlp["mase"]["b"] == 0.82
    assert mlp["mase"]["delta"] == pytest.approx(-0.03)
    assert mlp["rmsse"]["delta"] == pytest.approx(0.05)
    assert mlp["coverage_80"]["delta"] == pytest.approx(0.05)
    assert mlp["bias"]["delta"] == pytest.approx(-0.35)
    assert m["models"]["ets"]["mase"] == {"a": 0.8, "b": 0.8, "delta": 0.0}
    # a missing coverage (empty CSV cell) is None, and so is its delta
    assert m["models"]["seasonal_naive"]["coverage_80"] == {"a": None, "b": None, "delta": None}

    assert diff["versions"]["has_changes"] is False and diff["versions"]["git"] is None
    assert diff["time"]["seconds_total"]["delta"] == pytest.approx(4.5)
    json.dumps(diff)  # plain JSON, no NaN or Path


def test_text_shows_the_changes(two_runs):
    _, a, b = two_runs
    text = format_comparison(compare_runs(a, b))
    assert "Changed: data (end), parameters (2), metrics (1 model)" in text
    assert "2010-12-06 .. 2011-12-05 -> 2010-12-06 .. 2011-12-12" in text
    assert "checksums  equal" in text
    assert "horizon                  8 -> 4" in text
    assert "model_params.mlp.epochs  100 -> 50" in text
    assert "Champion (mase): ets in both runs" in text
    mlp = next(line for line in text.splitlines() if line.strip().startswith("mlp"))
    assert mlp.split() == ["mlp", "0.850", "0.820", "-0.030", "0.750", "0.800", "+0.050",
                           "0.700", "0.750", "+0.050", "0.250", "-0.100", "-0.350", "changed"]
    assert "Versions: unchanged" in text
    assert "Run time: 40.0 s -> 44.5 s (+4.5 s)" in text


def test_identical_runs_report_no_changes(tmp_path):
    a = make_run(tmp_path, "default-20260105-070000")
    b = make_run(tmp_path, "default-20260112-070000", finished="2026-01-12T07:11:00+01:00",
                 seconds=41.0)
    diff = compare_runs(a, b)
    assert diff["changes"] == []
    assert all(not diff[s]["has_changes"] for s in ("data", "params", "champion", "metrics",
                                                    "versions"))
    text = format_comparison(diff)
    assert "No changes in data, parameters, results or versions." in text
    assert "Parameters: unchanged" in text and "Data: unchanged" in text


def test_models_checksums_versions_added_and_removed(tmp_path):
    params_b = copy.deepcopy(PARAMS)
    params_b["models"] = [*PARAMS["models"], "tcn"]
    params_b["model_params"]["tcn"] = {"epochs": 30}
    del params_b["season_length"]
    board_b = [r for r in copy.deepcopy(BOARD) if r["model"] != "naive"]
    board_b.append({**copy.deepcopy(BOARD[1]), "model": "tcn", "mase": 0.9})
    a = make_run(tmp_path, "a")
    b = make_run(tmp_path, "b", params=params_b, board=board_b, git="def456-dirty")
    info = json.loads((b / "run.json").read_text())
    info["data_checksums"] = {"online_retail.csv": "beef"}
    info["versions"]["pandas"] = "2.3.0"
    (b / "run.json").write_text(json.dumps(info))
    diff = compare_runs(a, b)
    assert diff["changes"] == ["data", "params", "metrics", "versions"]
    assert diff["data"]["changed"] == {}
    assert diff["data"]["checksums"] == "changed"
    assert diff["data"]["checksums_changed"] == {"online_retail.csv": {"a": "f00d", "b": "beef"}}
    assert diff["params"]["changed"] == {"models": {"a": PARAMS["models"],
                                                    "b": params_b["models"]}}
    assert diff["params"]["added"] == {"model_params.tcn.epochs": 30}
    assert diff["params"]["removed"] == {"season_length": 52}
    m = diff["metrics"]
    assert m["only_a"] == ["naive"] and m["only_b"] == ["tcn"] and m["changed"] == []
    assert m["models"]["tcn"]["mase"] == {"a": None, "b": 0.9, "delta": None}
    assert list(m["models"]) == ["ets", "mlp", "seasonal_naive", "tcn", "naive"]
    assert diff["versions"]["changed"] == {"pandas": {"a": "2.2.2", "b": "2.3.0"}}
    assert diff["versions"]["git"] == {"a": "abc123", "b": "def456-dirty"}
    text = format_comparison(diff)
    assert "checksums  changed: online_retail.csv" in text
    assert "model_params.tcn.epochs  added: 30" in text
    assert "season_length            removed (was 52)" in text
    assert "only in A" in text and "only in B" in text
    assert "pandas  2.2.2 -> 2.3.0" in text and "git     abc123 -> def456-dirty" in text


def test_resolve_by_name_prefix_and_path(two_runs, monkeypatch):
    reports, a, b = two_runs
    assert resolve_run("default-20260105-070000", reports) == a
    assert resolve_run("default-20260112", reports) == b
    assert resolve_run(str(a)) == a
    assert resolve_run(reports / "default-20260112") == b  # a path ending in a prefix
    # the default reports/ folder is the project's (SALESUTILS_ROOT in a scheduler)
    monkeypatch.setenv("SALESUTILS_ROOT", str(reports.parent))
    diff = compare_runs("default-20260105", "default-20260112")
    assert (diff["a"]["run"], diff["b"]["run"]) == ("default-20260105-070000",
                                                    "default-20260112-070000")


def test_latest_and_previous_follow_the_finish_time(two_runs):
    reports, a, b = two_runs
    assert resolve_run("latest", reports) == b and resolve_run("previous", reports) == a
    assert resolve_run("latest:default", reports) == b
    with pytest.raises(RunFolderError, match="0 finished runs named weekly"):
        resolve_run("latest:weekly", reports)
    with pytest.raises(RunFolderError, match="no previous one"):
        resolve_run("previous:default-20260112", reports)


def test_ambiguous_or_unknown_name(two_runs):
    reports, _, _ = two_runs
    (reports / ".tmp-default-20260119-070000").mkdir()  # an unfinished run is no candidate
    with pytest.raises(RunFolderError, match="prefix matches 2 runs: default-20260105-070000, "
                                             "default-20260112-070000"):
        resolve_run("default-2026", reports)
    with pytest.raises(RunFolderError, match="no such run folder .runs there: default-20260105"):
        resolve_run("weekly", reports)
    with pytest.raises(RunFolderError, match="no such run folder"):
        resolve_run(reports / "gone" / "deeper")


def test_missing_or_broken_run_json(two_runs):
    reports, a, b = two_runs
    (a / "run.json").unlink()
    with pytest.raises(RunFolderError, match=r"run\.json: missing") as err:
        compare_runs(a, b)
    assert str(a / "run.json") in str(err.value)
    assert isinstance(err.value, SalesUtilsError)
    (a / "run.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="not valid JSON"):
        compare_runs(a, b)


def test_cli(two_runs, capsys, tmp_path):
    reports, a, b = two_runs
    assert main(["compare", "default-20260105", "default-20260112",
                 "--reports-dir", str(reports)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run comparison (delta = B - A)")
    assert "model_params.mlp.epochs  100 -> 50" in out

    assert main(["compare", str(a), str(b), "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["params"]["changed"]["horizon"] == {"a": 8, "b": 4}

    target = tmp_path / "weekly.txt"
    assert main(["compare", str(a), str(b), "--out", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert "Changed: data (end)" in target.read_text()

    assert main(["compare", "default-2026", "default-20260112", "--reports-dir",
                 str(reports)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "prefix matches 2 runs" in err
    assert len(err.strip().splitlines()) == 1

    (a / "run.json").unlink()
    assert main(["compare", str(a), str(b)]) == 2
    assert f"error: {a / 'run.json'}: missing" in capsys.readouterr().err
