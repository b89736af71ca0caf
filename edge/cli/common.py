"""Sub-commands of `edge`, one module per concern."""

from __future__ import annotations

import argparse
import sys

from edge.config import ConfigError, EdgeConfig, load_config

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="configuration file (TOML)")


def load_or_report(path: str) -> EdgeConfig | None:
    """The config, or None after printing one line per problem (key path and rule) on stderr."""
    try:
        return load_config(path)
    except ConfigError as err:
        print(f"{err.source}: configuration refused", file=sys.stderr)
        for line in err.problems:
            print(f"  {line}", file=sys.stderr)
        return None
