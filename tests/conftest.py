"""Shared fixtures: small hand-made panels and the synthetic generator."""

from __future__ import annotations

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
