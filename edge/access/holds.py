"""Placing a hold (Art. 19(8)): the checks and the register entry, the same for API, page and CLI.

The hold itself is the storage layer's (`storage.holds`: never deleted, never shortened); this is
where the rules about who may hold what live, so every entry point applies the same ones.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.access.hold_policy import HoldRefused, HoldTooLong, bound_hold, hold_message
from edge.access.workflow import InvalidRequest, Problem, WorkflowError, unknown_camera
from edge.config_sections import RetentionConfig
from storage.clock import Clock
from storage.holds import Hold, HoldError, HoldStore, register_hold_create
from storage.index import Index
from storage.register import AccessRegister, Actor


class HoldPlacement:
    def __init__(self, holds: HoldStore, register: AccessRegister, known_cameras: Callable[[], set[str]],
                 retention: RetentionConfig | None = None, index: Index | None = None,
                 clock: Clock | None = None) -> None:
        self.holds = holds
        self.register = register
        self.known_cameras = known_cameras
        #: The bounds of `edge.access.hold_policy` (a hold over all of time is refused).
        self.retention = retention
        self.index = index
        self.clock = clock

    def place(self, actor: Actor, camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
              source: str = "manual") -> Hold:
        """A new hold by `actor`, registered as `hold_create`; InvalidRequest names what is wrong."""
        if camera is not None and camera not in self.known_cameras():
            raise InvalidRequest([Problem(("camera",), unknown_camera(camera))])
        try:
            if self.retention is not None and self.index is not None and self.clock is not None:
                bounded = bound_hold(self.retention, self.index, self.clock, camera, start_us, end_us)
                start_us, end_us = bounded.start_us, bounded.end_us
            hold = self.holds.create(camera, start_us, end_us, reason, case_number, created_by=actor.name,
                                     source=source)
        except HoldRefused as exc:
            self._refused(actor, camera, reason, case_number, str(exc))
            raise WorkflowError(exc.status, hold_message(exc)) from None
        except HoldError as exc:
            # Attempts past the bounds are registered (someone tried to hold too much); a malformed
            # request (end before start, no reason) is only answered.
            if isinstance(exc, HoldTooLong):
                self._refused(actor, camera, reason, case_number, str(exc))
            raise InvalidRequest([Problem(("hold",), hold_message(exc))]) from None
        register_hold_create(self.register, actor, hold)
        return hold

    def _refused(self, actor: Actor, camera: str | None, reason: str, case_number: str, why: str) -> None:
        self.register.append(actor, "hold_create", result="refused", cameras=[camera] if camera else [],
                             purpose=reason, case_number=case_number, detail={"reason": why})
