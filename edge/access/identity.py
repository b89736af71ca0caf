"""User names and work credential ids: one spelling per person (Art. 18's "two persons").

The two-person rule compares names and credentials, so two spellings of one identity must never
pass for two people: `O\u200b-1` (a zero-width space), `Ｏ-1` (full-width) and `o-1` are all
`O-1`. Values are normalised with NFKC; format (Cf) and control (Cc) characters, and anything
outside the documented character set, are refused, never silently dropped:

- user names: letters (any script) and digits, with `.`, `_` and `-` inside; 1 to 64
  characters; stored case-folded (`Officer-1` is the user `officer-1`);
- work credential ids: ASCII letters and digits, with `.`, `_`, `/` and `-` inside; 1 to 64
  characters; stored as given (after NFKC), compared case-insensitively.

Comparisons go through `name_key` / `credential_key`, which also fold values stored before this
rule existed, so an old confusable row cannot slip past the rule either.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 64
NAME_PUNCTUATION = frozenset("._-")
CREDENTIAL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?$")
NAME_RULE = "letters and digits, with '.', '_' or '-' between them, at most 64 characters"
CREDENTIAL_RULE = "ASCII letters and digits, with '.', '_', '/' or '-' between them, at most 64 characters"


class IdentityError(ValueError):
    """A user name or credential id outside the rules; the message names the field and the rule."""


def _invisible(value: str) -> str | None:
    for ch in value:
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Cc", "Co", "Cs", "Cn") or (cat.startswith("Z") and ch != " "):
            return f"U+{ord(ch):04X} ({unicodedata.name(ch, cat)})"
    return None


def _nfkc(value: str, what: str) -> str:
    bad = _invisible(value)
    if bad is not None:
        raise IdentityError(f"{what}: contains the invisible or control character {bad}")
    out = unicodedata.normalize("NFKC", value.strip())
    if not out:
        raise IdentityError(f"{what}: must not be empty")
    if len(out) > MAX_LENGTH:
        raise IdentityError(f"{what}: longer than {MAX_LENGTH} characters")
    return out


def normalise_name(value: str) -> str:
    """The stored form of a user name (NFKC, case-folded), or IdentityError."""
    out = _nfkc(value, "user name").casefold()
    ok = all(unicodedata.category(c)[0] == "L" or unicodedata.category(c) == "Nd" or c in NAME_PUNCTUATION
             for c in out)
    if not ok or out[0] in NAME_PUNCTUATION or out[-1] in NAME_PUNCTUATION:
        raise IdentityError(f"user name: '{value}' is not allowed (use {NAME_RULE})")
    return out


def normalise_credential(value: str) -> str:
    """The stored form of a work credential id (NFKC, case kept), or IdentityError."""
    out = _nfkc(value, "work credential id")
    if not CREDENTIAL.match(out):
        raise IdentityError(f"work credential id: '{value}' is not allowed (use {CREDENTIAL_RULE})")
    return out


def _fold(value: str) -> str:
    """Comparison key for any stored value: NFKC, case-folded, with invisible characters removed."""
    kept = "".join(c for c in unicodedata.normalize("NFKC", value)
                   if not (unicodedata.category(c).startswith("C") or unicodedata.category(c).startswith("Z")))
    return kept.casefold()


def name_key(value: str) -> str:
    return _fold(value)


def credential_key(value: str) -> str:
    return _fold(value)


def same_person(name_a: str, credential_a: str, name_b: str, credential_b: str) -> str | None:
    """Why the two identities are one person (same account or same credential), or None."""
    if name_key(name_a) == name_key(name_b):
        return "same account"
    if credential_key(credential_a) == credential_key(credential_b):
        return "same work credential"
    return None
