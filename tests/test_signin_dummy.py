"""The dummy hash that unknown names are verified against: shipped (no 64 MiB hashing at every
daemon start) when it costs what the users' own hashes cost, made in the background otherwise."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher

from edge.access import users


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "_DUMMY_HASH", None)
    monkeypatch.setattr(users, "_DUMMY_READY", threading.Event())
    monkeypatch.setattr(users, "_DUMMY_STARTED", False)


class CountingHasher(PasswordHasher):
    made = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        CountingHasher.made += 1
        return super().hash(password, salt=salt)


def test_default_parameters_use_the_shipped_dummy_without_hashing(fresh: None) -> None:
    hasher = CountingHasher()
    CountingHasher.made = 0
    users._warm_dummy(hasher)
    assert users._DUMMY_READY.is_set() and users._DUMMY_HASH == users.FIXED_DUMMY_HASH
    assert CountingHasher.made == 0
    # It costs what a real user's hash costs: same algorithm and parameters as one made now.
    real = PasswordHasher().hash("a good long password")
    assert real.split("$")[1:4] == users.FIXED_DUMMY_HASH.split("$")[1:4]
    assert not hasher.check_needs_rehash(users.FIXED_DUMMY_HASH)


def test_other_parameters_get_a_dummy_made_with_them(fresh: None) -> None:
    hasher = CountingHasher(time_cost=1, memory_cost=8192, parallelism=1)
    CountingHasher.made = 0
    users._warm_dummy(hasher)
    assert users._DUMMY_READY.wait(30)
    assert CountingHasher.made == 1
    dummy = users._DUMMY_HASH
    assert dummy is not None and dummy != users.FIXED_DUMMY_HASH
    assert not hasher.check_needs_rehash(dummy), "the dummy must cost what this hasher's hashes cost"
