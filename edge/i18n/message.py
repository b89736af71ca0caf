"""A text shown to people, kept apart from its language: a stable code, an English text, parameters.

Domain code (edge/access, edge/recording ...) says *what* it refuses with a `Message`; it does not
know who reads it. The page and the API translate it where it is shown (`Localizer.message`), in
the reader's language; the register and logs keep the English (`str(message)`), and API clients
read the stable `code` and `params`, never the words.

`N_` marks a text for the catalog without translating it (pybabel extract's default keyword):
`scripts/compile_catalogs.py --check` and tests/test_i18n.py find every marked text that the
Chinese catalog lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(text: str) -> str:  # noqa: N802 - gettext's conventional name for "mark, do not translate"
    return text


@dataclass(frozen=True)
class Message:
    #: Stable and machine-readable (`self_approval`, `pending_cap` ...): what API clients test.
    code: str
    #: The English text with `%(name)s` placeholders: the catalog's msgid.
    text: str
    #: Values for the placeholders; a `Message` value is translated too (a state, a noun).
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.render(lambda text: text)

    def render(self, gettext: Any) -> str:
        """The text through `gettext` (a str → str), its parameters filled in (translated too)."""
        params = {k: _param(v, gettext) for k, v in self.params.items()}
        text: str = gettext(self.text)
        if not params:
            return text
        try:
            return text % params
        except (KeyError, ValueError, TypeError):
            # A translation naming a parameter the code does not give: the English is still right.
            return self.text % params

    def to_json(self) -> dict[str, Any]:
        """The machine-readable part: the code and the parameters (nested messages by their code)."""
        return {"code": self.code,
                "params": {k: (v.code if isinstance(v, Message) else
                               [x.code for x in v] if isinstance(v, list | tuple) else v)
                           for k, v in self.params.items()}}


def _param(value: Any, gettext: Any) -> Any:
    if isinstance(value, Message):
        return value.render(gettext)
    if isinstance(value, list | tuple) and all(isinstance(v, Message) for v in value):
        return ", ".join(v.render(gettext) for v in value)
    return value


def term(word: str) -> Message:
    """A single word from the catalog used as a parameter (a state such as `approved`)."""
    return Message(word, word)
