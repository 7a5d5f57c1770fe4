"""Every source of a run read and prepared, live ones fetched all at once.

Sources are independent until matching. How a run reads them:

* **A run that fetches** (some source is live, and this is not a replay): every
  live source is fetched at once, one thread each; inside its fetch each provider
  keeps its own ``http.concurrency`` and ``rate_per_second``. Fetching waits on the
  network, so the sources' waits overlap. A source whose snapshot is written is
  then read back and prepared (normalized, validated, tallied: work that keeps the
  cores busy) at most ``SOURCES_AT_ONCE`` at a time, local sources alike: the
  preparation of one overlaps the fetches still under way, and never more than two
  preparations run at once. A fetched source is read back from its snapshot as a
  replay of this very run folder reads it (``replay=run_dir``): the same bytes
  through the same reader as a live source always went through (a live run
  normalizes the pages read back from its snapshot), so findings, ids and reports
  are byte-identical to a fetch source by source.
* **A local run** (files, recordings, a replayed snapshot): two sources at a time
  in worker threads, as before.
* ``sequential=True``: source by source in the calling thread, each live source
  fetched inline (how a live run went before; kept as the oracle of the tests).

Results are taken in config order. The first failure ends the run without
waiting for the other fetches: they are cancelled at once (a run-wide
:class:`~reconcile.providers._cancel.Cancel`: no further request, their sockets
shut down, retry waits woken), a preparation under way finishes, and the error
raised is the first in config order among those that happened (a cancelled source
has none). Ctrl-C (KeyboardInterrupt in the calling thread, which waits for the
sources in short, interruptible steps) cancels every source the same way and is
then let through: no report is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from reconcile import fetching
from reconcile.config import SourceConfig
from reconcile.fetching import FetchProgress
from reconcile.providers._cancel import Cancel, FetchCancelled

__all__ = ["SETTLE_SECONDS", "SOURCES_AT_ONCE", "Read", "read_sources"]

T = TypeVar("T")
#: ``read(source, replay, progress)``: one source read and prepared; ``replay`` is the run
#: folder whose snapshot a live source is read from (None: as configured, fetched inline
#: when live), ``progress`` the fetch progress sink for a fetch or replay
Read = Callable[[SourceConfig, Path | None, FetchProgress | None], T]

#: sources prepared at once (two: the heavy steps use every core already, two overlap
#: one source's single-threaded moments with the other's work)
SOURCES_AT_ONCE = 2
#: how long the calling thread waits between looks at the sources (Ctrl-C is seen
#: at once whatever this is)
_POLL_SECONDS = 0.25
#: once cancelled, how long the sources are given to stop before the error (or the
#: KeyboardInterrupt) is raised: a fetch stops at once, a preparation finishes
SETTLE_SECONDS = 10.0


def read_sources(
    sources: Sequence[SourceConfig],
    read: Read[T],
    *,
    run_dir: Path | None,
    replay: Path | None,
    period: tuple[datetime, datetime],
    progress: FetchProgress | None = None,
    sequential: bool = False,
) -> list[T]:
    """``[read(source, ...) for source in sources]``, read as the module docstring says."""
    if replay is not None or not any(s.live for s in sources):
        with ThreadPoolExecutor(max_workers=SOURCES_AT_ONCE) as pool:
            return list(pool.map(lambda s: read(s, replay, progress), sources))
    if sequential or run_dir is None:  # (without a run folder the fetch says what is missing)
        return [read(s, None, progress) for s in sources]
    folder = run_dir
    cancel = Cancel()
    gate = threading.BoundedSemaphore(SOURCES_AT_ONCE)

    def one(source: SourceConfig) -> T:
        snapshot = None
        if source.live:  # no gate: waiting on the network
            fetching.fetch_snapshot(source, folder, period, progress, cancel)
            snapshot = folder
        _enter(gate, cancel, source.name)
        try:  # (the fetch reported already: the replay of its snapshot reports nothing)
            return read(source, snapshot, None)
        finally:
            gate.release()

    return _results([_start(one, source) for source in sources], cancel)


def _enter(gate: threading.BoundedSemaphore, cancel: Cancel, source: str) -> None:
    """Take a preparation slot, unless the run is cancelled meanwhile."""
    while not gate.acquire(timeout=_POLL_SECONDS):
        if cancel.is_set():
            raise FetchCancelled(source, cancel.reason)
    if cancel.is_set():
        gate.release()
        raise FetchCancelled(source, cancel.reason)


def _start(work: Callable[[SourceConfig], T], source: SourceConfig) -> Future[T]:
    """``work(source)`` in a thread of its own; its outcome in the future returned.

    A daemon thread: a source still busy when the run ends (a preparation that
    outlasts SETTLE_SECONDS after a failure or Ctrl-C) never holds the process.
    """
    future: Future[T] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            result = work(source)
        except BaseException as exc:  # handed to the calling thread, which decides
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=f"source-{source.name}", daemon=True).start()
    return future


def _results(futures: list[Future[T]], cancel: Cancel) -> list[T]:
    """The results in config order, or the first error (see the module docstring)."""
    try:
        pending = set(futures)
        while pending:  # (short waits: a KeyboardInterrupt is raised here at once)
            done, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                cancel.set("another source failed")
                break
    except BaseException:  # Ctrl-C: stop every source, then let it through
        cancel.set("interrupted")
        wait(futures, timeout=SETTLE_SECONDS)
        raise
    if not cancel.is_set():
        return [f.result() for f in futures]
    wait(futures, timeout=SETTLE_SECONDS)
    errors = [e for f in futures if f.done() and (e := f.exception()) is not None]
    raise next((e for e in errors if not isinstance(e, FetchCancelled)), errors[0])
