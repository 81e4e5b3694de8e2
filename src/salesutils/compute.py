"""Where the per-series model fits run: this machine's processes, or a Dask cluster.

The ``compute`` params section picks it. ``backend: processes`` (the default) fits the per-series
statistical models (:class:`~salesutils.models.stats.LocalModel`) in ``n_jobs`` local processes
(joblib). ``backend: dask`` sends them, in chunks of series, to a Dask cluster: with
``scheduler: null`` a :class:`distributed.LocalCluster` started for the run (``n_workers``
processes, default ``n_jobs``, one thread each), else the running cluster whose scheduler is at
``scheduler`` (``tcp://host:8786``). The forecasts are the same either way.

A notebook starts the client once, before its first fit, and closes it at its end::

    client = compute.get_client(nb.cfg)  # None unless compute.backend is dask
    ...
    compute.close_client(client)

and a script writes ``with compute.dask_client(cfg): ...``. While the client is open, every
:class:`~salesutils.models.ForecastTask` with ``backend="dask"`` maps its fits over it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import ConfigError, SalesUtilsError

__all__ = ["BACKENDS", "PROTOCOLS", "get_client", "close_client", "dask_client", "describe",
           "current_client"]

#: the values of ``compute.backend``
BACKENDS: tuple[str, ...] = ("processes", "dask")
#: the protocols a ``compute.scheduler`` address may name (Dask's comm protocols)
PROTOCOLS: tuple[str, ...] = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
#: packages whose version must be the same on the workers as here for the same forecasts
_SAME_VERSIONS = ("salesutils", "numpy", "scipy", "pandas", "statsmodels")


def _versions() -> dict[str, str | None]:
    """The versions of :data:`_SAME_VERSIONS` in this process (also run on every worker)."""
    out: dict[str, str | None] = {}
    for name in _SAME_VERSIONS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _check_workers(client, where: str) -> None:
    """Fail early, naming the package, when the workers cannot run the same fits as here."""
    try:
        remote = client.run(_versions)
    except Exception as exc:  # noqa: BLE001 - typically: salesutils is not installed there
        raise SalesUtilsError(f"the Dask workers at {where} cannot run salesutils "
                              f"({type(exc).__name__}: {exc}); install the same salesutils "
                              "version and dependencies on every worker") from None
    here = _versions()
    for worker, theirs in remote.items():
        diff = [f"{k} {theirs.get(k)} (here {v})" for k, v in here.items() if theirs.get(k) != v]
        if diff:
            raise SalesUtilsError(f"Dask worker {worker} at {where} has {', '.join(diff)}; "
                                  "install the same versions on every worker")


def get_client(cfg: Mapping[str, Any]) -> Any:
    """A :class:`distributed.Client` for the run's ``compute`` section, or None for processes.

    ``cfg``: the run's parameters (``compute`` and ``n_jobs`` are read). A LocalCluster is
    owned by its client: :func:`close_client` stops its worker processes.
    """
    section = cfg.get("compute") or {}
    if section.get("backend", "processes") != "dask":
        return None
    from distributed import Client

    address = section.get("scheduler")
    if address:
        try:
            client = Client(address)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address!r} ({exc})",
                              source=cfg.get("params_file") or "<params>",
                              key="compute.scheduler") from None
    else:
        n_jobs = cfg.get("n_jobs") or 1
        n_workers = section.get("n_workers") or (n_jobs if n_jobs > 0 else None)  # None: cores
        # the client starts the cluster and so closes it; no dashboard (ports, bokeh) for a run
        client = Client(n_workers=n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=None)
        address = "a LocalCluster"
    try:
        _check_workers(client, address)
    except BaseException:
        client.close()
        raise
    return client


def close_client(client: Any) -> None:
    """Close a client from :func:`get_client` (and its LocalCluster's workers); None: nothing."""
    if client is not None:
        client.close()


@contextlib.contextmanager
def dask_client(cfg: Mapping[str, Any]) -> Iterator[Any]:
    """:func:`get_client` for a ``with`` block: the client (or None), closed on exit."""
    client = get_client(cfg)
    try:
        yield client
    finally:
        close_client(client)


def describe(client: Any, n_jobs: int) -> str:
    """Where the fits run, for a notebook: ``2 local processes``, ``Dask (tcp://..., 16
    workers)``."""
    if client is None:
        return f"{n_jobs if n_jobs > 0 else 'all'} local process{'es' if n_jobs != 1 else ''}"
    workers = client.nthreads()
    return f"Dask ({client.scheduler.address}, {len(workers)} workers)"


def current_client() -> Any:
    """The Dask client opened by :func:`get_client`: what a ``backend="dask"`` task maps over."""
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        raise SalesUtilsError(
            "compute.backend is 'dask' but no Dask client is open: call "
            "salesutils.compute.get_client(cfg) first (dask[distributed] must be installed)"
        ) from None
