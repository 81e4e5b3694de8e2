"""Run the numbered notebooks with papermill into a run folder, render HTML, write the index.

A run writes into ``reports/.tmp-<run>/`` and is moved to ``reports/<run>/`` only when every
notebook succeeded and every page rendered, so a failed run never replaces the last good report.
The failed attempt is kept under ``reports/.failed/<run>/`` (executed notebooks up to the failing
cell) and the error names the notebook and the cell. A killed run (Ctrl-C, SIGTERM, a lost
machine) leaves ``reports/.tmp-<run>/``. Either can be continued with ``resume``
(``--resume [RUN]``): with the same parameters (the run saves them as ``params.json`` when it
starts), notebooks whose executed copy is complete are kept and the run goes on from the first
incomplete one.

Notebooks execute with the run folder as working directory and ``run_dir="."``, so no absolute
path of this machine ends up in a shared report.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

from .config import Params, project_root, resolve
from .errors import SalesUtilsError

__all__ = ["NOTEBOOKS", "RunFailed", "RunInterrupted", "ResumeRefused", "run", "render_html",
           "notebook_path", "notebook_complete"]

NOTEBOOKS = ["01-eda", "02-preprocessing", "03-baselines", "04-deep-models", "05-results"]

TITLES = {
    "01-eda": "Exploration",
    "02-preprocessing": "Preprocessing & features",
    "03-baselines": "Baselines: statistical and tree models",
    "04-deep-models": "Deep global models",
    "05-results": "Results",
}

PACKAGES = ["salesutils", "pandas", "numpy", "scipy", "statsmodels", "tensorflow", "keras",
            "scikit-learn", "lightgbm", "joblib", "papermill", "nbconvert", "matplotlib", "seaborn",
            "pyarrow"]


STATE = "params.json"  # in the temporary folder: what --resume checks and continues
LOCK = ".running"  # in the temporary folder while a process works on it: its pid


class RunFailed(SalesUtilsError):
    """A notebook of the run raised: says which notebook, which cell and what error."""

    def __init__(self, notebook: str, cell: int | None, error: str, kept: Path | None,
                 run: str | None = None):
        self.notebook, self.cell, self.error, self.kept = notebook, cell, error, kept
        where = f"notebook {notebook}" + (f", cell {cell}" if cell is not None else "")
        msg = f"run failed in {where}: {error}"
        if kept is not None:
            msg += f" (the executed notebooks are kept in {kept}; the last good report is untouched"
            msg += f"; fix the cause and continue with --resume {run})" if run else ")"
        super().__init__(msg)


class RunInterrupted(SalesUtilsError):
    """The run was stopped (Ctrl-C, SIGTERM): its folder stays for ``--resume``."""

    def __init__(self, notebook: str | None, kept: Path, run: str, why: str = "interrupted"):
        self.notebook, self.kept, self.run = notebook, kept, run
        where = f" in notebook {notebook}" if notebook else ""
        super().__init__(f"run {why}{where}: the executed notebooks stay in {kept}; continue "
                         f"with --resume {run}")


class ResumeRefused(SalesUtilsError):
    """``--resume`` found nothing to continue, or a run with other parameters."""


def notebook_path(name: str, root: Path | None = None, folder: Path | None = None) -> Path:
    return (Path(folder) if folder else (root or project_root()) / "notebooks") / f"{name}.ipynb"


def notebook_complete(path: Path) -> bool:
    """An executed notebook that ran to its end: every code cell executed, no error output."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - missing, truncated or unreadable: not complete
        return False
    if (nb.metadata.get("papermill") or {}).get("exception"):
        return False
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue  # empty cells are never executed
        status = (cell.get("metadata", {}).get("papermill") or {}).get("status", "completed")
        if not cell.get("execution_count") or status != "completed":
            return False
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return False
    return True


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
    """The number (1-based, as a reader counts the cells of the notebook in notebooks/) of the
    first cell that raised: the cells papermill adds (injected parameters, error banners) do not
    count."""
    added = {"injected-parameters", "papermill-error-cell-tag"}
    try:
        import nbformat

        nb = nbformat.read(executed, as_version=4)
        cells = [c for c in nb.cells if not added & set(c.get("metadata", {}).get("tags", []))]
        for i, cell in enumerate(cells, 1):
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


def _private_paths(root: Path, run_dir: Path) -> list[tuple[str, str]]:
    """(path, stand-in) pairs, longest path first: what a shared report must not show."""
    pairs = [(run_dir, "."), (Path(sys.prefix), "<python>"), (Path(sys.base_prefix), "<python>"),
             (root, "<project>"), (Path.home(), "~")]
    out: dict[str, str] = {}
    for path, label in pairs:
        for variant in (str(path), str(path.resolve())):
            if len(variant) > 1:
                out.setdefault(variant.rstrip("/"), label)
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


def _scrub(text: str, private: list[tuple[str, str]]) -> str:
    for path, label in private:
        text = text.replace(path, label)
    return text


def _make_shareable(notebook: Path, source: str, private: list[tuple[str, str]]) -> None:
    """Take this machine's paths out of an executed notebook (papermill's input and output paths,
    the kernel's working directory, the environment, home) in code, outputs and tracebacks, so
    that the notebook and its HTML can be shared."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    meta = nb.metadata.get("papermill")
    if meta is not None:
        meta["input_path"], meta["output_path"] = source, notebook.name
        meta["environment_variables"] = {}
    for cell in nb.cells:
        cell.source = _scrub(cell.source, private)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _scrub(out["text"], private)
            if "evalue" in out:
                out["evalue"] = _scrub(out["evalue"], private)
                out["traceback"] = [_scrub(t, private) for t in out.get("traceback", [])]
            for kind, value in out.get("data", {}).items():
                if kind.startswith("text/") and isinstance(value, str):
                    out["data"][kind] = _scrub(value, private)
    nbformat.write(nb, notebook)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_pid(folder: Path) -> int | None:
    """The pid of a live process working on ``folder`` (its lock file), else None."""
    try:
        pid = int((folder / LOCK).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid != os.getpid() and _alive(pid) else None


def _shown(path: Path, root: Path) -> Path:
    """A folder as messages show it: relative to the project root when inside it."""
    return path.relative_to(root) if path.is_relative_to(root) else path


def _read_state(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None


def _write_state(folder: Path, state: dict) -> None:
    tmp = folder / f".{STATE}.part"
    tmp.write_text(json.dumps(state, indent=2, default=str))
    tmp.replace(folder / STATE)


def _differences(old: object, new: object, key: str = "") -> list[str]:
    """``key: old -> new`` for every leaf that differs between two nested dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in list(old) + [k for k in new if k not in old]:
            out += _differences(old.get(k), new.get(k), f"{key}.{k}" if key else str(k))
        return out
    return [] if old == new else [f"{key}: {old!r} -> {new!r}"]


def _find_kept(reports: Path, resume: str | bool, run_name: str, root: Path) -> Path:
    """The folder of the failed or killed run to continue: by name, or the latest of run_name."""
    failed = reports / ".failed"
    if isinstance(resume, str):
        found = [p for p in (failed / resume, reports / f".tmp-{resume}") if p.is_dir()]
        if not found:
            raise ResumeRefused(f"no failed or killed run {resume!r} to resume in "
                                f"{_shown(reports, root)} (looked for .failed/{resume} and "
                                f".tmp-{resume})")
    else:
        kept = [p for p in (*failed.glob("*"), *reports.glob(".tmp-*")) if p.is_dir()]
        found = [p for p in kept if ((_read_state(p) or {}).get("params") or {}).get("run_name")
                 == run_name and _running_pid(p) is None]
        if not found:
            raise ResumeRefused(f"no failed or killed run of run_name {run_name!r} to resume in "
                                f"{_shown(reports, root)}")
    folder = max(found, key=lambda p: (p / STATE).stat().st_mtime if (p / STATE).exists()
                 else p.stat().st_mtime)
    pid = _running_pid(folder)
    if pid:
        raise ResumeRefused(f"run {folder.name.removeprefix('.tmp-')!r} is still running "
                            f"(process {pid}); stop it first or let it finish")
    return folder


class _Stop(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that clean-up code runs."""


class _SigtermGuard:
    """Turns SIGTERM into :class:`_Stop` (main thread only). ``arm()`` again after each notebook:
    nbclient handles SIGTERM itself while a notebook runs (it shuts the kernel down) and resets
    the handler to the default when it is done."""

    def __init__(self):
        self.active = threading.current_thread() is threading.main_thread()
        self.previous = signal.getsignal(signal.SIGTERM) if self.active else None

    @staticmethod
    def _raise(signum, frame):
        raise _Stop("SIGTERM")

    def arm(self) -> None:
        if self.active:
            signal.signal(signal.SIGTERM, self._raise)

    def restore(self) -> None:
        if self.active:
            signal.signal(signal.SIGTERM, self.previous)


def _interrupted(exc: BaseException) -> str | None:
    """'interrupted' or 'killed' when a notebook stopped because the run was stopped."""
    if isinstance(exc, _Stop):
        return "killed (SIGTERM)"
    if isinstance(exc, KeyboardInterrupt) or getattr(exc, "ename", None) == "KeyboardInterrupt":
        return "interrupted"
    if type(exc).__name__ == "DeadKernelError" or "Kernel died" in str(exc):
        return "stopped (the kernel died)"  # nbclient shuts the kernel down on SIGINT/SIGTERM
    return None


def run(
    params_file: str | Path,
    overrides: list[str] | None = None,
    *,
    run_name: str | None = None,
    reports_dir: str | Path | None = None,
    notebooks: list[str] | None = None,
    progress: bool = True,
    resume: str | bool | None = None,
    notebook_dir: str | Path | None = None,
) -> Path:
    """Execute the notebooks for ``params_file`` (+ ``key=value`` overrides); return the run folder.

    ``resume``: continue a failed or killed run (a name under ``reports/.failed/`` or
    ``reports/.tmp-<name>``, or True for the latest of this ``run_name``) if its parameters are
    the same: complete notebooks are kept, the rest run. ``notebook_dir``: where the notebooks
    are (default ``notebooks/`` of the project).
    """
    root = project_root()
    cfg = resolve(params_file, dotted=overrides)
    reports = Path(reports_dir) if reports_dir else root / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    params = cfg.to_dict() | {"run_dir": None}
    resumed_from = None
    if resume:
        kept = _find_kept(reports, resume if isinstance(resume, str) else (run_name or True),
                          cfg.run_name, root)
        state = _read_state(kept)
        if state is None:
            raise ResumeRefused(f"cannot resume {_shown(kept, root)}: it has no {STATE} (a run "
                                "started before --resume existed); start a new run")
        diff = _differences(state.get("params"), params)
        if diff:
            raise ResumeRefused(f"cannot resume run {state['run']!r}: the parameters differ from "
                                f"the ones it started with: {'; '.join(diff)}; use the same "
                                "params file and -p overrides, or start a new run")
        run_id, names = state["run"], notebooks or state["notebooks"]
        tmp = reports / f".tmp-{run_id}"
        if kept != tmp:
            if tmp.exists():  # an older attempt of the same name, not running: superseded
                shutil.rmtree(tmp)
            kept.rename(tmp)
        first = next((i for i, n in enumerate(names) if not notebook_complete(tmp / f"{n}.ipynb")),
                     len(names))
        resumed_from = {"folder": str(_shown(kept, reports)), "kept": names[:first],
                        "rerun": names[first:]}
        timings = {n: t for n, t in state.get("seconds_per_notebook", {}).items()
                   if n in names[:first]}
        started = dt.datetime.fromisoformat(state["started"])
    else:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = run_name or f"{cfg.run_name}-{stamp}"
        names = notebooks or NOTEBOOKS
        tmp = reports / f".tmp-{run_id}"
        if tmp.exists():  # our own leftover (same run name); other runs' folders are left alone
            pid = _running_pid(tmp)
            if pid:
                raise SalesUtilsError(f"a run named {run_id!r} is already running (process "
                                      f"{pid}); choose another --run-name")
            shutil.rmtree(tmp)
        first, timings = 0, {}
        started = dt.datetime.now().astimezone()
        state = {"run": run_id, "params": params, "overrides": overrides or [],
                 "notebooks": names, "started": started.isoformat(timespec="seconds"),
                 "seconds_per_notebook": timings}
    final = reports / run_id
    (tmp / "artifacts").mkdir(parents=True, exist_ok=True)
    (tmp / LOCK).write_text(f"{os.getpid()}\n")
    _write_state(tmp, state)
    guard = _SigtermGuard()
    guard.arm()
    try:
        return _execute(cfg, overrides, root, reports, run_id, tmp, final, names, first, timings,
                        started, state, resumed_from, progress, notebook_dir, guard)
    except KeyboardInterrupt as exc:  # between notebooks, or while rendering
        if not tmp.exists():
            raise
        raise RunInterrupted(None, _shown(tmp, root), run_id, _interrupted(exc)) from None
    finally:
        guard.restore()
        (tmp / LOCK).unlink(missing_ok=True)


def _execute(cfg: Params, overrides, root: Path, reports: Path, run_id: str, tmp: Path,
             final: Path, names: list[str], first: int, timings: dict, started: dt.datetime,
             state: dict, resumed_from: dict | None, progress: bool, notebook_dir,
             guard: _SigtermGuard) -> Path:
    """Run notebooks ``names[first:]`` in ``tmp``, render, write run.json and promote."""
    import papermill as pm

    os.environ["SALESUTILS_ROOT"] = str(root)  # the kernels find params/ and data from anywhere
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONHASHSEED", str(cfg.seed))
    parameters = cfg.to_dict() | {"run_dir": "."}
    private = _private_paths(root, tmp)
    t_run = time.perf_counter() - sum(timings.values())  # kept notebooks count in the total
    _say(f"run {run_id}: {len(names)} notebooks, params {cfg.params_file or '<defaults>'}"
         + (f" {' '.join(overrides)}" if overrides else "")
         + (f"; resumed: {', '.join(names[:first]) or 'no notebook'} kept" if resumed_from else ""))

    def fail(name: str, error: str, cell: int | None = None, exc: Exception | None = None):
        failed = reports / ".failed" / run_id
        if failed.exists():
            shutil.rmtree(failed)
        failed.parent.mkdir(parents=True, exist_ok=True)
        (tmp / LOCK).unlink(missing_ok=True)
        shutil.move(str(tmp), str(failed))
        executed = failed / f"{name}.ipynb"
        if exc is not None and executed.exists():
            cell = _failed_cell(exc, executed)
        raise RunFailed(name, cell, error.splitlines()[0][:500] if error else "",
                        _shown(failed, root), run_id) from None

    memory = {n: v for n, v in state.get("peak_rss_mb_per_notebook", {}).items()
              if n in names[:first]}
    for i, name in enumerate(names[first:], first + 1):
        src = notebook_path(name, root, notebook_dir)
        out = tmp / f"{name}.ipynb"
        _say(f"[{i}/{len(names)}] {name} ({TITLES.get(name, name)}) ...")
        t0 = time.perf_counter()
        peak = _PeakRSS()
        try:
            with peak:
                pm.execute_notebook(str(src), str(out), parameters=parameters, cwd=str(tmp),
                                    kernel_name="python3", progress_bar=progress,
                                    log_output=False, report_mode=False,
                                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                    kernel_manager_class=_kernel_manager(
                                        tmp / "logs" / f"{name}.log"))
        except BaseException as exc:  # noqa: BLE001 - reported with notebook and cell
            why = _interrupted(exc)
            if why:
                raise RunInterrupted(name, _shown(tmp, root), run_id, why) from None
            if not isinstance(exc, Exception):
                raise
            error = f"{getattr(exc, 'ename', type(exc).__name__)}: " \
                    f"{getattr(exc, 'evalue', str(exc))}".strip()
            fail(name, error, exc=exc)
        guard.arm()
        timings[name] = round(time.perf_counter() - t0, 1)
        memory[name] = peak.mb
        _write_state(tmp, state | {"seconds_per_notebook": timings,
                                   "peak_rss_mb_per_notebook": memory})
        _say(f"[{i}/{len(names)}] {name} done in {timings[name]:.1f} s "
             f"(total {time.perf_counter() - t_run:.0f} s"
             + (f", peak memory {memory[name]:,.0f} MB)" if memory[name] else ")"))
    _say("rendering HTML ...")
    for name in names:
        src = notebook_path(name, root, notebook_dir)
        try:
            _make_shareable(tmp / f"{name}.ipynb",
                            str(src.relative_to(root)) if src.is_relative_to(root) else src.name,
                            private)
            render_html(tmp / f"{name}.ipynb", tmp / f"{name}.html", stakeholder=False)
            render_html(tmp / f"{name}.ipynb", tmp / f"{name}.stakeholder.html", stakeholder=True)
        except Exception as exc:  # noqa: BLE001 - e.g. a full disk: the run stays resumable
            fail(name, f"saving or rendering it failed: {type(exc).__name__}: {exc}")
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
        "peak_rss_mb_per_notebook": memory,
        "resumed_from": resumed_from,
        "versions": _versions(),
        "git": _git_sha(root),
        "platform": f"{platform.system()} {platform.machine()}",
    }
    dataset_json = tmp / "artifacts" / "dataset.json"
    if dataset_json.exists():
        ds = json.loads(dataset_json.read_text())
        info["data"] = ds.get("summary")
        info["data_checksums"] = ds.get("checksums")
    info = json.loads(_scrub(json.dumps(info, default=str), private))  # e.g. absolute data paths
    from .report import write_index, write_runs_index

    try:  # run.json under its name only at the end: a folder with one is a finished run
        (tmp / "run.json.part").write_text(json.dumps(info, indent=2))
        write_index(tmp, info, names)
    except Exception as exc:  # noqa: BLE001 - e.g. a full disk
        fail(names[-1], f"writing run.json and index.html failed: {type(exc).__name__}: {exc}")
    (tmp / LOCK).unlink(missing_ok=True)
    (tmp / STATE).unlink(missing_ok=True)  # run.json holds all of it now
    (tmp / "run.json.part").replace(tmp / "run.json")
    _promote(tmp, final)
    try:
        write_runs_index(reports)
    except OSError as exc:  # the run is in place; only the list of runs is stale
        _say(f"warning: {_shown(reports, root) / 'index.html'} not updated ({exc})")
    _say(f"report: {_shown(final, root) / 'index.html'}  ({info['seconds_total']:.0f} s)")
    return final


class _PeakRSS:
    """The peak memory of a notebook's kernel with its worker processes (joblib, Dask), in MB:
    the summed resident set size of this process's descendants, sampled every 0.2 s by a thread.
    A sum over processes counts pages they share (forked workers) more than once: an upper
    bound, which is what a memory budget needs. ``None`` where psutil cannot see processes."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak, self.seen = interval, 0, False
        self._stop = threading.Event()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            try:
                for child in me.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                self.seen = True
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> "_PeakRSS":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def mb(self) -> float | None:
        return round(self.peak / 2**20, 1) if self.seen else None


def _promote(tmp: Path, final: Path) -> None:
    """Move the finished run into place; a previous run of the same name is replaced only now,
    and put back if the move fails."""
    if final.exists():
        old = final.with_name(f".old-{final.name}")
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
        try:
            tmp.rename(final)
        except BaseException:
            old.rename(final)
            raise
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
