"""Placing a hold (Art. 19(8)): the checks and the register entry, the same for API, page and CLI.

The hold itself is the storage layer's (`storage.holds`: never deleted, never shortened); this is
where the rules about who may hold what live, so every entry point applies the same ones.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.access.workflow import InvalidRequest, Problem
from storage.holds import Hold, HoldError, HoldStore, register_hold_create
from storage.register import AccessRegister, Actor


class HoldPlacement:
    def __init__(self, holds: HoldStore, register: AccessRegister, known_cameras: Callable[[], set[str]]) -> None:
        self.holds = holds
        self.register = register
        self.known_cameras = known_cameras

    def place(self, actor: Actor, camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
              source: str = "manual") -> Hold:
        """A new hold by `actor`, registered as `hold_create`; InvalidRequest names what is wrong."""
        if camera is not None and camera not in self.known_cameras():
            raise InvalidRequest([Problem(("camera",), f"unknown camera '{camera}'")])
        try:
            hold = self.holds.create(camera, start_us, end_us, reason, case_number, created_by=actor.name,
                                     source=source)
        except HoldError as exc:
            raise InvalidRequest([Problem(("hold",), str(exc))]) from None
        register_hold_create(self.register, actor, hold)
        return hold
