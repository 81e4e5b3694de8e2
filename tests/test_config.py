"""Parameter files: layering, validation, and errors that say what to fix."""

from pathlib import Path

import pytest
import yaml

from salesutils.config import resolve, season_length_for
from salesutils.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "params").rglob("*.yaml")))
def test_every_shipped_params_file_is_valid(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = resolve(path)
    assert cfg.horizon >= 1 and cfg.models


def test_layers_defaults_file_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump({"horizon": 5, "data": {"source": "synthetic", "n_series": 7}}))
    cfg = resolve(f, dotted=["data.n_series=9", "backtest.n_windows=4"])
    assert cfg.horizon == 5
    assert cfg.data.n_series == 9 and cfg.data.periods == 156  # source defaults fill the rest
    assert cfg.backtest.n_windows == 4 and cfg.backtest.step is None
    assert cfg.seed == 42


@pytest.mark.parametrize("content, key, fragment", [
    ({"horizn": 4}, "horizn", "did you mean 'horizon'"),
    ({"data": {"source": "synthetic", "n_seres": 3}}, "data.n_seres", "did you mean 'n_series'"),
    ({"horizon": 0}, "horizon", "integer in [1, 1000]"),
    ({"horizon": "eight"}, "horizon", "expected int"),
    ({"models": ["naive", "arima_x"]}, "models", "unknown model 'arima_x'"),
    ({"data": {"source": "csv"}}, "data.source", "unknown data source"),
    ({"data": {"source": "panel"}}, "data.path", "needs a path"),
    ({"level": [120]}, "level", "percentages"),
    ({"backtest": {"n_window": 2}}, "backtest.n_window", "did you mean 'n_windows'"),
    ({"model_params": {"mpl": {"epochs": 3}}}, "model_params", "did you mean 'mlp'"),
    ({"inventory": {"service_levl": 0.9}}, "inventory.service_levl", "did you mean 'service_level'"),
    ({"inventory": {"service_level": 1.2}}, "inventory.service_level", "must lie in (0, 1)"),
    ({"inventory": {"holding_cost": -1}}, "inventory.holding_cost", "cannot be negative"),
])
def test_bad_params_name_file_key_and_fix(tmp_path, monkeypatch, content, key, fragment):
    monkeypatch.chdir(ROOT)
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError) as err:
        resolve(f)
    msg = str(err.value)
    assert "bad.yaml" in msg and f"'{key}'" in msg and fragment in msg


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        resolve(tmp_path / "nope.yaml")
    f = tmp_path / "broken.yaml"
    f.write_text("horizon: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        resolve(f)


def test_season_lengths():
    assert season_length_for("W-MON") == 52
    assert season_length_for("D") == 7
    assert season_length_for("MS") == 12


def test_params_of_a_model_left_out_of_the_list_are_kept_unused(monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = resolve("params/benchmarks/m5_monthly.yaml", dotted=["models=[naive,mlp]"])
    assert cfg.models == ["naive", "mlp"] and "arima" in cfg.model_params
