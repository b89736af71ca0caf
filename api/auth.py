"""Authentication and authorization: every route but /healthz and /readyz declares its roles.

`Depends(require(Role.OFFICER, ...))` turns a bearer token into a `Principal` or refuses:
401 without a valid token, 403 for a role not listed, 429 when the source is throttled. Every
refusal is registered in the access register (Art. 19(3),(4)): a known user's one by one, the
anonymous ones aggregated per source and minute (`edge.access.refusals`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.access.users import Role, User
from edge.i18n.message import N_, Message
from storage.register import Actor

if TYPE_CHECKING:
    from edge.app.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="API token from `edge user add` or `edge token rotate`")


@dataclass(frozen=True)
class Principal:
    user: User
    source: str

    @property
    def actor(self) -> Actor:
        return Actor(self.user.name, self.user.role.value, self.user.credential_id, self.source)


def daemon_of(request: Request) -> Runtime:
    d: Runtime = request.app.state.daemon
    return d


class Refusal(HTTPException):
    """An API refusal with a stable code: answered as `detail` (English, as before), `code`,
    `params` and `message` in the client's language (api/app.py's handler)."""

    def __init__(self, status: int, message: Message, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=str(message), headers=headers)
        self.message = message


def client_source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refuse(request: Request, status: int, reason: Message, actor: Actor, record: bool = True) -> HTTPException:
    d = daemon_of(request)
    action = "access_denied" if status == 403 else "auth_failure"
    if record:
        d.register.append(actor, action, result="refused",
                          detail={"method": request.method, "path": request.url.path, "reason": str(reason)})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        headers = {"Retry-After": "60"}
    return Refusal(status, reason, headers)


def _refuse_anonymous(request: Request, status: int, reason: Message) -> HTTPException:
    """A refusal before anyone is known: counted into the source's aggregated register entry
    (edge/access/refusals.py), never a row per request, so the register cannot be flooded anonymously."""
    daemon_of(request).refusals.record(client_source(request), request.method, request.url.path, str(reason))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {"Retry-After": "60"}
    return Refusal(status, reason, headers)


def authenticate(request: Request, token: str | None) -> Principal:
    """The principal behind a token (or a web session, which resolves to one), or a refusal."""
    d = daemon_of(request)
    source = client_source(request)
    throttle = d.users.throttle
    if throttle.blocked(source):
        raise _refuse_anonymous(request, 429, Message("throttled", N_("too many failed authentications from this "
                                                                      "address; retry later")))
    if not token:
        # Counted like a wrong token: otherwise anonymous requests would go unthrottled.
        throttle.failed(source)
        raise _refuse_anonymous(request, 401, Message("no_token", N_("authentication required: send "
                                                                     "'Authorization: Bearer TOKEN'")))
    user = d.users.by_token(token)
    if user is None:
        throttle.failed(source)
        raise _refuse_anonymous(request, 401, Message("bad_token", N_("invalid or revoked token")))
    return Principal(user, source)


def session_principal(request: Request) -> Principal | None:
    """The principal of a web session cookie, when the page installed its resolver (api/web)."""
    resolver: Callable[[Request], Principal | None] | None = getattr(request.app.state, "session_resolver", None)
    return resolver(request) if resolver is not None else None


def require(*roles: Role) -> Callable[..., Principal]:
    allowed = frozenset(roles)
    if not allowed:
        raise ValueError("a route must name the roles that may call it")

    def dependency(request: Request,
                   creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:  # noqa: B008
        token = creds.credentials if creds is not None else None
        # A signed-in browser (the web page's session) when no token came; never instead of a token.
        principal = session_principal(request) if token is None else None
        if principal is None:
            principal = authenticate(request, token)
        if principal.user.role not in allowed:
            raise _refuse(request, 403, Message("role_refused", N_("role '%(role)s' may not do this"),
                                                {"role": principal.user.role.value}), principal.actor)
        return principal

    return dependency
