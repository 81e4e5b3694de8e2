"""A data source given as a folder of Kaggle files: find each file by its name, read its dates.

Kaggle data sets come as a folder of fixed names (``train.csv``, ``calendar.csv``, ...), often
recompressed (``.csv.gz``) or converted (``.parquet``) by whoever copied them: the loaders ask for
a name and take whichever of those forms is there, and an error names the folder and the forms
looked for. Dates are parsed once per distinct value: a daily file repeats each date for every
series, and parsing a million date strings one by one takes seconds where a thousand take none.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..validation import coerce_datetime

__all__ = ["EXTENSIONS", "require_folder", "find_file", "parse_dates"]

#: The forms of one file, in the order of preference (parquet: typed and fastest to read).
EXTENSIONS = (".parquet", ".csv.gz", ".csv")


def require_folder(folder: str | Path) -> Path:
    """The folder as a path; an error naming it when it is not there."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("data folder not found (data.folder)", source=str(folder))
    return folder


def find_file(folder: Path, stem: str, *, what: str, required: bool = True) -> Path | None:
    """``folder/stem`` in the first of :data:`EXTENSIONS` that exists; ``None`` for an optional
    file that is missing, an error naming the folder and ``what`` the file holds otherwise."""
    for ext in EXTENSIONS:
        path = folder / f"{stem}{ext}"
        if path.is_file():
            return path
    if not required:
        return None
    forms = ", ".join(f"{stem}{ext}" for ext in EXTENSIONS)
    raise DataError(f"missing file: none of {forms} ({what})", source=str(folder))


def parse_dates(values: pd.Series, *, source: str, column: str) -> pd.Series:
    """``values`` as naive ``datetime64[ns]``, parsed per distinct value with the checks of
    :func:`salesutils.validation.coerce_datetime` (numbers, text that is no date, mixed zones)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return coerce_datetime(values.to_frame(column), column, source=source)[column]
    cat = pd.Categorical(values)
    if (cat.codes < 0).any():
        raise DataError(f"{int((cat.codes < 0).sum())} missing date(s)", source=source,
                        column=column)
    uniq = coerce_datetime(pd.DataFrame({column: cat.categories}), column, source=source)[column]
    return pd.Series(uniq.to_numpy()[cat.codes], index=values.index, name=values.name)
