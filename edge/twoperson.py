"""The Art. 18 rule shared by exports and hold releases: a second, different person approves.

"Different" means a different account *and* a different work credential: one officer holding
two accounts (say an officer and an approver account under the same credential number) is
still one person and cannot approve their own request.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.identity import same_person
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
    # Compared after normalisation (edge/identity.py): `O\u200b-1` or `Ｏ-1` is the credential `O-1`.
    same = same_person(requester.name, requester.credential_id, approver.name, approver.credential_id)
    if same == "same account":
        return "a request cannot be approved by the user who made it (Art. 18: at least two persons)"
    if same is not None:
        return ("the approver holds the same work credential as the requester: one person cannot "
                "approve their own request under a second account (Art. 18)")
    return None
