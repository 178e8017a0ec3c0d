"""A JSON parser that keeps every number exactly as it was written.

ALCOA+ "original": a result posted as ``2.10e11`` is stored as ``2.10e11``, not as
the float ``210000000000.0``.  Numbers with a fraction or an exponent are parsed
into :class:`PostedFloat`, a subclass of ``float`` (so the rest of the stack treats
them as numbers) that carries the literal text in ``.text``; integers stay ``int``,
whose text is already exact.
``NaN`` and ``Infinity`` are read too, so the validation of the item that holds
one can name its index and field instead of refusing the whole body.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class PostedFloat(float):
    text: str


def _float(text: str) -> PostedFloat:
    number = PostedFloat(text)
    number.text = text
    return number


def posted_text(value: object) -> str | None:
    """The literal text of a posted JSON number, or ``None`` if ``value`` is not one."""
    if isinstance(value, PostedFloat):
        return value.text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def loads_exact(data: bytes | str) -> Any:
    """``json.loads`` keeping number literals (see the module docstring)."""
    return json.loads(data, parse_float=_float, parse_constant=_float)


class ExactJSONParser(JSONParser):
    """DRF parser for QC write endpoints: numbers keep their literal text."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        if stream is None:
            return None
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            return loads_exact(text)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:  # services.http refuses deep bodies first
            raise ParseError("JSON parse error - nested too deeply") from exc
