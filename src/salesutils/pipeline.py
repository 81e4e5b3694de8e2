"""Run the numbered notebooks with papermill into a run folder, render HTML, write the index.

A run writes into ``reports/.tmp-<run>/`` and is moved to ``reports/<run>/`` only when every
notebook succeeded and every page rendered, so a failed run never replaces the last good report.
The failed attempt is kept under ``reports/.failed/<run>/`` (executed notebooks up to the failing
cell) and the error names the notebook and the cell.

Notebooks execute with the run folder as working directory and ``run_dir="."``, so no absolute
path of this machine ends up in a shared report.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .config import Params, project_root, resolve
from .errors import SalesUtilsError

__all__ = ["NOTEBOOKS", "RunFailed", "run", "render_html", "notebook_path"]

NOTEBOOKS = ["01-eda", "02-preprocessing", "03-baselines", "04-deep-models", "05-results"]

TITLES = {
    "01-eda": "Exploration",
    "02-preprocessing": "Preprocessing & features",
    "03-baselines": "Baselines: statistical and tree models",
    "04-deep-models": "Deep global models",
    "05-results": "Results",
}

PACKAGES = ["salesutils", "pandas", "numpy", "statsmodels", "tensorflow", "keras", "scikit-learn",
            "papermill", "nbconvert", "matplotlib", "seaborn", "pyarrow"]


class RunFailed(SalesUtilsError):
    """A notebook of the run raised: says which notebook, which cell and what error."""

    def __init__(self, notebook: str, cell: int | None, error: str, kept: Path | None):
        self.notebook, self.cell, self.error, self.kept = notebook, cell, error, kept
        where = f"notebook {notebook}" + (f", cell {cell}" if cell is not None else "")
        msg = f"run failed in {where}: {error}"
        if kept is not None:
            msg += f" (the executed notebooks are kept in {kept}; the last good report is untouched)"
        super().__init__(msg)


def notebook_path(name: str, root: Path | None = None) -> Path:
    return (root or project_root()) / "notebooks" / f"{name}.ipynb"


def _say(msg: str) -> None:
    print(msg, flush=True)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git_sha(root: Path) -> str | None:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) if sha else None
    except (OSError, subprocess.SubprocessError):
        return None


def _failed_cell(exc: Exception, executed: Path) -> int | None:
    """The number (1-based, as a reader counts cells) of the first cell that raised."""
    try:
        import nbformat

        nb = nbformat.read(executed, as_version=4)
        for i, cell in enumerate(nb.cells, 1):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return i
    except Exception:  # noqa: BLE001 - the error message still names the notebook
        pass
    return getattr(exc, "exec_count", None)


def _kernel_manager(log_path: Path):
    """A kernel manager whose kernel writes its process-level stderr (TensorFlow's C++ start-up
    messages, kernel warnings) to ``log_path`` instead of the terminal running the pipeline.
    Python-level output of the notebook is unaffected: it still lands in the notebook."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            log_path.parent.mkdir(parents=True, exist_ok=True)
            kw["stderr"] = open(log_path, "ab")  # noqa: SIM115 - owned by the kernel process
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggingKernelManager


def run(
    params_file: str | Path,
    overrides: list[str] | None = None,
    *,
    run_name: str | None = None,
    reports_dir: str | Path | None = None,
    notebooks: list[str] | None = None,
    progress: bool = True,
    resume: str | None = None,
) -> Path:
    """Execute the notebooks for ``params_file`` (+ ``key=value`` overrides); return the run folder."""
    import papermill as pm

    root = project_root()
    cfg = resolve(params_file, dotted=overrides)
    reports = Path(reports_dir) if reports_dir else root / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id = run_name or f"{cfg.run_name}-{stamp}"
    final = reports / run_id
    tmp = reports / f".tmp-{run_id}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "artifacts").mkdir(parents=True)
    os.environ["SALESUTILS_ROOT"] = str(root)  # the kernels find params/ and data from anywhere
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONHASHSEED", str(cfg.seed))
    parameters = cfg.to_dict() | {"run_dir": "."}
    names = notebooks or NOTEBOOKS
    timings: dict[str, float] = {}
    started = dt.datetime.now().astimezone()
    t_run = time.perf_counter()
    _say(f"run {run_id}: {len(names)} notebooks, params {cfg.params_file or '<defaults>'}"
         + (f" {' '.join(overrides)}" if overrides else ""))
    for i, name in enumerate(names, 1):
        src = notebook_path(name, root)
        out = tmp / f"{name}.ipynb"
        _say(f"[{i}/{len(names)}] {name} ({TITLES.get(name, name)}) ...")
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(src), str(out), parameters=parameters, cwd=str(tmp),
                                kernel_name="python3", progress_bar=progress, log_output=False,
                                report_mode=False,
                                extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                kernel_manager_class=_kernel_manager(tmp / "logs" / f"{name}.log"))
        except Exception as exc:  # noqa: BLE001 - reported with notebook and cell
            failed = reports / ".failed" / run_id
            if failed.exists():
                shutil.rmtree(failed)
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(tmp), str(failed))
            cell = _failed_cell(exc, failed / out.name) if (failed / out.name).exists() else None
            error = f"{getattr(exc, 'ename', type(exc).__name__)}: " \
                    f"{getattr(exc, 'evalue', str(exc))}".strip()
            raise RunFailed(name, cell, error.splitlines()[0][:500],
                            failed.relative_to(root) if failed.is_relative_to(root) else failed
                            ) from None
        timings[name] = round(time.perf_counter() - t0, 1)
        _say(f"[{i}/{len(names)}] {name} done in {timings[name]:.1f} s "
             f"(total {time.perf_counter() - t_run:.0f} s)")
    _say("rendering HTML ...")
    for name in names:
        render_html(tmp / f"{name}.ipynb", tmp / f"{name}.html", stakeholder=False)
        render_html(tmp / f"{name}.ipynb", tmp / f"{name}.stakeholder.html", stakeholder=True)
    info = {
        "run": run_id,
        "params_file": cfg.params_file,
        "overrides": overrides or [],
        "params": cfg.to_dict() | {"run_dir": None},
        "seed": cfg.seed,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "seconds_total": round(time.perf_counter() - t_run, 1),
        "seconds_per_notebook": timings,
        "versions": _versions(),
        "git": _git_sha(root),
        "platform": f"{platform.system()} {platform.machine()}",
    }
    dataset_json = tmp / "artifacts" / "dataset.json"
    if dataset_json.exists():
        ds = json.loads(dataset_json.read_text())
        info["data"] = ds.get("summary")
        info["data_checksums"] = ds.get("checksums")
    (tmp / "run.json").write_text(json.dumps(info, indent=2, default=str))
    from .report import write_index, write_runs_index

    write_index(tmp, info, names)
    _promote(tmp, final)
    write_runs_index(reports)
    _say(f"report: {final / 'index.html'}  ({info['seconds_total']:.0f} s)")
    return final


def _promote(tmp: Path, final: Path) -> None:
    """Move the finished run into place; a previous run of the same name is replaced only now."""
    if final.exists():
        old = final.with_name(f".old-{final.name}")
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old)
    else:
        tmp.rename(final)


def render_html(notebook: Path, target: Path, *, stakeholder: bool) -> Path:
    """Render an executed notebook to one self-contained HTML file.

    ``stakeholder=True`` hides all code, input prompts and stderr output (warnings, logs): what is
    left is the story, tables and figures. Scripts from the internet (require.js, MathJax) are
    stripped so the page opens offline, from a mail attachment or a file share.
    """
    import re

    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    if stakeholder:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.get("outputs", [])
                                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.get("outputs")]
    exporter = HTMLExporter(template_name="lab", embed_images=True,
                            exclude_input=stakeholder, exclude_input_prompt=stakeholder,
                            exclude_output_prompt=stakeholder)
    title = TITLES.get(notebook.stem, notebook.stem)
    nb.metadata["title"] = title + (" (summary)" if stakeholder else "")
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(r"<script[^>]+src=\"https?://[^\"]+\"[^>]*>\s*</script>", "", body)
    body = re.sub(r"<script[^>]*>\s*MathJax\.Hub\.Config.*?</script>", "", body, flags=re.S)
    target.write_text(body, encoding="utf-8")
    return target
