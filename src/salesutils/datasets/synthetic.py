"""Synthetic e-commerce panel with known ground truth: the data of the tests and the smoke run.

:func:`generate_synthetic` simulates a long panel (``unique_id, ds, y`` + covariates, see
DESIGN.md) whose effects are known exactly, so that tests and the explanation code can compare
estimated effects with true ones. Everything is vectorised over a ``(series, time)`` grid and
drawn from one :class:`numpy.random.Generator` seeded by ``seed``: the same arguments give
identical frames.

The demand model (multiplicative; the expected demand of series *i* in period *t*)::

    expected = base_i                                   # log-normal level (big and small products)
             * trend_i(t)                               # linear 1 + g t, or log 1 + g log(1 + t)
             * weekly_i(day of week)                    # weekend pattern (daily data only)
             * yearly_i(day of year)                    # smooth Fourier (K=2), shape per category
             * prod_e holiday_mult_e ** is_e(t)         # Black Friday, 11.11, 618, Christmas
             * (price / ref_price_i) ** elasticity_i    # price effect (list price and discounts)
             * promo_uplift_i ** promo                  # uplift on top of the discount
             * (ad_spend / ad_ref_i) ** ad_elasticity   # planned ad budget
             * (visits / visits_ref_i) ** visits_exponent   # site traffic (exogenous shocks)
             * launch_ramp_i(t)                         # new launches ramp up over ~4 weeks

``demand`` is a negative-binomial (gamma-Poisson, size per series) or Poisson draw around
``expected``; ``y = demand`` except on stock-out periods (``stockout == 1``), where nothing was
sold and ``y == 0``. ``demand`` and ``expected`` live in ``truth`` only, never in the panel.

Conventions: weekly data (``freq="W-MON"``) is labelled by the Monday that starts the week
(``ds .. ds + 6 days``); a point event (Black Friday, 11.11, 618, Dec 25) flags the week that
contains it, the Christmas run-up (Dec 1-21) flags the weeks whose Thursday falls in it. Holiday
multipliers are per period, so they differ between daily and weekly data (see
:data:`DEFAULT_HOLIDAY_MULTIPLIERS`). Established series start at ``start``; new launches start
at their first sale after their listing date (like a panel built from transactions). Every series
ends at the same last date, and ``future`` holds the ``horizon`` periods after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..errors import ConfigError
from ..validation import validate_panel

__all__ = [
    "SyntheticData",
    "generate_synthetic",
    "truth_frame",
    "HOLIDAYS",
    "HOLIDAY_COLUMNS",
    "DEFAULT_HOLIDAY_MULTIPLIERS",
    "CATEGORIES",
    "FUTURE_KNOWN",
    "HISTORICAL_ONLY",
    "STATIC",
]

_SOURCE = "generate_synthetic"
_FREQS = {"D": 1, "W-MON": 7}

#: Events, in the order of their flag columns.
HOLIDAYS: tuple[str, ...] = ("black_friday", "singles_day", "618", "christmas_runup", "christmas")
#: Event name -> 0/1 column in the panel and the future frame.
HOLIDAY_COLUMNS: dict[str, str] = {name: f"is_{name}" for name in HOLIDAYS}
#: True multiplier of each event on the expected demand of the flagged period.
DEFAULT_HOLIDAY_MULTIPLIERS: dict[str, dict[str, float]] = {
    "D": {
        "black_friday": 3.0,
        "singles_day": 2.0,
        "618": 1.6,
        "christmas_runup": 1.35,
        "christmas": 0.3,  # Dec 25 itself: delivery cut-off, people away from screens
    },
    "W-MON": {
        "black_friday": 1.8,
        "singles_day": 1.3,
        "618": 1.2,
        "christmas_runup": 1.3,
        "christmas": 0.75,  # the week containing Dec 25
    },
}

#: Category -> (median list price, mean price elasticity, mean promo uplift, weekend log-effect,
#: yearly shape as (amplitude 1, peak 1, amplitude 2, peak 2), peaks as fractions of the year).
CATEGORIES: dict[str, tuple[float, float, float, float, tuple[float, float, float, float]]] = {
    "electronics": (120.0, -2.0, 1.5, 0.10, (0.15, 0.92, 0.05, 0.40)),
    "home": (35.0, -1.5, 1.3, 0.20, (0.10, 0.05, 0.04, 0.30)),
    "fashion": (45.0, -1.8, 1.6, 0.15, (0.12, 0.35, 0.08, 0.10)),
    "toys": (25.0, -1.2, 1.4, 0.25, (0.25, 0.95, 0.05, 0.45)),
    "beauty": (20.0, -1.0, 1.25, 0.05, (0.08, 0.40, 0.03, 0.20)),
    "sports": (50.0, -1.6, 1.35, 0.20, (0.20, 0.50, 0.05, 0.00)),
    "garden": (30.0, -1.3, 1.3, 0.30, (0.35, 0.40, 0.05, 0.20)),
    "books": (15.0, -0.8, 1.2, -0.10, (0.10, 0.70, 0.05, 0.00)),
}

#: Covariate roles (DESIGN.md). Future-known and historical-only columns are in the panel;
#: static columns are in ``SyntheticData.static``.
FUTURE_KNOWN: list[str] = ["list_price", "price", "promo", "ad_spend", *HOLIDAY_COLUMNS.values()]
HISTORICAL_ONLY: list[str] = ["visits", "stockout"]
STATIC: list[str] = ["category", "demand_type", "launch_date"]

_FLAGS = ["promo", *HOLIDAY_COLUMNS.values(), "stockout"]
_COMPONENTS = [
    "base",
    "trend",
    "weekly",
    "yearly",
    "holiday",
    "price_effect",
    "promo_effect",
    "ad_effect",
    "visits_effect",
    "launch_ramp",
]
_DISCOUNTS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.40])
_HOLIDAY_DISCOUNTS = np.array([0.20, 0.30, 0.40])
_LAUNCH_RAMP_DAYS = 28.0


@dataclass
class SyntheticData:
    """A generated panel, its static and future frames, and the truth behind them.

    ``panel``: ``unique_id, ds, y`` + future-known + historical-only columns, sorted by
    ``unique_id, ds``. ``static``: ``unique_id`` + static attributes. ``future``: ``unique_id,
    ds`` + future-known columns for the ``horizon`` periods after the panel's last date.
    ``truth``: the known effects (see :func:`generate_synthetic`). ``roles``: column names by
    role. ``freq``: ``"D"`` or ``"W-MON"``.
    """

    panel: pd.DataFrame
    static: pd.DataFrame
    future: pd.DataFrame
    truth: dict[str, Any]
    roles: dict[str, list[str]]
    freq: str
    horizon: int = field(default=0)

    def panel_with_static(self) -> pd.DataFrame:
        """The panel with the static attributes merged in (one copy per row)."""
        return self.panel.merge(self.static, on="unique_id", how="left", validate="many_to_one")


def truth_frame(data: SyntheticData, future: bool = False) -> pd.DataFrame:
    """Per-row truth next to the observations: ``unique_id, ds, y, stockout, expected, demand``
    and every multiplicative component (``base, trend, weekly, ..., launch_ramp``), aligned with
    ``data.panel`` (or, with ``future=True``, with ``data.future``: the simulated outcome of the
    horizon, without stock-outs, so ``y == demand`` there)."""
    if future:
        comp = data.truth["future_components"]
        out = comp[["unique_id", "ds"]].copy()
        out["y"] = comp["demand"].to_numpy()
        out["stockout"] = np.zeros(len(comp), dtype="int8")
    else:
        comp = data.truth["components"]
        out = data.panel[["unique_id", "ds", "y", "stockout"]].copy()
    for col in comp.columns.drop(["unique_id", "ds"]):
        out[col] = comp[col].to_numpy()
    return out


# --------------------------------------------------------------------------- helpers


def _check_args(n_series, freq, start, periods, horizon, shares, n_categories, distribution):
    if freq not in _FREQS:
        raise ConfigError(f"freq must be one of {sorted(_FREQS)}, not {freq!r}", source=_SOURCE, key="freq")
    for key, value, low in (("n_series", n_series, 1), ("periods", periods, 1), ("horizon", horizon, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"must be an integer >= {low}, not {value!r}", source=_SOURCE, key=key)
    for key, value in shares.items():
        if not (isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0):
            raise ConfigError(f"must be a share in [0, 1], not {value!r}", source=_SOURCE, key=key)
    if not (isinstance(n_categories, (int, np.integer)) and 1 <= n_categories <= len(CATEGORIES)):
        raise ConfigError(
            f"must be an integer in [1, {len(CATEGORIES)}], not {n_categories!r}",
            source=_SOURCE,
            key="n_categories",
        )
    if distribution not in ("negbin", "poisson"):
        raise ConfigError(
            f"must be 'negbin' or 'poisson', not {distribution!r}", source=_SOURCE, key="distribution"
        )
    try:
        ts = pd.Timestamp(start)
    except (TypeError, ValueError):
        raise ConfigError(f"not a date: {start!r}", source=_SOURCE, key="start") from None
    if ts is pd.NaT or ts.tzinfo is not None or ts != ts.normalize():
        raise ConfigError(f"must be a naive calendar date, not {start!r}", source=_SOURCE, key="start")
    if freq == "W-MON" and ts.day_of_week != 0:
        monday = (ts - pd.Timedelta(days=ts.day_of_week)).date()
        raise ConfigError(
            f"{ts.date()} is a {ts.day_name()}; weekly panels (W-MON) start on a Monday, e.g. {monday}",
            source=_SOURCE,
            key="start",
        )
    return ts


def _event_dates(years) -> dict[str, list[pd.Timestamp]]:
    """Calendar dates of the point events in ``years`` (a few per year, not per day)."""
    out: dict[str, list[pd.Timestamp]] = {"black_friday": [], "singles_day": [], "618": [], "christmas": []}
    for year in years:
        nov1 = pd.Timestamp(year=year, month=11, day=1)
        # the day after Thanksgiving (4th Thursday): the 4th *or 5th* Friday (Nov 29 in 2024)
        first_thursday = 1 + (3 - nov1.day_of_week) % 7
        out["black_friday"].append(pd.Timestamp(year=year, month=11, day=first_thursday + 22))
        out["singles_day"].append(pd.Timestamp(year=year, month=11, day=11))
        out["618"].append(pd.Timestamp(year=year, month=6, day=18))
        out["christmas"].append(pd.Timestamp(year=year, month=12, day=25))
    return out


def _holiday_flags(dates: pd.DatetimeIndex, period_days: int) -> dict[str, np.ndarray]:
    """0/1 flag per event on the period grid ``dates`` (shape ``(T,)``)."""
    day = dates.values.astype("datetime64[D]")
    years = range(dates[0].year - 1, dates[-1].year + 2)
    flags: dict[str, np.ndarray] = {}
    for name, when in _event_dates(years).items():
        ev = np.array([d.to_datetime64() for d in when]).astype("datetime64[D]")
        # a period [day, day + period_days) contains the event
        k = np.searchsorted(ev, day, side="left")
        nxt = ev[np.minimum(k, len(ev) - 1)]
        flags[name] = (k < len(ev)) & (nxt < day + np.timedelta64(period_days, "D"))
    # Christmas run-up: Dec 1-21 (weekly: the weeks whose Thursday falls in it)
    probe = dates + pd.Timedelta(days=3 if period_days == 7 else 0)
    flags["christmas_runup"] = np.asarray((probe.month == 12) & (probe.day <= 21))
    return {name: flags[name].astype(np.int8) for name in HOLIDAYS}


def _episodes(rng, shape, rate, lo, hi):
    """Random runs of 1s covering about ``rate`` of an ``(n, T)`` grid, lengths in [lo, hi].

    Returns ``(active, last_start)``: the 0/1 coverage and, per cell, the index of the latest
    run start at or before it (-1 before the first), to give each run one value.
    """
    n, T = shape
    p = min(1.0, rate / ((lo + hi) / 2.0))
    start = rng.random(shape) < p
    length = rng.integers(lo, hi + 1, size=shape)
    ii, tt = np.nonzero(start)
    diff = np.zeros((n, T + 1), dtype=np.int32)
    diff[ii, tt] += 1
    np.add.at(diff, (ii, np.minimum(tt + length[ii, tt], T)), -1)
    active = np.cumsum(diff[:, :T], axis=1) > 0
    last_start = np.maximum.accumulate(np.where(start, np.arange(T), -1), axis=1)
    return active, last_start


def _ar1(rng, shape, phi, sd):
    """Stationary AR(1) paths along the last axis, marginal sd ``sd``."""
    eps = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), size=shape)
    eps[..., 0] = rng.normal(0.0, sd, size=shape[:-1])
    return lfilter([1.0], [1.0, -phi], eps, axis=-1)


def _round_price(p):
    return np.maximum(np.round(p, 2), 0.01)


# --------------------------------------------------------------------------- generator


def generate_synthetic(
    n_series: int = 50,
    freq: str = "W-MON",
    start: str | pd.Timestamp = "2022-01-03",
    periods: int = 156,
    horizon: int = 8,
    seed: int = 0,
    intermittent_share: float = 0.3,
    launch_share: float = 0.1,
    stockout_rate: float = 0.01,
    *,
    n_categories: int = 4,
    promo_rate: float = 0.08,
    holiday_promo_prob: float = 0.5,
    price_change_rate: float = 1.0,
    ad_elasticity: float = 0.12,
    visits_exponent: float = 0.6,
    holiday_multipliers: dict[str, float] | None = None,
    distribution: str = "negbin",
) -> SyntheticData:
    """Simulate an e-commerce panel whose effects are known.

    Parameters
    ----------
    n_series, freq, start, periods, horizon, seed
        ``n_series`` products ``SKU0001..``, on ``periods`` dates from ``start`` at ``freq``
        (``"D"`` or ``"W-MON"``; weekly data starts on a Monday), plus ``horizon`` future
        periods of future-known covariates. ``seed`` seeds one numpy Generator.
    intermittent_share
        Share of slow movers (``demand_type == "intermittent"``: about 0.05-0.8 units per
        period, over-dispersed, many zeros); the rest are ``"smooth"``.
    launch_share
        Share of new launches: listed between 25% and 75% of the way through the panel; their
        rows start at their first sale (``static.launch_date``), and demand ramps up over ~4 weeks.
    stockout_rate
        About this share of panel periods are out of stock (runs of 1-7 days or 1-2 weeks):
        ``stockout == 1`` and ``y == 0`` although demand existed (kept in ``truth``).
    n_categories
        Number of categories used, from :data:`CATEGORIES` (1-8), assigned evenly.
    promo_rate, holiday_promo_prob
        About this share of periods are on promotion (runs of 3-10 days or 1-2 weeks, discount
        10-40% off the list price); in addition each series runs a 20-40% promotion on each
        Black Friday, 11.11 and 618 period with probability ``holiday_promo_prob``.
    price_change_rate
        Permanent list-price changes per product per year (each about +2% +- 8%).
    ad_elasticity, visits_exponent
        Exponents of ``ad_spend / ad_ref`` and ``visits / visits_ref`` in the demand.
    holiday_multipliers
        Overrides of :data:`DEFAULT_HOLIDAY_MULTIPLIERS` (for ``freq``), by event name.
    distribution
        ``"negbin"`` (gamma-Poisson, size 4-25 per day for smooth
        series, x7 for weekly data, 0.6-1.5 for intermittent series)
        or ``"poisson"``.

    Returns
    -------
    SyntheticData
        ``panel`` columns: ``unique_id, ds, y, list_price, price, promo, ad_spend,
        is_black_friday, is_singles_day, is_618, is_christmas_runup, is_christmas, visits,
        stockout``; ``static``: ``unique_id, category, demand_type, launch_date``; ``future``:
        ``unique_id, ds`` + the future-known columns. ``truth`` keys:

        - ``series``: one row per series (``unique_id, category, demand_type, is_new,
          listing_date, launch_date, base_level, trend_type, trend_slope, weekend_effect,
          yearly_sin1, yearly_cos1, yearly_sin2, yearly_cos2, price_elasticity, promo_uplift,
          ref_price, ad_ref, visits_ref, dispersion``);
        - ``price_elasticity``, ``promo_uplift``, ``base_level``, ``ref_price``: Series by
          ``unique_id``; ``category_price_elasticity``, ``category_promo_uplift``: the
          category means they were drawn around;
        - ``holiday_multipliers`` (event -> multiplier), ``holiday_columns`` (event -> column),
          ``ad_elasticity``, ``visits_exponent``, ``launch_ramp_days``;
        - ``weekly_profile``: multiplier per series (rows) and weekday (columns Mon..Sun);
        - ``expected``, ``demand``: arrays aligned with the panel rows; ``components``: frame
          aligned with the panel (``unique_id, ds``, the components, ``expected, demand``);
          ``future_components``: the same for the future rows (simulated outcome, no stock-outs);
        - ``params``: the arguments of the call.
    """
    mults = dict(DEFAULT_HOLIDAY_MULTIPLIERS.get(freq, {}))
    shares = {
        "intermittent_share": intermittent_share,
        "launch_share": launch_share,
        "stockout_rate": stockout_rate,
        "promo_rate": promo_rate,
        "holiday_promo_prob": holiday_promo_prob,
    }
    start_ts = _check_args(n_series, freq, start, periods, horizon, shares, n_categories, distribution)
    if holiday_multipliers:
        unknown = set(holiday_multipliers) - set(HOLIDAYS)
        if unknown:
            raise ConfigError(
                f"unknown event(s) {sorted(unknown)}; events are {list(HOLIDAYS)}",
                source=_SOURCE,
                key="holiday_multipliers",
            )
        bad = {k: v for k, v in holiday_multipliers.items()
               if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0)}
        if bad:
            raise ConfigError(f"multipliers must be > 0, got {bad}", source=_SOURCE, key="holiday_multipliers")
        mults.update({k: float(v) for k, v in holiday_multipliers.items()})
    if price_change_rate < 0:
        raise ConfigError("must be >= 0", source=_SOURCE, key="price_change_rate")

    params = dict(
        n_series=n_series, freq=freq, start=str(start_ts.date()), periods=periods, horizon=horizon,
        seed=seed, intermittent_share=intermittent_share, launch_share=launch_share,
        stockout_rate=stockout_rate, n_categories=n_categories, promo_rate=promo_rate,
        holiday_promo_prob=holiday_promo_prob, price_change_rate=price_change_rate,
        ad_elasticity=ad_elasticity, visits_exponent=visits_exponent,
        holiday_multipliers=dict(mults), distribution=distribution,
    )
    rng = np.random.default_rng(seed)
    n, P = int(n_series), int(periods)
    T = P + int(horizon)
    pdays = _FREQS[freq]
    dates = pd.date_range(start_ts, periods=T, freq=freq).as_unit("ns")
    tgrid = np.arange(T)

    # ---- static attributes -------------------------------------------------------------
    width = max(4, len(str(n)))
    ids = np.array([f"SKU{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    cat_names = list(CATEGORIES)[:n_categories]
    cat_idx = rng.permutation(np.arange(n) % n_categories)
    cat_tab = [CATEGORIES[c] for c in cat_names]
    cat_price = np.array([c[0] for c in cat_tab])[cat_idx]
    cat_elast = np.array([c[1] for c in cat_tab])
    cat_uplift = np.array([c[2] for c in cat_tab])
    cat_weekend = np.array([c[3] for c in cat_tab])[cat_idx]
    shape_tab = np.array([c[4] for c in cat_tab])  # (k, 4): amp1, peak1, amp2, peak2

    n_int = int(round(intermittent_share * n))
    intermittent = np.zeros(n, dtype=bool)
    intermittent[rng.permutation(n)[:n_int]] = True
    n_new = int(round(launch_share * n)) if P >= 4 else 0
    is_new = np.zeros(n, dtype=bool)
    is_new[rng.permutation(n)[:n_new]] = True
    lo = max(1, P // 4)
    hi = max(lo + 1, (3 * P) // 4)
    listing = np.where(is_new, rng.integers(lo, hi, size=n), 0)

    smooth_base = np.clip(np.exp(rng.normal(np.log(6.0), 0.9, size=n)), 2.0, 400.0) * pdays
    slow_base = np.clip(np.exp(rng.normal(np.log(0.3), 0.5, size=n)), 0.05, 0.8)
    base = np.where(intermittent, slow_base, smooth_base)
    # size of the gamma mixing: a week sums 7 days of independent day-level noise (size x 7);
    # slow movers stay lumpy (a buyer takes several units at once)
    dispersion = np.where(
        intermittent, rng.uniform(0.6, 1.5, size=n), rng.uniform(4.0, 25.0, size=n) * pdays
    )

    trend_log = rng.random(n) < 0.5
    trend_slope = rng.normal(0.05, 0.12, size=n)
    weekend = cat_weekend * rng.uniform(0.5, 1.5, size=n) if pdays == 1 else np.zeros(n)
    amp1, peak1, amp2, peak2 = shape_tab[cat_idx].T
    yearly_coef = np.column_stack(
        [
            amp1 * np.sin(2 * np.pi * peak1),
            amp1 * np.cos(2 * np.pi * peak1),
            amp2 * np.sin(4 * np.pi * peak2),
            amp2 * np.cos(4 * np.pi * peak2),
        ]
    ) + rng.normal(0.0, 0.03, size=(n, 4))
    elasticity = np.minimum(cat_elast[cat_idx] + rng.normal(0.0, 0.15, size=n), -0.3)
    uplift = cat_uplift[cat_idx] * np.exp(rng.normal(0.0, 0.08, size=n))
    ref_price = _round_price(cat_price * np.exp(rng.normal(0.0, 0.5, size=n)))
    ad_ref = np.maximum(np.round(0.08 * base * ref_price, 2), 1.0)
    visits_ref = 20.0 + 25.0 * base**0.9

    # ---- calendar components (T,) or (n, T) --------------------------------------------
    t_years = (dates - start_ts).days.to_numpy() / 365.25
    growth = np.where(trend_log[:, None], np.log1p(t_years)[None, :], t_years[None, :])
    trend = np.maximum(1.0 + trend_slope[:, None] * growth, 0.3)

    is_weekend = (dates.day_of_week >= 5).astype(float)
    weekday_shape = is_weekend - 2.0 / 7.0  # mean zero over a week (log scale)
    weekly = np.exp(weekend[:, None] * weekday_shape[None, :])
    weekly_profile = np.exp(weekend[:, None] * ((np.arange(7) >= 5) - 2.0 / 7.0)[None, :])

    mid = dates + pd.Timedelta(days=3 if pdays == 7 else 0)
    phase = 2 * np.pi * (mid.day_of_year.to_numpy() - 1) / 365.25
    fourier = np.stack([np.sin(phase), np.cos(phase), np.sin(2 * phase), np.cos(2 * phase)])
    yearly = np.exp(yearly_coef @ fourier)

    flags = _holiday_flags(dates, pdays)
    log_hol = sum(np.log(mults[e]) * flags[e].astype(float) for e in HOLIDAYS)
    holiday = np.broadcast_to(np.exp(log_hol), (n, T))

    # ---- price plan and promotions -----------------------------------------------------
    change = rng.random((n, T)) < price_change_rate * pdays / 365.25
    change[:, 0] = False
    step = np.where(change, rng.normal(0.02, 0.08, size=(n, T)), 0.0)
    list_price = _round_price(ref_price[:, None] * np.exp(np.cumsum(step, axis=1)))

    plo, phi_ = (3, 10) if pdays == 1 else (1, 2)
    promo_on, last = _episodes(rng, (n, T), promo_rate, plo, phi_)
    disc_draw = rng.choice(_DISCOUNTS, size=(n, T))
    discount = np.where(promo_on, np.take_along_axis(disc_draw, np.maximum(last, 0), axis=1), 0.0)
    event = (flags["black_friday"] | flags["singles_day"] | flags["618"]).astype(bool)
    hol_promo = event[None, :] & (rng.random((n, T)) < holiday_promo_prob) & ~promo_on
    discount = np.where(hol_promo, rng.choice(_HOLIDAY_DISCOUNTS, size=(n, T)), discount)
    promo = promo_on | hol_promo
    price = _round_price(list_price * (1.0 - discount))

    # ---- ad budget (planned flights) and site visits (exogenous traffic) ---------------
    alo, ahi = (5, 21) if pdays == 1 else (1, 3)
    flight_on, flast = _episodes(rng, (n, T), 0.15, alo, ahi)
    flight_mult = rng.uniform(1.5, 3.0, size=(n, T))
    flight = np.where(flight_on, np.take_along_axis(flight_mult, np.maximum(flast, 0), axis=1), 1.0)
    ad_spend = np.maximum(
        np.round(ad_ref[:, None] * flight * np.exp(rng.normal(0.0, 0.2, size=(n, T))), 2), 0.01
    )
    site = _ar1(rng, (T,), 0.7 if pdays == 1 else 0.5, 0.12)
    own = _ar1(rng, (n, T), 0.5, 0.10)
    visits = np.maximum(np.round(visits_ref[:, None] * np.exp(site[None, :] + own)), 1.0)

    # ---- expected demand, counts, stock-outs -------------------------------------------
    age_days = (tgrid[None, :] - listing[:, None]) * pdays
    ramp = np.where(
        is_new[:, None],
        np.where(age_days >= 0, 1.0 - 0.8 * np.exp(-np.maximum(age_days, 0) / _LAUNCH_RAMP_DAYS), 0.0),
        1.0,
    )
    comps = {
        "base": np.broadcast_to(base[:, None], (n, T)),
        "trend": trend,
        "weekly": weekly,
        "yearly": yearly,
        "holiday": holiday,
        "price_effect": (price / ref_price[:, None]) ** elasticity[:, None],
        "promo_effect": np.where(promo, uplift[:, None], 1.0),
        "ad_effect": (ad_spend / ad_ref[:, None]) ** ad_elasticity,
        "visits_effect": (visits / visits_ref[:, None]) ** visits_exponent,
        "launch_ramp": ramp,
    }
    expected = np.prod(np.stack([comps[c] for c in _COMPONENTS]), axis=0)
    if distribution == "negbin":
        lam = expected * rng.gamma(dispersion[:, None], 1.0 / dispersion[:, None], size=(n, T))
    else:
        lam = expected
    demand = rng.poisson(lam).astype(float)

    slo, shi = (1, 7) if pdays == 1 else (1, 2)
    stockout, _ = _episodes(rng, (n, T), stockout_rate, slo, shi)
    stockout &= tgrid[None, :] < P
    y = np.where(stockout, 0.0, demand)

    # new launches: rows from the first sale on or after listing (or listing if none sold)
    sold = (y > 0) & (tgrid[None, :] >= listing[:, None]) & (tgrid[None, :] < P)
    first = np.where(sold.any(axis=1), sold.argmax(axis=1), listing)
    first = np.where(is_new, first, 0)
    in_panel = (tgrid[None, :] >= first[:, None]) & (tgrid[None, :] < P)
    in_future = np.broadcast_to(tgrid[None, :] >= P, (n, T))

    # ---- frames ------------------------------------------------------------------------
    cols = {
        "list_price": list_price,
        "price": price,
        "promo": promo.astype(np.int8),
        "ad_spend": ad_spend,
        **{HOLIDAY_COLUMNS[e]: np.broadcast_to(flags[e], (n, T)) for e in HOLIDAYS},
        "visits": visits,
        "stockout": stockout.astype(np.int8),
    }
    id_grid = np.broadcast_to(ids[:, None], (n, T))
    t_idx = np.broadcast_to(tgrid[None, :], (n, T))
    ds_values = dates.values

    def _frame(mask, names, with_y):
        out = {
            "unique_id": pd.array(id_grid[mask], dtype="str"),
            "ds": ds_values[t_idx[mask]],
        }
        if with_y:
            out["y"] = y[mask]
        for name in names:
            out[name] = cols[name][mask]
        return pd.DataFrame(out)

    def _components(mask):
        out = {"unique_id": pd.array(id_grid[mask], dtype="str"), "ds": ds_values[t_idx[mask]]}
        for name in _COMPONENTS:
            out[name] = comps[name][mask]
        out["expected"] = expected[mask]
        out["demand"] = demand[mask]
        return pd.DataFrame(out)

    panel = _frame(in_panel, FUTURE_KNOWN + HISTORICAL_ONLY, True)
    panel = validate_panel(panel, source=f"synthetic(seed={seed})", freq=freq)
    future = _frame(in_future, FUTURE_KNOWN, False)
    components = _components(in_panel)
    future_components = _components(in_future)

    launch_date = pd.DatetimeIndex(ds_values[first])
    static = pd.DataFrame(
        {
            "unique_id": pd.array(ids, dtype="str"),
            "category": pd.array(np.array(cat_names, dtype=object)[cat_idx], dtype="str"),
            "demand_type": pd.array(np.where(intermittent, "intermittent", "smooth"), dtype="str"),
            "launch_date": launch_date,
        }
    )
    series = pd.DataFrame(
        {
            "unique_id": static["unique_id"],
            "category": static["category"],
            "demand_type": static["demand_type"],
            "is_new": is_new,
            "listing_date": pd.DatetimeIndex(ds_values[listing]),
            "launch_date": launch_date,
            "base_level": base,
            "trend_type": np.where(trend_log, "log", "linear"),
            "trend_slope": trend_slope,
            "weekend_effect": weekend,
            "yearly_sin1": yearly_coef[:, 0],
            "yearly_cos1": yearly_coef[:, 1],
            "yearly_sin2": yearly_coef[:, 2],
            "yearly_cos2": yearly_coef[:, 3],
            "price_elasticity": elasticity,
            "promo_uplift": uplift,
            "ref_price": ref_price,
            "ad_ref": ad_ref,
            "visits_ref": visits_ref,
            "dispersion": dispersion if distribution == "negbin" else np.full(n, np.inf),
        }
    )
    by_id = pd.Index(static["unique_id"], name="unique_id")
    truth: dict[str, Any] = {
        "series": series,
        "price_elasticity": pd.Series(elasticity, index=by_id, name="price_elasticity"),
        "promo_uplift": pd.Series(uplift, index=by_id, name="promo_uplift"),
        "base_level": pd.Series(base, index=by_id, name="base_level"),
        "ref_price": pd.Series(ref_price, index=by_id, name="ref_price"),
        "category_price_elasticity": dict(zip(cat_names, cat_elast.tolist())),
        "category_promo_uplift": dict(zip(cat_names, cat_uplift.tolist())),
        "holiday_multipliers": dict(mults),
        "holiday_columns": dict(HOLIDAY_COLUMNS),
        "ad_elasticity": float(ad_elasticity),
        "visits_exponent": float(visits_exponent),
        "launch_ramp_days": _LAUNCH_RAMP_DAYS,
        "weekly_profile": pd.DataFrame(
            weekly_profile, index=by_id, columns=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        ),
        "expected": components["expected"].to_numpy(),
        "demand": components["demand"].to_numpy(),
        "components": components,
        "future_components": future_components,
        "params": params,
    }
    roles = {
        "static": list(STATIC),
        "future_known": list(FUTURE_KNOWN),
        "historical_only": list(HISTORICAL_ONLY),
    }
    return SyntheticData(
        panel=panel, static=static, future=future, truth=truth, roles=roles, freq=freq, horizon=int(horizon)
    )
