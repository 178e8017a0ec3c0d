"""What the certificate of the demo's EVX-24-001 says, read back from its PDF and its JSON:
marker names, superscript exponents, rows whole on a page, the manufacturer, the
signers' roles, only the required lines, the potency's confidence limits."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from pypdf import PdfReader

from releases.models import Certificate
from releases.services.certificates import certificate_issue
from releases.services.decisions import lot_approve, lot_release
from releases.services.reviews import lot_record_audit_trail_review, lot_record_result_review
from releases.templatetags.evformat import exponents
from services.accounts.context import AuthContext
from services.accounts.models import User

LOT = "EVX-24-001"
MANUFACTURER = "Vesicle Therapeutics GmbH"
ADDRESS = ("Musterstrasse 1", "12345 Berlin", "Germany")


def _release(password: str) -> int:
    def auth(username: str) -> AuthContext:
        return AuthContext.of(User.objects.get(username=username))

    lot_record_result_review(
        lot_number=LOT, auth=auth("reviewer"), password=password, comment="raw data checked"
    )
    lot_record_audit_trail_review(
        lot_number=LOT, auth=auth("qa"), password=password, comment="audit trail reviewed"
    )
    lot_approve(lot_number=LOT, auth=auth("qa"), password=password, reason="batch record reviewed")
    release = lot_release(
        lot_number=LOT, auth=auth("qp"), password=password, reason="certified per Annex 16"
    )
    return release.pk


def _pages(certificate: Certificate) -> list[str]:
    reader = PdfReader(io.BytesIO(certificate.document("pdf")[0]))
    # Whitespace flattened: a cell wraps its words onto lines as the column width allows.
    return [" ".join(page.extract_text().split()) for page in reader.pages]


@pytest.fixture
def issued(evaluated_demo: None, password: str, settings: Any) -> Certificate:
    settings.MANUFACTURER_NAME = MANUFACTURER
    settings.MANUFACTURER_ADDRESS = ADDRESS
    certificate = certificate_issue(disposition_id=_release(password))
    assert certificate is not None
    return certificate


@pytest.mark.django_db(transaction=True)
@pytest.mark.requirement("21CFR11.50")
def test_the_certificate_names_markers_signers_and_manufacturer(issued: Certificate) -> None:
    content = json.loads(issued.document("json")[0])
    lines = {line["test"]: line for line in content["lines"]}
    # ICH Q7 §11.43: the manufacturer's name and address.
    assert content["manufacturer"] == {"name": MANUFACTURER, "address": list(ADDRESS)}
    # Only required lines unless configured: total protein is information only.
    assert "BCA" not in lines and content["optional_lines_shown"] is False
    assert all(line["required"] for line in content["lines"])
    identity = lines["IDENTITY"]
    assert [v["label"] for v in identity["values"]][:3] == ["CD9", "CD63", "CD81"]
    assert identity["result"].startswith("CD9: detected; CD63: detected")
    assert "calnexin: not detected" in identity["result"]
    # The potency line carries the confidence limits the evaluation computed.
    assert re.fullmatch(
        r"95 % confidence limits \d+(\.\d+)?–\d+(\.\d+)? %", lines["POTENCY"]["confidence_limits"]
    )
    assert [s["role_text"] for s in content["signatures"]] == [
        "QC reviewer",
        "QA officer",
        "QA officer",
        "Qualified Person",
    ]

    pages = _pages(issued)
    text = "\n".join(pages)
    assert MANUFACTURER in text and "12345 Berlin" in text
    assert "CD9: detected" in text and "GM130: not detected" in text
    assert "Total protein" not in text
    assert "confidence limits" in text
    assert "Qualified Person" in text and "QC reviewer" in text
    # Exponents are superscripts, never a caret or an e-notation.
    assert "^" not in text and not re.search(r"(?<![\w.])\d+(\.\d+)?e[+-]?\d+(?![\w.])", text)
    assert re.search(r"1\.6\s*×\s*10\s*11", text), text
    # No row splits across a page break: each line's attribute and last value share a page.
    squeezed = ["".join(page.split()) for page in pages]
    for line in content["lines"]:
        attribute = "".join(line["attribute"].split())
        last = line["values"][-1] if line["values"] else {"label": "", "text": line["result"]}
        labelled = f"{last['label']}: {last['text']}" if last["label"] else last["text"]
        shown = "".join(labelled.replace("^", "").split())
        assert any(attribute in page and shown in page for page in squeezed), line["attribute"]


@pytest.mark.django_db(transaction=True)
def test_optional_lines_appear_when_configured(
    evaluated_demo: None, password: str, settings: Any
) -> None:
    settings.CERTIFICATE_OPTIONAL_LINES = True
    certificate = certificate_issue(disposition_id=_release(password))
    assert certificate is not None
    tests = [line["test"] for line in certificate.content["lines"]]
    assert "BCA" in tests and certificate.content["optional_lines_shown"] is True
    assert "Total protein" in "\n".join(_pages(certificate))


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("1.6×10^11 particles/mL", "1.6×10<sup>11</sup> particles/mL"),
        ("1.6e11", "1.6×10<sup>11</sup>"),
        ("2.05E+11 to 3e-2", "2.05×10<sup>11</sup> to 3×10<sup>−2</sup>"),
        ("<b>1e5</b>", "&lt;b&gt;1×10<sup>5</sup>&lt;/b&gt;"),
        ("digest 3e10ab, lot EVX-24-001", "digest 3e10ab, lot EVX-24-001"),
    ],
)
def test_exponents_become_superscripts_and_text_stays_escaped(text: str, html: str) -> None:
    assert exponents(text) == html
