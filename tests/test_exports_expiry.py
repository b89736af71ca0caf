"""Pending export requests expire after `[access] request_ttl_hours` (time travel, no waiting), and
the two-person rule compares accounts and work credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.access.exports import ExportManager, ExportSpec, State
from edge.access.users import Role, User
from edge.access.workflow import Person, WorkflowError, second_person_refusal
from edge.config_sections import AccessConfig
from storage.clock import OffsetClock
from storage.register import AccessRegister, Actor
from storage.store import SegmentStore

HOUR_US = 3_600_000_000
SPEC = ExportSpec(("gate-1",), 0, 60_000_000, "robbery investigation", "CQ-1", {"name": "Wang Lei", "unit": "PSB"},
                  {"number": "YZ-1", "issued_by": "chief", "issued_on": "2026-11-28", "sha256": None})


def test_pending_request_expires_and_cannot_be_approved(tmp_path: Path) -> None:
    clock = OffsetClock()
    store = SegmentStore(tmp_path / "store", clock)
    try:
        reg = AccessRegister(store.index, clock)
        mgr = ExportManager(store.index, reg, clock, AccessConfig(request_ttl_hours=2), None)
        exp = mgr.request(Actor("officer-1", "officer", "PSB-1", "cli"), SPEC)
        assert exp.expires_us - exp.requested_us == 2 * HOUR_US
        clock.advance(2 * HOUR_US - 1_000_000)
        assert mgr.expire_due() == 0 and mgr.get(exp.id).state is State.PENDING  # type: ignore[union-attr]
        clock.advance(2_000_000)
        approver = User(2, "approver-1", Role.APPROVER, "PSB-2", False)
        with pytest.raises(WorkflowError) as err:
            mgr.approve(exp.id, approver, Actor("approver-1", "approver", "PSB-2", "cli"))
        assert err.value.status == 409 and "expired" in err.value.reason
        assert mgr.get(exp.id).state is State.EXPIRED  # type: ignore[union-attr]
        entries = reg.entries_for_subject(f"export:{exp.id}")
        assert [(e.action, e.actor, e.result) for e in entries] == [
            ("export_request", "officer-1", "ok"), ("export_expire", "system", "ok"),
            ("export_approve", "approver-1", "refused")]
    finally:
        store.close()


@pytest.mark.parametrize(("name", "cred", "role", "refused"), [
    ("approver-1", "PSB-2", Role.APPROVER, None),
    ("officer-1", "PSB-1", Role.APPROVER, "the user who made it"),
    ("approver-1", " psb-1 ", Role.APPROVER, "same work credential"),
    ("officer-2", "PSB-9", Role.OFFICER, "may not approve"),
])
def test_second_person_rule(name: str, cred: str, role: Role, refused: str | None) -> None:
    why = second_person_refusal(Person("officer-1", "PSB-1"), User(1, name, role, cred, False))
    assert (why is None) if refused is None else (why is not None and refused in str(why))
