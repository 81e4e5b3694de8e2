"""What changed between two runs: data, parameters, champion, metrics per model, versions, time.

``python -m salesutils compare RUN_A RUN_B`` answers the weekly scheduled run's question "what
changed since last week?" in plain text (a terminal or a cron mail); :func:`compare_runs` returns
the same differences as a dict for tests and notebooks. A run is a folder written by
:func:`salesutils.pipeline.run` (``run.json``, ``artifacts/leaderboard.csv``,
``artifacts/headline.json``), named by its path, its name under ``reports/`` or a unique prefix of
that name. Every delta is B - A.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import SalesUtilsError

__all__ = ["RunFolderError", "resolve_run", "compare_runs", "format_comparison"]

#: The leaderboard columns compared per model (``coverage_<level>`` for every level present).
METRICS = ("mase", "rmsse", "coverage_*", "bias")
#: The headline numbers compared for the champion.
HEADLINE = ("champion_score", "gain_vs_seasonal_naive", "coverage_80", "forecast_total")
#: The data summary fields compared (checksums separately).
DATA_FIELDS = ("name", "freq", "series", "start", "end")
#: Parameters that are never a difference (where the run was written).
IGNORED_PARAMS = ("run_dir",)


class RunFolderError(SalesUtilsError):
    """A run folder is missing, ambiguous or has no readable ``run.json``; names the path."""


# --------------------------------------------------------------------------- helpers: loading

def _runs_in(reports: Path) -> list[Path]:
    """The finished run folders under ``reports`` (with a run.json; no .tmp-/.failed/.old-)."""
    if not reports.is_dir():
        return []
    return sorted(p for p in reports.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "run.json").is_file())


def _finished(run: Path) -> str:
    try:
        return str(json.loads((run / "run.json").read_text()).get("finished") or "")
    except (OSError, ValueError):
        return ""


def _newest(reports: Path, prefix: str, back: int) -> Path:
    """``latest`` (back=0) or ``previous`` (back=1) finished run whose name starts with
    ``prefix``, by the finish time in run.json: what a weekly job compares."""
    runs = sorted((p for p in _runs_in(reports) if p.name.startswith(prefix)),
                  key=lambda p: (_finished(p), p.name), reverse=True)
    if len(runs) <= back:
        what = f"runs named {prefix}*" if prefix else "runs"
        raise RunFolderError(f"{reports}: {len(runs)} finished {what}, so there is no "
                             f"{'previous' if back else 'latest'} one")
    return runs[back]


def _listing(paths: Sequence[Path], limit: int = 8) -> str:
    names = [p.name for p in paths]
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _reports_dir(reports_dir: str | Path | None) -> Path:
    if reports_dir is not None:
        return Path(reports_dir)
    from .config import project_root

    return project_root() / "reports"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot be read ({exc.strerror})") from None


def _number(text: str) -> float | int | None:
    """A CSV cell as a number; empty or NaN cells as None."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() \
        else value


def _leaderboard(run_dir: Path, headline: Mapping) -> list[dict]:
    """Rows of ``artifacts/leaderboard.csv`` (or of headline.json's copy), best model first."""
    path = run_dir / "artifacts" / "leaderboard.csv"
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as fh:
            return [{k: (v if k == "model" else _number(v)) for k, v in row.items()}
                    for row in csv.DictReader(fh)]
    rows = headline.get("leaderboard") or []
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in rows]


def _load(ref: str | Path, reports_dir: str | Path | None) -> dict:
    run_dir = resolve_run(ref, reports_dir)
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise RunFolderError(f"{info_path}: missing (not a finished run folder)")
    info = _read_json(info_path)
    if not isinstance(info, dict):
        raise RunFolderError(f"{info_path}: not a run description (expected a JSON object)")
    head_path = run_dir / "artifacts" / "headline.json"
    head = _read_json(head_path) if head_path.is_file() else {}
    return {"path": run_dir, "info": info, "headline": head if isinstance(head, dict) else {},
            "leaderboard": _leaderboard(run_dir, head if isinstance(head, dict) else {})}


# --------------------------------------------------------------------------- helpers: diffing

def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"backtest.n_windows": 3, ...}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def _delta(a: Any, b: Any) -> float | None:
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    return b - a if ok else None


def _pair(a: Any, b: Any, numeric: bool = False) -> dict:
    out = {"a": a, "b": b}
    if numeric:
        out["delta"] = _delta(a, b)
    return out


def _dict_diff(a: Mapping, b: Mapping) -> dict:
    """``changed`` {key: {a, b}}, ``added`` {key: b} (only in B), ``removed`` {key: a} (in A)."""
    return {"changed": {k: _pair(a[k], b[k]) for k in a if k in b and not _same(a[k], b[k])},
            "added": {k: b[k] for k in b if k not in a},
            "removed": {k: a[k] for k in a if k not in b}}


def _metric_columns(boards: Sequence[list[dict]], metrics: Sequence[str]) -> list[str]:
    present = {c for board in boards for row in board for c in row}
    cols: list[str] = []
    for m in metrics:
        if m.endswith("*"):
            cols += sorted(c for c in present if c.startswith(m[:-1]) and not c.endswith("_sd"))
        elif m in present:
            cols.append(m)
    return list(dict.fromkeys(cols))


def _data(ra: dict, rb: dict) -> dict:
    da, db = ra["info"].get("data") or {}, rb["info"].get("data") or {}
    ca, cb = ra["info"].get("data_checksums"), rb["info"].get("data_checksums")
    fields = [f for f in DATA_FIELDS if f in da or f in db]
    out = {"a": {f: da.get(f) for f in fields}, "b": {f: db.get(f) for f in fields},
           "changed": {f: _pair(da.get(f), db.get(f)) for f in fields
                       if not _same(da.get(f), db.get(f))}}
    if ca is None or cb is None:
        out["checksums"] = "not recorded"
        out["checksums_changed"] = {}
    else:
        files = _dict_diff(ca, cb)
        out["checksums"] = "equal" if not any(files.values()) else "changed"
        out["checksums_changed"] = {**files["changed"],
                                    **{k: _pair(None, v) for k, v in files["added"].items()},
                                    **{k: _pair(v, None) for k, v in files["removed"].items()}}
    out["has_changes"] = bool(out["changed"]) or out["checksums"] == "changed"
    return out


def _params(ra: dict, rb: dict) -> dict:
    pa = {k: v for k, v in _flatten(ra["info"].get("params") or {}).items()
          if k not in IGNORED_PARAMS}
    pb = {k: v for k, v in _flatten(rb["info"].get("params") or {}).items()
          if k not in IGNORED_PARAMS}
    out = _dict_diff(pa, pb)
    out["has_changes"] = any(out.values())
    return out


def _champion(ra: dict, rb: dict) -> dict:
    ha, hb = ra["headline"], rb["headline"]
    numbers = {k: _pair(ha.get(k), hb.get(k), numeric=True) for k in HEADLINE
               if k in ha or k in hb}
    out = {"a": ha.get("champion"), "b": hb.get("champion"),
           "rank_by": hb.get("rank_by") or ha.get("rank_by") or "mase", "numbers": numbers}
    out["has_changes"] = out["a"] != out["b"] or any(
        not _same(v["a"], v["b"]) for v in numbers.values())
    return out


def _metrics(ra: dict, rb: dict, metrics: Sequence[str]) -> dict:
    ba, bb = ra["leaderboard"], rb["leaderboard"]
    cols = _metric_columns([ba, bb], metrics)
    by_a = {r["model"]: r for r in ba}
    by_b = {r["model"]: r for r in bb}
    order = [m for m in by_b] + [m for m in by_a if m not in by_b]
    models, changed = {}, []
    for m in order:
        row_a, row_b = by_a.get(m, {}), by_b.get(m, {})
        models[m] = {c: _pair(row_a.get(c), row_b.get(c), numeric=True) for c in cols}
        if m in by_a and m in by_b and any(not _same(v["a"], v["b"]) for v in models[m].values()):
            changed.append(m)
    only_a = [m for m in by_a if m not in by_b]
    only_b = [m for m in by_b if m not in by_a]
    return {"columns": cols, "models": models, "changed": changed, "only_a": only_a,
            "only_b": only_b, "has_changes": bool(changed or only_a or only_b)}


def _versions(ra: dict, rb: dict) -> dict:
    va = dict(ra["info"].get("versions") or {})
    vb = dict(rb["info"].get("versions") or {})
    for v, info in ((va, ra["info"]), (vb, rb["info"])):
        if info.get("platform"):
            v["platform"] = info["platform"]
    out = _dict_diff(va, vb)
    ga, gb = ra["info"].get("git"), rb["info"].get("git")
    out["git"] = _pair(ga, gb) if ga != gb else None
    out["has_changes"] = bool(out["changed"] or out["added"] or out["removed"] or out["git"])
    return out


def _time(ra: dict, rb: dict) -> dict:
    ia, ib = ra["info"], rb["info"]
    na, nb = ia.get("seconds_per_notebook") or {}, ib.get("seconds_per_notebook") or {}
    names = list(dict.fromkeys([*na, *nb]))
    return {"seconds_total": _pair(ia.get("seconds_total"), ib.get("seconds_total"), numeric=True),
            "per_notebook": {n: _pair(na.get(n), nb.get(n), numeric=True) for n in names}}


def _run(r: dict) -> dict:
    info = r["info"]
    return {"run": info.get("run") or r["path"].name, "path": str(r["path"]),
            "params_file": info.get("params_file"), "overrides": info.get("overrides") or [],
            "started": info.get("started"), "finished": info.get("finished")}


# --------------------------------------------------------------------------- public

def resolve_run(ref: str | Path, reports_dir: str | Path | None = None) -> Path:
    """The run folder ``ref`` names: an existing folder path, a run name under ``reports_dir``
    (default ``<project>/reports``), or a prefix of exactly one finished run's name there (or, for
    a path such as ``reports/default-20260105``, in its parent folder); ``latest`` and
    ``previous`` name the newest and second newest finished run (``latest:default`` among the
    runs whose name starts with ``default``), so a weekly job can run
    ``compare previous:default latest:default``.

    Raises :class:`RunFolderError` naming the path, with the candidates when the prefix matches
    several runs or none.
    """
    path = Path(ref)
    if path.is_dir():
        return path
    which, _, prefix = str(ref).partition(":")
    if which in ("latest", "previous"):
        return _newest(_reports_dir(reports_dir), prefix, 0 if which == "latest" else 1)
    if path.is_absolute() or len(path.parts) > 1:  # a path: its last part may be a prefix
        reports, name = path.parent, path.name
    else:
        reports, name = _reports_dir(reports_dir), str(ref)
        if (reports / name).is_dir():
            return reports / name
    runs = _runs_in(reports)
    matches = [p for p in runs if p.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunFolderError(f"{reports / name}*: prefix matches {len(matches)} runs: "
                             f"{_listing(matches)}; give more of the name")
    known = f"runs there: {_listing(runs)}" if runs else "no finished runs there"
    raise RunFolderError(f"{reports / name}: no such run folder ({known})")


def compare_runs(a: str | Path, b: str | Path, *, reports_dir: str | Path | None = None,
                 metrics: Sequence[str] = METRICS) -> dict:
    """The differences of run ``b`` from run ``a`` (each a folder, run name or unique prefix).

    Keys: ``a``/``b`` (run name, path, params file, overrides, times), ``changes`` (the sections
    that differ, in order: data, params, champion, metrics, versions), then one dict per section:

    - ``data``: summary fields of each run, ``changed`` {field: {a, b}}, ``checksums``
      ('equal', 'changed' or 'not recorded') and ``checksums_changed`` {file: {a, b}};
    - ``params``: dotted keys (``model_params.mlp.epochs``) ``changed`` {key: {a, b}},
      ``added`` {key: value in B}, ``removed`` {key: value in A}; ``run_dir`` is ignored;
    - ``champion``: model ``a``/``b``, ``rank_by``, ``numbers`` {headline number: {a, b, delta}};
    - ``metrics``: ``columns``, ``models`` {model: {metric: {a, b, delta}}} (B's ranking, then the
      models only in A), ``changed`` (models in both whose numbers differ), ``only_a``, ``only_b``;
    - ``versions``: packages, python and platform ``changed``/``added``/``removed``, ``git``
      ({a, b} or None when equal);
    - ``time``: ``seconds_total`` as {a, b, delta} and ``per_notebook``.

    Each section has ``has_changes``; every ``delta`` is B - A (None when either is missing). Run
    time is reported, never counted as a change.
    """
    ra, rb = _load(a, reports_dir), _load(b, reports_dir)
    diff = {"a": _run(ra), "b": _run(rb), "data": _data(ra, rb), "params": _params(ra, rb),
            "champion": _champion(ra, rb), "metrics": _metrics(ra, rb, metrics),
            "versions": _versions(ra, rb), "time": _time(ra, rb)}
    diff["changes"] = [s for s in ("data", "params", "champion", "metrics", "versions")
                       if diff[s]["has_changes"]]
    return diff


# --------------------------------------------------------------------------- text

def _show(v: Any) -> str:
    """A parameter or fact as written in a params file."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=str)
    return str(v)


def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def _signed(d: float | None, digits: int = 3) -> str:
    if d is None:
        return ""
    if d == 0:
        return "0"
    if abs(d) >= 1000:
        return f"{d:+,.0f}"
    if abs(d) < 0.5 * 10 ** -digits:
        return f"{d:+.1e}"
    return f"{d:+.{digits}f}"


def _arrow(a: Any, b: Any) -> str:
    return f"{_show(a)} -> {_show(b)}"


def _list_change(a: list, b: list) -> str:
    """Long lists (the models) as what was added and removed."""
    if len(_arrow(a, b)) <= 70:
        return _arrow(a, b)
    plus = [x for x in b if x not in a]
    minus = [x for x in a if x not in b]
    parts = [f"+{_show(x)}" for x in plus] + [f"-{_show(x)}" for x in minus]
    return " ".join(parts) if parts else "same items, new order"


def _lines_table(rows: list[list[str]], indent: str = "  ", numbers: bool = True) -> list[str]:
    """Aligned columns: the first left-aligned, the others right-aligned when ``numbers``."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) if numbers else c.ljust(w)
                                           for c, w in zip(r[1:], widths[1:])]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _summary(diff: dict) -> str:
    if not diff["changes"]:
        return "No changes in data, parameters, results or versions."
    parts = []
    d = diff["data"]
    if d["has_changes"]:
        what = list(d["changed"]) + (["checksums"] if d["checksums"] == "changed" else [])
        parts.append(f"data ({', '.join(what)})")
    p = diff["params"]
    if p["has_changes"]:
        parts.append(f"parameters ({sum(len(p[k]) for k in ('changed', 'added', 'removed'))})")
    c = diff["champion"]
    if c["has_changes"]:
        parts.append(f"champion ({_show(c['a'])} -> {_show(c['b'])})" if c["a"] != c["b"]
                     else "champion numbers")
    m = diff["metrics"]
    if m["has_changes"]:
        n = len(m["changed"]) + len(m["only_a"]) + len(m["only_b"])
        parts.append(f"metrics ({n} model{'s' if n != 1 else ''})")
    if diff["versions"]["has_changes"]:
        parts.append("versions")
    return "Changed: " + ", ".join(parts)


def format_comparison(diff: dict) -> str:
    """The text of ``python -m salesutils compare``: one section per question, B against A."""
    a, b = diff["a"], diff["b"]
    lines = ["Run comparison (delta = B - A)"]
    for tag, r in (("A", a), ("B", b)):
        how = " ".join([_show(r["params_file"]), *(f"-p {o}" for o in r["overrides"])])
        lines.append(f"  {tag}: {r['run']}  finished {_show(r['finished'])}  params {how}")
    lines += [_summary(diff), ""]

    d = diff["data"]
    lines.append("Data" + ("" if d["has_changes"] else ": unchanged"))
    facts = []
    for label, fields in (("name", ["name"]), ("freq", ["freq"]), ("series", ["series"]),
                          ("period", ["start", "end"])):
        if not any(f in d["a"] for f in fields):
            continue
        va = " .. ".join(_show(d["a"].get(f)) for f in fields)
        vb = " .. ".join(_show(d["b"].get(f)) for f in fields)
        facts.append([label, va if va == vb else f"{va} -> {vb}"])
    cks = d["checksums"]
    if cks == "changed":
        cks += ": " + ", ".join(d["checksums_changed"])
    facts.append(["checksums", cks])
    lines += _lines_table(facts, numbers=False)
    lines.append("")

    p = diff["params"]
    lines.append("Parameters" + ("" if p["has_changes"] else ": unchanged"))
    rows = []
    for k, v in p["changed"].items():
        both_lists = isinstance(v["a"], list) and isinstance(v["b"], list)
        rows.append([k, _list_change(v["a"], v["b"]) if both_lists else _arrow(v["a"], v["b"])])
    rows += [[k, f"added: {_show(v)}"] for k, v in p["added"].items()]
    rows += [[k, f"removed (was {_show(v)})"] for k, v in p["removed"].items()]
    if rows:
        lines += _lines_table(rows, numbers=False)
    lines.append("")

    c = diff["champion"]
    head = f"Champion ({c['rank_by']})"
    if c["a"] == c["b"]:
        lines.append(f"{head}: {_show(c['a'])} in both runs")
    else:
        lines.append(f"{head}: {_show(c['a'])} -> {_show(c['b'])}")
    if c["numbers"]:
        rows = [["", "A", "B", "delta"]]
        rows += [[k, _num(v["a"]), _num(v["b"]), _signed(v["delta"])]
                 for k, v in c["numbers"].items()]
        lines += _lines_table(rows)
    lines.append("")

    m = diff["metrics"]
    if not m["models"]:
        lines.append("Metrics: no leaderboard in either run")
    else:
        cols = m["columns"]
        targets = [f"{c} nearer {int(c.split('_')[1]) / 100:.2f}" for c in cols
                   if c.startswith("coverage_") and c.split("_")[1].isdigit()]
        targets += ["bias nearer 0"] if "bias" in cols else []
        lines.append("Metrics per model" + ("" if m["has_changes"] else ": unchanged")
                     + " (backtest means; lower is better" + "".join(f", {t}" for t in targets)
                     + ")")
        sub = ["model"] + [x for _ in cols for x in ("A", "B", "delta")] + [""]
        rows = [sub]
        for model, vals in m["models"].items():
            note = ("only in A" if model in m["only_a"] else "only in B" if model in m["only_b"]
                    else "changed" if model in m["changed"] else "")
            cells = [model]
            for col in cols:
                v = vals[col]
                cells += [_num(v["a"]), _num(v["b"]), _signed(v["delta"])]
            rows.append(cells + [note])
        body = _lines_table(rows)
        # the metric names above their three columns
        widths = [max(len(r[i]) for r in rows) for i in range(len(sub))]
        top = "  " + " " * widths[0]
        for j, col in enumerate(cols):
            span = sum(widths[1 + 3 * j:4 + 3 * j]) + 4
            top += "  " + col.center(span)
        lines += [top.rstrip(), *body]
    lines.append("")

    v = diff["versions"]
    lines.append("Versions" + ("" if v["has_changes"] else ": unchanged"))
    rows = [[k, _arrow(x["a"], x["b"])] for k, x in v["changed"].items()]
    rows += [[k, f"added: {_show(x)}"] for k, x in v["added"].items()]
    rows += [[k, f"removed (was {_show(x)})"] for k, x in v["removed"].items()]
    if v["git"]:
        rows.append(["git", _arrow(v["git"]["a"], v["git"]["b"])])
    if rows:
        lines += _lines_table(rows, numbers=False)
    lines.append("")

    t = diff["time"]
    total = t["seconds_total"]

    def secs(x):
        return "-" if x is None else f"{x:,.1f} s"

    lines.append(f"Run time: {secs(total['a'])} -> {secs(total['b'])}"
                 + (f" ({_signed(total['delta'], 1)} s)" if total["delta"] is not None else ""))
    if t["per_notebook"]:
        rows = [[n, secs(x["a"]), secs(x["b"]),
                 "" if x["delta"] is None else f"{_signed(x['delta'], 1)} s"]
                for n, x in t["per_notebook"].items()]
        lines += _lines_table(rows)
    return "\n".join(lines).rstrip() + "\n"
