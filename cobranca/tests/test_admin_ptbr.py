"""Issue #13 item 6: the admin speaks Portuguese and shows JSON reports as tables, without inline styles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient

from billing.models import ImportBatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_pt(db) -> HttpClient:
    client = HttpClient()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


def test_an_import_report_renders_as_a_table_without_inline_style(admin_client_pt):
    batch = ImportBatch.objects.create(
        filename="clientes.csv",
        file_format="csv",
        total_rows=2,
        report={"imported": 1, "errors": [{"row": 3, "field": "phone", "message": "<b>inválido</b>"}]},
    )
    html = admin_client_pt.get(f"/admin/billing/importbatch/{batch.pk}/change/").content.decode()
    assert "<table class='json-report'>" in html
    assert "<th scope='col'>linha</th><th scope='col'>campo</th>" in html
    assert "&lt;b&gt;inválido&lt;/b&gt;" in html
    assert '{"imported"' not in html and "style=" not in html.split("<body")[1]


OUR_APPS = ("audit", "billing", "conversations", "chatbot", "whatsapp")


def _english_default(name: str) -> str:
    return name.replace("_", " ")


def _our_models():
    from django.apps import apps

    for label in OUR_APPS:
        yield from apps.get_app_config(label).get_models()


def test_every_model_and_field_of_our_apps_has_a_portuguese_verbose_name():
    """Without a verbose name Django derives one from the attribute ("created at", "import batch"):
    English in the admin. Each one must be written in pt-BR."""
    from django.utils.text import camel_case_to_spaces

    english = []
    for model in _our_models():
        if str(model._meta.verbose_name) == camel_case_to_spaces(model.__name__):
            english.append(f"{model.__name__} (modelo)")
        for field in model._meta.get_fields():
            if field.auto_created or not hasattr(field, "verbose_name") or field.name == "id":
                continue
            if str(field.verbose_name) == _english_default(field.name):
                english.append(f"{model.__name__}.{field.name}")
    assert english == []


def test_every_app_section_of_the_admin_index_has_a_portuguese_name(admin_client_pt):
    """Operator test: the admin index showed "BILLING", "CONVERSATIONS", "CHATBOT", "WHATSAPP"."""
    from django.apps import apps

    english = [label for label in OUR_APPS if apps.get_app_config(label).verbose_name == label.title()]
    assert english == []
    html = admin_client_pt.get("/admin/").content.decode()
    for name in ("Cobrança", "Conversas", "Assistente virtual", "WhatsApp", "Auditoria"):
        assert f">{name}</a>" in html, name


def test_every_choice_of_our_apps_has_a_label_not_derived_from_its_value():
    english = []
    for model in _our_models():
        for field in model._meta.get_fields():
            for value, label in getattr(field, "choices", None) or []:
                derived = isinstance(value, str) and str(label) == value.replace("_", " ").title()
                if derived and len(value) > 3:
                    english.append(f"{model.__name__}.{field.name}={value}")
    assert english == []


def test_every_admin_action_has_a_portuguese_description():
    from django.contrib import admin
    from django.test import RequestFactory
    from django.utils.text import capfirst

    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True)
    english = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in (*OUR_APPS, "django_q"):
            continue
        for name, (_func, action_name, description) in model_admin.get_actions(request).items():
            if str(description) == capfirst(action_name.replace("_", " ")):
                english.append(f"{model.__name__}: {name}")
    assert english == []


def test_django_q_speaks_portuguese_in_the_admin():
    from django.utils import translation
    from django_q.models import Failure, OrmQ, Schedule, Success, Task

    with translation.override("pt-br"):
        names = {str(m._meta.verbose_name_plural) for m in (Task, Success, Failure, Schedule, OrmQ)}
        fields = {str(f.verbose_name) for f in Task._meta.get_fields() if hasattr(f, "verbose_name")}
    assert names == {
        "tarefas",
        "tarefas concluídas",
        "tarefas com falha",
        "tarefas agendadas",
        "tarefas na fila",
    }
    assert "started" not in fields and "stopped" not in fields


def test_the_campaign_status_is_read_only_and_changes_through_the_service_actions(
    admin_client_pt, monkeypatch
):
    from billing.models import Campaign
    from billing.tests.factories import CampaignFactory

    campaign = CampaignFactory(status=Campaign.Status.RUNNING)
    html = admin_client_pt.get(f"/admin/billing/campaign/{campaign.pk}/change/").content.decode()
    assert 'name="status"' not in html  # no free dropdown

    calls = []
    from billing.dispatch import services as dispatch_services

    real_pause = dispatch_services.campaign_pause

    def pause(**kwargs):
        calls.append(kwargs["campaign"].pk)
        return real_pause(**kwargs)

    monkeypatch.setattr(dispatch_services, "campaign_pause", pause)
    response = admin_client_pt.post(
        "/admin/billing/campaign/",
        {"action": "pause_campaigns", "_selected_action": [campaign.pk]},
        follow=True,
    )
    assert calls == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "1 campanha(s) pausada(s)." in response.content.decode()

    # A refused transition (resume a cancelled campaign) shows the service's message, nothing changes.
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)
    response = admin_client_pt.post(
        "/admin/billing/campaign/",
        {"action": "resume_campaigns", "_selected_action": [campaign.pk]},
        follow=True,
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert "campanha(s) retomada(s)" not in response.content.decode()


# Words that read the same in Portuguese.
SAME_IN_PORTUGUESE = {"id", "cluster", "cron", "total"}


def test_every_admin_column_and_read_only_field_has_a_portuguese_label():
    from django.contrib import admin
    from django.contrib.admin.utils import label_for_field
    from django.utils import translation

    english = []
    with translation.override("pt-br"):
        for model, model_admin in admin.site._registry.items():
            if model._meta.app_label not in (*OUR_APPS, "django_q"):
                continue
            for name in [*model_admin.list_display, *model_admin.readonly_fields]:
                if not isinstance(name, str) or name == "__str__" or name in SAME_IN_PORTUGUESE:
                    continue
                label = str(label_for_field(name, model, model_admin))
                if label.lower() == name.replace("_", " ").lower():
                    english.append(f"{model.__name__}.{name}: {label}")
    assert english == []
