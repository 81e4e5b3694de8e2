"""salesutils.compute: the ``compute`` params section, and per-series fits on a Dask cluster that
give exactly the forecasts and fallbacks of the local processes."""

from __future__ import annotations

from dataclasses import replace

import dask
import distributed  # noqa: F401 - its config defaults, before any dask.config.set below
import numpy as np
import pandas as pd
import psutil
import pytest

from salesutils import compute
from salesutils.compute import BACKENDS
from salesutils.config import resolve
from salesutils.datasets import Dataset
from salesutils.datasets.synthetic import generate_synthetic
from salesutils.errors import ConfigError, SalesUtilsError
from salesutils.models import ForecastTask, get_model
from salesutils.session import Session

# --- the params section ---------------------------------------------------------------------


def test_compute_defaults_to_local_processes():
    cfg = resolve()
    assert cfg.compute == {"backend": "processes", "scheduler": None, "n_workers": None}
    assert compute.get_client(cfg) is None
    with compute.dask_client(cfg) as client:
        assert client is None
    assert compute.describe(None, 2) == "2 local processes"


@pytest.mark.parametrize("override", [
    "compute.backend=dask",
    "compute.scheduler=tcp://10.0.0.5:8786",
    "compute.scheduler=scheduler.internal:8786",
    "compute.scheduler=tls://[::1]:8786",
    "compute.n_workers=8",
])
def test_valid_compute_settings(override):
    cfg = resolve(dotted=["compute.backend=dask", override])
    assert cfg.compute.backend == "dask"


@pytest.mark.parametrize("override, key, message", [
    ("compute.schedular=tcp://h:8786", "compute.schedular", "did you mean 'scheduler'?"),
    ("compute.workers=4", "compute.workers", "did you mean 'n_workers'?"),
    ("compute.backend=dsak", "compute.backend", "did you mean 'dask'? (one of processes, dask)"),
    ("compute.backend=spark", "compute.backend", "unknown backend 'spark'"),
    ("compute.scheduler=htp://host:8786", "compute.scheduler", "did you mean 'tcp'?"),
    ("compute.scheduler=8786", "compute.scheduler", "a scheduler address such as tcp://"),
    ("compute.scheduler=tcp://host :8786", "compute.scheduler", "got 'tcp://host :8786'"),
    ("compute.n_workers=0", "compute.n_workers", "integer in [1, 1024]"),
    ("compute.n_workers=true", "compute.n_workers", "got True"),
    ("compute=dask", "compute", "expected a mapping (backend, scheduler, n_workers)"),
])
def test_bad_compute_settings_name_the_key(override, key, message):
    with pytest.raises(ConfigError) as err:
        resolve(dotted=[override])
    assert err.value.key == key and message in str(err.value)


def test_the_backend_goes_from_the_params_into_the_task(tmp_path):
    ds = Dataset(name="t", panel=_panel()[["unique_id", "ds", "y"]], freq="W-MON")
    for backend in BACKENDS:
        cfg = resolve(dotted=[f"compute.backend={backend}", "n_jobs=3"])
        task = Session(cfg=cfg, dir=tmp_path).task(ds)
        assert (task.backend, task.n_jobs) == (backend, 3)


def test_unreachable_scheduler_is_a_clear_error():
    cfg = resolve(dotted=["compute.backend=dask", "compute.scheduler=tcp://127.0.0.1:9"])
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        compute.get_client(cfg)


def test_dask_backend_without_a_client_says_what_to_call():
    panel = _panel()
    task = ForecastTask("W-MON", 4, 52, backend="dask")
    with pytest.raises(SalesUtilsError, match=r"compute.get_client\(cfg\)"):
        get_model("naive").fit(panel, task).predict(task)


# --- the same forecasts on a LocalCluster ---------------------------------------------------

def _panel() -> pd.DataFrame:
    """24 synthetic series (smooth and intermittent, with prices and promotions ahead), plus one
    constant and one 5-point series: both fall back to simpler models."""
    data = generate_synthetic(n_series=24, periods=70, horizon=4, seed=3)
    panel = data.panel[["unique_id", "ds", "y", "price", "promo"]]
    last = panel["ds"].max()
    odd = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range(end=last, periods=n, freq="W-MON"),
                         "y": y, "price": 9.99, "promo": 0.0})
           for uid, n, y in [("flat", 40, 3.0), ("short", 5, np.arange(5.0))]]
    return pd.concat([panel, *odd], ignore_index=True)


def _future(panel: pd.DataFrame, h: int) -> pd.DataFrame:
    data = generate_synthetic(n_series=24, periods=70, horizon=h, seed=3)
    fut = data.future[["unique_id", "ds", "price", "promo"]]
    extra = [fut[fut["unique_id"] == fut["unique_id"].iloc[0]].assign(unique_id=u)
             for u in ("flat", "short")]
    return pd.concat([fut, *extra], ignore_index=True)


#: ETS, ARIMA with covariates and an intermittent model; a small ARIMA search keeps the test short
MODELS = {"ets": {}, "arima": {"max_p": 1, "max_q": 1, "maxiter": 20}, "croston": {}}


def _forecasts(panel: pd.DataFrame, task: ForecastTask) -> dict:
    out = {}
    for alias, params in MODELS.items():
        model = get_model(alias, **params).fit(panel, task)
        out[alias] = (model.predict(task), model.fallbacks)
    return out


def test_dask_local_cluster_equals_local_processes():
    panel = _panel()
    task = ForecastTask("W-MON", 4, 52, seed=7, n_jobs=2, future=_future(panel, 4),
                        roles={"future_known": ["price", "promo"]})
    local = _forecasts(panel, task)
    assert {f["unique_id"] for f in local["ets"][1]} >= {"flat", "short"}

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}  # joblib's reusable workers stay
    cfg = resolve(dotted=["compute.backend=dask", "compute.n_workers=2"])
    with compute.dask_client(cfg) as client:
        assert len(client.nthreads()) == 2 and set(client.nthreads().values()) == {1}
        workers = [p for p in me.children(recursive=True) if p.pid not in before]
        assert len(workers) >= 2  # one process per worker
        assert compute.describe(client, 2).startswith("Dask (tcp://")
        on_dask = _forecasts(panel, replace(task, backend="dask"))
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"processes of the LocalCluster left running: {alive}"

    for alias, (fc, fallbacks) in local.items():
        pd.testing.assert_frame_equal(on_dask[alias][0], fc, check_exact=True, obj=alias)
        assert on_dask[alias][1] == fallbacks, alias
