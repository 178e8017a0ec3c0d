"""A lockout an attacker cannot turn against the owner (21 CFR 11.300(d); OWASP ASVS V2).

The pair (user name, client address) is locked; one user name is slowed across
addresses; one address trying many user names gets 429; every lock is audited and
reported; a locked or deactivated account's open session ends.  127.0.0.1 and
127.0.0.2 are both this machine's loopback: the test client sets ``REMOTE_ADDR``.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessFailureLog
from django.core import mail
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from services.accounts import notices
from services.accounts.addresses import client_address
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.accounts.services import user_set_active, user_unlock
from services.accounts.throttle import login_throttle
from services.audit.actor import Actor
from services.audit.models import AuditEvent
from services.errors import TooManyAttempts
from services.esign.models import Meaning
from services.esign.services import SignatureRefused, signature_apply

pytestmark = [pytest.mark.django_db]

HOME, ELSEWHERE = "127.0.0.1", "127.0.0.2"


def login(username: str, password: str, address: str) -> Any:
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def fail(username: str, address: str, times: int = 1) -> Any:
    response = None
    for _ in range(times):
        response = login(username, "not the password", address)
    return response


@pytest.fixture
def mail_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.accounts.tasks import account_mail_send

    monkeypatch.setattr(
        notices.celery_app, "send_task", lambda name, args=(), **kw: account_mail_send(*args)
    )


@pytest.mark.requirement("21CFR11.300d")
def test_five_wrong_passwords_from_one_address_lock_that_address_only(
    qp: User,
    password: str,
    admin_user: User,
    mail_now: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    admin_user.email = "admin@example.invalid"
    admin_user.save()
    with django_capture_on_commit_callbacks(execute=True):
        locked = fail("qp", ELSEWHERE, times=5)
    assert locked.status_code == 403
    assert login("qp", password, ELSEWHERE).status_code == 403, "the right password too"

    assert login("qp", password, HOME).status_code == 302, "the owner still signs in"

    [event] = AuditEvent.objects.filter(action="user.locked")
    assert event.new_values["client_address"] == ELSEWHERE
    assert event.new_values["failures"] == 5
    assert event.object_id == str(qp.pk)
    [notice] = mail.outbox
    assert notice.to == ["admin@example.invalid"]
    assert "qp" in notice.subject and ELSEWHERE in notice.body
    # The refusal while locked is audited as a failure, but is not a second lock.
    assert AuditEvent.objects.filter(action="user.login_failed", object_id="qp").count() == 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.requirement("21CFR11.300d")
def test_wrong_signing_passwords_lock_the_signers_address_not_the_signer(
    qp: User, password: str
) -> None:
    def sign(address: str, secret: str) -> Any:
        return signature_apply(
            auth=AuthContext.of(qp, client_address=address),
            password=secret,
            meaning=Meaning.APPROVED,
            reason="x",
            record=qp,
        )

    for _ in range(5):
        with pytest.raises(SignatureRefused):
            sign(ELSEWHERE, "wrong")
    with pytest.raises(SignatureRefused) as refused:
        sign(ELSEWHERE, password)
    assert refused.value.code == "account_locked"
    assert sign(HOME, password).signer == qp
    assert AuditEvent.objects.get(action="user.locked").new_values["purpose"] == "signature"


@pytest.mark.requirement("21CFR11.10d")
def test_a_locked_accounts_open_session_is_refused_on_its_next_request(
    qa: User, password: str
) -> None:
    api = APIClient(REMOTE_ADDR=HOME)
    api.force_login(qa)
    ui = Client(REMOTE_ADDR=HOME)
    ui.force_login(qa)
    assert api.get("/api/v1/lots/").status_code == 200
    assert ui.get("/lots/").status_code == 200

    fail("qa", HOME, times=5)  # someone at the same address, or the owner's own typos

    refused = api.get("/api/v1/lots/")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "account_locked"
    assert api.get("/api/v1/lots/").status_code in {401, 403}, "the session is gone"
    page = ui.get("/lots/")
    assert page.status_code == 403 and b"Account locked" in page.content
    ended = AuditEvent.objects.filter(action="user.session_ended", object_id=str(qa.pk))
    assert ended.count() == 2
    assert ended.first().new_values == {"why": f"account locked for {HOME}"}


def test_a_lock_for_another_address_does_not_end_the_owners_session(
    qa: User, password: str
) -> None:
    api = APIClient(REMOTE_ADDR=HOME)
    api.force_login(qa)
    fail("qa", ELSEWHERE, times=5)
    assert api.get("/api/v1/lots/").status_code == 200


def test_a_deactivated_accounts_open_session_ends(qa: User) -> None:
    api = APIClient(REMOTE_ADDR=HOME)
    api.force_login(qa)
    assert api.get("/api/v1/lots/").status_code == 200
    user_set_active(actor=Actor.system("tests"), username="qa", is_active=False, reason="left")
    refused = api.get("/api/v1/lots/")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "account_inactive"
    assert AuditEvent.objects.filter(
        action="user.session_ended", new_values__why="account deactivated"
    ).exists()


@override_settings(LOGIN_SLOWDOWN_AFTER=100)  # ten failures would slow "qp" down otherwise
def test_unlocking_one_address_lifts_only_that_lock(qp: User, password: str) -> None:
    fail("qp", ELSEWHERE, times=5)
    fail("qp", "127.0.0.3", times=5)
    cleared = user_unlock(
        username="qp", client_address=ELSEWHERE, actor=Actor.system("tests"), reason="her"
    )
    assert cleared == 1
    assert login("qp", password, ELSEWHERE).status_code == 302
    assert login("qp", password, "127.0.0.3").status_code == 403


@override_settings(LOGIN_SLOWDOWN_AFTER=3, LOGIN_SLOWDOWN_DELAY=lambda excess: 30.0 * excess)
def test_one_user_name_failing_from_many_addresses_is_slowed_down(qp: User, password: str) -> None:
    for address in ("127.0.0.2", "127.0.0.3"):
        fail("qp", address)
    assert login("qp", password, "127.0.0.4").status_code == 302, "under the threshold"
    fail("qp", "127.0.0.5")  # the third failure: from now on, wait after each failure
    failures = AccessFailureLog.objects.count()

    slowed = login("qp", password, "127.0.0.6")
    assert slowed.status_code == 429
    assert 25 <= int(slowed["Retry-After"]) <= 30
    assert b"username_throttled" in slowed.content
    assert AccessFailureLog.objects.count() == failures, "a throttled attempt is no failure"

    # The owner's known address (a sign-in there before) is not slowed.
    assert login("qp", password, "127.0.0.4").status_code == 302

    # The delay grows with each failure, is bounded, and passes.
    fail("qp", "127.0.0.7")  # refused: throttled, not counted
    now = timezone.now()
    throttle = login_throttle(username="qp", client_address="127.0.0.8", now=now)
    assert throttle is not None and throttle.code == "username_throttled"
    later = now + timedelta(seconds=31)
    assert login_throttle(username="qp", client_address="127.0.0.8", now=later) is None
    with override_settings(LOGIN_SLOWDOWN_MAX_SECONDS=5):
        bounded = login_throttle(username="qp", client_address="127.0.0.8", now=now)
        assert bounded is not None and bounded.retry_after <= 5


@override_settings(LOGIN_ADDRESS_USERNAME_LIMIT=3)
def test_one_address_trying_many_user_names_gets_429(qa: User, password: str) -> None:
    for username in ("alice", "bob", "carol"):
        fail(username, "127.0.0.9")
    refused = login("qa", password, "127.0.0.9")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"address_throttled" in refused.content
    assert login("qa", password, HOME).status_code == 302


@pytest.mark.django_db(transaction=True)
@override_settings(LOGIN_SLOWDOWN_AFTER=1, LOGIN_SLOWDOWN_DELAY=lambda excess: 60.0)
def test_a_throttled_signature_answers_429_with_retry_after(qa: User, password: str) -> None:
    fail("qa", ELSEWHERE)
    with pytest.raises(TooManyAttempts) as throttled:
        signature_apply(
            auth=AuthContext.of(qa, client_address="127.0.0.3"),
            password=password,
            meaning=Meaning.APPROVED,
            reason="x",
            record=qa,
        )
    assert throttled.value.code == "username_throttled"
    assert throttled.value.retry_after > 0


def test_the_client_address_comes_from_trusted_proxies_only() -> None:
    factory = RequestFactory()
    forged = factory.get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_address(forged) == "198.51.100.1", "no proxy trusted: the socket address"
    proxies = [ipaddress.ip_network("10.0.0.0/8")]
    with override_settings(TRUSTED_PROXY_NETWORKS=proxies):
        assert client_address(forged) == "198.51.100.1", "the peer is no trusted proxy"
        behind = factory.get(
            "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7, 10.0.0.6"
        )
        assert client_address(behind) == "203.0.113.7", "the first untrusted hop from the right"
        only_proxies = factory.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="10.1.1.1")
        assert client_address(only_proxies) == "10.1.1.1"
        assert client_address(factory.get("/", REMOTE_ADDR="10.0.0.5")) == "10.0.0.5"


def test_lockout_counts_by_the_address_behind_a_trusted_proxy(qp: User, password: str) -> None:
    proxies = [ipaddress.ip_network("10.0.0.0/8")]

    def via_proxy(client: str, secret: str) -> Any:
        return Client(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=client).post(
            "/accounts/login/", {"username": "qp", "password": secret}
        )

    with override_settings(TRUSTED_PROXY_NETWORKS=proxies):
        for _ in range(5):
            via_proxy("203.0.113.7", "wrong")
        assert via_proxy("203.0.113.7", password).status_code == 403
        assert via_proxy("203.0.113.8", password).status_code == 302
    assert AuditEvent.objects.get(action="user.locked").new_values["client_address"] == (
        "203.0.113.7"
    )
