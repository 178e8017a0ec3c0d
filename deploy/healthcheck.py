"""HTTP health probe for containers without curl (python:3.11-slim).

    python deploy/healthcheck.py [PATH]     # default /healthz/live

Asks the gunicorn in this container (127.0.0.1:$PORT) for PATH and exits 0 on a
2xx answer, 1 otherwise.  The Host header is the first entry of ALLOWED_HOSTS, so
Django's host validation accepts the probe in any deployment.  Standard library
only: it must not import Django (a probe has to be cheap).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 4.0


def probe_host(allowed_hosts: str) -> str:
    """A Host header value that Django's ALLOWED_HOSTS accepts."""
    for entry in (item.strip() for item in allowed_hosts.split(",")):
        if not entry:
            continue
        if entry == "*":
            return "localhost"
        return entry.lstrip(".")  # ".example.com" also allows "example.com"
    return "127.0.0.1"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz/live"
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": probe_host(os.environ.get("ALLOWED_HOSTS", ""))},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http on loopback
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"healthcheck: {path}: {exc}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        return 0
    print(f"healthcheck: {path}: HTTP {status}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
