"""Days to periods, labelled by their first day as everywhere in the project (``ds`` of a week is
its first day, of a month the 1st), for the loaders that aggregate daily data themselves.

Only the frequencies whose periods are whole days are supported: ``D``, ``W-xxx`` (weeks that
start on that weekday; Walmart's weeks are ``W-SAT``) and ``MS``. An end-anchored alias (``ME``)
would label a period by its last day, one period off the other loaders' labels: it is refused
rather than guessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["SUPPORTED", "period_start", "period_days", "check_freq"]

SUPPORTED = "D, W-MON .. W-SUN (weeks starting that day) or MS"


def check_freq(freq: str, *, source: str) -> pd.DateOffset:
    """The offset of ``freq`` when it is one of :data:`SUPPORTED`; an error naming it otherwise."""
    try:
        off = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        off = None
    ok = off is not None and off.n == 1 and (
        isinstance(off, pd.offsets.Day)
        or (isinstance(off, pd.offsets.Week) and off.weekday is not None)
        or isinstance(off, pd.offsets.MonthBegin))
    if not ok:
        raise DataError(f"frequency {freq!r} is not supported here ({SUPPORTED})", source=source,
                        column="data.freq")
    return off


def period_start(dates: pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The first day of each date's period: the day itself (D), the last day on or before it
    with the week's weekday (W-xxx), the 1st of its month (MS)."""
    dates = pd.DatetimeIndex(dates).normalize()
    off = check_freq(freq, source="<freq>")
    if isinstance(off, pd.offsets.Day):
        return dates
    if isinstance(off, pd.offsets.Week):
        return dates - pd.to_timedelta((dates.day_of_week - off.weekday) % 7, unit="D")
    return dates.to_period("M").to_timestamp().as_unit(dates.unit)


def period_days(starts: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """The number of days in each period that starts on ``starts``."""
    starts = pd.DatetimeIndex(starts)
    off = check_freq(freq, source="<freq>")
    if isinstance(off, pd.offsets.Day):
        return np.ones(len(starts), dtype=np.int64)
    if isinstance(off, pd.offsets.Week):
        return np.full(len(starts), 7, dtype=np.int64)
    return np.asarray(starts.days_in_month, dtype=np.int64)
