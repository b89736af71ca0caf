"""/login and /logout: a token or a user name and password, a server-side session cookie.

Failures are throttled per source with the API's own throttle (`UserStore.throttle`) and
registered as `auth_failure`, like failed tokens. The login form has its own CSRF token
(double submit: a random cookie and the same value in the form), so another site cannot sign a
visitor into an account of its choosing.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.auth import client_source, daemon_of
from api.web.deps import Refused, WebUser, check_csrf, form_of, localizer, render, sessions_of, text, web_user
from api.web.session import COOKIE, LOGIN_COOKIE
from edge.i18n.message import N_, Message
from storage.register import Actor

router = APIRouter(include_in_schema=False)
Form = Annotated[FormData, Depends(form_of)]


def _safe_next(value: str) -> str:
    """Only paths on this box: an open redirect would make the login page a phishing tool."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(request: Request, error: str = "", status: int = 200, next_path: str = "/",
                name: str = "") -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    # `error` is a catalog text (the sign-in's own messages), shown in the reader's language.
    shown = localizer(request).gettext(error) if error else ""
    resp = render(request, None, "login.html", {"csrf": nonce, "error": shown, "next": next_path, "name": name},
                  status=status, headers={"Retry-After": "60"} if status == 429 else None)
    resp.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict", secure=_secure(request))
    return resp


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    if sessions_of(request).resolve(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_path=_safe_next(next))


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    d = daemon_of(request)
    source = client_source(request)
    anonymous = Actor("anonymous", "none", "", source)
    next_path = _safe_next(text(form, "next") or "/")
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    presented = text(form, "csrf")
    if not nonce or not presented or not hmac.compare_digest(nonce.encode(), presented.encode()):
        d.register.append(anonymous, "access_denied", result="refused",
                          detail={"method": "POST", "path": "/login",
                                  "reason": "login form without a valid CSRF token"})
        raise Refused(403, Message("login_csrf", N_("This login form did not come from this box's page or has "
                                                    "expired. Reload the page and try again.")))
    token, name, password = text(form, "token"), text(form, "name"), str(form.get("password") or "")

    def failure(status: int, reason: str, shown: str, record: bool = True) -> Response:
        if record:
            d.register.append(anonymous, "auth_failure", result="refused",
                              detail={"method": "POST", "path": "/login", "reason": reason, "user": name})
        return _login_page(request, shown, status, next_path, name)

    throttle = d.users.throttle
    if throttle.blocked(source):
        # As for tokens: the first refusal of a throttled source per window is registered, not a flood.
        return failure(429, "too many failed authentications from this address; retry later",
                       N_("Too many failed sign-ins from this address. Wait a minute and try again."),
                       record=throttle.report_block(source))
    if token:
        user = d.users.by_token(token)
    elif name and password:
        user = d.users.by_password(name, password)
    else:
        return _login_page(request, N_("Enter your API token, or your user name and password."), 400, next_path, name)
    if user is None:
        throttle.failed(source)
        return failure(401, "invalid token" if token else "invalid user name or password",
                       N_("Sign-in failed: wrong token, or wrong user name or password (or the account is disabled)."))
    session_id = sessions_of(request).create(user, source)
    d.register.append(Actor(user.name, user.role.value, user.credential_id, source), "sign_in",
                      detail={"via": "web", "method": "token" if token else "password"})
    resp = RedirectResponse(next_path, status_code=303)
    # No max-age: the cookie ends with the browser; the server ends the session after IDLE_US idle.
    resp.set_cookie(COOKIE, session_id, httponly=True, samesite="strict",
                    secure=_secure(request), path="/")
    resp.delete_cookie(LOGIN_COOKIE, httponly=True, samesite="strict")
    return resp


@router.post("/logout")
def logout(request: Request, form: Form, web: Annotated[WebUser, Depends(web_user)]) -> Response:
    check_csrf(request, web, form)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        sessions_of(request).end(cookie)
    daemon_of(request).register.append(web.actor, "sign_out", detail={"via": "web"})
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp
