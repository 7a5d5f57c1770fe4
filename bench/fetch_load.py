"""Fetch load: 20,000 Commet invoices in pages of 100 from a local server.

Starts ``reconcile.testing.ProviderServer("commet", ...)`` with synthetic invoices
(``commet_invoices``, seeded) in a child process (so server and client do not
share a GIL), fetches them with the real fetcher (``reconcile.providers.commet.fetch``
through ``ProviderClient``), normalizes the pages, and prints records per second
(median of the timed runs) and where the time went: network and server (inside
``ProviderClient._send``), JSON parsing in the fetcher (``json_body``, for the
completeness checks), the fetcher's other work (record digests, cursors), and
``normalize`` (which parses the pages again and builds canonical rows).

Nothing is asserted; it prints figures. Usage::

    python bench/fetch_load.py                       # 20,000 invoices, 2026-07-11 (list only)
    python bench/fetch_load.py --api-version 2026-07-31   # + one GET /invoices/{id} each
    python bench/fetch_load.py --n 5000 --repeat 3 --concurrency 8
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconcile.providers import _http, commet
from reconcile.testing import ProviderServer, commet_invoices

PERIOD = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
SECRET = "bench-secret"


def _serve(n: int, seed: int, page_size: int, conn: Any) -> None:
    """Child process: one Commet server until the parent closes the pipe."""
    server = ProviderServer(
        "commet", records=commet_invoices(n, seed=seed), page_size=page_size, credential=SECRET
    ).start()
    conn.send(server.url)
    with contextlib.suppress(EOFError):  # "stop", or the parent went away
        conn.recv()
        conn.send(len(server.requests))
    server.stop()


@contextmanager
def commet_server(n: int, seed: int, page_size: int) -> Iterator[tuple[str, Callable[[], int]]]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve, args=(n, seed, page_size, child), daemon=True)
    process.start()
    child.close()
    url = parent.recv()
    served: list[int] = []

    def requests_served() -> int:
        return served[0] if served else -1

    try:
        yield url, requests_served
    finally:
        parent.send("stop")
        served.append(parent.recv())
        process.join(timeout=10)


class Timers:
    """Wall time during which at least one call of a wrapped function is running, per label.

    Detail pages are fetched concurrently: summing their request times would count
    overlapping waits several times, so a label's time is the union of its calls'
    intervals (for the sequential list pages, the plain sum).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._active: dict[str, int] = defaultdict(int)
        self._since: dict[str, float] = {}
        self._lock = threading.Lock()

    def _enter(self, label: str) -> None:
        with self._lock:
            self.calls[label] += 1
            self._active[label] += 1
            if self._active[label] == 1:
                self._since[label] = time.perf_counter()

    def _leave(self, label: str) -> None:
        with self._lock:
            self._active[label] -= 1
            if self._active[label] == 0:
                self.seconds[label] += time.perf_counter() - self._since[label]

    def wrap(self, owner: Any, name: str, label: str) -> Callable[[], None]:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._enter(label)
            try:
                return original(*args, **kwargs)
            finally:
                self._leave(label)

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


def one_run(url: str, options: dict[str, Any], concurrency: int) -> dict[str, float]:
    timers = Timers()
    undo = [
        timers.wrap(_http.ProviderClient, "_send", "network"),
        timers.wrap(commet, "json_body", "json_body"),
    ]
    try:
        client = _http.ProviderClient(
            source="commet",
            provider="commet",
            base_url=url,
            headers=commet.auth_headers(SECRET, options),
            credential_env="BENCH_COMMET_KEY",
            policy=_http.HttpPolicy(concurrency=concurrency),
            secrets=[SECRET],
        )
        started = time.perf_counter()
        with client:
            pages = commet.fetch(client, options, *PERIOD)
        fetched = time.perf_counter()
        out = commet.normalize(pages, "commet", options)
        done = time.perf_counter()
    finally:
        for restore in undo:
            restore()
    return {
        "fetch": fetched - started,
        "normalize": done - fetched,
        "total": done - started,
        "network": timers.seconds["network"],
        "json_body": timers.seconds["json_body"],
        "requests": timers.calls["network"],
        "pages": len(pages),
        "records": len(out.invoices),
        "rejects": len(out.rejects),
        "lines": len(out.lines),
        "bytes": sum(len(p.body) for p in pages),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="invoices (default 20000)")
    parser.add_argument("--page-size", type=int, default=100, help="server page size (100)")
    parser.add_argument(
        "--api-version",
        default="2026-07-11",
        help="Commet-Version: 2026-07-11 (list pages only, default) or "
        "2026-07-31 (list pages + GET /invoices/{id} per invoice)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after one warm-up")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="requests in flight (HttpPolicy.concurrency; detail pages)",
    )
    parser.add_argument("--seed", type=int, default=20261031)
    args = parser.parse_args()

    options = {"api_version": args.api_version}
    print(
        f"reconcile fetch load: {args.n:,} Commet invoices, pages of {args.page_size}, "
        f"Commet-Version {args.api_version}, concurrency {args.concurrency}"
    )
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    built = time.perf_counter()
    with commet_server(args.n, args.seed, args.page_size) as (url, served):
        print(f"server ready in {time.perf_counter() - built:.1f} s (separate process) at {url}")
        runs = []
        for number in range(args.repeat + 1):
            result = one_run(url, options, args.concurrency)
            if result["records"] != args.n or result["rejects"]:
                print(f"incomplete fetch: {result}", file=sys.stderr)
                return 1
            label = "warm-up" if number == 0 else f"run {number}"
            print(
                f"  {label:<8} fetch {result['fetch']:6.2f} s  normalize "
                f"{result['normalize']:6.2f} s  total {result['total']:6.2f} s"
            )
            if number:
                runs.append(result)
    print(f"server answered {served():,} requests")

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    fetch, normalize, total = med("fetch"), med("normalize"), med("total")
    network, parsing = med("network"), med("json_body")
    other = max(0.0, fetch - network - parsing)
    first = runs[0]
    print(
        f"\nmedian of {len(runs)} runs; {first['requests']:,} requests, {first['pages']:,} "
        f"pages, {first['bytes'] / 1e6:.1f} MB, {first['records']:,} invoices, "
        f"{first['lines']:,} line items"
    )
    print(f"  fetch             {fetch:7.2f} s  {args.n / fetch:>9,.0f} records/s")
    print(
        f"    network+server  {network:7.2f} s  {network / fetch:6.1%} of fetch "
        "(a request in flight)"
    )
    print(
        f"    JSON parsing    {parsing:7.2f} s  {parsing / fetch:6.1%} of fetch "
        "(json_body: completeness checks)"
    )
    print(
        f"    other           {other:7.2f} s  {other / fetch:6.1%} of fetch "
        "(record digests, cursors, bookkeeping; 0 when it overlaps requests)"
    )
    print(
        f"  normalize         {normalize:7.2f} s  {args.n / normalize:>9,.0f} records/s "
        "(JSON parsing again + canonical rows)"
    )
    print(f"  fetch + normalize {total:7.2f} s  {args.n / total:>9,.0f} records/s")
    json_share = (parsing + normalize) / total
    print(
        f"\nshare of fetch + normalize: JSON parsing and normalize {json_share:.1%}, "
        f"network and server {network / total:.1%}, other {other / total:.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
