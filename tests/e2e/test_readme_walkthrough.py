"""The README's walk-throughs run exactly as written, on the demo, and end as they say.

Every ``sh`` block of the README's sections "Accounts, roles and machine clients",
"API overview" and "Releasing a lot" runs, in order, in one ``bash`` (``set -eu``),
as a person would paste them in a second terminal beside ``make run``: against a
gunicorn serving the test database with the demo seeded and a real Celery worker
(evaluation and documents queues), with ``PORT`` set to that gunicorn's port.
The blocks' outputs are then held to what the README says about them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from services import embedded
from tests.fixtures.celery_worker import current_broker_url, database_url_of_test_db

BASE_DIR = embedded.BASE_DIR
README = BASE_DIR / "README.md"
WALKTHROUGH_SECTIONS = ("Accounts, roles and machine clients", "API overview", "Releasing a lot")
MARK = "@@ README block {} @@"
TOOLS = ("bash", "curl", "awk", "grep", "sha256sum", "date", "tail")


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def fenced(body: str, language: str) -> list[str]:
    """The fenced blocks of ``language`` in ``body``, dedented (a list item's too)."""
    blocks = []
    for match in re.finditer(rf"^( *)```{language}\n(.*?)^\1```$", body, flags=re.M | re.S):
        indent = len(match.group(1))
        blocks.append("".join(line[indent:] for line in match.group(2).splitlines(True)))
    return blocks


def walkthrough_blocks() -> list[str]:
    found = sections(README.read_text(encoding="utf-8"))
    return [block for title in WALKTHROUGH_SECTIONS for block in fenced(found[title], "sh")]


def test_the_walkthrough_blocks_are_found() -> None:
    blocks = walkthrough_blocks()
    assert len(blocks) >= 10
    assert all("127.0.0.1:8000" not in block for block in blocks)  # ${PORT:-8000}


class Web:
    """gunicorn on the test database, configured as ``make run`` configures it."""

    def __init__(self, log_path: Path) -> None:
        self.port = embedded.free_port()
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=database_url_of_test_db(),
            REDIS_URL=current_broker_url(),
            EVRELEASE_TESTING="true",  # the same password hasher as this process
            DEBUG="true",
            LOG_FORMAT="console",
            PORT=str(self.port),
        )
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "gunicorn", "services.wsgi:application"),
                    *("--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4"),
                    "--no-control-socket",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.log_path = log_path

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                url = f"http://127.0.0.1:{self.port}/healthz/ready"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"gunicorn did not become ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    server = Web(tmp_path / "gunicorn.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def run_walkthrough(web: Web, workdir: Path) -> tuple[str, list[str]]:
    """Run the blocks in a checkout-like folder (``.venv`` and ``manage.py``, linked)."""
    (workdir / ".venv").symlink_to(BASE_DIR / ".venv")
    (workdir / "manage.py").symlink_to(BASE_DIR / "manage.py")
    script = ["set -eu"]
    for number, block in enumerate(walkthrough_blocks()):
        script += [f"printf '\\n%s\\n' '{MARK.format(number)}'", block]
    (workdir / "walkthrough.sh").write_text("\n".join(script), encoding="utf-8")
    result = subprocess.run(
        ["bash", "walkthrough.sh"],
        cwd=workdir,
        env=web.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout
    (workdir / "walkthrough.out").write_text(output + result.stderr, encoding="utf-8")
    assert result.returncode == 0, f"{output[-4000:]}\n{result.stderr[-4000:]}"
    pieces = re.split(r"\n@@ README block \d+ @@\n", output)
    return output, pieces[1:]


def json_documents(text: str) -> list[Any]:
    """Every JSON object printed in ``text`` (curl prints them back to back)."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        try:
            document, end = decoder.raw_decode(text, at)
        except ValueError:
            at += 1
            continue
        documents.append(document)
        at = end
    return documents


def block_output(outputs: list[str], needle: str) -> str:
    """The output of the (first) block whose text contains ``needle``."""
    for block, output in zip(walkthrough_blocks(), outputs, strict=True):
        if needle in block:
            return output
    raise AssertionError(f"no README block contains {needle!r}")


@pytest.mark.worker
def test_the_readme_walkthrough_runs_as_written_and_ends_as_it_says(
    transactional_db: None, celery_worker_factory: Any, web: Web, tmp_path: Path
) -> None:
    from qc.models import Lot
    from releases.models import Certificate

    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the README's commands need {', '.join(missing)}, not installed here")
    if not (BASE_DIR / ".venv" / "bin" / "python").exists():
        pytest.skip("the README's commands use .venv/bin/python (make creates it)")

    celery_worker_factory("evaluation,documents", "readme")
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    wait_for(
        lambda: Lot.objects.filter(lot_number="EVX-24-001", status="ready_for_review").exists(),
        timeout=60,
        what="the demo's evaluations",
    )
    workdir = tmp_path / "checkout"
    workdir.mkdir()

    output, outputs = run_walkthrough(web, workdir)

    # Accounts: the new key reads, the revoked one gets 401.
    assert block_output(outputs, "revoke_api_client").strip().endswith("401")
    # 2. The lot: registered, quarantined, not expired.
    (lot,) = json_documents(block_output(outputs, '"lot_number": "$LOT"'))
    assert lot["status"] == "quarantined" and lot["specification"]["version"] == 1
    assert lot["expires_on"] > time.strftime("%Y-%m-%d", time.gmtime())
    # 3. The NTA run's control, converted to the test's unit.
    (run,) = json_documents(block_output(outputs, '"external_run_id": "NTA-$DAY-1"'))
    assert run["controls"][0]["canonical_value"] == "101"
    # 4. The receipt of a results POST has exactly the fields the README lists.
    (receipt,) = json_documents(block_output(outputs, "Idempotency-Key: results-$LOT-1"))
    assert set(receipt) == {"lot", "lot_status", "data_version", "received_at", "count", "results"}
    assert set(receipt["results"][0]) == {
        *("index", "id", "test", "canonical_value", "canonical_unit", "qualifier"),
        "text_value",
    }
    assert receipt["lot_status"] == "in_testing"
    assert receipt["results"][1]["canonical_value"] == "210000000000"
    # 4. The refused request answers what the README shows.
    api = sections(README.read_text(encoding="utf-8"))["API overview"]
    (answer,) = json_documents(block_output(outputs, "results-$LOT-typos"))
    (shown,) = [json.loads(block) for block in fenced(api, "json")]
    assert answer == shown, json.dumps(answer, ensure_ascii=False)
    # 6. The walk-through's lot conforms, and QA's impact preview shows EVX-24-001.
    evaluation = json_documents(block_output(outputs, '"stale":false'))[0]
    assert (evaluation["verdict"], evaluation["stale"]) == ("conforms", False), evaluation
    walkthrough_lot = Lot.objects.get(lot_number=lot["lot_number"])
    assert walkthrough_lot.status == "ready_for_review"
    impact_output = block_output(outputs, "spec_impact EVX-MSC-01 --spec-version 2")
    (impact,) = json_documents(impact_output)
    assert [(c["lot_number"], c["new_verdict"]) for c in impact["changes"]] == [
        ("EVX-24-001", "does_not_conform")
    ]
    assert re.search(r"EVX-24-001 +conforms +-> does_not_conform +CHANGES\n", impact_output)
    # Releasing: EVX-24-001 released with its certificate; EVX-24-002 refused (409).
    released = Lot.objects.get(lot_number="EVX-24-001")
    assert released.status == "released", output[-3000:]
    certificate = Certificate.objects.get(lot=released)
    headers = (workdir / "coa.headers").read_text()
    assert certificate.document("pdf")[1] in headers
    assert Lot.objects.get(lot_number="EVX-24-002").status != "approved"
    refusal = json_documents(block_output(outputs, "lots/EVX-24-002/approve/"))
    assert any("endotoxin" in json.dumps(doc).lower() for doc in refusal), refusal
