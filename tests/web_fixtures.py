"""Helpers for the page tests: a browser-like HTTP client that signs in through the login form."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


class WebClient:
    """One browser: a cookie jar, redirects not followed (tests look at them)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30.0, follow_redirects=False)
        self.csrf = ""

    def login(self, token: str | None = None, name: str = "", password: str = "", next_path: str = "/",
              expect: int = 303) -> httpx.Response:
        page = self.http.get("/login")
        assert page.status_code == 200, page.text
        data = {"csrf": csrf_of(page.text), "next": next_path, "token": token or "", "name": name,
                "password": password}
        r = self.http.post("/login", data=data)
        assert r.status_code == expect, (r.status_code, r.text[:500])
        if r.status_code == 303:
            self.csrf = csrf_of(self.get("/").text)
        return r

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any) -> httpx.Response:
        """A form post (list values repeat the field), with this session's CSRF token unless told not to."""
        body = {**({"csrf": self.csrf} if csrf else {}), **(data or {})}
        return self.http.post(path, data=body, **kw)

    def close(self) -> None:
        self.http.close()
