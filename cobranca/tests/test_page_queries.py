"""Every dashboard page within 15 queries (issue #13, "pages stay fast"), on data built by `load_volume` at a
modest size: the same shape as the 100,000-charge benchmark (bench/bench_pages.py), small enough for a test.
A page whose query count grows with the data fails here long before it is slow in production."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db.models import Count
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from billing.models import Campaign, Charge, Client, Dispatch, MessageTemplate, PromiseToPay
from cobranca.roles import OPERATORS
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db
MAX_QUERIES = 15


@pytest.fixture(autouse=True)
def _waha_down(settings):
    # The Sistema page pings WAHA: a closed loopback port answers at once.
    settings.WAHA_BASE_URL = "http://127.0.0.1:9"
    settings.WAHA_CONNECT_TIMEOUT = 0.2
    from whatsapp.client import get_client

    get_client.cache_clear()
    yield
    get_client.cache_clear()


@pytest.fixture
def volume(db):
    call_command("load_volume", charges=400, conversations=60, campaigns=6, stdout=open(os.devnull, "w"))


@pytest.fixture
def op_client(db) -> HttpClient:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = HttpClient()
    client.force_login(user)
    return client


def _pages() -> list[str]:
    year_ago = (timezone.localdate() - dt.timedelta(days=365)).isoformat()
    campaign = Campaign.objects.annotate(n=Count("dispatches")).order_by("-n").first()
    client = Client.objects.annotate(n=Count("charges")).order_by("-n", "pk").first()
    return [
        reverse("dashboard:painel"),
        reverse("dashboard:painel") + f"?inicio={year_ago}&fim={timezone.localdate().isoformat()}",
        reverse("dashboard:cobranca"),
        reverse("dashboard:campaign-new"),
        reverse("dashboard:campaign-detail", args=[campaign.pk]),
        reverse("dashboard:regua"),
        reverse("dashboard:regua") + f"?escolha={Charge.objects.order_by('pk').first().pk}",
        reverse("dashboard:inbox"),
        reverse("dashboard:conversation", args=[Conversation.objects.order_by("pk").first().pk]),
        reverse("dashboard:templates"),
        reverse("dashboard:template-edit", args=[MessageTemplate.objects.order_by("pk").first().pk]),
        reverse("dashboard:whatsapp-sessions"),
        reverse("dashboard:sistema"),
        reverse("dashboard:debtors"),
        reverse("dashboard:debtor", args=[client.pk]),
        reverse("dashboard:canned-replies"),
    ]


def test_load_volume_builds_every_kind_of_row_the_pages_read(volume):
    assert Charge.objects.count() == 400 and Client.objects.count() == 240
    assert Charge.objects.filter(status=Charge.Status.PAID, paid_at__isnull=False).exists()
    assert Dispatch.objects.filter(sent_at__isnull=False).exists()
    assert Conversation.objects.count() == 60 and Message.objects.filter(direction="in").exists()
    assert PromiseToPay.objects.filter(status=PromiseToPay.Status.KEPT).exists()


def test_load_volume_refuses_a_database_with_clients(volume):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="banco vazio"):
        call_command("load_volume", charges=10, conversations=1, stdout=open(os.devnull, "w"))


def test_every_dashboard_page_stays_within_the_query_budget(op_client, volume, django_assert_max_num_queries):
    for url in _pages():
        # The régua's forecast is kept for later views (cobranca/dashboard/regua_forecast.py): the budget
        # holds for every view after the first.
        op_client.get(url)
        with django_assert_max_num_queries(MAX_QUERIES, info=url):
            response = op_client.get(url)
        assert response.status_code == 200, url


def test_the_painel_stays_within_the_budget_with_its_rollup(op_client, volume, django_assert_max_num_queries):
    call_command("outcomes_rollup", "--all", stdout=open(os.devnull, "w"))
    for url in _pages()[:2]:
        op_client.get(url)
        with django_assert_max_num_queries(MAX_QUERIES, info=url):
            assert op_client.get(url).status_code == 200


def test_the_query_count_does_not_grow_with_the_data(op_client, volume, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def counts() -> dict[str, int]:
        out = {}
        for url in _pages():
            op_client.get(url)
            with CaptureQueriesContext(connection) as captured:
                op_client.get(url)
            out[url] = len(captured)
        return out

    before = counts()
    Conversation.objects.all().delete()  # load_volume needs an empty client table (and free chat ids)
    Client.objects.all().delete()
    call_command(
        "load_volume", charges=1200, conversations=150, campaigns=12, seed=7, stdout=open(os.devnull, "w")
    )
    after = counts()
    grown = {
        url: (before.get(url), n)
        for url, n in after.items()
        if before.get(url) is not None and n > before[url]
    }
    assert grown == {}
