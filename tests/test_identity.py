"""Identity rules, credential redaction and rate-limited logging: the pure functions, plus
`edge user add` and `edge check` as real processes."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
from pathlib import Path

import pytest
from helpers import ROOT, base_sections, camera, edge_cmd, run_edge, write_config

from capture.redact import RedactingFilter, redact_text, redact_url
from edge.access.identity import IdentityError, normalise_credential, normalise_name, same_person
from edge.access.users import Role, User
from edge.access.workflow import Person, second_person_refusal
from edge.app.lograte import RateLimitFilter


@pytest.mark.parametrize("raw, stored", [("officer-1", "officer-1"), ("Officer-1", "officer-1"),
                                         ("\uff4f\uff46\uff46icer", "officer"), ("王警官", "王警官"),
                                         ("j.doe_2", "j.doe_2")])
def test_names_are_normalised(raw: str, stored: str) -> None:
    assert normalise_name(raw) == stored


@pytest.mark.parametrize("raw", ["officer\u200b-1", "off\u00adicer", "a\tb", "officer 1", "-lead", "x" * 65, "",
                                 "o\u202eb", "name!"])
def test_bad_names_are_refused_with_the_rule(raw: str) -> None:
    with pytest.raises(IdentityError, match="user name"):
        normalise_name(raw)


@pytest.mark.parametrize("raw, stored", [("PSB-1001", "PSB-1001"), ("\uff30\uff33\uff22-1001", "PSB-1001"),
                                         (" 12/34.5 ", "12/34.5")])
def test_credentials_are_normalised(raw: str, stored: str) -> None:
    assert normalise_credential(raw) == stored


@pytest.mark.parametrize("raw", ["O\u200b-1", "O\u2060-1", "PSB 1", "PSB-1\n", "ПСБ-1", "-1", "a" * 65])
def test_bad_credentials_are_refused_with_the_rule(raw: str) -> None:
    with pytest.raises(IdentityError, match="work credential id"):
        normalise_credential(raw)


def test_the_two_person_rule_compares_normalised_identities() -> None:
    officer = Person("officer-1", "O-1")
    for cred in ("O\u200b-1", "o-1", "\uff2f-1", " O-1 "):
        approver = User(9, "approver-x", Role.APPROVER, cred, False)
        assert "same work credential" in str(second_person_refusal(officer, approver) or ""), cred
    assert same_person("Officer-1", "X", "officer-1", "Y") == "same account"
    assert second_person_refusal(officer, User(9, "approver-x", Role.APPROVER, "A-1", False)) is None


def test_user_add_is_all_or_nothing_and_registered(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "edge.toml", base_sections(tmp_path / "store"),
                       [camera("gate-1", "rtsp://127.0.0.1:9/none")])

    def add(name: str, password: str | None, cred: str = "M-1") -> subprocess.CompletedProcess[str]:
        args = ["user", "add", "-c", str(cfg), name, "--role", "maintainer", "--credential-id", cred]
        return subprocess.run(edge_cmd(*args, *(["--password"] if password is not None else [])),
                              input=(password or "") + "\n", capture_output=True, text=True, timeout=60, cwd=ROOT)

    out = add("maint-1", "short")
    assert out.returncode != 0 and "at least 12 characters" in out.stdout and "nothing was created" in out.stdout
    out = add("maint-2", None, "M\u200b-2")
    assert out.returncode != 0 and "invisible" in out.stdout
    listed = run_edge("user", "list", "-c", str(cfg))
    assert "maint-1" not in listed.stdout and "maint-2" not in listed.stdout, "no half-made user"
    out = add("maint-1", "a long enough password")
    assert out.returncode == 0, out.stdout + out.stderr
    con = sqlite3.connect(tmp_path / "store" / "index.sqlite3")
    try:
        users = con.execute("SELECT name, password_argon2 IS NOT NULL FROM users").fetchall()
        entries = con.execute("SELECT subject, detail FROM register WHERE action='user_add'").fetchall()
    finally:
        con.close()
    assert users == [("maint-1", 1)]
    assert [e[0] for e in entries] == ["maint-1"] and '"password": true' in entries[0][1]


SECRET = "p@ssw0rd-AT"


@pytest.mark.parametrize("url, shown", [
    (f"rtsp://admin:{SECRET}@10.0.0.5/stream1", "rtsp://***@10.0.0.5/stream1"),
    (f"rtsp://admin:{SECRET}@[fe80::1]:8554/s", "rtsp://***@[fe80::1]:8554/s"),
    (f"rtsp://10.0.0.5/live?user=admin&password={SECRET}&channel=1",
     "rtsp://10.0.0.5/live?user=***&password=***&channel=1"),
    (f"rtsp://10.0.0.5/live;token={SECRET}", "rtsp://10.0.0.5/live;token=***"),
    ("rtsp://10.0.0.5/live?channel=1", "rtsp://10.0.0.5/live?channel=1"),
])
def test_redaction_covers_any_user_info_and_secret_parameters(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    text = redact_text(f"camera gate-1: cannot open '{url}': 401 Unauthorized")
    assert shown in text and "admin" not in text and SECRET not in text and "ssw0rd" not in text


def test_edge_check_and_log_lines_show_no_credentials(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "edge.toml", base_sections(tmp_path / "store"), [
        camera("gate-1", f"rtsp://admin:{SECRET}@10.0.0.5/stream1"),
        camera("gate-2", f"rtsp://10.0.0.6/live?user=admin&password={SECRET}")])
    out = run_edge("check", "-c", str(cfg))
    assert out.returncode == 0, out.stdout + out.stderr
    assert SECRET not in out.stdout and "ssw0rd" not in out.stdout and "admin" not in out.stdout
    assert "rtsp://***@10.0.0.5/stream1" in out.stdout and "password=***" in out.stdout
    record = logging.LogRecord("capture", logging.WARNING, __file__, 1, "failed: %s",
                               (f"rtsp://admin:{SECRET}@h/x?pwd={SECRET}",), None)
    RedactingFilter().filter(record)
    assert SECRET not in record.getMessage() and "ssw0rd" not in record.getMessage()


def test_repeated_warnings_are_rate_limited_per_cause() -> None:
    now = [0.0]
    limiter = RateLimitFilter(burst=3, window=60.0, clock=lambda: now[0])

    def record(msg: str, level: int = logging.ERROR, arg: object = 1) -> logging.LogRecord:
        return logging.LogRecord("asyncio", level, __file__, 1, msg, (arg,), None)

    passed = [limiter.filter(record("socket.accept() out of system resource %s", arg=i)) for i in range(1000)]
    assert passed.count(True) == 3, "one cause: a burst, then silence"
    assert limiter.filter(record("another cause %s")), "other causes are not held back"
    assert all(limiter.filter(record("segment %s closed", logging.INFO)) for _ in range(100)), "info is not limited"
    now[0] = 61.0
    again = record("socket.accept() out of system resource %s", arg="x")
    assert limiter.filter(again) and "997 similar line(s) suppressed" in again.getMessage()
