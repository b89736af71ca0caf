"""The `edge` command line. Exit codes: 0 ok, 1 verification failed, 2 bad configuration or usage.

Each module in `edge.cli` registers its sub-commands with `register(subparsers)` and sets
`func` to a callable taking the parsed namespace and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from edge.app.logs import setup_logging

COMMAND_MODULES = ("core", "simulate", "users", "access", "holds", "status", "report", "offload")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge", description="Recording daemon for public-safety CCTV.")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="log verbosity on stderr (default: info)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"edge.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    setup_logging(ns.log_level)
    try:
        rc: int = ns.func(ns)
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
