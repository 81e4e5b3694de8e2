"""Per-series statistical models (statsmodels): naive, seasonal naive, window average, ETS, theta.

Each model is a function of one series' history as a numpy array that returns the point forecast
and the interval bounds for ``h`` steps::

    f(y, h, level, season_length, **params) -> {"mean": arr, "lo-80": arr, "hi-80": arr, ...}

:class:`LocalModel` maps it over every series of a panel (in parallel with ``n_jobs``, or on a Dask
cluster with ``task.backend == "dask"``: :mod:`salesutils.compute`) and assembles
the long forecast frame. A series the model cannot handle (too short, constant, optimiser failure,
non-finite output, any exception) gets the forecast of a named simpler model (the class's
``fallback_alias``: ``"naive"``, or ``"seasonal_naive"``, which itself falls back to the naive
forecast when the series is shorter than one season), and the substitution is recorded in
``model.fallbacks`` with the series id, the reason and the model actually used.

Models with ``uses_future_covariates = True`` (ARIMA with exogenous regressors) also receive each
series' future-known covariates: ``X`` (n x k, aligned with ``y``) and ``X_future`` (h x k, read
from ``task.future``); see :meth:`LocalModel.fit` and :func:`prepare_exog` for the rules.

The other per-series models live next to this module: intermittent demand (Croston, SBA, TSB) in
``intermittent.py``, automatic ARIMA in ``arima.py``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import statsmodels.tools.sm_exceptions  # noqa: F401 - its global warning filters, set up front
from scipy.stats import norm

from .base import ForecastModel, ForecastTask, add_interval_quantiles, clip_non_negative, future_dates

__all__ = ["LocalModel", "Naive", "SeasonalNaive", "WindowAverage", "AutoETS", "Theta",
           "naive_forecast", "seasonal_naive_forecast", "window_average_forecast", "ets_forecast",
           "theta_forecast", "select_ets", "residual_intervals", "encode_covariates",
           "prepare_exog", "FALLBACKS", "ETS_CANDIDATES"]

Result = dict[str, np.ndarray]  # "mean" and "lo-80", "hi-80", ... for each level


class _Fallback(Exception):
    """Raised by a series function when the series is outside what the model can handle."""


def require_fittable(y: np.ndarray, min_points: int, model: str) -> np.ndarray:
    """``y`` as floats, or a fallback when it is too short for ``model`` or constant (an
    optimiser on a flat series fails or returns nonsense; the naive forecast is exact there)."""
    y = np.asarray(y, dtype=float)
    if len(y) < min_points:
        raise _Fallback(f"{len(y)} points, {model} needs at least {min_points}")
    if np.ptp(y) == 0:
        raise _Fallback("constant series")
    return y


def _normal_bounds(mean: np.ndarray, sd: np.ndarray, level: tuple[int, ...]) -> Result:
    out: Result = {"mean": mean}
    for lv in level:
        z = norm.ppf(0.5 + lv / 200.0)
        out[f"lo-{lv}"] = mean - z * sd
        out[f"hi-{lv}"] = mean + z * sd
    return out


_LIMITED = threading.local()


@contextlib.contextmanager
def _one_thread():
    """Limit BLAS to one thread while fitting: scipy's L-BFGS-B calls BLAS on tiny matrices, and
    a multi-threaded OpenBLAS on a busy 2-core machine made ETS fits 10x and SARIMAX fits up to
    100x slower (the thread hand-offs, not the arithmetic, dominated the profile).

    Nested uses are free: ``threadpool_limits`` scans the loaded libraries on every entry, which
    was 6% of a Theta fit on M5 when each series (and ETS's inner selection) limited again
    inside the chunk's limit."""
    if getattr(_LIMITED, "active", False):
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limit = contextlib.nullcontext()
    else:
        limit = threadpool_limits(limits=1, user_api="blas")
    with limit:
        _LIMITED.active = True
        try:
            yield
        finally:
            _LIMITED.active = False


def single_threaded(func: Callable) -> Callable:
    """Run ``func`` with BLAS limited to one thread (see :func:`_one_thread`): for the series
    functions that optimise with scipy, so that calling them directly is as fast as in a model."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _one_thread():
            return func(*args, **kwargs)

    return wrapper


def residual_intervals(mean: np.ndarray, resid: list[np.ndarray], level: tuple[int, ...],
                       min_count: int = 10) -> Result:
    """Empirical intervals from in-sample residuals (for models without a likelihood).

    ``resid[j]`` holds the residuals (actual - forecast) of the rule forecasting ``j + 1`` steps
    ahead in-sample; ``resid`` may hold only the one-step residuals. Step ``j`` uses the empirical
    quantiles of its own residuals when at least ``min_count`` of them exist, otherwise the
    quantiles of the one-step residuals widened by ``sqrt(j + 1)`` (a random-walk accumulation of
    errors). The bounds are ``mean + q((1 - level) / 2)`` and ``mean + q((1 + level) / 2)``, so a
    skewed error distribution (intermittent demand: mostly small negative errors, a few large
    positive ones) gives a skewed interval. This is the one place such intervals are made: the
    project's conformal intervals from backtest residuals can replace it.
    """
    h = len(mean)
    one = np.asarray(resid[0], dtype=float)
    one = one[np.isfinite(one)]
    if len(one) < 2:
        raise _Fallback(f"{len(one)} in-sample residuals, the intervals need at least 2")
    probs = [p for lv in level for p in (0.5 - lv / 200.0, 0.5 + lv / 200.0)]
    q_one = np.quantile(one, probs)
    table = np.empty((h, len(probs)))
    for j in range(h):
        own = np.asarray(resid[j], dtype=float) if j < len(resid) else np.empty(0)
        own = own[np.isfinite(own)]
        table[j] = np.quantile(own, probs) if len(own) >= min_count else q_one * np.sqrt(j + 1)
    out: Result = {"mean": np.asarray(mean, dtype=float)}
    for i, lv in enumerate(level):
        out[f"lo-{lv}"] = out["mean"] + table[:, 2 * i]
        out[f"hi-{lv}"] = out["mean"] + table[:, 2 * i + 1]
    return out


# --- baselines -------------------------------------------------------------------------------

def naive_forecast(y: np.ndarray, h: int, level: tuple[int, ...], **_) -> Result:
    """Last value carried forward; interval from the 1-step naive residuals, widening as sqrt(h)."""
    mean = np.full(h, y[-1], dtype=float)
    resid = np.diff(y)
    sd1 = np.sqrt(np.mean(resid**2)) if len(resid) else 0.0
    return _normal_bounds(mean, sd1 * np.sqrt(np.arange(1, h + 1)), level)


def seasonal_naive_forecast(y: np.ndarray, h: int, level: tuple[int, ...], season_length: int,
                            **_) -> Result:
    """Value of the same season one cycle ago; needs one full cycle plus one point."""
    m = season_length
    if len(y) <= m:
        raise _Fallback(f"{len(y)} points, seasonal naive needs more than {m}")
    steps = np.arange(h)
    mean = y[len(y) - m + steps % m].astype(float)
    resid = y[m:] - y[:-m]
    sd1 = np.sqrt(np.mean(resid**2))
    k = steps // m + 1  # completed cycles: the interval widens once per cycle
    return _normal_bounds(mean, sd1 * np.sqrt(k), level)


def window_average_forecast(y: np.ndarray, h: int, level: tuple[int, ...], season_length: int,
                            window: int | None = None, **_) -> Result:
    """Mean of the last ``window`` points, flat over the horizon.

    ``window`` defaults to one season. It is capped so that at least ``min(10, n // 2)`` points
    remain to measure the rule's errors in-sample (a 30-point weekly series with m=52 averages its
    last 20 points). The interval at step ``j`` comes from the residuals of the same rule applied
    at every in-sample origin and scored ``j`` steps ahead (:func:`residual_intervals`).
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 4:
        raise _Fallback(f"{n} points, window average needs at least 4")
    w = int(window or season_length)
    if w < 1:
        raise ValueError(f"window must be >= 1, got {w}")
    w = max(1, min(w, n - min(10, n // 2)))
    c = np.r_[0.0, np.cumsum(y)]
    means = (c[w:] - c[:-w]) / w  # means[i]: mean of y[i:i + w], the forecast from origin i + w
    resid = [y[w + j:] - means[: n - w - j] for j in range(min(h, n - w))]
    return residual_intervals(np.full(h, means[-1]), resid, level)


# --- ETS ---------------------------------------------------------------------------------------

#: every ETS form the search may consider: error, trend (N, A, Ad), season (N, A, M). Additive
#: errors with a multiplicative season are left out (numerically unstable, as in R's ``ets``).
ETS_CANDIDATES: tuple[str, ...] = ("ANN", "AAN", "AAdN", "ANA", "AAA", "AAdA",
                                   "MNN", "MAN", "MAdN", "MNA", "MAA", "MAdA", "MNM", "MAM", "MAdM")


def _parse_ets(code: str) -> tuple[str, str | None, bool, str | None]:
    code = code.strip()
    error, rest = code[0], code[1:]
    damped = rest[1:2] == "d"
    trend, season = rest[0], rest[-1]
    if error not in "AM" or trend not in "NA" or season not in "NAM" or len(rest) != 2 + damped:
        raise ValueError(f"not an ETS form: {code!r} (use e.g. 'ANN', 'AAdA', 'MNM')")
    names = {"A": "add", "M": "mul", "N": None}
    return names[error], names[trend], damped, names[season]


def _ets_aicc(llf: float, n: int, k: int) -> float:
    return -2 * llf + 2 * k + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else np.inf)


@single_threaded
def select_ets(y: np.ndarray, season_length: int, max_season: int = 24, damped: bool = True,
               candidates: tuple[str, ...] | list[str] | None = None, refine: bool = False,
               maxiter: int = 200) -> tuple[str, object]:
    """The ETS form with the lowest AICc for ``y`` and its fitted statsmodels results.

    ``candidates`` (default :data:`ETS_CANDIDATES`) lists the forms, e.g. ``("ANN", "AAdN")``.
    Forms that cannot be fitted or cannot win are skipped before any fitting:

    - multiplicative errors or season unless the series is strictly positive;
    - a season unless ``1 < m <= max_season`` and two full cycles (plus 2 points) of history:
      weekly data with m=52 is fitted without a seasonal component, as in R's ``forecast::ets``;
    - a trend on fewer than 10 points; damped trends when ``damped=False``;
    - forms with too many parameters for the data (``n <= k + 4``: AICc undefined or unstable).

    Speed (profiled with cProfile): the likelihood is cheap; the cost is the optimiser's numerical
    gradient over every parameter, initial states included (``m + 5`` of them for a seasonal
    damped form). The search therefore fits every form with heuristic initial states (Hyndman &
    Athanasopoulos 2.6: only the 1-4 smoothing parameters are optimised; the results object,
    whose covariance costs a Hessian, is built for the winner only) and scores it by AICc
    *counting the initial states as parameters* (as if estimated, so that a seasonal form pays
    for its season). ``refine=True`` refits the winner with estimated initial states, started
    from the search's smoothing parameters (about 3x the time on a 700-point daily series, no
    better on backtests of the synthetic panel). Series shorter than the heuristic needs are fitted
    with estimated states. BLAS threads, which made scipy's L-BFGS-B up to 10x slower on a busy
    machine, are limited to one by :class:`LocalModel`.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = require_fittable(y, 6, "ETS")
    n = len(y)
    m = season_length
    positive = bool(y.min() > 0)
    can_season = 1 < m <= max_season and n >= 2 * m + 2
    forms = []
    for code in dict.fromkeys(candidates or ETS_CANDIDATES):
        error, trend, damp, season = _parse_ets(code)
        k = (1 + (trend is not None) + (season is not None) + damp  # smoothing parameters
             + 1 + (trend is not None) + (m - 1 if season else 0)  # initial states
             + 1)  # the error variance
        if ((error == "mul" or season == "mul") and not positive) or (season and not can_season) \
                or (trend and n < 10) or (damp and not damped) or n <= k + 4:
            continue
        forms.append((code, dict(error=error, trend=trend, damped_trend=damp, seasonal=season,
                                 seasonal_periods=m if season else None), k))
    if not forms:
        raise _Fallback(f"no ETS form fits {n} points (m={m})")

    endog = pd.Series(y)  # statsmodels 0.15: get_prediction needs a pandas endog
    best = None
    for code, spec, k in forms:
        try:
            model = ETSModel(endog, initialization_method="heuristic", **spec)
        except ValueError:  # too short for the heuristic: estimate the states (cheap on few points)
            model = ETSModel(endog, initialization_method="estimated", **spec)
        try:
            params = model.fit(disp=False, maxiter=maxiter, return_params=True)
            llf = model.loglike(params)
        except Exception:  # noqa: BLE001 - a failed candidate is just not chosen
            continue
        aicc = _ets_aicc(llf, n, k)
        if np.isfinite(aicc) and (best is None or aicc < best[0]):
            best = (aicc, code, spec, model, params, llf)
    if best is None:
        raise _Fallback("no ETS candidate converged")
    _, code, spec, model, params, llf = best
    if refine and model.initialization_method == "heuristic":
        est = ETSModel(endog, initialization_method="estimated", **spec)
        start = np.asarray(est.start_params, dtype=float)
        start[: len(params)] = params  # smoothing parameters from the search, states heuristic
        try:
            refined = est.fit(start_params=start, disp=False, maxiter=maxiter)
            if np.isfinite(refined.llf) and refined.llf >= llf:
                return code, refined
        except Exception:  # noqa: BLE001 - keep the heuristic-state fit
            pass
    return code, model.smooth(params)


@single_threaded
def ets_forecast(y: np.ndarray, h: int, level: tuple[int, ...], season_length: int,
                 max_season: int = 24, damped: bool = True,
                 candidates: tuple[str, ...] | list[str] | None = None, refine: bool = False,
                 maxiter: int = 200, seed: int = 0, simulate_repetitions: int = 500, **_) -> Result:
    """Exponential smoothing (statsmodels ``ETSModel``), the form chosen by AICc.

    Additive or multiplicative errors, no/additive/additive damped trend, no/additive/
    multiplicative season; the search and its parameters are those of :func:`select_ets`.
    Intervals are the chosen model's prediction intervals: analytic where statsmodels has them
    (additive errors, additive components), else simulated from ``simulate_repetitions`` sample
    paths seeded by ``seed`` (reproducible, serial or parallel).
    """
    _, res = select_ets(y, season_length, max_season=max_season, damped=damped,
                        candidates=candidates, refine=refine, maxiter=maxiter)
    n = len(y)
    pred = res.get_prediction(start=n, end=n + h - 1, simulate_repetitions=simulate_repetitions,
                              rng=np.random.default_rng(seed))
    out: Result = {"mean": np.asarray(pred.predicted_mean, dtype=float)}
    for lv in level:
        frame = pred.summary_frame(alpha=1 - lv / 100.0)
        out[f"lo-{lv}"] = frame["pi_lower"].to_numpy(dtype=float)
        out[f"hi-{lv}"] = frame["pi_upper"].to_numpy(dtype=float)
    if not all(np.isfinite(v).all() for v in out.values()):
        raise _Fallback("ETS forecast is not finite")
    return out


# --- theta -------------------------------------------------------------------------------------

@single_threaded
def theta_forecast(y: np.ndarray, h: int, level: tuple[int, ...], season_length: int,
                   theta: float = 2.0, method: str = "auto", use_mle: bool = False,
                   **_) -> Result:
    """The theta method (statsmodels ``ThetaModel``): SES plus half the linear trend (theta=2).

    The series is deseasonalised (classical decomposition, multiplicative for a positive series
    whose seasonal factors are positive, else additive) when ``season_length > 1``, there are two
    full cycles of history and the ACF test at lag m rejects "no seasonality" at 10%. Intervals
    are the model's: those of the equivalent ARIMA(0,1,1) with drift, normal errors.
    """
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = require_fittable(y, 5, "theta")
    n = len(y)
    m = season_length
    seasonal = m > 1 and n >= 2 * m
    model = ThetaModel(pd.Series(y), period=m if seasonal else 1, deseasonalize=seasonal,
                       method=method)
    res = model.fit(use_mle=use_mle)
    out: Result = {"mean": np.asarray(res.forecast(h, theta=theta), dtype=float)}
    for lv in level:
        pi = res.prediction_intervals(h, theta=theta, alpha=1 - lv / 100.0)
        out[f"lo-{lv}"] = pi["lower"].to_numpy(dtype=float)
        out[f"hi-{lv}"] = pi["upper"].to_numpy(dtype=float)
    return out


# --- future-known covariates -------------------------------------------------------------------

def encode_covariates(frame: pd.DataFrame, columns: list[str], spec: list | None = None,
                      max_levels: int = 20) -> tuple[np.ndarray, list[str], list]:
    """Future-known covariates as a float matrix: numeric kept, categorical one-hot encoded.

    Numeric and boolean columns are kept as floats. Categorical ones (strings, categories, or a
    mix such as a holiday code ``0``/``"a"``/``"b"``, compared as strings) become one 0/1 column per
    level except the most frequent one (the baseline, e.g. "no holiday"), at most ``max_levels``;
    rarer levels, and levels not seen when the spec was made, read as the baseline. Missing values
    stay missing (NaN in every dummy). Date columns are skipped. The first call (``spec=None``)
    learns the spec from ``frame``; pass it back to encode the horizon the same way.
    Returns (matrix, column names, spec).
    """
    if spec is None:
        spec = []
        for col in columns:
            s = frame[col]
            if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s)
                                                 and not isinstance(s.dtype, pd.CategoricalDtype)):
                spec.append((col, "num", None))
            elif pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
                continue
            else:
                counts = s.dropna().astype(str).value_counts()
                spec.append((col, "cat", [str(v) for v in counts.index[1: max_levels + 1]]))
    blocks, names = [], []
    for col, kind, levels in spec:
        s = frame[col]
        if kind == "num":
            blocks.append(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)[:, None])
            names.append(col)
        elif levels:
            codes = s.astype(str).to_numpy()
            dummies = (codes[:, None] == np.asarray(levels)[None, :]).astype(float)
            dummies[s.isna().to_numpy()] = np.nan
            blocks.append(dummies)
            names += [f"{col}={lv}" for lv in levels]
    matrix = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    return matrix, names, spec


def prepare_exog(X: np.ndarray, X_future: np.ndarray
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One series' covariates made usable by a regression: the rules :class:`LocalModel` applies.

    Missing values are filled forward in time through the history and on into the horizon (a
    price plan holds until it changes), then backward for leading gaps. Then columns are dropped
    for this series when they are all missing, constant over the history (no effect can be
    estimated: a product never on promotion) or a linear combination of the intercept and the
    columns kept before them (two flags that always coincide). Returns (None, None) when no
    column is left: the model then runs without covariates.
    """
    n = len(X)
    Z = pd.DataFrame(np.vstack([X, X_future])).ffill().bfill().to_numpy(dtype=float)
    hist = Z[:n]
    keep: list[int] = []
    basis = np.ones((n, 1))
    for j in range(Z.shape[1]):
        col = hist[:, j]
        if not np.isfinite(Z[:, j]).all() or np.ptp(col) == 0:
            continue
        trial = np.column_stack([basis, col])
        if np.linalg.matrix_rank(trial) < trial.shape[1]:
            continue
        basis = trial
        keep.append(j)
    if not keep:
        return None, None
    return Z[:n, keep], Z[n:, keep]


# --- mapping a series function over a panel ----------------------------------------------------

#: the simpler models a local model may fall back to (alias -> series function)
FALLBACKS: dict[str, Callable] = {"naive": naive_forecast,
                                  "seasonal_naive": seasonal_naive_forecast}


def _checked(res: Result, h: int, level: tuple[int, ...]) -> Result:
    """The result with exactly the expected keys, finite, length h; the interval always contains
    the point forecast (a simulated interval can miss a skewed mean by a hair)."""
    keys = ["mean"] + [f"{side}-{lv}" for lv in level for side in ("lo", "hi")]
    missing = [k for k in keys if k not in res]
    if missing:
        raise ValueError(f"forecast lacks {missing}")
    out = {k: np.asarray(res[k], dtype=float).reshape(-1) for k in keys}
    if any(len(v) != h for v in out.values()):
        raise ValueError(f"forecast has {len(out['mean'])} steps, expected {h}")
    if not all(np.isfinite(v).all() for v in out.values()):
        raise _Fallback("forecast is not finite")
    for lv in level:
        out[f"lo-{lv}"] = np.minimum(out[f"lo-{lv}"], out["mean"])
        out[f"hi-{lv}"] = np.maximum(out[f"hi-{lv}"], out["mean"])
    return out


def _run_chunk(func: Callable, fallback: str, chunk: list[tuple[str, np.ndarray, dict]],
               kwargs: dict) -> list[tuple[str, Result, str | None, str | None]]:
    """(uid, result, reason, used) for each series: reason and used are None where ``func``
    worked, else why it did not and the alias of the model that stood in."""
    h, level = kwargs["h"], tuple(kwargs["level"])
    chain = [fallback] + (["naive"] if fallback != "naive" else [])
    out = []
    with _one_thread(), warnings.catch_warnings():
        for uid, y, extra in chunk:
            # again for every series: a library imported lazily by the first one may add its own
            # "always" filters in front of ours (statsmodels does; its own are imported above)
            warnings.simplefilter("ignore")
            try:
                if "X" in extra:
                    extra = dict(extra)
                    extra["X"], extra["X_future"] = prepare_exog(extra["X"], extra["X_future"])
                    if extra["X"] is None:
                        extra = {}
                out.append((uid, _checked(func(y, **kwargs, **extra), h, level), None, None))
                continue
            except Exception as exc:  # noqa: BLE001 - recorded as a fallback with its reason
                reason = str(exc) if isinstance(exc, _Fallback) else f"{type(exc).__name__}: {exc}"
            for alias in chain:
                try:
                    res = _checked(FALLBACKS[alias](y, **kwargs), h, level)
                    break
                except Exception as exc:  # noqa: BLE001 - the next, simpler one
                    reason += f"; {alias}: {exc}"
            else:  # not even the naive forecast (a missing last value): naive on what is known
                alias, known = "naive", y[np.isfinite(y)]
                res = _checked(naive_forecast(known if len(known) else np.zeros(1), **kwargs),
                               h, level)
            out.append((uid, res, reason, alias))
    return out


def _run_shared_chunk(shared: tuple[Callable, str, dict], chunk: list) -> list:
    """:func:`_run_chunk` with (func, fallback, kwargs) scattered once to the Dask workers."""
    func, fallback, kwargs = shared
    return _run_chunk(func, fallback, chunk, kwargs)


class LocalModel(ForecastModel):
    """A model fitted separately on each series, by a function ``f(y, h, level, ...) -> Result``.

    ``max_history`` (a param of every local model) keeps only the last N points of each series:
    long daily histories cost fitting time and rarely help a short-horizon forecast.
    ``fallback`` (default: the class's ``fallback_alias``) names the simpler model used for the
    series the model cannot handle, ``"naive"`` or ``"seasonal_naive"``.

    A class with ``uses_future_covariates = True`` gets covariates: :meth:`fit` keeps, per series,
    the future-known columns (``task.roles["future_known"]``, encoded by
    :func:`encode_covariates`: numeric kept, categorical one-hot) aligned with ``y``, and
    :meth:`predict` reads their values for the h forecast dates from ``task.future`` (``unique_id,
    ds, <columns>``; the backtest fills it for each cutoff). The function then gets ``X`` (n x k)
    and ``X_future`` (h x k), cleaned per series by :func:`prepare_exog` (missing values filled
    forward then backward, constant or redundant columns dropped); horizon dates missing from
    ``task.future`` count as missing values, and a covariate absent from ``task.future`` is left
    out. A series without any row in ``task.future``, or no ``task.future`` at all, or no usable
    column, is fitted without covariates: that is not a fallback and is not recorded.
    """

    family = "stats"
    func: Callable = staticmethod(naive_forecast)
    fallback_alias = "naive"
    uses_future_covariates = False

    def __init__(self, max_history: int | None = None, fallback: str | None = None, **params):
        super().__init__(**params)
        self.max_history = max_history
        if fallback is not None:
            if fallback not in FALLBACKS:
                raise ValueError(f"unknown fallback {fallback!r}; one of {sorted(FALLBACKS)}")
            self.fallback_alias = fallback
        self._exog: dict[str, np.ndarray] = {}
        self._cov_spec: list | None = None
        self._cov_columns: list[str] = []

    def fit(self, train: pd.DataFrame, task: ForecastTask) -> "LocalModel":
        ordered = train.sort_values(["unique_id", "ds"], kind="stable")
        uids, starts = np.unique(ordered["unique_id"].to_numpy(dtype=str), return_index=True)
        ends = np.r_[starts[1:], len(ordered)]
        y = ordered["y"].to_numpy(dtype=float)
        ds = ordered["ds"].to_numpy()
        cut = self.max_history
        first = [max(a, b - cut) if cut else a for a, b in zip(starts, ends)]
        self._series = [(str(u), y[a:b], ds[b - 1]) for u, a, b in zip(uids, first, ends)]
        self._exog, self._cov_spec, self._cov_columns = {}, None, []
        if self.uses_future_covariates:
            cols = [c for c in task.roles.get("future_known", []) if c in ordered.columns]
            if cols:
                X, _, spec = encode_covariates(ordered, cols)
                if X.shape[1]:
                    self._cov_spec, self._cov_columns = spec, cols
                    self._exog = {str(u): X[a:b] for u, a, b in zip(uids, first, ends)}
        return self

    def _future_exog(self, task: ForecastTask, dates: list[pd.DatetimeIndex]) -> list[dict]:
        """Per series: {"X": history, "X_future": horizon} or {} (no covariates for it)."""
        extras: list[dict] = [{} for _ in self._series]
        future = task.future
        if not self._exog or future is None or len(future) == 0:
            return extras
        # a covariate the horizon does not give is unknown ahead: left out for every series
        spec = [entry for entry in self._cov_spec if entry[0] in future.columns]
        if not spec:
            return extras
        keep = np.concatenate([np.full(1 if kind == "num" else len(levels), col in future.columns)
                               for col, kind, levels in self._cov_spec])
        fut = future.sort_values(["unique_id", "ds"], kind="stable")
        Xf, _, _ = encode_covariates(fut, [entry[0] for entry in spec], spec=spec)
        fuids, fstarts = np.unique(fut["unique_id"].to_numpy(dtype=str), return_index=True)
        fends = np.r_[fstarts[1:], len(fut)]
        where = {u: (a, b) for u, a, b in zip(fuids, fstarts, fends)}
        fds = pd.DatetimeIndex(fut["ds"])
        for i, ((uid, _, _), horizon) in enumerate(zip(self._series, dates)):
            if uid not in where or uid not in self._exog:
                continue
            a, b = where[uid]
            pos = fds[a:b].get_indexer(horizon)
            if (pos < 0).all():
                continue
            rows = np.full((len(horizon), Xf.shape[1]), np.nan)
            rows[pos >= 0] = Xf[a:b][pos[pos >= 0]]
            extras[i] = {"X": self._exog[uid][:, keep], "X_future": rows}
        return extras

    def predict(self, task: ForecastTask) -> pd.DataFrame:
        kwargs = {"h": task.h, "level": tuple(task.level), "season_length": task.season_length,
                  "seed": task.seed, **self.params}
        horizon_dates: dict = {}  # most panels end on one date: compute its future grid once
        dates = []
        for _, _, last in self._series:
            if last not in horizon_dates:
                horizon_dates[last] = future_dates(pd.Timestamp(last), task.h, task.freq)
            dates.append(horizon_dates[last])
        extras = (self._future_exog(task, dates) if self.uses_future_covariates
                  else [{} for _ in self._series])
        items = [(uid, y, extra) for (uid, y, _), extra in zip(self._series, extras)]
        results = self._map(items, kwargs, task.n_jobs, task.backend)
        self.fallbacks = [{"unique_id": uid, "model": self.alias, "used": used, "reason": why}
                          for uid, _, why, used in results if why]
        fc = pd.DataFrame({
            "unique_id": np.repeat([uid for uid, _, _, _ in results], task.h),
            "ds": np.concatenate([d.to_numpy() for d in dates]),
            self.alias: np.concatenate([res["mean"] for _, res, _, _ in results]),
        })
        for key in results[0][1]:
            if key != "mean":
                fc[f"{self.alias}-{key}"] = np.concatenate([res[key] for _, res, _, _ in results])
        return clip_non_negative(add_interval_quantiles(fc, self.alias), self.alias)

    def _map(self, items, kwargs, n_jobs, backend="processes"):
        """``_run_chunk`` over all series: here, in ``n_jobs`` processes, or on the Dask cluster
        (``backend="dask"``, the client of :func:`salesutils.compute.get_client`), in 4 chunks
        of series per worker; the results in the order of ``items`` whatever the backend."""
        if (backend != "dask" and n_jobs == 1) or len(items) < 20:
            return _run_chunk(self.func, self.fallback_alias, items, kwargs)
        if backend == "dask":
            from ..compute import current_client

            client = current_client()
            n_workers = max(1, sum(client.nthreads().values()))
        else:
            n_workers = n_jobs if n_jobs > 0 else max(1, os.cpu_count() or 1)
        n_chunks = min(len(items), n_workers * 4)
        chunks = [items[i::n_chunks] for i in range(n_chunks)]
        if backend == "dask":
            # the function, fallback and kwargs travel once per worker, the series once each
            [shared] = client.scatter([(self.func, self.fallback_alias, kwargs)], broadcast=True)
            parts = client.gather(client.map(_run_shared_chunk, [shared] * n_chunks, chunks,
                                             pure=False))
        else:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=n_workers)(
                delayed(_run_chunk)(self.func, self.fallback_alias, c, kwargs) for c in chunks)
        merged = {row[0]: row for part in parts for row in part}
        return [merged[uid] for uid, _, _ in items]


class Naive(LocalModel):
    alias = "naive"
    func = staticmethod(naive_forecast)


class SeasonalNaive(LocalModel):
    alias = "seasonal_naive"
    func = staticmethod(seasonal_naive_forecast)


class WindowAverage(LocalModel):
    """Mean of the last ``window`` points (default one season); params: ``window``."""

    alias = "window_average"
    func = staticmethod(window_average_forecast)
    fallback_alias = "seasonal_naive"


class AutoETS(LocalModel):
    """ETS with the form chosen by AICc; params: ``candidates``, ``max_season``, ``damped``,
    ``refine``, ``maxiter``, ``simulate_repetitions`` (see :func:`ets_forecast`)."""

    alias = "ets"
    func = staticmethod(ets_forecast)
    fallback_alias = "seasonal_naive"


class Theta(LocalModel):
    """The theta method; params: ``theta``, ``method``, ``use_mle`` (see :func:`theta_forecast`)."""

    alias = "theta"
    func = staticmethod(theta_forecast)
    fallback_alias = "seasonal_naive"
