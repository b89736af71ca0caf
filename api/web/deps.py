"""What every page needs: the signed-in user (or a redirect to /login), role gates that answer
"not for your role" and register the refusal as the API does, CSRF checks, and rendering."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.datastructures import FormData

from api.auth import Principal, client_source, daemon_of
from api.presenters import localizer_for
from api.web import texts
from api.web.session import COOKIE, Session, SessionStore
from edge.access.users import FOOTAGE_ROLES, Role
from edge.i18n import Localizer
from edge.i18n.message import N_, Message, term
from storage.register import Actor

if TYPE_CHECKING:
    from fastapi import FastAPI

TEMPLATE_DIRS = [Path(__file__).resolve().parent / "templates",
                 Path(__file__).resolve().parents[2] / "edge" / "reports" / "templates"]
templates = Jinja2Templates(directory=TEMPLATE_DIRS)
# {% trans %} and _() resolve `gettext` from each page's context (render below): one language per request.
templates.env.add_extension("jinja2.ext.i18n")

#: The pages and who may open them (the same role sets as the API routes behind them).
EXPORT_ROLES = frozenset({Role.OFFICER, Role.APPROVER})
HOLD_ROLES = frozenset({Role.OFFICER, Role.APPROVER, Role.AUDITOR})
REGISTER_ROLES = frozenset({Role.AUDITOR})
BASELINE_ROLES = frozenset({Role.MAINTAINER})
REVIEW_ROLES = frozenset({Role.OFFICER, Role.APPROVER})
#: Who sees the live picture: the maintainer to aim and commission, the officer (never recorded footage).
LIVE_ROLES = frozenset({Role.MAINTAINER, Role.OFFICER, Role.APPROVER})
NAV = (("/", N_("Overview"), frozenset(Role)), ("/review", N_("Review"), REVIEW_ROLES),
       ("/exports", N_("Exports"), EXPORT_ROLES),
       ("/holds", N_("Holds"), HOLD_ROLES), ("/register", N_("Access register"), REGISTER_ROLES),
       ("/report/filing", N_("Filing pack"), frozenset(Role)))


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Refused(Exception):
    """A page-level refusal, shown as a page (not JSON) with this status; `message` is translated
    when the page is rendered (a `Message`, or a text already in the reader's language)."""

    def __init__(self, status: int, message: Message | str, web: WebUser | None = None) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.web = web


@dataclass(frozen=True)
class WebUser:
    session: Session
    principal: Principal

    @property
    def name(self) -> str:
        return self.principal.user.name

    @property
    def role(self) -> Role:
        return self.principal.user.role

    @property
    def sees_footage(self) -> bool:
        return self.role in FOOTAGE_ROLES

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def actor(self) -> Actor:
        return self.principal.actor


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.web_sessions
    return store


def web_user(request: Request) -> WebUser:
    """FastAPI dependency: the signed-in user, or a redirect to the login page."""
    session = sessions_of(request).resolve(request.cookies.get(COOKIE))
    if session is None:
        # After signing in the browser comes back with a GET: a form's target cannot be its goal.
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path if request.method in ("GET", "HEAD") else "/")
    return WebUser(session, Principal(session.user, client_source(request)))


def register_refusal(request: Request, actor: Actor, reason: str) -> None:
    daemon_of(request).register.append(actor, "access_denied", result="refused",
                                       detail={"method": request.method, "path": request.url.path,
                                               "reason": reason})


def ensure_role(request: Request, web: WebUser, roles: Iterable[Role], what: str) -> None:
    allowed = frozenset(roles)
    if web.role in allowed:
        return
    register_refusal(request, web.actor, f"role '{web.role.value}' may not do this")
    who = [term(r) for r in sorted(r.value for r in allowed)]
    raise Refused(403, Message("not_for_role", N_("%(what)s is not for your role (%(role)s). It is for: %(who)s."),
                               {"what": Message("page", what), "role": term(web.role.value), "who": who}), web)


def check_csrf(request: Request, web: WebUser, form: FormData) -> None:
    token = form.get("csrf")
    if not web.session.csrf_ok(token if isinstance(token, str) else None):
        register_refusal(request, web.actor, "form without a valid CSRF token")
        raise Refused(403, Message("csrf", N_("This form did not come from this box's page or has expired (CSRF "
                                              "token missing or wrong). Reload the page and try again.")), web)


async def form_of(request: Request) -> FormData:
    """FastAPI dependency: the posted form, read before the (synchronous) handler runs."""
    return await request.form()


def text(form: FormData, name: str) -> str:
    v = form.get(name)
    return v.strip() if isinstance(v, str) else ""


def localizer(request: Request) -> Localizer:
    """The language (browser preference, else `[box] language`) and zone of this request."""
    return localizer_for(request)


def flash(request: Request, messages: dict[str, str], key: str) -> str:
    """The result message after a form post (`?msg=key`), in the reader's language; "" for none."""
    text = messages.get(key)
    return localizer(request).gettext(text) if text else ""


@pass_context
def ts(ctx: Context, us: int | None, seconds: bool = True) -> str:
    loc: Localizer = ctx["loc"]
    return loc.ts(us, seconds)


@pass_context
def iso_ts(ctx: Context, value: str | None) -> str:
    """An ISO 8601 time from the status document, in the box's zone."""
    loc: Localizer = ctx["loc"]
    return loc.iso_ts(value)


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def mbit(bps: float | None) -> str:
    return "-" if not bps else f"{bps / 1e6:.2f} Mbit/s"


def days(n: float) -> str:
    return f"{n:.1f}" if n < 10 else f"{n:,.0f}"


templates.env.filters.update(ts=ts, iso_ts=iso_ts, bytes=human_bytes, mbit=mbit, days=days, **texts.FILTERS)


def render(request: Request, web: WebUser | None, name: str, ctx: dict[str, Any] | None = None,
           status: int = 200, headers: dict[str, str] | None = None) -> Response:
    loc = localizer(request)
    nav = [(href, loc.gettext(label)) for href, label, roles in NAV if web is not None and web.role in roles]
    context = {"me": web, "nav": nav, "path": request.url.path, "loc": loc, "gettext": loc.gettext,
               "ngettext": loc.ngettext, "_": loc.gettext, **(ctx or {})}
    return templates.TemplateResponse(request, name, context, status_code=status, headers=headers)


def install_handlers(app: FastAPI) -> None:
    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return render(request, exc.web, "denied.html",
                      {"message": exc.message if isinstance(exc.message, Markup) else
                       localizer(request).message(exc.message), "status": exc.status}, status=exc.status)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(Refused, refused)
