"""``python -m reconcile.testing serve``: the sample month on five local servers."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from ._sample_month import serve_sample_month


def _serve(args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="reconcile-live-"))
    with serve_sample_month(latency=args.latency) as month:
        config = month.write_config(folder)
        print("Five local provider servers are serving the October 2026 sample month:")
        for provider, server in month.servers.items():
            print(f"  {provider:<9} {server.url}")
        if args.latency:
            print(f"(each request is held {args.latency:g} s before it is answered)")
        print(f"\nConfig: {config}\n\nIn another shell:\n")
        for name, value in month.env.items():
            print(f"  export {name}={value}")
        print(f"  reconcile run {config} --out {folder / 'out'}\n\nCtrl-C stops the servers.")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reconcile.testing", description="Local provider servers for reconcile."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the sample month and write a live config")
    serve.add_argument("--dir", help="folder for the config (default: a new temporary folder)")
    serve.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="hold every request this long before answering it, as a distant server "
        "would (e.g. 0.05); default 0",
    )
    args = parser.parse_args(argv)
    if args.latency < 0:
        parser.error("--latency must not be negative")
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
