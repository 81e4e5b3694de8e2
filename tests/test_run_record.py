"""run.json holds what is needed to reproduce a run: params, seed, versions, git commit, data."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.slow  # the smoke run (conftest.py), shared with test_pipeline.py


def test_run_json_records_what_is_needed_to_reproduce(smoke_run):
    info = json.loads((smoke_run / "run.json").read_text())

    # the parameters, resolved (file + overrides + defaults), and the seed they ran with
    params = info["params"]
    assert params and params["data"]["source"] == "synthetic"
    assert params["models"] and params["horizon"] == 4
    assert isinstance(info["seed"], int) and info["seed"] == params["seed"] == 7
    assert info["params_file"] and info["params_file"].endswith("smoke.yaml")
    assert info["overrides"] == []

    # time and peak memory of each notebook (the kernel and its workers): a kernel with pandas
    # loaded holds tens of MB at least, and nothing on the smoke data comes near 8 GB
    assert set(info["peak_rss_mb_per_notebook"]) == set(info["seconds_per_notebook"])
    assert all(50 < mb < 8000 for mb in info["peak_rss_mb_per_notebook"].values())

    # the versions of Python and of the packages that compute the numbers
    versions = info["versions"]
    for pkg in ("python", "salesutils", "numpy", "pandas", "statsmodels", "tensorflow", "keras"):
        assert versions.get(pkg), f"run.json records no {pkg} version"

    # the commit of the code (with "-dirty" when tracked files were changed)
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", info["git"] or ""), info["git"]

    # the data: checksums of the files read (a synthetic panel reads none) and of the prepared
    # content, and its summary; the synthetic panel is reproducible from params["data"] and seed
    assert list(info["data_checksums"]) == ["<prepared data>"]
    assert re.fullmatch(r"[0-9a-f]{64}", info["data_checksums"]["<prepared data>"])
    assert 0 < info["data"]["series"] <= params["data"]["n_series"] == 12
    assert info["data"]["rows"] > 0 and info["data"]["total_y"] > 0
