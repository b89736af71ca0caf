"""Request and response bodies of the access API (exports, holds, audit): the documented contract.

Request bodies forbid unknown keys, so a misspelt field is a 422 naming it instead of a silently
ignored one. Text fields are stripped and must not be empty: an export without a purpose, a case
number, a recipient or an approval document is exactly what Art. 18-20 forbid.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from edge.access.exports import ExportSpec
from edge.access.review import ReviewSpec
from edge.config import CAMERA_ID
from edge.i18n.message import N_
from storage.clock import datetime_to_us


def _encodable(v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(N_("must be valid Unicode text (no lone surrogates)")) from None
    if "\x00" in v:
        raise ValueError(N_("must not contain NUL characters"))
    return v


def _camera_id(v: str) -> str:
    if not CAMERA_ID.match(v):
        raise ValueError(N_("is not a camera id ([a-z0-9-]+)"))
    return v


Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                    AfterValidator(_encodable)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                    AfterValidator(_encodable)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                    AfterValidator(_encodable)]


CameraId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_camera_id)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$"),
                      AfterValidator(lambda v: v.lower())]
ExportState = Literal["pending", "approved", "producing", "ready", "failed", "denied", "expired"]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipient(In):
    """To whom the copy goes (Art. 19(4))."""

    name: Text200 = Field(description="Person who receives the copy.")
    unit: Text200 = Field(description="Their unit, e.g. 'Yuzhong District PSB'.")


class ApprovalDocument(In):
    """The approval signed by a district police chief, or the unit's proof (Art. 18)."""

    number: Text100 = Field(description="Document number, e.g. 'YZ-APP-0042'.")
    issued_by: Text200 = Field(description="Issuing authority.")
    issued_on: dt.date = Field(description="Date of issue (YYYY-MM-DD).")
    sha256: Sha256Hex | None = Field(default=None, description="Optional SHA-256 (hex) of the document's scan.")


class ExportRequestIn(In):
    cameras: list[CameraId] = Field(min_length=1, max_length=64, description="Camera ids (configured cameras).")
    start: AwareDatetime = Field(description="Range start (RFC 3339 with a zone, e.g. 2026-11-28T10:00:00Z).")
    end: AwareDatetime = Field(description="Range end (exclusive); after start, within the configured maximum.")
    purpose: Text500 = Field(description="For what use the footage is copied.")
    case_number: Text100
    recipient: Recipient
    approval_document: ApprovalDocument
    hold: bool = Field(default=False, description="Footage handed to police: hold the range for the statutory "
                                                  "period (Art. 19(8)).")

    def to_spec(self) -> ExportSpec:
        return ExportSpec(tuple(self.cameras), datetime_to_us(self.start), datetime_to_us(self.end), self.purpose,
                          self.case_number, self.recipient.model_dump(), self.approval_document.model_dump(mode="json"),
                          self.hold)

    @model_validator(mode="after")
    def _range(self) -> ExportRequestIn:
        if self.start >= self.end:
            raise ValueError(N_("start must be before end"))
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(N_("cameras must not repeat"))
        return self


class ApproveIn(In):
    note: Annotated[str, StringConstraints(max_length=500), AfterValidator(_encodable)] = ""


class DenyIn(In):
    reason: Text500 = Field(description="Why the request is denied (registered).")


class RegisterEntryOut(BaseModel):
    id: int
    time_us: int
    time: str
    actor: str
    role: str
    credential_id: str
    source: str
    action: str
    cameras: list[str]
    range_start_us: int | None
    range_end_us: int | None
    purpose: str
    case_number: str
    recipient: dict[str, Any]
    approval: dict[str, Any]
    subject: str
    result: str
    detail: dict[str, Any]
    chain: str


class PersonOut(BaseModel):
    name: str
    credential_id: str


class ExportOut(BaseModel):
    id: int
    state: ExportState
    progress: float = Field(description="Percent of the bundle produced (0-100).")
    cameras: list[str]
    start: str
    end: str
    purpose: str
    case_number: str
    recipient: dict[str, Any]
    approval_document: dict[str, Any]
    hold: bool
    requested_by: PersonOut
    requested: str
    expires: str
    decided_by: PersonOut | None
    decided: str | None
    decision_reason: str
    error: str
    manifest_sha256: str | None
    download: str | None = Field(description="Download path once the bundle is ready.")
    register_entries: list[RegisterEntryOut] = Field(
        default_factory=list, description="The access register's entries of this export (GET of one export).")


class HoldIn(In):
    camera: CameraId | None = Field(default=None, description="One camera, or null for every camera.")
    start: AwareDatetime
    end: AwareDatetime
    reason: Text500
    case_number: Text100

    @model_validator(mode="after")
    def _range(self) -> HoldIn:
        if self.start >= self.end:
            raise ValueError(N_("start must be before end"))
        return self


class HoldOut(BaseModel):
    id: int
    camera: str | None
    start: str
    end: str
    reason: str
    case_number: str
    created_by: str
    created: str
    expires: str
    released: str | None
    released_by: str | None
    source: str
    active: bool
    release_request: ReleaseOut | None = None


class ReleaseIn(In):
    reason: Text500 = Field(description="Why the hold may end before its expiry.")
    approval_document: ApprovalDocument


class ReleaseDenyIn(In):
    reason: Text500


class ReleaseOut(BaseModel):
    id: int
    hold_id: int
    state: Literal["pending", "approved", "denied", "expired"]
    reason: str
    approval_document: dict[str, Any]
    requested_by: PersonOut
    requested: str
    expires: str
    decided_by: PersonOut | None
    decided: str | None
    decision_reason: str


class AuditPage(BaseModel):
    entries: list[RegisterEntryOut]
    next_after_id: int | None = Field(description="Pass as after_id for the next page; null at the end.")


HoldOut.model_rebuild()


class ReviewRequestIn(In):
    """A request to review footage on the box (playback only, never a download)."""

    cameras: list[CameraId] = Field(min_length=1, max_length=64, description="Camera ids (configured cameras).")
    start: AwareDatetime = Field(description="Range start (RFC 3339 with a zone).")
    end: AwareDatetime = Field(description="Range end (exclusive); after start, within the configured maximum.")
    purpose: Text500 = Field(description="For what use the footage is looked at.")
    case_number: Text100
    approval_document: ApprovalDocument

    def to_spec(self) -> ReviewSpec:
        return ReviewSpec(tuple(self.cameras), datetime_to_us(self.start), datetime_to_us(self.end), self.purpose,
                          self.case_number, self.approval_document.model_dump(mode="json"))

    @model_validator(mode="after")
    def _range(self) -> ReviewRequestIn:
        if self.start >= self.end:
            raise ValueError(N_("start must be before end"))
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(N_("cameras must not repeat"))
        return self


class ReviewOut(BaseModel):
    """A review grant: a request until approved, then a time-limited right to play the range on the box."""

    id: int
    status: Literal["pending", "denied", "expired", "active", "revoked", "ended"]
    cameras: list[str]
    start: str
    end: str
    purpose: str
    case_number: str
    approval_document: dict[str, Any]
    requested_by: PersonOut
    requested: str
    decided_by: PersonOut | None
    decided: str | None
    decision_reason: str
    granted_until: str | None
    revoked_by: str | None
    revoked: str | None
    play: str | None = Field(description="The page that plays the range (only for the grant's two persons).")


class RevokeIn(In):
    reason: Annotated[str, StringConstraints(max_length=500), AfterValidator(_encodable)] = ""
