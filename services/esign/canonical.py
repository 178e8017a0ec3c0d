"""The canonical form of a signable record, and its digest.

A model is signable when it defines ``signature_content() -> dict``: the exact
fields the signer attests to.  The form is JSON with sorted keys and no
insignificant whitespace, so it is the same on every machine and every run.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from services.audit.chain import canonical_json, normalise


class Signable(Protocol):
    pk: Any

    def signature_content(self) -> dict[str, Any]: ...


def record_content(record: Signable) -> dict[str, Any]:
    content: dict[str, Any] = normalise(record.signature_content())
    return content


def content_digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
