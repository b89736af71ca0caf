"""One line per event on stderr (journald adds its own timestamps under systemd)."""

from __future__ import annotations

import logging
import os
import sys

from capture.redact import RedactingFilter
from edge.app.lograte import RateLimitFilter


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    # Under systemd the journal stamps each line; elsewhere a timestamp helps.
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else (
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handler.setFormatter(logging.Formatter(fmt))
    # Per cause at most a few lines a minute: a connection flood must not fill the disk with logs.
    handler.addFilter(RateLimitFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Per-request access lines would drown the events that matter on a recorder.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
