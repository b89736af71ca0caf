"""The Art. 18 rule shared by exports and hold releases: a second, different person approves.

"Different" means a different account *and* a different work credential: one officer holding
two accounts (say an officer and an approver account under the same credential number) is
still one person and cannot approve their own request.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.users import Role, User


class WorkflowError(Exception):
    """A refused workflow step; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Person:
    name: str
    credential_id: str


def second_person_refusal(requester: Person, approver: User) -> str | None:
    """Why `approver` may not approve `requester`'s request, or None when they may."""
    if approver.role is not Role.APPROVER:
        return f"role '{approver.role.value}' may not approve"
    if approver.name == requester.name:
        return "a request cannot be approved by the user who made it (Art. 18: at least two persons)"
    if approver.credential_id.strip().casefold() == requester.credential_id.strip().casefold():
        return ("the approver holds the same work credential as the requester: one person cannot "
                "approve their own request under a second account (Art. 18)")
    return None
