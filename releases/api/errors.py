"""The release services' refusals as the API's answers (services/api/errors.py shape).

403: wrong role, machine client, wrong password (counted toward the lockout).
404: unknown lot or investigation.  400: malformed request.
409: the state does not allow it, with ``reasons``: every guard that failed; or a
     concurrent evaluation of the same lot won a lock race (nothing recorded).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg.errors
from django.db import OperationalError
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from releases.lifecycle import IllegalTransition
from releases.services.errors import InvalidRequest, NotAllowed, Refused
from releases.services.errors import NotFound as DomainNotFound
from services.api.errors import Conflict
from services.esign.services import SignatureRefused


@contextmanager
def release_errors() -> Iterator[None]:
    try:
        yield
    except Refused as exc:
        raise Conflict({"detail": exc.headline, "reasons": exc.reasons}) from exc
    except IllegalTransition as exc:
        raise Conflict({"detail": str(exc), "reasons": [str(exc)]}) from exc
    except InvalidRequest as exc:
        raise ValidationError({exc.field: [exc.reason]}) from exc
    except DomainNotFound as exc:
        raise NotFound(str(exc)) from exc
    except (NotAllowed, SignatureRefused) as exc:
        raise PermissionDenied(str(exc)) from exc
    except OperationalError as exc:
        # PostgreSQL broke a lock cycle with a concurrent evaluation of the same lot:
        # nothing was decided (the transaction rolled back); the signer may retry.
        if isinstance(exc.__cause__, psycopg.errors.DeadlockDetected):
            raise Conflict(
                {
                    "detail": "the lot changed while you signed; nothing was "
                    "recorded, please try again",
                    "reasons": ["concurrent update of the lot"],
                }
            ) from exc
        raise
