"""Régua API (/api/billing/reguas), dashboard page and admin: permissions, actions, preview, calendar, a
charge's reminders and the results per step."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import Charge, Dispatch
from billing.regua import reasons
from billing.regua.models import Regua
from billing.regua.run import regua_plan_run
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.roles import OPERATORS

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db):
    user = get_user_model().objects.create_user(
        username="integrador", password="x", is_staff=True, is_superuser=True
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def op_client(db, settings):
    settings.WAHA_BASE_URL = "http://127.0.0.1:9"
    user = get_user_model().objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
    client = HttpClient()
    client.force_login(user)
    return client


def test_the_api_refuses_anonymous_callers():
    assert APIClient().get("/api/billing/reguas").status_code in (401, 403)


def test_the_api_lists_the_default_regua_with_its_steps(api):
    body = api.get("/api/billing/reguas").json()
    default = next(r for r in body["results"] if r["slug"] == "default")
    assert default["status"] == "off" and default["is_default"] is True
    assert [s["code"] for s in default["steps"] if s["kind"] == "due"] == [
        "D-3",
        "D0",
        "D+1",
        "D+7",
        "D+15",
        "D+30",
    ]


def test_enable_pause_and_resume_through_the_api(api):
    assert api.post("/api/billing/reguas/default/enable", {}, format="json").json()["status"] == "active"
    paused = api.post("/api/billing/reguas/default/pause", {"reason": "férias"}, format="json").json()
    assert (paused["status"], paused["pause_reason"]) == ("paused", "férias")
    again = api.post("/api/billing/reguas/default/pause", {}, format="json")
    assert again.status_code == 409 and "message" in again.json()
    assert api.post("/api/billing/reguas/default/resume", {}, format="json").json()["status"] == "active"
    assert api.get("/api/billing/reguas/nenhuma").status_code == 404


def test_pausing_a_regua_pauses_its_messages_of_the_day_and_stops_planning(api):
    Regua.objects.filter(slug="default").update(send_window="always", skip_carnival=False)
    api.post("/api/billing/reguas/default/enable", {}, format="json")
    ChargeFactory(due_date=timezone.localdate())
    regua_plan_run()
    campaign = Regua.objects.get(slug="default").campaigns.get()
    api.post("/api/billing/reguas/default/pause", {}, format="json")
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    ChargeFactory(due_date=timezone.localdate())
    assert regua_plan_run()["planned"] == 0


def test_preview_api_answers_the_command_lines_and_a_bad_date_is_a_400(api):
    day = dt.date(2026, 12, 9)
    charge = ChargeFactory(due_date=day, external_id="FAT-77")
    body = api.get(f"/api/billing/reguas/preview?date={day.isoformat()}").json()
    assert body["planned"][0]["charge"] == "FAT-77" and body["planned"][0]["client"] == charge.client_id
    bad = api.get("/api/billing/reguas/preview?date=09/12/2026")
    assert bad.status_code == 400 and bad.json()["extra"]["field"] == "date"


def test_calendar_api_counts_messages_per_day_and_step(api):
    Regua.objects.filter(slug="default").update(send_window="always", skip_carnival=False)  # still off
    today = timezone.localdate()
    client = ClientFactory()
    ChargeFactory(client=client, due_date=today + dt.timedelta(days=10))  # D-3 in 7 days
    ChargeFactory(client=client, due_date=today + dt.timedelta(days=7))  # D0 in 7 days
    body = api.get("/api/billing/reguas/calendar?days=8").json()
    last = body["days"][7]
    assert last["day"] == (today + dt.timedelta(days=7)).isoformat()
    assert last["open"] and last["messages"] == 1 and last["reminders"] == 2
    assert {s["step"] for s in last["steps"]} == {"D-3", "D0"}
    assert api.get("/api/billing/reguas/calendar?days=99").status_code == 400


def test_a_charges_reminders_show_the_skips_with_their_reason_and_what_comes_next(api):
    Regua.objects.filter(slug="default").update(
        status=Regua.Status.ACTIVE, send_window="always", skip_carnival=False
    )
    today = timezone.localdate()
    charge = ChargeFactory(due_date=today, status=Charge.Status.DISPUTED, external_id="FAT-5")
    regua_plan_run()
    body = api.get(f"/api/billing/reguas/charges/{charge.pk}").json()
    assert body["regua"] == "default"
    assert (body["history"][0]["step"], body["history"][0]["reason"]) == ("D0", reasons.DISPUTED)
    upcoming = body["upcoming"]
    assert [u["step"] for u in upcoming] == ["D+1", "D+7", "D+15", "D+30"]
    assert all(u["reason"] == reasons.DISPUTED and not u["planned"] for u in upcoming)


def test_results_per_step_count_sent_read_replied_and_paid_within_7_days(api):
    from conversations.models import Conversation, Message

    Regua.objects.filter(slug="default").update(
        status=Regua.Status.ACTIVE, send_window="always", skip_carnival=False
    )
    today = timezone.localdate()
    charge = ChargeFactory(due_date=today)
    regua_plan_run()
    dispatch = Dispatch.objects.get()
    sent_at = timezone.now()
    Dispatch.objects.filter(pk=dispatch.pk).update(status=Dispatch.Status.READ, sent_at=sent_at)
    conversation = Conversation.objects.create(client=charge.client, chat_id="5511900000009@c.us")
    Message.objects.create(
        conversation=conversation,
        direction="in",
        author="debtor",
        body="ok",
        sent_at=sent_at + dt.timedelta(hours=1),
    )
    Charge.objects.filter(pk=charge.pk).update(status="paid", paid_at=sent_at + dt.timedelta(days=2))

    body = api.get("/api/billing/reguas/default").json()
    d0 = next(r for r in body["results"] if r["step"] == "D0")
    assert (d0["planned"], d0["sent"], d0["read"], d0["replied"], d0["paid_within_7_days"]) == (1, 1, 1, 1, 1)
    d7 = next(r for r in body["results"] if r["step"] == "D+7")
    assert (d7["planned"], d7["sent"]) == (0, 0)


def test_the_dashboard_page_renders_the_calendar_and_a_charges_reminders(op_client):
    today = timezone.localdate()
    charge = ChargeFactory(due_date=today + dt.timedelta(days=3), external_id="FAT-<b>1</b>")
    page = op_client.get("/painel/regua/", {"cobranca": charge.external_id})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Próximos 7 dias" in html and "Régua padrão" in html and "Resultados por passo" in html
    assert "Próximos lembretes" in html and "FAT-&lt;b&gt;1&lt;/b&gt;" in html and "<b>1</b>" not in html


def test_the_dashboard_turns_the_regua_on_and_pauses_it(op_client):
    op_client.post("/painel/regua/default/ligar/")
    assert Regua.objects.get(slug="default").status == "active"
    op_client.post("/painel/regua/default/pausar/")
    assert Regua.objects.get(slug="default").status == "paused"
    assert HttpClient().post("/painel/regua/default/retomar/").status_code == 302  # to the login page
    assert Regua.objects.get(slug="default").status == "paused"


def test_the_admin_lists_reguas_and_a_charges_reminders(db):
    admin_user = get_user_model().objects.create_superuser("admin", "a@b.c", "x")
    client = HttpClient()
    client.force_login(admin_user)
    Regua.objects.filter(slug="default").update(
        status=Regua.Status.ACTIVE, send_window="always", skip_carnival=False
    )
    charge = ChargeFactory(due_date=timezone.localdate(), status=Charge.Status.PAID)
    regua_plan_run()
    assert client.get("/admin/billing/regua/").status_code == 200
    regua = Regua.objects.get(slug="default")
    assert client.get(f"/admin/billing/regua/{regua.pk}/change/").status_code == 200
    assert client.get("/admin/billing/reguaentry/").status_code == 200
    assert client.get(f"/admin/billing/charge/{charge.pk}/change/").status_code == 200


def test_resuming_after_a_pause_of_days_does_not_send_the_missed_days_late(api):
    from billing.models import Campaign

    Regua.objects.filter(slug="default").update(send_window="always", skip_carnival=False)
    api.post("/api/billing/reguas/default/enable", {}, format="json")
    yesterday = timezone.now() - dt.timedelta(days=1)
    ChargeFactory(due_date=timezone.localdate(yesterday))
    regua_plan_run(now=yesterday)  # yesterday's message, never sent
    api.post("/api/billing/reguas/default/pause", {}, format="json")

    api.post("/api/billing/reguas/default/resume", {}, format="json")

    old = Campaign.objects.get(regua__slug="default", regua_day=timezone.localdate(yesterday))
    assert old.status == Campaign.Status.CANCELLED
    assert set(Dispatch.objects.values_list("status", flat=True)) == {Dispatch.Status.SKIPPED}


def test_assign_refuses_ids_out_of_range_with_a_400(api):
    response = api.post("/api/billing/reguas/default/assign", {"charge_ids": [10**23]}, format="json")
    assert response.status_code == 400
    assert "charge_ids" in str(response.json()["extra"])


def test_assign_makes_a_list_of_charges_follow_the_regua(api):
    from billing.regua.models import ReguaStep

    school = Regua.objects.create(name="Escola", slug="escola")
    ReguaStep.objects.create(
        regua=school,
        offset_days=0,
        label="D0",
        template=Regua.objects.get(slug="default").steps.first().template,
    )
    charges = [ChargeFactory(), ChargeFactory()]
    body = api.post(
        "/api/billing/reguas/escola/assign", {"charge_ids": [charges[0].pk]}, format="json"
    ).json()
    assert body["charges"] == 1
    assert [c.regua_id for c in Charge.objects.order_by("pk")] == [school.pk, None]


# --- "Próximos lembretes": find the charge by debtor name, phone or id --------------------------------------


def test_the_dashboard_finds_a_charge_by_the_debtors_name(op_client):
    joao = ClientFactory(name="João da Silva", phone="+5511987650001")
    ChargeFactory(client=joao, external_id=None, description="Mensalidade de março")
    ChargeFactory(client=ClientFactory(name="Maria Souza"), external_id=None)

    page = op_client.get("/painel/regua/", {"cobranca": "joão da silva"})

    html = page.content.decode()
    assert "não encontrada" not in html
    assert (
        'id="lembretes-cobranca"' in html
        and "Mensalidade de março · <a href=" in html
        and 'class="debtor-link">João da Silva</a>' in html
    )
    assert 'id="escolha-cobranca"' not in html


def test_the_dashboard_finds_a_charge_by_phone_in_any_format(op_client):
    client = ClientFactory(name="Ana Lima", phone="+5511987650002")
    ChargeFactory(client=client, external_id=None, description="Plano anual")

    for typed in ("(11) 98765-0002", "11 8765-0002", "650002"):
        html = op_client.get("/painel/regua/", {"cobranca": typed}).content.decode()
        assert "Plano anual · <a href=" in html and 'class="debtor-link">Ana Lima</a>' in html, typed


def _queries(op_client, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert op_client.get("/painel/regua/", params).status_code == 200
    return len(captured)


def test_several_matches_are_listed_to_pick_one(op_client):
    joao = ClientFactory(name="João da Silva", phone="+5511987650003")
    first = ChargeFactory(client=joao, external_id=None, description="Parcela 1")
    ChargeFactory(client=joao, external_id="FAT-9", description="Parcela 2")
    ChargeFactory(client=ClientFactory(name="João Pedro", phone="+5511987650004"), description="Outra")

    # The search costs a few queries on top of the page, however many charges match.
    base = _queries(op_client, {})
    assert _queries(op_client, {"cobranca": "João"}) <= base + 3
    for i in range(10):
        ChargeFactory(client=ClientFactory(name=f"João {i}", phone=f"+55119876511{i:02d}"))
    assert _queries(op_client, {"cobranca": "João"}) <= base + 3

    page = op_client.get("/painel/regua/", {"cobranca": "João da"})
    html = page.content.decode()
    assert 'id="lembretes-cobranca"' not in html
    listed = html.split('id="escolha-cobranca"', 1)[1].split("</section>", 1)[0]
    assert "2 cobranças encontradas" in listed
    assert "Parcela 1" in listed and "Parcela 2" in listed and "João Pedro" not in listed
    assert "+5511987650003" not in listed and "0003" in listed  # the list masks the phones
    assert f"escolha={first.pk}" in listed

    chosen = op_client.get("/painel/regua/", {"cobranca": "João da", "escolha": first.pk})
    html = chosen.content.decode()
    assert (
        'id="lembretes-cobranca"' in html
        and "Parcela 1 · <a href=" in html
        and 'class="debtor-link">João da Silva</a>' in html
    )


def test_an_id_still_finds_its_charge_and_nothing_found_says_so(op_client):
    charge = ChargeFactory(external_id="FAT-2026-00042", description="Fatura 42")
    assert "Fatura 42" in op_client.get("/painel/regua/", {"cobranca": "fat-2026-00042"}).content.decode()
    assert "Fatura 42" in op_client.get("/painel/regua/", {"cobranca": str(charge.pk)}).content.decode()
    html = op_client.get("/painel/regua/", {"cobranca": "Ninguém"}, follow=True).content.decode()
    assert "Nenhuma cobrança encontrada para “Ninguém”" in html
