from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def operator():
    call_command("create_groups", stdout=open("/dev/null", "w"))
    user = User.objects.create_user("operador", password="s3nha-forte-123")
    user.groups.add(Group.objects.get(name="Operadores"))
    return user


def _login(api, username="operador", password="s3nha-forte-123", ip="10.0.0.1"):  # noqa: S107 - test user
    return api.post(
        "/auth/login", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


def test_login_returns_access_and_refresh(api, operator):
    response = _login(api)
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_a_wrong_password_gets_401_and_no_token(api, operator):
    response = _login(api, password="errada")
    assert response.status_code == 401
    body = response.json()
    assert "access" not in body and "refresh" not in body
    assert body["message"]


def test_login_validation_error_has_the_error_shape(api):
    response = api.post("/auth/login", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["extra"]["fields"]


def test_api_requires_a_token(api, operator):
    assert api.get("/api/schema/").status_code in (401, 403)


def test_a_tampered_token_gets_401(api, operator):
    access = _login(api).json()["access"]
    head, payload, signature = access.split(".")
    tampered = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tampered}")
    assert api.get("/api/schema/").status_code == 401


def test_an_expired_token_gets_401(api, operator):
    token = AccessToken.for_user(operator)
    token.set_exp(lifetime=-dt.timedelta(minutes=1))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/schema/").status_code == 401


def test_a_valid_token_opens_the_api(api, operator):
    access = _login(api).json()["access"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api.get("/api/schema/").status_code == 200


def test_refresh_rotates_and_logout_blacklists(api, operator):
    tokens = _login(api).json()
    refreshed = api.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh"] != tokens["refresh"]
    # The rotated-out refresh token is blacklisted.
    assert api.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {new['access']}")
    assert api.post("/auth/logout", {"refresh": new["refresh"]}, format="json").status_code == 205
    assert api.post("/auth/refresh", {"refresh": new["refresh"]}, format="json").status_code == 401


def test_logout_ends_the_access_token_it_came_with(api, operator):
    """Found in the last round: an access token kept working after logout until it expired."""
    tokens = _login(api).json()
    other = _login(api).json()  # another device of the same user
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.get("/api/schema/").status_code == 200
    assert api.post("/auth/logout", {"refresh": tokens["refresh"]}, format="json").status_code == 205
    refused = api.get("/api/schema/")
    assert refused.status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other['access']}")
    assert api.get("/api/schema/").status_code == 200


def test_refresh_with_garbage_gets_401(api):
    assert api.post("/auth/refresh", {"refresh": "not-a-token"}, format="json").status_code == 401


def test_login_is_rate_limited_per_ip_with_retry_after(api, operator):
    statuses = [_login(api, password="errada", ip="10.9.9.9").status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    response = _login(api, ip="10.9.9.9")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_login_is_rate_limited_per_username_across_ips(api, operator):
    statuses = [_login(api, password="errada", ip=f"10.1.1.{i}").status_code for i in range(6)]
    assert statuses[-1] == 429


def test_a_user_without_a_role_cannot_use_the_api(api):
    User.objects.create_user("semgrupo", password="s3nha-forte-123")
    access = _login(api, username="semgrupo").json()["access"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert "permissão" in response.content.decode()


# --- brute force on the page logins (dashboard and admin): the same limit as /auth/login -------------------


@pytest.fixture
def staff():
    return User.objects.create_user(
        "chefe", password="s3nha-forte-123", email="chefe@example.com", is_staff=True, is_superuser=True
    )


def _page_login(client, path, username, password, ip="10.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize(("path", "who"), [("/accounts/login/", "operador"), ("/admin/login/", "chefe")])
def test_page_logins_lock_out_after_five_attempts_per_ip(client, operator, staff, path, who):
    statuses = [_page_login(client, path, who, "errada", ip="10.7.7.7").status_code for _ in range(5)]
    assert statuses == [200] * 5  # the form again, with its error

    response = _page_login(client, path, who, "s3nha-forte-123", ip="10.7.7.7")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Muitas tentativas de login" in response.content.decode()
    assert not _logged_in(client)


@pytest.mark.parametrize(("path", "who"), [("/accounts/login/", "operador"), ("/admin/login/", "chefe")])
def test_page_logins_lock_out_per_username_across_ips(client, operator, staff, path, who):
    for i in range(5):
        _page_login(client, path, who.upper(), "errada", ip=f"10.2.2.{i}")

    response = _page_login(client, path, who, "s3nha-forte-123", ip="10.3.3.3")

    assert response.status_code == 429
    assert not _logged_in(client)


def test_one_counter_for_the_three_logins(client, api, staff):
    _login(api, username="chefe", password="errada", ip="10.4.4.1")
    _login(api, username="chefe", password="errada", ip="10.4.4.2")
    _page_login(client, "/accounts/login/", "chefe", "errada", ip="10.4.4.3")
    _page_login(client, "/accounts/login/", "chefe", "errada", ip="10.4.4.4")
    _page_login(client, "/admin/login/", "chefe", "errada", ip="10.4.4.5")

    assert _page_login(client, "/admin/login/", "chefe", "s3nha-forte-123", ip="10.4.4.6").status_code == 429
    assert _login(api, username="chefe", ip="10.4.4.7").status_code == 429


def test_a_locked_out_user_can_still_reset_the_password(client, staff, mailoutbox):
    for _ in range(6):
        _page_login(client, "/accounts/login/", "chefe", "errada", ip="10.5.5.5")
    locked = _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.5.5.5")
    assert locked.status_code == 429
    assert "/accounts/password_reset/" in locked.content.decode()

    assert client.get("/accounts/password_reset/", REMOTE_ADDR="10.5.5.5").status_code == 200
    sent = client.post("/accounts/password_reset/", {"email": "chefe@example.com"}, REMOTE_ADDR="10.5.5.5")
    assert sent.status_code == 302
    assert len(mailoutbox) == 1
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/reset/" in line).strip()
    form = client.get(link.split("testserver", 1)[-1], follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "outra-s3nha-forte-456", "new_password2": "outra-s3nha-forte-456"},
    )
    assert done.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password("outra-s3nha-forte-456")


# --- tokens after a password change or a deactivation ----------------------------------------------------


def _with_token(api, access):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


def test_a_password_change_revokes_old_access_and_refresh_tokens(api, operator):
    tokens = _login(api).json()
    rotated = api.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()
    assert _with_token(api, rotated["access"]).get("/api/clients/").status_code == 200

    operator.set_password("outra-s3nha-forte-456")
    operator.save()

    assert _with_token(api, tokens["access"]).get("/api/clients/").status_code == 401
    assert _with_token(api, rotated["access"]).get("/api/clients/").status_code == 401
    api.credentials()
    for refresh in (tokens["refresh"], rotated["refresh"]):
        assert api.post("/auth/refresh", {"refresh": refresh}, format="json").status_code == 401
    fresh = _login(api, password="outra-s3nha-forte-456").json()
    assert _with_token(api, fresh["access"]).get("/api/clients/").status_code == 200


def test_a_password_reset_by_e_mail_revokes_the_tokens_too(api, client, operator, mailoutbox):
    operator.email = "operador@example.com"
    operator.save()
    tokens = _login(api).json()
    client.post("/accounts/password_reset/", {"email": "operador@example.com"})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/reset/" in line).strip()
    form = client.get(link.split("testserver", 1)[-1], follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "outra-s3nha-forte-456", "new_password2": "outra-s3nha-forte-456"},
    )

    assert _with_token(api, tokens["access"]).get("/api/clients/").status_code == 401
    api.credentials()
    assert api.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_a_deactivation_revokes_the_refresh_tokens_for_good(api, operator):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    tokens = _login(api).json()
    operator.is_active = False
    operator.save()

    outstanding = OutstandingToken.objects.filter(user=operator)
    assert outstanding.exists()
    assert BlacklistedToken.objects.filter(token__in=outstanding).count() == outstanding.count()
    assert _with_token(api, tokens["access"]).get("/api/clients/").status_code == 401

    operator.is_active = True  # reactivated: the old refresh token stays revoked
    operator.save()
    api.credentials()
    assert api.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_the_refresh_token_of_a_deleted_user_gets_401(api, operator):
    tokens = _login(api).json()
    operator.delete()
    assert api.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_an_unrelated_save_keeps_the_tokens(api, operator):
    tokens = _login(api).json()
    operator.first_name = "Ana"
    operator.save()
    assert _with_token(api, tokens["access"]).get("/api/clients/").status_code == 200
    api.credentials()
    assert api.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 200


# --- behind a reverse proxy: the client's address, not the proxy's ------------------------------------------


def test_behind_a_proxy_the_login_limit_is_per_client_not_one_for_everyone(client, operator, staff, settings):
    settings.BEHIND_PROXY = True
    proxy = "10.0.0.254"
    for _ in range(5):
        client.post(
            "/accounts/login/",
            {"username": f"x{_}", "password": "errada"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )
    attacker = client.post(
        "/accounts/login/",
        {"username": "y", "password": "errada"},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert attacker.status_code == 429
    # Another client behind the same proxy still logs in; a forged left-hand entry changes nothing.
    other = client.post(
        "/accounts/login/",
        {"username": "operador", "password": "s3nha-forte-123"},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.20",
    )
    assert other.status_code == 302


def test_without_a_proxy_a_forged_x_forwarded_for_does_not_dodge_the_limit(client, operator, settings):
    settings.BEHIND_PROXY = False
    for i in range(5):
        client.post(
            "/accounts/login/",
            {"username": f"x{i}", "password": "errada"},
            REMOTE_ADDR="198.51.100.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        )
    response = client.post(
        "/accounts/login/",
        {"username": "operador", "password": "s3nha-forte-123"},
        REMOTE_ADDR="198.51.100.9",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )
    assert response.status_code == 429


def test_a_refresh_token_without_the_password_claim_is_refused_at_refresh(api, operator):
    """Issued before the claim existed (or for an older password): refusing it at refresh gives the caller a
    clear 401 instead of access tokens that fail on every request."""
    from rest_framework_simplejwt.tokens import RefreshToken

    token = RefreshToken.for_user(operator)
    del token["hash_password"]
    response = api.post("/auth/refresh", {"refresh": str(token)}, format="json")
    assert response.status_code == 401
    assert response.json()["extra"]["code"] == "token_not_valid"


# --- only failed attempts count: a user who types the right password is never locked out by it --------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_successful_page_logins_do_not_count_toward_the_limit(client, staff, path):
    for _ in range(8):
        response = _page_login(client, path, "chefe", "s3nha-forte-123", ip="10.6.6.6")
        assert response.status_code == 302
        client.logout()


def test_successful_logins_on_the_three_endpoints_do_not_lock_the_next_one(client, api, staff):
    """The operator's report: three dashboard logins, then the admin login refused with the right password."""
    for _ in range(3):
        assert (
            _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.6.6.7").status_code
            == 302
        )
        client.logout()
    for _ in range(3):
        assert _login(api, username="chefe", ip="10.6.6.7").status_code == 200

    assert _page_login(client, "/admin/login/", "chefe", "s3nha-forte-123", ip="10.6.6.7").status_code == 302


def test_a_success_clears_the_username_failures_but_not_the_ip_ones(client, operator, staff):
    # Four typos, then the right password: the username's count starts over...
    for i in range(4):
        _page_login(client, "/accounts/login/", "chefe", "errada", ip=f"10.8.8.{i}")
    assert (
        _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.8.9.1").status_code == 302
    )
    client.logout()
    for i in range(4):
        assert _page_login(client, "/accounts/login/", "chefe", "errada", ip=f"10.8.7.{i}").status_code == 200
    assert (
        _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.8.9.2").status_code == 302
    )
    client.logout()

    # ...but the IP's does not: four failures on other names and one success from it still leave one try.
    for i in range(4):
        _page_login(client, "/accounts/login/", f"x{i}", "errada", ip="10.8.6.6")
    assert (
        _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.8.6.6").status_code == 302
    )
    client.logout()
    _page_login(client, "/accounts/login/", "x9", "errada", ip="10.8.6.6")
    assert (
        _page_login(client, "/accounts/login/", "operador", "s3nha-forte-123", ip="10.8.6.6").status_code
        == 429
    )


def test_a_username_locked_by_strangers_still_logs_in_from_an_address_it_used_before(client, operator, staff):
    """Third outside test: anyone who knows a username can lock its owner out with 5 wrong passwords a
    minute. From an address the user logged in from recently the username's lock does not apply (the
    address's own limit still does); from any other address it does."""
    assert (
        _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.9.1.1").status_code == 302
    )
    client.logout()
    for i in range(6):
        _page_login(client, "/accounts/login/", "chefe", "errada", ip=f"10.9.2.{i}")
    assert (
        _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.9.3.3").status_code == 429
    )
    assert (
        _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.9.1.1").status_code == 302
    )
    client.logout()
    # The known address still has its own limit: guessing from it stops after LOGIN_RATE_LIMIT failures.
    for _ in range(5):
        _page_login(client, "/accounts/login/", "chefe", "errada", ip="10.9.1.1")
    assert (
        _page_login(client, "/accounts/login/", "chefe", "s3nha-forte-123", ip="10.9.1.1").status_code == 429
    )
