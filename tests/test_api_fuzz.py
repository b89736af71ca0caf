"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis), over real
HTTP against a recording `edge run`, with a valid token of every role: no 5xx, documented 2xx
bodies, and no unhandled exception in the daemon's log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis
from access_fixtures import add_users
from helpers import DaemonProcess, base_sections, camera, new_daemon, wait_for
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from capture.sim.simulator import Simulator

EXAMPLES = 10


def test_fuzz_api_from_openapi_schema(tmp_path: Path, clip: Callable[..., Path],
                                      simulator: Callable[..., Simulator], daemons: list[DaemonProcess]) -> None:
    sim = simulator({"cam": clip(seed=21)})
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root, access={"auth_failures_per_minute": 1000}),
                   [camera("gate-1", sim.url("cam"))])
    daemons.append(d)
    tokens = add_users(d.config)
    d.start()
    wait_for(lambda: list(root.rglob("*.mp4")), 20, 0.2, "footage on disk")
    doc = httpx.get(d.url + "/api/v1/openapi.json", headers={"Authorization": f"Bearer {tokens['monitor-1']}"})
    assert doc.status_code == 200
    schema = schemathesis.openapi.from_dict(doc.json())
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    calls = 0
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 14

    def fuzz(op: Any, mode: GenerationMode) -> None:
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=mode), user=st.sampled_from(sorted(tokens)))
        def run(case: schemathesis.Case, user: str) -> None:
            nonlocal calls
            calls += 1
            resp = case.call(base_url=d.url, session=session, headers={"Authorization": f"Bearer {tokens[user]}"},
                             timeout=30)
            statuses[resp.status_code] += 1
            where = f"{case.method} {case.formatted_path} as {user} ({mode.value})"
            if resp.status_code >= 500 and not (case.path == "/readyz" and resp.status_code == 503):
                failures.append(f"{where}: {resp.status_code} {resp.text[:300]}")
            elif 200 <= resp.status_code < 300 and "json" in resp.headers.get("content-type", ""):
                try:
                    case.operation.validate_response(resp)
                except AssertionError as exc:  # schemathesis raises a subclass with the details
                    failures.append(f"{where}: response does not match the schema: {str(exc)[:300]}")

        try:
            run()
        except Unsatisfiable:
            # No invalid input exists for this operation (no parameters, no body): nothing to fuzz.
            assert mode is GenerationMode.NEGATIVE, f"{op.label}: no valid example could be generated"

    with requests.Session() as session:  # one session, closed: no unclosed-socket warnings
        for op in operations:
            for mode in GenerationMode:
                fuzz(op, mode)
    assert not failures, "\n".join(failures[:20])
    assert calls >= len(operations) * 2 * 5
    # The fuzzer got past authentication into the handlers: successes, validation and workflow refusals.
    assert statuses[200] and statuses[422] and statuses[403] and statuses[404], statuses
    log = d.log()
    for marker in ("Traceback", "Exception in ASGI application", "Internal Server Error"):
        assert marker not in log, f"{marker} in the daemon's log:\n{log[-3000:]}"
    rc, _ = d.terminate()
    assert rc == 0
