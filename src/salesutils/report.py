"""The pages a manager opens first: a run's index.html and reports/index.html listing all runs.

Both are single self-contained HTML files: inline CSS, figures embedded as base64 PNG, no script
or font from the internet, so they open offline from a mail attachment or a file share. The
numbers come from the run's artifacts (headline.json written by notebook 05, run.json).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

__all__ = ["write_index", "write_runs_index"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2433;padding:0 1rem}h1{margin-bottom:.2rem}.sub{color:#5b6475;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1.5rem 0}.card{flex:1 1 200px;border:1px solid #d9dee8;
border-radius:8px;padding:.8rem 1rem;background:#f7f9fc}.card .k{font-size:.8rem;color:#5b6475;
text-transform:uppercase;letter-spacing:.04em}.card .v{font-size:1.6rem;font-weight:600;margin:.2rem 0}
.card .n{font-size:.85rem;color:#5b6475}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border-bottom:1px solid #e3e7ef;padding:.35rem .7rem;text-align:right}th{background:#f0f3f8}
td:first-child,th:first-child{text-align:left}tr.champ td{font-weight:600;background:#eef7ee}
img{max-width:100%;border:1px solid #e3e7ef;border-radius:6px}a{color:#1f5fbf}
.links li{margin:.3rem 0}ul.summary li{margin:.45rem 0;line-height:1.45}.muted{color:#5b6475;font-size:.85rem}
"""


def _fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _pct(v, spec: str = "+.1%") -> str:
    return "–" if v is None else format(float(v), spec)


def _when(stamp) -> str:
    """An ISO timestamp as a reader writes it: 2026-12-03 07:59 (UTC+00:00)."""
    text = str(stamp or "")
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]}" + (f" (UTC{text[19:]})" if len(text) > 19 else "")
    return text


def _img(path: Path) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(rows: list[dict], cols: list[str], highlight: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cls = ' class="champ"' if highlight and r.get(cols[0]) == highlight else ""
        cells = [f"{r[c]:.0%}" if c.startswith("coverage") and isinstance(r.get(c), float)
                 else _fmt(r.get(c)) for c in cols]
        body.append(f"<tr{cls}>" + "".join(f"<td>{v}</td>" for v in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_index(run_dir: Path, info: dict, notebooks: list[str]) -> Path:
    """Write ``run_dir/index.html`` from the run's headline.json and run.json information."""
    from .pipeline import TITLES

    art = run_dir / "artifacts"
    head = json.loads((art / "headline.json").read_text()) if (art / "headline.json").exists() else {}
    data = info.get("data") or {}
    title = head.get("title") or f"Sales forecast: {data.get('name', info['run'])}"
    cards = []
    if head:
        champ = head.get("champion")
        cards.append(("Champion model", champ, f"lowest backtest {head.get('rank_by', 'MASE').upper()}"))
        cards.append((f"Champion {head.get('rank_by', 'mase').upper()}",
                      _fmt(head.get("champion_score")), "scaled error, lower is better; 1 = naive in-sample"))
        if head.get("gain_vs_seasonal_naive") is not None:
            cards.append(("Gain over seasonal naive", f"{head['gain_vs_seasonal_naive']:+.1%}",
                          "reduction of the error"))
        if head.get("gain_vs_best_classical") is not None:
            cards.append(("Gain over best classical", f"{head['gain_vs_best_classical']:+.1%}",
                          f"error reduction vs {head.get('best_classical')}"))
        if head.get("p_value_vs_runner_up") is not None:
            cards.append(("Lead over runner-up",
                          "significant" if head.get("significant") else "not significant",
                          f"{head.get('gain_vs_runner_up', 0):+.1%} vs {head.get('runner_up')}, "
                          f"p = {head['p_value_vs_runner_up']:.3f} (bootstrap over series)"))
        if head.get("coverage_80") is not None:
            cards.append(("80% interval coverage", f"{head['coverage_80']:.0%}",
                          "share of backtest actuals inside the champion's 80% interval"))
        if head.get("forecast_total") is not None:
            cards.append((f"Demand next {head.get('horizon')} periods", _fmt(float(head["forecast_total"])),
                          f"{head.get('unit', 'units')}, all {data.get('series', '')} series, "
                          "champion forecast"))
        if head.get("inventory_saving") is not None:
            cards.append(("Inventory value of the forecast", f"{float(head['inventory_saving']):+,.0f}",
                          f"cost saved vs the seasonal naive in the backtest; fill rate "
                          f"{head.get('fill_rate', 0):.1%} vs {head.get('fill_rate_seasonal_naive', 0):.1%}"))
    card_html = "".join(f'<div class="card"><div class="k">{html.escape(k)}</div>'
                        f'<div class="v">{v if isinstance(v, str) else _fmt(v)}</div>'
                        f'<div class="n">{html.escape(n)}</div></div>' for k, v, n in cards)
    board = head.get("leaderboard") or []
    cols = [c for c in ["model", "mase", "rmsse", "mae", "rmse", "bias", "coverage_80"]
            if board and c in board[0]]
    links = "".join(
        f'<li><b>{html.escape(TITLES.get(nb, nb))}</b>: '
        f'<a href="{nb}.stakeholder.html">summary</a> · <a href="{nb}.html">full, with code</a> · '
        f'<a href="{nb}.ipynb">notebook</a></li>' for nb in notebooks)
    params = info.get("params", {})
    facts = [
        ("data", data.get("description", "")),
        ("series", data.get("series")), ("period", f"{data.get('start')} .. {data.get('end')}"),
        ("frequency", data.get("freq")), ("horizon", params.get("horizon")),
        ("backtest", f"{params.get('backtest', {}).get('n_windows')} cutoffs"),
        ("models", ", ".join(params.get("models", []))), ("seed", params.get("seed")),
        ("params file", info.get("params_file")), ("run time", f"{info.get('seconds_total')} s"),
        ("started", _when(info.get("started"))), ("git", info.get("git")),
    ]
    fact_rows = "".join(f"<tr><td>{html.escape(k)}</td><td style='text-align:left'>{_fmt(v)}</td></tr>"
                        for k, v in facts if v not in (None, ""))
    figures = "".join(_img(art / "figures" / f) for f in head.get("figures", []))
    if head.get("summary_lines"):
        summary_html = "<h2>Summary</h2><ul class=\"summary\">" + "".join(
            f"<li>{html.escape(line)}</li>" for line in head["summary_lines"]) + "</ul>"
    elif head.get("summary"):
        summary_html = f'<p>{html.escape(head["summary"])}</p>'
    else:
        summary_html = ""
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1><p class="sub">Run <b>{html.escape(info['run'])}</b> · finished {html.escape(_when(info.get('finished')))}</p>
<div class="cards">{card_html}</div>
{summary_html}
<h2>Backtest leaderboard</h2>
<p class="muted">Mean over series and {params.get('backtest', {}).get('n_windows')} rolling cutoffs; lower is better (bias: closer to 0).</p>
{_table(board, cols, head.get('champion')) if board else '<p>No leaderboard (results notebook not run).</p>'}
{'<h2>Forecasts</h2>' + figures if figures else ''}
<h2>Reports</h2><ul class="links">{links}</ul>
<p class="muted">Artifacts: <a href="artifacts/forecasts.parquet">forecasts.parquet</a> ·
<a href="artifacts/backtest.parquet">backtest.parquet</a> · <a href="artifacts/leaderboard.csv">leaderboard.csv</a> ·
<a href="run.json">run.json</a></p>
<h2>Data and parameters</h2><table>{fact_rows}</table>
</body></html>"""
    target = run_dir / "index.html"
    target.write_text(page, encoding="utf-8")
    return target


def write_runs_index(reports: Path) -> Path:
    """``reports/index.html``: every finished run, newest first, with its headline numbers."""
    rows = []
    for run_json in sorted(reports.glob("*/run.json")):
        info = json.loads(run_json.read_text())
        head_path = run_json.parent / "artifacts" / "headline.json"
        head = json.loads(head_path.read_text()) if head_path.exists() else {}
        rows.append((info.get("finished", ""), run_json.parent.name, info, head))
    rows.sort(reverse=True)
    body = "".join(
        f"<tr><td><a href=\"{html.escape(name)}/index.html\">{html.escape(name)}</a></td>"
        f"<td>{html.escape(_when(fin))}</td><td>{_fmt((info.get('data') or {}).get('name'))}</td>"
        f"<td>{_fmt(head.get('champion'))}</td><td>{_fmt(head.get('champion_score'))}</td>"
        f"<td>{_pct(head.get('gain_vs_seasonal_naive'))}</td>"
        f"<td>{_pct(head.get('coverage_80'), '.0%')}</td></tr>"
        for fin, name, info, head in rows)
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Forecast runs</title>
<style>{_CSS}</style></head><body><h1>Forecast runs</h1>
<table><thead><tr><th>run</th><th>finished</th><th>data</th><th>champion</th><th>score</th>
<th>gain vs seasonal naive</th><th>80% coverage</th></tr></thead><tbody>{body}</tbody></table></body></html>"""
    target = reports / "index.html"
    target.write_text(page, encoding="utf-8")
    return target
